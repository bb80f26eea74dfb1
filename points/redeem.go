package points

// Redemption in two phases, each step exactly once.
//
// Every rule here is a unique insert (the only write that is atomic on the
// embedded FerretDB as on MongoDB), never count-then-act:
//
//   - A unit of stock is a slot "stock/<reward>/<k>", k in 1..Stock. Each
//     slot is a chain of generations "<slot>/<g>": odd generations are
//     claims, even ones releases, so the slot is free when its last
//     generation is even. Claiming inserts the next (odd) generation;
//     releasing the claim at g inserts g+1. A second release of the same
//     claim collides with the first and changes nothing, and can never
//     free a later reservation's claim of the same slot: that one is a
//     different generation. 50 racers for 5 units each insert into some
//     slot's next generation; only 5 inserts succeed.
//   - The per-rider monthly limit is the same, with slots
//     "limit/<reward>/<rider>/<month>/<k>", k in 1..Limit.
//   - The points are a ledger hold, Rider → Pool(station), keyed
//     "redeem:<rider>:<client key>", so a retried reserve cannot hold twice.
//   - The end of a reservation (picked up, cancelled, expired, aborted) is
//     one document under the reservation's id: whoever inserts it decided
//     the outcome, and only then posts or voids the hold (once, by the
//     ledger's settle key) and gives the slots back (once, by generation).
//
// # A crash in the middle of a reserve
//
// Reserve writes, in order: the code (code → reservation id), an "open"
// marker holding the whole reservation, the two slot claims, the hold, the
// reservation, its entries in the lists (due day, rider), and deletes the
// marker. A crash leaves the marker. RepairReservations (also run by
// ExpirePickups) reads the markers (a collection of reserves in flight and
// nothing else, so reading it whole is cheap) and, for those older than a
// grace period, either completes the reservation (the hold is in: write
// what follows it, finding the claims by reading the reservation's slots
// by _id) or aborts it (no hold: insert the end "aborted", void a hold that
// may appear meanwhile, release the claims). A live Reserve that finds an
// end after its hold undoes itself, so the race between a slow reserve and
// the repair ends the same way whoever is first.
//
// # Expiry without scanning
//
// Each reservation is appended to the list of the day of its deadline,
// "due/<day>/<n>". ExpirePickups reads the lists from a cursor day to
// today by _id, and moves the cursor past a day once every reservation of
// it is settled ("fin:<id>"). A reservation is never added to a day before
// today, so a day passed stays passed. Nothing reads the reservations
// collection as a whole.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	// slotsCollection holds the generations of every stock and limit slot.
	slotsCollection = "points_reward_slots"
	// reservationsCollection holds the reservations, _id the reservation id
	// (derived from the rider and the client key), written once.
	reservationsCollection = "points_reservations"
	// codesCollection maps a pickup code (_id) to its reservation.
	codesCollection = "points_pickup_codes"
	// endsCollection holds a reservation's end (_id the reservation id) and
	// the marker "fin:<id>" once its effects are all written.
	endsCollection = "points_reservation_ends"
	// redeemOpenCollection holds the reserves in flight (see above).
	redeemOpenCollection = "points_reservations_open"
	// redeemListsCollection holds the lists read by _id: a rider's codes
	// "rider/<id>/<n>", a station's pickups of a day
	// "station/<id>/<day>/<n>", the reservations due on a day
	// "due/<day>/<n>", and the expiry cursor.
	redeemListsCollection = "points_redeem_lists"
	// codeTriesCollection holds the wrong-code slots of station admins.
	codeTriesCollection = "points_code_tries"
)

// Wrong-code throttle: a station admin may enter this many codes that do
// not exist per window (fixed windows aligned to the clock, so across a
// window's end up to twice as many).
const (
	CodeTryLimit  = 10
	CodeTryWindow = 10 * time.Minute
)

// Redemption errors.
var (
	// ErrReservationNotFound: no reservation of this rider has that id.
	ErrReservationNotFound = errors.New("no such reservation")
	// ErrCodeUnknown: no reservation has that code.
	ErrCodeUnknown = errors.New("unknown pickup code")
	// ErrCodeOtherStation: the code is for a reward reserved at another
	// station (an *OtherStationError names it).
	ErrCodeOtherStation = errors.New("pickup code of another station")
	// ErrCodePickedUp: the reward was handed over already (a
	// *PickedUpError says where and when).
	ErrCodePickedUp = errors.New("reward already picked up")
	// ErrCodeExpired: the reservation was not picked up in time, or was
	// undone after an interruption.
	ErrCodeExpired = errors.New("pickup code expired")
	// ErrCodeCancelled: the rider cancelled the reservation.
	ErrCodeCancelled = errors.New("reservation cancelled")
	// ErrTooManyTries: the station admin entered too many wrong codes (a
	// *TooManyTriesError says when to retry).
	ErrTooManyTries = errors.New("too many wrong pickup codes")
	// ErrAborted: the reserve was interrupted and undone; reserve again
	// with a new client key.
	ErrAborted = errors.New("reservation interrupted and undone")
)

// OtherStationError refuses a code reserved at another station.
type OtherStationError struct {
	StationID, StationName string
}

func (e *OtherStationError) Error() string {
	return fmt.Sprintf("this code is for a reward reserved at %s; the rider picks it up there", e.StationName)
}

// Is makes it an ErrCodeOtherStation.
func (e *OtherStationError) Is(target error) bool { return target == ErrCodeOtherStation }

// PickedUpError refuses a code already confirmed.
type PickedUpError struct {
	StationID, StationName string
	At                     time.Time
}

