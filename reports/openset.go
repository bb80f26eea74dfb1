package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// openSet is this instance's read model of the open reports: what the queue,
// its counts, the escalation list, the SLA worker's scan and the duplicate
// search read, instead of the open_reports collection. On the embedded store
// any query of that collection not on _id reads every document and decodes
// each at a few hundred microseconds; from memory the queue of a city with
// 3 000 open reports is a walk of one sorted slice (tens of microseconds).
//
// It is a projection, never the source of truth: built at start from
// open_reports (one scan), kept current by this instance's own writes (put,
// right after syncOpen) and by the report feed, which every instance follows
// (apply: each change is re-read by _id). Exactly-once rules stay with the
// store's unique inserts; the SLA worker only finds candidates here.
//
// Order and repetition do not matter: a report is kept at the highest seq
// seen, and a report seen closed leaves a mark (closed) so that an older open
// copy arriving late cannot bring it back.
//
// Cost: each open report is kept as its Report minus the idempotency key and
// body hash (the queue API answers the whole report, description included).
// Measured by TestOpenSetMemory (runtime.MemStats over 20 000 reports with a
// 100-character Chinese description, an address and 3 photos): about 1.9 KB
// per open report, indexes included, so 100 000 open reports take about
// 190 MB. Changsha (about a seventh of Hunan's people, so at most ~7 of the
// 50 reports/s of Hunan's peak) keeping up with a 24-hour commitment holds
// far fewer open at once: a full day at 1 report/s on average is 86 400
// reports, about 165 MB; a city that keeps up, a few thousand, a few MB.
type openSet struct {
	mu  sync.RWMutex
	idx openIndex

	ready   bool // built at least once
	loading bool // a (re)build is scanning: puts are also recorded in replay
	replay  []Report
	applied int64 // the last feed entry applied
	// retry holds reports whose re-read failed: the model may be wrong about
	// them until a re-read succeeds (stale).
	retry       map[string]bool
	failedTicks int   // ticks in a row with retries left, or a failed rebuild
	rebuild     bool  // give up on retries: rebuild from the collection
	feedErr     error // the feed could not be read on the last tick
	buildErr    error // the last (re)build failed
}

// openIndex is the data of the model, guarded by openSet.mu.
type openIndex struct {
	byID   map[string]*Report
	order  []*Report                      // by (NextDue, ID): the queue's order
	byCell map[string][]*Report           // the same order, per cell: an officer's queue reads only their cells
	near   map[nearKey]map[string]*Report // by category and a grid of about DuplicateRadius
	closed map[string]closedMark          // reports seen closed, for a while
}

type closedMark struct {
	seq int
	at  time.Time
}

// closedKeep is how long a closed report's mark is kept: far longer than a
// re-read and a local write can race, short enough that the marks of a busy
// city stay small (5/s × 10 min = 3 000 marks).
const closedKeep = 10 * time.Minute

// nearKey is a bucket of the duplicate search: a category and a cell of a
// lat/lng grid of nearStep degrees.
type nearKey struct {
	category string
	lat, lng int32
}

// nearStep is the grid step in degrees: DuplicateRadius along a meridian.
const nearStep = DuplicateRadius / 111_320.0

func nearOf(category string, lat, lng float64) nearKey {
	return nearKey{category, int32(math.Floor(lat / nearStep)), int32(math.Floor(lng / nearStep))}
}

func newOpenIndex() openIndex {
	return openIndex{byID: map[string]*Report{}, byCell: map[string][]*Report{}, near: map[nearKey]map[string]*Report{}, closed: map[string]closedMark{}}
}

func byDue(a, b *Report) int { return cmp.Or(a.NextDue.Compare(b.NextDue), cmp.Compare(a.ID, b.ID)) }

// put makes the index agree with r, unless it knows a later state of r.
func (x *openIndex) put(r Report, now time.Time) {
	if m, ok := x.closed[r.ID]; ok && m.seq >= r.Seq {
		return
	}
	old := x.byID[r.ID]
	if old != nil && old.Seq > r.Seq {
		return
	}
	if old != nil {
		x.remove(old)
	}
	if !r.Status.Open() {
		x.closed[r.ID] = closedMark{seq: r.Seq, at: now}
		return
	}
	r.IdemKey, r.BodyHash = "", "" // not needed by any reader
	p := &r
	x.byID[r.ID] = p
	i, _ := slices.BinarySearchFunc(x.order, p, byDue)
	x.order = slices.Insert(x.order, i, p)
	cell := x.byCell[r.Cell]
	i, _ = slices.BinarySearchFunc(cell, p, byDue)
	x.byCell[r.Cell] = slices.Insert(cell, i, p)
	k := nearOf(r.Category, r.Lat, r.Lng)
	if x.near[k] == nil {
		x.near[k] = map[string]*Report{}
	}
	x.near[k][r.ID] = p
}

