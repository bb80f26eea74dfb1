package reports

import "time"

// Promise is the service commitment an open report's next deadline stands
// for, as its reporter is told it: the officer will acknowledge it, then
// verify or reject it, then follow it up, each by a time. Once that time has
// passed the promise is a miss, and is told as one ("overdue since 11:36"),
// never again as a promise.
type Promise struct {
	Kind   string    // PromiseAcknowledge, PromiseDecide or PromiseFollowUp
	Due    time.Time // when it was, or is, due
	Missed bool      // Due has passed
}

// Kinds of Promise.
const (
	PromiseAcknowledge = "acknowledge"
	PromiseDecide      = "decide"
	PromiseFollowUp    = "follow_up"
)

// PromiseOf returns the promise r stands under at now; ok is false for a
// closed report, which promises nothing more.
func PromiseOf(r Report, now time.Time) (p Promise, ok bool) {
	switch r.Status {
	case StatusSubmitted:
		p.Kind = PromiseAcknowledge
	case StatusAcknowledged:
		p.Kind = PromiseDecide
	case StatusVerified, StatusInProgress:
		p.Kind = PromiseFollowUp
	default:
		return Promise{}, false
	}
	p.Due = nextDue(r.State)
	if p.Due.IsZero() || !p.Due.Before(farFuture) {
		return Promise{}, false
	}
	p.Missed = now.After(p.Due)
	return p, true
}

// Promise is PromiseOf at the service's clock, the one its deadlines are
// set and watched by.
func (s *Service) Promise(r Report) (Promise, bool) { return PromiseOf(r, s.now()) }
