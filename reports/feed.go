package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// feedCollection holds the feed. (An earlier release kept it in
// "report_feed", where a redelivered event could be appended twice; that
// collection is no longer read, and live pages simply start from the new one.)
const feedCollection = "report_changes"

// Change is one entry of the change feed: an Event and its place in the feed.
type Change struct {
	Seq   int64 `bson:"seq"`
	Event `bson:",inline"`
}

// Publish appends the event to the feed, unless the feed holds it already:
// the feed is one of the report events' consumers, and a redelivered event
// must not reach live pages twice.
func (f *Feed) Publish(ctx context.Context, e Event) error {
	if e.ID == "" {
		return errors.New("append to the report feed: the event has no id")
	}
	_, err := f.batch.Do(ctx, "", Change{Event: e})
	return err
}

// Feed is the ordered log of report changes that every server instance
// follows, so that live pages learn of a change made through any instance.
//
// Why not poll the reports collection: the embedded FerretDB answers only
// one query shape from an index, equality on _id; every other filter reads
// the whole collection, which for a live page polled each second is far too
// slow once there are a few thousand reports. The feed is read with that one
// shape alone: entry N has _id fmt("%012d", N), so following it is asking
// for the next _id until it is not there yet.
//
// Appending takes the next number by inserting it: the unique _id lets one
// writer win each number and the others move on to the next, so numbers are
// never skipped and never shared, on MongoDB and FerretDB alike. The same
// insert claims the event's id, under a unique index (see Indexes), so an
// event is in the feed once however often it is published, by however many
// instances at once: no separate claim that a stop could leave behind.
type Feed struct {
	coll *mongo.Collection
	log  *slog.Logger

	mu   sync.Mutex
	last int64 // highest entry known to exist
	subs map[chan Change]struct{}

	// batch group-commits the appends of concurrent publishers in this
	// instance (appendMany): racing for the next number, most of them
	// would lose it and try again (DESIGN.md), and each would be its own
	// transaction.
	batch storage.Batcher[Change, struct{}]

	hooksMu  sync.Mutex
	onChange []func(ctx context.Context, c Change)
	onTick   []func(ctx context.Context, err error)
}

// OnChange registers fn to be called by Follow with each change it reads, in
// feed order, before subscribers get it. Unlike a subscription it loses
// nothing: Follow waits for fn, so fn must be quick (a read by _id, say).
func (f *Feed) OnChange(fn func(ctx context.Context, c Change)) {
	f.hooksMu.Lock()
	defer f.hooksMu.Unlock()
	f.onChange = append(f.onChange, fn)
}

// OnTick registers fn to be called by Follow after each of its reads, with
// the read's error (nil: the feed was read to its end): a read model that
// follows the feed retries what failed, and knows when it may be behind.
func (f *Feed) OnTick(fn func(ctx context.Context, err error)) {
	f.hooksMu.Lock()
	defer f.hooksMu.Unlock()
	f.onTick = append(f.onTick, fn)
}

func (f *Feed) hooks() ([]func(context.Context, Change), []func(context.Context, error)) {
	f.hooksMu.Lock()
	defer f.hooksMu.Unlock()
	return f.onChange, f.onTick
}

// NewFeed builds a feed; call Init before use.
func NewFeed(db *mongo.Database, log *slog.Logger) *Feed {
	f := &Feed{coll: db.Collection(feedCollection), log: log, subs: map[chan Change]struct{}{}}
	f.batch.Write = f.appendMany
	return f
}

func feedID(seq int64) string { return fmt.Sprintf("%012d", seq) }

