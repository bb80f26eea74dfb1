package storage_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// mustChainColl is a fresh collection with the unique "src" index that
// AppendOnce needs.
func mustChainColl(t *testing.T) *mongo.Collection {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, []storage.Index{
		{Collection: "chain", Name: "src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}); err != nil {
		t.Fatal(err)
	}
	return db.Collection("chain")
}

type entry struct {
	ID  string `bson:"_id"`
	Src string `bson:"src"`
	N   int    `bson:"n"`
}

func entryDoc(src string) func(id string, n int) any {
	return func(id string, n int) any { return entry{ID: id, Src: src, N: n} }
}

// The head is found from any hint: none, right, too low, or too high (an
// entry that does not exist).
func TestChainHead(t *testing.T) {
	ctx := context.Background()
	coll := mustChainColl(t)
	for n := 1; n <= 37; n++ {
		if _, err := coll.InsertOne(ctx, entry{ID: storage.ChainID("p", n), Src: fmt.Sprint(n)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, hint := range []int{0, 1, 10, 36, 37, 38, 1000} {
		if got, err := storage.ChainHead(ctx, coll, "p", hint); err != nil || got != 37 {
			t.Errorf("ChainHead from hint %d = %d, %v; want 37", hint, got, err)
		}
	}
	if got, err := storage.ChainHead(ctx, coll, "q", 5); err != nil || got != 0 {
		t.Errorf("ChainHead of an empty chain = %d, %v; want 0", got, err)
	}
	if got := storage.ChainID("u1", 12); got != "u1/12" {
		t.Errorf("ChainID = %q, want u1/12", got)
	}
}

// A source appended again is refused with ErrRecorded, and nothing is
// written. (Its number is known only when the append lost the race for
// that very entry, see TestAppendOnceRacing.)
func TestAppendOnceRecorded(t *testing.T) {
	ctx := context.Background()
	coll := mustChainColl(t)
	var hints storage.ChainHints
	for i, src := range []string{"a", "b"} {
		n, err := storage.AppendOnce(ctx, coll, &hints, "p", src, entryDoc(src))
		if err != nil || n != i+1 {
			t.Fatalf("append %s = %d, %v; want %d", src, n, err, i+1)
		}
	}
	// From a fresh instance (no hint), and from a hint that is too low.
	for name, h := range map[string]*storage.ChainHints{"no hint": {}, "same hints": &hints} {
		if _, err := storage.AppendOnce(ctx, coll, h, "p", "b", entryDoc("b")); !storage.IsRecorded(err) {
			t.Errorf("%s: append b again: %v, want ErrRecorded", name, err)
		}
	}
	// A source recorded earlier in the chain, not at its end.
	if _, err := storage.AppendOnce(ctx, coll, &hints, "p", "a", entryDoc("a")); !storage.IsRecorded(err) {
		t.Errorf("append a again: %v, want ErrRecorded", err)
	}
	if c, _ := coll.CountDocuments(ctx, bson.D{}); c != 2 {
		t.Errorf("%d entries stored, want 2", c)
	}
}

// Writers of three instances race, each appending the same 20 sources with
// no lock between them: each source lands once, and the chain is numbered
// 1..20 with no gap. A writer told ErrRecorded with a number was beaten to
// that very entry by its source.
func TestAppendOnceRacing(t *testing.T) {
	ctx := context.Background()
	coll := mustChainColl(t)
	hints := make([]storage.ChainHints, 3)
	var recorded sync.Map // source → the number ErrRecorded gave
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range 12 {
		wg.Go(func() {
			<-start
			for i := range 20 {
				src := fmt.Sprint("s", (i+w)%20)
				n, err := storage.AppendOnce(ctx, coll, &hints[w%3], "p", src, entryDoc(src))
				if err != nil && !storage.IsRecorded(err) {
					t.Error(err)
				}
				if storage.IsRecorded(err) && n != 0 {
					recorded.Store(src, n)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []entry
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	var ns []int
	srcs := map[string]int{}
	for _, e := range all {
		srcs[e.Src]++
		ns = append(ns, e.N)
		if e.ID != storage.ChainID("p", e.N) {
			t.Errorf("entry %s numbered %d", e.ID, e.N)
		}
	}
	slices.Sort(ns)
	if len(srcs) != 20 || len(all) != 20 {
		t.Errorf("%d entries for %d sources, want 20 each: %v", len(all), len(srcs), srcs)
	}
	for i, n := range ns {
		if n != i+1 {
			t.Fatalf("chain numbers %v, want 1..20", ns)
		}
	}
	byN := map[int]string{}
	for _, e := range all {
		byN[e.N] = e.Src
	}
	recorded.Range(func(src, n any) bool {
		if byN[n.(int)] != src {
			t.Errorf("ErrRecorded named entry %d for %s, which holds %s", n, src, byN[n.(int)])
		}
		return true
	})
	if head, err := storage.ChainHead(ctx, coll, "p", 0); err != nil || head != 20 {
		t.Errorf("head = %d, %v; want 20", head, err)
	}
}

// A hint never goes down, and a hint too high costs probes, not the answer.
func TestChainHints(t *testing.T) {
	var h storage.ChainHints
	h.Set("k", 5)
	h.Set("k", 3)
	if got := h.Get("k"); got != 5 {
		t.Errorf("hint = %d after 5 then 3, want 5", got)
	}
	if got := h.Get("other"); got != 0 {
		t.Errorf("unknown hint = %d, want 0", got)
	}
}