func (e *PickedUpError) Error() string {
	return fmt.Sprintf("already picked up at %s on %s", e.StationName, e.At.In(Zone).Format("2006-01-02 15:04"))
}

// Is makes it an ErrCodePickedUp.
func (e *PickedUpError) Is(target error) bool { return target == ErrCodePickedUp }

// TooManyTriesError refuses code entry until RetryAt.
type TooManyTriesError struct {
	RetryAt time.Time
}

func (e *TooManyTriesError) Error() string {
	return fmt.Sprintf("too many wrong codes entered; try again after %s", e.RetryAt.In(Zone).Format("15:04"))
}

// Is makes it an ErrTooManyTries.
func (e *TooManyTriesError) Is(target error) bool { return target == ErrTooManyTries }

// Status is where a reservation stands.
type Status string

// Statuses of a reservation.
const (
	StatusReserved  Status = "reserved"
	StatusPickedUp  Status = "picked_up"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
	StatusAborted   Status = "aborted" // interrupted by a crash and undone by repair
)

// SlotRef names one claim: the slot and the generation that claimed it.
type SlotRef struct {
	Slot string `bson:"slot"`
	Gen  int64  `bson:"gen"`
}

// Reservation is a reward reserved by a rider, waiting at a station for
// the code. Stored once; its status is read from its end, if any.
type Reservation struct {
	ID         string    `bson:"_id"`
	Rider      string    `bson:"rider"`
	ClientKey  string    `bson:"client_key"`
	Reward     string    `bson:"reward"`
	NameZH     string    `bson:"name_zh"`
	NameEN     string    `bson:"name_en"`
	Station    string    `bson:"station"`
	Price      int64     `bson:"price"`
	Code       string    `bson:"code"` // 10 characters, no dashes (FormatCode shows it)
	HoldKey    string    `bson:"hold_key"`
	Month      string    `bson:"month"`
	StockBound int64     `bson:"stock_bound"` // the stock when claimed: slots above it were not tried
	LimitBound int       `bson:"limit_bound"`
	StockSlot  SlotRef   `bson:"stock_slot,omitzero"`
	LimitSlot  SlotRef   `bson:"limit_slot,omitzero"`
	Created    time.Time `bson:"created"`
	Deadline   time.Time `bson:"deadline"`

	// Filled when read, not stored here.
	Status     Status    `bson:"-"`
	EndedAt    time.Time `bson:"-"`
	EndedBy    string    `bson:"-"` // the station admin who confirmed, "rider", "expiry" or "repair"
	EndStation string    `bson:"-"`
}

// Name is the reward's name in a language, as it was when reserved.
func (r Reservation) Name(lang string) string {
	if strings.HasPrefix(lang, "en") && r.NameEN != "" {
		return r.NameEN
	}
	return r.NameZH
}

type openDoc struct {
	Reservation `bson:",inline"`
	At          time.Time `bson:"open_at"`
}

type endDoc struct {
	ID      string    `bson:"_id"`
	Status  Status    `bson:"status"`
	By      string    `bson:"by,omitempty"`
	Station string    `bson:"station,omitempty"`
	At      time.Time `bson:"at"`
}

type codeDoc struct {
	ID  string `bson:"_id"`
	Res string `bson:"res"`
}

type slotDoc struct {
	ID      string    `bson:"_id"`
	Res     string    `bson:"res"`
	Release bool      `bson:"release,omitempty"`
	At      time.Time `bson:"at"`
}

type listDoc struct {
	ID  string    `bson:"_id"`
	Ref string    `bson:"ref"`
	At  time.Time `bson:"at"`
}

type cursorDoc struct {
	ID  string `bson:"_id"`
	Day string `bson:"day"`
}

const dueCursorID = "cursor:due"

// ReservationID is the id of the reservation a rider's client key names:
// the same key always names the same reservation.
func ReservationID(rider, clientKey string) string {
	sum := sha256.Sum256([]byte("redeem\x00" + rider + "\x00" + clientKey))
	return "rv" + strings.ToLower(encodeCrockford(sum[:], 20))
}

func validClientKey(k string) bool {
	if len(k) < 1 || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *Shelf) at(point string) {
	if s.stopAt != nil {
		s.stopAt(point)
	}
}

// --- hints ---------------------------------------------------------------

const maxHints = 10_000

func (s *Shelf) hint(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hints[name]
}

// learn remembers that number n of chain name exists (or, for "next:"
// names, where to start).
func (s *Shelf) learn(name string, n int64, force bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.hints) >= maxHints {
		s.hints = map[string]int64{}
	}
	if force || n > s.hints[name] {
		s.hints[name] = n
	}
}

// chainHead returns the last number of a gapless chain of _ids in c.
func (s *Shelf) chainHead(ctx context.Context, c *mongo.Collection, name string, id func(int64) string) (int64, error) {
	last, err := storage.LastFrom(s.hint(name), func(n int64) (bool, error) { return exists(ctx, c, id(n)) })
	if err != nil {
		return 0, err
	}
	s.learn(name, last, false)
	return last, nil
}

// --- slots -----------------------------------------------------------------

func slotGenID(slot string, g int64) string { return fmt.Sprintf("%s/%06d", slot, g) }

func stockSlot(reward string, k int64) string { return fmt.Sprintf("stock/%s/%d", reward, k) }

func limitSlot(reward, rider, month string, k int64) string {
	return fmt.Sprintf("limit/%s/%s/%s/%d", reward, rider, month, k)
}

