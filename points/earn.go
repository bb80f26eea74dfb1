package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

const (
	// earnStatesCollection holds, per report, a chain of award states:
	// _id "<report>/<n %06d>". State n+1 is claimed by a unique insert, so
	// two instances handling events of one report cannot both decide what
	// it earns; each state's movement has the key "award:<report>/<n>".
	earnStatesCollection = "points_earn_states"
	// grantsCollection holds one document per Award call, _id its key: the
	// first call's facts (rider, points, time) are what every retry posts.
	grantsCollection = "points_grants"
	// capsCollection holds the cap slots ("day/<rider>/<day>/<k>",
	// "month/<rider>/<month>/<k>", one per award that counts against a
	// cap) and each award's decision ("for/<holder>").
	capsCollection = "points_caps"
)

// ErrCapped: the rider has reached the daily or monthly cap of awards, so
// the award earns nothing. The decision is kept: asking again with the
// same key is refused again.
var ErrCapped = errors.New("the rider has reached the cap of awards for the day or the month")

// Earner turns verified reports into points, and grants the awards other
// packages ask for (Award). It is a reports consumer (Publish).
//
// # Awards keyed by the report
//
// Report events come at least once, possibly out of order and possibly on
// two instances at once, so what a report earns is not decided per event
// but kept per report, as a chain of award states. Each state holds the
// report's snapshot as of the newest event applied (its ReportSeq), the
// amount the report deserves then (Target), what the rider holds for it
// after the state (Paid) and before it (Prev). A newer event claims the
// next state with a unique insert and then posts Paid − Prev: an award
// (Issuance → rider, a lot) when positive, a clawback (rider → Issuance,
// possibly into debt) when negative. An event not newer than the head is
// old and changes nothing.
//
// Before a new state is claimed, the head's movement is posted (a replay
// when it was, see Ledger.Post), and an old event does the same: so a crash
// between the state's insert and its movement is mended by the next
// delivery of any event of that report, and the movement keys, derived from
// the states, make it happen once.
//
// What a report deserves:
//   - verified, in progress or resolved at severity s: Rules.Points(category, s);
//   - rejected: nothing (a report rejected after a reopen gives its award back);
//   - submitted or acknowledged (after a reopen): what it deserved before,
//     until it is decided again; re-verifying pays or takes back the difference;
//   - a confirmed duplicate, while linked: the corroboration award instead,
//     whatever its status (closing a confirmed duplicate, which officers do
//     by rejecting it as "duplicate", does not take it back); unlinking it
//     takes it back, and the report then earns as any other.
//
// Events are snapshots, except that a confirmation is only an action: the
// state keeps the ReportSeq of the confirmation it saw. A duplicate's link
// is set at submission and, once removed, never comes back, so a
// confirmation that arrives after newer events still applies if the newest
// snapshot is still linked. An event that would keep an earlier award
// through an undecided status while events between the head and it are
// missing is refused with an error (reports delivers it again later), since
// a missing event may have been the rejection.
//
// # Caps
//
// A rider earns from at most Rules.DailyCap awards a day and
// Rules.MonthlyCap a month (Zone days, the time of the first event or call
// that gave the report or key a positive amount). Each award that counts
// claims slot k of the day, then of the month, for the first free k, by a
// unique insert; the slot records its holder, so a retry finds the slots it
// took before and takes no other. The decision (allowed or over the cap) is
// then stored once under "for/<holder>" and never changes: a report refused
// by a cap earns nothing even if verified again later.
//
// The one window where a slot is wasted: an Award call that stops after
// claiming its slots but before storing its grant decision, retried on
// another Zone day, claims that day's slot. (Report awards do not have it,
// since their day is the event's time, the same on every delivery; but two
// instances deciding the same report at once from two different events of
// different days may each take a day slot, and one is wasted.) A wasted
// slot lowers the rider's cap by one; an award is never paid twice, because
// payments are keyed by movement, not by slot.
type Earner struct {
	l         *Ledger
	states    *mongo.Collection
	grants    *mongo.Collection
	caps      *mongo.Collection
	rules     Rules
	lotMonths int
	log       *slog.Logger

	// TagsFor, if set, gives the tags an award in a grid cell carries
	// besides "cell:<cell>" (the lead adds "district:…" and "station:…").
	TagsFor func(cell string) []string

	now func() time.Time
	// stopAt, when set (by tests), runs at each point between two writes:
	// "claimed" (a state stored, its movement not yet posted) and
	// "slot" (a cap slot claimed, the decision not yet stored).
	stopAt func(point string)

	reportLocks storage.KeyedLocks[struct{}] // one report's events take turns in this instance
	riderLocks  storage.KeyedLocks[struct{}] // one rider's slot claims take turns in this instance

	meToo meTooPaid // the "me too" confirmations settled by this instance (metoo.go)

	mu    sync.Mutex
	heads map[string]int64  // report → a state number known to exist
	slots map[string]string // slot id → holder; slots never change once taken
}