func (x *openIndex) remove(p *Report) {
	delete(x.byID, p.ID)
	if i, ok := slices.BinarySearchFunc(x.order, p, byDue); ok {
		x.order = slices.Delete(x.order, i, i+1)
	}
	cell := x.byCell[p.Cell]
	if i, ok := slices.BinarySearchFunc(cell, p, byDue); ok {
		cell = slices.Delete(cell, i, i+1)
	}
	if len(cell) == 0 {
		delete(x.byCell, p.Cell)
	} else {
		x.byCell[p.Cell] = cell
	}
	k := nearOf(p.Category, p.Lat, p.Lng)
	delete(x.near[k], p.ID)
	if len(x.near[k]) == 0 {
		delete(x.near, k)
	}
}

// forget drops the id of a report the store does not hold.
func (x *openIndex) forget(id string) {
	if p := x.byID[id]; p != nil {
		x.remove(p)
	}
}

func (x *openIndex) pruneClosed(now time.Time) {
	for id, m := range x.closed {
		if now.Sub(m.at) > closedKeep {
			delete(x.closed, id)
		}
	}
}

// put records a report this instance wrote (or read): the same report that
// syncOpen wrote to the collection.
func (o *openSet) put(r Report, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.putLocked(r, now)
}

func (o *openSet) putLocked(r Report, now time.Time) {
	if o.loading {
		o.replay = append(o.replay, r)
	}
	if o.ready {
		o.idx.put(r, now) // before the first build there is nothing to keep current
	}
}

// snapshot returns the index to read under o.mu.RLock, if the model can be
// trusted; else the caller reads the store (slower, never stale). The caller
// must call the returned function when done.
func (o *openSet) read() (*openIndex, func(), bool) {
	o.mu.RLock()
	if !o.ready || o.staleLocked() != nil {
		o.mu.RUnlock()
		return nil, nil, false
	}
	return &o.idx, o.mu.RUnlock, true
}

// openCopy returns the model's copy of an open report, when the model can
// be trusted and holds it. The copy may trail the store by up to a second
// (the feed), so it serves what does not change (reporter, ticket) or what
// the queue shows anyway (cell, status), never a decision.
func (s *Service) openCopy(id string) (Report, bool) {
	x, done, ok := s.open.read()
	if !ok {
		return Report{}, false
	}
	defer done()
	if p := x.byID[id]; p != nil {
		return *p, true
	}
	return Report{}, false
}

func (o *openSet) staleLocked() error {
	switch {
	case !o.ready && o.buildErr != nil:
		return fmt.Errorf("the open reports could not be loaded: %w", o.buildErr)
	case !o.ready:
		return errors.New("the open reports are not loaded yet")
	case o.buildErr != nil:
		return fmt.Errorf("the open reports could not be rebuilt: %w", o.buildErr)
	case o.rebuild:
		return errors.New("the open reports fell behind the store and are being rebuilt")
	case len(o.retry) > 0:
		return fmt.Errorf("the open reports are behind the store: %d reports could not be re-read; retrying", len(o.retry))
	case o.feedErr != nil:
		return fmt.Errorf("the open reports are behind the store: the report feed cannot be read: %w", o.feedErr)
	}
	return nil
}

// OpenReady says whether this instance's model of the open reports is built
// and current (nil), or why not. While it is not, the queue, the SLA worker
// and the duplicate search read the store instead: slower, never stale.
func (s *Service) OpenReady() error {
	s.open.mu.RLock()
	defer s.open.mu.RUnlock()
	return s.open.staleLocked()
}

// LoadOpen builds this instance's model of the open reports from the
// open_reports collection (one scan) and, when feed is not nil, keeps it
// current from the feed's changes, which other instances' changes reach it
// by. Call it once, after NewService and the feed's Init and before the
// feed's Follow starts. Until it has succeeded the readers use the store.
func (s *Service) LoadOpen(ctx context.Context, feed *Feed) error {
	if feed != nil {
		s.open.mu.Lock()
		s.open.applied = feed.Last()
		s.open.mu.Unlock()
		s.feed = feed
		feed.OnChange(s.applyChange)
		feed.OnTick(s.openTick)
	}
	return s.buildOpen(ctx)
}

// buildOpen (re)builds the model from the collection. Writes made while it
// scans are replayed onto the new index, which replaces the old one.
func (s *Service) buildOpen(ctx context.Context) error {
	o := &s.open
	o.mu.Lock()
	o.loading, o.replay = true, nil
	o.mu.Unlock()
	rs, err := s.store.findOpen(ctx, bson.D{}, nil)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.loading = false
	replay := o.replay
	o.replay = nil
	if err != nil {
		o.buildErr = err
		return fmt.Errorf("load the open reports: %w", err)
	}
	now := s.now()
	x := newOpenIndex()
	for id, m := range o.idx.closed {
		x.closed[id] = m
	}
	for _, r := range rs {
		x.put(r, now)
	}
	for _, r := range replay {
		x.put(r, now)
	}
	o.idx = x
	o.ready, o.buildErr, o.rebuild, o.failedTicks = true, nil, false, 0
	return nil
}

