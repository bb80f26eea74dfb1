package reports_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/reports"
)

// testClock is a service clock a test moves by hand.
type testClock struct{ at atomic.Pointer[time.Time] }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}

func (c *testClock) set(t time.Time)     { c.at.Store(&t) }
func (c *testClock) now() time.Time      { return *c.at.Load() }
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }
func (c *testClock) on(s *reports.Service) *reports.Service {
	reports.SetNow(s, c.now)
	return s
}

// ticketNumber is the number part of a ticket, "20261129-0042" → 42.
func ticketNumber(t *testing.T, ticket string) (day string, n int) {
	t.Helper()
	day, num, ok := strings.Cut(ticket, "-")
	if !ok || len(num) < 4 {
		t.Fatalf("ticket %q is not DAY-NNNN", ticket)
	}
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil {
		t.Fatalf("ticket %q: %v", ticket, err)
	}
	return day, n
}

func TestParseTicket(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   string
		ok     bool
		badErr bool
	}{
		{"20261129-0042", "20261129-0042", true, false},
		{" 20261129-42 ", "20261129-0042", true, false},
		{"20261129-00042", "20261129-0042", true, false},
		{"20261129-12345", "20261129-12345", true, false},
		{"a1b2c3d4e5f6a1b2c3d4e5f6", "", false, false}, // a report id
		{"123456789012345678901234", "", false, false}, // a hex id of digits only
		{"20261340-0001", "", true, true},              // no such day
		{"20261129-0000", "", true, true},              // no number 0
		{"20261129-", "", true, true},
		{"2026-11-29-0042", "", true, true},
		{"2026112-0042", "", true, true},
		{"20261129-1234567890", "", true, true}, // too long a number
	} {
		got, ok, err := reports.ParseTicket(tc.in)
		var ve *reports.ValidationError
		if got != tc.want || ok != tc.ok || (err != nil) != tc.badErr || (err != nil && !errors.As(err, &ve)) {
			t.Errorf("ParseTicket(%q) = %q, %v, %v; want %q, %v, error %v", tc.in, got, ok, err, tc.want, tc.ok, tc.badErr)
		}
	}
}

// Numbers are consecutive within a Beijing day, in the order filed, and
// start again at 0001 on the next Beijing day (16:00 UTC); each ticket
// reads its report back, in any spelling of its number.
func TestTicketsConsecutivePerDay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// 15:50 UTC is 23:50 in Beijing, on 29 November.
	clk := newTestClock(time.Date(2026, 11, 29, 15, 50, 0, 0, time.UTC))
	svc := clk.on(f.svc)
	var got []string
	for i := range 3 {
		r, _, err := svc.Submit(ctx, "rider1", f.tinySubmission(fmt.Sprint("day1-", i)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Ticket)
		clk.add(time.Minute)
	}
	clk.set(time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)) // 00:00 on the 30th in Beijing
	for i := range 2 {
		r, _, err := svc.Submit(ctx, "rider1", f.tinySubmission(fmt.Sprint("day2-", i)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Ticket)
	}
	want := []string{"20261129-0001", "20261129-0002", "20261129-0003", "20261130-0001", "20261130-0002"}
	if !slices.Equal(got, want) {
		t.Fatalf("tickets %v, want %v", got, want)
	}
	for _, ref := range []string{"20261129-0002", "20261129-2", " 20261129-00002"} {
		r, err := svc.Get(ctx, ref)
		if err != nil || r.Ticket != "20261129-0002" || r.ID != reports.ReportID("rider1", "day1-1") {
			t.Errorf("Get(%q) = %s %s, %v; want the second report of the 29th", ref, r.ID, r.Ticket, err)
		}
	}
	if _, err := svc.Get(ctx, "20261129-0004"); !errors.Is(err, reports.ErrNotFound) {
		t.Errorf("an unclaimed number: %v, want ErrNotFound", err)
	}
	var ve *reports.ValidationError
	if _, err := svc.Get(ctx, "20261131-0001"); !errors.As(err, &ve) {
		t.Errorf("a day that does not exist: %v, want a ValidationError", err)
	}
	// The rider's list shows each report with its ticket.
	mine, err := svc.Mine(ctx, "rider1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mine {
		if !slices.Contains(want, r.Ticket) {
			t.Errorf("listed report %s with ticket %q", r.ID, r.Ticket)
		}
	}
	// Search by ticket, as Open311 asks, finds the same report as by id.
	sums, err := svc.Search(ctx, reports.SearchFilter{IDs: []string{"20261130-0001", reports.ReportID("rider1", "day2-0"), "20261131-0001", "20261130-0009"}})
	if err != nil || len(sums) != 1 || sums[0].Ticket != "20261130-0001" {
		t.Errorf("Search by ticket and id = %+v, %v; want the one report once", sums, err)
	}
}

