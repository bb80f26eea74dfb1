package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	// entriesCollection holds every account's chain: entry n of account A
	// is the document _id "A/<n %012d>". The unique _id makes each number
	// of a chain taken once; the unique "leg" index makes each leg of a
	// movement appear once in any chain.
	entriesCollection = "points_entries"
	// movementsCollection holds the movements, _id the business key.
	movementsCollection = "points_movements"
	// legsCollection records, after a leg's entry is in its chain, where it
	// is: _id "<key>/debit" or "<key>/credit", with the entry's seq. It
	// lets a replay or a settlement find the legs of an old movement by
	// _id instead of searching a chain.
	legsCollection = "points_legs"
	// openCollection holds one document per movement not yet complete,
	// _id the key: written before the movement and removed once both legs
	// are recorded. Repair reads only this collection, which stays small,
	// so it is cheap even on the embedded store (which reads a whole
	// collection for any query not on _id).
	openCollection = "points_open"
	// dueCollection: see lots.go.
)

// Indexes lists the indexes the ledger needs: one, the unique leg of an
// entry. Everything else is read by _id.
func Indexes() []storage.Index {
	return []storage.Index{
		// A leg is in the chains once: a second append of it, by a racing
		// instance or by Repair after a crash, collides here.
		{Collection: entriesCollection, Name: "leg", Keys: bson.D{{Key: "leg", Value: 1}}, Unique: true},
	}
}

// Ledger is the points ledger. Several instances (in one process or in
// several) may share a database: every "only once" rule is a unique insert.
//
// # Writing a movement
//
// A movement with key K is written in this order, each step a single
// insert except the last:
//
//  1. the open marker K in points_open;
//  2. the movement K in points_movements (a second writer of K collides
//     here and goes on with the stored movement, or fails with
//     ErrKeyConflict if it asked for a different one);
//  3. the debit leg: the entry "<debit>/<n+1>" whose leg is "K/debit";
//  4. the record "K/debit" in points_legs, naming n+1;
//  5. the credit leg, likewise on the credit account's chain;
//  6. the record "K/credit";
//  7. the open marker is deleted.
//
// Invariants, which hold after any crash between two steps:
//
//   - a leg's entry exists at most once (unique index on "leg"), whoever
//     appends it: the first writer, a racing writer of the same key, or
//     Repair;
//   - a leg record exists only once its entry does, and names its seq;
//   - a movement is stored only after its open marker, and the marker is
//     deleted only after both leg records (or the refusal's) exist; so
//     every incomplete movement has an open marker, and Repair, which
//     completes the movement of every marker, completes each exactly once;
//   - a leg's entry lies after the chain's head at the time the movement
//     was stored (DebitFrom, CreditFrom): a leg written just before a crash,
//     whose record is missing, is found by reading forward from there by _id.
//
// An open marker with no movement is a post stopped between steps 1 and 2:
// nothing was written, the caller got no answer, and Repair deletes the
// marker once it is older than a grace period (10 minutes), which a live
// writer needs only milliseconds to cross.
//
// # Refusals
//
// A rider's debit is checked against the chain's head before anything is
// written, counting the debits this instance has in flight on that chain
// (claim): inside one instance the check is exact, a refused spend writes
// nothing, and a retry may succeed later. A writer in another instance may still spend the
// points between that check and step 3; then the refusal is decided on the
// chain itself: the debit leg is appended as an entry of amount 0 marked
// Refused, which takes the leg's unique id, so no later attempt (a retry or
// Repair) can debit the movement when the balance has grown. Such a
// movement is complete with no credit leg, and posting its key again
// returns ErrInsufficient.
//
// # Contention
//
// Appends to one chain inside an instance take turns through the chain's
// queue, leaving only the race between instances to the unique _id: on the
// embedded store a chain raced for by many writers in one process collapses
// (see DESIGN.md). The legs waiting in the queue are appended together, and
// the concurrent posts' other writes (markers, movements, leg records) are
// joined per collection (group.go, storage.Joiner): each write to the embedded store is a
// synced SQLite transaction and SQLite commits one at a time, so joining
// them is what lets a hot account take hundreds of spends a second. The
// balance check does not hold the chain: it claims the debit against this
// instance's posts in flight (claim), so it stays exact.
//
// Each instance remembers the last entry it saw of each chain and appends
// after it without reading: if another instance appended meanwhile, the
// insert collides and the writer reads on. A post that this instance can
// check from what it remembers therefore reads nothing: six inserts and one
// delete. Entries read are kept in memory (they never change). The
// embedded store's lookups by _id use the index storage.Stores.IndexIDs
// adds; unique inserts always did.
type Ledger struct {
	entries, movements, legs, open, due *mongo.Collection
	log                                 *slog.Logger

	now   func() time.Time
	grace time.Duration // see Repair
	// stopAt, when set (by tests), runs at each point between two writes
	// of a movement: a test stops the goroutine there as a kill would.
	stopAt func(point string)

	// queues holds, per account with appends in flight, the legs waiting
	// to be appended to its chain (see appendQueued).
	qmu    sync.Mutex
	queues map[string]*chainQueue

	// Writes of concurrent posts to one collection, joined (storage.Joiner).
	openIns, movementIns, legIns, openDel *storage.Joiner

	mu    sync.Mutex
	heads map[string]Entry // account → an entry known to exist, where to look for the head
	// inflight is, per rider account, what posts of this instance have
	// claimed from its available balance and not yet appended (see claim).
	inflight map[string]int64

	// seen keeps entries read or written by this instance. Entries are
	// never updated or deleted, so a kept entry is never stale: the
	// statement, the lots' bisection and the wallet read them from memory
	// after the first time. On the embedded store each read by _id costs
	// about half a millisecond, so a wallet over a long chain would
	// otherwise cost tens of them per view.
	seen *lru.Cache[string, Entry]

	retries atomic.Int64 // appends that lost their number to another writer
}

