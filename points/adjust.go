package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// Limits of a manual adjustment.
const (
	MaxAdjustment   = 100_000
	MaxAdjustReason = 500
)

// Errors of adjustments, besides ErrInvalid (a bad amount or reason) and
// ErrInsufficient (a deduction the rider's points do not cover).
var (
	// ErrSelfApproval: the admin who proposed an adjustment tried to
	// approve it; a different admin must.
	ErrSelfApproval = errors.New("an adjustment must be approved by an admin other than the one who proposed it")
	// ErrAdjustmentDecided: the adjustment was approved or rejected already.
	ErrAdjustmentDecided = errors.New("the adjustment was already decided")
	// ErrNoAdjustment: no adjustment has that id.
	ErrNoAdjustment = errors.New("no such adjustment")
)

// Adjustment states.
const (
	AdjustPending  = "pending"
	AdjustApproved = "approved" // approved and posted
	AdjustRejected = "rejected"
	// AdjustStalled: approved, but the post has not happened: a crash
	// between the approval and the post (approving again or Repair
	// completes it) or a deduction the rider's points no longer covered.
	AdjustStalled = "stalled"
)

// Collections. Proposals form a chain "adj-<n %08d>" claimed by unique _id
// inserts, so the newest are found by probing _ids from the top and the
// admin list reads by _id only (no scan, however many adjustments there
// ever were). A decision is a document with the proposal's id as _id: the
// unique insert makes an adjustment decided exactly once, by whichever
// admin inserts first.
const (
	adjustCollection    = "points_adjustments"
	decisionsCollection = "points_adjust_decisions"
)

// Adjustment is a manual adjustment of a rider's points: proposed by one
// admin, approved (or rejected) by another.
type Adjustment struct {
	ID         string    `bson:"_id" json:"id"`
	Seq        int64     `bson:"seq" json:"-"`
	Rider      string    `bson:"rider" json:"rider" doc:"the rider's user id"`
	Amount     int64     `bson:"amount" json:"amount" doc:"points to add (positive) or deduct (negative)"`
	Reason     string    `bson:"reason" json:"reason"`
	ProposedBy string    `bson:"proposed_by" json:"proposed_by"`
	ProposedAt time.Time `bson:"proposed_at" json:"proposed_at"`

	// From the decision and the ledger, not stored with the proposal.
	Status     string    `bson:"-" json:"status" enum:"pending,approved,rejected,stalled"`
	DecidedBy  string    `bson:"-" json:"decided_by,omitempty"`
	DecidedAt  time.Time `bson:"-" json:"decided_at,omitzero"`
	DecideNote string    `bson:"-" json:"decide_note,omitempty" doc:"why it was rejected"`
	Movement   string    `bson:"-" json:"movement,omitempty" doc:"the ledger movement's key, once posted"`
}

type adjustDecision struct {
	ID       string    `bson:"_id"`
	Approved bool      `bson:"approved"`
	By       string    `bson:"by"`
	Note     string    `bson:"note,omitempty"`
	At       time.Time `bson:"at"`
}

// Adjuster proposes, approves and rejects manual adjustments (the four-eyes
// rule: the approver is never the proposer). A positive adjustment moves
// points from the adjustments account to the rider as a lot expiring like
// an award; a negative one moves them from the rider to the adjustments
// account, as KindAdjustment, and is refused when the rider's available
// points do not cover it (a deduction never creates a debt: a debt is for
// taking back what a rider was wrongly given, which the earner does). An
// adjustment does not change a rider's lifetime earned points (levels) or
// the leaderboards.
type Adjuster struct {
	l         *Ledger
	props     *mongo.Collection
	decisions *mongo.Collection
	log       *slog.Logger
	months    int
	now       func() time.Time

	// Riders, if set, finds the rider an admin names by phone number or
	// account id, so that an adjustment cannot be proposed for an account
	// that does not exist (a typo would otherwise move points to nobody).
	Riders func(ctx context.Context, phoneOrID string) (id string, ok bool, err error)
}

