package reports_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// Bounds of the benchmark's city: 10×10 cells of 0.01° (about 1 km).
const (
	benchMinLng, benchMinLat, benchStep = 112.9, 28.1, 0.01
	benchCols, benchRows                = 10, 10
)

// benchOfficer is the primary officer of every cell of the benchmark's city.
const benchOfficer = "o"

// everyoneActive says every officer account can take work.
type everyoneActive struct{}

func (everyoneActive) Active(context.Context, string) (bool, error) { return true, nil }

// BenchmarkQueueFirstPage measures the first page of an officer's queue (the
// two busiest cells of a 100-cell city) and reports p50 and p99 of the page
// latency.
//
// The reports are filed as riders file them, through Service.Submit, and
// brought to their status by the officer's actions through Service.Act: the
// collections the queue reads are those the service writes, not a copy of
// what they looked like when the benchmark was written.
//
// NUANXIN_BENCH_REPORTS sets how many reports are stored (default 500, a few
// minutes to fill on the embedded store; filling takes longer than linearly
// in the count there, so time a mid-sized count before a large one). As in a
// city that keeps up, most are closed: 3% are open (NUANXIN_BENCH_OPEN
// changes the share, in percent).
func BenchmarkQueueFirstPage(b *testing.B) {
	ctx := context.Background()
	total := 500
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_REPORTS")); err == nil && v > 0 {
		total = v
	}
	openShare := 3
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_OPEN")); err == nil && v >= 0 && v <= 100 {
		openShare = v
	}
	db := storagetest.Docs(b)
	svc := benchService(b, db)

	// The clock follows the reports filed, so that they spread over the
	// last 30 days, in order, and so do their deadlines.
	start := time.Now().UTC()
	first, step := start.Add(-30*24*time.Hour), 30*24*time.Hour/time.Duration(total)
	var next atomic.Int64 // the next report to file
	reports.SetNow(svc, func() time.Time { return first.Add(time.Duration(next.Load()) * step) })

	photo := benchPhoto(b)
	categories := svc.Categories()
	const workers = 4
	var (
		mu     sync.Mutex
		open   = map[string]int{} // open reports per cell
		opened atomic.Int64
		wg     sync.WaitGroup
		errs   = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, uint64(w)))
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				want := reports.Statuses[4+rng.IntN(2)] // resolved or rejected
				if rng.IntN(100) < openShare {
					want = reports.Statuses[rng.IntN(4)]
				}
				lat := benchMinLat + rng.Float64()*benchRows*benchStep
				lng := benchMinLng + rng.Float64()*benchCols*benchStep
				in := reports.Submission{Key: strconv.Itoa(i), Category: categories[rng.IntN(len(categories))].Code,
					Description: "基准测试", Lat: &lat, Lng: &lng, Photos: [][]byte{photo}}
				r, _, err := svc.Submit(ctx, fmt.Sprintf("rider%03d", i%500), in)
				if err == nil {
					err = actUntil(ctx, svc, r.ID, want)
				}
				if err != nil {
					errs <- fmt.Errorf("report %d: %w", i, err)
					return
				}
				if want.Open() {
					opened.Add(1)
					mu.Lock()
					open[r.Cell]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	// The officer's cells are the two with the most open reports, so that
	// even a small count gives a page to read.
	cells := slices.Collect(maps.Keys(open))
	slices.SortFunc(cells, func(x, y string) int { return cmp.Or(open[y]-open[x], cmp.Compare(x, y)) })
	scope := reports.Scope{Cells: cells[:min(2, len(cells))]}
	inScope := 0
	for _, c := range scope.Cells {
		inScope += open[c]
	}
	wantPage := min(inScope, 50)
	b.Logf("submitted %d reports (%d open, %d of them in the officer's cells %v) in %s",
		total, opened.Load(), inScope, scope.Cells, time.Since(start).Round(time.Millisecond))

	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		q, err := svc.ListQueue(ctx, scope, reports.QueueFilter{Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(q.Reports) != wantPage {
			b.Fatalf("the first page holds %d reports, want %d", len(q.Reports), wantPage)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	raw, err := db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: "open_reports"},
		{Key: "filter", Value: bson.D{{Key: "cell", Value: bson.D{{Key: "$in", Value: scope.Cells}}}}},
		{Key: "sort", Value: bson.D{{Key: "next_due", Value: 1}, {Key: "_id", Value: 1}}},
		{Key: "limit", Value: 50},
	}}}).Raw()
	explain(b, raw, err)
}

// benchService is the reports service over a 100-cell map held by the real
// grid service, every cell with benchOfficer as its primary.
func benchService(b *testing.B, db *mongo.Database) *reports.Service {
	b.Helper()
	ctx := context.Background()
	log := storagetest.Logger()
	if err := storage.EnsureIndexes(ctx, db, append(append(reports.Indexes(), grid.Indexes()...), policy.Indexes()...)); err != nil {
		b.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, log)
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(_ context.Context, id string) (grid.Officer, bool, error) {
		return grid.Officer{ID: id, Name: id, Eligible: true}, true, nil
	}
	g := grid.NewService(db, en, lookup, log)
	cells := grid.GridCells("C", "基准区", benchMinLng, benchMinLat, benchStep, benchCols, benchRows)
	data, err := grid.MarshalFeatureCollection(cells)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := g.Import(ctx, data, grid.Replace); err != nil {
		b.Fatal(err)
	}
	for _, c := range cells {
		if _, err := g.Assign(ctx, c.Code, benchOfficer, ""); err != nil {
			b.Fatalf("assign %s: %v", c.Code, err)
		}
	}
	// As the app does: the model of the open reports is built at start and
	// kept current by the service's own writes.
	svc := reports.NewService(db, storagetest.Blobs(b), g.Routing(), everyoneActive{}, nil, reports.Config{}, log)
	if err := svc.LoadOpen(ctx, nil); err != nil {
		b.Fatal(err)
	}
	return svc
}

// actUntil takes a submitted report to status want by the officer's
// actions, the way the queue's officer would.
func actUntil(ctx context.Context, svc *reports.Service, id string, want reports.Status) error {
	var steps []reports.ActionInput
	switch want {
	case reports.StatusSubmitted:
	case reports.StatusAcknowledged:
		steps = []reports.ActionInput{{Action: reports.ActAcknowledge}}
	case reports.StatusVerified:
		steps = []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}}
	case reports.StatusInProgress:
		steps = []reports.ActionInput{{Action: reports.ActVerify, Severity: 2}, {Action: reports.ActStart}}
	case reports.StatusResolved:
		steps = []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve}}
	case reports.StatusRejected:
		steps = []reports.ActionInput{{Action: reports.ActReject, Reason: "not_a_problem"}}
	default:
		return fmt.Errorf("no way to status %q", want)
	}
	officer := reports.Actor{ID: benchOfficer, Role: reports.RoleOfficer}
	for _, a := range steps {
		r, err := svc.Act(ctx, officer, id, a)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Action, err)
		}
		if r.Status == want {
			return nil
		}
	}
	if want != reports.StatusSubmitted {
		return fmt.Errorf("the actions did not bring it to %s", want)
	}
	return nil
}

// benchPhoto is a 16×16 JPEG: decoding and thumbnailing it costs little, so
// filling the store measures the writes, not the imaging.
func benchPhoto(b *testing.B) []byte {
	b.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func explain(b *testing.B, raw bson.Raw, err error) {
	if err != nil {
		b.Logf("explain: %v", err)
		return
	}
	b.Logf("explain: %s", raw.String())
}
