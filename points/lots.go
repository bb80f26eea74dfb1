package points

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// LotExpiry is when a lot received at at expires: the end of the month
// months months after at's month, in Zone (a lot of 2026-03-15 with 12
// months expires at the end of 2027-03-31, i.e. 2027-04-01 00:00 in Zone).
// Expiring at a month's end rather than to the day lets a rider remember
// one date per month and lets the expiry job visit a rider once a month.
func LotExpiry(at time.Time, months int) time.Time {
	t := at.In(Zone)
	return time.Date(t.Year(), t.Month()+time.Month(months)+1, 1, 0, 0, 0, 0, Zone).UTC()
}

// Lot is what is left of one credit to a rider: the points of that credit
// not yet spent, held or expired.
//
// # How lots are kept without updating anything
//
// Points leave a rider's account oldest lot first (FIFO). Each entry
// carries In, the total the account ever received; Out = In − Balance is
// the total it ever gave. A credit entry e of Amount a covers the received
// points (In_e − a, In_e]; what the account gave or holds, Out + Held,
// consumes the received points from the first. So the unspent part of e is
// the part of its interval above Out + Held, a number computed from the
// head and the entry, with no per-lot document to keep in step. The first
// lot with anything left is found by bisecting the chain on In (which
// never falls), so a rider with ten thousand entries costs about fourteen
// reads by _id, not ten thousand.
type Lot struct {
	Key     string    // the movement that credited it ("award:…"); the expiry is keyed by it
	Seq     int64     // its entry on the rider's chain
	Amount  int64     // what it credited
	Left    int64     // what is left of it
	At      time.Time // when it was credited
	Expires time.Time // zero: it does not expire
}

// consumed is how many of the points an account ever received are gone or
// on hold: Out + Held.
func consumed(h Entry) int64 { return h.In - h.Balance + h.Held }

// firstUnspent returns the seq of the first entry whose In exceeds used
// (the entry that holds the oldest unspent point), or 0 if none does.
func (l *Ledger) firstUnspent(ctx context.Context, account string, head Entry, used int64) (int64, error) {
	if head.In <= used {
		return 0, nil
	}
	var err error
	i := sort.Search(int(head.Seq), func(i int) bool {
		if err != nil {
			return true
		}
		e, ok, e2 := l.entryAt(ctx, account, int64(i)+1)
		if e2 != nil || !ok {
			if e2 == nil {
				e2 = fmt.Errorf("read the points of %s: entry %d is missing", account, i+1)
			}
			err = e2
			return true
		}
		return e.In > used
	})
	if err != nil {
		return 0, err
	}
	return int64(i) + 1, nil
}

// Lots returns the account's lots with points left, oldest first, up to
// those created after until (zero: all). Stopping early is what keeps the
// wallet's "expiring soon" cheap: a lot created after a date cannot expire
// before that date plus the lot lifetime.
func (l *Ledger) Lots(ctx context.Context, account string, until time.Time) ([]Lot, error) {
	if err := validAccount(account); err != nil {
		return nil, err
	}
	h, err := l.head(ctx, account)
	if err != nil {
		return nil, err
	}
	return l.lotsFrom(ctx, account, h, until)
}

func (l *Ledger) lotsFrom(ctx context.Context, account string, h Entry, until time.Time) ([]Lot, error) {
	used := consumed(h)
	first, err := l.firstUnspent(ctx, account, h, used)
	if err != nil || first == 0 {
		return nil, err
	}
	var lots []Lot
	for seq := first; seq <= h.Seq; seq++ {
		e := h
		if seq != h.Seq {
			var ok bool
			if e, ok, err = l.entryAt(ctx, account, seq); err != nil {
				return nil, err
			} else if !ok {
				return nil, fmt.Errorf("read the points of %s: entry %d is missing", account, seq)
			}
		}
		if !until.IsZero() && e.At.After(until) {
			break
		}
		if e.Amount <= 0 {
			continue
		}
		left := min(e.Amount, e.In-max(used, e.In-e.Amount))
		if left > 0 {
			lots = append(lots, Lot{Key: e.Movement, Seq: e.Seq, Amount: e.Amount, Left: left, At: e.At, Expires: e.Expires})
		}
	}
	return lots, nil
}