// NewAdjuster builds the adjuster; a positive adjustment's lot expires at
// LotExpiry(now, lotMonths) (≤ 0: 12).
func NewAdjuster(l *Ledger, db *mongo.Database, lotMonths int, log *slog.Logger) *Adjuster {
	if lotMonths <= 0 {
		lotMonths = 12
	}
	return &Adjuster{l: l, props: db.Collection(adjustCollection), decisions: db.Collection(decisionsCollection),
		log: log, months: lotMonths, now: func() time.Time { return time.Now().UTC() }}
}

func adjustID(seq int64) string { return fmt.Sprintf("adj-%08d", seq) }

// AdjustKey is the ledger key of an adjustment's movement: posting it is
// idempotent, so an approval repeated after a crash posts once.
func AdjustKey(id string) string { return "adjust:" + id }

// Propose records an adjustment for a different admin to approve. amount
// is non-zero with |amount| ≤ 100,000; reason is required, ≤ 500
// characters. ErrInvalid otherwise, and nothing is written.
func (a *Adjuster) Propose(ctx context.Context, adminID, riderID string, amount int64, reason string) (Adjustment, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case adminID == "":
		return Adjustment{}, fmt.Errorf("%w: no proposing admin", ErrInvalid)
	case riderID == "" || validAccount(Rider(riderID)) != nil:
		return Adjustment{}, fmt.Errorf("%w: the rider id %q is not valid", ErrInvalid, riderID)
	case amount == 0:
		return Adjustment{}, fmt.Errorf("%w: an adjustment of zero points changes nothing", ErrInvalid)
	case amount > MaxAdjustment || amount < -MaxAdjustment:
		return Adjustment{}, fmt.Errorf("%w: an adjustment is at most %d points either way, not %d", ErrInvalid, MaxAdjustment, amount)
	case reason == "":
		return Adjustment{}, fmt.Errorf("%w: give the reason for the adjustment", ErrInvalid)
	case utf8.RuneCountInString(reason) > MaxAdjustReason:
		return Adjustment{}, fmt.Errorf("%w: the reason is longer than %d characters", ErrInvalid, MaxAdjustReason)
	}
	if a.Riders != nil {
		id, ok, err := a.Riders(ctx, riderID)
		if err != nil {
			return Adjustment{}, err
		}
		if !ok {
			return Adjustment{}, fmt.Errorf("%w: no rider has the phone number or id %q", ErrInvalid, riderID)
		}
		riderID = id
	}
	last, err := a.lastSeq(ctx)
	if err != nil {
		return Adjustment{}, err
	}
	for range maxTries {
		adj := Adjustment{ID: adjustID(last + 1), Seq: last + 1, Rider: riderID, Amount: amount, Reason: reason,
			ProposedBy: adminID, ProposedAt: a.now()}
		_, err := a.props.InsertOne(ctx, adj)
		if err == nil {
			adj.Status = AdjustPending
			return adj, nil
		}
		if !storage.IsDuplicateKey(err) {
			return Adjustment{}, fmt.Errorf("save the adjustment: %w", err)
		}
		last++ // another admin took the number: try the next
	}
	return Adjustment{}, fmt.Errorf("%w: gave up numbering the adjustment", ErrBusy)
}

// lastSeq finds the newest proposal's number by probing _ids (no gaps:
// each number is claimed by inserting it after the one before exists).
func (a *Adjuster) lastSeq(ctx context.Context) (int64, error) {
	return storage.LastFrom(0, func(seq int64) (bool, error) {
		err := a.props.FindOne(ctx, bson.D{{Key: "_id", Value: adjustID(seq)}}).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read adjustments: %w", err)
		}
		return true, nil
	})
}

func (a *Adjuster) proposal(ctx context.Context, id string) (Adjustment, error) {
	var adj Adjustment
	err := a.props.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&adj)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Adjustment{}, fmt.Errorf("%w: %q", ErrNoAdjustment, id)
	}
	if err != nil {
		return Adjustment{}, fmt.Errorf("read adjustment %q: %w", id, err)
	}
	return adj, nil
}

