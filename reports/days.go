package reports

// The day index: what Open311 searches by date read instead of the reports
// collection. On the embedded store any filter or sort other than _id
// equality reads every report ever stored (DESIGN.md), so a search by date
// cost more with every report. The index keeps, for each Beijing day, a
// numbered chain (storage's chains) of the reports created that day: entry n
// of day D is the document _id "D/n" holding the report's id (src), its
// creation time and its category, facts that never change. A search walks
// the days it spans, newest first, each chain from its head down, reading by
// _id only, then reads the reports it keeps by _id.
//
// Each entry also carries max_created, the latest creation time among
// entries 1..n of its day. Entries are appended roughly in creation order,
// but not exactly (a redelivered event, the migration, two instances), so
// walking a chain down from its head cannot know on its own when it has seen
// the newest reports; max_created of the lowest entry read bounds every entry
// below it, so a search stops reading a day as soon as it has the reports it
// needs, rather than reading the whole day.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	// daysCollection holds the day chains: _id "<YYYY-MM-DD>/<n>".
	daysCollection = "report_days"
	// daysMetaCollection holds the migration marker (_id "migrated") and
	// the floor chain (_id "floor/<n>"): the first indexed day.
	daysMetaCollection = "report_days_meta"
	migratedID         = "migrated"
	floorChain         = "floor"
)

// beijing is the day boundary of the index: Asia/Shanghai has had no
// daylight saving time since 1991, so a fixed zone needs no tzdata.
var beijing = time.FixedZone("CST", 8*3600)

// dayOf is the Beijing day of t, "YYYY-MM-DD": the prefix of its chain.
// Such days sort as strings in time order.
func dayOf(t time.Time) string { return t.In(beijing).Format(time.DateOnly) }

// dayStart is the start of t's Beijing day.
func dayStart(t time.Time) time.Time {
	y, m, d := t.In(beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, beijing)
}