// NewLedger builds a ledger on db. The indexes of Indexes must exist
// (storage.EnsureIndexes) before it writes.
func NewLedger(db *mongo.Database, log *slog.Logger) *Ledger {
	l := &Ledger{
		entries: db.Collection(entriesCollection), movements: db.Collection(movementsCollection),
		legs: db.Collection(legsCollection), open: db.Collection(openCollection), due: db.Collection(dueCollection),
		log: log, now: func() time.Time { return time.Now().UTC() }, grace: 10 * time.Minute,
		heads: map[string]Entry{}, seen: newEntryCache(), inflight: map[string]int64{}, queues: map[string]*chainQueue{},
	}
	l.openIns, l.movementIns, l.legIns, l.openDel = storage.JoinInserts(l.open), storage.JoinInserts(l.movements),
		storage.JoinInserts(l.legs), storage.JoinDeletes(l.open)
	return l
}

// maxSeen bounds the entries a ledger keeps in memory: about 400 bytes
// each, so some 40 MB at most.
const maxSeen = 100_000

func newEntryCache() *lru.Cache[string, Entry] {
	c, err := lru.New[string, Entry](maxSeen)
	if err != nil {
		panic(err) // only for a size ≤ 0
	}
	return c
}

func (l *Ledger) at(point string) {
	if l.stopAt != nil {
		l.stopAt(point)
	}
}

func entryID(account string, seq int64) string { return fmt.Sprintf("%s/%012d", account, seq) }

// maxTries bounds the attempts of one append; past it the caller gets
// ErrBusy rather than spinning.
const maxTries = 1000

// maxHeads bounds the memory of remembered heads; past it they are
// forgotten and found again.
const maxHeads = 10_000

// remember remembers an entry read from the store (see rememberEntry).
func (l *Ledger) remember(e Entry, c *claimed) { l.rememberEntry(e, c, false) }

// rememberAppended remembers an entry this instance just appended.
func (l *Ledger) rememberAppended(e Entry, c *claimed) { l.rememberEntry(e, c, true) }

// rememberEntry keeps e as the account's head if it is newer than the one
// kept, and ends the claim c. The claim ends in the same step as the head
// that holds its debit is kept: a claim check never counts the debit twice
// nor misses it. For the same reason an entry read from the store is not
// kept while the account has claims in flight: the chain up to it may hold
// a debit of this instance whose claim has not ended yet (appended, not yet
// kept). An entry this instance appended (appended) is safe: this
// instance's appends to a chain are kept in the order they are made, each
// ending its own claim. (A head is only where to start looking, so not
// keeping one costs at most a read.)
func (l *Ledger) rememberEntry(e Entry, c *claimed, appended bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.releaseLocked()
	if !appended && l.inflight[e.Account] > 0 {
		return
	}
	if len(l.heads) >= maxHeads {
		kept := map[string]Entry{}
		for a := range l.inflight {
			if h, ok := l.heads[a]; ok {
				kept[a] = h
			}
		}
		l.heads = kept
	}
	if old, ok := l.heads[e.Account]; !ok || e.Seq > old.Seq {
		l.heads[e.Account] = e
	}
}