// NewEarner builds the earner on the ledger l and the database db, paying
// by rules, with lots that expire lotMonths after the month of the award.
func NewEarner(l *Ledger, db *mongo.Database, rules Rules, lotMonths int, log *slog.Logger) *Earner {
	if rules.empty() {
		rules = DefaultRules()
	}
	if lotMonths <= 0 {
		lotMonths = 12
	}
	if log == nil {
		log = slog.Default()
	}
	return &Earner{
		l: l, states: db.Collection(earnStatesCollection), grants: db.Collection(grantsCollection),
		caps: db.Collection(capsCollection), rules: rules, lotMonths: lotMonths, log: log,
		now:   func() time.Time { return time.Now().UTC() },
		heads: map[string]int64{}, slots: map[string]string{},
	}
}

// Rules returns the rules the earner pays by.
func (e *Earner) Rules() Rules { return e.rules }

func (e *Earner) at(point string) {
	if e.stopAt != nil {
		e.stopAt(point)
	}
}

// awardState is one state of a report's award chain (see Earner).
type awardState struct {
	ID     string `bson:"_id"` // "<report>/<n %06d>"
	Report string `bson:"report"`
	N      int64  `bson:"n"`
	// Seq is the ReportSeq of the newest event applied; Event is the id of
	// the event that made this state.
	Seq      int    `bson:"seq"`
	Event    string `bson:"event"`
	Rider    string `bson:"rider"` // the reporter's user id
	Category string `bson:"category"`
	Cell     string `bson:"cell,omitempty"`
	Status   string `bson:"status"`
	Severity int    `bson:"severity,omitempty"`
	// Duplicate: linked to another report (probable or confirmed) as of Seq.
	Duplicate bool `bson:"duplicate,omitempty"`
	// ConfirmSeq is the ReportSeq of the confirmation of the link, if seen.
	ConfirmSeq int `bson:"confirm_seq,omitempty"`
	// Verified is what the last standing verification earns (kept through
	// a reopen, zeroed by a rejection).
	Verified int64     `bson:"verified"`
	Target   int64     `bson:"target"` // what the report deserves
	Prev     int64     `bson:"prev"`   // what the rider held for it before this state
	Paid     int64     `bson:"paid"`   // what the rider holds for it after: Target, or 0 when capped
	Capped   bool      `bson:"capped,omitempty"`
	At       time.Time `bson:"at"` // the event's time: lots expire from it
	// Posted is a hint, set after the movement is in: a state without it is
	// posted again (a replay if it was). Setting it is the only update.
	Posted bool `bson:"posted,omitempty"`
}

func stateID(report string, n int64) string { return fmt.Sprintf("%s/%06d", report, n) }

// confirmed reports whether the state is a confirmed duplicate.
func (s awardState) confirmed() bool { return s.Duplicate && s.ConfirmSeq > 0 }

// movementKey is the key of the state's movement in the ledger. Award keys
// cannot hold a '/', so these cannot collide with Award's "award:<key>".
func (s awardState) movementKey() string { return "award:" + s.ID }

// holder names a report for the cap decision.
func reportHolder(report string) string { return "report:" + report }