// DayIndexes lists the indexes of the day index: the unique source that
// makes each report appear once, however often its event is delivered.
func DayIndexes() []storage.Index {
	return []storage.Index{
		{Collection: daysCollection, Name: "src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// dayEntry is an entry of a day chain as stored.
type dayEntry struct {
	ID         string    `bson:"_id"` // "<day>/<n>"
	Src        string    `bson:"src"` // the report's id, unique
	CreatedAt  time.Time `bson:"created_at"`
	Category   string    `bson:"category"`
	MaxCreated time.Time `bson:"max_created"` // the latest created_at among entries 1..n of the day
}

// dayItem is an entry as kept in memory: times in Unix milliseconds, the
// precision the store keeps.
type dayItem struct {
	id       string // the report's id
	category string
	created  int64
	max      int64
}

func itemOf(e dayEntry) dayItem {
	return dayItem{id: e.Src, category: e.Category, created: e.CreatedAt.UnixMilli(), max: e.MaxCreated.UnixMilli()}
}

// newestFirst is the order of a search: creation time, then id, both
// descending, as the scan sorts (created_at -1, _id -1).
func newestFirst(a, b dayItem) int {
	return cmp.Or(cmp.Compare(b.created, a.created), cmp.Compare(b.id, a.id))
}

// DayIndex indexes reports by the Beijing day of their creation, for
// searches by date (Service.Search without ids). It takes the report events
// as a consumer (Publish) and indexes each submission once; Migrate indexes
// the reports stored before it existed. A Service whose consumers include a
// DayIndex searches through it once that DayIndex has migrated.
//
// Memory: the entries a search reads are kept (they never change), at most
// dayCacheItems of them, about 100 bytes each (20 MB), whole days forgotten
// least recently used first; plus the head and last max_created of the days
// written to.
type DayIndex struct {
	db   *mongo.Database
	coll *mongo.Collection
	meta *mongo.Collection
	log  *slog.Logger

	// writers makes the appends to one day's chain take turns inside this
	// instance: racing writers collapse a chain's throughput on the
	// embedded store (DESIGN.md). Instances race through the unique
	// inserts.
	writers storage.KeyedLocks[struct{}]
	hints   storage.ChainHints
	floorMu sync.Mutex // one lowering of the floor at a time in this instance

	indexes storage.LazyIndexes

	migrated atomic.Bool // Migrate has run here: searches may use the index

	mu         sync.Mutex
	floor      string // the first indexed day as last read or written; "": unknown
	floorN     int    // the floor chain's entry that said so
	tails      map[string]tail
	days       map[string]*dayCache
	cached     int    // items in days
	tick       uint64 // for least recently used
	categories map[string]string

	block       int          // entries of a day a search reads at a time: searchBlock, less in tests
	reportReads atomic.Int64 // reports read by searches, for tests
}

// tail is the last entry this instance knows of a day's chain.
type tail struct {
	n   int
	max int64
}

// dayCache is a run of a day's entries, lo..lo+len(items)-1, read before.
type dayCache struct {
	lo    int
	items []dayItem
	used  uint64
}

// dayCacheItems bounds the entries kept in memory: enough for the latest
// days of a busy city, which is what searches read most.
const dayCacheItems = 200_000

// NewDayIndex builds the day index over db. Call Migrate before searching
// through it.
func NewDayIndex(db *mongo.Database, log *slog.Logger) *DayIndex {
	return &DayIndex{db: db, coll: db.Collection(daysCollection), meta: db.Collection(daysMetaCollection), log: log,
		tails: map[string]tail{}, days: map[string]*dayCache{}, categories: map[string]string{}, block: searchBlock}
}

// Publish implements Events: a submission joins the chain of the Beijing
// day it was created on, once, whoever delivers it and however often; other
// events are ignored (what the index holds never changes).
func (d *DayIndex) Publish(ctx context.Context, e Event) error {
	if e.Action != ActSubmit {
		return nil
	}
	created := e.Created
	if created.IsZero() {
		created = e.At // a submission's entry is at its creation
	}
	if e.ReportID == "" || created.IsZero() {
		return fmt.Errorf("index report event %s by day: no report id or creation time", e.ID)
	}
	if err := d.ensureIndex(ctx); err != nil {
		return err
	}
	it := dayItem{id: e.ReportID, category: e.Category, created: created.UnixMilli()}
	day := dayOf(time.UnixMilli(it.created))
	if err := d.lowerFloor(ctx, day); err != nil {
		return err
	}
	_, unlock := d.writers.Lock(day)
	defer unlock()
	return d.appendLocked(ctx, day, it)
}

// ensureIndex creates the unique source index before this index's first
// write. The application creates it at start (DayIndexes), but an index
// built on a database without it would store a report twice without any
// error: the index is what makes it once.
func (d *DayIndex) ensureIndex(ctx context.Context) error {
	if err := d.indexes.Ensure(ctx, d.db, DayIndexes()); err != nil {
		return fmt.Errorf("day index: %w", err)
	}
	return nil
}

// appendLocked appends one report to its day's chain unless it is there
// already. The caller holds the day's writer lock.
func (d *DayIndex) appendLocked(ctx context.Context, day string, it dayItem) error {
	var readErr error
	var written dayEntry
	n, err := storage.AppendOnce(ctx, d.coll, &d.hints, day, it.id, func(id string, n int) any {
		prev, err := d.maxAt(ctx, day, n-1)
		if err != nil {
			readErr = err
			return nil // makes the insert fail; readErr says why
		}
		written = dayEntry{ID: id, Src: it.id, CreatedAt: time.UnixMilli(it.created).UTC(), Category: it.category,
			MaxCreated: time.UnixMilli(max(prev, it.created)).UTC()}
		return written
	})
	switch {
	case readErr != nil:
		return fmt.Errorf("index report %s by day: %w", it.id, readErr)
	case storage.IsRecorded(err):
		if n > 0 {
			d.hints.Set(storage.ChainKey(d.coll, day), n) // the next append starts there
		}
		return nil
	case err != nil:
		return fmt.Errorf("index report %s by day: %w", it.id, err)
	}
	d.setTail(day, n, written.MaxCreated.UnixMilli())
	return nil
}

// maxAt returns max_created of entry n of day (math.MinInt64 for n = 0):
// from memory when this instance wrote or read it, else by _id.
func (d *DayIndex) maxAt(ctx context.Context, day string, n int) (int64, error) {
	if n <= 0 {
		return math.MinInt64, nil
	}
	d.mu.Lock()
	if t, ok := d.tails[day]; ok && t.n == n {
		d.mu.Unlock()
		return t.max, nil
	}
	if c := d.days[day]; c != nil && n >= c.lo && n < c.lo+len(c.items) {
		m := c.items[n-c.lo].max
		d.mu.Unlock()
		return m, nil
	}
	d.mu.Unlock()
	var e dayEntry
	err := d.coll.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(day, n)}},
		options.FindOne().SetProjection(bson.D{{Key: "max_created", Value: 1}})).Decode(&e)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", storage.ChainID(day, n), err)
	}
	return e.MaxCreated.UnixMilli(), nil
}

