package points

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Group commit of a chain's appends.
//
// Every write to the embedded store is its own SQLite transaction, synced
// to disk, and SQLite commits one transaction at a time: a movement of
// seven single-document writes cost about eight bare inserts, so a hot
// chain (a rider spending from many tabs, a station's pool receiving every
// spend) topped out near an eighth of the store's insert rate. A chain's
// appends must take turns anyway, since each entry follows the one before;
// so the legs that wait for one chain are appended together: the entries
// as one ordered InsertMany (one transaction on FerretDB and on MongoDB),
// then their leg records as one unordered InsertMany. DESIGN.md measured
// the shape; TigerBeetle batches transfers for the same reason.
//
// The legs waiting for one account's chain, in this instance, form a
// queue. The first to arrive leads: it takes everything queued, writes it,
// hands each waiter its entry, then passes the lead to the next waiter, if
// any, and goes back to its own post. Nothing here decides what may be
// written: the entries are built by next, exactly as one at a time, and a
// batch that meets any conflict (another instance appended, a leg that is
// in already) falls back to appending each leg on its own (appendLeg),
// which sorts those cases out.

// chainQueue is the queue of one account's chain.
type chainQueue struct {
	pending []*legReq // guarded by Ledger.qmu
	leading bool      // someone is writing this chain's batch; guarded by Ledger.qmu
}

// legReq is one leg waiting to be appended.
type legReq struct {
	m    Movement
	side string
	c    *claimed
	done chan legDone // buffered: the leader never waits on a waiter
	sent bool         // the leader has answered it (only the leader touches it)
}

// legDone answers a legReq: its entry, whether its leg record is written
// too, or an error; or, with lead set, that the waiter leads now.
type legDone struct {
	e        Entry
	recorded bool
	err      error
	lead     bool
}

// batchTimeout bounds one batch's writes, which run apart from the
// leader's own request context: one caller giving up must not fail the
// others' legs.
const batchTimeout = 30 * time.Second

// appendQueued appends a movement's leg to account's chain, together with
// the other legs waiting for that chain in this instance.
func (l *Ledger) appendQueued(ctx context.Context, m Movement, side, account string, c *claimed) (Entry, bool, error) {
	req := &legReq{m: m, side: side, c: c, done: make(chan legDone, 1)}
	l.qmu.Lock()
	q := l.queues[account]
	if q == nil {
		q = &chainQueue{}
		l.queues[account] = q
	}
	q.pending = append(q.pending, req)
	lead := !q.leading
	q.leading = true
	l.qmu.Unlock()
	if !lead {
		// The leader always answers, even if it stops (see lead).
		if d := <-req.done; !d.lead {
			return d.e, d.recorded, d.err
		}
	}
	l.lead(ctx, account, q)
	d := <-req.done
	return d.e, d.recorded, d.err
}

// lead writes what is queued for the chain, then passes the lead on.
func (l *Ledger) lead(ctx context.Context, account string, q *chainQueue) {
	l.qmu.Lock()
	batch := q.pending
	q.pending = nil
	l.qmu.Unlock()
	defer func() {
		// Also on the way out of a panic or a stopped goroutine: every
		// waiter gets an answer and the queue a leader.
		for _, r := range batch {
			if !r.sent {
				r.done <- legDone{err: fmt.Errorf("movement %q: the append of its %s leg was interrupted; it is completed by the next delivery or by Repair", r.m.Key, r.side)}
			}
		}
		l.qmu.Lock()
		if len(q.pending) == 0 {
			q.leading = false
			delete(l.queues, account)
		} else {
			q.pending[0].done <- legDone{lead: true}
		}
		l.qmu.Unlock()
	}()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	l.writeBatch(bctx, account, batch)
}

func answer(r *legReq, d legDone) {
	r.sent = true
	r.done <- d
}

// writeBatch appends the legs of batch to account's chain and answers
// each.
func (l *Ledger) writeBatch(ctx context.Context, account string, batch []*legReq) {
	if len(batch) == 1 {
		// Nothing to group: one insert, as ever.
		r := batch[0]
		e, err := l.appendLeg(ctx, r.m, r.side, account, r.c)
		answer(r, legDone{e: e, err: err})
		return
	}
	h, ok := l.hint(account)
	if !ok {
		var err error
		if h, err = l.head(ctx, account); err != nil {
			for _, r := range batch {
				answer(r, legDone{err: err})
			}
			return
		}
	}
	var (
		entries []Entry
		docs    []any
		reqs    []*legReq
	)
	for _, r := range batch {
		e, err := next(h, r.m, r.side)
		if refusedOnChain(r.side, err) {
			e = refusedEntry(h, r.m, account)
		} else if err != nil {
			answer(r, legDone{err: fmt.Errorf("movement %q: %w", r.m.Key, err)})
			continue
		}
		entries, docs, reqs = append(entries, e), append(docs, e), append(reqs, r)
		h = e
	}
	if len(docs) == 0 {
		return
	}
	if _, err := l.entries.InsertMany(ctx, docs); err != nil {
		// Another instance took a number, a leg is in already, or the
		// store failed part way: each leg on its own, which finds those
		// that got in and appends the others after the real head.
		for _, r := range reqs {
			e, err := l.appendLeg(ctx, r.m, r.side, account, r.c)
			answer(r, legDone{e: e, err: err})
		}
		return
	}
	records := make([]any, len(entries))
	for i, e := range entries {
		l.rememberAppended(e, reqs[i].c)
		l.seen.Add(e.ID, e)
		records[i] = legRecord{ID: e.Leg, Account: account, Seq: e.Seq, Refused: e.Refused}
	}
	l.atSides(reqs, "")
	// Unordered: a record written before (by a retry racing this batch)
	// collides alone and the rest go in.
	_, err := l.legs.InsertMany(ctx, records, options.InsertMany().SetOrdered(false))
	recorded := err == nil || onlyDuplicates(err)
	if recorded {
		l.atSides(reqs, "-recorded")
	}
	for i, r := range reqs {
		// Unrecorded, the poster writes the record itself (leg).
		answer(r, legDone{e: entries[i], recorded: recorded})
	}
}

// atSides runs the test hook once for each side among the batch's legs.
func (l *Ledger) atSides(reqs []*legReq, suffix string) {
	seen := map[string]bool{}
	for _, r := range reqs {
		if !seen[r.side] {
			seen[r.side] = true
			l.at(r.side + suffix)
		}
	}
}

// onlyDuplicates reports whether every write error of a bulk insert is a
// duplicate key.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if !we.HasErrorCode(11000) {
			return false
		}
	}
	return true
}
