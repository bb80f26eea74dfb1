package reports

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
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
	ReportSeq  int // the report's timeline entry this event is
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
}

// Events receives report events. Delivery is at least once; consumers make
// handling idempotent by Event.ID.
type Events interface {
	Publish(ctx context.Context, e Event) error
}

// Fanout hands each event to several consumers in order. If one fails the
// event counts as undelivered and is delivered to all of them again later,
// which idempotent consumers absorb.
type Fanout []Events

// Publish implements Events.
func (f Fanout) Publish(ctx context.Context, e Event) error {
	for _, c := range f {
		if err := c.Publish(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Config holds the service commitments and the category list.
type Config struct {
	AcknowledgeWithin time.Duration // default 10 minutes
	DecideWithin      time.Duration // verify or reject; default 24 hours
	Categories        []Category    // default DefaultCategories
}

// ErrUnavailable wraps a store failure the rider can retry.
var ErrUnavailable = errors.New("the service is briefly unavailable; your report was not saved, try again")

// Service runs reports.
type Service struct {
	store    *store
	blobs    *storage.Blobs
	grid     Grid
	accounts Accounts
	events   Events
	cfg      Config
	log      *slog.Logger
	now      func() time.Time

	// photoSlots bounds how many photos are decoded at once: one decode of a
	// 40-megapixel photo may take a few hundred MB, so a burst of uploads
	// must queue rather than exhaust memory.
	photoSlots chan struct{}

	// afterPhotos, when set (by tests), runs between storing the photos and
	// storing the report: where a failing document store hurts most.
	afterPhotos func()
}

// NewService builds the reports service.
func NewService(db *mongo.Database, blobs *storage.Blobs, grid Grid, accounts Accounts, events Events, cfg Config, log *slog.Logger) *Service {
	if cfg.AcknowledgeWithin <= 0 {
		cfg.AcknowledgeWithin = 10 * time.Minute
	}
	if cfg.DecideWithin <= 0 {
		cfg.DecideWithin = 24 * time.Hour
	}
	if len(cfg.Categories) == 0 {
		cfg.Categories = DefaultCategories
	}
	return &Service{store: newStore(db), blobs: blobs, grid: grid, accounts: accounts, events: events, cfg: cfg, log: log,
		now: func() time.Time { return time.Now().UTC() }, photoSlots: make(chan struct{}, 2)}
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
// ErrIdempotencyKey, ErrUnavailable. Nothing is left stored when it fails.
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
	if n := len(in.Photos); n < MinPhotos || n > MaxPhotos {
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

	id := reportID(reporterID, key)
	hash := bodyHash(in)
	if r, err := s.store.report(ctx, id); err == nil {
		return s.replay(r, hash)
	} else if !errors.Is(err, ErrNotFound) {
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	processed := make([]Processed, len(in.Photos))
	for i, raw := range in.Photos {
		p, err := s.processPhoto(ctx, raw)
		if err != nil {
			return Report{}, false, fmt.Errorf("photo %d: %w", i+1, err)
		}
		processed[i] = p
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

	// Photos first, report second: a report never exists without its photos.
	// If storing the report fails, the photos are removed again (and the
	// sweeper removes any whose removal failed).
	nonce := randomHex(6)
	var keys []string
	for i, p := range processed {
		base := fmt.Sprintf("%s%s/%s-%d", photoPrefix, id, nonce, i+1)
		photo, stored, err := s.putPhoto(ctx, base, p)
		keys = append(keys, stored...)
		if err != nil {
			s.removeObjects(ctx, keys)
			return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		r.Photos = append(r.Photos, photo)
	}
	if s.afterPhotos != nil {
		s.afterPhotos()
	}
	if err := s.store.insertReport(ctx, r); err != nil {
		s.removeObjects(ctx, keys)
		if errors.Is(err, errDuplicate) {
			// The same submission, sent twice at once: the other copy won.
			first, err := s.store.report(ctx, id)
			if err != nil {
				return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return s.replay(first, hash)
		}
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := Entry{ID: entryID(id, 1), ReportID: id, Seq: 1, Action: ActSubmit, ActorRole: RoleRider, ActorID: reporterID,
		Cell: st.Cell, At: r.CreatedAt, After: st}
	if err := s.store.insertEntry(ctx, e); err != nil {
		// Without its first entry the report would have no history; undo it.
		if derr := s.store.deleteReport(context.WithoutCancel(ctx), id); derr != nil {
			s.log.Error("remove report after failed timeline write", "report", id, "err", derr)
		}
		s.removeObjects(ctx, keys)
		return Report{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.publish(ctx, r, e)
	return r, true, nil
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

func (s *Service) replay(r Report, hash string) (Report, bool, error) {
	if r.BodyHash != hash {
		return Report{}, false, ErrIdempotencyKey
	}
	return r, false, nil
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

func (s *Service) putPhoto(ctx context.Context, base string, p Processed) (Photo, []string, error) {
	ext := ".jpg"
	if p.ContentType == "image/png" {
		ext = ".png"
	}
	photo := Photo{Key: base + ext, ThumbKey: base + ".thumb.jpg", ContentType: p.ContentType, Width: p.Width, Height: p.Height, Size: len(p.Body)}
	var stored []string
	if err := s.blobs.Put(ctx, photo.Key, bytes.NewReader(p.Body), int64(len(p.Body)), p.ContentType, nil); err != nil {
		return photo, stored, err
	}
	stored = append(stored, photo.Key)
	if err := s.blobs.Put(ctx, photo.ThumbKey, bytes.NewReader(p.Thumb), int64(len(p.Thumb)), "image/jpeg", nil); err != nil {
		return photo, stored, err
	}
	return photo, append(stored, photo.ThumbKey), nil
}

func (s *Service) removeObjects(ctx context.Context, keys []string) {
	ctx = context.WithoutCancel(ctx)
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			s.log.Warn("remove photo; the sweeper will retry", "key", k, "err", err)
		}
	}
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
	dLat := DuplicateRadius / 111_320.0
	dLng := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.01)
	cands, err := s.store.findOpen(ctx, bson.D{
		{Key: "category", Value: category},
		{Key: "created_at", Value: bson.D{{Key: "$gte", Value: at.Add(-DuplicateWindow)}}},
		{Key: "lat", Value: bson.D{{Key: "$gte", Value: lat - dLat}, {Key: "$lte", Value: lat + dLat}}},
		{Key: "lng", Value: bson.D{{Key: "$gte", Value: lng - dLng}, {Key: "$lte", Value: lng + dLng}}},
	}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(50))
	if err != nil {
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

// Get returns a report, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Report, error) {
	if len(id) > 64 {
		return Report{}, ErrNotFound
	}
	return s.store.report(ctx, id)
}

// Timeline returns the report's entries after seq afterSeq, oldest first.
func (s *Service) Timeline(ctx context.Context, id string, afterSeq int) ([]Entry, error) {
	return s.store.entries(ctx, id, afterSeq)
}

// Mine lists a rider's reports, newest first.
// (at most 200). It reads the reporter's list and each report by _id.
func (s *Service) Mine(ctx context.Context, reporterID string) ([]Report, error) {
	ids, err := s.store.mineIDs(ctx, reporterID)
	if err != nil {
		return nil, err
	}
	out := []Report{}
	for i := len(ids) - 1; i >= 0 && len(out) < 200; i-- {
		r, err := s.store.report(ctx, ids[i])
		if errors.Is(err, ErrNotFound) {
			continue // a submission undone after its id was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
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
