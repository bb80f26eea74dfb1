package points

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// CityScope is the scope of a city-wide reward, picked up at any station.
// Any other scope is a station id: the reward is that station's, picked up
// there only.
const CityScope = "city"

// Limits of a reward's fields.
const (
	MaxPrice          = 100_000   // points
	MaxStock          = 1_000_000 // units ever offered
	MaxMonthlyLimit   = 1_000     // units per rider per month
	MaxPictureBytes   = 5 << 20   // an uploaded picture
	MaxPictureSide    = 4000      // pixels, either side
	maxNameLen        = 200       // characters
	rewardsCollection = "points_rewards"
)

// Shelf errors. The HTTP layer maps each to a status and a stable code.
var (
	// ErrRewardNotFound: no reward has that id.
	ErrRewardNotFound = errors.New("no such reward")
	// ErrRewardUnavailable: the reward is retired or outside its validity
	// window, or cannot be picked up at the station asked for.
	ErrRewardUnavailable = errors.New("reward not available")
	// ErrOutOfStock: every unit of the reward is reserved or picked up.
	ErrOutOfStock = errors.New("reward out of stock")
	// ErrLimitReached: the rider has reserved the reward as many times this
	// month as it allows.
	ErrLimitReached = errors.New("monthly limit for the reward reached")
	// ErrInDebt: the rider's balance is below zero, so spends are refused
	// until it is repaid.
	ErrInDebt = errors.New("points balance in debt")
	// ErrPicture: the uploaded picture is not a JPEG or PNG the shelf takes.
	ErrPicture = errors.New("unsupported reward picture")
	// ErrNoPicture: the reward has no picture.
	ErrNoPicture = errors.New("reward has no picture")
)

// FieldError says which field of a request is wrong and why. It matches
// ErrInvalid with errors.Is; nothing was written.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Reward is one item of the shelf.
type Reward struct {
	ID     string `bson:"_id" json:"id"`
	Scope  string `bson:"scope" json:"scope" doc:"\"city\" or the id of the station that offers it"`
	NameZH string `bson:"name_zh" json:"name_zh"`
	NameEN string `bson:"name_en" json:"name_en"`
	Price  int64  `bson:"price" json:"price" doc:"points"`
	// Stock is the number of units ever offered: reservations and pickups
	// take units from it (as claimed slots 1..Stock), a cancelled or
	// expired reservation gives its unit back, restocking adds to it.
	Stock   int64     `bson:"stock" json:"stock"`
	Limit   int       `bson:"limit" json:"limit" doc:"units one rider may reserve per month"`
	From    time.Time `bson:"from,omitzero" json:"from,omitzero"`
	Until   time.Time `bson:"until,omitzero" json:"until,omitzero"`
	Active  bool      `bson:"active" json:"active"`
	Picture string    `bson:"picture,omitempty" json:"-"` // object key
	Created time.Time `bson:"created" json:"created"`
	Updated time.Time `bson:"updated" json:"updated"`
	// HasPicture is set on the way out for clients.
	HasPicture bool `bson:"-" json:"has_picture"`
}

// Name is the reward's name in a language ("zh" or "en"), falling back to
// the Chinese name.
func (r Reward) Name(lang string) string {
	if strings.HasPrefix(lang, "en") && r.NameEN != "" {
		return r.NameEN
	}
	return r.NameZH
}

// Available reports whether riders may reserve the reward at t.
func (r Reward) Available(t time.Time) bool {
	return r.Active && (r.From.IsZero() || !t.Before(r.From)) && (r.Until.IsZero() || t.Before(r.Until))
}

// RewardSpec describes a new reward.
type RewardSpec struct {
	Scope          string
	NameZH, NameEN string
	Price          int64
	Stock          int64
	Limit          int
	From, Until    time.Time
}

// RewardChange changes a reward; nil fields stay as they are. AddStock
// adds units (restocking); a negative value takes back units not yet
// handed out, never below zero.
type RewardChange struct {
	NameZH, NameEN *string
	Price          *int64
	AddStock       int64
	Limit          *int
	From, Until    *time.Time
	Active         *bool
}

// Shelf keeps the rewards and their redemption: reserve, confirm, cancel,
// expire (see redeem.go).
type Shelf struct {
	l          *Ledger
	blobs      *storage.Blobs
	stations   StationDirectory
	pickupDays int
	log        *slog.Logger

	rewards, slots, reservations, codes, ends, open, lists, tries *mongo.Collection

	now   func() time.Time
	grace time.Duration // how long a reservation may stay in flight before repair aborts or completes it

	// locks serializes, inside this instance, the writers of one chain
	// (a reward's stock slots, a rider's month slots, a list, a throttle
	// window): optimistic chains collapse under contention on the embedded
	// store (DESIGN.md); the unique _id still decides between instances.
	locks storage.KeyedLocks[struct{}]
	mu    sync.Mutex
	hints map[string]int64 // chain → a number known to exist in it
	edit  storage.KeyedLocks[struct{}]

	// stopAt, when set (by tests), runs at each point between two steps of
	// a reserve ("claimed", "held"): a test stops the goroutine there as a
	// kill would.
	stopAt func(point string)
}

