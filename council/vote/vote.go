// Package vote keeps a station council's proposals and their votes: a
// proposal with a ballot kind fixed at creation, a voter roll frozen when
// voting opens, one vote per member, receipts every voter can check after
// close, secret ballots kept apart from the roll, and a tally computed once
// and frozen when the proposal is first read after it closes (no job is
// needed for a proposal to close).
//
// Every "only once" rule is a unique insert, the one write that is atomic on
// MongoDB and on the embedded FerretDB (conditional updates are not; see
// DESIGN.md): opening is the insert of the proposal's open record, a vote is
// the insert of the next entry of the member's chain (open ballots) or of
// the member's roll entry (secret ballots), and the tally is the insert of
// the frozen result. Reads on the request path are by _id only.
//
// Storage: the shared collections vote_proposals, vote_opens, vote_tallies
// and vote_notices are keyed by proposal id. The ballots of a proposal live
// in collections of their own, "vote_<id>_ballots" (and, for secret
// ballots, "vote_<id>_roll" and "vote_<id>_free"), so that the tally reads
// that proposal's ballots in one pass and never another proposal's: on the
// embedded store any filter other than _id reads a whole collection, and a
// collection per proposal makes "the whole collection" exactly the ballots
// to count. All their keys are _id, so they need no index of their own.
//
// The package knows no other domain: the council passes the roll in and is
// told of events through Notifier.
package vote

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// Kind is the kind of ballot, fixed when the proposal is created.
type Kind string

// Ballot kinds.
const (
	// YesNoAbstain: one of "yes", "no", "abstain". Abstentions count for
	// turnout and quorum, not for the pass threshold.
	YesNoAbstain Kind = "yes_no_abstain"
	// OneOf: exactly one of the proposal's options.
	OneOf Kind = "one_of"
	// Approval: one to MaxApprovals of the proposal's options.
	Approval Kind = "approval"
)

// The choices of a YesNoAbstain ballot.
const (
	Yes     = "yes"
	No      = "no"
	Abstain = "abstain"
)

// Limits.
const (
	MaxWindow     = 60 * 24 * time.Hour // longest voting window
	MinOptions    = 2
	MaxOptions    = 20
	DefaultPass   = 50.0 // a proposal passes with strictly more than this share
	maxTitleRunes = 120
	maxBodyRunes  = 5000
	maxOptionLen  = 100
)

// Errors. Test for them with errors.Is (ErrClosed also with errors.As, to
// read the closing time).
var (
	ErrNotFound  = errors.New("no proposal with that id")
	ErrExists    = errors.New("a proposal with that id exists already")
	ErrOpen      = errors.New("the proposal is open for voting and can no longer be edited")
	ErrNotOpen   = errors.New("voting on this proposal has not opened")
	ErrNotOnRoll = errors.New("you are not on this proposal's voter roll: only members when voting opened may vote")
	ErrFinal     = errors.New("your vote on this secret ballot is already counted and cannot be changed")
	ErrNotClosed = errors.New("results are shown once voting has closed")
	ErrBadChoice = errors.New("that choice is not valid on this ballot")
	ErrBusy      = errors.New("your vote is being recorded; try again in a minute")
	// ErrClosed matches every *ClosedError.
	ErrClosed = errors.New("voting on this proposal has closed")
)

// ClosedError says that voting closed, and when. It matches ErrClosed.
type ClosedError struct{ At time.Time }

