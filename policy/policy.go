// Package policy decides who may do what, where. It owns the casbin model, the
// base policy (both embedded), the store of role assignments and the HTTP gate
// every route passes through. Domains never check roles by hand.
package policy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var basePolicy string

// Roles.
const (
	RoleRider        = "rider"
	RoleOfficer      = "officer"       // held in a grid cell: CellDomain(code)
	RoleStationAdmin = "station_admin" // held in a station: StationDomain(id)
	RoleAdmin        = "admin"         // held everywhere: DomainAll

	// Pseudo-roles every request holds (see policy.csv).
	roleAnonymous     = "anonymous"
	roleAuthenticated = "authenticated"
)

// DomainAll is the domain of a grant that applies everywhere.
const DomainAll = "*"

// CellDomain is the domain of a role held in one grid cell.
func CellDomain(code string) string { return "cell:" + code }

// CellOf is the cell code of a CellDomain, and whether d is one.
func CellOf(d string) (string, bool) { return strings.CutPrefix(d, "cell:") }

// StationDomain is the domain of a role held in one station.
func StationDomain(id string) string { return "station:" + id }

// Permission names an action on a resource, "resource:action".
type Permission string

func (p Permission) split() (obj, act string) {
	obj, act, _ = strings.Cut(string(p), ":")
	return obj, act
}

// Subject is the casbin subject of a user account.
func Subject(userID string) string { return "user:" + userID }

// ErrForbidden is returned when a principal lacks a permission.
var ErrForbidden = errors.New("policy: forbidden")

// Enforcer answers permission questions and changes role assignments. It is
// safe for concurrent use. Changes made through any instance reach every
// instance within the reload interval (see Watch).
type Enforcer struct {
	e       *casbin.SyncedEnforcer
	adapter *Adapter
	log     *slog.Logger

	mu  sync.Mutex
	rev string // revision of the assignments last loaded
}

// Indexes the policy store needs.
func Indexes() []storage.Index { return adapterIndexes() }

// NewEnforcer loads the model, the base policy and the stored assignments.
func NewEnforcer(ctx context.Context, db *mongo.Database, log *slog.Logger) (*Enforcer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("policy model: %w", err)
	}
	a := newAdapter(db, basePolicy)
	en := &Enforcer{adapter: a, log: log}
	rev, err := a.revision(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy revision: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, a)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	en.e = e
	en.rev = rev
	return en, nil
}

// Allowed reports whether subject holds perm in domain, through a grant in that
// domain or one that applies everywhere. Pseudo-roles are included: pass
// authenticated=false for anonymous callers.
func (en *Enforcer) Allowed(subject string, authenticated bool, perm Permission, domain string) bool {
	obj, act := perm.split()
	try := func(sub, dom string) bool {
		ok, err := en.e.Enforce(sub, dom, obj, act)
		if err != nil {
			en.log.Error("policy enforce", "err", err)
			return false
		}
		return ok
	}
	if try(roleAnonymous, DomainAll) {
		return true
	}
	if !authenticated {
		return false
	}
	if try(roleAuthenticated, DomainAll) || try(subject, DomainAll) {
		return true
	}
	return domain != DomainAll && domain != "" && try(subject, domain)
}

// AllowedSomewhere reports whether subject holds perm in at least one domain.
// Routes that list things (an officer's cells) use it; the handler then limits
// what it shows to Domains(subject, role).
func (en *Enforcer) AllowedSomewhere(subject string, authenticated bool, perm Permission) bool {
	if en.Allowed(subject, authenticated, perm, DomainAll) {
		return true
	}
	if !authenticated {
		return false
	}
	for _, d := range en.domainsOf(subject) {
		if en.Allowed(subject, true, perm, d) {
			return true
		}
	}
	return false
}

func (en *Enforcer) domainsOf(subject string) []string {
	rules, err := en.e.GetFilteredGroupingPolicy(0, subject)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		if len(r) == 3 {
			out = append(out, r[2])
		}
	}
	return out
}

// Domains lists the domains where subject holds role.
func (en *Enforcer) Domains(subject, role string) []string {
	rules, err := en.e.GetFilteredGroupingPolicy(0, subject, role)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, r[2])
	}
	return out
}

// Holders lists the subjects holding role in domain (grants in that exact domain).
func (en *Enforcer) Holders(role, domain string) []string {
	rules, err := en.e.GetFilteredGroupingPolicy(1, role, domain)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, r[0])
	}
	return out
}

// UsersWith lists the account ids holding role in domain.
func (en *Enforcer) UsersWith(role, domain string) []string {
	var ids []string
	for _, sub := range en.Holders(role, domain) {
		if id, ok := strings.CutPrefix(sub, "user:"); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// Grant gives subject role in domain. Granting twice is a no-op.
func (en *Enforcer) Grant(ctx context.Context, subject, role, domain string) error {
	if _, err := en.e.AddGroupingPolicy(subject, role, domain); err != nil {
		return fmt.Errorf("grant %s %s in %s: %w", subject, role, domain, err)
	}
	return en.adapter.bump(ctx)
}

// Revoke removes subject's role in domain. Revoking a missing grant is a no-op.
func (en *Enforcer) Revoke(ctx context.Context, subject, role, domain string) error {
	if _, err := en.e.RemoveGroupingPolicy(subject, role, domain); err != nil {
		return fmt.Errorf("revoke %s %s in %s: %w", subject, role, domain, err)
	}
	return en.adapter.bump(ctx)
}

// Reload reloads the assignments if another instance changed them. On failure
// the last good policy stays in force.
func (en *Enforcer) Reload(ctx context.Context) error {
	rev, err := en.adapter.revision(ctx)
	if err != nil {
		return err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if rev == en.rev {
		return nil
	}
	// casbin builds the new model aside and swaps it in only when the load
	// succeeded, so a failed load keeps the last good policy.
	if err := en.e.LoadPolicy(); err != nil {
		return fmt.Errorf("reload policy: %w", err)
	}
	en.rev = rev
	return nil
}

// Watch reloads changed assignments every interval until ctx ends. Failures
// are logged and retried; the last good policy stays in force meanwhile.
func (en *Enforcer) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := en.Reload(ctx); err != nil && ctx.Err() == nil {
				en.log.Warn("policy reload failed; keeping the last good policy", "err", err)
			}
		}
	}
}
