// Package reportstest fills a document store with many reports quickly, for
// the benchmarks and tests of what reads them (the queue, a report and its
// timeline, a rider's list).
//
// Filing every report through Service.Submit and Service.Act costs a few
// store round trips each, and on the embedded store 2,000 reports took over
// 20 minutes, so 100,000 were out of reach. Fill files a few dozen template
// reports through the service, so that their documents have exactly the
// shape the service writes today, then copies those documents under fresh
// ids with InsertMany. A copy changes only what must differ between two
// reports (ids, reporter, times, position by a few metres); every other
// field, including any the service adds later, is carried over as stored.
package reportstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	mrand "math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

// The collections a report's life writes that a reader of the report, the
// queue or the rider's list reads (reports/mongo.go).
const (
	reportsCollection  = "reports"
	timelineCollection = "report_timeline"
	openCollection     = "open_reports"
	listCollection     = "reporter_reports"
)

// Defaults of FillOptions.
const (
	DefaultOpenShare    = 0.03
	DefaultTemplates    = 40
	DefaultDays         = 30
	DefaultJitterMetres = 5.0
	DefaultBatch        = 1000
	defaultReporters    = 20
)

// Place is where template reports are filed: a point well inside a cell of
// the service's map.
type Place struct {
	Lat, Lng float64
}

// PlacesOf returns the centre of each cell, a place at least half a cell
// from its border.
func PlacesOf(cells []grid.Cell) []Place {
	out := make([]Place, len(cells))
	for i, c := range cells {
		p := c.Bound().Center()
		out[i] = Place{Lat: p.Lat(), Lng: p.Lon()}
	}
	return out
}

// FillOptions says what Fill stores.
type FillOptions struct {
	// Reports is how many reports the fill stores, templates included.
	Reports int
	// OpenShare is the share of Reports left open (submitted, acknowledged,
	// verified or in progress), 0 to 1; 0 means DefaultOpenShare. The
	// templates include open reports of every open status, so a fill
	// always has some.
	OpenShare float64
	// Places are where templates are filed, spread over them in turn;
	// required. Each should be further than BorderMargin plus JitterMetres
	// from its cell's border, so that a copy moved a few metres stays in the
	// cell and keeps its near-border flag true to its position.
	Places []Place
	// Reporters are the riders' account ids the reports are spread over;
	// default 20 ids "fill-rider-NN".
	Reporters []string
	// Templates is how many reports are filed through the service
	// (DefaultTemplates), at most Reports.
	Templates int
	// Days: the copies' created_at is spread evenly over this many days
	// up to the fill (DefaultDays).
	Days int
	// Photo is the photo of every template (default a 16×16 JPEG, cheap to
	// process). Copies name the template's photo objects: they share them.
	Photo []byte
	// JitterMetres moves each copy's position at random by up to this many
	// metres from its template's, in latitude and in longitude
	// (DefaultJitterMetres; negative: not at all).
	JitterMetres float64
	// Batch is how many reports go to the store in one InsertMany per
	// collection (DefaultBatch).
	Batch int
	// Seed seeds the choices (jitter); fills with the same seed move their
	// copies alike.
	Seed uint64
}

// Filled is one report Fill stored.
type Filled struct {
	ID         string
	Template   string // the template it copies (its own id for a template)
	ReporterID string
	Cell       string
	Status     reports.Status
	Entries    int // the length of its timeline
}

// FillResult says what Fill stored.
type FillResult struct {
	// Reports lists every report stored: the templates first, then the
	// copies, oldest first.
	Reports    []Filled
	Templates  int
	Open       int            // reports left open
	OpenByCell map[string]int // open reports per cell ("" for outside the map)
	Elapsed    time.Duration
}