// Publish takes a report event (the Earner is the reports consumer
// "points"). It returns an error only when the event must be delivered
// again: a store failure, or an event that must wait for earlier ones.
func (e *Earner) Publish(ctx context.Context, ev reports.Event) error {
	// The riders who confirmed the report ("me too", metoo.go) earn on
	// their own keys, whatever the reporter's award does below.
	if err := e.payMeToo(ctx, ev); err != nil {
		return err
	}
	if ev.ReportID == "" || ev.ReporterID == "" || strings.Contains(ev.ReportID, "/") {
		e.log.Warn("points: a report event without a usable report or reporter; it earns nothing", "event", ev.ID, "report", ev.ReportID)
		return nil
	}
	if err := validAccount(Rider(ev.ReporterID)); err != nil {
		e.log.Warn("points: a report event whose reporter cannot hold points; it earns nothing", "event", ev.ID, "err", err)
		return nil
	}
	if ev.ReportSeq <= 1 && !ev.Again {
		// A report's first event (its submission), handed out by its
		// writer, that earns nothing has nothing to order against and
		// nothing to store (below), so the head is not read: that read was
		// a store command on every submission's path. Reading it would
		// only settle a later event's state, which that event's own
		// delivery does; a redelivery (Again), which may follow a crash,
		// still reads it.
		if next, apply, err := e.next(awardState{}, false, ev); err == nil && apply && next.Target == 0 {
			return nil
		}
	}
	_, unlock := e.reportLocks.Lock(ev.ReportID)
	defer unlock()
	const attempts = 20
	for range attempts {
		head, ok, err := e.head(ctx, ev.ReportID)
		if err != nil {
			return err
		}
		if ok {
			// Whatever this event is, the head's movement must be in first:
			// this is what mends a crash between a state and its movement.
			if err := e.settle(ctx, head); err != nil {
				return err
			}
		}
		next, apply, err := e.next(head, ok, ev)
		if err != nil || !apply {
			return err
		}
		if !ok && ev.ReportSeq <= 1 && next.Target == 0 {
			// A submission earns nothing and no event is older, so there is
			// nothing to order it against: storing its state would only add
			// a write to every report's first publication.
			return nil
		}
		if next.Target > 0 {
			allowed, err := e.capAllows(ctx, reportHolder(ev.ReportID), ev.ReporterID, next.At)
			if err != nil {
				return err
			}
			if !allowed {
				next.Capped = true
				if !head.Capped {
					e.log.Info("points: the reporter has reached the daily or monthly cap of awards; this report earns nothing",
						"report", ev.ReportID, "rider", ev.ReporterID, "points", next.Target)
				}
			}
		}
		if !next.Capped {
			next.Paid = next.Target
		}
		next.Posted = next.Paid == next.Prev // nothing to post
		if _, err := e.states.InsertOne(ctx, next); err != nil {
			if storage.IsDuplicateKey(err) {
				continue // another delivery claimed that number: look again
			}
			return fmt.Errorf("points: record the award of report %s: %w", ev.ReportID, err)
		}
		e.remember(ev.ReportID, next.N)
		e.at("claimed")
		return e.settle(ctx, next)
	}
	return fmt.Errorf("points: report %s: %w", ev.ReportID, ErrBusy)
}

// errEarlier asks for the event again later, after the ones before it.
var errEarlier = errors.New("points: an earlier event of this report has not been handled yet; deliver this one again later")