// maxFailedTicks is how many feed ticks re-reads may keep failing before the
// model is rebuilt from the collection instead.
const maxFailedTicks = 10

// applyChange is the feed's hook: the changed report is re-read by _id, so
// the model gets its current state whatever order changes come in. Entries
// the follower did not hand over (it starts from where it was, which this
// instance's own appends may have moved) are read from the feed first.
func (s *Service) applyChange(ctx context.Context, c Change) {
	o := &s.open
	o.mu.Lock()
	from, ready := o.applied, o.ready
	if c.Seq > o.applied {
		o.applied = c.Seq
	}
	o.mu.Unlock()
	if c.Seq <= from {
		return // applied already: a re-read would find the same state
	}
	var ids []string
	if !ready || !s.open.holds(c.ReportID, c.ReportSeq) {
		ids = append(ids, c.ReportID)
	}
	if ready && c.Seq > from+1 {
		missed, err := s.feed.Read(ctx, from, int(c.Seq-from-1))
		if err != nil || len(missed) < int(c.Seq-from-1) {
			s.log.Warn("read report changes the feed follower skipped; rebuilding the open reports", "err", err)
			o.mu.Lock()
			o.rebuild = true
			o.mu.Unlock()
		}
		for _, m := range missed {
			ids = append(ids, m.ReportID)
		}
	}
	for _, id := range ids {
		s.reread(ctx, id)
	}
}

// holds reports whether the model has the report at seq or later (open, or
// marked closed): then a re-read would change nothing. This instance's own
// changes are in the model before the feed brings them back, so this spares
// a read of each.
func (o *openSet) holds(id string, seq int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.retry[id] {
		return false
	}
	if r := o.idx.byID[id]; r != nil && r.Seq >= seq {
		return true
	}
	m, ok := o.idx.closed[id]
	return ok && m.seq >= seq
}

// reread brings the model up to date with one report from the store, or
// marks it for retry.
func (s *Service) reread(ctx context.Context, id string) {
	o := &s.open
	r, err := s.openReread(ctx, id)
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case errors.Is(err, ErrNotFound):
		delete(o.retry, id)
		if o.ready {
			o.idx.forget(id)
		}
	case err != nil:
		if o.retry == nil {
			o.retry = map[string]bool{}
		}
		o.retry[id] = true
	default:
		delete(o.retry, id)
		o.putLocked(r, s.now())
	}
}

// openReread reads a report for the model; tests break it to make the model
// stale.
func (s *Service) openReread(ctx context.Context, id string) (Report, error) {
	if s.openRereadHook != nil {
		return s.openRereadHook(ctx, id)
	}
	return s.store.report(ctx, id)
}

// openTick is the feed's per-tick hook: it retries failed re-reads, rebuilds
// the model when they keep failing, and forgets old closed marks.
func (s *Service) openTick(ctx context.Context, feedErr error) {
	o := &s.open
	o.mu.Lock()
	o.feedErr = feedErr
	retry := make([]string, 0, len(o.retry))
	for id := range o.retry {
		retry = append(retry, id)
	}
	if o.ready {
		o.idx.pruneClosed(s.now())
	}
	o.mu.Unlock()
	for _, id := range retry {
		s.reread(ctx, id)
	}
	o.mu.Lock()
	if len(o.retry) > 0 || o.buildErr != nil {
		o.failedTicks++
		if o.failedTicks >= maxFailedTicks {
			o.rebuild = true
		}
	} else {
		o.failedTicks = 0
	}
	rebuild := o.rebuild || (o.buildErr != nil && o.ready)
	o.mu.Unlock()
	if !rebuild {
		return
	}
	if err := s.buildOpen(ctx); err != nil {
		s.log.Warn("rebuild the open reports", "err", err)
		return
	}
	// The rebuilt model holds the collection's state; reports still failing
	// are re-read once more, and stay marked if they fail.
	o.mu.Lock()
	o.retry = nil
	o.mu.Unlock()
	for _, id := range retry {
		s.reread(ctx, id)
	}
}

// syncOpen writes the report's open copy to the collection (what a new
// instance loads from) and to this instance's model. The model takes it even
// when the collection write fails: the report is what the timeline holds.
// first says r is a submission published by its writer, whose copy is not
// there yet.
func (s *Service) syncOpen(ctx context.Context, r Report, first bool) error {
	err := s.store.syncOpen(ctx, r, first)
	s.open.put(r, s.now())
	return err
}

