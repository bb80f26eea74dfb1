package points_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// BenchmarkSpendContended: 16 goroutines spend 1 point each from one
// rider's account, funded to cover every spend. With instances=2 the
// goroutines are split over two ledgers on one database, as two servers
// would be, so their appends race for the chain's numbers.
func BenchmarkSpendContended(b *testing.B) {
	for _, instances := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", instances), func(b *testing.B) {
			db := newDB(b)
			ls := make([]*points.Ledger, instances)
			for i := range ls {
				ls[i] = newLedger(db)
			}
			mustPost(b, ls[0], award("fund", "u1", int64(b.N)))
			var n, failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := range 16 {
				wg.Go(func() {
					l := ls[g%instances]
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := l.Post(context.Background(), spend(fmt.Sprintf("redeem:%d", i), "u1", "s1", 1)); err != nil {
							failed.Add(1)
							if !errors.Is(err, points.ErrInsufficient) {
								b.Error(err)
							}
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			var retries int64
			for _, l := range ls {
				retries += points.Retries(l)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "spends/s")
			b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
			bare := bareInserts(b, db, 16)
			b.ReportMetric(bare, "bare-inserts/s")
			b.ReportMetric(bare/(float64(b.N)/elapsed.Seconds()), "x-bare-insert")
			// Every spend was covered, so all succeed: none refused, none twice.
			if failed.Load() != 0 {
				b.Errorf("%d spends failed", failed.Load())
			}
			wantBalance(b, ls[0], points.Rider("u1"), 0, 0)
			wantBalance(b, ls[0], points.Pool("s1"), int64(b.N), 0)
			if b.N <= 2000 {
				wantClean(b, ls[0])
			}
		})
	}
}

// BenchmarkAward: awards to distinct riders, one at a time; every award
// appends to the issuance account's chain and to a rider's.
func BenchmarkAward(b *testing.B) {
	l0db := newDB(b)
	l := newLedger(l0db)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		mustPost(b, l, award(fmt.Sprintf("award:report:%d", i), fmt.Sprintf("u%d", i%500), 10))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "awards/s")
	bare := bareInserts(b, l0db, 1)
	b.ReportMetric(bare, "bare-inserts/s")
	b.ReportMetric(bare/(float64(b.N)/elapsed.Seconds()), "x-bare-insert")
	wantBalance(b, l, points.Issuance, -10*int64(b.N), 0)
}

// BenchmarkWallet reads what the wallet page shows for a rider with 10,000
// entries: the wallet (head, and the lots expiring in 30 days, found by
// bisecting the chain) and the first statement page of 50 entries. It
// reports the latency percentiles of one whole page's reads, and beside
// them a bare read by _id of the same store, measured in the same run.
func BenchmarkWallet(b *testing.B) {
	ctx := context.Background()
	// The stores as the application opens them, so that the _id index it
	// adds to the embedded store (storage.Stores.IndexIDs) is there.
	stores, err := storage.Open(ctx, storage.Config{DataDir: b.TempDir(), MongoDatabase: "nuanxin"}, storagetest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stores.Close(context.Background()) })
	db := stores.DB
	if err := storage.EnsureIndexes(ctx, db, points.Indexes()); err != nil {
		b.Fatal(err)
	}
	l := newLedger(db)
	const entries = 10_000
	if err := points.SeedChain(ctx, l, points.Rider("u1"), entries, 12); err != nil {
		b.Fatal(err)
	}
	if _, err := stores.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	coll := db.Collection(points.EntriesCollection)
	bare := func() time.Duration {
		start := time.Now()
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: points.EntryID(points.Rider("u1"), 5000)}}).Err(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var bareTimes []time.Duration
	for range 200 {
		bareTimes = append(bareTimes, bare())
	}
	bp50 := percentile(bareTimes, 50)
	view := func(l *points.Ledger) {
		w, err := l.Wallet(ctx, "u1", points.ExpiringWindow, 12)
		if err != nil {
			b.Fatal(err)
		}
		es, err := l.Statement(ctx, points.Rider("u1"), 0, 50)
		if err != nil || len(es) != 50 || w.Seq != entries {
			b.Fatalf("statement: %d entries, %v; wallet %+v", len(es), err, w)
		}
	}
	// cold: a fresh ledger each view, nothing in memory, as for the first
	// view after a restart. warm: one ledger, as a running server serves a
	// rider's views (the head is checked in the store every time).
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			warm := newLedger(db)
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if mode == "cold" {
					view(newLedger(db))
				} else {
					view(warm)
				}
				times = append(times, time.Since(start))
			}
			p50, p99 := percentile(times, 50), percentile(times, 99)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(bp50.Microseconds())/1000, "bare-read-p50-ms")
			b.ReportMetric(float64(p50)/float64(bp50), "x-bare-read")
		})
	}
}

// bareInserts measures, in the same run, what the store does without the
// ledger: inserts of one small document each (BenchmarkSubmitBaseline's
// bare insert) by the given number of goroutines, per second. A movement
// is six inserts and a delete, so the ledger's ceiling is about a seventh
// of it.
func bareInserts(b *testing.B, db *mongo.Database, goroutines int) float64 {
	b.Helper()
	coll := db.Collection("bench_bare_" + fmt.Sprint(time.Now().UnixNano()))
	const n = 1000
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: fmt.Sprint(i)}, {Key: "n", Value: i}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return n / time.Since(start).Seconds()
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*p/100)]
}
