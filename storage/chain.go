package storage

// Numbered chains: documents "<prefix>/<n>", n = 1, 2, …, each claimed by a
// unique _id insert and never deleted. Why: on the embedded store only
// unique inserts are atomic and only _id equality is read without scanning
// the collection (DESIGN.md), so a list that must be appended to by racing
// writers and read cheaply is kept as documents whose _id is their place.
// An entry n is inserted only after n-1 was read, so a chain has no gaps
// and its head is found by probing by _id: a gallop from a hint, then a
// binary search.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ChainID is the _id of entry n of the chain under prefix: "<prefix>/<n>".
func ChainID(prefix string, n int) string { return fmt.Sprintf("%s/%d", prefix, n) }

// ChainKey is the key under which AppendOnce keeps the hint of the chain
// under prefix in coll: callers that read the head themselves pass
// hints.Get(ChainKey(coll, prefix)) to ChainHead so as to share it.
func ChainKey(coll *mongo.Collection, prefix string) string { return coll.Name() + ":" + prefix }

// ChainHead returns the highest n present under prefix in coll (0 for an
// empty chain), starting from hint, a number known to be present (or 0). A
// hint that is wrong (too high) costs probes, never a wrong answer. It
// reads only by _id: about 2·log2(distance from the hint) reads.
func ChainHead(ctx context.Context, coll *mongo.Collection, prefix string, hint int) (int, error) {
	exists := func(n int) (bool, error) {
		if n <= 0 {
			return true, nil
		}
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ChainID(prefix, n)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("storage: read %s: %w", coll.Name(), err)
		}
		return true, nil
	}
	lo := max(hint, 0)
	if ok, err := exists(lo); err != nil {
		return 0, err
	} else if !ok {
		lo = 0
	}
	n, err := LastFrom(int64(lo), func(n int64) (bool, error) { return exists(int(n)) })
	return int(n), err
}

// LastFrom finds the last number that exists in a sequence 1, 2, … that
// has no gaps, knowing that lo exists (or is 0): it gallops forward from
// lo, then bisects, about 2·log2(distance) calls of exists, one when lo is
// the last. The chains, the report feed and the points ledger find their
// ends with it.
func LastFrom(lo int64, exists func(int64) (bool, error)) (int64, error) {
	step, hi := int64(1), lo+1
	for {
		ok, err := exists(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, step = hi, step*2
		hi = lo + step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Chain errors.
var (
	// ErrRecorded says AppendOnce found an entry with the same source in
	// the chain already: the append happened before, nothing was written.
	ErrRecorded = errors.New("recorded already")
	// ErrContended means a chain grew under the caller more times than it
	// retries; asking again normally succeeds.
	ErrContended = errors.New("too many simultaneous changes; please try again")
)

// IsRecorded reports whether err says AppendOnce found its source there
// already.
func IsRecorded(err error) bool { return errors.Is(err, ErrRecorded) }

// AppendOnce appends doc(id, n) at the end of the chain under prefix in
// coll, unless an entry with the same source src is there already, and
// returns the entry's n.
//
// The collection must have a unique index on the field "src", and doc must
// set that field to src: the index is what makes an entry appear once
// whoever races to write it (it is atomic on every store, DESIGN.md). A
// duplicate key is therefore either a lost race for n (the _id exists with
// another source: try n+1) or the source (the _id is free, or holds our
// source). In the second case ErrRecorded is returned, with the entry's n
// when known, else 0.
//
// Writers of one chain inside an instance should take turns (KeyedLocks):
// racing writers collapse the chain's throughput on the embedded store.
// Errors: ErrRecorded, ErrContended after 1000 lost races, or the store's.
func AppendOnce(ctx context.Context, coll *mongo.Collection, hints *ChainHints, prefix, src string, doc func(id string, n int) any) (int, error) {
	key := ChainKey(coll, prefix)
	// With a hint, the insert after it is tried first: for a chain this
	// instance wrote last it is the end, and probing for the head would
	// cost a read or two on every append. A stale hint costs one lost
	// insert, after which the head is found by probing as without one.
	n, probed := hints.Get(key), false
	if n == 0 {
		var err error
		if n, err = ChainHead(ctx, coll, prefix, 0); err != nil {
			return 0, err
		}
		probed = true
	}
	for range 1000 {
		n++
		id := ChainID(prefix, n)
		_, err := coll.InsertOne(ctx, doc(id, n))
		if err == nil {
			hints.Set(key, n)
			return n, nil
		}
		if !IsDuplicateKey(err) {
			return 0, fmt.Errorf("storage: append to %s: %w", coll.Name(), err)
		}
		var there struct {
			Src string `bson:"src"`
		}
		err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&there)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return 0, ErrRecorded
		}
		if err != nil {
			return 0, fmt.Errorf("storage: read %s: %w", coll.Name(), err)
		}
		if there.Src == src {
			return n, ErrRecorded
		}
		hints.Set(key, n)
		if !probed {
			if n, err = ChainHead(ctx, coll, prefix, n); err != nil {
				return 0, err
			}
			probed = true
		}
	}
	return 0, ErrContended
}

// ChainHints remembers, per chain, a number known to be present, so that
// finding the head takes a read or two. Only a hint: a wrong or lost one
// costs probes, never correctness. Bounded by forgetting everything when it
// holds more than 100,000 chains. The zero value is ready to use and safe
// for concurrent use.
type ChainHints struct {
	mu sync.Mutex
	m  map[string]int
}

// Get returns the hint for key (see ChainKey), 0 when there is none.
func (h *ChainHints) Get(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[key]
}

// Set records that entry n of the chain named key exists; a lower number
// than the one known is ignored.
func (h *ChainHints) Set(key string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) > 100_000 {
		h.m = map[string]int{}
	}
	if n > h.m[key] {
		h.m[key] = n
	}
}