// inScope lists the open reports of the cell, or of the scope's cells, in
// the queue's order: an officer's queue costs what their cells hold, not
// what the city holds.
func (x *openIndex) inScope(scope Scope, cell string) []*Report {
	switch {
	case cell != "":
		return x.byCell[cell]
	case scope.All:
		return x.order
	case len(scope.Cells) == 1:
		return x.byCell[scope.Cells[0]]
	}
	var out []*Report
	for _, c := range slices.Compact(slices.Sorted(slices.Values(scope.Cells))) {
		out = append(out, x.byCell[c]...)
	}
	slices.SortFunc(out, byDue)
	return out
}

// queue answers ListQueue for open statuses from the model.
func (x *openIndex) queue(scope Scope, f QueueFilter) Queue {
	var cells map[string]bool
	if f.Cell == "" && !scope.All {
		cells = make(map[string]bool, len(scope.Cells))
		for _, c := range scope.Cells {
			cells[c] = true
		}
	}
	counts := make(map[Status]int64, len(Statuses))
	for _, st := range Statuses {
		if st.Open() {
			counts[st] = 0
		}
	}
	page := make([]Report, 0, f.Limit)
	skipped := 0
	for _, r := range x.inScope(scope, f.Cell) {
		switch {
		case f.Cell != "" && r.Cell != f.Cell,
			cells != nil && !cells[r.Cell],
			f.Unassigned && r.OfficerID != "",
			f.Category != "" && r.Category != f.Category:
			continue
		}
		counts[r.Status]++
		if f.Status != "" && r.Status != f.Status {
			continue
		}
		if skipped < f.Offset {
			skipped++
			continue
		}
		if len(page) < f.Limit {
			page = append(page, *r)
		}
	}
	return Queue{Reports: page, Counts: counts}
}

// escalationDue lists the open reports the SLA worker should escalate for
// action, ordered by ack_due, at most limit.
func (x *openIndex) escalationDue(action Action, now time.Time, limit int) []Report {
	var out []Report
	for _, r := range x.order {
		var due bool
		switch action {
		case ActEscalateAck:
			due = r.Status == StatusSubmitted && !r.AckDue.After(now) && !r.EscalatedAck
		case ActEscalateDecision:
			due = (r.Status == StatusSubmitted || r.Status == StatusAcknowledged) && !r.DecideDue.After(now) && !r.EscalatedDue
		}
		if due {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b Report) int { return cmp.Or(a.AckDue.Compare(b.AckDue), cmp.Compare(a.ID, b.ID)) })
	return out[:min(len(out), limit)]
}

// escalated lists open reports that missed a deadline, by next_due.
func (x *openIndex) escalated(limit int) []Report {
	out := []Report{}
	for _, r := range x.order {
		if len(out) >= limit {
			break
		}
		if r.EscalatedAck || r.EscalatedDue {
			out = append(out, *r)
		}
	}
	return out
}

// nearby lists the open reports of the category created since 'since' in
// the grid cells that a circle of DuplicateRadius around the point touches,
// oldest first.
func (x *openIndex) nearby(category string, lat, lng float64, since time.Time) []Report {
	return x.within(category, lat, lng, since, DuplicateRadius)
}

// within is nearby for a circle of radius metres (the duplicate search's
// DuplicateRadius, the "me too" lookup's MeTooRadius): the candidates of
// the grid cells the circle's bounding box touches, which callers check by
// exact distance.
func (x *openIndex) within(category string, lat, lng float64, since time.Time, radius float64) []Report {
	dLat := radius / 111_320.0
	dLng := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.01)
	lo, hi := nearOf(category, lat-dLat, lng-dLng), nearOf(category, lat+dLat, lng+dLng)
	var out []Report
	for i := lo.lat; i <= hi.lat; i++ {
		for j := lo.lng; j <= hi.lng; j++ {
			for _, r := range x.near[nearKey{category, i, j}] {
				if !r.CreatedAt.Before(since) {
					out = append(out, *r)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Report) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return out
}

// sweepList lists, for SweepOpen, the open reports' ids and seqs, and the
// reports seen closed lately (closedKeep, longer than the sweep's period):
// an older open copy of those may have reached the collection after the
// delete, as a write that lost a race.
func (x *openIndex) sweepList() []Report {
	out := make([]Report, 0, len(x.byID)+len(x.closed))
	for _, r := range x.byID {
		out = append(out, Report{ID: r.ID, State: State{Seq: r.Seq, Status: r.Status}})
	}
	for id := range x.closed {
		if x.byID[id] == nil {
			// Its state here is unknown (""), so the sweep deletes any copy.
			out = append(out, Report{ID: id})
		}
	}
	return out
}