// NewShelf builds the shelf. pickupDays is how long a reserved reward waits
// at the station before the reservation expires (7 if ≤ 0).
func NewShelf(l *Ledger, db *mongo.Database, blobs *storage.Blobs, stations StationDirectory, pickupDays int, log *slog.Logger) *Shelf {
	if pickupDays <= 0 {
		pickupDays = 7
	}
	return &Shelf{
		l: l, blobs: blobs, stations: stations, pickupDays: pickupDays, log: log,
		rewards:      db.Collection(rewardsCollection),
		slots:        db.Collection(slotsCollection),
		reservations: db.Collection(reservationsCollection),
		codes:        db.Collection(codesCollection),
		ends:         db.Collection(endsCollection),
		open:         db.Collection(redeemOpenCollection),
		lists:        db.Collection(redeemListsCollection),
		tries:        db.Collection(codeTriesCollection),
		now:          func() time.Time { return time.Now().UTC() },
		grace:        10 * time.Minute,
		hints:        map[string]int64{},
	}
}

// PickupDays is how many days a reserved reward waits for its rider.
func (s *Shelf) PickupDays() int { return s.pickupDays }

func newRewardID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "rw" + strings.ToLower(encodeCrockford(b[:], 16))
}

func checkName(field, v string, required bool) error {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		return &FieldError{field, "a name is required"}
	case utf8.RuneCountInString(v) > maxNameLen:
		return &FieldError{field, fmt.Sprintf("a name has at most %d characters", maxNameLen)}
	}
	return nil
}

func checkPrice(p int64) error {
	if p < 1 || p > MaxPrice {
		return &FieldError{"price", fmt.Sprintf("the price must be a whole number of points from 1 to %d, not %d", MaxPrice, p)}
	}
	return nil
}

func checkLimit(n int) error {
	if n < 1 || n > MaxMonthlyLimit {
		return &FieldError{"limit", fmt.Sprintf("the monthly limit per rider must be from 1 to %d, not %d", MaxMonthlyLimit, n)}
	}
	return nil
}

func checkWindow(from, until time.Time) error {
	if !from.IsZero() && !until.IsZero() && !until.After(from) {
		return &FieldError{"until", "the end of the validity window must come after its start"}
	}
	return nil
}

// checkScope says whether scope is the city or a station that exists.
func (s *Shelf) checkScope(ctx context.Context, scope string) error {
	if scope == CityScope {
		return nil
	}
	if scope == "" {
		return &FieldError{"scope", `the scope must be "city" or a station id`}
	}
	_, ok, err := s.stations.Station(ctx, scope)
	if err != nil {
		return fmt.Errorf("look up station %q: %w", scope, err)
	}
	if !ok {
		return &FieldError{"scope", fmt.Sprintf("there is no station %q", scope)}
	}
	return nil
}

// Create adds a reward to the shelf, active at once. It returns a
// *FieldError (ErrInvalid) for a bad field; then nothing is written.
func (s *Shelf) Create(ctx context.Context, spec RewardSpec) (Reward, error) {
	for _, err := range []error{
		checkName("name_zh", spec.NameZH, true), checkName("name_en", spec.NameEN, false),
		checkPrice(spec.Price), checkLimit(spec.Limit), checkWindow(spec.From, spec.Until),
	} {
		if err != nil {
			return Reward{}, err
		}
	}
	if spec.Stock < 0 || spec.Stock > MaxStock {
		return Reward{}, &FieldError{"stock", fmt.Sprintf("the stock must be from 0 to %d units, not %d", MaxStock, spec.Stock)}
	}
	if err := s.checkScope(ctx, spec.Scope); err != nil {
		return Reward{}, err
	}
	now := s.now()
	r := Reward{
		ID: newRewardID(), Scope: spec.Scope, NameZH: strings.TrimSpace(spec.NameZH), NameEN: strings.TrimSpace(spec.NameEN),
		Price: spec.Price, Stock: spec.Stock, Limit: spec.Limit, From: spec.From.UTC(), Until: spec.Until.UTC(),
		Active: true, Created: now, Updated: now,
	}
	if spec.From.IsZero() {
		r.From = time.Time{}
	}
	if spec.Until.IsZero() {
		r.Until = time.Time{}
	}
	if _, err := s.rewards.InsertOne(ctx, r); err != nil {
		return Reward{}, fmt.Errorf("create reward: %w", err)
	}
	return r, nil
}

