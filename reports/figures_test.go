package reports_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/reports"
)

// figZone is Beijing time, the zone figures count days in.
var figZone = time.FixedZone("CST", 8*3600)

// figDay0 is the first day of the figures tests' calendar (a Monday).
var figDay0 = time.Date(2026, 3, 2, 0, 0, 0, 0, figZone)

// figAt is a moment of the test calendar: day n, hh:mm Beijing time.
func figAt(n, hh, mm int) time.Time {
	return figDay0.AddDate(0, 0, n).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

// figClock is the services' clock in the figures tests: set between steps,
// read by every service (and their feed followers) at once.
type figClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *figClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *figClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.UTC()
}

// figureSubmission is a submission at a place with a small photo: the
// figures do not need a real one, and decoding it under the race detector is
// most of a submission's time.
func figureSubmission(f *fixture, key string, where [2]float64) reports.Submission {
	in := f.submission(key, where)
	in.Photos = [][]byte{tinyPhoto(f.t)}
	return in
}

// figuresInstance is one server of the figures tests, as the app builds it:
// its own feed follower, the feed among its consumers, the open reports and
// the figures loaded from the store and the feed, at the clock's time.
func figuresInstance(t *testing.T, ctx context.Context, f *fixture, clk *figClock) *reports.Service {
	t.Helper()
	feed := mustFeed(t, f)
	svc := f.serviceWith([]reports.Consumer{{Name: "feed", Events: feed}})
	reports.SetNow(svc, clk.now)
	if err := svc.LoadOpen(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if err := svc.LoadFigures(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if err := svc.FiguresReady(); err != nil {
		t.Fatalf("FiguresReady after LoadFigures: %v", err)
	}
	go feed.Follow(ctx, 20*time.Millisecond)
	return svc
}

// figuresKey is what two answers of ComputeFigures must agree on: every
// field of every row, in order.
func figuresKey(t *testing.T, svc *reports.Service, scope reports.Scope, since time.Time) string {
	t.Helper()
	cells, officers, err := svc.ComputeFigures(context.Background(), scope, since)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("cells %+v\nofficers %+v", cells, officers)
}

var figureScopes = []reports.Scope{{All: true}, {Cells: []string{"T-0001"}}, {Cells: []string{"T-0002"}},
	{Cells: []string{"T-0001", "T-0002"}}, {Cells: []string{"X"}}, {Cells: []string{""}}}

// scanAnswers are the scan's answers (a service on which LoadFigures never
// ran) for every scope and every range starting at a day of the calendar,
// from 0 to today.
func scanAnswers(t *testing.T, oracle *reports.Service, today int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sc := range figureScopes {
		for d := 0; d <= today; d++ {
			out[fmt.Sprint(sc, d)] = figuresKey(t, oracle, sc, figAt(d, 0, 0))
		}
	}
	return out
}

// agreeWithScan checks that svc gives the scan's answers. The model follows
// the feed a moment behind, hence the wait.
func agreeWithScan(t *testing.T, name string, svc *reports.Service, scan map[string]string, today int) {
	t.Helper()
	for _, sc := range figureScopes {
		for d := 0; d <= today; d++ {
			want := scan[fmt.Sprint(sc, d)]
			var got string
			if !eventually(func() bool { got = figuresKey(t, svc, sc, figAt(d, 0, 0)); return got == want }) {
				t.Errorf("%s, scope %+v since day %d:\n got %s\nwant %s", name, sc, d, got, want)
			}
		}
	}
}

func figureDocs(t *testing.T, f *fixture) []string {
	t.Helper()
	cur, err := f.db.Collection("figures_days").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

// fileFigureDay files six reports on day n, through svc, and acts on them: acks
// in and out of time, verifications and rejections straight away or after
// an ack, reports left open, in both cells and outside the map; on odd days
// the west cell's primary officer is disabled, so its backup gets them.
func fileFigureDay(t *testing.T, f *fixture, svc *reports.Service, clk *figClock, n int) {
	t.Helper()
	ctx := context.Background()
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	if n%2 == 1 {
		f.accounts.set("o1", false)
		defer f.accounts.set("o1", true)
	}
	for j := range 6 {
		where := [2]float64{28.191 + float64(j)*0.0012, 112.971 + float64(n)*0.0012}
		switch {
		case j == 5:
			where = [2]float64{28.3, 113.3} // outside the map: the admin queue
		case j%3 == 1:
			where[1] += 0.01 // the east cell
		}
		created := figAt(n, 9, 0).Add(time.Duration(j) * 37 * time.Minute)
		clk.set(created)
		r, _, err := svc.Submit(ctx, fmt.Sprintf("rider%d", j), figureSubmission(f, fmt.Sprintf("d%d-%d", n, j), where))
		if err != nil {
			t.Fatal(err)
		}
		do := func(after time.Duration, in reports.ActionInput) {
			t.Helper()
			clk.set(created.Add(after))
			if _, err := svc.Act(ctx, officer, r.ID, in); err != nil {
				t.Fatalf("day %d report %d: %s: %v", n, j, in.Action, err)
			}
		}
		switch (n + j) % 6 {
		case 0: // acknowledged in time, verified later
			do(5*time.Minute, reports.ActionInput{Action: reports.ActAcknowledge})
			do(2*time.Hour, reports.ActionInput{Action: reports.ActVerify, Severity: 2})
		case 1: // acknowledged late, rejected later
			do(25*time.Minute, reports.ActionInput{Action: reports.ActAcknowledge})
			do(3*time.Hour, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"})
		case 2: // verified straight away, in time
			do(8*time.Minute, reports.ActionInput{Action: reports.ActVerify, Severity: 1})
		case 3: // rejected straight away, late
			do(40*time.Minute, reports.ActionInput{Action: reports.ActReject, Reason: "duplicate"})
		case 4: // acknowledged in time, still open
			do(9*time.Minute, reports.ActionInput{Action: reports.ActAcknowledge})
		case 5: // left as submitted
		}
	}
}

// Figures from the rollups and from memory are the scan's, over several
// days, cells, officers, acks in and out of time and decisions: on the
// instance that followed every day, after it rolled the closed days up, on
// an instance started later that reads those rollups, and on one that
// computes the closed days from the feed itself.
func TestFiguresAgreeWithScan(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	oracle := f.service() // LoadFigures never runs: the scan
	if err := oracle.FiguresReady(); err == nil {
		t.Error("FiguresReady is nil on a service whose figures were never loaded")
	}
	a := figuresInstance(t, ctx, f, clk)
	for n := range 4 {
		fileFigureDay(t, f, a, clk, n)
	}
	clk.set(figAt(3, 18, 0))
	scan := scanAnswers(t, oracle, 3)
	if scan[fmt.Sprint(reports.Scope{All: true}, 0)] == "cells []\nofficers []" {
		t.Fatal("the scan finds no figures: the test files nothing")
	}
	agreeWithScan(t, "followed in memory", a, scan, 3)

	if err := a.RollUpFigures(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(figureDocs(t, f)), "[2026-03-02 2026-03-03 2026-03-04]"; got != want {
		t.Fatalf("rollups %s, want %s (the closed days since the feed's first)", got, want)
	}
	agreeWithScan(t, "rolled up", a, scan, 3)
	agreeWithScan(t, "started later, reading rollups", figuresInstance(t, ctx, f, clk), scan, 3)

	// Without rollups, a new instance follows the last two days from the
	// feed and computes the first from it when asked.
	if _, err := f.db.Collection("figures_days").DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	c := figuresInstance(t, ctx, f, clk)
	agreeWithScan(t, "computed from the feed", c, scan, 3)
	if got, want := fmt.Sprint(figureDocs(t, f)), "[2026-03-02]"; got != want {
		t.Errorf("after a range read: rollups %s, want %s (the day computed from the feed)", got, want)
	}
	if err := c.RollUpFigures(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(figureDocs(t, f)), "[2026-03-02 2026-03-03 2026-03-04]"; got != want {
		t.Errorf("rollups %s, want %s", got, want)
	}
	agreeWithScan(t, "reading rollups computed from the feed", figuresInstance(t, ctx, f, clk), scan, 3)
	for name, svc := range map[string]*reports.Service{"A": a, "C": c} {
		if err := svc.FiguresReady(); err != nil {
			t.Errorf("%s: FiguresReady: %v", name, err)
		}
	}
}

// Two instances that followed a day, and a third that computes it from the
// feed, all roll it up at once: one document per day, and the same figures
// from each, the scan's.
func TestFiguresRollupOnceAcrossInstances(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	a, b := figuresInstance(t, ctx, f, clk), figuresInstance(t, ctx, f, clk)
	fileFigureDay(t, f, a, clk, 0)
	fileFigureDay(t, f, b, clk, 1)
	clk.set(figAt(3, 0, 20))             // day 2 closed 20 minutes ago, past the grace
	c := figuresInstance(t, ctx, f, clk) // follows days 1 to 3; day 0 from the feed
	var wg sync.WaitGroup
	for range 3 {
		for _, svc := range []*reports.Service{a, b, c} {
			wg.Go(func() {
				if err := svc.RollUpFigures(ctx); err != nil {
					t.Errorf("roll up: %v", err)
				}
			})
		}
	}
	wg.Wait()
	if got, want := fmt.Sprint(figureDocs(t, f)), "[2026-03-02 2026-03-03 2026-03-04]"; got != want {
		t.Errorf("rollups %s, want one per closed day: %s", got, want)
	}
	oracle := f.service()
	for _, sc := range figureScopes {
		want := figuresKey(t, oracle, sc, figAt(0, 0, 0))
		for name, svc := range map[string]*reports.Service{"A": a, "B": b, "C": c} {
			if got := figuresKey(t, svc, sc, figAt(0, 0, 0)); got != want {
				t.Errorf("%s, scope %+v:\n got %s\nwant %s", name, sc, got, want)
			}
		}
	}
}

// An instance started in the afternoon gives the same figures for today as
// the one that was up all day, and both keep following.
func TestFiguresRestartSameToday(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	a := figuresInstance(t, ctx, f, clk)
	fileFigureDay(t, f, a, clk, 0)
	clk.set(figAt(0, 13, 0))
	oracle := f.service()
	restarted := figuresInstance(t, ctx, f, clk)
	scan := scanAnswers(t, oracle, 0)
	agreeWithScan(t, "up all day", a, scan, 0)
	agreeWithScan(t, "restarted", restarted, scan, 0)

	// Changes made after the restart, on either instance, reach both.
	where := [2]float64{28.199, 112.979}
	clk.set(figAt(0, 14, 0))
	r, _, err := restarted.Submit(ctx, "rider9", figureSubmission(f, "late", where))
	if err != nil {
		t.Fatal(err)
	}
	clk.set(figAt(0, 14, 3))
	if _, err := a.Act(ctx, reports.Actor{ID: "o1", Role: reports.RoleOfficer}, r.ID, reports.ActionInput{Action: reports.ActVerify, Severity: 3}); err != nil {
		t.Fatal(err)
	}
	clk.set(figAt(0, 20, 0))
	scan = scanAnswers(t, oracle, 0)
	agreeWithScan(t, "up all day, later", a, scan, 0)
	agreeWithScan(t, "restarted, later", restarted, scan, 0)
}

// A report counts one acknowledgement and one decision, its first: not the
// second acknowledgement after a handover, nor the decision after a reopen;
// and the same whether the day was followed or computed from the feed
// (which starts after the submission, so it reads the timeline instead).
func TestFiguresFirstAckAndDecisionOnly(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	a := figuresInstance(t, ctx, f, clk)
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	admin := reports.Actor{ID: "admin", Role: reports.RoleAdmin}
	clk.set(figAt(0, 20, 0))
	r, _, err := a.Submit(ctx, "rider1", figureSubmission(f, "k", inWest))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at time.Time
		in reports.ActionInput
	}{
		{figAt(1, 0, 5), reports.ActionInput{Action: reports.ActAcknowledge}}, // late: due at 20:10
		{figAt(1, 0, 10), reports.ActionInput{Action: reports.ActHandover, Cell: "T-0002", Note: "东侧"}},
		{figAt(1, 0, 12), reports.ActionInput{Action: reports.ActAcknowledge}}, // in time for the new officer: not counted all the same
		{figAt(1, 1, 0), reports.ActionInput{Action: reports.ActVerify, Severity: 2}},
		{figAt(1, 2, 0), reports.ActionInput{Action: reports.ActStart}},
		{figAt(1, 2, 30), reports.ActionInput{Action: reports.ActResolve}},
	} {
		clk.set(step.at)
		if _, err := a.Act(ctx, officer, r.ID, step.in); err != nil {
			t.Fatalf("%s: %v", step.in.Action, err)
		}
	}
	clk.set(figAt(1, 3, 0))
	if _, err := a.Act(ctx, admin, r.ID, reports.ActionInput{Action: reports.ActReopen}); err != nil {
		t.Fatal(err)
	}
	clk.set(figAt(1, 4, 0))
	if _, err := a.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	// Day 1: T-0001's (o1's) first acknowledgement, 4 h 5 min after the
	// submission; T-0002's (o3's) first decision, 5 h after.
	want := "cells [{Key:T-0001 Reports:0 AckedInTimeShare:0 MedianAckSeconds:14700 MedianDecideSecs:0 OpenBacklog:0 Urged:0 Satisfied:0 Basic:0 Unsatisfied:0 Unrated:0 SatisfactionRate:0} " +
		"{Key:T-0002 Reports:0 AckedInTimeShare:0 MedianAckSeconds:0 MedianDecideSecs:18000 OpenBacklog:0 Urged:0 Satisfied:0 Basic:0 Unsatisfied:0 Unrated:0 SatisfactionRate:0}]\n" +
		"officers [{Key:o1 Reports:0 AckedInTimeShare:0 MedianAckSeconds:14700 MedianDecideSecs:0 OpenBacklog:0 Urged:0 Satisfied:0 Basic:0 Unsatisfied:0 Unrated:0 SatisfactionRate:0} " +
		"{Key:o3 Reports:0 AckedInTimeShare:0 MedianAckSeconds:0 MedianDecideSecs:18000 OpenBacklog:0 Urged:0 Satisfied:0 Basic:0 Unsatisfied:0 Unrated:0 SatisfactionRate:0}]"
	clk.set(figAt(1, 12, 0))
	var got string
	if !eventually(func() bool { got = figuresKey(t, a, reports.Scope{All: true}, figAt(1, 0, 0)); return got == want }) {
		t.Errorf("followed:\n got %s\nwant %s", got, want)
	}
	clk.set(figAt(4, 12, 0))
	c := figuresInstance(t, ctx, f, clk) // follows days 2 to 4: day 1 from the feed
	for d, w := range map[int]string{1: want, 2: "cells []\nofficers []"} {
		if got := figuresKey(t, c, reports.Scope{All: true}, figAt(d, 0, 0)); got != w {
			t.Errorf("computed from the feed, since day %d:\n got %s\nwant %s", d, got, w)
		}
	}
}

// Feed entries written before events carried the report's creation and
// acknowledgement deadline are counted from the report, read by _id.
func TestFiguresFromOldFeedEntries(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	reports.SetNow(f.svc, clk.now) // f.svc's events reach a recorder, not the feed
	fileFigureDay(t, f, f.svc, clk, 0)
	feed := mustFeed(t, f)
	for _, e := range f.events.list() {
		e.Created, e.AckDue = time.Time{}, time.Time{}
		if err := feed.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	clk.set(figAt(0, 22, 0))
	old := f.serviceWith(nil)
	reports.SetNow(old, clk.now)
	if err := old.LoadOpen(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if err := old.LoadFigures(ctx, feed); err != nil {
		t.Fatal(err)
	}
	go feed.Follow(ctx, 20*time.Millisecond)
	agreeWithScan(t, "old feed entries", old, scanAnswers(t, f.service(), 0), 0)
}

// Figures over a range that ended before today (the figures CSV of past
// days) count only the days of the range, as the scan of the reports
// created in it does, whether the days come from memory or from rollups;
// and a range reaching today gives what ComputeFigures gives.
func TestFiguresUntilAgreeWithScan(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	oracle := f.service()
	a := figuresInstance(t, ctx, f, clk)
	for n := range 4 {
		fileFigureDay(t, f, a, clk, n)
	}
	clk.set(figAt(3, 18, 0))
	key := func(svc *reports.Service, sc reports.Scope, from, to int) string {
		t.Helper()
		cells, officers, err := svc.ComputeFiguresUntil(ctx, sc, figAt(from, 0, 0), figAt(to, 12, 0))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("cells %+v\nofficers %+v", cells, officers)
	}
	check := func(name string, svc *reports.Service) {
		t.Helper()
		for _, sc := range figureScopes {
			for from := 0; from <= 3; from++ {
				for to := from; to <= 3; to++ {
					want := key(oracle, sc, from, to)
					var got string
					if !eventually(func() bool { got = key(svc, sc, from, to); return got == want }) {
						t.Errorf("%s, scope %+v, days %d to %d:\n got %s\nwant %s", name, sc, from, to, got, want)
					}
				}
			}
		}
	}
	check("in memory", a)
	if one, all := key(oracle, reports.Scope{All: true}, 1, 1), key(oracle, reports.Scope{All: true}, 1, 3); one == all {
		t.Fatalf("a one-day range gives what three days give: the test files nothing per day\n%s", one)
	}
	if got, want := key(a, reports.Scope{All: true}, 0, 3), figuresKey(t, a, reports.Scope{All: true}, figAt(0, 0, 0)); got != want {
		t.Errorf("a range to today:\n got %s\nwant %s", got, want)
	}
	if err := a.RollUpFigures(ctx); err != nil {
		t.Fatal(err)
	}
	check("from rollups", figuresInstance(t, ctx, f, clk))
}
