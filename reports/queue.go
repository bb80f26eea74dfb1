package reports

import (
	"context"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Scope says whose reports a caller may list: an officer's cells, or
// everything (an admin).
type Scope struct {
	All   bool
	Cells []string
}

// QueueFilter narrows the queue.
type QueueFilter struct {
	Status     Status // "" = open ones
	Category   string
	Cell       string
	Unassigned bool // only reports no officer has (the admin queue)
	Limit      int
	Offset     int
}

// Queue is one page of a queue, with counts per open status over the same
// scope and filters (status aside).
type Queue struct {
	Reports []Report
	Counts  map[Status]int64
}

// ListQueue lists reports in scope ordered by their next deadline.
func (s *Service) ListQueue(ctx context.Context, scope Scope, f QueueFilter) (Queue, error) {
	base := bson.D{}
	switch {
	case f.Cell != "":
		if !scope.All && !slices.Contains(scope.Cells, f.Cell) {
			return Queue{Reports: []Report{}, Counts: map[Status]int64{}}, nil
		}
		base = append(base, bson.E{Key: "cell", Value: f.Cell})
	case !scope.All:
		base = append(base, bson.E{Key: "cell", Value: bson.D{{Key: "$in", Value: scope.Cells}}})
	}
	if f.Unassigned {
		base = append(base, bson.E{Key: "officer_id", Value: ""})
	}
	if f.Category != "" {
		base = append(base, bson.E{Key: "category", Value: f.Category})
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	f.Offset = max(f.Offset, 0)
	if x, done, ok := s.open.read(); ok {
		q := x.queue(scope, f)
		done()
		if f.Status == "" || f.Status.Open() {
			return q, nil
		}
		// Closed reports are only in the full collection: slower on the
		// embedded store, and asked for only when someone looks back.
		rs, err := s.store.find(ctx, append(base, bson.E{Key: "status", Value: f.Status}),
			options.Find().SetSort(bson.D{{Key: "updated_at", Value: -1}, {Key: "_id", Value: 1}}).SetSkip(int64(f.Offset)).SetLimit(int64(f.Limit)))
		if err != nil {
			return Queue{}, err
		}
		return Queue{Reports: rs, Counts: q.Counts}, nil
	}
	// The model is not ready (not loaded, or behind the store): ask the
	// store, slower but never stale.
	counts, err := s.store.countOpenByStatus(ctx, base)
	if err != nil {
		return Queue{}, err
	}
	filter := slices.Clone(base)
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	opts := options.Find().SetSort(bson.D{{Key: "next_due", Value: 1}, {Key: "_id", Value: 1}}).SetSkip(int64(f.Offset)).SetLimit(int64(f.Limit))
	find := s.store.findOpen
	if f.Status != "" && !f.Status.Open() {
		// Closed reports are only in the full collection: slower on the
		// embedded store, and asked for only when someone looks back.
		find = s.store.find
		opts.SetSort(bson.D{{Key: "updated_at", Value: -1}, {Key: "_id", Value: 1}})
	}
	rs, err := find(ctx, filter, opts)
	if err != nil {
		return Queue{}, err
	}
	return Queue{Reports: rs, Counts: counts}, nil
}

// Figures are service figures over a period for one cell or officer.
type Figures struct {
	Key              string  `json:"key" doc:"cell code or officer id"`
	Reports          int     `json:"reports"`
	AckedInTimeShare float64 `json:"acked_in_time_share" doc:"share of reports acknowledged within the commitment, 0 to 1"`
	MedianAckSeconds float64 `json:"median_ack_seconds"`
	MedianDecideSecs float64 `json:"median_decide_seconds"`
	OpenBacklog      int     `json:"open_backlog"`
	Urged            int     `json:"urged" doc:"urges (催办) by reporters after a missed deadline, on the days of the range"`
	// Satisfaction (回访, figures.go): the ratings made on the days of the
	// range, and the resolutions whose 7-day rating window closed in it
	// unrated.
	Satisfied        int     `json:"satisfied" doc:"ratings 满意 made on the days of the range"`
	Basic            int     `json:"basic" doc:"ratings 基本满意 made on the days of the range"`
	Unsatisfied      int     `json:"unsatisfied" doc:"ratings 不满意 made on the days of the range"`
	Unrated          int     `json:"unrated" doc:"resolutions whose 7-day rating window closed in the range without a rating"`
	SatisfactionRate float64 `json:"satisfaction_rate" doc:"(satisfied + basic) / (rated + unrated), 0 to 1; 0 also when nothing was rated or due (see satisfied…unrated)"`
}

// ComputeFigures computes figures per cell and per officer within scope,
// over the Beijing days from since's day to today: the reports submitted,
// and the first acknowledgements and decisions made, on those days (see
// figures.go), and the backlog of those reports still open.
//
// Once LoadFigures has run it reads the closed days' rollups by _id and
// today from memory. Before that, or while the model is behind the feed
// (FiguresReady), and always on a Service where LoadFigures was never called
// (many tests build one bare), it scans the reports created since 'since',
// as it did before the rollups: correct, but a read of the whole reports
// collection on the embedded store.
func (s *Service) ComputeFigures(ctx context.Context, scope Scope, since time.Time) (byCell, byOfficer []Figures, err error) {
	return s.ComputeFiguresUntil(ctx, scope, since, time.Time{})
}

// ComputeFiguresUntil is ComputeFigures over the Beijing days from since's
// to until's (zero, or a day after today: to today). The figures of a range
// that ended are those of its days; its unrated resolutions are those whose
// rating window closed by its last day without a rating made by then; its
// backlog, the reports created in it that are open now.
func (s *Service) ComputeFiguresUntil(ctx context.Context, scope Scope, since, until time.Time) (byCell, byOfficer []Figures, err error) {
	if fs := s.figureModel(); fs != nil {
		// This instance's own changes are in the feed before its follower
		// brings them back: catch up to the end it knows (a few reads by
		// _id), so that an officer sees their own action counted at once.
		fs.mu.Lock()
		behind := fs.loaded && fs.feed.Last() > fs.applied
		fs.mu.Unlock()
		if behind {
			fs.applyMu.Lock()
			if err := s.catchUpFigures(ctx, fs); err != nil {
				s.log.Warn("figures: catch up with the report feed", "err", err)
			}
			fs.applyMu.Unlock()
		}
		fs.mu.Lock()
		stale := fs.staleLocked()
		fs.mu.Unlock()
		if stale == nil {
			return s.figuresFromModel(ctx, fs, scope, since, until)
		}
	}
	return s.scanFigures(ctx, scope, since, until)
}

// scanFigures computes the figures from the reports created since 'since'
// (their current cell, officer, acknowledgement and decision). Medians are
// computed in Go: the embedded store has no arithmetic in pipelines.
func (s *Service) scanFigures(ctx context.Context, scope Scope, since, until time.Time) (byCell, byOfficer []Figures, err error) {
	created := bson.D{{Key: "$gte", Value: since}}
	if !until.IsZero() {
		created = append(created, bson.E{Key: "$lt", Value: figureNextDay(dayStart(until))})
	}
	filter := bson.D{{Key: "created_at", Value: created}}
	if !scope.All {
		filter = append(filter, bson.E{Key: "cell", Value: bson.D{{Key: "$in", Value: scope.Cells}}})
	}
	rs, err := s.store.find(ctx, filter, options.Find().SetLimit(100_000).SetProjection(bson.D{{Key: "photos", Value: 0}, {Key: "description", Value: 0}}))
	if err != nil {
		return nil, nil, err
	}
	type acc struct {
		n, inTime, open int
		ack, decide     []float64
	}
	cells, officers := map[string]*acc{}, map[string]*acc{}
	add := func(m map[string]*acc, k string, r Report) {
		a := m[k]
		if a == nil {
			a = &acc{}
			m[k] = a
		}
		a.n++
		if !r.AckedAt.IsZero() {
			a.ack = append(a.ack, r.AckedAt.Sub(r.CreatedAt).Seconds())
			if !r.AckedAt.After(r.AckDue) {
				a.inTime++
			}
		}
		if !r.DecidedAt.IsZero() {
			a.decide = append(a.decide, r.DecidedAt.Sub(r.CreatedAt).Seconds())
		}
		if r.Status.Open() {
			a.open++
		}
	}
	for _, r := range rs {
		add(cells, r.Cell, r)
		if r.OfficerID != "" {
			add(officers, r.OfficerID, r)
		}
	}
	out := func(m map[string]*acc) []Figures {
		var fs []Figures
		for k, a := range m {
			fs = append(fs, Figures{Key: k, Reports: a.n, AckedInTimeShare: float64(a.inTime) / float64(a.n),
				MedianAckSeconds: median(a.ack), MedianDecideSecs: median(a.decide), OpenBacklog: a.open})
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
		return fs
	}
	return out(cells), out(officers), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
