package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// Test hooks for the external test package (search_test.go).

// DayIndexReportReads is how many reports searches through d have read.
func DayIndexReportReads(d *DayIndex) int64 { return d.reportReads.Load() }

// SetDayIndexBlock makes searches through d read n entries of a day at a
// time, so that a test with a few reports a day crosses blocks.
func SetDayIndexBlock(d *DayIndex, n int) { d.block = n }

// ForgetDayIndexCache drops the entries d keeps in memory, as a restart
// would.
func ForgetDayIndexCache(d *DayIndex) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.days, d.cached, d.tails = map[string]*dayCache{}, 0, map[string]tail{}
}

func TestDayOf(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2026-03-01T15:59:59.999Z", "2026-03-01"},
		{"2026-03-01T16:00:00Z", "2026-03-02"},
		{"2026-03-02T00:00:00+08:00", "2026-03-02"},
		{"2026-12-31T16:00:00Z", "2027-01-01"},
	} {
		at, err := time.Parse(time.RFC3339Nano, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := dayOf(at); got != tc.want {
			t.Errorf("dayOf(%s) = %s, want %s", tc.at, got, tc.want)
		}
		if got := dayOf(dayStart(at)); got != tc.want {
			t.Errorf("dayOf(dayStart(%s)) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

// submitEvent is the event a report's submission delivers.
func submitEvent(id, category string, created time.Time) Event {
	return Event{ID: id + "/1", Action: ActSubmit, ReportID: id, Category: category, At: created, Created: created}
}

// chains reads the whole day index: per day, the entries in chain order. It
// fails the test when a chain has a gap, a report is in twice, or an
// entry's max_created is not the latest creation of the entries up to it.
func chains(t *testing.T, db *mongo.Database) map[string][]dayEntry {
	t.Helper()
	cur, err := db.Collection(daysCollection).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []dayEntry
	if err := cur.All(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	out := map[string][]dayEntry{}
	seen := map[string]string{}
	for _, e := range all {
		if prev, ok := seen[e.Src]; ok {
			t.Errorf("report %s indexed twice: %s and %s", e.Src, prev, e.ID)
		}
		seen[e.Src] = e.ID
		day, _, _ := strings.Cut(e.ID, "/")
		out[day] = append(out[day], e)
	}
	for day, es := range out {
		slices.SortFunc(es, func(a, b dayEntry) int { return chainN(a.ID) - chainN(b.ID) })
		var running time.Time
		for i, e := range es {
			if n := chainN(e.ID); n != i+1 {
				t.Errorf("day %s: entry %d is %s: the chain has a gap", day, i+1, e.ID)
			}
			if got := dayOf(e.CreatedAt); got != day {
				t.Errorf("%s created %s is in day %s", e.ID, e.CreatedAt, got)
			}
			if e.CreatedAt.After(running) {
				running = e.CreatedAt
			}
			if !e.MaxCreated.Equal(running) {
				t.Errorf("%s: max_created %s, want %s", e.ID, e.MaxCreated, running)
			}
		}
		out[day] = es
	}
	return out
}

func chainN(id string) int {
	_, n, _ := strings.Cut(id, "/")
	v, _ := strconv.Atoi(n)
	return v
}

func countEntries(c map[string][]dayEntry) int {
	n := 0
	for _, es := range c {
		n += len(es)
	}
	return n
}

func TestDayIndexIgnoresOtherEvents(t *testing.T) {
	db := storagetest.Docs(t)
	d := NewDayIndex(db, storagetest.Logger())
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
	for _, a := range []Action{ActAcknowledge, ActVerify, ActReject, ActReopen, ActEscalateAck} {
		if err := d.Publish(ctx, Event{ID: "r1/" + string(a), Action: a, ReportID: "r1", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countEntries(chains(t, db)); n != 0 {
		t.Errorf("%d entries after events other than submissions, want 0", n)
	}
}

// A submission redelivered, to this instance or to a new one (a restart,
// another instance), is indexed once.
func TestDayIndexRedelivery(t *testing.T) {
	db := storagetest.Docs(t)
	ctx := context.Background()
	d := NewDayIndex(db, storagetest.Logger())
	at := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
	for i := range 3 {
		for _, dd := range []*DayIndex{d, NewDayIndex(db, storagetest.Logger())} {
			for k := range 3 {
				if err := dd.Publish(ctx, submitEvent(fmt.Sprintf("r%d", k), "road_damage", at.Add(time.Duration(k)*time.Minute))); err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
			}
		}
	}
	c := chains(t, db)
	if got := len(c["2026-03-01"]); got != 3 || countEntries(c) != 3 {
		t.Errorf("entries = %v, want r0, r1, r2 once each on 2026-03-01", c)
	}
}

// Two instances taking the same events at the same moment, many at once,
// over a few days and out of order (the delivery of one report racing its
// redelivery elsewhere): each report is in the index once, the chains have
// no gaps, each entry bounds the ones below it, and the first day is known.
func TestDayIndexConcurrentInstances(t *testing.T) {
	db := storagetest.Docs(t)
	ctx := context.Background()
	a, b := NewDayIndex(db, storagetest.Logger()), NewDayIndex(db, storagetest.Logger())
	base := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC) // 23:00 in Beijing
	var events []Event
	for i := range 40 {
		// Three Beijing days; some reports share a creation time.
		created := base.Add(time.Duration(i/2) * 150 * time.Minute)
		events = append(events, submitEvent(fmt.Sprintf("rep%02d", i), "sanitation", created))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		d := a
		if w%2 == 1 {
			d = b
		}
		order := slices.Clone(events)
		rand.New(rand.NewPCG(uint64(w), 9)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		wg.Go(func() {
			for _, e := range order {
				if err := d.Publish(ctx, e); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := chains(t, db)
	if n := countEntries(c); n != len(events) {
		t.Errorf("%d entries, want %d (each report once)", n, len(events))
	}
	wantDays := map[string]int{}
	for _, e := range events {
		wantDays[dayOf(e.Created)]++
	}
	for day, n := range wantDays {
		if len(c[day]) != n {
			t.Errorf("day %s: %d entries, want %d", day, len(c[day]), n)
		}
	}
	for _, d := range []*DayIndex{a, b, NewDayIndex(db, storagetest.Logger())} {
		floor, ok, err := d.readFloor(ctx)
		if err != nil || !ok || floor != "2026-03-01" {
			t.Errorf("first day = %q, %v, %v; want 2026-03-01", floor, ok, err)
		}
	}
}

// Instances lowering the first day at once, each to a different day, leave
// the lowest of them, however they interleave.
func TestDayIndexFloorRace(t *testing.T) {
	db := storagetest.Docs(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 12 {
		d := NewDayIndex(db, storagetest.Logger())
		day := time.Date(2026, 3, 20-i, 0, 0, 0, 0, beijing).Format(time.DateOnly)
		wg.Go(func() {
			if err := d.lowerFloor(ctx, day); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	floor, ok, err := NewDayIndex(db, storagetest.Logger()).readFloor(ctx)
	if err != nil || !ok || floor != "2026-03-09" {
		t.Errorf("first day = %q, %v, %v; want 2026-03-09", floor, ok, err)
	}
}

// storeReports writes reports straight into the collection, as an earlier
// release left them: no event reaches the index.
func storeReports(t *testing.T, db *mongo.Database, rs ...Report) {
	t.Helper()
	for _, r := range rs {
		if _, err := db.Collection(reportsCollection).InsertOne(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDayIndexMigrate(t *testing.T) {
	db := storagetest.Docs(t)
	ctx := context.Background()
	base := time.Date(2026, 2, 10, 1, 0, 0, 0, time.UTC)
	var rs []Report
	for i := range 40 {
		rs = append(rs, Report{ID: fmt.Sprintf("old%02d", i), Category: "road_damage", CreatedAt: base.Add(time.Duration(i) * 5 * time.Hour)})
	}
	storeReports(t, db, rs...)
	d := NewDayIndex(db, storagetest.Logger())
	// Some were indexed already: their events were delivered after the
	// index was added to the consumers but before Migrate ran.
	for _, r := range rs[10:14] {
		if err := d.Publish(ctx, submitEvent(r.ID, r.Category, r.CreatedAt)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 36 {
		t.Errorf("first Migrate indexed %d, want 36 (40 less the 4 indexed already)", n)
	}
	if got := countEntries(chains(t, db)); got != 40 {
		t.Errorf("%d entries after Migrate, want 40", got)
	}
	if floor, ok, err := d.readFloor(ctx); err != nil || !ok || floor != dayOf(base) {
		t.Errorf("first day = %q, %v, %v; want %s", floor, ok, err, dayOf(base))
	}

	// Run again (a restart): the marker says it is done, nothing is read,
	// so a report stored behind the index's back stays out of it.
	storeReports(t, db, Report{ID: "behind", Category: "road_damage", CreatedAt: base})
	for range 2 {
		again := NewDayIndex(db, storagetest.Logger())
		if n, err := again.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("Migrate again: %d, %v; want 0, nil", n, err)
		}
		if !again.migrated.Load() {
			t.Error("Migrate again did not mark the index usable")
		}
	}
	c := chains(t, db)
	if got := countEntries(c); got != 40 {
		t.Errorf("%d entries after the second Migrate, want 40", got)
	}
	for _, es := range c {
		for _, e := range es {
			if e.Src == "behind" {
				t.Error("the second Migrate scanned the reports")
			}
		}
	}
}

// Two instances migrating at once, while events are delivered: each report
// once.
func TestDayIndexMigrateConcurrently(t *testing.T) {
	db := storagetest.Docs(t)
	ctx := context.Background()
	base := time.Date(2026, 2, 10, 1, 0, 0, 0, time.UTC)
	var rs []Report
	for i := range 60 {
		rs = append(rs, Report{ID: fmt.Sprintf("old%03d", i), Category: "sanitation", CreatedAt: base.Add(time.Duration(i) * 73 * time.Minute)})
	}
	storeReports(t, db, rs...)
	var wg sync.WaitGroup
	counts := make([]int, 3)
	for i := range counts {
		d := NewDayIndex(db, storagetest.Logger())
		wg.Go(func() {
			if i == 2 {
				// The events of the same reports, delivered meanwhile,
				// newest first.
				for _, r := range slices.Backward(rs) {
					if err := d.Publish(ctx, submitEvent(r.ID, r.Category, r.CreatedAt)); err != nil {
						t.Error(err)
						return
					}
				}
				return
			}
			n, err := d.Migrate(ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if got := countEntries(chains(t, db)); got != len(rs) {
		t.Errorf("%d entries, want %d (each report once); migrations counted %v", got, len(rs), counts[:2])
	}
}

func TestMergeNewestFirst(t *testing.T) {
	a := []dayItem{{id: "b", created: 5}, {id: "a", created: 5}, {id: "z", created: 1}}
	b := []dayItem{{id: "c", created: 5}, {id: "q", created: 3}}
	got := mergeNewestFirst(a, b)
	var ids []string
	for _, it := range got {
		ids = append(ids, it.id)
	}
	if want := []string{"c", "b", "a", "q", "z"}; !slices.Equal(ids, want) {
		t.Errorf("merged %v, want %v", ids, want)
	}
}

// The entries kept in memory stay within their bound, the day in use
// staying.
func TestDayIndexCacheBound(t *testing.T) {
	d := &DayIndex{days: map[string]*dayCache{}}
	items := make([]dayItem, dayCacheItems/3+1)
	for i := range 5 {
		d.keep(fmt.Sprintf("2026-03-0%d", i+1), 1, items)
	}
	if d.cached > dayCacheItems || d.days["2026-03-05"] == nil || len(d.days) != 2 {
		t.Errorf("kept %d entries over %d days (last in: %v), want at most %d", d.cached, len(d.days), d.days["2026-03-05"] != nil, dayCacheItems)
	}
	// Runs that meet are joined.
	d.keep("2026-03-05", len(items)+1, items[:10])
	if c := d.days["2026-03-05"]; c.lo != 1 || len(c.items) != len(items)+10 {
		t.Errorf("joined run %d..%d, want 1..%d", c.lo, c.lo+len(c.items)-1, len(items)+10)
	}
}
