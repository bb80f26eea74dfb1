package points

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Anomaly kinds reported by Verify.
const (
	AnomalyBadID        = "bad-id"        // an entry's _id is not "<account>/<seq>"
	AnomalySeqGap       = "seq-gap"       // a chain does not count 1, 2, 3, …
	AnomalyBalance      = "balance"       // previous balance + amount ≠ balance
	AnomalyHeld         = "held"          // previous held + held change ≠ held, or a rider's held below zero
	AnomalyIn           = "in"            // previous in + the entry's increase ≠ in
	AnomalyOrphan       = "orphan-entry"  // an entry of no stored movement
	AnomalyLegMismatch  = "leg-mismatch"  // an entry disagrees with its movement (account, counter, amount, leg)
	AnomalyDuplicateLeg = "duplicate-leg" // a leg appears twice
	AnomalyMissingLeg   = "missing-leg"   // a movement lacks a leg
	AnomalyUnbalanced   = "unbalanced"    // a movement's legs do not sum to zero
	AnomalyNegative     = "rider-negative"
	AnomalyLegRecord    = "leg-record"   // a leg record names an entry that does not hold the leg
	AnomalyHoldOverdue  = "hold-overdue" // a hold not settled by its deadline
)

// Anomaly is one thing reconciliation found wrong.
type Anomaly struct {
	Kind     string
	Account  string
	Seq      int64
	Movement string
	Detail   string
}

func (a Anomaly) String() string {
	var b strings.Builder
	b.WriteString(a.Kind)
	if a.Account != "" {
		fmt.Fprintf(&b, " %s#%d", a.Account, a.Seq)
	}
	if a.Movement != "" {
		fmt.Fprintf(&b, " movement %q", a.Movement)
	}
	if a.Detail != "" {
		b.WriteString(": " + a.Detail)
	}
	return b.String()
}

// Report is the result of reconciliation. An empty Anomalies list means
// the ledger is clean.
type Report struct {
	At        time.Time
	Accounts  int
	Entries   int
	Movements int
	Anomalies []Anomaly
}

// Clean reports whether reconciliation found nothing wrong.
func (r Report) Clean() bool { return len(r.Anomalies) == 0 }

