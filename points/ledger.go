// Package points keeps the points ledger: every point a rider earns, holds,
// spends or loses is a movement between two accounts, written as two
// append-only entries, one on each account's chain.
//
// The ledger is built on the one operation that is atomic on every document
// store Nuanxin runs on (MongoDB and the embedded FerretDB): inserting a
// document under a unique key. Conditional updates, $inc and compare-and-swap
// are not atomic on FerretDB, so nothing here ever updates a balance in
// place. A balance is the "balance after" of the last entry of a chain, and
// an entry is claimed by inserting the next number of its chain.
//
// The package knows no other domain: earning rules, the rewards shelf and
// the pages are built on it elsewhere.
package points

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Account ids. A rider's account is "rider:<user id>"; the others are
// system accounts. Only rider accounts are held to a non-negative available
// balance: the issuance account is the source of every awarded point, so it
// is negative by design (minus everything ever issued), and the pools,
// expiry and adjustments accounts are counter-accounts whose sign means
// nothing on its own.
const (
	// Issuance is the debit side of every award.
	Issuance = "issuance"
	// ExpiryAccount receives the points of expired lots.
	ExpiryAccount = "expiry"
	// Adjustments is the counter-account of manual adjustments.
	Adjustments = "adjustments"
)

// Rider returns the account of a rider.
func Rider(userID string) string { return "rider:" + userID }

// Pool returns the reward pool account of a station: what riders spend at
// the station is credited there.
func Pool(stationID string) string { return "pool:" + stationID }

// IsRider reports whether an account is a rider's, the only kind held to a
// non-negative available balance.
func IsRider(account string) bool { return strings.HasPrefix(account, "rider:") }

// Kind says what a movement is for.
type Kind string

// The kinds of movements. Award, Spend, Expiry and Adjustment are plain
// transfers posted with Post; Hold, HoldPost and HoldVoid are the two phases
// of a redemption; Reversal is a correction written with Reverse.
const (
	KindAward      Kind = "award"
	KindSpend      Kind = "spend"
	KindExpiry     Kind = "expiry"
	KindAdjustment Kind = "adjustment"
	KindHold       Kind = "hold"
	KindHoldPost   Kind = "post"
	KindHoldVoid   Kind = "void"
	KindReversal   Kind = "reversal"
	// KindClawback takes points back from a rider without reversing a
	// whole movement: the difference when a report is verified again at a
	// lower severity, or an award withdrawn after a reopen. It may take a
	// rider below zero (a debt).
	KindClawback Kind = "clawback"
)

// Errors. Each is wrapped with a sentence that says what was refused; test
// for them with errors.Is.
var (
	// ErrInvalid: the request itself is wrong (zero or negative amount, an
	// empty key, an account id with a slash, debit equal to credit, …).
	// Nothing was written.
	ErrInvalid = errors.New("invalid ledger request")
	// ErrInsufficient: a rider's available balance does not cover the
	// debit (or the rider is in debt).
	ErrInsufficient = errors.New("insufficient points")
	// ErrOverflow: the movement would take a balance beyond what an int64
	// holds. Nothing was written.
	ErrOverflow = errors.New("points balance would overflow")
	// ErrKeyConflict: the key was used before for a different movement.
	ErrKeyConflict = errors.New("movement key already used for a different movement")
	// ErrNotFound: no movement has that key.
	ErrNotFound = errors.New("no such movement")
	// ErrHoldSettled: the hold was already settled the other way (posted
	// when asked to void, or voided when asked to post).
	ErrHoldSettled = errors.New("hold already settled")
	// ErrBusy: too many writers raced for one chain; try again.
	ErrBusy = errors.New("points ledger busy")
	// ErrStale: a conditional movement (Transfer.After) found entries
	// written after the one it was computed from. Nothing moved; read again.
	ErrStale = errors.New("the account changed since it was read")
)

// Transfer asks for a plain movement of Amount points from Debit to Credit.
// Key is its business key ("award:report:R", "redeem:K", "expire:lot:L"):
// posting the same key again returns what was done the first time.
type Transfer struct {
	Key    string
	Kind   Kind // award, spend, expiry or adjustment
	Debit  string
	Credit string
	Amount int64 // > 0; the direction is given by Debit and Credit
	Note   string
	Ref    string // the fact this movement refers to, e.g. "report:R"; shown on statements
	// Expires, on a credit to a rider, makes the credit a lot that expires
	// then (see Lots). Zero: the points do not expire.
	Expires time.Time
	// Tags are copied to both entries, for the projections that read the
	// chains (the honour boards read "cell:…", "district:…", "station:…").
	Tags []string
	// After, when positive, makes the movement conditional: its debit leg
	// must be entry After+1 of the debit chain, i.e. nothing may have been
	// written to that account since the caller read entry After. Otherwise
	// the movement is refused with ErrStale (decided on the chain, like a
	// refusal for insufficient points). Expiry uses it: the amount it moves
	// is computed from the chain, so it must land on the chain it was
	// computed from. Put After in the key, so a retry is a new movement.
	After int64
}

