package reports

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Urging (催办): once a deadline the reporter was promised has passed (to
// acknowledge, to verify or reject, to follow up: PromiseOf), the reporter
// may urge, once per deadline. The urge is a timeline entry, which the inbox
// takes to the cell's backup officer and the admins, and the figures count.
// "Once" is a claim keyed by the report and the deadline (claims.go): of two
// urges racing, one inserts it. A deadline moved (a handover gives the new
// officer a fresh acknowledgement window) is a new deadline.

// UrgeError says why the reporter cannot urge now. It is told with a 409.
type UrgeError struct {
	// Code is UrgeTooEarly (From says when urging becomes possible),
	// UrgeDone (urged already for this deadline) or UrgeClosed.
	Code string
	From time.Time
}

// Codes of UrgeError.
const (
	UrgeTooEarly = "urge.too_early"
	UrgeDone     = "urge.done"
	UrgeClosed   = "urge.closed"
)

func (e *UrgeError) Error() string {
	switch e.Code {
	case UrgeTooEarly:
		// Beijing time, as every time a rider reads; the API's urge_from
		// carries the exact instant.
		return "you can urge once the deadline has passed, from " + e.From.In(beijing).Format("2006-01-02 15:04") + " (Beijing time)"
	case UrgeDone:
		return "you urged already for this deadline; you can urge again if the next one is missed too"
	}
	return "the report is closed: there is nothing left to urge"
}

// UrgeState says whether the reporter may urge r now: ok, or the UrgeError
// they would get, without looking at the store (an urge already made is
// known only to Urge). The report page shows its button from this.
func UrgeState(r Report, now time.Time) (p Promise, err *UrgeError) {
	p, ok := PromiseOf(r, now)
	switch {
	case !ok:
		return p, &UrgeError{Code: UrgeClosed}
	case !p.Missed:
		return p, &UrgeError{Code: UrgeTooEarly, From: p.Due}
	}
	return p, nil
}

// urgeKey names one deadline of one report.
func urgeKey(reportID string, p Promise) string {
	return "urge:" + reportID + ":" + p.Kind + ":" + strconv.FormatInt(p.Due.UnixMilli(), 10)
}

// Urge records the reporter's urge on their report (by id or ticket
// number), once per missed deadline. Errors: ErrNotFound (also when the
// report is not the reporter's), *UrgeError, ErrUnavailable.
func (s *Service) Urge(ctx context.Context, reporterID, id string) (Entry, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if r.ReporterID == "" || r.ReporterID != reporterID {
		return Entry{}, ErrNotFound
	}
	p, uerr := UrgeState(r, s.now())
	if uerr != nil {
		return Entry{}, uerr
	}
	key := urgeKey(r.ID, p)
	switch err := s.claimFirst(ctx, claim{ID: key, ReportID: r.ID, At: s.now()}); {
	case errors.Is(err, errClaimed):
		// Done, or being done by another request right now.
		return Entry{}, &UrgeError{Code: UrgeDone}
	case err != nil:
		return Entry{}, err
	}
	_, e, err := s.transitionEntry(ctx, r.ID, Actor{ID: reporterID, Role: RoleRider}, ActUrge, func(cur Report, _ *State) error {
		// The report may have moved on since it was read: the urge is
		// for the deadline missed now, and only that one.
		p, uerr := UrgeState(cur, s.now())
		if uerr != nil {
			return uerr
		}
		if urgeKey(cur.ID, p) != key {
			return &UrgeError{Code: UrgeTooEarly, From: p.Due}
		}
		return nil
	}, Entry{Reason: p.Kind, Key: key})
	if err != nil {
		s.dropClaim(ctx, key)
		return Entry{}, err
	}
	s.settleClaim(ctx, key, e.Seq)
	return e, nil
}

// asUrgeError finds an urge's refusal in err.
func asUrgeError(err error) (*UrgeError, bool) {
	var ue *UrgeError
	ok := errors.As(err, &ue)
	return ue, ok
}
