package reports_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// BenchmarkQueueFirstPage measures the first page of an officer's queue (two
// cells of a 100-cell city) with 100,000 reports stored, and reports p50 and
// p99 of the page latency. NUANXIN_BENCH_REPORTS changes the count. As in a
// city that keeps up, most reports are closed: 3% are open (NUANXIN_BENCH_OPEN
// changes the share, in percent).
func BenchmarkQueueFirstPage(b *testing.B) {
	ctx := context.Background()
	total := 100_000
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_REPORTS")); err == nil && v > 0 {
		total = v
	}
	openShare := 3
	if v, err := strconv.Atoi(os.Getenv("NUANXIN_BENCH_OPEN")); err == nil && v >= 0 && v <= 100 {
		openShare = v
	}
	db := storagetest.Docs(b)
	if err := storage.EnsureIndexes(ctx, db, reports.Indexes()); err != nil {
		b.Fatal(err)
	}
	svc := reports.NewService(db, storagetest.Blobs(b), nil, nil, nil, reports.Config{}, storagetest.Logger())
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := reports.Statuses
	now := time.Now().UTC()
	batch := make([]any, 0, 1000)
	var open []any
	for i := range total {
		created := now.Add(-time.Duration(rng.IntN(30*24*60)) * time.Minute)
		status := statuses[4+rng.IntN(2)] // resolved or rejected
		if rng.IntN(100) < openShare {
			status = statuses[rng.IntN(4)]
		}
		st := reports.State{Seq: 1, Status: status, Cell: fmt.Sprintf("C-%03d", rng.IntN(100)),
			OfficerID: "o", AckDue: created.Add(10 * time.Minute), DecideDue: created.Add(24 * time.Hour), UpdatedAt: created}
		st.NextDue = st.AckDue.Add(time.Duration(rng.IntN(1000)) * time.Minute)
		r := reports.Report{ID: fmt.Sprintf("r%07d", i), ReporterID: "rider", Category: "road_damage",
			Lat: 28.19, Lng: 112.97, CreatedAt: created, State: st}
		batch = append(batch, r)
		if status.Open() {
			open = append(open, r)
		}
		if len(batch) == cap(batch) || i == total-1 {
			if _, err := db.Collection("reports").InsertMany(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(open) > 0 {
		if _, err := db.Collection("open_reports").InsertMany(ctx, open); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("stored %d reports (%d open) in %s", total, len(open), time.Since(start).Round(time.Millisecond))
	scope := reports.Scope{Cells: []string{"C-007", "C-042"}}

	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		q, err := svc.ListQueue(ctx, scope, reports.QueueFilter{Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(q.Reports) == 0 {
			b.Fatal("empty queue")
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

func explain(b *testing.B, raw bson.Raw, err error) {
	if err != nil {
		b.Logf("explain: %v", err)
		return
	}
	b.Logf("explain: %s", raw.String())
}
