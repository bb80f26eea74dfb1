package points

import "time"

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