// 50 submissions racing, half through one instance and half through
// another on the same stores, get 50 distinct tickets: 1 to 50 of the day,
// each leading back to its own report.
func TestTicketsRacingSubmissionsAndInstances(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clk := newTestClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	instances := []*reports.Service{clk.on(f.svc), clk.on(f.service())}
	const n = 50
	got := make([]reports.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, created, err := instances[i%2].Submit(ctx, fmt.Sprint("rider", i%7), f.tinySubmission(fmt.Sprint("race-", i)))
			if err != nil || !created {
				t.Errorf("submission %d: created %v, %v", i, created, err)
			}
			got[i] = r
		})
	}
	wg.Wait()
	seen := map[string]string{}
	var numbers []int
	for _, r := range got {
		if other, ok := seen[r.Ticket]; ok {
			t.Errorf("ticket %s given to %s and %s", r.Ticket, other, r.ID)
		}
		seen[r.Ticket] = r.ID
		day, k := ticketNumber(t, r.Ticket)
		if day != "20260302" {
			t.Errorf("ticket %s, want a ticket of 20260302", r.Ticket)
		}
		numbers = append(numbers, k)
		back, err := instances[1].Get(ctx, r.Ticket)
		if err != nil || back.ID != r.ID {
			t.Errorf("ticket %s reads %q, %v; want %s", r.Ticket, back.ID, err, r.ID)
		}
	}
	slices.Sort(numbers)
	for i, k := range numbers {
		if k != i+1 {
			t.Fatalf("numbers %v, want 1 to %d with no gap or repeat", numbers, n)
		}
	}
	if c := f.count("report_tickets"); c != n {
		t.Errorf("%d numbers claimed, want %d", c, n)
	}
}

// The same submission sent many times at once, through two instances, and
// retried later: one report, one ticket, the same in every answer. The
// numbers the losing copies claimed stay gaps that lead nowhere.
func TestTicketOnePerSubmission(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clk := newTestClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	instances := []*reports.Service{clk.on(f.svc), clk.on(f.service())}
	in := f.tinySubmission("same-key")
	const copies = 8
	answers := make([]reports.Report, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			r, _, err := instances[i%2].Submit(ctx, "rider1", in)
			if err != nil {
				t.Errorf("copy %d: %v", i, err)
			}
			answers[i] = r
		})
	}
	wg.Wait()
	want := answers[0].Ticket
	for i, r := range answers {
		if r.Ticket != want || r.Ticket == "" || r.ID != answers[0].ID {
			t.Errorf("copy %d answered %s %s, want %s %s", i, r.ID, r.Ticket, answers[0].ID, want)
		}
	}
	// A retry a day later (in Beijing) keeps the report's ticket.
	clk.add(26 * time.Hour)
	again, created, err := instances[0].Submit(ctx, "rider1", in)
	if err != nil || created || again.Ticket != want {
		t.Errorf("retry: %s created %v, %v; want %s", again.Ticket, created, err, want)
	}
	stored, err := f.svc.Get(ctx, answers[0].ID)
	if err != nil || stored.Ticket != want {
		t.Errorf("stored ticket %q, %v; want %s", stored.Ticket, err, want)
	}
	if n := f.count("reports"); n != 1 {
		t.Errorf("%d reports stored, want 1", n)
	}
	// Every claimed number other than the report's is a gap: not found.
	cur, err := f.db.Collection("report_tickets").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &entries); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		day, num, _ := strings.Cut(e.ID, "/")
		ticket := day + "-" + num // any spelling of the number reads it
		r, err := f.svc.Get(ctx, ticket)
		switch {
		case err == nil && r.ID == answers[0].ID:
			found++
		case errors.Is(err, reports.ErrNotFound):
		default:
			t.Errorf("number %s: %s, %v", ticket, r.ID, err)
		}
	}
	if found != 1 {
		t.Errorf("%d claimed numbers lead to the report, want exactly 1 (of %d claimed)", found, len(entries))
	}
}

