package points

import (
	"context"
	"fmt"
	"time"
)

// Test hooks, for the external test package.

// SetStopAt runs f at every point between two writes of a movement, with the
// point's name ("open", "movement", "debit", "debit-recorded", "credit",
// "credit-recorded", "closed"). A test that stops the goroutine there
// (runtime.Goexit) sees what a kill leaves.
func SetStopAt(l *Ledger, f func(point string)) { l.stopAt = f }

// SetNow fixes the ledger's clock.
func SetNow(l *Ledger, now func() time.Time) { l.now = now }

// Retries is how many appends of this ledger lost their number to another
// writer and tried again.
func Retries(l *Ledger) int64 { return l.retries.Load() }

// EntryID is the _id of entry seq of an account's chain.
func EntryID(account string, seq int64) string { return entryID(account, seq) }

// Collections, for tests that count or tamper with what is stored.
const (
	EntriesCollection   = entriesCollection
	MovementsCollection = movementsCollection
	LegsCollection      = legsCollection
	OpenCollection      = openCollection
)

// DueCollection lists the accounts with lots expiring per month.
const DueCollection = dueCollection

// SeedChain writes n entries straight into an account's chain, for
// benchmarks that need a long chain quickly: odd entries receive 5 points
// (a lot expiring lotMonths after it), even ones spend 3, a day apart
// ending now. Only the chain is written (no movements), so Verify would
// flag it; Wallet, Lots and Statement read nothing else.
func SeedChain(ctx context.Context, l *Ledger, account string, n int, lotMonths int) error {
	now := l.now()
	var h Entry
	batch := make([]any, 0, 1000)
	for i := 1; i <= n; i++ {
		at := now.Add(-time.Duration(n-i) * 24 * time.Hour / 10)
		amount, kind := int64(-3), KindSpend
		var expires time.Time
		if i%2 == 1 {
			amount, kind, expires = 5, KindAward, LotExpiry(at, lotMonths)
		}
		e := Entry{ID: entryID(account, int64(i)), Account: account, Seq: int64(i), Amount: amount,
			Balance: h.Balance + amount, In: h.In + max(amount, 0), Kind: kind, Expires: expires,
			Movement: fmt.Sprintf("seed:%d", i), Leg: fmt.Sprintf("seed:%s:%d", account, i), Counter: Issuance, At: at}
		if kind == KindAward {
			e.Earned = h.Earned + amount
		} else {
			e.Earned = h.Earned
		}
		h = e
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n {
			if _, err := l.entries.InsertMany(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}