// Reward returns a reward by id, or ErrRewardNotFound.
func (s *Shelf) Reward(ctx context.Context, id string) (Reward, error) {
	var r Reward
	err := s.rewards.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Reward{}, fmt.Errorf("%w: %q", ErrRewardNotFound, id)
	}
	if err != nil {
		return Reward{}, fmt.Errorf("read reward %q: %w", id, err)
	}
	r.HasPicture = r.Picture != ""
	return r, nil
}

// Update changes a reward. Rewards are an admin-kept catalogue, edited by
// hand: the change is read-modify-replace, taking turns with other edits of
// the reward in this instance; two admins editing the same reward at the
// same moment on two instances is last-write-wins. That is acceptable here
// because no count lives in the document: units are claimed as unique
// slots (redeem.go), and Stock is only their bound.
func (s *Shelf) Update(ctx context.Context, id string, ch RewardChange) (Reward, error) {
	_, unlock := s.edit.Lock(id)
	defer unlock()
	r, err := s.Reward(ctx, id)
	if err != nil {
		return Reward{}, err
	}
	if ch.NameZH != nil {
		if err := checkName("name_zh", *ch.NameZH, true); err != nil {
			return Reward{}, err
		}
		r.NameZH = strings.TrimSpace(*ch.NameZH)
	}
	if ch.NameEN != nil {
		if err := checkName("name_en", *ch.NameEN, false); err != nil {
			return Reward{}, err
		}
		r.NameEN = strings.TrimSpace(*ch.NameEN)
	}
	if ch.Price != nil {
		if err := checkPrice(*ch.Price); err != nil {
			return Reward{}, err
		}
		r.Price = *ch.Price
	}
	if ch.AddStock != 0 {
		n := r.Stock + ch.AddStock
		if ch.AddStock < -MaxStock || ch.AddStock > MaxStock || n < 0 || n > MaxStock {
			return Reward{}, &FieldError{"add_stock", fmt.Sprintf("the stock is %d; adding %d would take it outside 0 to %d", r.Stock, ch.AddStock, MaxStock)}
		}
		r.Stock = n
	}
	if ch.Limit != nil {
		if err := checkLimit(*ch.Limit); err != nil {
			return Reward{}, err
		}
		r.Limit = *ch.Limit
	}
	if ch.From != nil {
		r.From = ch.From.UTC()
	}
	if ch.Until != nil {
		r.Until = ch.Until.UTC()
	}
	if err := checkWindow(r.From, r.Until); err != nil {
		return Reward{}, err
	}
	if ch.Active != nil {
		r.Active = *ch.Active
	}
	r.Updated = s.now()
	if _, err := s.rewards.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, r); err != nil {
		return Reward{}, fmt.Errorf("update reward %q: %w", id, err)
	}
	return r, nil
}

// Retire takes a reward off the shelf: no new reservations; reservations
// already made can still be picked up.
func (s *Shelf) Retire(ctx context.Context, id string) (Reward, error) {
	off := false
	return s.Update(ctx, id, RewardChange{Active: &off})
}

