package reports

import (
	"context"
	"errors"
	"slices"

	"github.com/nuanxin/nuanxin/policy"
)

// Access is the one place that decides who may see a report, what they may
// list and follow, and in which role they act on it. The JSON API, the pages
// and the live stream all ask it, so the rules cannot drift apart.
type Access struct{ gate *policy.Gate }

// NewAccess builds the rules over the policy gate.
func NewAccess(g *policy.Gate) Access { return Access{gate: g} }

// admin reports whether the caller holds the admin role, which applies
// everywhere. It is the role itself, not one of its permissions, that makes
// someone act as an admin.
func (a Access) admin(ctx context.Context) bool {
	p, ok := policy.PrincipalFrom(ctx)
	return ok && slices.Contains(a.gate.Enforcer().Domains(p.Subject(), policy.RoleAdmin), policy.DomainAll)
}

// Scope is what the caller may list and follow: every report for an admin,
// else the reports in the cells where they are an officer (sorted).
func (a Access) Scope(ctx context.Context) Scope {
	if a.admin(ctx) {
		return Scope{All: true}
	}
	p, _ := policy.PrincipalFrom(ctx)
	var cells []string
	for _, d := range a.gate.Enforcer().Domains(p.Subject(), policy.RoleOfficer) {
		if code, ok := policy.CellOf(d); ok {
			cells = append(cells, code)
		}
	}
	slices.Sort(cells)
	return Scope{Cells: cells}
}

// CanSee reports whether the caller may see r: its reporter, or anyone who
// may handle reports in its cell (its officers, admins).
func (a Access) CanSee(ctx context.Context, r Report) bool {
	if p, ok := policy.PrincipalFrom(ctx); ok && p.UserID != "" && p.UserID == r.ReporterID {
		return true
	}
	return a.gate.Check(ctx, PermHandle, policy.CellDomain(r.Cell)) == nil
}

// Follows reports whether an event about a report belongs in the caller's
// live stream, given their scope: their own reports, and those in scope.
func (a Access) Follows(p policy.Principal, scope Scope, e Event) bool {
	return (p.UserID != "" && e.ReporterID == p.UserID) || scope.All || slices.Contains(scope.Cells, e.Cell)
}

// permFor is the permission an action needs in the report's cell.
func permFor(act Action) policy.Permission {
	if act == ActReopen {
		return PermReopen // reopening a closed report is for admins
	}
	return PermHandle
}

// Actor checks that the caller may take act on r, in r's cell, and returns
// them as the actor with the role they act in. It returns an error wrapping
// policy.ErrForbidden otherwise.
func (a Access) Actor(ctx context.Context, r Report, act Action) (Actor, error) {
	if err := a.gate.Check(ctx, permFor(act), policy.CellDomain(r.Cell)); err != nil {
		return Actor{}, err
	}
	p, _ := policy.PrincipalFrom(ctx)
	role := RoleOfficer
	if a.admin(ctx) {
		role = RoleAdmin
	}
	return Actor{ID: p.UserID, Role: role}, nil
}

// MayTake reports whether the caller may take act on r as it is now: the
// status allows it, they may take it in r's cell, and the duplicate actions
// apply to a report linked as a duplicate.
func (a Access) MayTake(ctx context.Context, r Report, act Action) bool {
	if !slices.Contains(Allowed(r.Status), act) {
		return false
	}
	if a.gate.Check(ctx, permFor(act), policy.CellDomain(r.Cell)) != nil {
		return false
	}
	switch act {
	case ActConfirmDuplicate:
		return r.DuplicateOf != "" && r.DuplicateState != "confirmed"
	case ActUnlinkDuplicate:
		return r.DuplicateOf != ""
	}
	return true
}

// Actions lists what the caller may do to r now, in the order of Allowed.
func (a Access) Actions(ctx context.Context, r Report) []Action {
	var out []Action
	for _, act := range Allowed(r.Status) {
		if a.MayTake(ctx, r, act) {
			out = append(out, act)
		}
	}
	return out
}

// LinkedDuplicate returns the report r is linked to as a probable or
// confirmed duplicate, and whether the caller may be shown it (its id, its
// ticket, a link to it): when they may see it (CanSee: it is their own, or
// in cells they handle), or when they handle reports in r's cell, whose
// actions (confirm, unlink) are about that link. Anyone else, a rider
// whose report repeats another rider's, learns only that it was reported
// already: riders never see another rider's report. ok is false when r is
// not linked. Errors: the store's.
func (a Access) LinkedDuplicate(ctx context.Context, svc *Service, r Report) (dup Report, shown, ok bool, err error) {
	if r.DuplicateOf == "" {
		return Report{}, false, false, nil
	}
	// A probable duplicate is of an open report (findDuplicate), which the
	// open model holds: its reporter and ticket never change, and its cell
	// is the one the queue shows. Only a closed one is read from the store.
	dup, inModel := svc.openCopy(r.DuplicateOf)
	if !inModel {
		dup, err = svc.store.report(ctx, r.DuplicateOf)
		if errors.Is(err, ErrNotFound) {
			dup, err = Report{ID: r.DuplicateOf}, nil
		} else if err != nil {
			return Report{}, false, true, err
		}
	}
	shown = (dup.ReporterID != "" && a.CanSee(ctx, dup)) || a.gate.Check(ctx, PermHandle, policy.CellDomain(r.Cell)) == nil
	return dup, shown, true, nil
}