func (l *Ledger) hint(account string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.heads[account]
	return e, ok
}

// entryAt reads entry seq of an account's chain by _id.
func (l *Ledger) entryAt(ctx context.Context, account string, seq int64) (Entry, bool, error) {
	id := entryID(account, seq)
	if e, ok := l.seen.Get(id); ok {
		return e, true, nil
	}
	var e Entry
	err := l.entries.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("read the points of %s: %w", account, err)
	}
	l.seen.Add(id, e)
	return e, true, nil
}

func (l *Ledger) exists(ctx context.Context, account string, seq int64) (bool, error) {
	if l.seen.Contains(entryID(account, seq)) {
		return true, nil
	}
	err := l.entries.FindOne(ctx, bson.D{{Key: "_id", Value: entryID(account, seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the points of %s: %w", account, err)
	}
	return true, nil
}

// head returns the last entry of an account's chain (a zero entry with
// Seq 0 for an empty chain). Entries are never removed, so a remembered
// entry still exists and the head is at or after it: one read of the next
// number usually shows it is free.
func (l *Ledger) head(ctx context.Context, account string) (Entry, error) {
	h, ok := l.hint(account)
	if !ok {
		h = Entry{Account: account}
	}
	last, err := storage.LastFrom(h.Seq, func(seq int64) (bool, error) { return l.exists(ctx, account, seq) })
	if err != nil {
		return Entry{}, err
	}
	if last != h.Seq {
		e, ok, err := l.entryAt(ctx, account, last)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			return Entry{}, fmt.Errorf("read the points of %s: entry %d vanished", account, last)
		}
		h = e
	}
	l.remember(h, nil)
	return h, nil
}

// movement reads a stored movement by key.
func (l *Ledger) movement(ctx context.Context, key string) (Movement, bool, error) {
	var m Movement
	err := l.movements.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Movement{}, false, nil
	}
	if err != nil {
		return Movement{}, false, fmt.Errorf("read movement %q: %w", key, err)
	}
	return m, true, nil
}

type openMarker struct {
	Key string    `bson:"_id"`
	At  time.Time `bson:"at"`
}

// legRecord says where a leg's entry is; written only after the entry.
type legRecord struct {
	ID      string `bson:"_id"`
	Account string `bson:"account"`
	Seq     int64  `bson:"seq"`
	Refused bool   `bson:"refused,omitempty"`
}

// post stores a movement and its legs (see Ledger for the order).
func (l *Ledger) post(ctx context.Context, m Movement) (Result, error) {
	if err := m.validate(); err != nil {
		return Result{}, err
	}
	// Refuse what cannot be done before writing anything, from the heads
	// this instance remembers: no read at all when they are current, which
	// matters on the embedded store, where every read costs (see Ledger,
	// "Contention"). A remembered head is a lower bound of the real one, so
	// it serves as DebitFrom and CreditFrom; if it is stale, the insert
	// collides and appendLeg reads on. The check claims the debit against
	// this instance's other posts in flight (claim), so that it stays exact
	// without holding the chain's lock while the movement is stored: only
	// the append itself is done under the lock.
	dh, ch, err := l.heads2(ctx, m, false)
	if err != nil {
		return Result{}, err
	}
	c, err := l.claim(dh, ch, m)
	if err != nil {
		// Perhaps the heads were stale, or the key was posted before
		// (a replayed spend must return its first result, not a refusal).
		if stored, ok, err := l.movement(ctx, m.Key); err != nil {
			return Result{}, err
		} else if ok {
			return l.replay(ctx, stored, m)
		}
		if dh, ch, err = l.heads2(ctx, m, true); err != nil {
			return Result{}, err
		}
		if c, err = l.claim(dh, ch, m); err != nil {
			return Result{}, err
		}
	}
	defer c.release()
	m.DebitFrom, m.CreditFrom = dh.Seq, ch.Seq
	m.At = l.now()

	if err := l.openIns.Do(ctx, openMarker{Key: m.Key, At: m.At}); err != nil && !storage.IsDuplicateKey(err) {
		return Result{}, fmt.Errorf("post movement %q: %w", m.Key, err)
	}
	l.at("open")
	if err := l.movementIns.Do(ctx, m); err != nil {
		if !storage.IsDuplicateKey(err) {
			return Result{}, fmt.Errorf("post movement %q: %w", m.Key, err)
		}
		// Posted before, or by another writer just now.
		stored, ok, err := l.movement(ctx, m.Key)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			return Result{}, fmt.Errorf("post movement %q: it collided but cannot be read", m.Key)
		}
		c.release()
		return l.replay(ctx, stored, m)
	}
	l.at("movement")
	// This call stored the movement, so no leg of it was recorded before
	// (a racing writer could only append it, and appendLeg finds that).
	debit, err := l.leg(ctx, m, sideDebit, c, true)
	if err != nil {
		return Result{}, err
	}
	return l.finish(ctx, m, debit, true)
}