func (d *DayIndex) setTail(day string, n int, maxCreated int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.tails) > 1000 {
		d.tails = map[string]tail{} // a few days are written to at a time
	}
	if n > d.tails[day].n {
		d.tails[day] = tail{n, maxCreated}
	}
}

// The floor is the first day that may hold entries: a search with no start
// date walks down to it and no further. It is kept as a chain of days, each
// lower than the one before, appended before any entry of a lower day is:
// an insert at n+1 succeeds only for whoever read entry n, so the head is
// the lowest day ever asked for, without relying on conditional updates
// (not atomic on the embedded store).

type floorEntry struct {
	ID  string `bson:"_id"`
	Day string `bson:"day"`
}

// readFloor reads the floor from the store: the day, and false when
// nothing was ever indexed.
func (d *DayIndex) readFloor(ctx context.Context) (string, bool, error) {
	d.mu.Lock()
	day, n := d.floor, d.floorN
	d.mu.Unlock()
	head, err := storage.LastFrom(int64(n), func(i int64) (bool, error) { return d.exists(ctx, d.meta, storage.ChainID(floorChain, int(i))) })
	if err != nil {
		return "", false, fmt.Errorf("read the day index's first day: %w", err)
	}
	if head == 0 {
		return "", false, nil
	}
	if int(head) != n || day == "" {
		var e floorEntry
		if err := d.meta.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(floorChain, int(head))}}).Decode(&e); err != nil {
			return "", false, fmt.Errorf("read the day index's first day: %w", err)
		}
		day = e.Day
		d.setFloor(day, int(head))
	}
	return day, true, nil
}

func (d *DayIndex) setFloor(day string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n > d.floorN {
		d.floor, d.floorN = day, n
	}
}

// lowerFloor makes sure the floor is at or below day. Once it is, as it is
// for every day after the first, it costs nothing.
func (d *DayIndex) lowerFloor(ctx context.Context, day string) error {
	d.mu.Lock()
	known := d.floor
	d.mu.Unlock()
	if known != "" && known <= day {
		return nil
	}
	d.floorMu.Lock()
	defer d.floorMu.Unlock()
	for range 100 {
		floor, ok, err := d.readFloor(ctx)
		if err != nil {
			return err
		}
		if ok && floor <= day {
			return nil
		}
		d.mu.Lock()
		n := d.floorN
		d.mu.Unlock()
		_, err = d.meta.InsertOne(ctx, floorEntry{ID: storage.ChainID(floorChain, n+1), Day: day})
		if err == nil {
			d.setFloor(day, n+1)
			return nil
		}
		if !storage.IsDuplicateKey(err) {
			return fmt.Errorf("record the day index's first day: %w", err)
		}
		// Another instance lowered it first: read what it wrote.
	}
	return fmt.Errorf("record the day index's first day: %w", storage.ErrContended)
}