func (s *Shelf) slotHead(ctx context.Context, slot string) (int64, error) {
	return s.chainHead(ctx, s.slots, "slot:"+slot, func(g int64) string { return slotGenID(slot, g) })
}

// claimSlot claims a free slot among name(1..bound) for reservation res.
// ok is false when every slot is claimed. Inside this instance the
// claimers of one group take turns, starting after the last slot claimed.
func (s *Shelf) claimSlot(ctx context.Context, group string, name func(int64) string, bound int64, res string) (ref SlotRef, ok bool, err error) {
	if bound <= 0 {
		return SlotRef{}, false, nil
	}
	_, unlock := s.locks.Lock("claim:" + group)
	defer unlock()
	start := min(max(s.hint("next:"+group), 1), bound)
	for i := range bound {
		k := (start-1+i)%bound + 1
		slot := name(k)
		g := s.hint("slot:" + slot)
		if g%2 == 1 {
			// Claimed when last seen; another instance may have
			// released it since.
			if g, err = s.slotHead(ctx, slot); err != nil {
				return SlotRef{}, false, err
			}
		}
		for g%2 == 0 {
			_, err := s.slots.InsertOne(ctx, slotDoc{ID: slotGenID(slot, g+1), Res: res, At: s.now()})
			if err == nil {
				s.learn("slot:"+slot, g+1, false)
				s.learn("next:"+group, k%bound+1, true)
				return SlotRef{Slot: slot, Gen: g + 1}, true, nil
			}
			if !storage.IsDuplicateKey(err) {
				return SlotRef{}, false, fmt.Errorf("claim %s: %w", slot, err)
			}
			if g, err = s.slotHead(ctx, slot); err != nil {
				return SlotRef{}, false, err
			}
		}
	}
	return SlotRef{}, false, nil
}

// releaseSlot gives a claim back, once: a second release of the same claim
// collides with the first.
func (s *Shelf) releaseSlot(ctx context.Context, ref SlotRef, res string) error {
	if ref.Slot == "" || ref.Gen%2 != 1 {
		return nil
	}
	_, err := s.slots.InsertOne(ctx, slotDoc{ID: slotGenID(ref.Slot, ref.Gen+1), Res: res, Release: true, At: s.now()})
	if err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("release %s: %w", ref.Slot, err)
	}
	s.learn("slot:"+ref.Slot, ref.Gen+1, false)
	return nil
}

// findClaims returns the slots among name(1..bound) whose current claim
// is res's: what a reserve interrupted by a crash left claimed. Only the
// repair pass reads this way (bound reads by _id).
func (s *Shelf) findClaims(ctx context.Context, name func(int64) string, bound int64, res string) ([]SlotRef, error) {
	var out []SlotRef
	for k := int64(1); k <= bound; k++ {
		slot := name(k)
		g, err := s.slotHead(ctx, slot)
		if err != nil {
			return nil, err
		}
		if g%2 == 0 {
			continue
		}
		var d slotDoc
		if err := s.slots.FindOne(ctx, bson.D{{Key: "_id", Value: slotGenID(slot, g)}}).Decode(&d); err != nil {
			return nil, fmt.Errorf("read %s: %w", slot, err)
		}
		if d.Res == res {
			out = append(out, SlotRef{Slot: slot, Gen: g})
		}
	}
	return out, nil
}

// --- lists -----------------------------------------------------------------

func listEntryID(list string, n int64) string { return fmt.Sprintf("%s/%08d", list, n) }

func riderList(rider string) string { return "rider/" + rider }

func stationDayList(station, day string) string { return "station/" + station + "/" + day }

func dueList(day string) string { return "due/" + day }

// appendList appends ref to a list. A repaired reserve may append twice;
// readers drop repeats.
func (s *Shelf) appendList(ctx context.Context, list, ref string) error {
	_, unlock := s.locks.Lock("list:" + list)
	defer unlock()
	n := s.hint("list:" + list)
	for range maxTries {
		_, err := s.lists.InsertOne(ctx, listDoc{ID: listEntryID(list, n+1), Ref: ref, At: s.now()})
		if err == nil {
			s.learn("list:"+list, n+1, false)
			return nil
		}
		if !storage.IsDuplicateKey(err) {
			return fmt.Errorf("append to %s: %w", list, err)
		}
		if n, err = s.chainHead(ctx, s.lists, "list:"+list, func(n int64) string { return listEntryID(list, n) }); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: gave up appending to %s", ErrBusy, list)
}

// readList returns up to limit distinct refs of a list, newest first
// (limit ≤ 0: all).
func (s *Shelf) readList(ctx context.Context, list string, limit int) ([]string, error) {
	head, err := s.chainHead(ctx, s.lists, "list:"+list, func(n int64) string { return listEntryID(list, n) })
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for n := head; n >= 1 && (limit <= 0 || len(out) < limit); n-- {
		var d listDoc
		if err := s.lists.FindOne(ctx, bson.D{{Key: "_id", Value: listEntryID(list, n)}}).Decode(&d); err != nil {
			return out, fmt.Errorf("read %s: %w", list, err)
		}
		if !seen[d.Ref] {
			seen[d.Ref] = true
			out = append(out, d.Ref)
		}
	}
	return out, nil
}

// --- reading -----------------------------------------------------------------

func findByID[T any](ctx context.Context, c *mongo.Collection, id string) (T, bool, error) {
	var v T
	err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read %s %q: %w", c.Name(), id, err)
	}
	return v, true, nil
}

