package points_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/points"
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
	l := newLedger(newDB(b))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		mustPost(b, l, award(fmt.Sprintf("award:report:%d", i), fmt.Sprintf("u%d", i%500), 10))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "awards/s")
	wantBalance(b, l, points.Issuance, -10*int64(b.N), 0)
}
