package reports_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/reports"
)

var adminA1 = reports.Actor{ID: "a1", Role: reports.RoleAdmin}

func rateCode(err error) string {
	var re *reports.RateError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// resolved submits a report by rider1 in T-0001 and takes it to resolved.
func (f *fixture) resolved(key string) reports.Report {
	f.t.Helper()
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission(key, inWest))
	for _, in := range []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve}} {
		if _, err := f.svc.Act(ctx, officerO1, r.ID, in); err != nil {
			f.t.Fatalf("%s: %v", in.Action, err)
		}
	}
	f.svc.Wait()
	return r
}

// written counts what a refusal must not add: the report's timeline
// entries and the claims.
func (f *fixture) written(id string) [2]int {
	return [2]int{len(mustTimeline(f.t, f, id)), int(f.count("report_claims"))}
}

func TestRateRefusalsWriteNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var clk urgeClock
	reports.SetNow(f.svc, clk.now)
	open := f.mustSubmit("rider1", f.submission("open", inWest))
	f.svc.Wait()
	r := f.resolved("done")
	before := map[string][2]int{open.ID: f.written(open.ID), r.ID: f.written(r.ID)}

	for _, c := range []struct {
		name, reporter, id string
		in                 reports.RatingInput
		code               string // a RateError's, or "" for the others
		check              func(error) bool
	}{
		{"not resolved", "rider1", open.ID, reports.RatingInput{Rating: reports.RatingSatisfied}, reports.RateNotResolved, nil},
		{"bad value", "rider1", r.ID, reports.RatingInput{Rating: "great"}, "", func(err error) bool {
			var ve *reports.ValidationError
			return errors.As(err, &ve) && ve.Field == "rating"
		}},
		{"unsatisfied without a reason", "rider1", r.ID, reports.RatingInput{Rating: reports.RatingUnsatisfied, Comment: "  "}, "", func(err error) bool {
			var ve *reports.ValidationError
			return errors.As(err, &ve) && ve.Field == "comment"
		}},
		{"comment too long", "rider1", r.ID, reports.RatingInput{Rating: reports.RatingBasic, Comment: strings.Repeat("长", 501)}, "", func(err error) bool {
			var ve *reports.ValidationError
			return errors.As(err, &ve) && ve.Field == "comment"
		}},
		{"another rider", "rider2", r.ID, reports.RatingInput{Rating: reports.RatingSatisfied}, "", func(err error) bool { return errors.Is(err, reports.ErrNotFound) }},
	} {
		_, err := f.svc.Rate(ctx, c.reporter, c.id, c.in)
		if c.code != "" && rateCode(err) != c.code || c.check != nil && !c.check(err) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// The window: 7 days after the resolution, not a moment more.
	clk.add(reports.RatingWindow + time.Minute)
	_, err := f.svc.Rate(ctx, "rider1", r.ID, reports.RatingInput{Rating: reports.RatingSatisfied})
	var re *reports.RateError
	if !errors.As(err, &re) || re.Code != reports.RateWindowPassed || re.Until.Sub(r.CreatedAt) < reports.RatingWindow ||
		!strings.Contains(err.Error(), "评价期（解决后 7 天）已过") {
		t.Errorf("rating after the window: %v", err)
	}
	for id, n := range before {
		if got := f.written(id); got != n {
			t.Errorf("refusals wrote: entries and claims %v, want %v", got, n)
		}
	}
	for _, e := range f.events.list() {
		if e.Action == reports.ActRate {
			t.Errorf("a refused rating made an event: %+v", e)
		}
	}
}