func (f *Feed) exists(ctx context.Context, seq int64) (bool, error) {
	err := f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: feedID(seq)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Init finds the end of the feed with a doubling then a binary search of
// _id lookups: about 2·log2(n) queries.
func (f *Feed) Init(ctx context.Context) error {
	last, err := storage.LastFrom(0, func(seq int64) (bool, error) { return f.exists(ctx, seq) })
	if err != nil {
		return fmt.Errorf("find the end of the report feed: %w", err)
	}
	f.advance(last)
	return nil
}

func (f *Feed) advance(seq int64) {
	f.mu.Lock()
	f.last = max(f.last, seq)
	f.mu.Unlock()
}

// Last is the highest entry this instance knows of.
func (f *Feed) Last() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// appendMany adds changes at the end of the feed, in order, each unless
// its event is there, as one InsertMany after the last entry known. If
// anything stands in the way (another instance appended, an event is in
// already, the store failed part way), each change is looked for where the
// batch put it and, if it is not there, appended on its own.
func (f *Feed) appendMany(ctx context.Context, _ string, cs []Change) []storage.Outcome[struct{}] {
	outs := make([]storage.Outcome[struct{}], len(cs))
	if len(cs) == 1 {
		outs[0].Err = f.append(ctx, cs[0])
		return outs
	}
	seq0 := f.Last()
	planned := make([]int64, len(cs)) // 0: not in the batch (an event twice)
	var docs []any
	seen := map[string]bool{}
	for i, c := range cs {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		planned[i] = seq0 + int64(len(docs)) + 1
		c.Seq = planned[i]
		docs = append(docs, feedDoc{feedID(c.Seq), c})
	}
	_, err := f.coll.InsertMany(ctx, docs)
	if err == nil {
		f.advance(seq0 + int64(len(docs)))
	}
	for i, c := range cs {
		if err == nil && planned[i] > 0 {
			continue
		}
		if n := planned[i]; n > 0 {
			var held struct {
				EventID string `bson:"id"`
			}
			rerr := f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: feedID(n)}}, options.FindOne().SetProjection(bson.D{{Key: "id", Value: 1}})).Decode(&held)
			switch {
			case rerr == nil && held.EventID == c.ID:
				f.advance(n) // the batch put it there before it stopped
				continue
			case rerr != nil && !errors.Is(rerr, mongo.ErrNoDocuments):
				outs[i].Err = fmt.Errorf("append to the report feed: %w", rerr)
				continue
			}
		}
		outs[i].Err = f.append(ctx, c)
	}
	return outs
}

// feedDoc is a feed entry as stored.
type feedDoc struct {
	ID     string `bson:"_id"`
	Change `bson:",inline"`
}

// append adds a change at the end of the feed, unless its event is there.
func (f *Feed) append(ctx context.Context, c Change) error {
	seq := f.Last() + 1
	for range 1000 {
		c.Seq = seq
		_, err := f.coll.InsertOne(ctx, feedDoc{feedID(seq), c})
		if err == nil {
			f.advance(seq)
			return nil
		}
		if !storage.IsDuplicateKey(err) {
			return fmt.Errorf("append to the report feed: %w", err)
		}
		// Either the number is taken or the event is in the feed already;
		// the entry at that number tells which (entries are never removed).
		var held struct {
			EventID string `bson:"id"`
		}
		err = f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: feedID(seq)}}, options.FindOne().SetProjection(bson.D{{Key: "id", Value: 1}})).Decode(&held)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return nil // the number is free, so the event's id collided: held elsewhere
		case err != nil:
			return fmt.Errorf("append to the report feed: %w", err)
		}
		f.advance(seq)
		if held.EventID == c.ID {
			return nil
		}
		seq++ // another writer took that number
	}
	return errors.New("append to the report feed: too many concurrent writers")
}

// Read returns the entries after seq, up to limit, in order.
func (f *Feed) Read(ctx context.Context, after int64, limit int) ([]Change, error) {
	var out []Change
	for seq := after + 1; len(out) < limit; seq++ {
		var c Change
		err := f.coll.FindOne(ctx, bson.D{{Key: "_id", Value: feedID(seq)}}).Decode(&c)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("read the report feed: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Subscribe returns a channel of the changes this instance reads from now
// on, and a function to stop. A subscriber that falls 256 changes behind
// misses changes; live pages resync on their next reconnect.
func (f *Feed) Subscribe() (<-chan Change, func()) {
	ch := make(chan Change, 256)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

// Follow reads new entries every interval and hands them to subscribers,
// until ctx ends. One follower runs per instance.
func (f *Feed) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	next := f.Last() // entries up to here existed before anyone subscribed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		onChange, onTick := f.hooks()
		var readErr error
		for {
			cs, err := f.Read(ctx, next, 100)
			if err != nil && ctx.Err() == nil {
				f.log.Warn("follow the report feed", "err", err)
				readErr = err
			}
			for _, c := range cs {
				next = c.Seq
				for _, fn := range onChange {
					fn(ctx, c)
				}
				f.broadcast(c)
			}
			if len(cs) < 100 {
				break
			}
		}
		f.advance(next)
		if ctx.Err() != nil {
			return
		}
		for _, fn := range onTick {
			fn(ctx, readErr)
		}
	}
}

func (f *Feed) broadcast(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- c:
		default:
		}
	}
}
