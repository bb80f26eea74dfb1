package reports_test

import (
	"cmp"
	"context"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/reports/reportstest"
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
// latency, and how long the store took to fill.
//
// The reports are stored by reportstest.Fill: a few dozen filed as riders
// file them and brought to every status by the officer's actions, through
// the service, then copied under fresh ids into the collections the service
// writes. The open-reports model is then rebuilt from the store, as at a
// start.
//
// NUANXIN_BENCH_REPORTS sets how many reports are stored (default 1000;
// 100,000 takes a few minutes to fill on the embedded store). As in a city
// that keeps up, most are closed: 3% are open (NUANXIN_BENCH_OPEN changes
// the share, in percent).
func BenchmarkQueueFirstPage(b *testing.B) {
	ctx := context.Background()
	total := 1000
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_REPORTS")); err == nil && v > 0 {
		total = v
	}
	openShare := 3
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_OPEN")); err == nil && v > 0 && v <= 100 {
		openShare = v
	}
	db := storagetest.Docs(b)
	svc := benchService(b, db)
	cells := grid.GridCells("C", "基准区", benchMinLng, benchMinLat, benchStep, benchCols, benchRows)
	res, err := reportstest.Fill(ctx, db, svc, reportstest.FillOptions{Reports: total, OpenShare: float64(openShare) / 100,
		Places: reportstest.PlacesOf(cells)})
	if err != nil {
		b.Fatal(err)
	}
	loadStart := time.Now()
	if err := svc.LoadOpen(ctx, nil); err != nil {
		b.Fatal(err)
	}
	load := time.Since(loadStart)

	// The officer's cells are the two with the most open reports, so that
	// even a small count gives a page to read.
	open := res.OpenByCell
	busiest := slices.Collect(maps.Keys(open))
	slices.SortFunc(busiest, func(x, y string) int { return cmp.Or(open[y]-open[x], cmp.Compare(x, y)) })
	scope := reports.Scope{Cells: busiest[:min(2, len(busiest))]}
	inScope := 0
	for _, c := range scope.Cells {
		inScope += open[c]
	}
	wantPage := min(inScope, 50)
	b.Logf("stored %d reports (%d open, %d of them in the officer's cells %v) in %s; open model built in %s",
		len(res.Reports), res.Open, inScope, scope.Cells, res.Elapsed.Round(time.Millisecond), load.Round(time.Millisecond))

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
	b.ReportMetric(res.Elapsed.Seconds(), "fill-s")
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