func TestRateOncePerResolution(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	disputes := reports.NewDisputes(f.db)
	svc := f.serviceWith([]reports.Consumer{{Name: "recorder", Events: f.events}, {Name: reports.DisputesConsumer, Events: disputes}})
	other := f.serviceWith([]reports.Consumer{{Name: "recorder", Events: f.events}, {Name: reports.DisputesConsumer, Events: disputes}})
	f.svc = svc
	r := f.resolved("k")
	var clk urgeClock
	clk.add(6 * 24 * time.Hour) // within the window, on its last day
	for _, s := range []*reports.Service{svc, other} {
		reports.SetNow(s, clk.now)
	}

	race := func(what string, in reports.RatingInput) {
		t.Helper()
		var (
			wg          sync.WaitGroup
			ok, refused atomic.Int32
		)
		for i := range 8 {
			s := svc
			if i%2 == 1 {
				s = other
			}
			wg.Go(func() {
				_, err := s.Rate(ctx, "rider1", r.ID, in)
				switch {
				case err == nil:
					ok.Add(1)
				case rateCode(err) == reports.RateDone:
					refused.Add(1)
				default:
					t.Errorf("%s: rate: %v", what, err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 7 {
			t.Errorf("%s: %d ratings written and %d told it was done, want 1 and 7", what, ok.Load(), refused.Load())
		}
	}
	race("first resolution", reports.RatingInput{Rating: reports.RatingUnsatisfied, Comment: "井盖还是松的"})
	rates := f.timeline(r.ID, reports.ActRate)
	if len(rates) != 1 || rates[0].Reason != reports.RatingUnsatisfied || rates[0].Note != "井盖还是松的" || rates[0].ActorRole != reports.RoleRider {
		t.Fatalf("rate entries = %+v", rates)
	}
	got, err := svc.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rating != reports.RatingUnsatisfied || !got.Disputed || got.Status != reports.StatusResolved || got.RatedAt.IsZero() {
		t.Errorf("after an unsatisfied rating: rating %q disputed %v status %s", got.Rating, got.Disputed, got.Status)
	}
	if _, err := svc.Rate(ctx, "rider1", r.ID, reports.RatingInput{Rating: reports.RatingSatisfied}); rateCode(err) != reports.RateDone {
		t.Errorf("rating twice: %v, want done", err)
	}
	ds, _, err := svc.Disputes(ctx)
	if err != nil || len(ds) != 1 || ds[0].ReportID != r.ID || ds[0].Cell != "T-0001" || ds[0].Ticket != r.Ticket {
		t.Fatalf("disputes = %+v, %v; want the report", ds, err)
	}

	// The admin reopens: the rating is cleared, the dispute decided; the
	// report resolved again may be rated again, once.
	if _, err := svc.Act(ctx, adminA1, r.ID, reports.ActionInput{Action: reports.ActReopen, Note: "再去看看"}); err != nil {
		t.Fatal(err)
	}
	if got, _ = svc.Get(ctx, r.ID); got.Rating != "" || got.Disputed || !got.RatedAt.IsZero() {
		t.Errorf("after a reopen: rating %q disputed %v rated at %v", got.Rating, got.Disputed, got.RatedAt)
	}
	if ds, _, _ := svc.Disputes(ctx); len(ds) != 0 {
		t.Errorf("disputes after the reopen = %+v", ds)
	}
	if _, err := svc.Rate(ctx, "rider1", r.ID, reports.RatingInput{Rating: reports.RatingSatisfied}); rateCode(err) != reports.RateNotResolved {
		t.Errorf("rating a reopened report: %v, want not resolved", err)
	}
	for _, in := range []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve}} {
		if _, err := svc.Act(ctx, officerO1, r.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	race("second resolution", reports.RatingInput{Rating: reports.RatingBasic})
	if n := len(f.timeline(r.ID, reports.ActRate)); n != 2 {
		t.Errorf("%d ratings, want 2: one per resolution", n)
	}
	cur, err := svc.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, e := range f.events.list() {
		if e.Action == reports.ActRate && e.Rating == reports.RatingBasic && e.ResolvedAt.Equal(cur.ResolvedAt) {
			seen = true
		}
	}
	if !seen {
		t.Error("no rate event carrying the rating and the second resolution's time")
	}
}

func TestUpholdDispute(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	disputes := reports.NewDisputes(f.db)
	f.svc = f.serviceWith([]reports.Consumer{{Name: "recorder", Events: f.events}, {Name: reports.DisputesConsumer, Events: disputes}})
	r := f.resolved("k")

	// Not disputed: nothing to uphold.
	var te *reports.TransitionError
	if _, err := f.svc.Uphold(ctx, adminA1, r.ID, "已按标准修复"); !errors.As(err, &te) {
		t.Errorf("upholding an undisputed report: %v, want a transition error", err)
	}
	if _, err := f.svc.Rate(ctx, "rider1", r.ID, reports.RatingInput{Rating: reports.RatingUnsatisfied, Comment: "还在漏水"}); err != nil {
		t.Fatal(err)
	}
	n := len(mustTimeline(t, f, r.ID))
	var ve *reports.ValidationError
	if _, err := f.svc.Uphold(ctx, adminA1, r.ID, " "); !errors.As(err, &ve) || ve.Field != "note" {
		t.Errorf("upholding without a note: %v", err)
	}
	if got := len(mustTimeline(t, f, r.ID)); got != n {
		t.Errorf("a refused uphold wrote %d entries", got-n)
	}
	up, err := f.svc.Uphold(ctx, adminA1, r.ID, "已按标准修复，漏水来自楼上")
	if err != nil {
		t.Fatal(err)
	}
	if up.Status != reports.StatusResolved || up.Disputed || up.Rating != reports.RatingUnsatisfied {
		t.Errorf("after the uphold: status %s disputed %v rating %q", up.Status, up.Disputed, up.Rating)
	}
	if ds, _, _ := f.svc.Disputes(ctx); len(ds) != 0 {
		t.Errorf("disputes after the uphold = %+v", ds)
	}
	if _, err := f.svc.Uphold(ctx, adminA1, r.ID, "再次"); !errors.As(err, &te) {
		t.Errorf("upholding twice: %v, want a transition error", err)
	}
	var note string
	for _, e := range f.events.list() {
		if e.Action == reports.ActUphold {
			note = e.Note
		}
	}
	if note != "已按标准修复，漏水来自楼上" {
		t.Errorf("uphold event note = %q", note)
	}

	// A late redelivery of the rating puts the dispute back; listing drops
	// it, as the report is no longer disputed.
	if err := disputes.Publish(ctx, reports.Event{ID: "late", Action: reports.ActRate, ReportID: r.ID, Rating: reports.RatingUnsatisfied, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ds, _, err := f.svc.Disputes(ctx); err != nil || len(ds) != 0 {
		t.Errorf("disputes after a late redelivery = %+v, %v", ds, err)
	}
	if n := f.count("report_disputes"); n != 0 {
		t.Errorf("%d disputes stored after listing, want the stale one removed", n)
	}
}

// Ratings move the satisfaction figures of the cell and officer that
// resolved the report, on the day they are made; a resolution not rated in
// its 7-day window counts as unrated (not as satisfied) in the ranges where
// that window closed; and the closed days' rollups give the same answers.
func TestFiguresSatisfaction(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &figClock{}
	clk.set(figAt(0, 0, 5))
	a := figuresInstance(t, ctx, f, clk)
	inEast := [2]float64{28.195, 112.985} // T-0002, officer o3
	o3 := reports.Actor{ID: "o3", Role: reports.RoleOfficer}
	resolve := func(key string, where [2]float64, by reports.Actor, day int) reports.Report {
		t.Helper()
		clk.set(figAt(day, 9, 0))
		r, _, err := a.Submit(ctx, "rider1", figureSubmission(f, key, where))
		if err != nil {
			t.Fatal(err)
		}
		clk.set(figAt(day, 10, 0))
		for _, in := range []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve}} {
			if _, err := a.Act(ctx, by, r.ID, in); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	rate := func(r reports.Report, day int, in reports.RatingInput) {
		t.Helper()
		clk.set(figAt(day, 12, 0))
		if _, err := a.Rate(ctx, "rider1", r.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	r1 := resolve("r1", inWest, officerO1, 0)
	resolve("r2", inEast, o3, 0) // never rated
	rate(r1, 1, reports.RatingInput{Rating: reports.RatingSatisfied})
	r3 := resolve("r3", inWest, officerO1, 2)
	rate(r3, 2, reports.RatingInput{Rating: reports.RatingUnsatisfied, Comment: "没修好"})

	const zero = "Reports:0 AckedInTimeShare:0 MedianAckSeconds:0 MedianDecideSecs:0 OpenBacklog:0 Urged:0"
	sat := func(key string, s, b, u, unrated int, rate float64) string {
		return fmt.Sprintf("{Key:%s %s Satisfied:%d Basic:%d Unsatisfied:%d Unrated:%d SatisfactionRate:%v}", key, zero, s, b, u, unrated, rate)
	}
	// Day 2: the ratings made since day 1; nothing is due yet.
	clk.set(figAt(2, 20, 0))
	want2 := "cells [" + sat("T-0001", 1, 0, 1, 0, 0.5) + "]\nofficers [" + sat("o1", 1, 0, 1, 0, 0.5) + "]"
	var got string
	if !eventually(func() bool {
		got = satisfactionOnly(t, a, reports.Scope{All: true}, figAt(1, 0, 0))
		return got == want2
	}) {
		t.Errorf("day 2, since day 1:\n got %s\nwant %s", got, want2)
	}
	// Day 8: r2's window (resolved on day 0) closed unrated; r1's was
	// rated; r3's is still open.
	clk.set(figAt(8, 12, 0))
	if err := a.RollUpFigures(ctx); err != nil {
		t.Fatal(err)
	}
	want8 := "cells [" + sat("T-0001", 1, 0, 1, 0, 0.5) + " " + sat("T-0002", 0, 0, 0, 1, 0) + "]\n" +
		"officers [" + sat("o1", 1, 0, 1, 0, 0.5) + " " + sat("o3", 0, 0, 0, 1, 0) + "]"
	if !eventually(func() bool {
		got = satisfactionOnly(t, a, reports.Scope{All: true}, figAt(1, 0, 0))
		return got == want8
	}) {
		t.Errorf("day 8, since day 1:\n got %s\nwant %s", got, want8)
	}
	if got := satisfactionOnly(t, a, reports.Scope{Cells: []string{"T-0002"}}, figAt(0, 0, 0)); got !=
		"cells ["+sat("T-0002", 0, 0, 0, 1, 0)+"]\nofficers ["+sat("o3", 0, 0, 0, 1, 0)+"]" {
		t.Errorf("day 8, T-0002 since day 0: %s", got)
	}
	// A range whose days hold no rating, and in which only rated
	// resolutions fell due, shows nothing.
	if got := satisfactionOnly(t, a, reports.Scope{All: true}, figAt(8, 0, 0)); got != "cells []\nofficers []" {
		t.Errorf("day 8, since day 8: %s", got)
	}
	// Another instance started on day 9 reads days 0 to 7 from the rollups
	// the first wrote, and agrees.
	clk.set(figAt(9, 12, 0))
	c := figuresInstance(t, ctx, f, clk)
	for _, d := range []int{0, 1, 2, 3, 9} {
		if w, got := satisfactionOnly(t, a, reports.Scope{All: true}, figAt(d, 0, 0)), satisfactionOnly(t, c, reports.Scope{All: true}, figAt(d, 0, 0)); got != w {
			t.Errorf("since day %d, from the rollups:\n got %s\nwant %s", d, got, w)
		}
	}
	// Since day 2: r2's window closed on day 7, inside the range: unrated;
	// r1's rating (day 1) is before it; r3's in it.
	if got, want := satisfactionOnly(t, c, reports.Scope{All: true}, figAt(2, 0, 0)),
		"cells ["+sat("T-0001", 0, 0, 1, 0, 0)+" "+sat("T-0002", 0, 0, 0, 1, 0)+"]\n"+
			"officers ["+sat("o1", 0, 0, 1, 0, 0)+" "+sat("o3", 0, 0, 0, 1, 0)+"]"; got != want {
		t.Errorf("day 9, since day 2:\n got %s\nwant %s", got, want)
	}
}

// satisfactionOnly is figuresKey with the other figures zeroed, so that the
// test states only what ratings move.
func satisfactionOnly(t *testing.T, svc *reports.Service, scope reports.Scope, since time.Time) string {
	t.Helper()
	cells, officers, err := svc.ComputeFigures(context.Background(), scope, since)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(fs []reports.Figures) []reports.Figures {
		var out []reports.Figures
		for _, f := range fs {
			g := reports.Figures{Key: f.Key, Satisfied: f.Satisfied, Basic: f.Basic, Unsatisfied: f.Unsatisfied, Unrated: f.Unrated, SatisfactionRate: f.SatisfactionRate}
			if g != (reports.Figures{Key: f.Key}) {
				out = append(out, g)
			}
		}
		return out
	}
	return fmt.Sprintf("cells %+v\nofficers %+v", keep(cells), keep(officers))
}