// claim checks that a movement's legs could be appended after the heads
// dh and ch, counting the debits this instance has claimed on the debit
// account and not yet appended, and claims this one's. The claim is given
// back once: by the append of the debit leg, in the same step as it
// remembers the new head (so the debit is never counted twice, nor
// missed), or by the poster on any other way out.
func (l *Ledger) claim(dh, ch Entry, m Movement) (*claimed, error) {
	bal, held := change(m.Kind, sideDebit, m.Amount)
	take := max(held-bal, 0) // what the debit takes from the available balance
	l.mu.Lock()
	defer l.mu.Unlock()
	// While claims are in flight the remembered head is the one to count
	// from: it holds exactly the debits whose claims have ended (see
	// remember), where a head just read may hold one still claimed.
	if h, ok := l.heads[m.Debit]; ok && (h.Seq > dh.Seq || l.inflight[m.Debit] > 0) {
		dh = h
	}
	adj := dh
	adj.Held += l.inflight[m.Debit] // claimed by posts in flight: as if held
	if err := precheck(adj, ch, m); err != nil {
		return nil, err
	}
	if take == 0 || !IsRider(m.Debit) {
		return nil, nil
	}
	l.inflight[m.Debit] += take
	return &claimed{l: l, account: m.Debit, take: take}, nil
}

// claimed is a debit claimed by a post in flight (see claim). A nil
// *claimed claims nothing.
type claimed struct {
	l       *Ledger
	account string
	take    int64
	done    bool // guarded by l.mu
}

// releaseLocked gives the claim back, once; l.mu is held.
func (c *claimed) releaseLocked() {
	if c == nil || c.done {
		return
	}
	c.done = true
	if c.l.inflight[c.account] -= c.take; c.l.inflight[c.account] <= 0 {
		delete(c.l.inflight, c.account)
	}
}

func (c *claimed) release() {
	if c == nil {
		return
	}
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	c.releaseLocked()
}

// heads2 returns the heads of a movement's two chains: the remembered ones
// unless fresh is set or none is remembered, else read from the store.
func (l *Ledger) heads2(ctx context.Context, m Movement, fresh bool) (debit, credit Entry, err error) {
	get := func(account string) (Entry, error) {
		if h, ok := l.hint(account); ok && !fresh {
			return h, nil
		}
		return l.head(ctx, account)
	}
	if debit, err = get(m.Debit); err != nil {
		return
	}
	credit, err = get(m.Credit)
	return
}

// precheck says whether both legs could be appended after these heads.
func precheck(dh, ch Entry, m Movement) error {
	if _, err := next(dh, m, sideDebit); err != nil {
		return err
	}
	_, err := next(ch, m, sideCredit)
	return err
}