// oldReport is a report as an earlier release stored it: no ticket.
func storeOldReports(t *testing.T, f *fixture, rs ...reports.Report) {
	t.Helper()
	for _, r := range rs {
		if _, err := f.db.Collection("reports").InsertOne(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if r.Status.Open() {
			if _, err := f.db.Collection("open_reports").InsertOne(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// oldReports are n reports over two Beijing days, stored out of order.
func oldReports(n int) []reports.Report {
	base := time.Date(2026, 2, 10, 14, 30, 0, 0, time.UTC) // 22:30 in Beijing
	var rs []reports.Report
	for i := range n {
		// Every 17 minutes: the later ones fall on the 11th in Beijing.
		rs = append(rs, reports.Report{ID: fmt.Sprintf("old%03d", i), Category: "sanitation", CreatedAt: base.Add(time.Duration(i) * 17 * time.Minute),
			State: reports.State{Status: reports.StatusSubmitted, Seq: 1}})
	}
	// Stored newest first: the migration numbers them in the order filed.
	slices.Reverse(rs)
	return rs
}

// checkMigrated says each report has one ticket, numbered per Beijing day
// in the order filed from 0001, each leading back to it, and the open copy
// agrees.
func checkMigrated(t *testing.T, f *fixture, rs []reports.Report) {
	t.Helper()
	ctx := context.Background()
	byCreation := slices.Clone(rs)
	slices.SortFunc(byCreation, func(a, b reports.Report) int { return a.CreatedAt.Compare(b.CreatedAt) })
	next := map[string]int{}
	for _, old := range byCreation {
		r, err := f.svc.Get(ctx, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		day := old.CreatedAt.In(time.FixedZone("CST", 8*3600)).Format("20060102")
		next[day]++
		if want := fmt.Sprintf("%s-%04d", day, next[day]); r.Ticket != want {
			t.Errorf("report %s (filed %s) has ticket %q, want %s", old.ID, old.CreatedAt, r.Ticket, want)
		}
		if back, err := f.svc.Get(ctx, r.Ticket); err != nil || back.ID != old.ID {
			t.Errorf("ticket %s reads %q, %v", r.Ticket, back.ID, err)
		}
		var open reports.Report
		if err := f.db.Collection("open_reports").FindOne(ctx, bson.D{{Key: "_id", Value: old.ID}}).Decode(&open); err != nil || open.Ticket != r.Ticket {
			t.Errorf("open copy of %s has ticket %q, %v; want %s", old.ID, open.Ticket, err, r.Ticket)
		}
	}
	if len(next) != 2 {
		t.Errorf("reports over %d Beijing days, want 2: %v", len(next), next)
	}
	if n := f.count("report_tickets"); n != int64(len(rs)) {
		t.Errorf("%d numbers claimed, want %d (one per report)", n, len(rs))
	}
}

// Reports stored before tickets get one each at the first start, in the
// order filed; a second start reads the marker alone and numbers nothing,
// not even a report slipped in behind its back.
func TestMigrateTicketsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := oldReports(12)
	storeOldReports(t, f, rs...)
	n, err := f.svc.MigrateTickets(ctx)
	if err != nil || n != len(rs) {
		t.Fatalf("MigrateTickets = %d, %v; want %d", n, err, len(rs))
	}
	checkMigrated(t, f, rs)

	storeOldReports(t, f, reports.Report{ID: "behind", CreatedAt: rs[0].CreatedAt, State: reports.State{Status: reports.StatusResolved}})
	for range 2 {
		if n, err := f.service().MigrateTickets(ctx); err != nil || n != 0 {
			t.Errorf("MigrateTickets again = %d, %v; want 0", n, err)
		}
	}
	if r, err := f.svc.Get(ctx, "behind"); err != nil || r.Ticket != "" {
		t.Errorf("a report stored after the migration got %q, %v; the marker should stop it", r.Ticket, err)
	}
	checkMigrated(t, f, rs)
}

// Two instances migrating at the same moment, and three more right after:
// every report is numbered once, both agree on every number.
func TestMigrateTicketsConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := oldReports(40)
	storeOldReports(t, f, rs...)
	counts := make([]int, 2)
	var wg sync.WaitGroup
	for i := range counts {
		svc := f.service()
		wg.Go(func() {
			n, err := svc.MigrateTickets(ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != len(rs) {
		t.Errorf("the two migrations numbered %v, want %d in all", counts, len(rs))
	}
	checkMigrated(t, f, rs)
}

// An interrupted migration (its marker never written) run again finishes
// the job with the numbers already claimed, and claims no more.
func TestMigrateTicketsAfterInterruption(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := oldReports(10)
	storeOldReports(t, f, rs...)
	if _, err := f.svc.MigrateTickets(ctx); err != nil {
		t.Fatal(err)
	}
	// As if it stopped after claiming every number but before writing the
	// tickets and the marker.
	for _, coll := range []string{"reports", "open_reports"} {
		if _, err := f.db.Collection(coll).UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "ticket", Value: ""}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.Collection("report_tickets_meta").DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.service().MigrateTickets(ctx); err != nil || n != 0 {
		t.Errorf("MigrateTickets after an interruption = %d, %v; want 0 new numbers", n, err)
	}
	checkMigrated(t, f, rs)
}

// The promise a rider is told follows the service's clock: before the
// deadline it is a promise, after it a miss, for each deadline in turn.
func TestPromiseFollowsTheServiceClock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clk := newTestClock(time.Date(2026, 3, 2, 3, 26, 0, 0, time.UTC))
	svc := clk.on(f.svc)
	r, _, err := svc.Submit(ctx, "rider1", f.tinySubmission("promise"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, r reports.Report, kind string, due time.Time, missed bool) {
		t.Helper()
		p, ok := svc.Promise(r)
		if !ok || p.Kind != kind || !p.Due.Equal(due) || p.Missed != missed {
			t.Errorf("%s: promise %+v, %v; want %s due %s missed %v", what, p, ok, kind, due, missed)
		}
	}
	check("just filed", r, reports.PromiseAcknowledge, r.AckDue, false)
	clk.set(r.AckDue)
	check("at the deadline", r, reports.PromiseAcknowledge, r.AckDue, false)
	clk.add(time.Second)
	check("past the deadline", r, reports.PromiseAcknowledge, r.AckDue, true)

	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	r, err = svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActAcknowledge})
	if err != nil {
		t.Fatal(err)
	}
	check("acknowledged", r, reports.PromiseDecide, r.DecideDue, false)
	clk.set(r.DecideDue.Add(time.Minute))
	check("not decided in time", r, reports.PromiseDecide, r.DecideDue, true)
	r, err = svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActVerify, Severity: 2})
	if err != nil {
		t.Fatal(err)
	}
	follow := r.DecidedAt.Add(24 * time.Hour)
	check("verified", r, reports.PromiseFollowUp, follow, false)
	clk.set(follow.Add(time.Minute))
	check("not followed up in time", r, reports.PromiseFollowUp, follow, true)
	r, err = svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActResolve})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := svc.Promise(r); ok {
		t.Errorf("a resolved report promises %+v", p)
	}
}
