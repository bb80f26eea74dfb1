package reports

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// Figures as daily rollups.
//
// ComputeFigures used to read every report created in the period: on the
// embedded store a scan of the whole reports collection per request. The
// figures now follow from the report feed, which every instance reads by _id
// anyway. Each event is bucketed by the Beijing day of its At, per (cell,
// officer) pair, so that a scope of cells also gives exact officer figures:
//
//   - a submission counts a report;
//   - a report's first acknowledgement-type change (acknowledge, or verify
//     or reject before any acknowledgement: whatever first sets AckedAt)
//     adds its delay (At − Created) and whether it was in time (At ≤ AckDue);
//   - a report's first decision (verify or reject: what sets DecidedAt) adds
//     its delay. A second acknowledgement after a handover, or a second
//     decision after a reopen, counts nothing.
//
// The raw delays are kept (milliseconds, sorted), so that the medians over a
// range of days are exact, as the scan's were.
//
// Satisfaction (回访, rating.go) keeps closed days unchanged too: a day
// counts its resolutions (every ActResolve) and the ratings made on it, by
// kind and by the Beijing day of the resolution each rates. A range
// [since, today] reports the ratings made in it, and as unrated the
// resolutions whose 7-day window closed in it without a rating: those of
// days [since−7, today−7] minus the ratings of them (made on days
// [since−7, today]). The satisfaction rate is (satisfied + basic) ÷ (rated +
// unrated): an unrated resolution never counts as satisfied.
//
// Each closed day is written once, after a grace period past midnight, as a
// document of figures_days under the _id "2006-01-02": the unique _id makes
// whichever instance inserts first the author, and the others adopt what it
// wrote, so every instance answers the same. Closed days never change, so
// each instance caches the ones it has read. Today, and closed days not yet
// rolled up, are kept in memory, built at start from the feed and kept current
// by the feed's hook. Every read is by _id.
//
// Where this differs from the scan (which grouped reports by their current
// cell and officer, and their current AckedAt and DecidedAt): an event counts
// for the cell and officer the report had right after it, on the day it
// happened. A report created yesterday and acknowledged today counts in
// yesterday's Reports and in today's acknowledgements, so at the edge of a
// range AckedInTimeShare mixes two populations (it is capped at 1), and a
// cell may appear with acknowledgements but no reports.
//
// Days before the feed's first entry (an install upgraded from before the
// feed existed) are not covered: the feed does not hold their events, so
// they count nothing and no rollup is written for them.
//
// Memory: a day costs 8 bytes per delay (two per decided report) plus about
// 200 bytes per (cell, officer) pair active that day: about 16 bytes per
// report. Changsha at 1 report/s on average (86 400 a day) is about 1.4 MB a
// day; at its 7/s peak sustained for a whole day, about 10 MB. In memory are
// today and at most the closed days not yet rolled up (normally yesterday for
// the first 15 minutes of the day), the cache of closed days (bounded by
// figureCacheBytes, least recently used first out: 64 MB holds about 45 days
// of Changsha at 1/s, all 90 of a district), and a mark of about 120 bytes
// per report still waiting for its first acknowledgement or decision (about
// the open reports; bounded by figureMarksMax).

const (
	figuresCollection = "figures_days"
	// figureGrace is how long after midnight a day is closed: an event is
	// appended to the feed within minutes of its At (a redelivery after a
	// failure), so later than this nothing more can arrive for the day.
	figureGrace = 15 * time.Minute
	// figureLoadDays is how many closed days LoadFigures follows from the
	// feed at most, when they are not rolled up yet.
	figureLoadDays = 2
	// figureRollBack is how far back RollUpFigures writes missing days.
	figureRollBack = 90
	// figureMaxRange is how far back a range reaches at most (the API asks
	// for 365 days at most).
	figureMaxRange = 366
	// figureCacheBytes bounds the cache of closed days.
	figureCacheBytes = 64 << 20
	// figureMarksMax bounds the marks of reports waiting for their first
	// acknowledgement or decision; past it they are forgotten, and what they
	// told is read from the timeline again when needed.
	figureMarksMax = 500_000
)

func (s *Service) figureModel() *figureSet {
	s.figuresMu.Lock()
	defer s.figuresMu.Unlock()
	return s.figures
}

func (s *Service) setFigureModel(fs *figureSet) bool {
	s.figuresMu.Lock()
	defer s.figuresMu.Unlock()
	if s.figures != nil {
		return false
	}
	s.figures = fs
	return true
}

func figureNextDay(d time.Time) time.Time { return d.AddDate(0, 0, 1) }