// next computes the state an event leads to from the head; apply is false
// when the event changes nothing (it is old).
func (e *Earner) next(head awardState, have bool, ev reports.Event) (awardState, bool, error) {
	if have && ev.ReportSeq <= head.Seq {
		// Old. A confirmation is an action, not a snapshot: apply it late
		// if the newest snapshot is still linked (a link never returns
		// once removed, so it was linked all along).
		if ev.Action != reports.ActConfirmDuplicate || head.ConfirmSeq > 0 || !head.Duplicate {
			return awardState{}, false, nil
		}
		s := head
		s.N, s.ID, s.Event, s.Posted, s.Capped = head.N+1, stateID(head.Report, head.N+1), ev.ID, false, false
		s.ConfirmSeq, s.Prev = ev.ReportSeq, head.Paid
		s.Target = e.target(s)
		if s.Target == head.Target {
			return awardState{}, false, nil
		}
		if !ev.At.IsZero() {
			s.At = ev.At.UTC()
		}
		return s, true, nil
	}
	s := awardState{
		N: head.N + 1, Report: ev.ReportID, Seq: ev.ReportSeq, Event: ev.ID, Rider: ev.ReporterID,
		Category: ev.Category, Cell: ev.Cell, Status: string(ev.Status), Severity: ev.Severity,
		Duplicate: ev.Duplicate, ConfirmSeq: head.ConfirmSeq, Prev: head.Paid, At: ev.At.UTC(),
	}
	if s.At.IsZero() {
		// Stored with the state, so every delivery agrees on the lot's expiry.
		s.At = e.now()
	}
	s.ID = stateID(ev.ReportID, s.N)
	if ev.Action == reports.ActConfirmDuplicate {
		s.ConfirmSeq = ev.ReportSeq
	}
	switch ev.Status {
	case reports.StatusVerified, reports.StatusInProgress, reports.StatusResolved:
		s.Verified = e.rules.Points(ev.Category, ev.Severity)
	case reports.StatusRejected:
		s.Verified = 0
	default:
		// Undecided (submitted, or acknowledged after a reopen): the last
		// verification stands until the report is decided again. If events
		// are missing between the head and this one, one of them may have
		// been a rejection, so wait for them.
		s.Verified = head.Verified
		if have && head.Verified > 0 && ev.ReportSeq > head.Seq+1 {
			e.log.Info("points: a report event came before earlier ones; waiting for them", "report", ev.ReportID,
				"seq", ev.ReportSeq, "have", head.Seq)
			return awardState{}, false, errEarlier
		}
	}
	s.Target = e.target(s)
	return s, true, nil
}

func (e *Earner) target(s awardState) int64 {
	if s.confirmed() {
		return e.rules.Corroboration
	}
	return s.Verified
}

// settle posts a state's movement unless it is known to be in.
func (e *Earner) settle(ctx context.Context, s awardState) error {
	if s.Posted || s.Paid == s.Prev {
		return nil
	}
	t := Transfer{Key: s.movementKey(), Ref: "report:" + s.Report, Tags: e.tags(s.Cell)}
	switch delta := s.Paid - s.Prev; {
	case delta > 0:
		t.Kind, t.Debit, t.Credit, t.Amount = KindAward, Issuance, Rider(s.Rider), delta
		t.Expires = LotExpiry(s.At, e.lotMonths)
		t.Note = awardNote(s)
	default:
		t.Kind, t.Debit, t.Credit, t.Amount = KindClawback, Rider(s.Rider), Issuance, -delta
		t.Note = clawbackNote(s)
	}
	if _, err := e.l.Post(ctx, t); err != nil {
		return fmt.Errorf("points: post the award of report %s: %w", s.Report, err)
	}
	// A hint only: if it is lost, the next delivery posts again, a replay.
	if _, err := e.states.UpdateOne(ctx, bson.D{{Key: "_id", Value: s.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "posted", Value: true}}}}); err != nil {
		e.log.Warn("points: mark an award posted; it will be replayed", "state", s.ID, "err", err)
	}
	return nil
}

func awardNote(s awardState) string {
	if s.confirmed() {
		return "corroboration: report confirmed as a duplicate"
	}
	if s.Prev > 0 {
		return fmt.Sprintf("report verified again at severity %d", s.Severity)
	}
	return fmt.Sprintf("report verified at severity %d", s.Severity)
}

func clawbackNote(s awardState) string {
	switch {
	case s.Paid == 0 && s.Status == string(reports.StatusRejected):
		return "report rejected: award withdrawn"
	case s.Paid == 0:
		return "duplicate unlinked: corroboration withdrawn"
	case s.confirmed():
		return "report confirmed as a duplicate: corroboration only"
	}
	return fmt.Sprintf("report verified again at severity %d", s.Severity)
}

func (e *Earner) tags(cell string) []string {
	if cell == "" {
		return nil
	}
	out := []string{"cell:" + cell}
	if e.TagsFor != nil {
		out = append(out, e.TagsFor(cell)...)
	}
	return out
}

// head returns the last state of a report's chain, reading by _id only.
func (e *Earner) head(ctx context.Context, report string) (awardState, bool, error) {
	e.mu.Lock()
	from := e.heads[report]
	e.mu.Unlock()
	last, err := storage.LastFrom(from, func(n int64) (bool, error) {
		err := e.states.FindOne(ctx, bson.D{{Key: "_id", Value: stateID(report, n)}}).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("points: read the awards of report %s: %w", report, err)
		}
		return true, nil
	})
	if err != nil {
		return awardState{}, false, err
	}
	if last == 0 {
		return awardState{}, false, nil
	}
	var s awardState
	if err := e.states.FindOne(ctx, bson.D{{Key: "_id", Value: stateID(report, last)}}).Decode(&s); err != nil {
		return awardState{}, false, fmt.Errorf("points: read the awards of report %s: %w", report, err)
	}
	e.remember(report, last)
	return s, true, nil
}

