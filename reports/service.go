package reports

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// Grid is what reports needs of the city grid map.
type Grid interface {
	// Locate returns the code of the cell containing the point.
	Locate(lat, lng float64) (cell string, ok bool)
	// Officers returns the account ids of a cell's primary and backup officer.
	Officers(cell string) (primary, backup string)
	// DistanceToBorder is the distance in metres from the point to the cell's edge.
	DistanceToBorder(cell string, lat, lng float64) (float64, bool)
}

// Accounts tells whether an account can take work (exists and is enabled).
type Accounts interface {
	Active(ctx context.Context, id string) (bool, error)
}

// Event announces a change to a report, for whoever reacts to it (the
// notification inbox today, points later). ID is unique per change, so a
// consumer that sees the same event twice can tell.
type Event struct {
	ID         string
	Action     Action
	ReportID   string
	Ticket     string // the report's ticket number, for what consumers show
	ReportSeq  int    // the report's timeline entry this event is
	ReporterID string
	Category   string
	Status     Status
	Severity   int
	Duplicate  bool // a probable or confirmed duplicate of another report
	Cell       string
	OfficerID  string
	BackupID   string
	NextDue    time.Time
	Escalated  bool // a deadline was missed
	At         time.Time
	// Created and AckDue are the report's creation and acknowledgement
	// deadline, so that figures follow from the feed alone (an ack's
	// delay is At minus Created). Zero in feed entries written before
	// they were added.
	Created time.Time
	AckDue  time.Time
	// Rating and ResolvedAt are the report's after the change: a rating
	// (ActRate) counts in the figures by its kind and by the day of the
	// resolution it rates (rating.go). Note is the admin's note on an
	// uphold, for the reporter's inbox; empty on other events.
	Rating     string
	ResolvedAt time.Time
	Note       string
	// MeTooBy are the riders who confirmed the problem ("我也遇到",
	// State.MeTooBy): the points rules pay each once the problem is
	// verified.
	MeTooBy []string `bson:"me_too_by,omitempty"`
	// Again is set when the event is handed out again (Repair, a retried
	// submission) rather than by the change's own writer: only then may a
	// consumer hold something of the report newer than the event.
	Again bool `bson:"-"`
}

// Events receives report events. Delivery is at least once: an event may
// come again after a failure, a crash, or two instances redelivering at the
// same moment, so a consumer makes handling idempotent by Event.ID (a unique
// key in its own store: one notification per event and user, one award per
// report).
type Events interface {
	Publish(ctx context.Context, e Event) error
}

// Consumer is one receiver of report events under a name. Each consumer is
// delivered to on its own: a consumer that fails gets the event again later,
// while the others, whose delivery is then recorded under (event, name), do
// not (publish says when a delivery is recorded).
// The name keys those records, so it must stay the same across releases (a
// renamed consumer would be handed every event still undelivered); it is made
// of lower-case letters, digits, '_' and '-'.
type Consumer struct {
	Name   string
	Events Events
	// Last consumers are handed an event once every other consumer has had
	// it (taken or failed): the others take it at once, in parallel. The
	// feed is last, because live pages refresh when it moves and must find
	// the others' work (the points awarded, the inbox) done.
	Last bool
}

// listConsumer is the name under which the reporter's list ("my reports")
// takes its events: it is kept like any consumer, so it is reserved.
const listConsumer = "reporter_list"