// Verify recomputes the whole ledger from its entries: every chain counts
// from 1 without gaps and each entry's balances follow from the previous
// one's; every entry belongs to a stored movement and matches it; every
// movement has both legs (or a refused debit and no credit), once each,
// summing to zero; every leg record points at its leg; no rider's
// available balance fell below zero except by a movement allowed to; every
// hold past its deadline is settled. It reads every document, so it is an
// audit job, not a request path. An error means the ledger could not be
// read; anomalies are in the report.
//
// A movement being written while Verify reads shows as missing a leg: run
// Verify after Repair on a quiet ledger, or read its anomalies again.
func (l *Ledger) Verify(ctx context.Context) (Report, error) {
	rep := Report{At: l.now()}
	var movements []Movement
	if err := readAll(ctx, l.movements, &movements); err != nil {
		return rep, err
	}
	var entries []Entry
	if err := readAll(ctx, l.entries, &entries); err != nil {
		return rep, err
	}
	var records []legRecord
	if err := readAll(ctx, l.legs, &records); err != nil {
		return rep, err
	}
	rep.Movements, rep.Entries = len(movements), len(entries)
	flag := func(a Anomaly) { rep.Anomalies = append(rep.Anomalies, a) }

	byKey := make(map[string]Movement, len(movements))
	for _, m := range movements {
		byKey[m.Key] = m
	}
	chains := map[string][]Entry{}
	for _, e := range entries {
		chains[e.Account] = append(chains[e.Account], e)
	}
	rep.Accounts = len(chains)
	legs := map[string][]Entry{} // leg id → its entries
	byID := make(map[string]Entry, len(entries))

	accounts := make([]string, 0, len(chains))
	for a := range chains {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, account := range accounts {
		chain := chains[account]
		slices.SortFunc(chain, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
		var prev Entry
		for _, e := range chain {
			byID[e.ID] = e
			an := Anomaly{Account: account, Seq: e.Seq, Movement: e.Movement}
			if e.ID != entryID(account, e.Seq) {
				an.Kind, an.Detail = AnomalyBadID, fmt.Sprintf("_id is %q", e.ID)
				flag(an)
			}
			if e.Seq != prev.Seq+1 {
				an.Kind, an.Detail = AnomalySeqGap, fmt.Sprintf("follows entry %d", prev.Seq)
				flag(an)
			}
			if b, ok := add(prev.Balance, e.Amount); !ok || b != e.Balance {
				an.Kind, an.Detail = AnomalyBalance, fmt.Sprintf("%d %+d gives %d, not %d", prev.Balance, e.Amount, b, e.Balance)
				flag(an)
			}
			if h, ok := add(prev.Held, e.HeldChange); !ok || h != e.Held || (IsRider(account) && e.Held < 0) {
				an.Kind, an.Detail = AnomalyHeld, fmt.Sprintf("held %d %+d gives %d, not %d", prev.Held, e.HeldChange, h, e.Held)
				flag(an)
			}
			if in, ok := add(prev.In, max(e.Amount, 0)); !ok || in != e.In {
				an.Kind, an.Detail = AnomalyIn, fmt.Sprintf("received %d %+d gives %d, not %d", prev.In, max(e.Amount, 0), in, e.In)
				flag(an)
			}
			if earned, ok := add(prev.Earned, earnedChange(account, e.Kind, e.Amount)); !ok || earned != e.Earned {
				an.Kind, an.Detail = AnomalyIn, fmt.Sprintf("earned %d %+d gives %d, not %d", prev.Earned, earnedChange(account, e.Kind, e.Amount), earned, e.Earned)
				flag(an)
			}
			m, ok := byKey[e.Movement]
			if !ok {
				an.Kind, an.Detail = AnomalyOrphan, "no movement has this key"
				flag(an)
			} else if detail := matches(e, m); detail != "" {
				an.Kind, an.Detail = AnomalyLegMismatch, detail
				flag(an)
			} else if IsRider(account) && !m.AllowDebt && !e.Refused && e.Available() < 0 && e.Available() < prev.Available() {
				an.Kind, an.Detail = AnomalyNegative, fmt.Sprintf("available fell to %d", e.Available())
				flag(an)
			}
			legs[e.Leg] = append(legs[e.Leg], e)
			prev = e
		}
	}

	settled := map[string]bool{}
	for _, m := range movements {
		if m.Kind == KindHoldPost || m.Kind == KindHoldVoid {
			settled[m.Ref] = true
		}
	}
	slices.SortFunc(movements, func(a, b Movement) int { return strings.Compare(a.Key, b.Key) })
	for _, m := range movements {
		an := Anomaly{Movement: m.Key}
		for _, side := range []string{sideDebit, sideCredit} {
			if es := legs[legID(m.Key, side)]; len(es) > 1 {
				an.Kind, an.Detail = AnomalyDuplicateLeg, fmt.Sprintf("its %s leg is in the ledger %d times", side, len(es))
				flag(an)
			}
		}
		debit, credit := legs[legID(m.Key, sideDebit)], legs[legID(m.Key, sideCredit)]
		switch {
		case len(debit) == 0:
			an.Kind, an.Detail = AnomalyMissingLeg, "no debit leg"
			flag(an)
			continue
		case debit[0].Refused:
			if len(credit) > 0 {
				an.Kind, an.Detail = AnomalyLegMismatch, "a refused movement has a credit leg"
				flag(an)
			}
			continue
		case len(credit) == 0:
			an.Kind, an.Detail = AnomalyMissingLeg, "no credit leg"
			flag(an)
			continue
		}
		if debit[0].Amount+credit[0].Amount != 0 || debit[0].HeldChange+credit[0].HeldChange != 0 {
			an.Kind, an.Detail = AnomalyUnbalanced, fmt.Sprintf("legs %+d/%+d, held %+d/%+d",
				debit[0].Amount, credit[0].Amount, debit[0].HeldChange, credit[0].HeldChange)
			flag(an)
		}
		if m.Kind == KindHold && !settled[m.Key] && !m.Deadline.IsZero() && m.Deadline.Before(rep.At) {
			an.Kind, an.Detail = AnomalyHoldOverdue, fmt.Sprintf("%d points held since %s, due %s",
				m.Amount, m.At.Format(time.RFC3339), m.Deadline.Format(time.RFC3339))
			flag(an)
		}
	}

	for _, r := range records {
		e, ok := byID[entryID(r.Account, r.Seq)]
		if !ok || e.Leg != r.ID || e.Refused != r.Refused {
			flag(Anomaly{Kind: AnomalyLegRecord, Account: r.Account, Seq: r.Seq, Detail: fmt.Sprintf("record %q does not match the entry there", r.ID)})
		}
	}
	return rep, nil
}

// matches says how an entry disagrees with its movement ("" if it does not).
func matches(e Entry, m Movement) string {
	side, ok := strings.CutPrefix(e.Leg, m.Key+"/")
	if !ok || (side != sideDebit && side != sideCredit) {
		return fmt.Sprintf("leg %q is not a leg of movement %q", e.Leg, m.Key)
	}
	account, counter := m.Debit, m.Credit
	if side == sideCredit {
		account, counter = m.Credit, m.Debit
	}
	if e.Account != account || e.Counter != counter {
		return fmt.Sprintf("the %s leg is on %s against %s; the movement says %s against %s", side, e.Account, e.Counter, account, counter)
	}
	amount, held := change(m.Kind, side, m.Amount)
	if e.Refused {
		if side != sideDebit {
			return "a credit leg is marked refused"
		}
		amount, held = 0, 0
	}
	if e.Amount != amount || e.HeldChange != held || e.Kind != m.Kind {
		return fmt.Sprintf("the %s leg moves %+d (held %+d) as a %s; the movement says %+d (held %+d) as a %s",
			side, e.Amount, e.HeldChange, e.Kind, amount, held, m.Kind)
	}
	return ""
}

func readAll[T any](ctx context.Context, coll *mongo.Collection, out *[]T) error {
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("verify the points ledger: %w", err)
	}
	if err := cur.All(ctx, out); err != nil {
		return fmt.Errorf("verify the points ledger: %w", err)
	}
	return nil
}