// maxRemembered bounds the memory of heads and slots; past it they are
// forgotten and read again.
const maxRemembered = 10_000

func (e *Earner) remember(report string, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.heads) >= maxRemembered {
		e.heads = map[string]int64{}
	}
	if n > e.heads[report] {
		e.heads[report] = n
	}
}

// AwardRequest asks Award to grant points for a fact of another package.
type AwardRequest struct {
	// Key is the fact's key, e.g. "council:feedback:<id>": the award is
	// granted once per key. No '/', up to 200 bytes.
	Key    string
	UserID string
	Points int64 // 1..MaxAward
	Note   string
	Ref    string // shown on the statement, e.g. "feedback:<id>"
	Tags   []string
}

type grant struct {
	Key    string    `bson:"_id"`
	UserID string    `bson:"user_id"`
	Points int64     `bson:"points"`
	Ref    string    `bson:"ref,omitempty"`
	At     time.Time `bson:"at"`
}

// Award grants req.Points to req.UserID once per req.Key, as a lot that
// expires like any award, within the rider's caps. Asking again with the
// same key returns the first result (Replayed set); with the same key but
// another rider, amount or ref, ErrKeyConflict. Errors: ErrInvalid for a bad
// request (nothing is written), ErrCapped when the rider is over a cap (the
// refusal is kept for the key), and the ledger's errors.
func (e *Earner) Award(ctx context.Context, req AwardRequest) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	g := grant{Key: req.Key, UserID: req.UserID, Points: req.Points, Ref: req.Ref, At: e.now().UTC().Truncate(time.Millisecond)}
	if _, err := e.grants.InsertOne(ctx, g); err != nil {
		if !storage.IsDuplicateKey(err) {
			return Result{}, fmt.Errorf("points: record award %q: %w", req.Key, err)
		}
		var first grant
		if err := e.grants.FindOne(ctx, bson.D{{Key: "_id", Value: req.Key}}).Decode(&first); err != nil {
			return Result{}, fmt.Errorf("points: read award %q: %w", req.Key, err)
		}
		if first.UserID != g.UserID || first.Points != g.Points || first.Ref != g.Ref {
			return Result{}, fmt.Errorf("%w: award %q was granted as %d points to %s", ErrKeyConflict, req.Key, first.Points, first.UserID)
		}
		g = first
	}
	allowed, err := e.capAllows(ctx, "award:"+req.Key, req.UserID, g.At)
	if err != nil {
		return Result{}, err
	}
	if !allowed {
		e.log.Info("points: the rider has reached the daily or monthly cap of awards; this award earns nothing",
			"key", req.Key, "rider", req.UserID, "points", req.Points)
		return Result{}, fmt.Errorf("%w (%d a day, %d a month): award %q earns nothing", ErrCapped, e.rules.DailyCap, e.rules.MonthlyCap, req.Key)
	}
	return e.l.Post(ctx, Transfer{Key: "award:" + req.Key, Kind: KindAward, Debit: Issuance, Credit: Rider(req.UserID),
		Amount: g.Points, Note: req.Note, Ref: g.Ref, Expires: LotExpiry(g.At, e.lotMonths), Tags: req.Tags})
}

func (r AwardRequest) validate() error {
	switch {
	case r.Key == "":
		return fmt.Errorf("%w: an award needs a key", ErrInvalid)
	case len(r.Key) > 200:
		return fmt.Errorf("%w: the award key is longer than 200 bytes", ErrInvalid)
	case strings.Contains(r.Key, "/"):
		// Report awards' movement keys hold a '/': a key without one
		// cannot collide with them.
		return fmt.Errorf("%w: the award key %q contains a '/'", ErrInvalid, r.Key)
	case !utf8.ValidString(r.Key):
		return fmt.Errorf("%w: the award key is not valid UTF-8", ErrInvalid)
	case r.UserID == "":
		return fmt.Errorf("%w: an award needs a rider", ErrInvalid)
	case r.Points <= 0:
		return fmt.Errorf("%w: an award must be a positive whole number of points, got %d", ErrInvalid, r.Points)
	case r.Points > MaxAward:
		return fmt.Errorf("%w: an award of %d points is more than the most allowed, %d", ErrInvalid, r.Points, MaxAward)
	case utf8.RuneCountInString(r.Note) > 500:
		return fmt.Errorf("%w: the award note is longer than 500 characters", ErrInvalid)
	case len(r.Ref) > 200:
		return fmt.Errorf("%w: the award ref is longer than 200 bytes", ErrInvalid)
	}
	return validAccount(Rider(r.UserID))
}