func (d *DayIndex) exists(ctx context.Context, coll *mongo.Collection, id string) (bool, error) {
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Migrate indexes the reports stored before the day index existed, once: it
// reads every report (one scan of the collection and one of the index) when
// the marker of a finished migration is missing, then writes the marker;
// afterwards it reads the marker alone. Reports indexed already (their
// events delivered meanwhile, or a migration cut short) are not indexed
// again, so it is safe to run on several instances at once and to run again
// after a failure. It returns how many reports it indexed. Searches through
// this DayIndex use it only once Migrate has succeeded here; until then they
// read the reports collection as before.
func (d *DayIndex) Migrate(ctx context.Context) (int, error) {
	if err := d.ensureIndex(ctx); err != nil {
		return 0, err
	}
	done, err := d.exists(ctx, d.meta, migratedID)
	if err != nil {
		return 0, fmt.Errorf("migrate the day index: %w", err)
	}
	if done {
		d.migrated.Store(true)
		return 0, nil
	}
	have := map[string]bool{}
	cur, err := d.coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "src", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("migrate the day index: %w", err)
	}
	for cur.Next(ctx) {
		var e dayEntry
		if err := cur.Decode(&e); err != nil {
			cur.Close(ctx)
			return 0, fmt.Errorf("migrate the day index: %w", err)
		}
		have[e.Src] = true
	}
	if err := cur.Err(); err != nil {
		cur.Close(ctx)
		return 0, fmt.Errorf("migrate the day index: %w", err)
	}
	cur.Close(ctx)

	byDay := map[string][]dayItem{}
	cur, err = d.db.Collection(reportsCollection).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "category", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("migrate the day index: read the reports: %w", err)
	}
	for cur.Next(ctx) {
		var r struct {
			ID        string    `bson:"_id"`
			CreatedAt time.Time `bson:"created_at"`
			Category  string    `bson:"category"`
		}
		if err := cur.Decode(&r); err != nil {
			cur.Close(ctx)
			return 0, fmt.Errorf("migrate the day index: read the reports: %w", err)
		}
		if have[r.ID] {
			continue
		}
		it := dayItem{id: r.ID, category: r.Category, created: r.CreatedAt.UnixMilli()}
		day := dayOf(time.UnixMilli(it.created))
		byDay[day] = append(byDay[day], it)
	}
	if err := cur.Err(); err != nil {
		cur.Close(ctx)
		return 0, fmt.Errorf("migrate the day index: read the reports: %w", err)
	}
	cur.Close(ctx)

	days := make([]string, 0, len(byDay))
	for day := range byDay {
		days = append(days, day)
	}
	slices.Sort(days)
	if len(days) > 0 {
		if err := d.lowerFloor(ctx, days[0]); err != nil {
			return 0, fmt.Errorf("migrate the day index: %w", err)
		}
	}
	count := 0
	for _, day := range days {
		items := byDay[day]
		slices.SortFunc(items, func(a, b dayItem) int { return newestFirst(b, a) }) // oldest first, as they came
		for len(items) > 0 {
			batch := items[:min(len(items), 500)]
			items = items[len(batch):]
			if err := d.appendBatch(ctx, day, batch); err != nil {
				return count, fmt.Errorf("migrate the day index: %w", err)
			}
			count += len(batch)
		}
	}
	if _, err := d.meta.InsertOne(ctx, bson.D{{Key: "_id", Value: migratedID}, {Key: "at", Value: time.Now().UTC()}}); err != nil && !storage.IsDuplicateKey(err) {
		return count, fmt.Errorf("migrate the day index: mark it done: %w", err)
	}
	d.migrated.Store(true)
	if count > 0 {
		d.log.Info("indexed the stored reports by day", "reports", count, "days", len(days))
	}
	return count, nil
}

