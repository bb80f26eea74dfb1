package reports_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/reports"
)

// clock is a service clock a test moves forward.
type urgeClock struct{ offset atomic.Int64 }

func (c *urgeClock) now() time.Time      { return time.Now().UTC().Add(time.Duration(c.offset.Load())) }
func (c *urgeClock) add(d time.Duration) { c.offset.Add(int64(d)) }

func urgeCode(err error) string {
	var ue *reports.UrgeError
	if errors.As(err, &ue) {
		return ue.Code
	}
	return ""
}

func TestUrgeOncePerDeadline(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var clk urgeClock
	other := f.service()
	for _, s := range []*reports.Service{f.svc, other} {
		reports.SetNow(s, clk.now)
	}
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	f.svc.Wait()
	entries := len(mustTimeline(t, f, r.ID))

	_, err := f.svc.Urge(ctx, "rider1", r.ID)
	var ue *reports.UrgeError
	if !errors.As(err, &ue) || ue.Code != reports.UrgeTooEarly || ue.From.Sub(r.AckDue).Abs() > time.Millisecond {
		t.Fatalf("urging before the deadline: %v, want too early, from %v", err, r.AckDue)
	}
	if _, err := f.svc.Urge(ctx, "rider2", r.ID); !errors.Is(err, reports.ErrNotFound) {
		t.Errorf("another rider urging: %v, want ErrNotFound", err)
	}
	if n := len(mustTimeline(t, f, r.ID)); n != entries {
		t.Errorf("refused urges wrote %d entries", n-entries)
	}

	// The acknowledgement deadline passes: of racing urges on two
	// instances, one is written.
	clk.add(11 * time.Minute)
	race := func(what string) {
		t.Helper()
		var (
			wg      sync.WaitGroup
			ok      atomic.Int32
			refused atomic.Int32
		)
		for i := range 8 {
			svc := f.svc
			if i%2 == 1 {
				svc = other
			}
			wg.Go(func() {
				_, err := svc.Urge(ctx, "rider1", r.ID)
				switch {
				case err == nil:
					ok.Add(1)
				case urgeCode(err) == reports.UrgeDone:
					refused.Add(1)
				default:
					t.Errorf("%s: urge: %v", what, err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 7 {
			t.Errorf("%s: %d urges written and %d told it was done, want 1 and 7", what, ok.Load(), refused.Load())
		}
	}
	race("acknowledgement")
	urges := f.timeline(r.ID, reports.ActUrge)
	if len(urges) != 1 || urges[0].ActorRole != reports.RoleRider || urges[0].Reason != reports.PromiseAcknowledge {
		t.Fatalf("urge entries = %+v, want one for the acknowledgement", urges)
	}
	if _, err := f.svc.Urge(ctx, "rider1", r.ID); urgeCode(err) != reports.UrgeDone {
		t.Errorf("urging twice: %v, want done", err)
	}
	var seen bool
	for _, e := range f.events.list() {
		if e.Action == reports.ActUrge && e.ReportID == r.ID && e.BackupID == "o2" {
			seen = true
		}
	}
	if !seen {
		t.Error("no urge event naming the cell's backup officer o2")
	}

	// Acknowledged: the next deadline, to decide, is a new one to urge on.
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Urge(ctx, "rider1", r.ID); urgeCode(err) != reports.UrgeTooEarly {
		t.Errorf("urging before the decision is due: %v, want too early", err)
	}
	clk.add(25 * time.Hour)
	race("decision")
	if n := len(f.timeline(r.ID, reports.ActUrge)); n != 2 {
		t.Errorf("%d urges, want 2: one per deadline", n)
	}

	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Urge(ctx, "rider1", r.ID); urgeCode(err) != reports.UrgeClosed {
		t.Errorf("urging a closed report: %v, want closed", err)
	}
}