func (e *ClosedError) Error() string {
	return fmt.Sprintf("voting on this proposal closed at %s", e.At.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrClosed) true.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// FieldError says which input field is wrong and how to fix it. Nothing was
// written.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Draft is what a station admin sends to create or edit a proposal.
type Draft struct {
	// ID is the new proposal's id, chosen by the caller so that it can be
	// recorded elsewhere first (24 hex digits; Create only). Empty: Create
	// makes one.
	ID           string
	StationID    string
	Title        string
	Body         string
	Kind         Kind
	Options      []string // OneOf and Approval: 2 to 20 distinct labels
	MaxApprovals int      // Approval: 1 to len(Options); 0 means len(Options)
	Secret       bool
	Opens        time.Time
	Closes       time.Time
	QuorumPct    float64 // share of the roll that must vote, 0 to 100
	PassPct      float64 // 0 means DefaultPass; see Tally.Passed
	CreatedBy    string
}

// Proposal is a stored proposal. Once voting opens, the proposal as it was
// then is frozen in its open record and that is what Get returns.
type Proposal struct {
	ID           string    `bson:"_id" json:"id"`
	StationID    string    `bson:"station_id" json:"station_id"`
	Title        string    `bson:"title" json:"title"`
	Body         string    `bson:"body" json:"body"`
	Kind         Kind      `bson:"kind" json:"kind"`
	Options      []string  `bson:"options" json:"options"`
	MaxApprovals int       `bson:"max_approvals,omitempty" json:"max_approvals,omitempty"`
	Secret       bool      `bson:"secret" json:"secret"`
	Opens        time.Time `bson:"opens" json:"opens"`
	Closes       time.Time `bson:"closes" json:"closes"`
	QuorumPct    float64   `bson:"quorum_pct" json:"quorum_pct"`
	PassPct      float64   `bson:"pass_pct" json:"pass_pct"`
	CreatedBy    string    `bson:"created_by" json:"created_by"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`

	// Filled by Get, not stored on the proposal.
	State    State     `bson:"-" json:"state"`
	OpenedAt time.Time `bson:"-" json:"opened_at,omitzero"`
	RollSize int       `bson:"-" json:"roll_size"`
	Tally    *Tally    `bson:"-" json:"tally,omitempty"`
}

// State is where a proposal is in its life.
type State string

// States.
const (
	StateDraft  State = "draft"  // not opened: editable
	StateOpen   State = "open"   // opened; votes are taken between Opens and Closes
	StateClosed State = "closed" // past Closes: the tally is frozen
)

// Choices returns the labels a ballot may choose from.
func (p *Proposal) Choices() []string {
	if p.Kind == YesNoAbstain {
		return []string{Yes, No, Abstain}
	}
	return p.Options
}

func (d Draft) clean() (Draft, error) {
	d.StationID, d.Title, d.Body = strings.TrimSpace(d.StationID), strings.TrimSpace(d.Title), strings.TrimSpace(d.Body)
	if d.StationID == "" {
		return d, &FieldError{"station_id", "name the station the proposal belongs to"}
	}
	if d.CreatedBy == "" {
		return d, &FieldError{"created_by", "say who puts the proposal"}
	}
	if n := utf8.RuneCountInString(d.Title); n == 0 || n > maxTitleRunes {
		return d, &FieldError{"title", fmt.Sprintf("enter a title of 1 to %d characters", maxTitleRunes)}
	}
	if utf8.RuneCountInString(d.Body) > maxBodyRunes {
		return d, &FieldError{"body", fmt.Sprintf("use at most %d characters", maxBodyRunes)}
	}
	switch d.Kind {
	case YesNoAbstain:
		if len(d.Options) > 0 {
			return d, &FieldError{"options", "a for / against / abstain ballot has no options of its own"}
		}
		d.MaxApprovals = 0
	case OneOf, Approval:
		if len(d.Options) < MinOptions || len(d.Options) > MaxOptions {
			return d, &FieldError{"options", fmt.Sprintf("give %d to %d options", MinOptions, MaxOptions)}
		}
		seen := map[string]bool{}
		opts := make([]string, len(d.Options))
		for i, o := range d.Options {
			o = strings.TrimSpace(o)
			if n := utf8.RuneCountInString(o); n == 0 || n > maxOptionLen {
				return d, &FieldError{"options", fmt.Sprintf("option %d must have 1 to %d characters", i+1, maxOptionLen)}
			}
			if seen[o] {
				return d, &FieldError{"options", fmt.Sprintf("option %q appears twice", o)}
			}
			seen[o] = true
			opts[i] = o
		}
		d.Options = opts
		if d.Kind == OneOf {
			d.MaxApprovals = 0
		} else {
			if d.MaxApprovals == 0 {
				d.MaxApprovals = len(opts)
			}
			if d.MaxApprovals < 1 || d.MaxApprovals > len(opts) {
				return d, &FieldError{"max_approvals", fmt.Sprintf("allow 1 to %d approvals", len(opts))}
			}
		}
	default:
		return d, &FieldError{"kind", "choose yes_no_abstain, one_of or approval"}
	}
	if d.Opens.IsZero() || d.Closes.IsZero() {
		return d, &FieldError{"closes", "give the voting window's opening and closing times"}
	}
	d.Opens, d.Closes = d.Opens.UTC().Truncate(time.Millisecond), d.Closes.UTC().Truncate(time.Millisecond)
	if !d.Closes.After(d.Opens) {
		return d, &FieldError{"closes", "voting must close after it opens"}
	}
	if d.Closes.Sub(d.Opens) > MaxWindow {
		return d, &FieldError{"closes", "a voting window lasts at most 60 days"}
	}
	if math.IsNaN(d.QuorumPct) || d.QuorumPct < 0 || d.QuorumPct > 100 {
		return d, &FieldError{"quorum_pct", "the quorum is a share of the roll between 0 and 100 %"}
	}
	if d.PassPct == 0 {
		d.PassPct = DefaultPass
	}
	if math.IsNaN(d.PassPct) || d.PassPct < DefaultPass || d.PassPct > 100 {
		return d, &FieldError{"pass_pct", "the pass threshold is a share of the votes cast between 50 and 100 %"}
	}
	return d, nil
}

// Notice is an event the council tells members of, through the inbox.
type Notice struct {
	Kind     NoticeKind
	Proposal Proposal
	Roll     []string // who to tell: the frozen roll
	Tally    *Tally   // NoticeResult only
}

// NoticeKind names a Notice.
type NoticeKind string

// The notices. Each is sent at most once per proposal across all instances
// (claimed by a unique insert before it is sent).
const (
	NoticeOpened      NoticeKind = "opened"       // by Open
	NoticeClosingSoon NoticeKind = "closing_soon" // by RemindClosing, within a day of close
	NoticeResult      NoticeKind = "result"       // when the tally is frozen
)

// Notifier is told of notices; the council wires it to the inbox. A failed
// notice is logged, not retried: the vote stands either way.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Service keeps proposals and votes.
type Service struct {
	db     *mongo.Database
	log    *slog.Logger
	notify Notifier

	proposals, opens, tallies, notices *mongo.Collection

	// now is the clock; settle is how long after Closes the tally waits,
	// so that no vote accepted before Closes lands after the count (Cast
	// bounds its writes by Closes+settle).
	now    func() time.Time
	settle time.Duration

	// cache of open records: immutable once written, so safe to keep.
	mu     sync.Mutex
	opened map[string]*openRecord
	ins    map[string]*storage.Joiner // insert joiners per collection

	members storage.KeyedLocks[struct{}]
	slots   sync.Map // proposal id → *slotPool (secret ballots)
}

// NewService returns the proposals and votes service. log may be nil.
func NewService(db *mongo.Database, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		db: db, log: log,
		proposals: db.Collection("vote_proposals"),
		opens:     db.Collection("vote_opens"),
		tallies:   db.Collection("vote_tallies"),
		notices:   db.Collection("vote_notices"),
		now:       time.Now,
		settle:    10 * time.Second,
		opened:    map[string]*openRecord{},
		ins:       map[string]*storage.Joiner{},
	}
}