// appendBatch appends items to day's chain in one ordered InsertMany (one
// transaction on FerretDB and on MongoDB) rather than one insert and its
// reads each. A batch that meets anything (another instance appended, a
// report is in already) falls back to appending each on its own, which sorts
// those cases out.
func (d *DayIndex) appendBatch(ctx context.Context, day string, items []dayItem) error {
	_, unlock := d.writers.Lock(day)
	defer unlock()
	key := storage.ChainKey(d.coll, day)
	head, err := storage.ChainHead(ctx, d.coll, day, d.hints.Get(key))
	if err != nil {
		return err
	}
	d.hints.Set(key, head) // also for the appends one by one below
	prev, err := d.maxAt(ctx, day, head)
	if err != nil {
		return err
	}
	docs := make([]any, len(items))
	for i, it := range items {
		prev = max(prev, it.created)
		docs[i] = dayEntry{ID: storage.ChainID(day, head+1+i), Src: it.id, CreatedAt: time.UnixMilli(it.created).UTC(),
			Category: it.category, MaxCreated: time.UnixMilli(prev).UTC()}
	}
	if _, err := d.coll.InsertMany(ctx, docs); err == nil {
		d.hints.Set(key, head+len(items))
		d.setTail(day, head+len(items), prev)
		return nil
	}
	for _, it := range items {
		if err := d.appendLocked(ctx, day, it); err != nil {
			return err
		}
	}
	return nil
}

// Reading.

// searchReaders is how many reads one search makes at once.
const searchReaders = 8

// searchBlock is how many entries of a day a search reads at a time.
const searchBlock = 128

// maxClockSkew is how far ahead of this instance's clock another
// instance's may have dated a report: a search without an end starts from
// the day of now plus this.
const maxClockSkew = time.Hour

// search answers Service.Search without ids from the index: the days from
// f.To's (or today's) down to f.From's (or the first indexed day), each
// chain from its head down, keeping the entries in f's categories and
// creation range; then it reads those reports by _id, in order, and keeps
// those in f's statuses, until limit. The result is the scan's: the same
// reports, in the same order (creation time then id, descending), read with
// the same projection.
func (d *DayIndex) search(ctx context.Context, s *Service, f SearchFilter, limit int) ([]Report, error) {
	q := dayQuery{f: f, from: math.MinInt64, to: math.MaxInt64, limit: limit}
	// The bounds as the store compares them: a time is stored to the
	// millisecond, and so is the bound of the query.
	if !f.From.IsZero() {
		q.from = bson.NewDateTimeFromTime(f.From).Time().UnixMilli()
	}
	if !f.To.IsZero() {
		q.to = bson.NewDateTimeFromTime(f.To).Time().UnixMilli()
	}
	if len(f.Statuses) > 0 {
		q.onlyOpen = true
		for _, st := range f.Statuses {
			q.onlyOpen = q.onlyOpen && st.Open()
		}
	}
	top := s.now().Add(maxClockSkew)
	if !f.To.IsZero() && f.To.Before(top) {
		top = f.To
	}
	first := dayStart(top)
	var last time.Time // the oldest day to read
	if !f.From.IsZero() {
		last = dayStart(f.From)
	}
	d.mu.Lock()
	known := d.floor
	d.mu.Unlock()
	if f.From.IsZero() || known == "" || dayOf(last) < known {
		// The range reaches below the floor this instance knows: it may
		// have been lowered since, read it.
		floor, ok, err := d.readFloor(ctx)
		if err != nil {
			return nil, fmt.Errorf("search reports: %w", err)
		}
		if !ok {
			return nil, nil // nothing indexed
		}
		fd, err := time.ParseInLocation(time.DateOnly, floor, beijing)
		if err != nil {
			return nil, fmt.Errorf("search reports: the day index's first day %q: %w", floor, err)
		}
		if fd.After(last) {
			last = fd
		}
	}
	var out []Report
	for day := first; !day.Before(last) && len(out) < limit; {
		// The heads of a few days at once: an empty day costs a read.
		var window []string
		for ; !day.Before(last) && len(window) < searchReaders; day = day.AddDate(0, 0, -1) {
			window = append(window, dayOf(day))
		}
		heads := make([]int, len(window))
		if err := parallel(ctx, len(window), func(ctx context.Context, i int) error {
			var err error
			heads[i], err = d.head(ctx, window[i])
			return err
		}); err != nil {
			return nil, fmt.Errorf("search reports: %w", err)
		}
		for i, name := range window {
			if len(out) >= limit {
				break
			}
			if err := d.searchDay(ctx, s, &q, name, heads[i], &out); err != nil {
				return nil, fmt.Errorf("search reports: %w", err)
			}
		}
	}
	return out, nil
}