// withStatus fills a reservation's status from its end.
func (s *Shelf) withStatus(ctx context.Context, r Reservation) (Reservation, error) {
	e, ok, err := findByID[endDoc](ctx, s.ends, r.ID)
	if err != nil {
		return r, err
	}
	switch {
	case ok:
		r.Status, r.EndedAt, r.EndedBy, r.EndStation = e.Status, e.At, e.By, e.Station
	case !s.now().Before(r.Deadline):
		r.Status = StatusExpired // the expiry job will settle it
	default:
		r.Status = StatusReserved
	}
	return r, nil
}

// Reservation returns a reservation with its status; ErrReservationNotFound
// unless it is rider's (rider "" reads any).
func (s *Shelf) Reservation(ctx context.Context, rider, id string) (Reservation, error) {
	r, ok, err := findByID[Reservation](ctx, s.reservations, id)
	if err != nil {
		return Reservation{}, err
	}
	if !ok || (rider != "" && r.Rider != rider) {
		return Reservation{}, fmt.Errorf("%w: %q", ErrReservationNotFound, id)
	}
	return s.withStatus(ctx, r)
}

func (s *Shelf) reservationsOf(ctx context.Context, ids []string) ([]Reservation, error) {
	out := make([]Reservation, 0, len(ids))
	for _, id := range ids {
		r, err := s.Reservation(ctx, "", id)
		if errors.Is(err, ErrReservationNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Codes returns a rider's latest reservations (up to limit), newest first,
// read by _id from the rider's list.
func (s *Shelf) Codes(ctx context.Context, rider string, limit int) ([]Reservation, error) {
	ids, err := s.readList(ctx, riderList(rider), limit)
	if err != nil {
		return nil, err
	}
	return s.reservationsOf(ctx, ids)
}

// PickupsToday returns the rewards handed over at a station today (in
// Zone), newest first.
func (s *Shelf) PickupsToday(ctx context.Context, station string) ([]Reservation, error) {
	ids, err := s.readList(ctx, stationDayList(station, DayKey(s.now())), 0)
	if err != nil {
		return nil, err
	}
	return s.reservationsOf(ctx, ids)
}

// --- reserve -----------------------------------------------------------------

// Reserve reserves one unit of a reward for a rider, to be picked up at a
// station within the pickup days: one unit of stock and one of the rider's
// monthly limit are claimed and the price is put on hold. The same client
// key returns the same reservation. Errors: *FieldError (ErrInvalid),
// ErrRewardNotFound, ErrRewardUnavailable, ErrOutOfStock, ErrLimitReached,
// ErrInDebt, ErrInsufficient, ErrAborted, ErrBusy; on each, what was
// claimed is given back.
func (s *Shelf) Reserve(ctx context.Context, rider, rewardID, stationID, clientKey string) (Reservation, error) {
	if !validClientKey(clientKey) {
		return Reservation{}, &FieldError{"client_key", "the client key must be 1 to 64 letters, digits, '-', '_' or '.'"}
	}
	if rider == "" || strings.ContainsAny(rider, "/:") {
		return Reservation{}, &FieldError{"rider", "the rider id is not valid"}
	}
	for attempt := 0; ; attempt++ {
		r, err := s.reserve(ctx, rider, rewardID, stationID, clientKey)
		if errors.Is(err, errRetry) && attempt < 3 {
			continue
		}
		if errors.Is(err, errRetry) {
			return Reservation{}, fmt.Errorf("%w: another request with this client key is being handled; try again", ErrBusy)
		}
		return r, err
	}
}

var errRetry = errors.New("retry the reserve")

func (s *Shelf) reserve(ctx context.Context, rider, rewardID, stationID, clientKey string) (Reservation, error) {
	id := ReservationID(rider, clientKey)
	if r, err := s.Reservation(ctx, rider, id); err == nil {
		if r.Status == StatusAborted {
			return r, fmt.Errorf("%w: reserve again", ErrAborted)
		}
		return r, nil
	} else if !errors.Is(err, ErrReservationNotFound) {
		return Reservation{}, err
	}
	if ok, err := exists(ctx, s.ends, id); err != nil {
		return Reservation{}, err
	} else if ok {
		return Reservation{}, fmt.Errorf("%w: reserve again with a new request", ErrAborted)
	}
	// A reserve of this key in flight, or left by a crash: answer from it
	// rather than check again what it already claimed.
	if m, ok, err := findByID[openDoc](ctx, s.open, id); err != nil {
		return Reservation{}, err
	} else if ok && m.Rider == rider {
		return s.inFlight(ctx, rider, id)
	}
	rw, err := s.Reward(ctx, rewardID)
	if err != nil {
		return Reservation{}, err
	}
	now := s.now()
	if !rw.Available(now) {
		return Reservation{}, fmt.Errorf("%w: %q is not offered at the moment", ErrRewardUnavailable, rw.NameZH)
	}
	if stationID == "" {
		return Reservation{}, &FieldError{"station", "choose the station to pick the reward up at"}
	}
	st, ok, err := s.stations.Station(ctx, stationID)
	if err != nil {
		return Reservation{}, fmt.Errorf("look up station %q: %w", stationID, err)
	}
	if !ok {
		return Reservation{}, &FieldError{"station", fmt.Sprintf("there is no station %q", stationID)}
	}
	if rw.Scope != CityScope && rw.Scope != stationID {
		name := rw.Scope
		if other, ok, _ := s.stations.Station(ctx, rw.Scope); ok {
			name = other.Name
		}
		return Reservation{}, fmt.Errorf("%w: %q is picked up only at %s", ErrRewardUnavailable, rw.NameZH, name)
	}
	// Refuse early, writing nothing, when the balance cannot cover it;
	// the hold below decides exactly.
	bal, err := s.l.Balance(ctx, Rider(rider))
	if err != nil {
		return Reservation{}, err
	}
	if bal.Balance < 0 {
		return Reservation{}, fmt.Errorf("%w: the balance is %d points; spends are refused until it is repaid", ErrInDebt, bal.Balance)
	}
	if bal.Available < rw.Price {
		return Reservation{}, fmt.Errorf("%w: %d points available, %d needed", ErrInsufficient, bal.Available, rw.Price)
	}

	r := Reservation{
		ID: id, Rider: rider, ClientKey: clientKey, Reward: rw.ID, NameZH: rw.NameZH, NameEN: rw.NameEN,
		Station: st.ID, Price: rw.Price, HoldKey: "redeem:" + rider + ":" + clientKey, Month: MonthKey(now),
		StockBound: rw.Stock, LimitBound: rw.Limit, Created: now,
		Deadline: now.Add(time.Duration(s.pickupDays) * 24 * time.Hour),
	}
	// The code first: a code whose reserve fails points at nothing and
	// is refused as unknown.
	for {
		r.Code = NewCode()
		_, err := s.codes.InsertOne(ctx, codeDoc{ID: r.Code, Res: id})
		if err == nil {
			break
		}
		if !storage.IsDuplicateKey(err) {
			return Reservation{}, fmt.Errorf("store the pickup code: %w", err)
		}
	}
	if _, err := s.open.InsertOne(ctx, openDoc{Reservation: r, At: now}); err != nil {
		if storage.IsDuplicateKey(err) {
			return s.inFlight(ctx, rider, id)
		}
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	// Another request with this key may have finished between the checks
	// above and this marker: a reserve writes its reservation (or its end)
	// before it removes its marker, so with the marker in, one of them
	// shows now if it happened. Then this request is a retry: it undoes its
	// marker and code and answers what the first did, claiming nothing.
	if first, err := s.Reservation(ctx, rider, id); err == nil || !errors.Is(err, ErrReservationNotFound) {
		if _, derr := s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); derr != nil {
			return Reservation{}, fmt.Errorf("reserve: %w", derr)
		}
		if _, derr := s.codes.DeleteOne(ctx, bson.D{{Key: "_id", Value: r.Code}}); derr != nil {
			return Reservation{}, fmt.Errorf("reserve: %w", derr)
		}
		if err != nil {
			return Reservation{}, err
		}
		if first.Status == StatusAborted {
			return first, fmt.Errorf("%w: reserve again", ErrAborted)
		}
		return first, nil
	}
	if ok, err := exists(ctx, s.ends, id); err != nil || ok {
		if _, derr := s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); derr != nil {
			return Reservation{}, fmt.Errorf("reserve: %w", derr)
		}
		if err != nil {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("%w: reserve again with a new request", ErrAborted)
	}
	giveBack := func(refs ...SlotRef) error {
		for _, ref := range refs {
			if err := s.releaseSlot(ctx, ref, id); err != nil {
				return err
			}
		}
		_, err := s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		return err
	}
	stock, ok, err := s.claimSlot(ctx, "stock/"+rw.ID, func(k int64) string { return stockSlot(rw.ID, k) }, r.StockBound, id)
	if err != nil {
		return Reservation{}, err // the marker stays: repair releases what was claimed
	}
	if !ok {
		if err := giveBack(); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("%w: every unit of %q is reserved or handed out", ErrOutOfStock, rw.NameZH)
	}
	limit, ok, err := s.claimSlot(ctx, "limit/"+rw.ID+"/"+rider+"/"+r.Month,
		func(k int64) string { return limitSlot(rw.ID, rider, r.Month, k) }, int64(r.LimitBound), id)
	if err != nil {
		return Reservation{}, err
	}
	if !ok {
		if err := giveBack(stock); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("%w: %q may be reserved %d times a month", ErrLimitReached, rw.NameZH, rw.Limit)
	}
	s.at("claimed")
	_, err = s.l.Hold(ctx, HoldRequest{Key: r.HoldKey, Debit: Rider(rider), Credit: Pool(st.ID), Amount: r.Price,
		Deadline: r.Deadline, Note: "reward " + rw.ID})
	if err != nil {
		if errors.Is(err, ErrInsufficient) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrOverflow) || errors.Is(err, ErrKeyConflict) {
			// Refused: nothing is held. Give the units back.
			if gerr := giveBack(stock, limit); gerr != nil {
				return Reservation{}, gerr
			}
			if errors.Is(err, ErrInsufficient) {
				if b, berr := s.l.Balance(ctx, Rider(rider)); berr == nil && b.Balance < 0 {
					return Reservation{}, fmt.Errorf("%w: the balance is %d points; spends are refused until it is repaid", ErrInDebt, b.Balance)
				}
			}
			return Reservation{}, err
		}
		// Unknown outcome (the store failed): the marker stays, and repair
		// completes or aborts the reservation.
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	s.at("held")
	r.StockSlot, r.LimitSlot = stock, limit
	if err := s.commit(ctx, r); err != nil {
		return Reservation{}, err
	}
	return s.withStatus(ctx, r)
}

// inFlight answers a reserve whose client key another call is handling:
// its reservation once written, or a repair of it when it was left by a
// crash.
func (s *Shelf) inFlight(ctx context.Context, rider, id string) (Reservation, error) {
	for range 100 {
		if r, err := s.Reservation(ctx, rider, id); err == nil {
			return r, nil
		} else if !errors.Is(err, ErrReservationNotFound) {
			return Reservation{}, err
		}
		m, ok, err := findByID[openDoc](ctx, s.open, id)
		if err != nil {
			return Reservation{}, err
		}
		if !ok {
			// The other call gave up (out of stock, refused) or just
			// finished: start again.
			return Reservation{}, errRetry
		}
		if s.now().Sub(m.At) >= s.grace {
			if err := s.repairOne(ctx, m); err != nil {
				return Reservation{}, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return Reservation{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return Reservation{}, errRetry
}

// commit writes what follows the hold: the reservation, its list entries,
// and removes the marker. Run by Reserve and by repair; each write is
// idempotent (list repeats are dropped by readers).
func (s *Shelf) commit(ctx context.Context, r Reservation) error {
	if _, err := s.reservations.InsertOne(ctx, r); err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("store the reservation: %w", err)
	}
	day := max(DayKey(r.Deadline), DayKey(s.now())) // never a day the expiry cursor has passed
	if err := s.appendList(ctx, dueList(day), r.ID); err != nil {
		return err
	}
	if err := s.appendList(ctx, riderList(r.Rider), r.ID); err != nil {
		return err
	}
	// Repair may have aborted this reserve while it was slow: then the
	// end is in, and this reserve undoes what it did.
	if e, ok, err := findByID[endDoc](ctx, s.ends, r.ID); err != nil {
		return err
	} else if ok {
		if err := s.finish(ctx, r, e); err != nil {
			return err
		}
		if _, err := s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID}}); err != nil {
			return err
		}
		if e.Status == StatusAborted {
			return fmt.Errorf("%w: reserve again with a new request", ErrAborted)
		}
		return nil
	}
	if _, err := s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID}}); err != nil {
		return fmt.Errorf("close the reservation: %w", err)
	}
	return nil
}