// ChainItem is one append of AppendMany: its source and how its document
// is made, as for AppendOnce.
type ChainItem struct {
	Src string
	Doc func(id string, n int) any
}

// AppendMany appends items, in order, at the end of the chain under prefix
// in coll, and returns for each item what AppendOnce would have: its n, or
// ErrRecorded, or an error. Where nothing stands in the way it writes them
// as one ordered InsertMany after the hinted head: one transaction instead
// of one per item. Otherwise (a stale hint, another instance's append, a
// source already in, a store that failed part way) each item is looked for
// where the batch put it and, if it is not there, appended on its own by
// AppendOnce, which sorts those cases out. Callers batch with Batcher, so
// that one instance's appends to a chain take turns.
func AppendMany(ctx context.Context, coll *mongo.Collection, hints *ChainHints, prefix string, items []ChainItem) []Outcome[int] {
	outs := make([]Outcome[int], len(items))
	if len(items) == 1 {
		n, err := AppendOnce(ctx, coll, hints, prefix, items[0].Src, items[0].Doc)
		outs[0] = Outcome[int]{Val: n, Err: err}
		return outs
	}
	key := ChainKey(coll, prefix)
	n0 := hints.Get(key)
	if n0 == 0 {
		var err error
		if n0, err = ChainHead(ctx, coll, prefix, 0); err != nil {
			for i := range outs {
				outs[i].Err = err
			}
			return outs
		}
	}
	// A source twice in one batch is appended once: the second item is
	// answered after the batch, as AppendOnce would answer it.
	var batch []int // indexes into items
	firstOf := map[string]int{}
	for i, it := range items {
		if _, dup := firstOf[it.Src]; !dup {
			firstOf[it.Src] = i
			batch = append(batch, i)
		}
	}
	planned := make([]int, len(items)) // where the batch puts each item; 0: not in it
	docs := make([]any, len(batch))
	for k, i := range batch {
		planned[i] = n0 + k + 1
		docs[k] = items[i].Doc(ChainID(prefix, planned[i]), planned[i])
	}
	_, err := coll.InsertMany(ctx, docs)
	for i, it := range items {
		if n := planned[i]; n > 0 {
			if err == nil {
				outs[i].Val = n
				continue
			}
			// Did the batch put it there before it stopped? (An earlier
			// append of the same source found at the very place is
			// answered the same way, with its number.)
			var there struct {
				Src string `bson:"src"`
			}
			rerr := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ChainID(prefix, n)}}).Decode(&there)
			switch {
			case rerr == nil && there.Src == it.Src:
				hints.Set(key, n)
				outs[i].Val = n
				continue
			case rerr != nil && !errors.Is(rerr, mongo.ErrNoDocuments):
				outs[i].Err = fmt.Errorf("storage: read %s: %w", coll.Name(), rerr)
				continue
			}
		}
		outs[i].Val, outs[i].Err = AppendOnce(ctx, coll, hints, prefix, it.Src, it.Doc)
	}
	if err == nil {
		hints.Set(key, n0+len(batch))
	}
	return outs
}