// capDecision is the stored decision of the caps for one award holder.
type capDecision struct {
	ID        string    `bson:"_id"` // "for/<holder>"
	Rider     string    `bson:"rider"`
	Allowed   bool      `bson:"allowed"`
	DaySlot   string    `bson:"day_slot,omitempty"`
	MonthSlot string    `bson:"month_slot,omitempty"`
	At        time.Time `bson:"at"`
}

type capSlot struct {
	ID     string    `bson:"_id"`
	Holder string    `bson:"holder"`
	At     time.Time `bson:"at"`
}

// capAllows decides, once per holder, whether an award at time at fits in
// the rider's daily and monthly caps (see Earner, "Caps").
func (e *Earner) capAllows(ctx context.Context, holder, rider string, at time.Time) (bool, error) {
	id := "for/" + holder
	var d capDecision
	err := e.caps.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if err == nil {
		return d.Allowed, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return false, fmt.Errorf("points: read the cap of %s: %w", holder, err)
	}
	_, unlock := e.riderLocks.Lock(rider)
	defer unlock()
	d = capDecision{ID: id, Rider: rider, At: e.now()}
	d.DaySlot, err = e.claimSlot(ctx, "day/"+rider+"/"+DayKey(at), e.rules.DailyCap, holder)
	if err != nil {
		return false, err
	}
	// The month is claimed only when the day allows: a day slot taken by an
	// award the month refuses is no loss, since the month is full for the
	// rest of that day too.
	if d.DaySlot != "" {
		if d.MonthSlot, err = e.claimSlot(ctx, "month/"+rider+"/"+MonthKey(at), e.rules.MonthlyCap, holder); err != nil {
			return false, err
		}
	}
	d.Allowed = d.DaySlot != "" && d.MonthSlot != ""
	e.at("slot")
	if _, err := e.caps.InsertOne(ctx, d); err != nil {
		if !storage.IsDuplicateKey(err) {
			return false, fmt.Errorf("points: record the cap of %s: %w", holder, err)
		}
		// Decided by a racing delivery: that decision stands.
		var first capDecision
		if err := e.caps.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&first); err != nil {
			return false, fmt.Errorf("points: read the cap of %s: %w", holder, err)
		}
		return first.Allowed, nil
	}
	return d.Allowed, nil
}

// claimSlot takes the first free slot of scope for holder, or finds the
// one it took before; "" when all n are held by others.
func (e *Earner) claimSlot(ctx context.Context, scope string, n int, holder string) (string, error) {
	for k := 1; k <= n; k++ {
		id := fmt.Sprintf("%s/%d", scope, k)
		e.mu.Lock()
		h, known := e.slots[id]
		e.mu.Unlock()
		if known {
			if h == holder {
				return id, nil
			}
			continue
		}
		_, err := e.caps.InsertOne(ctx, capSlot{ID: id, Holder: holder, At: e.now()})
		if err == nil {
			e.rememberSlot(id, holder)
			return id, nil
		}
		if !storage.IsDuplicateKey(err) {
			return "", fmt.Errorf("points: claim a cap slot: %w", err)
		}
		var s capSlot
		if err := e.caps.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&s); err != nil {
			return "", fmt.Errorf("points: read a cap slot: %w", err)
		}
		e.rememberSlot(id, s.Holder)
		if s.Holder == holder {
			return id, nil // taken by an earlier attempt of this award
		}
	}
	return "", nil
}

func (e *Earner) rememberSlot(id, holder string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.slots) >= maxRemembered {
		e.slots = map[string]string{}
	}
	e.slots[id] = holder
}
