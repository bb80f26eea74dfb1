package points

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nuanxin/nuanxin/reports"
)

// meTooHistory is a report by u1 that c1 and c2 confirm before it is
// verified at severity 2 and c3 after, then resolved.
func meTooHistory(report string) []reports.Event {
	evs := earnHistory(report, "u1", stSubmit,
		earnStep{reports.ActMeToo, reports.StatusSubmitted, 0, false},
		earnStep{reports.ActMeToo, reports.StatusSubmitted, 0, false},
		stVerify(2),
		earnStep{reports.ActMeToo, reports.StatusVerified, 2, false},
		stResolve(2))
	by := [][]string{nil, {"c1"}, {"c1", "c2"}, {"c1", "c2"}, {"c1", "c2", "c3"}, {"c1", "c2", "c3"}}
	for i := range evs {
		evs[i].MeTooBy = by[i]
	}
	return evs
}

func TestMeTooPaysOnceVerified(t *testing.T) {
	_, l, e := earnSetup(t, DefaultRules())
	evs := meTooHistory("r1")

	// Confirmed, not verified yet: nothing.
	earnPublish(t, e, evs[:3]...)
	for _, c := range []string{"c1", "c2", "c3"} {
		earnWantBalance(t, l, c, 0)
	}
	// Verified: each confirmer earns Rules.MeToo; the reporter their own award.
	earnPublish(t, e, evs[3])
	earnWantBalance(t, l, "c1", 1)
	earnWantBalance(t, l, "c2", 1)
	earnWantBalance(t, l, "c3", 0)
	earnWantBalance(t, l, "u1", 10)
	// A confirmation after the verification pays at once; the rest again
	// change nothing.
	earnPublish(t, e, evs[4:]...)
	earnWantBalance(t, l, "c3", 1)
	// Redelivered, on this earner and on a fresh one (another instance,
	// with nothing remembered): one award each.
	earnPublish(t, e, evs...)
	earnPublish(t, NewEarner(l, e.states.Database(), DefaultRules(), 12, e.log), evs...)
	for _, c := range []string{"c1", "c2", "c3"} {
		earnWantBalance(t, l, c, 1)
	}
	earnWantBalance(t, l, "u1", 10)

	// A rejected report pays no confirmer.
	rej := earnHistory("r2", "u1", stSubmit, earnStep{reports.ActMeToo, reports.StatusSubmitted, 0, false}, stReject)
	rej[1].MeTooBy, rej[2].MeTooBy = []string{"c9"}, []string{"c9"}
	earnPublish(t, e, rej...)
	earnWantBalance(t, l, "c9", 0)
}

func TestMeTooRacingDeliveries(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	other := NewEarner(l, db, DefaultRules(), 12, e.log)
	evs := meTooHistory("r1")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		earner := e
		if i%2 == 1 {
			earner = other
		}
		ev := evs[3+i%3] // the verification, the late confirmation, the resolution
		wg.Go(func() {
			if err := earner.Publish(context.Background(), ev); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// A delivery that must come again later is what reports does on
		// an error; redeliver, as it would.
		if !strings.Contains(err.Error(), "busy") && !strings.Contains(err.Error(), "earlier") {
			t.Errorf("racing delivery: %v", err)
		}
	}
	earnPublish(t, e, evs...)
	for _, c := range []string{"c1", "c2", "c3"} {
		earnWantBalance(t, l, c, 1)
	}
}

func TestMeTooCaps(t *testing.T) {
	rules := DefaultRules()
	rules.DailyCap, rules.MonthlyCap = 1, 1
	_, l, e := earnSetup(t, rules)
	// c1 confirms two reports, both verified: the cap allows one award.
	for _, id := range []string{"r1", "r2"} {
		evs := earnHistory(id, "u-"+id, stSubmit, earnStep{reports.ActMeToo, reports.StatusSubmitted, 0, false}, stVerify(1))
		evs[1].MeTooBy, evs[2].MeTooBy = []string{"c1"}, []string{"c1"}
		earnPublish(t, e, evs...)
		earnPublish(t, e, evs...) // again: the refusal is kept, not retried
	}
	earnWantBalance(t, l, "c1", 1)
	earnWantBalance(t, l, "u-r1", 5)
	earnWantBalance(t, l, "u-r2", 5)

	// Rules: me_too is validated like corroboration.
	r, err := parseRules([]byte(`{"me_too": 3}`))
	if err != nil || r.MeToo != 3 || DefaultRules().MeToo != 1 {
		t.Errorf("me_too 3: %+v %v; default %d", r.MeToo, err, DefaultRules().MeToo)
	}
	for _, bad := range []string{`{"me_too": 0}`, `{"me_too": 1.5}`, `{"me_too": 100000}`} {
		if _, err := parseRules([]byte(bad)); err == nil || !strings.Contains(err.Error(), "me_too") {
			t.Errorf("%s: %v, want an error naming me_too", bad, err)
		}
	}
}
