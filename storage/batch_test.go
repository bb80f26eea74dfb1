package storage_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/storage"
)

// Two instances (two Batchers, each with its own hints) append to one chain
// from many goroutines at once, some of them appending a source that is in
// already. Every source ends up in the chain exactly once, the chain has no
// gap, each caller is told the number its entry got (or ErrRecorded for a
// source appended before), and the appends were written in fewer batches
// than there were appends.
func TestBatcherAppendsToChainOnce(t *testing.T) {
	ctx := context.Background()
	coll := mustChainColl(t)
	var writes, items atomic.Int64
	release := make(chan struct{})
	var first sync.Once
	instance := func() *storage.Batcher[storage.ChainItem, int] {
		hints := &storage.ChainHints{}
		return &storage.Batcher[storage.ChainItem, int]{Write: func(ctx context.Context, key string, batch []storage.ChainItem) []storage.Outcome[int] {
			// The first batch waits until the others are queued behind it.
			first.Do(func() { <-release })
			writes.Add(1)
			items.Add(int64(len(batch)))
			return storage.AppendMany(ctx, coll, hints, key, batch)
		}}
	}
	a, b := instance(), instance()

	const unique, repeats = 60, 20
	type result struct {
		src string
		n   int
		err error
	}
	results := make(chan result, unique+repeats)
	var started, done sync.WaitGroup
	for i := range unique + repeats {
		src := fmt.Sprintf("s%d", i)
		if i >= unique {
			src = fmt.Sprintf("s%d", i-unique) // the same source again
		}
		inst := a
		if i%2 == 1 {
			inst = b
		}
		started.Add(1)
		done.Go(func() {
			started.Done()
			n, err := inst.Do(ctx, "p", storage.ChainItem{Src: src, Doc: entryDoc(src)})
			results <- result{src, n, err}
		})
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // let them queue behind the first batch
	close(release)
	done.Wait()
	close(results)

	got := map[string][]int{}
	for r := range results {
		switch {
		case r.err == nil:
			got[r.src] = append(got[r.src], r.n)
		case storage.IsRecorded(r.err):
		default:
			t.Errorf("append %s: %v", r.src, r.err)
		}
	}
	// In the store: 1..unique, each source once.
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []entry
	if err := cur.All(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != unique {
		t.Fatalf("%d entries stored, want %d", len(stored), unique)
	}
	at := map[string]string{}
	seen := map[string]bool{}
	for _, e := range stored {
		at[e.ID] = e.Src
		if seen[e.Src] {
			t.Errorf("source %s stored twice", e.Src)
		}
		seen[e.Src] = true
	}
	for n := 1; n <= unique; n++ {
		if _, ok := at[storage.ChainID("p", n)]; !ok {
			t.Errorf("the chain has a gap at %d", n)
		}
	}
	for i := range unique {
		src := fmt.Sprintf("s%d", i)
		ns := got[src]
		if len(ns) != 1 {
			t.Errorf("source %s: told it was appended at %v; want one number (the other call ErrRecorded)", src, ns)
			continue
		}
		if at[storage.ChainID("p", ns[0])] != src {
			t.Errorf("source %s: told n=%d, which holds %q", src, ns[0], at[storage.ChainID("p", ns[0])])
		}
	}
	if w, n := writes.Load(), items.Load(); w >= n {
		t.Errorf("%d appends written in %d batches: nothing was joined", n, w)
	} else {
		t.Logf("%d appends written in %d batches", n, w)
	}
}

// A lone append is a batch of one and gives what AppendOnce gives.
func TestAppendManyOfOne(t *testing.T) {
	ctx := context.Background()
	coll := mustChainColl(t)
	hints := &storage.ChainHints{}
	out := storage.AppendMany(ctx, coll, hints, "p", []storage.ChainItem{{Src: "x", Doc: entryDoc("x")}})
	if out[0].Err != nil || out[0].Val != 1 {
		t.Fatalf("AppendMany = %+v, want n=1", out[0])
	}
	out = storage.AppendMany(ctx, coll, hints, "p", []storage.ChainItem{{Src: "x", Doc: entryDoc("x")}})
	if !storage.IsRecorded(out[0].Err) {
		t.Fatalf("appending x again = %+v, want ErrRecorded", out[0])
	}
}