// Movement is the stored fact: one business key, two accounts, one amount.
// Its two legs are the entries "<key>/debit" on the debit account's chain
// and "<key>/credit" on the credit account's.
type Movement struct {
	Key       string    `bson:"_id"`
	Kind      Kind      `bson:"kind"`
	Debit     string    `bson:"debit"`
	Credit    string    `bson:"credit"`
	Amount    int64     `bson:"amount"`
	Note      string    `bson:"note,omitempty"`
	Ref       string    `bson:"ref,omitempty"`        // the movement reversed, or the hold settled
	AllowDebt bool      `bson:"allow_debt,omitempty"` // reversals may take a rider below zero
	Deadline  time.Time `bson:"deadline,omitzero"`    // holds: when it should be settled by
	Expires   time.Time `bson:"expires,omitzero"`     // a credit to a rider: when the lot expires
	Tags      []string  `bson:"tags,omitempty"`
	After     int64     `bson:"after,omitempty"` // see Transfer.After
	At        time.Time `bson:"at"`
	// DebitFrom and CreditFrom are the heads of the two chains (or lower
	// bounds of them) when the movement was stored. Its legs can only be
	// appended after the movement is stored, so each leg's entry lies after
	// these: what Repair needs to find a leg written just before a crash,
	// reading by _id only.
	DebitFrom  int64 `bson:"debit_from"`
	CreditFrom int64 `bson:"credit_from"`
}

// Entry is one leg of a movement on one account's chain. Entries are never
// updated or deleted. Balance is the posted balance after the entry, Held
// the points on hold after it; a rider may spend Balance − Held.
//
// On the credit account of a hold, Held goes below zero: points on their
// way in, which count for nothing until the hold is posted. Only system
// accounts may be credited by a hold, so a rider's Held is never negative.
type Entry struct {
	ID         string `bson:"_id"` // "<account>/<seq %012d>"
	Account    string `bson:"account"`
	Seq        int64  `bson:"seq"`
	Amount     int64  `bson:"amount"`      // signed change of Balance
	Balance    int64  `bson:"balance"`     // posted balance after
	HeldChange int64  `bson:"held_change"` // signed change of Held
	Held       int64  `bson:"held"`        // on hold after
	// In is the sum of every increase of Balance up to and including this
	// entry: what the account ever received. Out (In − Balance) is what it
	// ever gave; Lots reads the lots still unspent from the two.
	In int64 `bson:"in"`
	// Earned is a rider's lifetime earnings after this entry: awards less
	// what clawbacks took back. Levels are read from it.
	Earned   int64     `bson:"earned,omitempty"`
	Expires  time.Time `bson:"expires,omitzero"` // a rider's credit: when this lot expires
	Tags     []string  `bson:"tags,omitempty"`
	Movement string    `bson:"movement"` // the movement's business key
	Leg      string    `bson:"leg"`      // "<movement>/debit" or "<movement>/credit": unique
	Counter  string    `bson:"counter"`  // the other account of the movement
	Kind     Kind      `bson:"kind"`
	Ref      string    `bson:"ref,omitempty"`
	Refused  bool      `bson:"refused,omitempty"` // see Ledger: a refusal decided on the chain
	Note     string    `bson:"note,omitempty"`
	At       time.Time `bson:"at"`
}

// earnedChange is what an entry adds to its rider's lifetime earnings.
func earnedChange(account string, kind Kind, amount int64) int64 {
	if IsRider(account) && (kind == KindAward || kind == KindClawback) {
		return amount
	}
	return 0
}

// Available is what the account may spend after this entry.
func (e Entry) Available() int64 { return e.Balance - e.Held }

// Result is what a movement did: the movement and its two entries.
// Replayed is set when the key had been posted before and this call only
// returned (and, if a crash had interrupted it, completed) the first result.
type Result struct {
	Movement Movement
	Debit    Entry
	Credit   Entry // zero when Refused
	Refused  bool  // the debit was refused on the chain; nothing moved
	Replayed bool
}

// Balance is an account's position, read from the head of its chain.
type Balance struct {
	Account   string
	Seq       int64 // the head's number; 0 for an account with no entries
	Balance   int64
	Held      int64
	Available int64
}

// Sides of a movement, as they appear in leg ids.
const (
	sideDebit  = "debit"
	sideCredit = "credit"
)

func legID(key, side string) string { return key + "/" + side }

