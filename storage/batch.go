package storage

import (
	"context"
	"fmt"
	"sync"
)

// Batcher is group commit for appends to numbered sequences (a chain, the
// report feed): the appends that concurrent requests make to one sequence,
// named by a key, are handed together to one call of Write, which can give
// them consecutive numbers and store them in one InsertMany, one
// transaction, where one at a time each would be its own and, racing for
// the same next number, most would lose it and try again (DESIGN.md:
// 16 racing appenders made 10.7 lost inserts per append). Sequences named
// by different keys do not wait for each other; each item gets its own
// result (its number). Joiner is a Batcher of one sequence, for plain
// inserts and deletes.
//
// The first request to arrive for a key leads: it takes what is queued for
// the key, calls Write, answers each request with its own outcome, then
// passes the lead to the next waiter, if any. A lone request is a batch of
// one. Write decides nothing about correctness that a single append would
// not: it must give each item the outcome the item would have had alone
// (typically, on any error of the batch, by appending the items one by one,
// as before).
type Batcher[T, R any] struct {
	// Write stores the batch's items in order and returns one outcome
	// per item. It runs apart from the leader's cancellation (one caller
	// giving up must not fail the others), bounded by joinTimeout or the
	// leader's deadline.
	Write func(ctx context.Context, key string, items []T) []Outcome[R]

	mu     sync.Mutex
	queues map[string]*batchQueue[T, R]
}

// Outcome is what became of one item of a batch.
type Outcome[R any] struct {
	Val R
	Err error
}

type batchQueue[T, R any] struct {
	pending []*batchReq[T, R]
	leading bool
}

type batchReq[T, R any] struct {
	item T
	done chan batchDone[R] // buffered: the leader never waits on a waiter
	sent bool              // only the leader touches it
}

type batchDone[R any] struct {
	Outcome[R]
	lead bool
}

// Do appends item to the sequence named key, with the items other
// callers are appending to it at the same time, and returns item's own
// outcome.
func (b *Batcher[T, R]) Do(ctx context.Context, key string, item T) (R, error) {
	r := &batchReq[T, R]{item: item, done: make(chan batchDone[R], 1)}
	b.mu.Lock()
	if b.queues == nil {
		b.queues = map[string]*batchQueue[T, R]{}
	}
	q := b.queues[key]
	if q == nil {
		q = &batchQueue[T, R]{}
		b.queues[key] = q
	}
	q.pending = append(q.pending, r)
	lead := !q.leading
	q.leading = true
	b.mu.Unlock()
	if !lead {
		// The leader always answers, even if it stops (see lead).
		if d := <-r.done; !d.lead {
			return d.Val, d.Err
		}
	}
	b.lead(ctx, key, q)
	d := <-r.done
	return d.Val, d.Err
}

func (b *Batcher[T, R]) lead(ctx context.Context, key string, q *batchQueue[T, R]) {
	b.mu.Lock()
	batch := q.pending
	q.pending = nil
	b.mu.Unlock()
	defer func() {
		// Also on the way out of a panic: every waiter gets an answer and
		// the queue a leader.
		for _, r := range batch {
			if !r.sent {
				r.sent = true
				r.done <- batchDone[R]{Outcome: Outcome[R]{Err: ErrJoinInterrupted}}
			}
		}
		b.mu.Lock()
		if len(q.pending) == 0 {
			q.leading = false
			delete(b.queues, key)
		} else {
			q.pending[0].done <- batchDone[R]{lead: true}
		}
		b.mu.Unlock()
	}()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinTimeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var cancelDL context.CancelFunc
		bctx, cancelDL = context.WithDeadline(bctx, dl)
		defer cancelDL()
	}
	items := make([]T, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	outs := b.Write(bctx, key, items)
	for i, r := range batch {
		r.sent = true
		if i < len(outs) {
			r.done <- batchDone[R]{Outcome: outs[i]}
		} else {
			r.done <- batchDone[R]{Outcome: Outcome[R]{Err: fmt.Errorf("storage: a batch of %d answered %d", len(batch), len(outs))}}
		}
	}
}