// SetClock replaces the clock (tests and simulations that need a
// proposal to close without waiting).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Settle is how long after a proposal's close its tally waits.
func (s *Service) Settle() time.Duration { return s.settle }

// SetNotifier sets who is told of notices (the inbox); call it before use.
func (s *Service) SetNotifier(n Notifier) { s.notify = n }

// Indexes returns the indexes the package needs: none, every key is _id.
func Indexes() []storage.Index { return nil }

// Validate checks a draft as Create would, writing nothing.
func Validate(d Draft) error {
	_, err := d.clean()
	return err
}

// NewID returns a new proposal id (for Draft.ID).
func NewID() string { return newID() }

// ValidID reports whether id has the form of a proposal id.
func ValidID(id string) bool {
	if len(id) != 24 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

var receiptEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newReceipt returns 80 random bits as four groups of four characters.
func newReceipt() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	s := receiptEncoding.EncodeToString(b[:])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// Create stores a new proposal as a draft. A *FieldError names the bad
// field; nothing is written then.
func (s *Service) Create(ctx context.Context, d Draft) (Proposal, error) {
	d, err := d.clean()
	if err != nil {
		return Proposal{}, err
	}
	id := d.ID
	if id == "" {
		id = newID()
	} else if !ValidID(id) {
		return Proposal{}, &FieldError{"id", "a proposal id is 24 hexadecimal digits"}
	}
	p := fromDraft(id, d, s.now())
	if _, err := s.proposals.InsertOne(ctx, p); err != nil {
		if storage.IsDuplicateKey(err) {
			return Proposal{}, ErrExists
		}
		return Proposal{}, fmt.Errorf("store proposal: %w", err)
	}
	p.State = StateDraft
	return p, nil
}

func fromDraft(id string, d Draft, at time.Time) Proposal {
	return Proposal{ID: id, StationID: d.StationID, Title: d.Title, Body: d.Body, Kind: d.Kind,
		Options: d.Options, MaxApprovals: d.MaxApprovals, Secret: d.Secret, Opens: d.Opens, Closes: d.Closes,
		QuorumPct: d.QuorumPct, PassPct: d.PassPct, CreatedBy: d.CreatedBy, CreatedAt: at.UTC().Truncate(time.Millisecond)}
}

// Edit replaces a draft's contents. ErrOpen once voting has opened (an edit
// racing Open cannot change the vote either: the ballot is read from the
// copy frozen by Open). ErrNotFound, *FieldError.
func (s *Service) Edit(ctx context.Context, id string, d Draft) (Proposal, error) {
	d, err := d.clean()
	if err != nil {
		return Proposal{}, err
	}
	old, err := s.draft(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if rec, err := s.openRecord(ctx, id); err != nil {
		return Proposal{}, err
	} else if rec != nil {
		return Proposal{}, ErrOpen
	}
	p := fromDraft(id, d, old.CreatedAt)
	if _, err := s.proposals.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, p); err != nil {
		return Proposal{}, fmt.Errorf("store proposal: %w", err)
	}
	p.State = StateDraft
	return p, nil
}

func (s *Service) draft(ctx context.Context, id string) (Proposal, error) {
	var p Proposal
	err := s.proposals.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Proposal{}, ErrNotFound
	}
	if err != nil {
		return Proposal{}, fmt.Errorf("read proposal: %w", err)
	}
	return p, nil
}