// change returns what a movement's leg does to its account's balance and
// held amounts. Every kind's two legs sum to zero on both.
func change(kind Kind, side string, amount int64) (bal, held int64) {
	sign := int64(1)
	if side == sideDebit {
		sign = -1
	}
	switch kind {
	case KindHold: // available → held on the debit side
		return 0, -sign * amount
	case KindHoldPost: // held points leave the debit side and arrive
		return sign * amount, sign * amount
	case KindHoldVoid: // held → available again
		return 0, sign * amount
	default:
		return sign * amount, 0
	}
}

func validAccount(a string) error {
	switch {
	case a == "":
		return fmt.Errorf("%w: an account id is empty", ErrInvalid)
	case strings.Contains(a, "/"):
		// Entry ids are "<account>/<seq>": a slash would make two
		// accounts' ids collide.
		return fmt.Errorf("%w: account id %q contains a slash", ErrInvalid, a)
	case len(a) > 200:
		return fmt.Errorf("%w: account id %q is longer than 200 bytes", ErrInvalid, a[:20]+"…")
	}
	return nil
}

func (m *Movement) validate() error {
	if m.Key == "" {
		return fmt.Errorf("%w: the movement has no key", ErrInvalid)
	}
	if len(m.Key) > 300 {
		return fmt.Errorf("%w: the movement key is longer than 300 bytes", ErrInvalid)
	}
	if err := validAccount(m.Debit); err != nil {
		return err
	}
	if err := validAccount(m.Credit); err != nil {
		return err
	}
	if m.Debit == m.Credit {
		return fmt.Errorf("%w: the debit and credit accounts are both %q", ErrInvalid, m.Debit)
	}
	if m.Amount <= 0 {
		return fmt.Errorf("%w: the amount must be a positive whole number of points, got %d", ErrInvalid, m.Amount)
	}
	if m.Kind == KindHold && IsRider(m.Credit) {
		return fmt.Errorf("%w: a hold must credit a system account, not %q", ErrInvalid, m.Credit)
	}
	return nil
}

// sameFact reports whether a stored movement is the one asked for again.
// The note, the time and the deadline are not compared: a retried request
// may word them differently, but it must move the same points.
func sameFact(a, b Movement) bool {
	return a.Kind == b.Kind && a.Debit == b.Debit && a.Credit == b.Credit &&
		a.Amount == b.Amount && a.Ref == b.Ref && a.AllowDebt == b.AllowDebt && a.Expires.Equal(b.Expires) && a.After == b.After
}

// HoldRequest asks to put Amount points of the Debit account (a rider) on
// hold for Credit (a system account, such as a station's pool), until the
// hold is posted or voided, which should happen before Deadline.
type HoldRequest struct {
	Key      string // the hold's business key, e.g. "hold:redeem:K"
	Debit    string
	Credit   string
	Amount   int64
	Deadline time.Time
	Note     string
}

// Post moves points as t asks, once per key. It returns ErrInvalid for a
// bad request, ErrInsufficient when the debit is a rider whose available
// balance does not cover it, ErrOverflow when a balance would leave int64,
// and ErrKeyConflict when the key was used for a different movement; in
// those cases nothing moved. Posting a key again returns the first result
// with Replayed set (completing it first if a crash had interrupted it).
func (l *Ledger) Post(ctx context.Context, t Transfer) (Result, error) {
	switch t.Kind {
	case KindAward, KindSpend, KindExpiry, KindAdjustment, KindClawback:
	default:
		return Result{}, fmt.Errorf("%w: a transfer's kind must be award, spend, expiry, adjustment or clawback, not %q", ErrInvalid, t.Kind)
	}
	return l.post(ctx, Movement{Key: t.Key, Kind: t.Kind, Debit: t.Debit, Credit: t.Credit, Amount: t.Amount, Note: t.Note,
		Ref: t.Ref, Expires: t.Expires.UTC(), Tags: t.Tags, AllowDebt: t.Kind == KindClawback, After: t.After})
}

// Hold puts points on hold: the debit account's available balance falls,
// its posted balance does not. The hold is settled once, by PostHold or
// VoidHold. Errors as for Post.
func (l *Ledger) Hold(ctx context.Context, h HoldRequest) (Result, error) {
	return l.post(ctx, Movement{Key: h.Key, Kind: KindHold, Debit: h.Debit, Credit: h.Credit,
		Amount: h.Amount, Note: h.Note, Deadline: h.Deadline.UTC()})
}

// PostHold spends the held points: they leave the debit account and reach
// the credit account. A hold is settled exactly once: posting it again
// returns the first result; posting a voided hold returns ErrHoldSettled.
// ErrNotFound if there is no such hold.
func (l *Ledger) PostHold(ctx context.Context, holdKey, note string) (Result, error) {
	return l.settle(ctx, holdKey, KindHoldPost, note)
}

// VoidHold returns the held points to the debit account's available
// balance, exactly once; voiding a posted hold returns ErrHoldSettled.
func (l *Ledger) VoidHold(ctx context.Context, holdKey, note string) (Result, error) {
	return l.settle(ctx, holdKey, KindHoldVoid, note)
}