// replay answers a key posted before: the first result, completed if a
// crash had interrupted it, or ErrKeyConflict if asked differently.
func (l *Ledger) replay(ctx context.Context, stored, asked Movement) (Result, error) {
	if !sameFact(stored, asked) {
		// Complete it all the same: a post that collided may have left an
		// open marker, which completing removes.
		if _, err := l.complete(ctx, stored); err != nil && !errors.Is(err, ErrInsufficient) {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("%w: key %q was used to move %d from %s to %s (%s)",
			ErrKeyConflict, stored.Key, stored.Amount, stored.Debit, stored.Credit, stored.Kind)
	}
	res, err := l.complete(ctx, stored)
	res.Replayed = true
	return res, err
}

// complete makes sure both legs of a stored movement are in, appending
// those that are not, and removes its open marker. It is what a replay and
// Repair run; running it any number of times, concurrently or after any
// crash, leaves each leg in once.
func (l *Ledger) complete(ctx context.Context, m Movement) (Result, error) {
	debit, err := l.leg(ctx, m, sideDebit, nil, false)
	if err != nil {
		return Result{}, err
	}
	return l.finish(ctx, m, debit, false)
}

// finish appends the credit leg (unless the debit was refused) and
// removes the open marker.
func (l *Ledger) finish(ctx context.Context, m Movement, debit Entry, fresh bool) (Result, error) {
	res := Result{Movement: m, Debit: debit, Refused: debit.Refused}
	if !debit.Refused {
		credit, err := l.leg(ctx, m, sideCredit, nil, fresh)
		if err != nil {
			return Result{}, err
		}
		res.Credit = credit
		if !credit.Expires.IsZero() {
			if err := l.noteLot(ctx, credit.Account, credit.Expires); err != nil {
				return Result{}, err
			}
		}
	}
	if err := l.openDel.Do(ctx, m.Key); err != nil {
		return Result{}, fmt.Errorf("post movement %q: %w", m.Key, err)
	}
	if fresh {
		l.at("closed") // this call wrote the marker and removed it
	}
	if res.Refused {
		if m.After > 0 && debit.Seq != m.After+1 {
			return res, fmt.Errorf("%w: %s had entries after #%d when %q was written", ErrStale, m.Debit, m.After, m.Key)
		}
		return res, fmt.Errorf("%w: %s has %d points available, %d needed (decided when %q was written)",
			ErrInsufficient, m.Debit, debit.Available(), m.Amount, m.Key)
	}
	return res, nil
}

// leg returns a movement's leg on its chain, appending it if it is not
// there yet, then records where it is. c is the poster's claim on the
// debit, given back when the debit leg is appended; fresh says the caller
// stored the movement, so no record of the leg can exist yet and reading
// for one can be skipped.
func (l *Ledger) leg(ctx context.Context, m Movement, side string, c *claimed, fresh bool) (Entry, error) {
	account := m.Debit
	if side == sideCredit {
		account = m.Credit
	}
	id := legID(m.Key, side)
	var rec legRecord
	err := mongo.ErrNoDocuments
	if !fresh {
		err = l.legs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&rec)
	}
	switch {
	case err == nil:
		e, ok, err := l.entryAt(ctx, rec.Account, rec.Seq)
		if err != nil {
			return Entry{}, err
		}
		if !ok || e.Leg != id {
			return Entry{}, fmt.Errorf("movement %q: its %s leg is recorded at %s #%d, which does not hold it", m.Key, side, rec.Account, rec.Seq)
		}
		return e, nil
	case !errors.Is(err, mongo.ErrNoDocuments):
		return Entry{}, fmt.Errorf("movement %q: read its %s leg: %w", m.Key, side, err)
	}
	e, recorded, err := l.appendQueued(ctx, m, side, account, c)
	if err != nil {
		return Entry{}, err
	}
	if recorded {
		return e, nil
	}
	l.at(side)
	err = l.legIns.Do(ctx, legRecord{ID: id, Account: account, Seq: e.Seq, Refused: e.Refused})
	if err != nil && !storage.IsDuplicateKey(err) {
		return Entry{}, fmt.Errorf("movement %q: record its %s leg: %w", m.Key, side, err)
	}
	l.at(side + "-recorded")
	return e, nil
}

// next builds the entry that appends a movement's leg after h, or says why
// it cannot be appended: ErrInsufficient for a rider's debit not covered by
// the available balance (unless the movement allows debt), ErrOverflow.
func next(h Entry, m Movement, side string) (Entry, error) {
	account, counter := m.Debit, m.Credit
	if side == sideCredit {
		account, counter = m.Credit, m.Debit
	}
	amount, held := change(m.Kind, side, m.Amount)
	bal, ok1 := add(h.Balance, amount)
	hld, ok2 := add(h.Held, held)
	avail, ok3 := add(bal, -hld)
	in, ok4 := h.In, true
	if amount > 0 {
		in, ok4 = add(h.In, amount)
	}
	earned, ok5 := add(h.Earned, earnedChange(account, m.Kind, amount))
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || hld == minInt64 {
		return Entry{}, fmt.Errorf("%w: moving %d points would take %s beyond the largest balance the ledger keeps", ErrOverflow, m.Amount, account)
	}
	var expires time.Time
	if side == sideCredit && IsRider(account) && amount > 0 {
		expires = m.Expires
	}
	if side == sideDebit && m.After > 0 && h.Seq != m.After {
		return Entry{}, fmt.Errorf("%w: %s has entries after #%d", ErrStale, account, m.After)
	}
	if IsRider(account) && !m.AllowDebt && avail < h.Available() && avail < 0 {
		return Entry{}, fmt.Errorf("%w: %s has %d points available, %d needed", ErrInsufficient, account, h.Available(), m.Amount)
	}
	return Entry{
		ID: entryID(account, h.Seq+1), Account: account, Seq: h.Seq + 1,
		Amount: amount, Balance: bal, HeldChange: held, Held: hld, In: in, Earned: earned, Expires: expires,
		Movement: m.Key, Leg: legID(m.Key, side), Counter: counter, Kind: m.Kind, Ref: m.Ref,
		Note: m.Note, Tags: m.Tags, At: m.At,
	}, nil
}