// openRecord is written once, by the Open that wins: the proposal as it
// was then and the voter roll, frozen.
type openRecord struct {
	ID       string    `bson:"_id"`
	Proposal Proposal  `bson:"proposal"`
	Roll     []string  `bson:"roll"` // sorted, distinct
	OpenedAt time.Time `bson:"opened_at"`
	// Secret ballots: the ballot slots made for this opening (see
	// secret.go). Gen tells them from the slots of an Open that lost.
	Gen   string   `bson:"gen,omitempty"`
	Slots []string `bson:"slots,omitempty"`

	onRoll map[string]bool `bson:"-"`
}

func (r *openRecord) index() {
	r.onRoll = make(map[string]bool, len(r.Roll))
	for _, m := range r.Roll {
		r.onRoll[m] = true
	}
}

// OnRoll reports whether member is on the proposal's voter roll: false
// before voting opens (there is no roll yet). ErrNotFound.
func (s *Service) OnRoll(ctx context.Context, id, member string) (bool, error) {
	on, _, err := s.Voter(ctx, id, member)
	return on, err
}

// Voter reports whether member is on the proposal's voter roll and whether
// they have voted (on a secret ballot: their vote is on the roll, final; a
// vote still being recorded counts as voted). Both false before voting
// opens. ErrNotFound.
func (s *Service) Voter(ctx context.Context, id, member string) (onRoll, voted bool, err error) {
	rec, err := s.openRecord(ctx, id)
	if err != nil {
		return false, false, err
	}
	if rec == nil {
		_, err := s.draft(ctx, id)
		return false, false, err
	}
	if !rec.onRoll[member] {
		return false, false, nil
	}
	if rec.Proposal.Secret {
		err := s.roll(id).FindOne(ctx, bson.D{{Key: "_id", Value: member}}).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return true, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("read the voter roll: %w", err)
		}
		return true, true, nil
	}
	err = s.ballots(id).FindOne(ctx, bson.D{{Key: "_id", Value: openBallotID(member, 1)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("read vote: %w", err)
	}
	return true, true, nil
}

// openRecord returns the proposal's open record, or nil if it has not
// opened.
func (s *Service) openRecord(ctx context.Context, id string) (*openRecord, error) {
	s.mu.Lock()
	rec := s.opened[id]
	s.mu.Unlock()
	if rec != nil {
		return rec, nil
	}
	rec = &openRecord{}
	err := s.opens.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(rec)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read proposal's opening: %w", err)
	}
	rec.index()
	s.mu.Lock()
	s.opened[id] = rec
	s.mu.Unlock()
	return rec, nil
}