// --- ending -----------------------------------------------------------------

// end inserts a reservation's end; if another caller ended it first, that
// end is returned with won false.
func (s *Shelf) end(ctx context.Context, id string, st Status, by, station string) (endDoc, bool, error) {
	e := endDoc{ID: id, Status: st, By: by, Station: station, At: s.now()}
	_, err := s.ends.InsertOne(ctx, e)
	if err == nil {
		return e, true, nil
	}
	if !storage.IsDuplicateKey(err) {
		return endDoc{}, false, fmt.Errorf("end reservation %q: %w", id, err)
	}
	got, ok, err := findByID[endDoc](ctx, s.ends, id)
	if err != nil {
		return endDoc{}, false, err
	}
	if !ok {
		return endDoc{}, false, fmt.Errorf("end reservation %q: it collided but cannot be read", id)
	}
	return got, false, nil
}

// finish carries out an end: posts the hold of a pickup, or voids the hold
// and gives the units back. Each step happens once however often finish
// runs (the ledger's settle key, the slots' generations), so it is safe to
// run again after a crash; the "fin" marker then lets expiry skip it.
func (s *Shelf) finish(ctx context.Context, r Reservation, e endDoc) error {
	if e.Status == StatusPickedUp {
		if _, err := s.l.PostHold(ctx, r.HoldKey, "picked up at "+e.Station); err != nil {
			return fmt.Errorf("post the hold of reservation %s: %w", r.ID, err)
		}
	} else {
		_, err := s.l.VoidHold(ctx, r.HoldKey, string(e.Status))
		// No hold (an aborted reserve that never held) or a hold the
		// ledger refused: nothing to give back.
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
			return fmt.Errorf("void the hold of reservation %s: %w", r.ID, err)
		}
		for _, ref := range []SlotRef{r.StockSlot, r.LimitSlot} {
			if err := s.releaseSlot(ctx, ref, r.ID); err != nil {
				return err
			}
		}
	}
	if _, err := s.ends.InsertOne(ctx, bson.D{{Key: "_id", Value: "fin:" + r.ID}, {Key: "at", Value: s.now()}}); err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("mark reservation %s settled: %w", r.ID, err)
	}
	return nil
}