const minInt64 = -1 << 63

// add adds without wrapping around; ok is false when the sum overflows.
func add(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// appendLeg appends a leg to its chain: read the head, build the next
// entry, insert it under the next number; on a duplicate key either
// another writer took the number (read on from it and try again) or the
// leg is in the chain already (find it and return it).
func (l *Ledger) appendLeg(ctx context.Context, m Movement, side, account string, c *claimed) (Entry, error) {
	from := m.DebitFrom
	if side == sideCredit {
		from = m.CreditFrom
	}
	// Start from the remembered head: if another instance appended since,
	// the insert collides and the loop reads on.
	h, ok := l.hint(account)
	if !ok {
		var err error
		if h, err = l.head(ctx, account); err != nil {
			return Entry{}, err
		}
	}
	for range maxTries {
		e, err := next(h, m, side)
		if refusedOnChain(side, err) {
			e = refusedEntry(h, m, account)
		} else if err != nil {
			return Entry{}, fmt.Errorf("movement %q: %w", m.Key, err)
		}
		_, err = l.entries.InsertOne(ctx, e)
		if err == nil {
			l.rememberAppended(e, c)
			l.seen.Add(e.ID, e)
			return e, nil
		}
		if !storage.IsDuplicateKey(err) {
			return Entry{}, fmt.Errorf("movement %q: append its %s leg: %w", m.Key, side, err)
		}
		got, ok, err := l.entryAt(ctx, account, e.Seq)
		if err != nil {
			return Entry{}, err
		}
		if ok && got.Leg == e.Leg {
			l.remember(got, c)
			return got, nil
		}
		if !ok {
			// The number is free, so it was the leg that collided.
			got, err := l.findLeg(ctx, account, from, e.Leg)
			if err == nil {
				l.remember(got, c)
			}
			return got, err
		}
		l.retries.Add(1)
		l.remember(got, nil)
		if h, err = l.head(ctx, account); err != nil {
			return Entry{}, err
		}
	}
	return Entry{}, fmt.Errorf("%w: gave up appending to %s after %d tries", ErrBusy, account, maxTries)
}

// refusedOnChain says whether a leg that next refused is appended as a
// refusal: a debit's refusal is decided on the chain, so that it is decided
// once (see Ledger); any other error leaves nothing to append.
func refusedOnChain(side string, err error) bool {
	return side == sideDebit && (errors.Is(err, ErrInsufficient) || errors.Is(err, ErrOverflow) || errors.Is(err, ErrStale))
}

// refusedEntry is the entry that records a refused debit after h: it
// moves nothing and takes the leg's unique id.
func refusedEntry(h Entry, m Movement, account string) Entry {
	return Entry{
		ID: entryID(account, h.Seq+1), Account: account, Seq: h.Seq + 1,
		Balance: h.Balance, Held: h.Held, In: h.In, Earned: h.Earned, Movement: m.Key, Leg: legID(m.Key, sideDebit),
		Counter: m.Credit, Kind: m.Kind, Ref: m.Ref, Refused: true, Note: m.Note, At: m.At,
	}
}

// findLeg reads a chain forward from from+1 by _id to the entry of a leg
// known to be in it. Only a crash between appending a leg and recording it,
// or two writers of one key racing, leads here; the leg lies after from.
func (l *Ledger) findLeg(ctx context.Context, account string, from int64, leg string) (Entry, error) {
	for seq := from + 1; ; seq++ {
		e, ok, err := l.entryAt(ctx, account, seq)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			return Entry{}, fmt.Errorf("leg %q is in the ledger but not on the chain of %s after entry %d", leg, account, from)
		}
		l.remember(e, nil)
		if e.Leg == leg {
			return e, nil
		}
	}
}