// Open opens voting: roll, the station's members at this moment, is frozen
// as the voter roll (a member who joins later gets ErrNotOnRoll). Opening
// an open proposal again changes nothing. Members on the roll are told
// (NoticeOpened) once. ErrNotFound; ErrClosed when the window has passed.
func (s *Service) Open(ctx context.Context, id string, roll []string) (Proposal, error) {
	if rec, err := s.openRecord(ctx, id); err != nil {
		return Proposal{}, err
	} else if rec != nil {
		return s.Get(ctx, id)
	}
	p, err := s.draft(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	now := s.now().UTC()
	if !now.Before(p.Closes) {
		return Proposal{}, &ClosedError{At: p.Closes}
	}
	r := make([]string, 0, len(roll))
	for _, m := range roll {
		if m = strings.TrimSpace(m); m != "" {
			r = append(r, m)
		}
	}
	slices.Sort(r)
	r = slices.Compact(r)
	rec := &openRecord{ID: id, Proposal: p, Roll: r, OpenedAt: now.Truncate(time.Millisecond)}
	if p.Secret {
		// The slots are made before the record that names them, so that
		// no vote can look for a slot that is not there yet.
		if err := s.makeSlots(ctx, rec); err != nil {
			return Proposal{}, err
		}
	}
	if _, err := s.opens.InsertOne(ctx, rec); err != nil && !storage.IsDuplicateKey(err) {
		return Proposal{}, fmt.Errorf("open proposal: %w", err)
	}
	// Whoever won, read the record that stands.
	won, err := s.openRecord(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if won == nil {
		return Proposal{}, fmt.Errorf("open proposal %s: the open record is missing after its insert", id)
	}
	if p.Secret && won.Gen != rec.Gen {
		s.dropSlots(ctx, rec) // this Open lost: its slots are never used
	}
	out, err := s.Get(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	s.send(ctx, Notice{Kind: NoticeOpened, Proposal: out, Roll: won.Roll})
	return out, nil
}

// Get returns a proposal. An open proposal is returned as frozen by Open;
// a proposal past its close carries its tally, which the first Get (or
// Results) after close computes and freezes. ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Proposal, error) {
	rec, err := s.openRecord(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if rec == nil {
		p, err := s.draft(ctx, id)
		if err != nil {
			return Proposal{}, err
		}
		p.State = StateDraft
		return p, nil
	}
	p := rec.Proposal
	p.OpenedAt, p.RollSize, p.State = rec.OpenedAt, len(rec.Roll), StateOpen
	if s.closed(p) {
		t, err := s.tally(ctx, rec)
		if err != nil {
			return Proposal{}, err
		}
		p.State, p.Tally = StateClosed, &t
	}
	return p, nil
}

// closed reports whether the proposal is closed and counted: its close and
// the settling time after it have passed.
func (s *Service) closed(p Proposal) bool {
	return !s.now().Before(p.Closes.Add(s.settle))
}

// RemindClosing sends NoticeClosingSoon for an open proposal that closes
// within a day, once across all instances; it reports whether this call
// sent it. The council runs it from its periodic sweep (or on reads).
func (s *Service) RemindClosing(ctx context.Context, id string) (bool, error) {
	rec, err := s.openRecord(ctx, id)
	if err != nil || rec == nil {
		return false, err
	}
	now := s.now()
	if !now.Before(rec.Proposal.Closes) || rec.Proposal.Closes.Sub(now) > 24*time.Hour {
		return false, nil
	}
	p, err := s.Get(ctx, id)
	if err != nil {
		return false, err
	}
	return s.send(ctx, Notice{Kind: NoticeClosingSoon, Proposal: p, Roll: rec.Roll}), nil
}

// send claims the notice by a unique insert and, if this call won, tells
// the notifier. It reports whether it sent.
func (s *Service) send(ctx context.Context, n Notice) bool {
	if s.notify == nil {
		return false
	}
	_, err := s.notices.InsertOne(ctx, bson.D{{Key: "_id", Value: n.Proposal.ID + "/" + string(n.Kind)}})
	if storage.IsDuplicateKey(err) {
		return false
	}
	if err != nil {
		s.log.Error("vote: claim notice", "proposal", n.Proposal.ID, "notice", n.Kind, "err", err)
		return false
	}
	if err := s.notify.Notify(ctx, n); err != nil {
		s.log.Error("vote: send notice", "proposal", n.Proposal.ID, "notice", n.Kind, "err", err)
	}
	return true
}

// Receipt is what a voter is shown: the code that will appear, with the
// choice, in the list published after close.
type Receipt struct {
	ProposalID string    `json:"proposal_id"`
	Code       string    `json:"code"`
	Choice     []string  `json:"choice"`
	Closes     time.Time `json:"closes"`
	// Replayed: the same vote was cast before; this is its receipt and
	// nothing new was stored.
	Replayed bool `json:"replayed,omitempty"`
}

// Cast records memberID's vote on a proposal. choice holds the chosen
// labels: one for YesNoAbstain and OneOf, 1..MaxApprovals for Approval.
//
// Casting the same vote again returns the first receipt and stores nothing.
// On an open ballot a different vote before close replaces the current one
// (every vote is kept; the last counts). On a secret ballot the first vote
// is final: ErrFinal afterwards.
//
// Errors: ErrNotFound; ErrNotOpen (not opened, or before Opens); a
// *ClosedError (ErrClosed) after Closes; ErrNotOnRoll; ErrBadChoice
// wrapped with the reason; ErrFinal; ErrBusy.
func (s *Service) Cast(ctx context.Context, id, memberID string, choice []string) (Receipt, error) {
	rec, err := s.openRecord(ctx, id)
	if err != nil {
		return Receipt{}, err
	}
	if rec == nil {
		if _, err := s.draft(ctx, id); err != nil {
			return Receipt{}, err
		}
		return Receipt{}, ErrNotOpen
	}
	p := &rec.Proposal
	now := s.now()
	if now.Before(p.Opens) {
		return Receipt{}, fmt.Errorf("%w: voting opens at %s", ErrNotOpen, p.Opens.Format(time.RFC3339))
	}
	if !now.Before(p.Closes) {
		return Receipt{}, &ClosedError{At: p.Closes}
	}
	if !rec.onRoll[memberID] {
		return Receipt{}, ErrNotOnRoll
	}
	choice, err = validChoice(p, choice)
	if err != nil {
		return Receipt{}, err
	}
	// No write of a vote may land after the count: bound them all by the
	// moment the tally may be taken (see settle).
	ctx, cancel := context.WithDeadline(ctx, time.Now().Add(p.Closes.Add(s.settle).Sub(now)))
	defer cancel()
	// One member's votes take turns inside the instance; across instances
	// the unique keys decide.
	_, unlock := s.members.Lock(id + "/" + memberID)
	defer unlock()
	if p.Secret {
		return s.castSecret(ctx, rec, memberID, choice)
	}
	return s.castOpen(ctx, rec, memberID, choice)
}

// validChoice checks a choice against the ballot and returns it in ballot
// order.
func validChoice(p *Proposal, choice []string) ([]string, error) {
	if len(choice) == 0 {
		return nil, fmt.Errorf("%w: choose at least one option", ErrBadChoice)
	}
	labels := p.Choices()
	seen := map[string]bool{}
	for _, c := range choice {
		if !slices.Contains(labels, c) {
			return nil, fmt.Errorf("%w: %q is not on the ballot", ErrBadChoice, c)
		}
		if seen[c] {
			return nil, fmt.Errorf("%w: %q is chosen twice", ErrBadChoice, c)
		}
		seen[c] = true
	}
	switch {
	case p.Kind != Approval && len(choice) != 1:
		return nil, fmt.Errorf("%w: choose exactly one option", ErrBadChoice)
	case p.Kind == Approval && len(choice) > p.MaxApprovals:
		return nil, fmt.Errorf("%w: approve at most %d options, not %d", ErrBadChoice, p.MaxApprovals, len(choice))
	}
	out := make([]string, 0, len(choice))
	for _, l := range labels {
		if seen[l] {
			out = append(out, l)
		}
	}
	return out, nil
}

// ballots returns the collection of a proposal's ballots.
func (s *Service) ballots(id string) *mongo.Collection {
	return s.db.Collection("vote_" + id + "_ballots")
}

// inserter returns the insert joiner of a collection.
func (s *Service) inserter(c *mongo.Collection) *storage.Joiner {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins := s.ins[c.Name()]
	if ins == nil {
		ins = storage.JoinInserts(c)
		s.ins[c.Name()] = ins
	}
	return ins
}

// openBallot is one vote on an open ballot: entry Seq of the member's
// chain, whose _id "<member>/<seq>" is unique. The current vote is the
// last entry; the earlier ones are its history.
type openBallot struct {
	ID      string    `bson:"_id"`
	Member  string    `bson:"member"`
	Seq     int       `bson:"seq"`
	Choice  []string  `bson:"choice"`
	Receipt string    `bson:"receipt"`
	At      time.Time `bson:"at"`
}

func openBallotID(member string, seq int) string { return fmt.Sprintf("%s/%06d", member, seq) }

// castOpen appends the vote to the member's chain unless it is the
// current vote already. A duplicate key means another instance appended
// first: read the chain again and decide again.
func (s *Service) castOpen(ctx context.Context, rec *openRecord, member string, choice []string) (Receipt, error) {
	coll := s.ballots(rec.ID)
	for range 10 {
		head, err := s.openHead(ctx, coll, member)
		if err != nil {
			return Receipt{}, err
		}
		if head.Seq > 0 && slices.Equal(head.Choice, choice) {
			return Receipt{ProposalID: rec.ID, Code: head.Receipt, Choice: head.Choice, Closes: rec.Proposal.Closes, Replayed: true}, nil
		}
		b := openBallot{ID: openBallotID(member, head.Seq+1), Member: member, Seq: head.Seq + 1, Choice: choice,
			Receipt: newReceipt(), At: s.now().UTC().Truncate(time.Millisecond)}
		err = s.inserter(coll).Do(ctx, b)
		if storage.IsDuplicateKey(err) {
			continue
		}
		if err != nil {
			return Receipt{}, fmt.Errorf("store vote: %w", err)
		}
		return Receipt{ProposalID: rec.ID, Code: b.Receipt, Choice: choice, Closes: rec.Proposal.Closes}, nil
	}
	return Receipt{}, ErrBusy
}

// openHead reads the member's last vote by probing the chain by _id (a
// member changes their vote a few times at most). Seq 0: no vote yet.
func (s *Service) openHead(ctx context.Context, coll *mongo.Collection, member string) (openBallot, error) {
	var head openBallot
	for seq := 1; ; seq++ {
		var b openBallot
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: openBallotID(member, seq)}}).Decode(&b)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return head, nil
		}
		if err != nil {
			return openBallot{}, fmt.Errorf("read vote: %w", err)
		}
		head = b
	}
}

// History returns a member's votes on an open ballot, oldest first; the
// last is the one that counts. Secret ballots keep no history: nil.
func (s *Service) History(ctx context.Context, id, member string) ([]Receipt, error) {
	rec, err := s.openRecord(ctx, id)
	if err != nil || rec == nil || rec.Proposal.Secret {
		return nil, err
	}
	var out []Receipt
	for seq := 1; ; seq++ {
		var b openBallot
		err := s.ballots(id).FindOne(ctx, bson.D{{Key: "_id", Value: openBallotID(member, seq)}}).Decode(&b)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read vote: %w", err)
		}
		out = append(out, Receipt{ProposalID: id, Code: b.Receipt, Choice: b.Choice, Closes: rec.Proposal.Closes})
	}
}