func laterDay(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// figureKey is what a day's figures are kept by: a cell ("" outside the map)
// and the officer who had the report ("" none: the admin queue).
type figureKey struct{ cell, officer string }

// figureBucket is one (cell, officer) pair's figures for a day.
type figureBucket struct {
	reports, inTime int
	ack, decide     []int64 // delays in ms, sorted
	urged           int     // the reporters' urges (催办, urge.go)
	// Satisfaction (rating.go): the resolutions of the day, the ratings
	// made on it by kind, and those ratings by the day (dayOf) of the
	// resolution each rates.
	resolved                      int
	satisfied, basic, unsatisfied int
	ratedOf                       map[string]int
}

// dayFigures is one day's figures. A closed day's is never changed once
// built (shared without a lock); a day in memory is changed under
// figureSet.mu.
type dayFigures map[figureKey]*figureBucket

func (d dayFigures) bytes() int {
	n := 0
	for _, b := range d {
		n += 200 + 8*(len(b.ack)+len(b.decide)) + 40*len(b.ratedOf)
	}
	return n
}

func figureInsert(xs []int64, v int64) []int64 {
	i, _ := slices.BinarySearch(xs, v)
	return slices.Insert(xs, i, v)
}

func (d dayFigures) add(c figureCount) {
	if !c.report && !c.acked && !c.decided && !c.urged && !c.resolved && c.rating == "" {
		return
	}
	b := d[c.key]
	if b == nil {
		b = &figureBucket{}
		d[c.key] = b
	}
	if c.report {
		b.reports++
	}
	if c.acked {
		b.ack = figureInsert(b.ack, c.ackMS)
		if c.inTime {
			b.inTime++
		}
	}
	if c.decided {
		b.decide = figureInsert(b.decide, c.decideMS)
	}
	if c.urged {
		b.urged++
	}
	if c.resolved {
		b.resolved++
	}
	if c.rating != "" {
		switch c.rating {
		case RatingSatisfied:
			b.satisfied++
		case RatingBasic:
			b.basic++
		default:
			b.unsatisfied++
		}
		if b.ratedOf == nil {
			b.ratedOf = map[string]int{}
		}
		b.ratedOf[c.ratedOf]++
	}
}

func (d dayFigures) clone() dayFigures {
	out := make(dayFigures, len(d))
	for k, b := range d {
		out[k] = &figureBucket{reports: b.reports, inTime: b.inTime, ack: slices.Clone(b.ack), decide: slices.Clone(b.decide), urged: b.urged,
			resolved: b.resolved, satisfied: b.satisfied, basic: b.basic, unsatisfied: b.unsatisfied, ratedOf: maps.Clone(b.ratedOf)}
	}
	return out
}

// figureCount is what one event adds to its day.
type figureCount struct {
	day      time.Time
	key      figureKey
	report   bool
	acked    bool
	inTime   bool
	ackMS    int64
	decided  bool
	decideMS int64
	urged    bool
	resolved bool   // an ActResolve
	rating   string // an ActRate: its kind,
	ratedOf  string // and the day of the resolution it rates
}

func figureAckType(a Action) bool  { return a == ActAcknowledge || a == ActVerify || a == ActReject }
func figureDecision(a Action) bool { return a == ActVerify || a == ActReject }

// reportMark is what is known of a report's timeline: entries 1..scanned
// are classified, and ack and decide are the seqs of its first
// acknowledgement-type entry and first decision among them (0: none).
type reportMark struct {
	scanned, ack, decide int
}

func (m *reportMark) note(seq int, a Action) {
	if figureAckType(a) && m.ack == 0 {
		m.ack = seq
	}
	if figureDecision(a) && m.decide == 0 {
		m.decide = seq
	}
}

// figureMarks tells whether an event is its report's first acknowledgement
// or decision. The answer is the timeline's (entries are never rewritten),
// so every instance, and a day computed again from the feed, gives the same
// answer whatever order it sees events in and wherever it started reading:
// the marks only save reads of the timeline. A report followed from its
// submission costs none.
type figureMarks map[string]*reportMark

func (fm figureMarks) classify(ctx context.Context, s *Service, e Event) (figureCount, error) {
	c := figureCount{day: dayStart(e.At), key: figureKey{e.Cell, e.OfficerID}, report: e.Action == ActSubmit, urged: e.Action == ActUrge,
		resolved: e.Action == ActResolve}
	if e.Action == ActRate && e.Rating != "" && !e.ResolvedAt.IsZero() {
		c.rating, c.ratedOf = e.Rating, dayOf(e.ResolvedAt)
	}
	n := e.ReportSeq
	m := fm[e.ReportID]
	if !figureAckType(e.Action) {
		switch {
		case m != nil && n == m.scanned+1:
			m.scanned = n
		case m == nil && e.Action == ActSubmit:
			if len(fm) >= figureMarksMax {
				clear(fm)
			}
			fm[e.ReportID] = &reportMark{scanned: 1}
		}
		return c, nil
	}
	next := reportMark{scanned: 1} // entry 1 is the submission
	if m != nil {
		next = *m
	}
	for seq := next.scanned + 1; seq < n; seq++ {
		a, err := s.entryAction(ctx, e.ReportID, seq)
		if err != nil {
			return c, err
		}
		next.note(seq, a)
		next.scanned = seq
	}
	if n == next.scanned+1 {
		next.note(n, e.Action)
		next.scanned = n
	}
	c.acked, c.decided = next.ack == n, next.decide == n
	if c.acked || c.decided {
		created, ackDue := e.Created, e.AckDue
		if created.IsZero() || ackDue.IsZero() {
			// A feed entry from before events carried these.
			r, err := s.store.report(ctx, e.ReportID)
			if errors.Is(err, ErrNotFound) {
				return figureCount{day: c.day, key: c.key}, nil
			}
			if err != nil {
				return c, err
			}
			created, ackDue = r.CreatedAt, r.AckDue
		}
		c.ackMS = e.At.Sub(created).Milliseconds()
		c.inTime = !e.At.After(ackDue)
		c.decideMS = c.ackMS
	}
	if next.ack != 0 && next.decide != 0 {
		delete(fm, e.ReportID) // nothing more to count: a later one reads the timeline
	} else {
		if m == nil && len(fm) >= figureMarksMax {
			clear(fm)
		}
		fm[e.ReportID] = &next
	}
	return c, nil
}

// entryAction reads the action of a report's timeline entry by _id. An
// entry below one that exists always exists; one missing all the same counts
// as no acknowledgement, so that a damaged timeline cannot stop the figures.
func (s *Service) entryAction(ctx context.Context, reportID string, seq int) (Action, error) {
	var d struct {
		Action Action `bson:"action"`
	}
	err := s.store.timeline.FindOne(ctx, bson.D{{Key: "_id", Value: entryID(reportID, seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "action", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		s.log.Warn("figures: a timeline entry is missing; counted as no acknowledgement", "report", reportID, "seq", seq)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the report's timeline: %w", err)
	}
	return d.Action, nil
}

// figureSet is this instance's figures model.
type figureSet struct {
	feed *Feed

	// applyMu serializes applying feed entries (the feed's hook, its tick,
	// RollUpFigures), so that each is applied once and in seq order.
	applyMu sync.Mutex
	marks   figureMarks // under applyMu

	mu      sync.Mutex
	loaded  bool
	loadErr error
	applied int64 // the last feed entry applied
	behind  error // an entry could not be applied: the model stopped before it
	feedErr error // the feed could not be read on the last tick
	// start is the first day in memory: every day from it on was followed
	// from its start and is not rolled up yet (days holds those that had
	// events). Earlier days are read from their rollups.
	start time.Time
	days  map[string]dayFigures
	// firstDay is the day of the feed's first entry: earlier days are not
	// covered. Zero: not known yet (the feed was empty).
	firstDay time.Time
	known    map[string]bool // closed days known to have a rollup
	cache    map[string]*cachedDay
	cached   int // bytes in cache
	uses     uint64
}

type cachedDay struct {
	fig   dayFigures
	bytes int
	used  uint64
}

// remember caches a closed day's rollup, under fs.mu.
func (fs *figureSet) remember(key string, d dayFigures) {
	fs.known[key] = true
	if old := fs.cache[key]; old != nil {
		fs.cached -= old.bytes
	}
	fs.uses++
	c := &cachedDay{fig: d, bytes: d.bytes(), used: fs.uses}
	fs.cache[key] = c
	fs.cached += c.bytes
	for fs.cached > figureCacheBytes && len(fs.cache) > 1 {
		var oldest string
		for k, v := range fs.cache {
			if k != key && (oldest == "" || v.used < fs.cache[oldest].used) {
				oldest = k
			}
		}
		fs.cached -= fs.cache[oldest].bytes
		delete(fs.cache, oldest)
	}
	if len(fs.known) > 4*figureMaxRange {
		clear(fs.known) // only saves reads
	}
}

func (fs *figureSet) staleLocked() error {
	switch {
	case !fs.loaded && fs.loadErr != nil:
		return fmt.Errorf("the figures could not be loaded: %w", fs.loadErr)
	case !fs.loaded:
		return errors.New("the figures are not loaded yet")
	case fs.behind != nil:
		return fmt.Errorf("the figures are behind the report feed: a change could not be counted (%v); retrying", fs.behind)
	case fs.feedErr != nil:
		return fmt.Errorf("the figures are behind the report feed: the feed cannot be read: %w", fs.feedErr)
	}
	return nil
}

// FiguresReady says whether this instance's figures are loaded and current
// (nil), or why not (also when LoadFigures was never called). While they
// are not, ComputeFigures reads the reports collection instead: slower,
// never stale.
func (s *Service) FiguresReady() error {
	fs := s.figureModel()
	if fs == nil {
		return errors.New("the figures are not loaded: LoadFigures has not run")
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.staleLocked()
}

// LoadFigures builds this instance's figures model and keeps it current from
// feed: today and the closed days not rolled up yet (at most figureLoadDays
// back) are read from the feed, from the first entry of the oldest of them.
// Call it once, after the feed's Init and before its Follow starts (right
// after LoadOpen). Until it has succeeded ComputeFigures reads the reports
// collection, as it does on a Service where it was never called.
func (s *Service) LoadFigures(ctx context.Context, feed *Feed) error {
	if feed == nil {
		return errors.New("load the figures: they follow the report feed, and none was given")
	}
	fs := &figureSet{feed: feed, marks: figureMarks{}, days: map[string]dayFigures{}, known: map[string]bool{}, cache: map[string]*cachedDay{}}
	if !s.setFigureModel(fs) {
		return errors.New("load the figures: LoadFigures was called twice on this service")
	}
	fs.applyMu.Lock()
	defer fs.applyMu.Unlock()
	// Registered first: a change the hook is handed while the model builds
	// waits for applyMu, then is applied or found applied.
	feed.OnChange(func(ctx context.Context, c Change) { s.figuresChange(ctx, fs, c) })
	feed.OnTick(func(ctx context.Context, err error) { s.figuresTick(ctx, fs, err) })
	err := s.buildFigures(ctx, fs)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err != nil {
		fs.loadErr = err
		return fmt.Errorf("load the figures: %w", err)
	}
	fs.loaded = true
	return nil
}

// buildFigures reads the feed into the model, under fs.applyMu.
func (s *Service) buildFigures(ctx context.Context, fs *figureSet) error {
	today := dayStart(s.now())
	start := today
	for back := figureLoadDays; back >= 1; back-- {
		d := today.AddDate(0, 0, -back)
		_, ok, err := s.readRollup(ctx, dayOf(d))
		if err != nil {
			return err
		}
		if !ok {
			start = d
			break
		}
		fs.mu.Lock()
		fs.known[dayOf(d)] = true
		fs.mu.Unlock()
	}
	if _, err := s.figureFirstDay(ctx, fs); err != nil {
		return err
	}
	from, err := figureLowerBound(ctx, fs.feed, start)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	fs.start, fs.applied = start, from-1
	fs.mu.Unlock()
	return s.catchUpFigures(ctx, fs)
}

// figureLowerBound returns a feed seq that every entry whose At is at or
// after t has at least, bisecting over seq with reads by _id. At is not in
// seq order (an entry is appended up to figureGrace after its At), so the
// bisection keeps as its lower end an entry whose At is before
// t−figureGrace: that entry was appended before t, and so was every entry
// before it, whose At is therefore before t too.
func figureLowerBound(ctx context.Context, feed *Feed, t time.Time) (int64, error) {
	bound := t.Add(-figureGrace)
	lo, hi := int64(0), feed.Last()+1
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		cs, err := feed.Read(ctx, mid-1, 1)
		if err != nil {
			return 0, err
		}
		if len(cs) == 1 && cs[0].At.Before(bound) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1, nil
}

// figureFirstDay returns the day of the feed's first entry (zero: the feed
// is empty), reading it once.
func (s *Service) figureFirstDay(ctx context.Context, fs *figureSet) (time.Time, error) {
	fs.mu.Lock()
	d := fs.firstDay
	fs.mu.Unlock()
	if !d.IsZero() {
		return d, nil
	}
	cs, err := fs.feed.Read(ctx, 0, 1)
	if err != nil {
		return time.Time{}, err
	}
	if len(cs) == 0 {
		return time.Time{}, nil
	}
	d = dayStart(cs[0].At)
	fs.mu.Lock()
	fs.firstDay = d
	fs.mu.Unlock()
	return d, nil
}

// applyFigure counts one feed entry, the one after fs.applied, under
// fs.applyMu.
func (s *Service) applyFigure(ctx context.Context, fs *figureSet, c Change) error {
	cnt, err := fs.marks.classify(ctx, s, c.Event)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !cnt.day.Before(fs.start) {
		k := dayOf(cnt.day)
		if fs.days[k] == nil {
			fs.days[k] = dayFigures{}
		}
		fs.days[k].add(cnt)
	} // else: a day rolled up or never followed; its rollup holds it
	fs.applied = c.Seq
	return nil
}

// catchUpFigures applies every feed entry after fs.applied, to the end of
// the feed, under fs.applyMu. It stops at the first entry it cannot count:
// skipping it would count it never, and the next call starts there.
func (s *Service) catchUpFigures(ctx context.Context, fs *figureSet) error {
	for {
		fs.mu.Lock()
		after := fs.applied
		fs.mu.Unlock()
		cs, readErr := fs.feed.Read(ctx, after, 100)
		for _, c := range cs {
			if err := s.applyFigure(ctx, fs, c); err != nil {
				fs.mu.Lock()
				fs.behind = err
				fs.mu.Unlock()
				return err
			}
		}
		if readErr != nil {
			return readErr
		}
		if len(cs) < 100 {
			fs.mu.Lock()
			fs.behind = nil
			fs.mu.Unlock()
			return nil
		}
	}
}

// figuresChange is the feed's hook. Follow hands over every entry, this
// instance's own appends included, but not those appended before it started
// or while the model was built: an entry past the next one is read, with
// those before it, from the feed.
func (s *Service) figuresChange(ctx context.Context, fs *figureSet, c Change) {
	fs.applyMu.Lock()
	defer fs.applyMu.Unlock()
	fs.mu.Lock()
	loaded, applied, behind := fs.loaded, fs.applied, fs.behind
	fs.mu.Unlock()
	switch {
	case !loaded || c.Seq <= applied:
	case behind != nil: // the tick retries from where it stopped
	case c.Seq == applied+1:
		if err := s.applyFigure(ctx, fs, c); err != nil {
			fs.mu.Lock()
			fs.behind = err
			fs.mu.Unlock()
			s.log.Warn("figures: count a report change; will retry", "seq", c.Seq, "err", err)
		}
	default:
		if err := s.catchUpFigures(ctx, fs); err != nil {
			s.log.Warn("figures: read report changes the feed follower skipped; will retry", "err", err)
		}
	}
}

// figuresTick is the feed's per-tick hook: it notes whether the feed could
// be read, and catches up when behind.
func (s *Service) figuresTick(ctx context.Context, fs *figureSet, feedErr error) {
	fs.mu.Lock()
	fs.feedErr = feedErr
	need := fs.loaded && (fs.behind != nil || fs.feed.Last() > fs.applied)
	fs.mu.Unlock()
	if !need {
		return
	}
	fs.applyMu.Lock()
	defer fs.applyMu.Unlock()
	if err := s.catchUpFigures(ctx, fs); err != nil {
		s.log.Warn("figures: catch up with the report feed; will retry", "err", err)
	}
}

// figuresFromFeed computes a closed day from the feed alone: from the first
// entry that may be of the day to the first that is past its end and the
// grace period.
func (s *Service) figuresFromFeed(ctx context.Context, feed *Feed, day time.Time) (dayFigures, error) {
	from, err := figureLowerBound(ctx, feed, day)
	if err != nil {
		return nil, err
	}
	stop := figureNextDay(day).Add(figureGrace)
	out := dayFigures{}
	marks := figureMarks{}
	// Small batches: Read reads a whole batch before it answers, and the
	// day ends within a few entries of its last.
	const batch = 16
	for after := from - 1; ; {
		cs, err := feed.Read(ctx, after, batch)
		for _, c := range cs {
			if !c.At.Before(stop) {
				return out, nil // appended past the day's grace: so is all that follows
			}
			cnt, err := marks.classify(ctx, s, c.Event)
			if err != nil {
				return nil, err
			}
			if cnt.day.Equal(day) {
				out.add(cnt)
			}
			after = c.Seq
		}
		if err != nil {
			return nil, err
		}
		if len(cs) < batch {
			return out, nil
		}
	}
}

// figureDay is a closed day's rollup document.
type figureDay struct {
	ID      string            `bson:"_id"` // the Beijing day, 2006-01-02
	Buckets []figureDayBucket `bson:"buckets"`
	Source  string            `bson:"source"` // "memory" (followed all day) or "feed" (computed from it)
	Written time.Time         `bson:"written_at"`
}

// figureDayBucket is one (cell, officer) pair's figures in a rollup. The
// delays are packed (sorted milliseconds, each as a varint of its difference
// from the one before), so that a day of a busy city stays far below the
// 16 MB a document may hold: about 1 to 3 bytes a delay.
type figureDayBucket struct {
	Cell     string `bson:"cell"`
	Officer  string `bson:"officer"`
	Reports  int    `bson:"reports"`
	InTime   int    `bson:"in_time"`
	AckMS    []byte `bson:"ack_ms"`
	DecideMS []byte `bson:"decide_ms"`
	Urged    int    `bson:"urged"` // 0 in rollups written before urging existed
	// Satisfaction (see figureBucket); zero in rollups written before it.
	Resolved    int            `bson:"resolved"`
	Satisfied   int            `bson:"satisfied"`
	Basic       int            `bson:"basic"`
	Unsatisfied int            `bson:"unsatisfied"`
	RatedOf     map[string]int `bson:"rated_of,omitempty"`
}

func figurePack(xs []int64) []byte {
	out := make([]byte, 0, len(xs)*2)
	prev := int64(0)
	for _, x := range xs {
		out = binary.AppendVarint(out, x-prev)
		prev = x
	}
	return out
}

func figureUnpack(b []byte) ([]int64, error) {
	var out []int64
	prev := int64(0)
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("a figures rollup holds damaged delays")
		}
		prev += d
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}

func rollupDoc(key string, d dayFigures, source string, at time.Time) figureDay {
	doc := figureDay{ID: key, Buckets: []figureDayBucket{}, Source: source, Written: at}
	for k, b := range d {
		doc.Buckets = append(doc.Buckets, figureDayBucket{Cell: k.cell, Officer: k.officer, Reports: b.reports, InTime: b.inTime,
			AckMS: figurePack(b.ack), DecideMS: figurePack(b.decide), Urged: b.urged,
			Resolved: b.resolved, Satisfied: b.satisfied, Basic: b.basic, Unsatisfied: b.unsatisfied, RatedOf: b.ratedOf})
	}
	slices.SortFunc(doc.Buckets, func(a, b figureDayBucket) int {
		return cmp.Or(cmp.Compare(a.Cell, b.Cell), cmp.Compare(a.Officer, b.Officer))
	})
	return doc
}

func (doc figureDay) figures() (dayFigures, error) {
	out := make(dayFigures, len(doc.Buckets))
	for _, b := range doc.Buckets {
		ack, err := figureUnpack(b.AckMS)
		if err != nil {
			return nil, err
		}
		decide, err := figureUnpack(b.DecideMS)
		if err != nil {
			return nil, err
		}
		out[figureKey{b.Cell, b.Officer}] = &figureBucket{reports: b.Reports, inTime: b.InTime, ack: ack, decide: decide, urged: b.Urged,
			resolved: b.Resolved, satisfied: b.Satisfied, basic: b.Basic, unsatisfied: b.Unsatisfied, ratedOf: b.RatedOf}
	}
	return out, nil
}

func (s *Service) figuresColl() *mongo.Collection {
	return s.store.reports.Database().Collection(figuresCollection)
}

// readRollup reads a closed day's rollup by _id.
func (s *Service) readRollup(ctx context.Context, key string) (dayFigures, bool, error) {
	var doc figureDay
	err := s.figuresColl().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the figures of %s: %w", key, err)
	}
	d, err := doc.figures()
	if err != nil {
		return nil, false, fmt.Errorf("read the figures of %s: %w", key, err)
	}
	return d, true, nil
}

// writeRollup inserts a closed day's rollup, unless another instance did
// first: then what it wrote is the day's, and is returned instead.
func (s *Service) writeRollup(ctx context.Context, key string, d dayFigures, source string) (dayFigures, error) {
	_, err := s.figuresColl().InsertOne(ctx, rollupDoc(key, d, source, s.now()))
	if err == nil {
		return d, nil
	}
	if !storage.IsDuplicateKey(err) {
		return nil, fmt.Errorf("write the figures of %s: %w", key, err)
	}
	stored, ok, err := s.readRollup(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("write the figures of %s: the store refused a duplicate it does not hold", key)
	}
	return stored, nil
}

// RollUpFigures writes each closed day (past midnight by figureGrace) that
// has no rollup yet, up to figureRollBack days back and not before the
// feed's first day: from memory when this instance followed the whole day,
// else computed from the feed. Run it every few minutes on every instance:
// of instances writing the same day at once, the first insert wins and the
// others adopt it. Days rolled up leave memory.
func (s *Service) RollUpFigures(ctx context.Context) error {
	fs := s.figureModel()
	if fs == nil {
		return errors.New("roll up the figures: LoadFigures has not run on this service")
	}
	fs.mu.Lock()
	loaded := fs.loaded
	fs.mu.Unlock()
	if !loaded {
		return errors.New("roll up the figures: they are not loaded")
	}
	// Now is taken before catching up: every entry of a day that ended a
	// grace period before now was in the feed when the catch-up read it.
	now := s.now()
	fs.applyMu.Lock()
	err := s.catchUpFigures(ctx, fs)
	fs.applyMu.Unlock()
	if err != nil {
		return fmt.Errorf("roll up the figures: %w", err)
	}
	first, err := s.figureFirstDay(ctx, fs)
	if err != nil || first.IsZero() {
		return err // an empty feed: nothing is covered
	}
	d := laterDay(first, dayStart(now).AddDate(0, 0, -figureRollBack))
	for ; !figureNextDay(d).Add(figureGrace).After(now); d = figureNextDay(d) {
		if err := s.rollUpDay(ctx, fs, d); err != nil {
			return fmt.Errorf("roll up the figures: %w", err)
		}
	}
	return nil
}

func (s *Service) rollUpDay(ctx context.Context, fs *figureSet, day time.Time) error {
	key := dayOf(day)
	fs.mu.Lock()
	inMemory := !day.Before(fs.start)
	known := fs.known[key]
	var d dayFigures
	if inMemory {
		d = fs.days[key].clone()
	}
	fs.mu.Unlock()
	source := "memory"
	if !inMemory {
		if known {
			return nil
		}
		stored, ok, err := s.readRollup(ctx, key)
		if err != nil {
			return err
		}
		if ok {
			fs.mu.Lock()
			fs.remember(key, stored)
			fs.mu.Unlock()
			return nil
		}
		if d, err = s.figuresFromFeed(ctx, fs.feed, day); err != nil {
			return err
		}
		source = "feed"
	}
	stored, err := s.writeRollup(ctx, key, d, source)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.remember(key, stored)
	if next := figureNextDay(day); fs.start.Before(next) {
		for k := range fs.days {
			if k <= key { // keys sort as days do
				delete(fs.days, k)
			}
		}
		fs.start = next
	}
	return nil
}

// closedDay returns the figures of a day before fs.start: its rollup, else
// (not rolled up yet) computed from the feed and written.
func (s *Service) closedDay(ctx context.Context, fs *figureSet, day time.Time) (dayFigures, error) {
	key := dayOf(day)
	first, err := s.figureFirstDay(ctx, fs)
	if err != nil {
		return nil, err
	}
	if first.IsZero() || day.Before(first) {
		return dayFigures{}, nil // not covered by the feed
	}
	stored, ok, err := s.readRollup(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		d, err := s.figuresFromFeed(ctx, fs.feed, day)
		if err != nil {
			return nil, err
		}
		if figureNextDay(day).Add(figureGrace).After(s.now()) {
			return d, nil // not closed yet: not to be written, nor cached
		}
		if stored, err = s.writeRollup(ctx, key, d, "feed"); err != nil {
			return nil, err
		}
	}
	fs.mu.Lock()
	fs.remember(key, stored)
	fs.mu.Unlock()
	return stored, nil
}

// figureTotals are a key's figures over a range, before the medians.
type figureTotals struct {
	reports, inTime int
	ack, decide     [][]int64
	urged           int
	// Satisfaction: the ratings made in the range, and the resolutions
	// whose window closed in it (due) with the ratings of those (dueRated).
	satisfied, basic, unsatisfied int
	due, dueRated                 int
	inRange                       bool // some day in the range counted for the key
}

// addDue adds what a day of [from−7, today] tells of the resolutions whose
// rating window closed in the range [from, today]: those made on days
// [from−7, today−7] (dueFrom to dueTo), and the ratings of them.
func (t *figureTotals) addDue(b *figureBucket, day, dueFrom, dueTo time.Time) {
	if !day.Before(dueFrom) && !day.After(dueTo) {
		t.due += b.resolved
	}
	lo, hi := dayOf(dueFrom), dayOf(dueTo)
	for d, n := range b.ratedOf {
		if d >= lo && d <= hi { // days sort as their keys do
			t.dueRated += n
		}
	}
}

func (t *figureTotals) add(b *figureBucket) {
	t.inRange = true
	t.reports += b.reports
	t.inTime += b.inTime
	t.urged += b.urged
	t.satisfied += b.satisfied
	t.basic += b.basic
	t.unsatisfied += b.unsatisfied
	if len(b.ack) > 0 {
		t.ack = append(t.ack, b.ack)
	}
	if len(b.decide) > 0 {
		t.decide = append(t.decide, b.decide)
	}
}

// figuresFromModel answers ComputeFigures from the rollups of the closed
// days of the range and from memory.
func (s *Service) figuresFromModel(ctx context.Context, fs *figureSet, scope Scope, since, until time.Time) (byCell, byOfficer []Figures, err error) {
	// today is the range's last day from here on: today itself, or the
	// last day asked for when it is earlier.
	today := dayStart(s.now())
	if !until.IsZero() && dayStart(until).Before(today) {
		today = dayStart(until)
	}
	from := laterDay(dayStart(since), dayStart(s.now()).AddDate(0, 0, -figureMaxRange))
	// The unrated of the range are resolutions of up to ratingDays before
	// it: those days are read too, for that only.
	dueFrom, dueTo := from.AddDate(0, 0, -ratingDays), today.AddDate(0, 0, -ratingDays)
	var cells map[string]bool
	if !scope.All {
		cells = make(map[string]bool, len(scope.Cells))
		for _, c := range scope.Cells {
			cells[c] = true
		}
	}
	inScope := func(cell string) bool { return scope.All || cells[cell] }
	fetched := map[string]dayFigures{}
	var cellT, officerT map[string]*figureTotals
	for attempt := 0; ; attempt++ {
		var missing []time.Time
		fs.mu.Lock()
		cellT, officerT = map[string]*figureTotals{}, map[string]*figureTotals{}
		total := func(m map[string]*figureTotals, k string) *figureTotals {
			t := m[k]
			if t == nil {
				t = &figureTotals{}
				m[k] = t
			}
			return t
		}
		for d := dueFrom; !d.After(today); d = figureNextDay(d) {
			key := dayOf(d)
			var day dayFigures
			switch c, f := fs.cache[key], fetched[key]; {
			case !d.Before(fs.start):
				day = fs.days[key]
			case c != nil:
				fs.uses++
				c.used = fs.uses
				day = c.fig
			case f != nil:
				day = f
			default:
				missing = append(missing, d)
				continue
			}
			for k, b := range day {
				if !inScope(k.cell) {
					continue
				}
				if d.Before(from) && b.resolved == 0 && len(b.ratedOf) == 0 {
					continue // before the range, and nothing about ratings
				}
				ts := []*figureTotals{total(cellT, k.cell)}
				if k.officer != "" {
					ts = append(ts, total(officerT, k.officer))
				}
				for _, t := range ts {
					if !d.Before(from) {
						t.add(b)
					}
					t.addDue(b, d, dueFrom, dueTo)
				}
			}
		}
		if len(missing) == 0 {
			// The medians read the days in memory, which change under fs.mu.
			byCell, byOfficer = figuresOf(cellT), figuresOf(officerT)
			fs.mu.Unlock()
			break
		}
		fs.mu.Unlock()
		if attempt == 2 {
			return nil, nil, errors.New("compute the figures: the days of the range keep leaving memory; try again")
		}
		for _, d := range missing {
			f, err := s.closedDay(ctx, fs, d)
			if err != nil {
				return nil, nil, fmt.Errorf("compute the figures: %w", err)
			}
			fetched[dayOf(d)] = f
		}
	}
	openCells, openOfficers, err := s.openBacklog(ctx, scope, inScope, from, figureNextDay(today))
	if err != nil {
		return nil, nil, err
	}
	return withBacklog(byCell, openCells), withBacklog(byOfficer, openOfficers), nil
}

func figuresOf(m map[string]*figureTotals) []Figures {
	var out []Figures
	for k, t := range m {
		unrated := max(0, t.due-t.dueRated)
		if !t.inRange && unrated == 0 {
			continue // read only for the days before the range, with nothing due in it
		}
		f := Figures{Key: k, Reports: t.reports, MedianAckSeconds: figureMedian(t.ack), MedianDecideSecs: figureMedian(t.decide), Urged: t.urged,
			Satisfied: t.satisfied, Basic: t.basic, Unsatisfied: t.unsatisfied, Unrated: unrated}
		if n := t.satisfied + t.basic + t.unsatisfied + unrated; n > 0 {
			f.SatisfactionRate = float64(t.satisfied+t.basic) / float64(n)
		}
		if t.reports > 0 {
			f.AckedInTimeShare = min(1, float64(t.inTime)/float64(t.reports))
		}
		out = append(out, f)
	}
	return out
}

// withBacklog adds the open backlog to the figures, and the keys that have
// one only, ordered by key as the scan's answer is.
func withBacklog(fs []Figures, open map[string]int) []Figures {
	for i := range fs {
		fs[i].OpenBacklog = open[fs[i].Key]
		delete(open, fs[i].Key)
	}
	for k, n := range open {
		fs = append(fs, Figures{Key: k, OpenBacklog: n})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	return fs
}

// openBacklog counts the open reports created since from, in scope, per cell
// and officer: from the open reports' model, or (not ready) the store.
func (s *Service) openBacklog(ctx context.Context, scope Scope, inScope func(string) bool, from, before time.Time) (cells, officers map[string]int, err error) {
	cells, officers = map[string]int{}, map[string]int{}
	count := func(r *Report) {
		if !inScope(r.Cell) || r.CreatedAt.Before(from) || !r.CreatedAt.Before(before) || !r.Status.Open() {
			return
		}
		cells[r.Cell]++
		if r.OfficerID != "" {
			officers[r.OfficerID]++
		}
	}
	if x, done, ok := s.open.read(); ok {
		for _, r := range x.byID {
			count(r)
		}
		done()
		return cells, officers, nil
	}
	filter := bson.D{{Key: "created_at", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: before}}}}
	if !scope.All {
		filter = append(filter, bson.E{Key: "cell", Value: bson.D{{Key: "$in", Value: scope.Cells}}})
	}
	rs, err := s.store.findOpen(ctx, filter, options.Find().SetProjection(bson.D{{Key: "cell", Value: 1}, {Key: "officer_id", Value: 1},
		{Key: "created_at", Value: 1}, {Key: "status", Value: 1}}))
	if err != nil {
		return nil, nil, err
	}
	for i := range rs {
		count(&rs[i])
	}
	return cells, officers, nil
}

// figureMedian is the median, in seconds, of the delays (ms) of several sorted
// lists, found without merging them: the same value median gives over the
// seconds of all of them.
func figureMedian(lists [][]int64) float64 {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return figureSeconds(figureKth(lists, n/2))
	}
	return (figureSeconds(figureKth(lists, n/2-1)) + figureSeconds(figureKth(lists, n/2))) / 2
}

// figureSeconds converts as Duration.Seconds does, so that a delay gives the
// same float64 the scan computed from the two times.
func figureSeconds(ms int64) float64 { return (time.Duration(ms) * time.Millisecond).Seconds() }

// figureKth is the k-th smallest (from 0) of the values of sorted lists: the least
// v with more than k values at or below it, by bisection over the values.
func figureKth(lists [][]int64, k int) int64 {
	if len(lists) == 1 {
		return lists[0][k]
	}
	lo, hi := lists[0][0], lists[0][len(lists[0])-1]
	for _, l := range lists[1:] {
		lo, hi = min(lo, l[0]), max(hi, l[len(l)-1])
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		atOrBelow := 0
		for _, l := range lists {
			atOrBelow += sort.Search(len(l), func(i int) bool { return l[i] > mid })
		}
		if atOrBelow > k {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
