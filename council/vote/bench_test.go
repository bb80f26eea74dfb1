package vote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// BenchmarkVote: b.N members of one proposal vote, 16 at a time; reports
// votes per second on the embedded store.
func BenchmarkVote(b *testing.B) {
	for _, secret := range []bool{false, true} {
		b.Run(fmt.Sprintf("secret=%v", secret), func(b *testing.B) {
			c := newClock()
			s := newService(storagetest.Docs(b), c)
			p := mustCreate(b, s, draft(YesNoAbstain, secret))
			roll := members(b.N)
			mustOpen(b, s, p.ID, roll)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 16 {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := s.Cast(context.Background(), p.ID, roll[i], []string{Yes}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "votes/s")
		})
	}
}

// BenchmarkTally counts 10,000 open ballots (the stored proposal's own
// collection, read in one pass), without freezing the result.
func BenchmarkTally(b *testing.B) {
	c := newClock()
	s := newService(storagetest.Docs(b), c)
	p := mustCreate(b, s, draft(YesNoAbstain, false))
	roll := members(10000)
	mustOpen(b, s, p.ID, roll)
	rec, err := s.openRecord(context.Background(), p.ID)
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]any, len(roll))
	for i, m := range roll {
		docs[i] = openBallot{ID: openBallotID(m, 1), Member: m, Seq: 1, Choice: []string{[]string{Yes, No, Abstain}[i%3]}, Receipt: newReceipt(), At: t0}
	}
	for i := 0; i < len(docs); i += 1000 {
		if _, err := s.ballots(p.ID).InsertMany(context.Background(), docs[i:i+1000]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		tl, err := s.count(context.Background(), rec)
		if err != nil {
			b.Fatal(err)
		}
		if tl.Ballots != 10000 {
			b.Fatalf("%d ballots counted, want 10000", tl.Ballots)
		}
	}
}