func (a *Adjuster) decision(ctx context.Context, id string) (adjustDecision, bool, error) {
	var d adjustDecision
	err := a.decisions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return adjustDecision{}, false, nil
	}
	if err != nil {
		return adjustDecision{}, false, fmt.Errorf("read adjustment %q: %w", id, err)
	}
	return d, true, nil
}

// Get returns an adjustment with its state.
func (a *Adjuster) Get(ctx context.Context, id string) (Adjustment, error) {
	adj, err := a.proposal(ctx, id)
	if err != nil {
		return Adjustment{}, err
	}
	return a.withState(ctx, adj)
}

func (a *Adjuster) withState(ctx context.Context, adj Adjustment) (Adjustment, error) {
	d, ok, err := a.decision(ctx, adj.ID)
	if err != nil {
		return Adjustment{}, err
	}
	if !ok {
		adj.Status = AdjustPending
		return adj, nil
	}
	adj.DecidedBy, adj.DecidedAt, adj.DecideNote = d.By, d.At, d.Note
	if !d.Approved {
		adj.Status = AdjustRejected
		return adj, nil
	}
	_, posted, err := a.l.movement(ctx, AdjustKey(adj.ID))
	if err != nil {
		return Adjustment{}, err
	}
	adj.Status = AdjustStalled
	if posted {
		adj.Status = AdjustApproved
		adj.Movement = AdjustKey(adj.ID)
	}
	return adj, nil
}

// Approve approves an adjustment and posts it. The proposer may not
// approve (ErrSelfApproval, nothing written). An adjustment is decided
// once: of two admins racing, one records the approval and the post
// happens once; approving an approved adjustment again completes its post
// if a crash interrupted it and returns it; approving a rejected one is
// ErrAdjustmentDecided. A deduction the rider's available points do not
// cover is ErrInsufficient: if that is known before the approval, nothing
// is recorded and the proposal stays pending.
func (a *Adjuster) Approve(ctx context.Context, approverID, id string) (Adjustment, error) {
	adj, err := a.proposal(ctx, id)
	if err != nil {
		return Adjustment{}, err
	}
	if approverID == "" {
		return Adjustment{}, fmt.Errorf("%w: no approving admin", ErrInvalid)
	}
	if approverID == adj.ProposedBy {
		return Adjustment{}, fmt.Errorf("%w (%s proposed %s)", ErrSelfApproval, adj.ProposedBy, adj.ID)
	}
	d, decided, err := a.decision(ctx, id)
	if err != nil {
		return Adjustment{}, err
	}
	if !decided {
		if adj.Amount < 0 {
			// Refuse a deduction that cannot be made before recording
			// the approval, so that a refused one stays pending rather
			// than approved-but-not-done.
			b, err := a.l.Balance(ctx, Rider(adj.Rider))
			if err != nil {
				return Adjustment{}, err
			}
			if b.Available < -adj.Amount {
				return Adjustment{}, fmt.Errorf("%w: the rider has %d points available, the deduction is %d; nothing was changed",
					ErrInsufficient, b.Available, -adj.Amount)
			}
		}
		d = adjustDecision{ID: id, Approved: true, By: approverID, At: a.now()}
		if _, err := a.decisions.InsertOne(ctx, d); err != nil {
			if !storage.IsDuplicateKey(err) {
				return Adjustment{}, fmt.Errorf("record the approval: %w", err)
			}
			// Another admin decided it just now.
			if d, _, err = a.decision(ctx, id); err != nil {
				return Adjustment{}, err
			}
		}
	}
	if !d.Approved {
		return Adjustment{}, fmt.Errorf("%w: %s was rejected by %s", ErrAdjustmentDecided, id, d.By)
	}
	if err := a.post(ctx, adj, d); err != nil {
		return Adjustment{}, err
	}
	return a.withState(ctx, adj)
}