func checkConsumers(cs []Consumer) error {
	seen := map[string]bool{listConsumer: true}
	for _, c := range cs {
		if c.Name == "" || strings.ContainsFunc(c.Name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) {
			return fmt.Errorf("reports: consumer name %q: use lower-case letters, digits, '_' and '-'", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("reports: consumer name %q is used twice (or is reserved)", c.Name)
		}
		if c.Events == nil {
			return fmt.Errorf("reports: consumer %q has no Events", c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Config holds the service commitments and the category list.
type Config struct {
	AcknowledgeWithin time.Duration // default 10 minutes
	DecideWithin      time.Duration // verify or reject; default 24 hours
	Categories        []Category    // default DefaultCategories
	// SubmitWriters bounds how many submissions write to the stores at
	// once; 0: no bound. The embedded store commits one write at a time,
	// and writers beyond a few make each other wait far longer than a
	// queue would: measured at concurrency 16, 24 submissions/s and a p99
	// of 3.7 s unbounded, 43/s and 0.57 s with 2 writers. The app sets it
	// to the number of cores on the embedded store only: MongoDB writes in
	// parallel.
	SubmitWriters int
}

// ErrUnavailable wraps a store failure the rider can retry.
var ErrUnavailable = errors.New("the service is briefly unavailable; your report was not saved, try again")

// Service runs reports.
type Service struct {
	store     *store
	tickets   *tickets
	blobs     *storage.Blobs
	grid      Grid
	accounts  Accounts
	consumers []Consumer // the reporter's list first, then those given to NewService
	cfg       Config
	log       *slog.Logger
	now       func() time.Time

	// photoSlots bounds how many photos are decoded at once: one decode of a
	// 40-megapixel photo may take a few hundred MB, so a burst of uploads
	// must queue rather than exhaust memory.
	photoSlots chan struct{}

	// figures is the model of the service figures (figures.go), once
	// LoadFigures has run.
	figures   *figureSet
	figuresMu sync.Mutex

	// thumbSlots bounds the thumbnails made after the answer to half the
	// cores, so that they never starve the answers themselves.
	thumbSlots chan struct{}
	// submitWriters bounds the submissions writing at once (Config).
	submitWriters chan struct{}
	// later runs what a submission does after the answer: its thumbnails
	// (thumbs.go) and the mark that its event is published. laterBytes is
	// what the photos waiting for their thumbnails hold; stopping, once
	// closed (StopLater), sends those still waiting to Repair.
	later      sync.WaitGroup
	laterBytes atomic.Int64
	stopping   chan struct{}
	stopOnce   sync.Once

	// open is this instance's model of the open reports (openset.go), kept
	// current from feed once LoadOpen has run.
	open           openSet
	feed           *Feed
	openRereadHook func(ctx context.Context, id string) (Report, error) // tests: break re-reads

	// stopAt, when set (by tests), runs at each point between two writes
	// of a submission or a change (see Service.at): a test stops the
	// service there, as a kill would, or breaks a store.
	stopAt func(point string)

	// metoo holds the key of the "me too" refs and serializes the
	// confirmations of one report in this instance (metoo.go).
	metoo meTooState
}

// NewService builds the reports service. consumers receive every report
// event, each on its own (see Consumer); it panics if two share a name or a
// name is not allowed, a wiring mistake that must stop the program at start.
func NewService(db *mongo.Database, blobs *storage.Blobs, grid Grid, accounts Accounts, consumers []Consumer, cfg Config, log *slog.Logger) *Service {
	if err := checkConsumers(consumers); err != nil {
		panic(err)
	}
	if cfg.AcknowledgeWithin <= 0 {
		cfg.AcknowledgeWithin = 10 * time.Minute
	}
	if cfg.DecideWithin <= 0 {
		cfg.DecideWithin = 24 * time.Hour
	}
	if len(cfg.Categories) == 0 {
		cfg.Categories = DefaultCategories
	}
	st := newStore(db)
	all := append([]Consumer{{Name: listConsumer, Events: st.list}}, consumers...)
	var writers chan struct{}
	if cfg.SubmitWriters > 0 {
		writers = make(chan struct{}, cfg.SubmitWriters)
	}
	return &Service{submitWriters: writers, store: st, tickets: newTickets(db), blobs: blobs, grid: grid, accounts: accounts, consumers: all, cfg: cfg, log: log,
		now: storeClock, photoSlots: make(chan struct{}, 2),
		thumbSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), stopping: make(chan struct{})}
}

// storeClock is the service's clock: UTC, to the millisecond, which is
// what the document store keeps of a time. A report held in memory (the
// open model, an answer) then orders and compares exactly as its stored
// copy does: two reports created within the same millisecond used to sort
// by their nanoseconds in memory and by their ids in the store.
func storeClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// at marks a point between two writes, where a test may stop the service.
func (s *Service) at(point string) {
	if s.stopAt != nil {
		s.stopAt(point)
	}
}

// Categories returns the configured categories.
func (s *Service) Categories() []Category { return s.cfg.Categories }

func (s *Service) category(code string) bool {
	return slices.ContainsFunc(s.cfg.Categories, func(c Category) bool { return c.Code == code })
}

// Submission is what a rider sends.
type Submission struct {
	Key         string // Idempotency-Key: the same key returns the first report
	Category    string
	Description string
	Address     string
	Lat, Lng    *float64 // nil: use the photo's GPS
	Manual      bool     // the position was picked by hand on the map
	Photos      [][]byte
}

func cleanText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", &ValidationError{Field: field, Reason: "is not valid text"}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", &ValidationError{Field: field, Reason: fmt.Sprintf("is %d characters long; at most %d are allowed", n, max)}
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", &ValidationError{Field: field, Reason: "contains characters that cannot be shown"}
		}
	}
	return s, nil
}

// CheckPosition validates a WGS-84 position.
func CheckPosition(lat, lng float64) error {
	if math.IsNaN(lat) || math.IsInf(lat, 0) || lat < -90 || lat > 90 {
		return &ValidationError{Field: "lat", Reason: "latitude must be a number between -90 and 90"}
	}
	if math.IsNaN(lng) || math.IsInf(lng, 0) || lng < -180 || lng > 180 {
		return &ValidationError{Field: "lng", Reason: "longitude must be a number between -180 and 180"}
	}
	return nil
}

// reportID is derived from the rider and their idempotency key, so that two
// copies of the same submission racing each other try to store the same
// document and the unique _id lets exactly one in.
func reportID(reporterID, key string) string {
	sum := sha256.Sum256([]byte(reporterID + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

func bodyHash(in Submission) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00", in.Category, strings.TrimSpace(in.Description), strings.TrimSpace(in.Address), in.Manual)
	if in.Lat != nil && in.Lng != nil {
		fmt.Fprintf(h, "%.7f,%.7f\x00", *in.Lat, *in.Lng)
	}
	for _, p := range in.Photos {
		sum := sha256.Sum256(p)
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Submit files a report. A retry with the same key and the same content
// returns the first report; the same key with other content is refused
// (ErrIdempotencyKey). Errors: *ValidationError, *PhotoError,
// ErrIdempotencyKey, ErrUnavailable.
//
// A submission that fails or stops before its report is stored leaves nothing
// anyone sees (its photos are removed, at once or by Repair), and a retry
// stores it. Once the report is stored, the retry with the same key, or
// Repair, completes what is missing: its first timeline entry, the queue, the
// reporter's list and the events.
func (s *Service) Submit(ctx context.Context, reporterID string, in Submission) (Report, bool, error) {
	key := strings.TrimSpace(in.Key)
	if key == "" || len(key) > MaxIdempotencyKey || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return Report{}, false, &ValidationError{Field: "Idempotency-Key", Reason: fmt.Sprintf("send a unique key of 1 to %d visible ASCII characters with each new report, and the same key when retrying it", MaxIdempotencyKey)}
	}
	if !s.category(in.Category) {
		return Report{}, false, &ValidationError{Field: "category", Reason: "choose one of the listed categories"}
	}
	desc, err := cleanText("description", in.Description, MaxDescription)
	if err != nil {
		return Report{}, false, err
	}
	addr, err := cleanText("address", in.Address, MaxAddress)
	if err != nil {
		return Report{}, false, err
	}
	// Riders attach 1 to 3 photos; only SubmitPhotoOptional (Open311, whose
	// specification makes media optional) may send none: see photo.go.
	if n := len(in.Photos); n < minPhotos(ctx) || n > MaxPhotos {
		return Report{}, false, &ValidationError{Field: "photos", Reason: fmt.Sprintf("attach 1 to 3 photos (got %d)", n)}
	}
	if (in.Lat == nil) != (in.Lng == nil) {
		return Report{}, false, &ValidationError{Field: "lat", Reason: "send both lat and lng, or neither to use the photo's location"}
	}
	if in.Lat != nil {
		if err := CheckPosition(*in.Lat, *in.Lng); err != nil {
			return Report{}, false, err
		}
	}

	// No read of the report first: a retry of a stored submission is rare,
	// and its report insert below fails on the _id, which leads to the
	// same answer (resume) after removing this attempt's photos. Every
	// submission saves the read.
	id := reportID(reporterID, key)
	hash := bodyHash(in)

	processed := make([]Processed, len(in.Photos))
	deferred := make([]bool, len(in.Photos))
	for i, raw := range in.Photos {
		p, d, err := s.checkPhoto(ctx, raw)
		if err != nil {
			return Report{}, false, fmt.Errorf("photo %d: %w", i+1, err)
		}
		processed[i], deferred[i] = p, d
	}
	r := Report{ID: id, ReporterID: reporterID, Category: in.Category, Description: desc, Address: addr,
		CreatedAt: s.now(), IdemKey: key, BodyHash: hash, LocationSource: "device"}
	switch {
	case in.Lat != nil:
		r.Lat, r.Lng = *in.Lat, *in.Lng
		if in.Manual {
			r.LocationSource = "manual"
		}
	default:
		gps := firstGPS(processed)
		if gps == nil {
			return Report{}, false, &ValidationError{Field: "location", Reason: "the position is missing and the photo carries none: allow location access or pick the place on the map"}
		}
		r.Lat, r.Lng, r.LocationSource = gps.Lat, gps.Lng, "photo"
	}

	st, err := s.route(ctx, r.Lat, r.Lng, r.CreatedAt)
	if err != nil {
		return Report{}, false, err
	}
	if dup, err := s.findDuplicate(ctx, r.Category, r.Lat, r.Lng, r.CreatedAt); err != nil {
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else if dup != "" {
		st.DuplicateOf, st.DuplicateState = dup, "probable"
	}
	st.Status, st.Seq, st.UpdatedAt = StatusSubmitted, 1, r.CreatedAt
	st.NextDue = nextDue(st)
	r.State = st

	// The writes, in an order that a stop between any two of them (a
	// kill -9, a store that fails) leaves either nothing visible or a
	// report that a retry with the same key, or Repair, completes:
	//
	//  1. a pending note naming this attempt's photo objects, so that
	//     photos of an attempt that never stored its report are found and
	//     removed (Repair);
	//  2. the photos: a report never exists without them;
	//  3. its ticket number, claimed by a unique insert (tickets.go), at
	//     the same time as the photos are put; a number claimed here stays
	//     a gap if this attempt then fails, loses the race for the report
	//     or stops before storing it;
	//  4. the report, under an _id derived from the rider and the key, with
	//     its ticket: of racing copies one wins, and a retry or the losing
	//     copy answers the winner's report, ticket and all;
	//  5. its first timeline entry, which follows from the report alone, so
	//     whoever finds the report without it (the retry, Repair, the first
	//     action on the report) writes the same entry;
	//  6. the open set, the reporter's list and the consumers (publish),
	//     then, after the answer, the mark that the entry is published;
	//     Repair redelivers what is not;
	//  7. the pending note is removed, once the photos have their
	//     thumbnails: those of upright JPEGs are made after the answer
	//     (thumbs.go), and Repair makes them if this instance stops first.
	nonce := randomHex(6)
	photos := make([]Photo, len(processed))
	var keys []string
	for i, p := range processed {
		photos[i] = photoFor(fmt.Sprintf("%s%s/%s-%d", photoPrefix, id, nonce, i+1), p)
		keys = append(keys, photos[i].Key, photos[i].ThumbKey)
	}
	note := pending{ID: id + "/" + nonce, ReportID: id, Keys: keys, At: s.now()}
	if s.submitWriters != nil {
		select {
		case s.submitWriters <- struct{}{}:
		case <-ctx.Done():
			return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		defer func() { <-s.submitWriters }()
	}
	if err := s.store.insertPending(ctx, note); err != nil {
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.at("pending")
	// The ticket is claimed while the photos are put: neither needs the
	// other, and the report needs both. The object store and the document
	// store work in parallel, so this takes the longer of the two rather
	// than their sum. The attempt's note names the claim: a source no
	// other attempt claims under, so each attempt gets a number of its own
	// and the report keeps the one it was stored with.
	var (
		ticket    string
		ticketErr error
		claimed   = make(chan struct{})
	)
	go func() {
		defer close(claimed)
		ticket, ticketErr = s.tickets.claim(ctx, note.ID, id, r.CreatedAt)
	}()
	var putErr error
	for i, p := range processed {
		if putErr = s.putPhoto(ctx, photos[i], p); putErr != nil {
			break
		}
	}
	<-claimed
	if err := cmp.Or(putErr, ticketErr); err != nil {
		// A number claimed by an attempt that stops here stays a gap, as
		// when the attempt loses the race for the report (tickets.go).
		s.abandon(ctx, note)
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	r.Photos, r.Ticket = photos, ticket
	// Both points come after both writes, in the goroutine a test stops.
	s.at("photos")
	s.at("ticket")
	if err := s.store.insertReport(ctx, r); err != nil {
		s.abandon(ctx, note)
		if errors.Is(err, errDuplicate) {
			// The same submission, sent twice at once: the other copy won.
			first, err := s.store.report(ctx, id)
			if err != nil {
				return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return s.resume(ctx, first, hash)
		}
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.at("report")
	e := submitEntry(r)
	again := false
	if err := s.store.insertEntry(ctx, e); errors.Is(err, errDuplicate) {
		again = true // a retry found the report first and wrote the same entry
	} else if err != nil {
		// The report stands without its entry, out of every queue: the
		// rider's retry with the same key, or Repair, writes the entry.
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.at("entry")
	if s.deliverAll(ctx, r, e, again) {
		// The mark is written after the answer: all it does is keep Repair
		// from handing the event out again, Repair leaves entries younger
		// than settle alone, and a consumer handed an event twice absorbs
		// it (Events). A stop before it is written costs one redelivery,
		// as a stop before it did when it came before the answer. (Repair's
		// own redeliveries mark at once: a second pass right after one
		// must find the mark.)
		s.later.Go(func() { s.markPublished(context.WithoutCancel(ctx), e) })
	}
	later := map[int][]byte{}
	for i, d := range deferred {
		if d {
			later[i] = processed[i].Body
		}
	}
	if len(later) > 0 {
		s.thumbsLater(ctx, r, note, later)
		return r, true, nil
	}
	if err := s.store.deletePending(ctx, note.ID); err != nil {
		s.log.Warn("remove the pending note of a stored report; Repair will", "report", id, "err", err)
	}
	s.at("noted")
	return r, true, nil
}

// submitEntry is a report's first timeline entry. It follows from the
// report alone (its state when stored is the entry's After), so that a
// report found without it gets exactly the entry its writer would have
// written.
func submitEntry(r Report) Entry {
	st := r.State
	st.Seq = 1
	return Entry{ID: entryID(r.ID, 1), ReportID: r.ID, Seq: 1, Action: ActSubmit, ActorRole: RoleRider, ActorID: r.ReporterID,
		Cell: st.Cell, At: r.CreatedAt, After: st}
}

// resume answers a retried submission with the stored report, after
// completing whatever a stopped first attempt left undone.
func (s *Service) resume(ctx context.Context, r Report, hash string) (Report, bool, error) {
	if r.BodyHash != hash {
		return Report{}, false, ErrIdempotencyKey
	}
	if err := s.complete(ctx, r); err != nil {
		return Report{}, false, err
	}
	return r, false, nil
}

// complete makes sure a stored report has its first timeline entry and, once
// the writer can be presumed gone (settle), that the entry was published.
// A writer still at work within settle is left to finish, so that concurrent
// copies of one submission do not all publish it; Repair publishes it if that
// writer stopped.
func (s *Service) complete(ctx context.Context, r Report) error {
	e, err := s.ensureSubmitEntry(ctx, r)
	if err != nil {
		return err
	}
	if !e.Published && !e.At.After(s.now().Add(-settle)) {
		s.publish(ctx, r, e, true)
	}
	return nil
}

// ensureSubmitEntry returns the report's first entry, writing it if a
// stopped writer left the report without one.
func (s *Service) ensureSubmitEntry(ctx context.Context, r Report) (Entry, error) {
	e, err := s.store.entry(ctx, entryID(r.ID, 1))
	if err == nil {
		return e, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if r.Seq != 1 {
		// Later entries exist, so the first did once: transition writes it
		// before any other. Nothing to rebuild it from.
		return Entry{}, fmt.Errorf("%w: report %s has entries but not its first", ErrUnavailable, r.ID)
	}
	e = submitEntry(r)
	switch err := s.store.insertEntry(ctx, e); {
	case errors.Is(err, errDuplicate):
		// Its writer, or another repair, was quicker: theirs may be
		// published already.
		if stored, err := s.store.entry(ctx, e.ID); err == nil {
			return stored, nil
		}
	case err != nil:
		return Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		s.log.Info("wrote the first timeline entry of a report stored without it", "report", r.ID)
	}
	return e, nil
}

// settle is how long work may stay unfinished before it is taken to be
// abandoned by a writer that stopped: Repair and retries finish only what is
// older, so a writer still at work is not duplicated by them.
const settle = 5 * time.Second

// abandonAfter is how long a pending note whose report was never stored is
// kept before its photos are removed: far longer than any submission takes
// between the note and the report, so a slow one is never robbed.
const abandonAfter = time.Hour

// abandon removes the photos of a submission that did not store its report,
// and its pending note once they are gone (else Repair tries again).
func (s *Service) abandon(ctx context.Context, note pending) {
	if !s.removeObjects(ctx, note.Keys) {
		return
	}
	if err := s.store.deletePending(context.WithoutCancel(ctx), note.ID); err != nil {
		s.log.Warn("remove a pending note; Repair will", "note", note.ID, "err", err)
	}
}

// checkPhoto takes an upright JPEG with the checks that need no pixels
// (deferred: its thumbnail is made after the answer), and processes
// anything else in full, with a slot held.
func (s *Service) checkPhoto(ctx context.Context, raw []byte) (Processed, bool, error) {
	if p, ok, err := uprightJPEG(raw); err != nil || ok {
		return p, ok, err
	}
	p, err := s.processPhoto(ctx, raw)
	return p, false, err
}

// processPhoto runs ProcessPhoto when a slot is free.
func (s *Service) processPhoto(ctx context.Context, raw []byte) (Processed, error) {
	select {
	case s.photoSlots <- struct{}{}:
	case <-ctx.Done():
		return Processed{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	defer func() { <-s.photoSlots }()
	return ProcessPhoto(raw)
}

func firstGPS(ps []Processed) *GPS {
	for _, p := range ps {
		if p.GPS != nil {
			return p.GPS
		}
	}
	return nil
}

const photoPrefix = "reports/"

// photoFor names where a processed photo and its thumbnail are stored.
func photoFor(base string, p Processed) Photo {
	ext := ".jpg"
	if p.ContentType == "image/png" {
		ext = ".png"
	}
	return Photo{Key: base + ext, ThumbKey: base + ".thumb.jpg", ContentType: p.ContentType, Width: p.Width, Height: p.Height, Size: len(p.Body)}
}

// putPhoto stores a photo and its thumbnail under the keys photoFor chose.
// An upright JPEG has no thumbnail yet (thumbs.go): it is put later.
func (s *Service) putPhoto(ctx context.Context, photo Photo, p Processed) error {
	if err := s.blobs.Put(ctx, photo.Key, bytes.NewReader(p.Body), int64(len(p.Body)), p.ContentType, nil); err != nil {
		return err
	}
	if p.Thumb == nil {
		return nil
	}
	return s.blobs.Put(ctx, photo.ThumbKey, bytes.NewReader(p.Thumb), int64(len(p.Thumb)), "image/jpeg", nil)
}

// removeObjects deletes objects (a missing one counts as deleted) and
// reports whether all are gone.
func (s *Service) removeObjects(ctx context.Context, keys []string) bool {
	ctx = context.WithoutCancel(ctx)
	ok := true
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Warn("remove photo; Repair will retry", "key", k, "err", err)
			ok = false
		}
	}
	return ok
}

// route places a point in its cell and picks who answers for it: the cell's
// primary officer, else its backup, else nobody (the admin queue).
func (s *Service) route(ctx context.Context, lat, lng float64, at time.Time) (State, error) {
	st := State{AckDue: at.Add(s.cfg.AcknowledgeWithin), DecideDue: at.Add(s.cfg.DecideWithin)}
	cell, ok := s.grid.Locate(lat, lng)
	if !ok {
		return st, nil
	}
	st.Cell = cell
	if d, ok := s.grid.DistanceToBorder(cell, lat, lng); ok && d < BorderMargin {
		st.NearBorder = true
	}
	primary, backup := s.grid.Officers(cell)
	for _, id := range []string{primary, backup} {
		if id == "" {
			continue
		}
		active, err := s.accounts.Active(ctx, id)
		if err != nil {
			return st, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if active {
			st.OfficerID = id
			break
		}
	}
	if st.OfficerID != backup {
		st.BackupID = backup
	}
	return st, nil
}

// findDuplicate returns the first open report of the category within
// DuplicateRadius and DuplicateWindow: the one whose reporter keeps the credit.
func (s *Service) findDuplicate(ctx context.Context, category string, lat, lng float64, at time.Time) (string, error) {
	var (
		cands []Report
		err   error
	)
	if x, done, ok := s.open.read(); ok {
		cands = x.nearby(category, lat, lng, at.Add(-DuplicateWindow))
		done()
	} else if cands, err = s.findDuplicateCandidates(ctx, category, lat, lng, at); err != nil {
		return "", err
	}
	for _, c := range cands {
		if c.Status.Open() && distance(lat, lng, c.Lat, c.Lng) <= DuplicateRadius {
			if c.DuplicateOf != "" && c.DuplicateState == "confirmed" {
				return c.DuplicateOf, nil
			}
			return c.ID, nil
		}
	}
	return "", nil
}

// findDuplicateCandidates queries the open_reports collection, for when the
// model is not ready.
func (s *Service) findDuplicateCandidates(ctx context.Context, category string, lat, lng float64, at time.Time) ([]Report, error) {
	dLat := DuplicateRadius / 111_320.0
	dLng := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.01)
	return s.store.findOpen(ctx, bson.D{
		{Key: "category", Value: category},
		{Key: "created_at", Value: bson.D{{Key: "$gte", Value: at.Add(-DuplicateWindow)}}},
		{Key: "lat", Value: bson.D{{Key: "$gte", Value: lat - dLat}, {Key: "$lte", Value: lat + dLat}}},
		{Key: "lng", Value: bson.D{{Key: "$gte", Value: lng - dLng}, {Key: "$lte", Value: lng + dLng}}},
	}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(50))
}

// distance is the haversine distance in metres.
func distance(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6_371_000.0
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// farFuture orders closed reports after every open one in the queue.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// nextDue is the deadline that matters now: acknowledge, then decide, then
// follow up within a day of the decision.
func nextDue(st State) time.Time {
	switch st.Status {
	case StatusSubmitted:
		return st.AckDue
	case StatusAcknowledged:
		return st.DecideDue
	case StatusVerified, StatusInProgress:
		return st.DecidedAt.Add(24 * time.Hour)
	}
	return farFuture
}

func entryID(reportID string, seq int) string { return fmt.Sprintf("%s:%06d", reportID, seq) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Get returns a report by its id or its ticket number (ParseTicket).
// Errors: ErrNotFound, *ValidationError for something written like a
// ticket number that cannot be one, ErrUnavailable.
func (s *Service) Get(ctx context.Context, ref string) (Report, error) {
	if len(ref) > 64 {
		return Report{}, ErrNotFound
	}
	t, ok, err := ParseTicket(ref)
	if err != nil {
		return Report{}, err
	}
	if ok {
		return s.ByTicket(ctx, t)
	}
	return s.store.report(ctx, ref)
}

// Timeline returns the report's entries after seq afterSeq, oldest first.
func (s *Service) Timeline(ctx context.Context, id string, afterSeq int) ([]Entry, error) {
	return s.store.entries(ctx, id, afterSeq)
}

// Mine lists a rider's reports, newest first (at most 200). It reads the
// reporter's list and each report by _id.
func (s *Service) Mine(ctx context.Context, reporterID string) ([]Report, error) {
	return s.mine(ctx, reporterID, 200)
}

func (s *Service) mine(ctx context.Context, reporterID string, limit int) ([]Report, error) {
	l := s.store.list
	n, err := l.end(ctx, reporterID)
	if err != nil {
		return nil, err
	}
	out := []Report{}
	seen := map[string]bool{}
	add := func(id string) error {
		if seen[id] {
			return nil // listed twice: the service stopped between listing and recording it
		}
		seen[id] = true
		r, err := s.store.report(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}
	for i := n; i >= 1 && len(out) < limit; i-- {
		id, err := l.at(ctx, reporterID, i)
		if err != nil {
			return nil, err
		}
		if err := add(id); err != nil {
			return nil, err
		}
	}
	if len(out) < limit {
		legacy, err := l.legacy(ctx, reporterID)
		if err != nil {
			return nil, err
		}
		for i := len(legacy) - 1; i >= 0 && len(out) < limit; i-- {
			if err := add(legacy[i]); err != nil {
				return nil, err
			}
		}
	}
	// The list is in the order reports were listed, which a report completed
	// late by Repair can upset; show them in the order filed.
	slices.SortStableFunc(out, func(a, b Report) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// OpenPhoto opens one of the report's photos (or its thumbnail, or the
// after-photo). Keys not belonging to the report are ErrNotFound.
func (s *Service) OpenPhoto(ctx context.Context, r Report, key string, thumb bool) (io.ReadCloser, storage.ObjectInfo, error) {
	photos := r.Photos
	if r.AfterPhoto != nil {
		photos = append(slices.Clone(photos), *r.AfterPhoto)
	}
	for _, p := range photos {
		if p.Key == key {
			k := p.Key
			if thumb {
				k = p.ThumbKey
			}
			rc, info, err := s.blobs.Get(ctx, k)
			if thumb && errors.Is(err, storage.ErrNotFound) {
				// Not made yet (thumbs.go): the photo itself, which the
				// browser scales, rather than a broken preview.
				rc, info, err = s.blobs.Get(ctx, p.Key)
			}
			if errors.Is(err, storage.ErrNotFound) {
				return nil, info, ErrNotFound
			}
			if err != nil {
				return nil, info, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return rc, info, nil
		}
	}
	return nil, storage.ObjectInfo{}, ErrNotFound
}