// dayQuery is a search's filter in the index's terms.
type dayQuery struct {
	f        SearchFilter
	from, to int64 // creation bounds in Unix ms, both included
	onlyOpen bool  // every status asked for is open
	limit    int
}

func (q *dayQuery) keeps(it dayItem) bool {
	return it.created >= q.from && it.created <= q.to &&
		(len(q.f.Categories) == 0 || slices.Contains(q.f.Categories, it.category))
}

// head returns the last entry of day's chain: one read when this instance
// knows the chain (from a search or its own appends), two or so otherwise.
func (d *DayIndex) head(ctx context.Context, day string) (int, error) {
	key := storage.ChainKey(d.coll, day)
	d.mu.Lock()
	known := 0
	if c := d.days[day]; c != nil {
		known = c.lo + len(c.items) - 1
	}
	d.mu.Unlock()
	var (
		n   int
		err error
	)
	if hint := d.hints.Get(key); hint > known {
		n, err = storage.ChainHead(ctx, d.coll, day, hint) // the hint is checked
	} else {
		var n64 int64
		n64, err = storage.LastFrom(int64(known), func(i int64) (bool, error) {
			return d.exists(ctx, d.coll, storage.ChainID(day, int(i)))
		})
		n = int(n64)
	}
	if err != nil {
		return 0, fmt.Errorf("find the end of day %s: %w", day, err)
	}
	d.hints.Set(key, n)
	return n, nil
}

// searchDay adds to out the reports of one day that q keeps, newest first,
// until q.limit. It reads the chain down from head a block at a time; a
// candidate goes out only once no entry below can be newer (max_created of
// the lowest entry read is older), so the day is read only as far as the
// results need.
func (d *DayIndex) searchDay(ctx context.Context, s *Service, q *dayQuery, day string, head int, out *[]Report) error {
	var (
		blocks  [][]dayItem // the blocks read, from the head down
		pending []dayItem   // candidates not yet out, newest first
		m       = head      // entries above m are read
	)
	defer func() {
		// Keep what was read, m+1..head, in order.
		read := make([]dayItem, 0, head-m)
		for i := len(blocks) - 1; i >= 0; i-- {
			read = append(read, blocks[i]...)
		}
		d.keep(day, m+1, read)
	}()
	for len(*out) < q.limit && (m > 0 || len(pending) > 0) {
		bound := int64(math.MinInt64) // every entry not read is at most this new
		if m > 0 {
			lo := max(1, m-d.block+1)
			block, err := d.entries(ctx, day, lo, m)
			if err != nil {
				return err
			}
			blocks = append(blocks, block)
			m = lo - 1
			var found []dayItem
			for _, it := range block {
				if q.keeps(it) {
					found = append(found, it)
				}
			}
			slices.SortFunc(found, newestFirst)
			pending = mergeNewestFirst(pending, found)
			if m > 0 {
				bound = block[0].max
			}
		}
		ready := 0
		for ready < len(pending) && pending[ready].created > bound {
			ready++
		}
		if err := d.emit(ctx, s, q, pending[:ready], out); err != nil {
			return err
		}
		pending = pending[ready:]
	}
	return nil
}