// endError is the refusal of a code or a cancel for a reservation that
// has ended.
func (s *Shelf) endError(ctx context.Context, e endDoc) error {
	switch e.Status {
	case StatusPickedUp:
		name := e.Station
		if st, ok, _ := s.stations.Station(ctx, e.Station); ok {
			name = st.Name
		}
		return &PickedUpError{StationID: e.Station, StationName: name, At: e.At}
	case StatusCancelled:
		return fmt.Errorf("%w: the rider cancelled this reservation on %s", ErrCodeCancelled, e.At.In(Zone).Format("2006-01-02 15:04"))
	default:
		return fmt.Errorf("%w: this reservation ended unclaimed on %s", ErrCodeExpired, e.At.In(Zone).Format("2006-01-02 15:04"))
	}
}

// Cancel cancels a rider's reservation: the points held and the units
// claimed are given back. Cancelling again returns the cancelled
// reservation. ErrReservationNotFound if it is not the rider's;
// ErrCodePickedUp or ErrCodeExpired if it ended otherwise.
func (s *Shelf) Cancel(ctx context.Context, rider, id string) (Reservation, error) {
	r, err := s.Reservation(ctx, rider, id)
	if err != nil {
		return Reservation{}, err
	}
	if !s.now().Before(r.Deadline) && r.Status == StatusExpired {
		// Past its deadline: it expires (which gives back the same).
		if err := s.expireOne(ctx, r); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("%w: it was not picked up by %s", ErrCodeExpired, r.Deadline.In(Zone).Format("2006-01-02 15:04"))
	}
	e, _, err := s.end(ctx, id, StatusCancelled, "rider", "")
	if err != nil {
		return Reservation{}, err
	}
	if err := s.finish(ctx, r, e); err != nil {
		return Reservation{}, err
	}
	if e.Status != StatusCancelled {
		return Reservation{}, s.endError(ctx, e)
	}
	return s.withStatus(ctx, r)
}