// post writes an approved adjustment's movement, once (its key is
// AdjustKey(id)); the lot's expiry counts from the approval, so a repeat
// asks for the very same movement.
func (a *Adjuster) post(ctx context.Context, adj Adjustment, d adjustDecision) error {
	t := Transfer{Key: AdjustKey(adj.ID), Kind: KindAdjustment, Ref: "adjustment:" + adj.ID,
		Note: adj.Reason}
	if adj.Amount > 0 {
		t.Debit, t.Credit, t.Amount = Adjustments, Rider(adj.Rider), adj.Amount
		t.Expires = LotExpiry(d.At, a.months)
	} else {
		t.Debit, t.Credit, t.Amount = Rider(adj.Rider), Adjustments, -adj.Amount
	}
	if _, err := a.l.Post(ctx, t); err != nil {
		if errors.Is(err, ErrInsufficient) {
			return fmt.Errorf("%w: %s was approved but the rider no longer has the %d points to deduct; nothing moved",
				ErrInsufficient, adj.ID, -adj.Amount)
		}
		return fmt.Errorf("post adjustment %s: %w", adj.ID, err)
	}
	return nil
}

// Reject rejects a pending adjustment with a reason (required, ≤ 500
// characters). The proposer may withdraw their own proposal this way.
// ErrAdjustmentDecided if it was decided already.
func (a *Adjuster) Reject(ctx context.Context, adminID, id, reason string) (Adjustment, error) {
	reason = strings.TrimSpace(reason)
	if adminID == "" {
		return Adjustment{}, fmt.Errorf("%w: no rejecting admin", ErrInvalid)
	}
	if reason == "" || utf8.RuneCountInString(reason) > MaxAdjustReason {
		return Adjustment{}, fmt.Errorf("%w: give the reason for rejecting, at most %d characters", ErrInvalid, MaxAdjustReason)
	}
	adj, err := a.proposal(ctx, id)
	if err != nil {
		return Adjustment{}, err
	}
	_, err = a.decisions.InsertOne(ctx, adjustDecision{ID: id, Approved: false, By: adminID, Note: reason, At: a.now()})
	if storage.IsDuplicateKey(err) {
		d, _, err := a.decision(ctx, id)
		if err != nil {
			return Adjustment{}, err
		}
		what := "rejected"
		if d.Approved {
			what = "approved"
		}
		return Adjustment{}, fmt.Errorf("%w: %s was %s by %s", ErrAdjustmentDecided, id, what, d.By)
	}
	if err != nil {
		return Adjustment{}, fmt.Errorf("record the rejection: %w", err)
	}
	return a.withState(ctx, adj)
}

// List returns up to limit adjustments (≤ 0: 50), newest first, read by
// _id down the proposals' chain: the pending ones are what the admin page
// shows first.
func (a *Adjuster) List(ctx context.Context, limit int) ([]Adjustment, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	last, err := a.lastSeq(ctx)
	if err != nil {
		return nil, err
	}
	var out []Adjustment
	for seq := last; seq >= 1 && len(out) < limit; seq-- {
		adj, err := a.Get(ctx, adjustID(seq))
		if err != nil {
			return nil, err
		}
		out = append(out, adj)
	}
	return out, nil
}

// Repair completes the post of every approved adjustment among the newest
// limit (≤ 0: 200) whose post a crash interrupted, and returns how many it
// posted. A deduction the rider can no longer cover stays stalled and is
// logged.
func (a *Adjuster) Repair(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 200
	}
	list, err := a.List(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, adj := range list {
		if adj.Status != AdjustStalled {
			continue
		}
		d, _, err := a.decision(ctx, adj.ID)
		if err != nil {
			return n, err
		}
		if err := a.post(ctx, adj, d); err != nil {
			if errors.Is(err, ErrInsufficient) {
				a.log.Warn("adjustment stalled", "id", adj.ID, "err", err)
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// ParseAdjustAmount reads a signed whole number of points from a form.
func ParseAdjustAmount(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: the amount must be a whole number of points, like 20 or -20", ErrInvalid)
	}
	return n, nil
}