// Wallet is a rider's position as the wallet page shows it.
type Wallet struct {
	Balance   int64 // posted; below zero is a debt
	Held      int64 // reserved for rewards not yet picked up
	Available int64 // Balance − Held; what may be spent
	Earned    int64 // lifetime awards less clawbacks: the level is read from it
	Seq       int64 // the head of the chain: how many entries the statement has
	// Expiring is what expires within the window asked for, and
	// ExpiringFirst the earliest of those expiries.
	Expiring      int64
	ExpiringFirst time.Time
}

// Wallet reads a rider's wallet: the head of the chain, and what expires
// before now+within.
//
// The expiring figure is found by two bisections of the chain, not by
// walking the lots: the points received by the last entry whose lot would
// expire by then (entries come in time order, and a lot's expiry follows
// its time), less what the account gave or holds. It counts every credit
// of that time as a lot, which the rare credit that does not expire (a
// reversed spend) makes an overstatement by that credit; the expiry job
// itself walks the lots exactly (ExpireAccount).
func (l *Ledger) Wallet(ctx context.Context, userID string, within time.Duration, lotMonths int) (Wallet, error) {
	account := Rider(userID)
	if err := validAccount(account); err != nil {
		return Wallet{}, err
	}
	h, err := l.head(ctx, account)
	if err != nil {
		return Wallet{}, err
	}
	w := Wallet{Balance: h.Balance, Held: h.Held, Available: h.Available(), Earned: h.Earned, Seq: h.Seq}
	used := consumed(h)
	first, err := l.firstUnspent(ctx, account, h, used)
	if err != nil || first == 0 {
		return w, err
	}
	oldest, ok, err := l.entryAt(ctx, account, first)
	if err != nil || !ok || oldest.Expires.IsZero() {
		return w, err
	}
	by := l.now().Add(within)
	if oldest.Expires.After(by) {
		return w, nil // the oldest unspent lot outlives the window, so all do
	}
	// The last entry whose lot expires by then: entries first..last.
	var e2 error
	n := sort.Search(int(h.Seq-first+1), func(i int) bool {
		if e2 != nil {
			return true
		}
		e, ok, err := l.entryAt(ctx, account, first+int64(i))
		if err != nil || !ok {
			e2 = cmp.Or(err, fmt.Errorf("read the points of %s: entry %d is missing", account, first+int64(i)))
			return true
		}
		return LotExpiry(e.At, lotMonths).After(by)
	})
	if e2 != nil {
		return w, e2
	}
	last, ok, err := l.entryAt(ctx, account, first+int64(n)-1)
	if err != nil || !ok {
		return w, err
	}
	w.Expiring = min(last.In-used, w.Available)
	w.ExpiringFirst = oldest.Expires
	return w, nil
}

// dueCollection lists, per month, the riders who received a lot expiring
// at the start of that month: "list/<YYYY-MM>/<n %08d>" names one account,
// n claimed by unique insert; "mark/<YYYY-MM>/<account>" says the account
// is listed, so a second lot of the month costs one read. The expiry job
// reads a month's list by _id; nothing here is searched.
const dueCollection = "points_due"

type dueDoc struct {
	ID      string    `bson:"_id"`
	Account string    `bson:"account,omitempty"`
	At      time.Time `bson:"at"`
}