func (s *Shelf) expireOne(ctx context.Context, r Reservation) error {
	e, _, err := s.end(ctx, r.ID, StatusExpired, "expiry", "")
	if err != nil {
		return err
	}
	return s.finish(ctx, r, e)
}

// --- confirm -----------------------------------------------------------------

func (s *Shelf) triesPrefix(admin string, now time.Time) (string, time.Time) {
	w := now.Unix() / int64(CodeTryWindow/time.Second)
	end := time.Unix((w+1)*int64(CodeTryWindow/time.Second), 0).UTC()
	return fmt.Sprintf("tries/%s/%d", admin, w), end
}

func triesSlot(prefix string, k int) string { return fmt.Sprintf("%s/%d", prefix, k) }

// throttled says whether the admin used up the wrong codes of this window.
func (s *Shelf) throttled(ctx context.Context, admin string, now time.Time) error {
	prefix, end := s.triesPrefix(admin, now)
	full, err := exists(ctx, s.tries, triesSlot(prefix, CodeTryLimit))
	if err != nil {
		return err
	}
	if full {
		return &TooManyTriesError{RetryAt: end}
	}
	return nil
}

// wrongCode counts a wrong code against the admin, as a unique slot of the
// window; when none is left the entry is refused.
func (s *Shelf) wrongCode(ctx context.Context, admin string, now time.Time) error {
	prefix, end := s.triesPrefix(admin, now)
	_, unlock := s.locks.Lock("claim:" + prefix)
	defer unlock()
	start := min(max(int(s.hint("next:"+prefix)), 1), CodeTryLimit)
	for i := range CodeTryLimit {
		k := (start-1+i)%CodeTryLimit + 1
		_, err := s.tries.InsertOne(ctx, bson.D{{Key: "_id", Value: triesSlot(prefix, k)}, {Key: "expires", Value: end}})
		if err == nil {
			s.learn("next:"+prefix, int64(k+1), true)
			return nil
		}
		if !storage.IsDuplicateKey(err) {
			return fmt.Errorf("count a wrong code: %w", err)
		}
	}
	return &TooManyTriesError{RetryAt: end}
}

// Confirm hands a reward over: the station admin enters the rider's code
// at stationID, the hold is posted (once) and the unit is gone. The caller
// checks that admin may confirm at stationID. Errors: ErrTooManyTries
// (*TooManyTriesError), ErrCodeUnknown (counted against the admin),
// ErrCodeOtherStation (*OtherStationError), ErrCodePickedUp
// (*PickedUpError), ErrCodeCancelled, ErrCodeExpired.
func (s *Shelf) Confirm(ctx context.Context, admin, stationID, code string) (Reservation, error) {
	now := s.now()
	if err := s.throttled(ctx, admin, now); err != nil {
		return Reservation{}, err
	}
	unknown := func() (Reservation, error) {
		if err := s.wrongCode(ctx, admin, now); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, fmt.Errorf("%w: no reservation has this code; check it with the rider", ErrCodeUnknown)
	}
	c, ok := ParseCode(code)
	if !ok {
		return unknown()
	}
	cd, ok, err := findByID[codeDoc](ctx, s.codes, c)
	if err != nil {
		return Reservation{}, err
	}
	if !ok {
		return unknown()
	}
	r, err := s.Reservation(ctx, "", cd.Res)
	if errors.Is(err, ErrReservationNotFound) {
		return unknown() // a reserve that failed or is still in flight
	}
	if err != nil {
		return Reservation{}, err
	}
	if r.Station != stationID {
		name := r.Station
		if st, ok, _ := s.stations.Station(ctx, r.Station); ok {
			name = st.Name
		}
		return Reservation{}, &OtherStationError{StationID: r.Station, StationName: name}
	}
	if r.Status == StatusExpired && r.EndedAt.IsZero() {
		if err := s.expireOne(ctx, r); err != nil {
			return Reservation{}, err
		}
	}
	e, won, err := s.end(ctx, r.ID, StatusPickedUp, admin, stationID)
	if err != nil {
		return Reservation{}, err
	}
	if !won {
		// Ended before: finish it again (harmless, and completes a confirm
		// or cancel interrupted by a crash), then say how it ended.
		if err := s.finish(ctx, r, e); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, s.endError(ctx, e)
	}
	if err := s.finish(ctx, r, e); err != nil {
		return Reservation{}, err
	}
	if err := s.appendList(ctx, stationDayList(stationID, DayKey(now)), r.ID); err != nil {
		return Reservation{}, err
	}
	return s.withStatus(ctx, r)
}

// --- repair and expiry -----------------------------------------------------------