// Fill stores opts.Reports reports: opts.Templates filed through svc.Submit
// and brought to every status, open and closed, by svc.Act, then copies of
// them under fresh ids, inserted into the collections the service writes:
// the report, its timeline (entry ids "<report>:%06d"), the open reports
// for an open one, and its reporter's list. A copy keeps its template's
// cell, officer, category, status, photos (the same objects) and timeline,
// with every time moved by the same amount so that its created_at falls in
// the last opts.Days days; its position moves by a few metres.
//
// Fill writes no report events: the feed, inbox, points and delivery
// records hold the templates' events only, and the copies' timeline entries
// are marked published, as once delivered. So a service's model of the open
// reports does not learn of the copies by itself: after Fill, the caller
// rebuilds it with svc.LoadOpen(ctx, nil) (or with the feed, the first
// time). Fill must not run while others submit reports for the same
// reporters (it appends to their lists without the service's locks).
func Fill(ctx context.Context, db *mongo.Database, svc *reports.Service, opts FillOptions) (FillResult, error) {
	start := time.Now()
	if err := opts.defaults(); err != nil {
		return FillResult{}, err
	}
	res := FillResult{OpenByCell: map[string]int{}}
	nonce := randomHex(4)
	ts, err := fileTemplates(ctx, db, svc, opts, nonce)
	if err != nil {
		return FillResult{}, err
	}
	var openT, closedT []*template
	for _, t := range ts {
		res.Reports = append(res.Reports, t.filled)
		if t.filled.Status.Open() {
			openT = append(openT, t)
		} else {
			closedT = append(closedT, t)
		}
	}
	if len(openT) == 0 || len(closedT) == 0 {
		return FillResult{}, fmt.Errorf("reportstest: the %d templates must hold open and closed reports; file at least 6", len(ts))
	}
	res.Templates = len(ts)

	copies := opts.Reports - len(ts)
	openCopies := min(max(int(math.Round(float64(opts.Reports)*opts.OpenShare))-len(openT), 0), copies)
	c := &cloner{db: db, opts: opts, rng: mrand.New(mrand.NewPCG(opts.Seed, 0x6e78)), nonce: nonce,
		ends: map[string]int{}}
	end := start.UTC()
	span := time.Duration(opts.Days) * 24 * time.Hour
	var nOpen, nClosed int
	for from := 0; from < copies; from += opts.Batch {
		var b batch
		for i := from; i < min(copies, from+opts.Batch); i++ {
			// Open copies are spread evenly among the closed ones, and so
			// over the days.
			var t *template
			if (i+1)*openCopies/copies > i*openCopies/copies {
				t = openT[nOpen%len(openT)]
				nOpen++
			} else {
				t = closedT[nClosed%len(closedT)]
				nClosed++
			}
			created := end.Add(-span + time.Duration((float64(i)+0.5)*float64(span)/float64(copies)))
			f, err := c.copy(ctx, t, i, created, &b)
			if err != nil {
				return FillResult{}, err
			}
			res.Reports = append(res.Reports, f)
		}
		if err := b.insert(ctx, db); err != nil {
			return FillResult{}, err
		}
	}
	for _, f := range res.Reports {
		if f.Status.Open() {
			res.Open++
			res.OpenByCell[f.Cell]++
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func (o *FillOptions) defaults() error {
	if o.Reports <= 0 {
		return errors.New("reportstest: say how many reports to store (FillOptions.Reports)")
	}
	if len(o.Places) == 0 {
		return errors.New("reportstest: give the places where templates are filed (FillOptions.Places)")
	}
	if o.OpenShare <= 0 {
		o.OpenShare = DefaultOpenShare
	}
	if o.OpenShare > 1 {
		return fmt.Errorf("reportstest: an open share of %v is more than all reports", o.OpenShare)
	}
	if len(o.Reporters) == 0 {
		for i := range defaultReporters {
			o.Reporters = append(o.Reporters, fmt.Sprintf("fill-rider-%02d", i+1))
		}
	}
	if o.Templates <= 0 {
		o.Templates = DefaultTemplates
	}
	o.Templates = min(o.Templates, o.Reports)
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	if o.Photo == nil {
		o.Photo = smallJPEG()
	}
	if o.JitterMetres == 0 {
		o.JitterMetres = DefaultJitterMetres
	}
	o.JitterMetres = max(o.JitterMetres, 0)
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	return nil
}

// template is a report filed through the service, as stored.
type template struct {
	filled   Filled
	created  time.Time
	lat, lng float64
	report   bson.D   // its reports document
	open     bson.D   // its open_reports document, if open
	entries  []bson.D // its timeline, in order
	roles    []string // the actor role of each entry
	listItem bson.D   // its entry in its reporter's list
}

// steps are the officer's actions that bring a submitted report to each
// status; the second way for a status makes a longer timeline.
var steps = map[reports.Status][][]reports.ActionInput{
	reports.StatusSubmitted:    {nil},
	reports.StatusAcknowledged: {{{Action: reports.ActAcknowledge}}},
	reports.StatusVerified: {{{Action: reports.ActVerify, Severity: 1}},
		{{Action: reports.ActAcknowledge}, {Action: reports.ActVerify, Severity: 3}}},
	reports.StatusInProgress: {{{Action: reports.ActVerify, Severity: 2}, {Action: reports.ActStart}}},
	reports.StatusResolved: {{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve}},
		{{Action: reports.ActAcknowledge}, {Action: reports.ActVerify, Severity: 2}, {Action: reports.ActStart}, {Action: reports.ActResolve}}},
	reports.StatusRejected: {{{Action: reports.ActReject, Reason: "not_a_problem"}},
		{{Action: reports.ActAcknowledge}, {Action: reports.ActReject, Reason: "insufficient_evidence"}}},
}

// fileTemplates files the templates, then reads what the service stored.
// Template t goes to place t mod len(Places); at one place, templates take
// different categories in turn (so that none is a duplicate of another
// unless there are more templates at a place than categories) and every
// status in turn.
func fileTemplates(ctx context.Context, db *mongo.Database, svc *reports.Service, opts FillOptions, nonce string) ([]*template, error) {
	cats := svc.Categories()
	n := len(opts.Places)
	var out []*template
	for t := range opts.Templates {
		p, k := t%n, t/n
		place := opts.Places[p]
		status := reports.Statuses[(k+p)%len(reports.Statuses)]
		lat, lng := place.Lat, place.Lng
		in := reports.Submission{Key: fmt.Sprintf("fill-%s-template-%d", nonce, t), Category: cats[(k+3*p)%len(cats)].Code,
			Description: fmt.Sprintf("模板报告 %d（基准填充）", t+1), Address: "测试路 1 号",
			Lat: &lat, Lng: &lng, Photos: [][]byte{opts.Photo}}
		reporter := opts.Reporters[t%len(opts.Reporters)]
		r, _, err := svc.Submit(ctx, reporter, in)
		if err != nil {
			return nil, fmt.Errorf("reportstest: file template %d: %w", t+1, err)
		}
		ways := steps[status]
		actor := reports.Actor{ID: r.OfficerID, Role: reports.RoleOfficer}
		if r.OfficerID == "" {
			actor = reports.Actor{ID: "fill-admin", Role: reports.RoleAdmin}
		}
		for _, a := range ways[k%len(ways)] {
			if r, err = svc.Act(ctx, actor, r.ID, a); err != nil {
				return nil, fmt.Errorf("reportstest: template %d: %s: %w", t+1, a.Action, err)
			}
		}
		if r.Status != status {
			return nil, fmt.Errorf("reportstest: template %d is %s after the actions, want %s", t+1, r.Status, status)
		}
		out = append(out, &template{filled: Filled{ID: r.ID, Template: r.ID, ReporterID: reporter, Cell: r.Cell, Status: status}})
	}
	// Read them once the work the service does after answering (the
	// thumbnails) is done, so that the copies are of finished reports.
	svc.Wait()
	for _, t := range out {
		if err := t.read(ctx, db); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read loads what the service stored for the template.
func (t *template) read(ctx context.Context, db *mongo.Database) error {
	id := t.filled.ID
	raw, err := db.Collection(reportsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return fmt.Errorf("reportstest: read template %s: %w", id, err)
	}
	var r reports.Report
	if err := bson.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("reportstest: decode template %s: %w", id, err)
	}
	if r.Status != t.filled.Status {
		return fmt.Errorf("reportstest: template %s is stored as %s, want %s", id, r.Status, t.filled.Status)
	}
	t.created, t.lat, t.lng = r.CreatedAt, r.Lat, r.Lng
	if t.report, err = document(raw); err != nil {
		return err
	}
	if r.Status.Open() {
		raw, err := db.Collection(openCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			return fmt.Errorf("reportstest: read the open copy of template %s: %w", id, err)
		}
		if t.open, err = document(raw); err != nil {
			return err
		}
	}
	// Not by _id: a scan, but of a store holding little more than the
	// templates yet.
	cur, err := db.Collection(timelineCollection).Find(ctx, bson.D{{Key: "report_id", Value: id}}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return fmt.Errorf("reportstest: read the timeline of template %s: %w", id, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var e reports.Entry
		if err := bson.Unmarshal(cur.Current, &e); err != nil {
			return fmt.Errorf("reportstest: decode the timeline of template %s: %w", id, err)
		}
		if e.Seq != len(t.entries)+1 {
			return fmt.Errorf("reportstest: the timeline of template %s has entry %d at place %d", id, e.Seq, len(t.entries)+1)
		}
		d, err := document(cur.Current)
		if err != nil {
			return err
		}
		t.entries, t.roles = append(t.entries, d), append(t.roles, e.ActorRole)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("reportstest: read the timeline of template %s: %w", id, err)
	}
	if len(t.entries) != r.Seq {
		return fmt.Errorf("reportstest: template %s has %d timeline entries, and seq %d", id, len(t.entries), r.Seq)
	}
	t.filled.Entries = len(t.entries)
	raw, err = db.Collection(listCollection).FindOne(ctx, bson.D{{Key: "report_id", Value: id}}).Raw()
	if err != nil {
		return fmt.Errorf("reportstest: read template %s's entry in its reporter's list: %w", id, err)
	}
	t.listItem, err = document(raw)
	return err
}

func document(raw bson.Raw) (bson.D, error) {
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("reportstest: decode a stored document: %w", err)
	}
	return d, nil
}

// cloner makes the copies.
type cloner struct {
	db    *mongo.Database
	opts  FillOptions
	rng   *mrand.Rand
	nonce string
	ends  map[string]int // reporter → the last number in their list
}

// batch holds the documents of a batch of copies, per collection.
type batch struct {
	reports, entries, open, list []any
}

func (b *batch) insert(ctx context.Context, db *mongo.Database) error {
	for _, c := range []struct {
		coll string
		docs []any
	}{{reportsCollection, b.reports}, {timelineCollection, b.entries}, {openCollection, b.open}, {listCollection, b.list}} {
		if len(c.docs) == 0 {
			continue
		}
		if _, err := db.Collection(c.coll).InsertMany(ctx, c.docs, options.InsertMany().SetOrdered(false)); err != nil {
			return fmt.Errorf("reportstest: insert %d documents into %s: %w", len(c.docs), c.coll, err)
		}
	}
	return nil
}

// copy adds copy i of t, created at created, to b.
func (c *cloner) copy(ctx context.Context, t *template, i int, created time.Time, b *batch) (Filled, error) {
	id := randomHex(12) // as long as the service's ids
	reporter := c.opts.Reporters[i%len(c.opts.Reporters)]
	// Every time of the report moves by the same amount, as if it had all
	// happened that much earlier. Times far from the report's own (the
	// zero time of a deadline not set, the far future that orders closed
	// reports last) stay as they are.
	delta := created.Sub(t.created).Milliseconds()
	lo, hi := t.created.Add(-48*time.Hour), t.created.Add(400*24*time.Hour)
	mv := func(d bson.D) bson.D { return shiftTimes(d, lo, hi, delta).(bson.D) }
	j := c.opts.JitterMetres
	lat := t.lat + (c.rng.Float64()*2-1)*j/metresPerDegree
	lng := t.lng + (c.rng.Float64()*2-1)*j/(metresPerDegree*math.Max(math.Cos(t.lat*math.Pi/180), 0.01))
	fix := func(d bson.D) bson.D {
		d = set(d, "_id", id)
		d = set(d, "reporter_id", reporter)
		d = set(d, "idem_key", fmt.Sprintf("fill-%s-%d", c.nonce, i))
		d = set(d, "lat", lat)
		return set(d, "lng", lng)
	}
	b.reports = append(b.reports, fix(mv(t.report)))
	if t.open != nil {
		b.open = append(b.open, fix(mv(t.open)))
	}
	for n, e := range t.entries {
		e = mv(e)
		e = set(e, "_id", fmt.Sprintf("%s:%06d", id, n+1))
		e = set(e, "report_id", id)
		if t.roles[n] == reports.RoleRider {
			e = set(e, "actor_id", reporter)
		}
		// Its events count as delivered: Repair must not hand them to
		// the consumers.
		e = set(e, "published", true)
		b.entries = append(b.entries, e)
	}
	end, ok := c.ends[reporter]
	if !ok {
		var err error
		if end, err = storage.ChainHead(ctx, c.db.Collection(listCollection), reporter, 0); err != nil {
			return Filled{}, fmt.Errorf("reportstest: find the end of %s's list: %w", reporter, err)
		}
	}
	end++
	c.ends[reporter] = end
	item := set(clone(t.listItem), "_id", storage.ChainID(reporter, end))
	b.list = append(b.list, set(item, "report_id", id))
	f := t.filled
	f.ID, f.ReporterID = id, reporter
	return f, nil
}

const metresPerDegree = 111_320.0

// shiftTimes returns a copy of v with every date between lo and hi moved by
// delta milliseconds.
func shiftTimes(v any, lo, hi time.Time, delta int64) any {
	switch x := v.(type) {
	case bson.D:
		out := make(bson.D, len(x))
		for i, e := range x {
			out[i] = bson.E{Key: e.Key, Value: shiftTimes(e.Value, lo, hi, delta)}
		}
		return out
	case bson.A:
		out := make(bson.A, len(x))
		for i, e := range x {
			out[i] = shiftTimes(e, lo, hi, delta)
		}
		return out
	case bson.DateTime:
		if t := x.Time(); !t.Before(lo) && !t.After(hi) {
			return bson.DateTime(int64(x) + delta)
		}
	}
	return v
}

func clone(d bson.D) bson.D { return shiftTimes(d, time.Time{}, time.Time{}, 0).(bson.D) }

// set returns d with key set to v (added if d lacks it). d is a fresh copy
// of the template's document, so it is changed in place.
func set(d bson.D, key string, v any) bson.D {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = v
			return d
		}
	}
	return append(d, bson.E{Key: key, Value: v})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// smallJPEG is a 16×16 JPEG: processing it costs little, so filing the
// templates measures the writes, not the imaging.
func smallJPEG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err) // encoding an in-memory image into a buffer cannot fail
	}
	return buf.Bytes()
}