// noteLot lists account under the month its lot expires in. It runs after
// the lot's credit leg is in and before the movement's open marker is
// removed, so a crash in between leaves the marker and Repair lists it.
// The list is written before the mark: a crash between them lists the
// account twice, which costs the job one idle visit, never a missed lot.
func (l *Ledger) noteLot(ctx context.Context, account string, expires time.Time) error {
	month := MonthKey(expires)
	mark := "mark/" + month + "/" + account
	err := l.due.FindOne(ctx, bson.D{{Key: "_id", Value: mark}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if err == nil {
		return nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("list the lot of %s for expiry: %w", account, err)
	}
	if _, err := l.appendDue(ctx, month, account); err != nil {
		return err
	}
	if _, err := l.due.InsertOne(ctx, dueDoc{ID: mark, At: l.now()}); err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("list the lot of %s for expiry: %w", account, err)
	}
	return nil
}

func dueID(month string, n int64) string { return fmt.Sprintf("list/%s/%08d", month, n) }

func (l *Ledger) dueAt(ctx context.Context, month string, n int64) (string, bool, error) {
	var d dueDoc
	err := l.due.FindOne(ctx, bson.D{{Key: "_id", Value: dueID(month, n)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the expiry list of %s: %w", month, err)
	}
	return d.Account, true, nil
}

func (l *Ledger) appendDue(ctx context.Context, month, account string) (int64, error) {
	for range maxTries {
		last, err := storage.LastFrom(0, func(n int64) (bool, error) {
			_, ok, err := l.dueAt(ctx, month, n)
			return ok, err
		})
		if err != nil {
			return 0, err
		}
		_, err = l.due.InsertOne(ctx, dueDoc{ID: dueID(month, last+1), Account: account, At: l.now()})
		if err == nil {
			return last + 1, nil
		}
		if !storage.IsDuplicateKey(err) {
			return 0, fmt.Errorf("list the lot of %s for expiry: %w", account, err)
		}
	}
	return 0, fmt.Errorf("%w: gave up listing %s for expiry in %s", ErrBusy, account, month)
}

// ExpiryReport says what an expiry run did.
type ExpiryReport struct {
	Accounts int   // accounts visited
	Lots     int   // lots expired by this run
	Points   int64 // points expired by this run
}

// ExpireAccount expires the lots of an account whose time has come (Expires
// at or before now): each lot's unspent points move to the expiry account.
// The amount is computed from the chain, so the movement is conditional on
// the chain (Transfer.After) and keyed by the lot and the entry it was
// computed from, "expire:<lot key>@<seq>": running it twice, or on two
// instances at once, expires each lot once, and a spend that lands between
// the reading and the writing makes the expiry stale instead of letting it
// take points a spend already took. Points on hold are not expired: they
// count as consumed while held; if the hold is voided, a later run expires
// them.
func (l *Ledger) ExpireAccount(ctx context.Context, account string) (ExpiryReport, error) {
	rep := ExpiryReport{Accounts: 1}
	now := l.now()
	for range maxTries {
		h, err := l.head(ctx, account)
		if err != nil {
			return rep, err
		}
		lots, err := l.lotsFrom(ctx, account, h, now)
		if err != nil {
			return rep, err
		}
		var due *Lot
		for i := range lots {
			if !lots[i].Expires.IsZero() && !lots[i].Expires.After(now) {
				due = &lots[i]
				break
			}
		}
		if due == nil {
			return rep, nil
		}
		res, err := l.Post(ctx, Transfer{Key: fmt.Sprintf("expire:%s@%d", due.Key, h.Seq), Kind: KindExpiry, Debit: account,
			Credit: ExpiryAccount, Amount: due.Left, Ref: due.Key, After: h.Seq,
			Note: "expired at the end of " + DayKey(due.Expires.Add(-time.Second))})
		switch {
		case errors.Is(err, ErrStale), errors.Is(err, ErrInsufficient):
			continue // the account moved meanwhile: read it again
		case err != nil:
			return rep, err
		}
		if !res.Replayed {
			rep.Lots++
			rep.Points += due.Left
		}
	}
	return rep, fmt.Errorf("%w: gave up expiring the lots of %s", ErrBusy, account)
}

// ExpireDue runs expiry for every account listed under a month that has
// begun, from the current month back through the previous monthsBack
// months (a hold voided after its lot's month lets points of that lot be
// expired on a later run, so the job looks back a little). It reads the
// lists by _id.
func (l *Ledger) ExpireDue(ctx context.Context, monthsBack int) (ExpiryReport, error) {
	var total ExpiryReport
	now := l.now().In(Zone)
	for back := 0; back <= monthsBack; back++ {
		month := MonthKey(time.Date(now.Year(), now.Month()-time.Month(back), 1, 12, 0, 0, 0, Zone))
		for n := int64(1); ; n++ {
			account, ok, err := l.dueAt(ctx, month, n)
			if err != nil {
				return total, err
			}
			if !ok {
				break
			}
			rep, err := l.ExpireAccount(ctx, account)
			if err != nil {
				return total, err
			}
			total.Accounts++
			total.Lots += rep.Lots
			total.Points += rep.Points
		}
	}
	return total, nil
}