// RepairReservations completes or aborts the reserves a crash interrupted
// (see the top of this file), those in flight for longer than the grace
// period. It reads the markers of reserves in flight, a collection that
// holds nothing else. Safe to run on every instance at once.
func (s *Shelf) RepairReservations(ctx context.Context) (int, error) {
	cur, err := s.open.Find(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("repair reservations: %w", err)
	}
	var ms []openDoc
	if err := cur.All(ctx, &ms); err != nil {
		return 0, fmt.Errorf("repair reservations: %w", err)
	}
	n := 0
	var errs []error
	for _, m := range ms {
		if s.now().Sub(m.At) < s.grace {
			continue
		}
		if err := s.repairOne(ctx, m); err != nil && !errors.Is(err, ErrAborted) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (s *Shelf) repairOne(ctx context.Context, m openDoc) error {
	r := m.Reservation
	held := false
	if mv, ok, err := s.l.movement(ctx, r.HoldKey); err != nil {
		return err
	} else if ok && mv.Kind == KindHold && mv.Debit == Rider(r.Rider) && mv.Amount == r.Price {
		_, err := s.l.complete(ctx, mv)
		switch {
		case err == nil:
			held = true
		case !errors.Is(err, ErrInsufficient):
			return err
		}
	}
	stock, err := s.findClaims(ctx, func(k int64) string { return stockSlot(r.Reward, k) }, r.StockBound, r.ID)
	if err != nil {
		return err
	}
	limit, err := s.findClaims(ctx, func(k int64) string { return limitSlot(r.Reward, r.Rider, r.Month, k) }, int64(r.LimitBound), r.ID)
	if err != nil {
		return err
	}
	if held && len(stock) > 0 && len(limit) > 0 {
		r.StockSlot, r.LimitSlot = stock[0], limit[0]
		for _, extra := range append(stock[1:], limit[1:]...) {
			if err := s.releaseSlot(ctx, extra, r.ID); err != nil {
				return err
			}
		}
		return s.commit(ctx, r)
	}
	e, _, err := s.end(ctx, r.ID, StatusAborted, "repair", "")
	if err != nil {
		return err
	}
	if e.Status != StatusAborted {
		// Ended otherwise already (cannot be picked up without a
		// reservation; be safe): finish that end.
		return s.finish(ctx, r, e)
	}
	if _, err := s.l.VoidHold(ctx, r.HoldKey, "reserve interrupted"); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
		return err
	}
	for _, ref := range append(stock, limit...) {
		if err := s.releaseSlot(ctx, ref, r.ID); err != nil {
			return err
		}
	}
	if _, err := s.ends.InsertOne(ctx, bson.D{{Key: "_id", Value: "fin:" + r.ID}, {Key: "at", Value: s.now()}}); err != nil && !storage.IsDuplicateKey(err) {
		return err
	}
	_, err = s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID}})
	return err
}

// PickupExpiry says what ExpirePickups did.
type PickupExpiry struct {
	Expired  int // reservations this run expired
	Settled  int // ended reservations whose effects this run completed
	Repaired int // interrupted reserves completed or aborted
}

// expiryLookback is where the expiry cursor starts on a fresh database.
const expiryLookback = 60 * 24 * time.Hour

// ExpirePickups expires the reservations not picked up by their deadline:
// the hold is voided and the units given back, once, however many
// instances run it at once. It first repairs interrupted reserves. It
// reads, by _id, the lists of the days from the cursor (the first day with
// a reservation not yet settled) to today; see the top of this file.
func (s *Shelf) ExpirePickups(ctx context.Context) (PickupExpiry, error) {
	var rep PickupExpiry
	var errs []error
	n, err := s.RepairReservations(ctx)
	rep.Repaired = n
	if err != nil {
		errs = append(errs, err)
	}
	now := s.now()
	today := DayKey(now)
	cur, ok, err := findByID[cursorDoc](ctx, s.lists, dueCursorID)
	if err != nil {
		return rep, err
	}
	start := cur.Day
	if !ok {
		start = DayKey(now.Add(-expiryLookback))
	}
	next := ""
	for day := start; day <= today; day = nextDay(day) {
		ids, err := s.readList(ctx, dueList(day), 0)
		if err != nil {
			errs = append(errs, err)
			if next == "" {
				next = day
			}
			continue
		}
		done := true
		for _, id := range ids {
			if fin, err := exists(ctx, s.ends, "fin:"+id); err != nil {
				errs = append(errs, err)
				done = false
				continue
			} else if fin {
				continue
			}
			r, ok, err := findByID[Reservation](ctx, s.reservations, id)
			if err != nil || !ok {
				if err != nil {
					errs = append(errs, err)
				}
				done = false
				continue
			}
			e, ok, err := findByID[endDoc](ctx, s.ends, id)
			if err != nil {
				errs = append(errs, err)
				done = false
				continue
			}
			if !ok {
				if now.Before(r.Deadline) {
					done = false
					continue
				}
				var won bool
				if e, won, err = s.end(ctx, id, StatusExpired, "expiry", ""); err != nil {
					errs = append(errs, err)
					done = false
					continue
				}
				if won {
					rep.Expired++
				}
			} else {
				rep.Settled++
			}
			if err := s.finish(ctx, r, e); err != nil {
				errs = append(errs, err)
				done = false
			}
		}
		if next == "" && (!done || day >= today) {
			next = day
		}
	}
	if next == "" {
		next = today
	}
	if !ok || next != cur.Day {
		_, err := s.lists.ReplaceOne(ctx, bson.D{{Key: "_id", Value: dueCursorID}}, cursorDoc{ID: dueCursorID, Day: next},
			options.Replace().SetUpsert(true))
		if err != nil && !storage.IsDuplicateKey(err) {
			errs = append(errs, fmt.Errorf("move the expiry cursor: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("expire pickups: %w", err)
	}
	return rep, nil
}

func nextDay(day string) string {
	t, err := time.ParseInLocation("2006-01-02", day, Zone)
	if err != nil {
		return "9999-12-31" // ends the loop
	}
	return t.AddDate(0, 0, 1).Format("2006-01-02")
}