// SettleKey is the key of the movement that settles a hold. Posting and
// voiding share it, so the unique key lets only one of them ever happen.
func SettleKey(holdKey string) string { return "settle:" + holdKey }

func (l *Ledger) settle(ctx context.Context, holdKey string, kind Kind, note string) (Result, error) {
	hold, ok, err := l.movement(ctx, holdKey)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: there is no hold %q", ErrNotFound, holdKey)
	}
	if hold.Kind != KindHold {
		return Result{}, fmt.Errorf("%w: movement %q is of kind %s, not a hold", ErrInvalid, holdKey, hold.Kind)
	}
	// The hold's legs must be in before the settlement's, or a rider's
	// held amount could go below zero.
	if _, err := l.complete(ctx, hold); err != nil {
		if errors.Is(err, ErrInsufficient) {
			return Result{}, fmt.Errorf("%w: hold %q was refused, so there is nothing to settle", ErrInvalid, holdKey)
		}
		return Result{}, err
	}
	res, err := l.post(ctx, Movement{Key: SettleKey(holdKey), Kind: kind, Debit: hold.Debit, Credit: hold.Credit,
		Amount: hold.Amount, Ref: holdKey, Note: note})
	if errors.Is(err, ErrKeyConflict) {
		done := "posted"
		if kind == KindHoldPost {
			done = "voided"
		}
		return Result{}, fmt.Errorf("%w: hold %q was already %s", ErrHoldSettled, holdKey, done)
	}
	return res, err
}

// ReverseKey is the key of the movement that reverses key.
func ReverseKey(key string) string { return "reverse:" + key }

// Reverse writes the correction of a transfer: a new movement of the same
// amount the other way, linked to it, under ReverseKey(key), so reversing
// twice reverses once. It may take a rider's balance below zero (a debt:
// spends are refused until it is repaid). Holds and their settlements are
// not reversed (void the hold instead), nor are reversals. ErrNotFound if
// key was never posted.
func (l *Ledger) Reverse(ctx context.Context, key, note string) (Result, error) {
	orig, ok, err := l.movement(ctx, key)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: there is no movement %q to reverse", ErrNotFound, key)
	}
	switch orig.Kind {
	case KindAward, KindSpend, KindExpiry, KindAdjustment, KindClawback:
	default:
		return Result{}, fmt.Errorf("%w: a %s cannot be reversed", ErrInvalid, orig.Kind)
	}
	if _, err := l.complete(ctx, orig); err != nil {
		if errors.Is(err, ErrInsufficient) {
			return Result{}, fmt.Errorf("%w: movement %q was refused, so there is nothing to reverse", ErrInvalid, key)
		}
		return Result{}, err
	}
	return l.post(ctx, Movement{Key: ReverseKey(key), Kind: KindReversal, Debit: orig.Credit, Credit: orig.Debit,
		Amount: orig.Amount, Ref: key, AllowDebt: true, Note: note, Tags: orig.Tags})
}

// Balance reads an account's position from the head of its chain. An
// account with no entries has a zero balance.
func (l *Ledger) Balance(ctx context.Context, account string) (Balance, error) {
	if err := validAccount(account); err != nil {
		return Balance{}, err
	}
	h, err := l.head(ctx, account)
	if err != nil {
		return Balance{}, err
	}
	return Balance{Account: account, Seq: h.Seq, Balance: h.Balance, Held: h.Held, Available: h.Available()}, nil
}

// Statement returns up to limit entries of an account, newest first,
// starting just before seq before (before ≤ 0: from the newest). Pass the
// last returned entry's Seq as before to read the next page.
func (l *Ledger) Statement(ctx context.Context, account string, before int64, limit int) ([]Entry, error) {
	if err := validAccount(account); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		return nil, fmt.Errorf("%w: a statement page holds 1 to 1000 entries, not %d", ErrInvalid, limit)
	}
	h, err := l.head(ctx, account)
	if err != nil {
		return nil, err
	}
	start := h.Seq // a cursor at or past the head starts at the head
	if before > 0 && before-1 < start {
		start = before - 1
	}
	n := int(min(int64(limit), max(start, 0)))
	out := make([]Entry, n)
	// The entries are read by _id, a few at a time: on the embedded store
	// a read waits mostly on SQLite, and reads run side by side.
	errs := make([]error, n)
	sem := make(chan struct{}, statementReaders)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			seq := start - int64(i)
			e, ok, err := l.entryAt(ctx, account, seq)
			if err == nil && !ok {
				err = fmt.Errorf("read the points of %s: entry %d is missing", account, seq)
			}
			out[i], errs[i] = e, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// statementReaders is how many entries of a statement are read at once.
const statementReaders = 8
