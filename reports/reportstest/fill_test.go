package reportstest_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/reports/reportstest"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// everyoneActive says every officer account can take work.
type everyoneActive struct{}

func (everyoneActive) Active(context.Context, string) (bool, error) { return true, nil }

// cityCells is a 3×2 map of 1 km cells: F-0001…F-0005 have officers, F-0006
// has none (its reports go to the admin queue).
func cityCells() []grid.Cell {
	return grid.GridCells("F", "测试区", 112.9, 28.1, 0.01, 3, 2)
}

// newStores opens the embedded stores as the application does, so that
// the index of _id lookups it adds (storage.Stores.IndexIDs) can be made:
// without it each read by _id reads a whole table.
func newStores(t *testing.T) *storage.Stores {
	t.Helper()
	stores, err := storage.Open(context.Background(), storage.Config{DataDir: t.TempDir(), MongoDatabase: "nuanxin"}, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stores.Close(ctx); err != nil {
			t.Errorf("close the stores: %v", err)
		}
	})
	return stores
}

// indexIDs indexes the _id of every collection made so far.
func indexIDs(t *testing.T, stores *storage.Stores) {
	t.Helper()
	if _, err := stores.IndexIDs(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// newService is the reports service over cityCells, its open model loaded.
func newService(t *testing.T, stores *storage.Stores) *reports.Service {
	t.Helper()
	ctx := context.Background()
	log := storagetest.Logger()
	db := stores.DB
	if err := storage.EnsureIndexes(ctx, db, append(append(reports.Indexes(), grid.Indexes()...), policy.Indexes()...)); err != nil {
		t.Fatal(err)
	}
	indexIDs(t, stores)
	en, err := policy.NewEnforcer(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	g := grid.NewService(db, en, func(_ context.Context, id string) (grid.Officer, bool, error) {
		return grid.Officer{ID: id, Name: id, Eligible: true}, true, nil
	}, log)
	data, err := grid.MarshalFeatureCollection(cityCells())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Import(ctx, data, grid.Replace); err != nil {
		t.Fatal(err)
	}
	for i, c := range cityCells()[:5] {
		if _, err := g.Assign(ctx, c.Code, fmt.Sprintf("officer-%d", i%2+1), ""); err != nil {
			t.Fatal(err)
		}
	}
	svc := reports.NewService(db, stores.Blobs, g.Routing(), everyoneActive{}, nil, reports.Config{}, log)
	if err := svc.LoadOpen(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestFill fills 500 reports and reads them back the ways the product does:
// each cell's queue lists exactly its open reports, from the model and from
// the store; every report reads back with a timeline that ends in its
// state; each rider's list holds their reports; and a copy takes further
// actions like any report.
func TestFill(t *testing.T) {
	ctx := context.Background()
	stores := newStores(t)
	db := stores.DB
	svc := newService(t, stores)
	const total, share = 500, 0.2
	before := time.Now().UTC()
	res, err := reportstest.Fill(ctx, db, svc, reportstest.FillOptions{Reports: total, OpenShare: share,
		Places: reportstest.PlacesOf(cityCells()), Reporters: []string{"r1", "r2", "r3", "r4", "r5"}})
	if err != nil {
		t.Fatal(err)
	}
	indexIDs(t, stores) // the riders' lists are new
	if err := svc.LoadOpen(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d reports (%d templates, %d open %v) in %s", len(res.Reports), res.Templates, res.Open, res.OpenByCell, res.Elapsed.Round(time.Millisecond))

	t.Run("counts", func(t *testing.T) {
		if got := len(res.Reports); got != total {
			t.Fatalf("%d reports, want %d", got, total)
		}
		if res.Templates != reportstest.DefaultTemplates {
			t.Errorf("%d templates, want %d", res.Templates, reportstest.DefaultTemplates)
		}
		if want := int(math.Round(total * share)); res.Open != want {
			t.Errorf("%d open, want %d", res.Open, want)
		}
		ids, statuses := map[string]bool{}, map[reports.Status]int{}
		sum := 0
		for _, f := range res.Reports {
			if ids[f.ID] {
				t.Fatalf("id %s twice", f.ID)
			}
			ids[f.ID] = true
			statuses[f.Status]++
		}
		for _, n := range res.OpenByCell {
			sum += n
		}
		if sum != res.Open {
			t.Errorf("open per cell adds up to %d, want %d", sum, res.Open)
		}
		for _, st := range reports.Statuses {
			if statuses[st] == 0 {
				t.Errorf("no %s report among %v", st, statuses)
			}
		}
	})

	// What each cell's queue must list: the ids of its open reports.
	want := map[string][]string{}
	for _, f := range res.Reports {
		if f.Status.Open() {
			want[f.Cell] = append(want[f.Cell], f.ID)
		}
	}
	// A second instance that has not loaded its model reads the store's
	// open_reports collection instead.
	unloaded := reports.NewService(db, nil, nil, everyoneActive{}, nil, reports.Config{}, storagetest.Logger())
	for _, c := range cityCells() {
		for name, s := range map[string]*reports.Service{"model": svc, "store": unloaded} {
			t.Run("queue/"+c.Code+"/"+name, func(t *testing.T) {
				got, counts := queueIDs(t, s, c.Code)
				if !sameSet(got, want[c.Code]) {
					t.Errorf("the queue lists %d reports, want the %d open in the cell:\n got %v\nwant %v", len(got), len(want[c.Code]), got, want[c.Code])
				}
				wantCounts := map[reports.Status]int64{}
				for _, f := range res.Reports {
					if f.Cell == c.Code && f.Status.Open() {
						wantCounts[f.Status]++
					}
				}
				for _, st := range reports.Statuses {
					if st.Open() && counts[st] != wantCounts[st] {
						t.Errorf("count of %s = %d, want %d", st, counts[st], wantCounts[st])
					}
				}
			})
		}
	}

	templates := map[string]reports.Report{}
	for _, f := range res.Reports[:res.Templates] {
		r, err := svc.Get(ctx, f.ID)
		if err != nil {
			t.Fatalf("get template %s: %v", f.ID, err)
		}
		templates[f.ID] = r
	}
	// Every timeline at once: on the embedded store each svc.Timeline
	// reads the whole collection, too slow to call 500 times here. The
	// service's own read is compared with this one below, for a report of
	// each status.
	timelines := allTimelines(t, db)
	t.Run("read back", func(t *testing.T) {
		oldest, newest := time.Now(), time.Time{}
		sample := map[reports.Status]string{}
		for _, f := range res.Reports {
			r, err := svc.Get(ctx, f.ID)
			if err != nil {
				t.Fatalf("get %s: %v", f.ID, err)
			}
			if r.ID != f.ID || r.Status != f.Status || r.Cell != f.Cell || r.ReporterID != f.ReporterID || r.Seq != f.Entries {
				t.Fatalf("report %s reads back as %s/%s/%s/%s seq %d, want %s/%s/%s/%s seq %d",
					f.ID, r.ID, r.Status, r.Cell, r.ReporterID, r.Seq, f.ID, f.Status, f.Cell, f.ReporterID, f.Entries)
			}
			if f.ID != f.Template {
				tr := templates[f.Template]
				if d := distance(r.Lat, r.Lng, tr.Lat, tr.Lng); d > 1.5*reportstest.DefaultJitterMetres {
					t.Errorf("report %s is %.1f m from its template, want at most the jitter", f.ID, d)
				}
				if r.Category != tr.Category || r.OfficerID != tr.OfficerID || !slices.Equal(r.Photos, tr.Photos) {
					t.Errorf("report %s does not keep its template's category, officer and photos", f.ID)
				}
				if !r.AckDue.Equal(r.CreatedAt.Add(tr.AckDue.Sub(tr.CreatedAt))) {
					t.Errorf("report %s: ack_due %s is not created_at %s plus the template's window", f.ID, r.AckDue, r.CreatedAt)
				}
				sample[f.Status] = f.ID
			}
			oldest, newest = minTime(oldest, r.CreatedAt), maxTime(newest, r.CreatedAt)
			if !r.Status.Open() && r.NextDue.Year() != 9999 {
				t.Errorf("closed report %s: next_due %s, want the far future that orders closed reports last", f.ID, r.NextDue)
			}
			checkTimeline(t, r, timelines[f.ID])
		}
		if oldest.After(before.Add(-29*24*time.Hour)) || newest.After(time.Now()) {
			t.Errorf("created between %s and %s, want spread over the last 30 days", oldest, newest)
		}
		for st, id := range sample {
			es, err := svc.Timeline(ctx, id, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(es, timelines[id]) {
				t.Errorf("the timeline of %s report %s: the service reads %d entries, the collection holds %d", st, id, len(es), len(timelines[id]))
			}
		}
	})

	t.Run("riders' lists", func(t *testing.T) {
		for _, rider := range []string{"r1", "r2", "r3", "r4", "r5"} {
			var wantIDs []string
			for _, f := range res.Reports {
				if f.ReporterID == rider {
					wantIDs = append(wantIDs, f.ID)
				}
			}
			mine, err := svc.Mine(ctx, rider)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(mine))
			for i, r := range mine {
				got[i] = r.ID
			}
			if !sameSet(got, wantIDs) {
				t.Errorf("%s's list holds %d reports, want %d", rider, len(got), len(wantIDs))
			}
		}
	})

	t.Run("photos", func(t *testing.T) {
		f := res.Reports[len(res.Reports)-1]
		r, err := svc.Get(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := svc.OpenPhoto(ctx, r, r.Photos[0].Key, true)
		if err != nil {
			t.Fatalf("the copy's thumbnail: %v", err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n == 0 {
			t.Error("the copy's thumbnail is empty")
		}
	})

	// A copy is a report like any other: acknowledging a submitted one and
	// reopening a rejected one append to its timeline and move it in the
	// queue.
	t.Run("act on copies", func(t *testing.T) {
		var submitted, rejected reportstest.Filled
		for _, f := range res.Reports[res.Templates:] {
			switch {
			case f.Status == reports.StatusSubmitted && submitted.ID == "":
				submitted = f
			case f.Status == reports.StatusRejected && rejected.ID == "":
				rejected = f
			}
		}
		r, err := svc.Get(ctx, submitted.ID)
		if err != nil {
			t.Fatal(err)
		}
		actor := reports.Actor{ID: r.OfficerID, Role: reports.RoleOfficer}
		if r.OfficerID == "" {
			actor = reports.Actor{ID: "admin", Role: reports.RoleAdmin}
		}
		if _, err := svc.Act(ctx, actor, submitted.ID, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
			t.Fatalf("acknowledge a copy: %v", err)
		}
		if _, err := svc.Act(ctx, reports.Actor{ID: "admin", Role: reports.RoleAdmin}, rejected.ID, reports.ActionInput{Action: reports.ActReopen}); err != nil {
			t.Fatalf("reopen a copy: %v", err)
		}
		for _, c := range []struct {
			f      reportstest.Filled
			status reports.Status
		}{{submitted, reports.StatusAcknowledged}, {rejected, reports.StatusAcknowledged}} {
			es, err := svc.Timeline(ctx, c.f.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != c.f.Entries+1 || es[len(es)-1].After.Status != c.status {
				t.Errorf("report %s: %d entries ending %s, want %d ending %s", c.f.ID, len(es), es[len(es)-1].After.Status, c.f.Entries+1, c.status)
			}
			got, _ := queueIDs(t, svc, c.f.Cell)
			if !slices.Contains(got, c.f.ID) {
				t.Errorf("report %s is not in its cell's queue after the action", c.f.ID)
			}
		}
	})
}

// TestFillRefusesWithoutPlaces: Fill says what is missing.
func TestFillRefusesWithoutPlaces(t *testing.T) {
	_, err := reportstest.Fill(context.Background(), nil, nil, reportstest.FillOptions{Reports: 10})
	if err == nil {
		t.Fatal("Fill without places succeeded")
	}
}

// allTimelines reads the whole timeline collection, by report.
func allTimelines(t *testing.T, db *mongo.Database) map[string][]reports.Entry {
	t.Helper()
	ctx := context.Background()
	cur, err := db.Collection("report_timeline").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "report_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var all []reports.Entry
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	out := map[string][]reports.Entry{}
	for _, e := range all {
		out[e.ReportID] = append(out[e.ReportID], e)
	}
	return out
}

// checkTimeline checks that es is r's whole timeline: entries 1…seq under
// their ids, published, in time order from the report's creation, the
// first filed by its reporter, and the last's state the report's.
func checkTimeline(t *testing.T, r reports.Report, es []reports.Entry) {
	t.Helper()
	if len(es) != r.Seq {
		t.Fatalf("report %s (%s) has %d timeline entries, want %d", r.ID, r.Status, len(es), r.Seq)
	}
	for i, e := range es {
		if id := fmt.Sprintf("%s:%06d", r.ID, i+1); e.ID != id || e.ReportID != r.ID || e.Seq != i+1 || !e.Published {
			t.Fatalf("entry %d of %s: %s of %s seq %d published %v, want %s of %s seq %d published",
				i+1, r.ID, e.ID, e.ReportID, e.Seq, e.Published, id, r.ID, i+1)
		}
		if e.At.Before(r.CreatedAt) || (i > 0 && e.At.Before(es[i-1].At)) {
			t.Errorf("entry %d of %s at %s: before the report (%s) or the entry before", i+1, r.ID, e.At, r.CreatedAt)
		}
	}
	if es[0].Action != reports.ActSubmit || es[0].ActorID != r.ReporterID {
		t.Errorf("report %s: first entry %s by %s, want submit by %s", r.ID, es[0].Action, es[0].ActorID, r.ReporterID)
	}
	if last := es[len(es)-1].After; !reflect.DeepEqual(last, r.State) {
		t.Errorf("report %s: its state is not its last entry's:\nreport %+v\nentry  %+v", r.ID, r.State, last)
	}
}

// queueIDs lists every open report of the cell's queue, page by page, and
// the queue's counts; it checks the order by next deadline.
func queueIDs(t *testing.T, s *reports.Service, cell string) ([]string, map[reports.Status]int64) {
	t.Helper()
	var (
		ids    []string
		counts map[reports.Status]int64
		last   time.Time
	)
	for off := 0; ; off += 100 {
		q, err := s.ListQueue(context.Background(), reports.Scope{Cells: []string{cell}}, reports.QueueFilter{Limit: 100, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		counts = q.Counts
		for _, r := range q.Reports {
			if r.NextDue.Before(last) {
				t.Errorf("queue of %s: %s due %s after one due %s", cell, r.ID, r.NextDue, last)
			}
			last = r.NextDue
			ids = append(ids, r.ID)
		}
		if len(q.Reports) < 100 {
			return ids, counts
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func distance(lat1, lng1, lat2, lng2 float64) float64 {
	dy := (lat2 - lat1) * 111_320
	dx := (lng2 - lng1) * 111_320 * math.Cos(lat1*math.Pi/180)
	return math.Hypot(dx, dy)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