// All returns every reward, retired ones too, of one scope ("" for all).
//
// The rewards collection holds the shelf's catalogue and nothing that
// grows with use (reservations, slots and codes live elsewhere): a few
// hundred items kept by hand. So it is read whole, which on the embedded
// store is a scan of that small collection, and filtered in Go.
func (s *Shelf) All(ctx context.Context, scope string) ([]Reward, error) {
	cur, err := s.rewards.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("read the rewards: %w", err)
	}
	var all []Reward
	if err := cur.All(ctx, &all); err != nil {
		return nil, fmt.Errorf("read the rewards: %w", err)
	}
	out := all[:0]
	for _, r := range all {
		if scope == "" || r.Scope == scope {
			r.HasPicture = r.Picture != ""
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Active != out[j].Active {
			return out[i].Active
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out, nil
}

// ShelfSection is the part of the shelf one station offers (Station nil:
// the city-wide rewards, picked up at any station).
type ShelfSection struct {
	Station   *StationInfo `json:"station,omitempty"`
	DistanceM float64      `json:"distance_m,omitempty" doc:"metres from the rider's position, when given"`
	Rewards   []Reward     `json:"rewards"`
}

// Position is a rider's position, when the browser sent one.
type Position struct {
	Lat, Lng float64
}

// List returns the shelf as a rider sees it: the rewards available now,
// city-wide ones first, then each station's, nearest station first when the
// rider's position is known, else by station name.
func (s *Shelf) List(ctx context.Context, at *Position) ([]ShelfSection, error) {
	all, err := s.All(ctx, "")
	if err != nil {
		return nil, err
	}
	sts, err := s.stations.Stations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the stations: %w", err)
	}
	now := s.now()
	byScope := map[string][]Reward{}
	for _, r := range all {
		if r.Available(now) {
			byScope[r.Scope] = append(byScope[r.Scope], r)
		}
	}
	out := []ShelfSection{{Rewards: byScope[CityScope]}}
	var secs []ShelfSection
	for _, st := range sts {
		rs := byScope[st.ID]
		if len(rs) == 0 {
			continue
		}
		sec := ShelfSection{Station: &st, Rewards: rs}
		if at != nil {
			sec.DistanceM = Haversine(at.Lat, at.Lng, st.Lat, st.Lng)
		}
		secs = append(secs, sec)
	}
	sort.SliceStable(secs, func(i, j int) bool {
		if at != nil && secs[i].DistanceM != secs[j].DistanceM {
			return secs[i].DistanceM < secs[j].DistanceM
		}
		return secs[i].Station.Name < secs[j].Station.Name
	})
	return append(out, secs...), nil
}

// Haversine is the great-circle distance in metres between two points.
func Haversine(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6_371_000.0
	rad := math.Pi / 180
	dlat, dlng := (lat2-lat1)*rad, (lng2-lng1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlng/2)*math.Sin(dlng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// SetPicture checks an uploaded picture (JPEG or PNG, told from the bytes;
// at most 5 MB and 4000×4000, checked from the header before decoding, so
// a decompression bomb is refused unread), re-encodes it, which drops every
// metadata block (EXIF, GPS, comments), stores it and links it to the
// reward. ErrPicture for a picture refused.
func (s *Shelf) SetPicture(ctx context.Context, id string, data []byte) (Reward, error) {
	if _, err := s.Reward(ctx, id); err != nil {
		return Reward{}, err
	}
	if len(data) > MaxPictureBytes {
		return Reward{}, fmt.Errorf("%w: the picture is %d bytes; at most %d MB are taken", ErrPicture, len(data), MaxPictureBytes>>20)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return Reward{}, fmt.Errorf("%w: send a JPEG or PNG picture", ErrPicture)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPictureSide || cfg.Height > MaxPictureSide {
		return Reward{}, fmt.Errorf("%w: the picture is %d×%d pixels; at most %d×%d are taken", ErrPicture, cfg.Width, cfg.Height, MaxPictureSide, MaxPictureSide)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Reward{}, fmt.Errorf("%w: the picture cannot be read (%v)", ErrPicture, err)
	}
	var buf bytes.Buffer
	ctype, ext := "image/jpeg", "jpg"
	if format == "png" {
		ctype, ext = "image/png", "png"
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		return Reward{}, fmt.Errorf("re-encode the reward picture: %w", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	key := fmt.Sprintf("rewards/%s/%s.%s", id, strings.ToLower(encodeCrockford(rnd[:], 12)), ext)
	if err := s.blobs.Put(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), ctype, nil); err != nil {
		return Reward{}, fmt.Errorf("store the reward picture: %w", err)
	}
	_, unlock := s.edit.Lock(id)
	defer unlock()
	r, err := s.Reward(ctx, id)
	if err != nil {
		return Reward{}, err
	}
	old := r.Picture
	r.Picture, r.HasPicture, r.Updated = key, true, s.now()
	if _, err := s.rewards.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, r); err != nil {
		return Reward{}, fmt.Errorf("link the reward picture: %w", err)
	}
	if old != "" {
		if err := s.blobs.Delete(ctx, old); err != nil {
			s.log.Warn("delete the replaced reward picture", "key", old, "err", err)
		}
	}
	return r, nil
}

// Picture opens a reward's picture. ErrNoPicture if it has none. The
// caller closes the reader.
func (s *Shelf) Picture(ctx context.Context, id string) (io.ReadCloser, string, error) {
	r, err := s.Reward(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if r.Picture == "" {
		return nil, "", fmt.Errorf("%w: %q", ErrNoPicture, id)
	}
	rc, info, err := s.blobs.Get(ctx, r.Picture)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", fmt.Errorf("%w: %q", ErrNoPicture, id)
	}
	if err != nil {
		return nil, "", err
	}
	return rc, info.ContentType, nil
}

// exists reports whether a document with this _id is in c.
func exists(ctx context.Context, c *mongo.Collection, id string) (bool, error) {
	err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s %q: %w", c.Name(), id, err)
	}
	return true, nil
}