// mergeNewestFirst merges two runs sorted newest first.
func mergeNewestFirst(a, b []dayItem) []dayItem {
	if len(b) == 0 {
		return a
	}
	out := make([]dayItem, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if newestFirst(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// emit reads the candidates' reports by _id, in order, a few at a time, and
// adds those in q's statuses to out until q.limit.
func (d *DayIndex) emit(ctx context.Context, s *Service, q *dayQuery, cands []dayItem, out *[]Report) error {
	if q.onlyOpen {
		// A report not in this instance's model of the open reports is
		// closed: leave it unread. The model follows other instances'
		// changes within a feed interval.
		if idx, done, ok := s.open.read(); ok {
			open := cands[:0:0]
			for _, c := range cands {
				if idx.byID[c.id] != nil {
					open = append(open, c)
				}
			}
			done()
			cands = open
		}
	}
	for len(cands) > 0 && len(*out) < q.limit {
		batch := cands[:min(len(cands), max(q.limit-len(*out), searchReaders))]
		cands = cands[len(batch):]
		rs := make([]Report, len(batch))
		found := make([]bool, len(batch))
		if err := parallel(ctx, len(batch), func(ctx context.Context, i int) error {
			d.reportReads.Add(1)
			err := s.store.reports.FindOne(ctx, bson.D{{Key: "_id", Value: batch[i].id}}, options.FindOne().SetProjection(summaryFields)).Decode(&rs[i])
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil // indexed but gone: left out, as the scan would
			}
			if err != nil {
				return fmt.Errorf("load report %s: %w", batch[i].id, err)
			}
			found[i] = true
			return nil
		}); err != nil {
			return err
		}
		for i, r := range rs {
			if found[i] && (len(q.f.Statuses) == 0 || slices.Contains(q.f.Statuses, r.Status)) && len(*out) < q.limit {
				*out = append(*out, r)
			}
		}
	}
	return nil
}

// entries returns entries lo..hi of day's chain, from memory when read
// before, else by _id, a few at a time.
func (d *DayIndex) entries(ctx context.Context, day string, lo, hi int) ([]dayItem, error) {
	out := make([]dayItem, hi-lo+1)
	var todo []int
	d.mu.Lock()
	c := d.days[day]
	for n := lo; n <= hi; n++ {
		if c != nil && n >= c.lo && n < c.lo+len(c.items) {
			out[n-lo] = c.items[n-c.lo]
		} else {
			todo = append(todo, n)
		}
	}
	d.mu.Unlock()
	err := parallel(ctx, len(todo), func(ctx context.Context, i int) error {
		n := todo[i]
		var e dayEntry
		if err := d.coll.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(day, n)}}).Decode(&e); err != nil {
			// A chain has no gaps below its head: a missing entry is
			// the store failing.
			return fmt.Errorf("read %s: %w", storage.ChainID(day, n), err)
		}
		out[n-lo] = itemOf(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	for i := range out {
		out[i].category = d.intern(out[i].category)
	}
	d.mu.Unlock()
	return out, nil
}

// intern shares the few category strings among all the entries kept.
// d.mu is held.
func (d *DayIndex) intern(s string) string {
	if v, ok := d.categories[s]; ok {
		return v
	}
	if len(d.categories) < 1000 {
		d.categories[s] = s
	}
	return s
}

// keep remembers the entries lo..lo+len(items)-1 of day, joined to what is
// kept of the day when the runs meet, else in its place when newer; then
// forgets the least recently used days while too many entries are kept.
func (d *DayIndex) keep(day string, lo int, items []dayItem) {
	if len(items) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tick++
	hi := lo + len(items) - 1
	c := d.days[day]
	switch {
	case c == nil:
		c = &dayCache{lo: lo, items: slices.Clone(items)}
		d.days[day] = c
		d.cached += len(items)
	case lo <= c.lo+len(c.items) && hi >= c.lo-1: // the runs meet
		nlo, nhi := min(lo, c.lo), max(hi, c.lo+len(c.items)-1)
		merged := make([]dayItem, nhi-nlo+1)
		copy(merged[lo-nlo:], items)
		copy(merged[c.lo-nlo:], c.items)
		d.cached += len(merged) - len(c.items)
		c.lo, c.items = nlo, merged
	case lo > c.lo:
		d.cached += len(items) - len(c.items)
		c.lo, c.items = lo, slices.Clone(items)
	}
	c.used = d.tick
	for d.cached > dayCacheItems && len(d.days) > 1 {
		var oldest string
		for k, v := range d.days {
			if k != day && (oldest == "" || v.used < d.days[oldest].used) {
				oldest = k
			}
		}
		d.cached -= len(d.days[oldest].items)
		delete(d.days, oldest)
	}
}

// parallel runs f(0..n-1), searchReaders at a time, and returns the first
// error; after an error the calls not started are skipped.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range min(n, searchReaders) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
