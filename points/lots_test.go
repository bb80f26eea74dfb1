package points_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/points"
)

func lotAward(key, rider string, amount int64, at time.Time) points.Transfer {
	tr := award(key, rider, amount)
	tr.Expires = points.LotExpiry(at, 12)
	return tr
}

func TestLotExpiryIsTheEndOfTheMonthTwelveMonthsLater(t *testing.T) {
	for _, c := range []struct{ at, want string }{
		{"2026-03-15T10:00:00+08:00", "2027-04-01T00:00:00+08:00"},
		{"2026-12-31T23:59:00+08:00", "2028-01-01T00:00:00+08:00"},
		// 2026-01-31 17:00 UTC is already 1 February in China.
		{"2026-01-31T17:00:00Z", "2027-03-01T00:00:00+08:00"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := points.LotExpiry(at, 12); !got.Equal(want) {
			t.Errorf("LotExpiry(%s) = %s, want %s", c.at, got.In(points.Zone), want)
		}
	}
}

// clock is a settable clock for the ledger.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestLotsAreSpentOldestFirstAndExpireOnce(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	c := &clock{t: time.Date(2026, 1, 10, 9, 0, 0, 0, points.Zone)}
	points.SetNow(l, c.now)

	jan := c.now()
	mustPost(t, l, lotAward("award:a", "u1", 10, jan))
	c.set(time.Date(2026, 2, 10, 9, 0, 0, 0, points.Zone))
	mustPost(t, l, lotAward("award:b", "u1", 20, c.now()))
	mustPost(t, l, spend("spend:1", "u1", "s1", 4)) // from lot a
	if _, err := l.Hold(ctx, points.HoldRequest{Key: "hold:1", Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: 3,
		Deadline: c.now().Add(7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	lots, err := l.Lots(ctx, points.Rider("u1"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lots) != 2 || lots[0].Key != "award:a" || lots[0].Left != 3 || lots[1].Key != "award:b" || lots[1].Left != 20 {
		t.Fatalf("lots = %+v, want a with 3 left (10 − 4 spent − 3 held), b with 20", lots)
	}

	// A month before lot a expires, the wallet shows it as expiring.
	c.set(time.Date(2027, 1, 15, 9, 0, 0, 0, points.Zone))
	w, err := l.Wallet(ctx, "u1", 30*24*time.Hour, 12)
	if err != nil {
		t.Fatal(err)
	}
	if w.Expiring != 3 || !w.ExpiringFirst.Equal(points.LotExpiry(jan, 12)) || w.Available != 23 || w.Held != 3 || w.Earned != 30 {
		t.Fatalf("wallet = %+v, want 3 expiring on %s, 23 available, 3 held, 30 earned", w, points.LotExpiry(jan, 12))
	}

	// Lot a's month ends: the expiry job, run twice and on two instances,
	// expires its 3 unspent points once; lot b is untouched.
	c.set(time.Date(2027, 2, 1, 0, 30, 0, 0, points.Zone))
	l2 := newLedger(db)
	points.SetNow(l2, c.now)
	var wg sync.WaitGroup
	for _, x := range []*points.Ledger{l, l2, l} {
		wg.Go(func() {
			if _, err := x.ExpireDue(ctx, 2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	wantBalance(t, l, points.Rider("u1"), 30-4-3, 3)
	wantBalance(t, l, points.ExpiryAccount, 3, 0)
	n, err := db.Collection(points.MovementsCollection).CountDocuments(ctx, bson.D{{Key: "kind", Value: points.KindExpiry}})
	if err != nil || n != 1 {
		t.Fatalf("%d expiry movements (%v), want 1", n, err)
	}

	// The hold is voided after lot a expired: its 3 points came from lot
	// a, so the next run expires them too, and nothing of lot b.
	if _, err := l.VoidHold(ctx, "hold:1", "not picked up"); err != nil {
		t.Fatal(err)
	}
	rep, err := l.ExpireDue(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Points != 3 {
		t.Fatalf("second run expired %d points, want the 3 released by the void", rep.Points)
	}
	wantBalance(t, l, points.Rider("u1"), 20, 0)
	if rep, err := l.ExpireDue(ctx, 2); err != nil || rep.Points != 0 {
		t.Fatalf("third run: %+v, %v; want nothing", rep, err)
	}
	wantClean(t, l)
}

func TestLotsOfALongChainAreFoundByBisection(t *testing.T) {
	ctx := context.Background()
	l := newLedger(newDB(t))
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, points.Zone)
	for i := range 40 {
		mustPost(t, l, lotAward(fmt.Sprintf("award:%d", i), "u1", 5, at))
		mustPost(t, l, spend(fmt.Sprintf("spend:%d", i), "u1", "s1", 4))
	}
	// 200 received, 160 spent: the first 32 lots are gone, lot 32 has 0
	// left… FIFO: 160 = 32 lots × 5, so lots 32..39 are whole.
	lots, err := l.Lots(ctx, points.Rider("u1"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lots) != 8 || lots[0].Key != "award:32" || lots[0].Left != 5 {
		t.Fatalf("lots = %+v, want award:32..39 whole", lots)
	}
}

// TestExpiryRacingSpendsTakesOnlyWhatIsLeft races the expiry of a lot, on
// two instances, against spends on two instances. An expiry computed before
// a spend and written after it would take points the spend already took
// from the lot (and so eat the next lot); the conditional write refuses it.
func TestExpiryRacingSpendsTakesOnlyWhatIsLeft(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	c := &clock{t: time.Date(2026, 1, 10, 9, 0, 0, 0, points.Zone)}
	ls := []*points.Ledger{newLedger(db), newLedger(db)}
	for _, l := range ls {
		points.SetNow(l, c.now)
	}
	mustPost(t, ls[0], lotAward("award:a", "u1", 10, c.now()))
	c.set(time.Date(2026, 6, 10, 9, 0, 0, 0, points.Zone))
	mustPost(t, ls[0], lotAward("award:b", "u1", 20, c.now()))
	c.set(time.Date(2027, 2, 2, 9, 0, 0, 0, points.Zone)) // lot a expired on 1 February

	var wg sync.WaitGroup
	// Six spends: lot a can never be spent whole, so exactly one expiry
	// must take what the spends before it left.
	for i := range 6 {
		wg.Go(func() {
			if _, err := ls[i%2].Post(ctx, spend(fmt.Sprintf("spend:%d", i), "u1", "s1", 1)); err != nil {
				t.Error(err)
			}
		})
		if i%2 == 0 {
			wg.Go(func() {
				if _, err := ls[i%2].ExpireDue(ctx, 1); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()

	es, err := ls[0].Statement(ctx, points.Rider("u1"), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	spentBefore, expired, expiries := int64(0), int64(0), 0
	for i := len(es) - 1; i >= 0; i-- { // oldest first
		switch e := es[i]; {
		case e.Kind == points.KindSpend && expiries == 0:
			spentBefore -= e.Amount
		case e.Kind == points.KindExpiry && !e.Refused:
			expired -= e.Amount
			expiries++
		}
	}
	if expiries != 1 || expired != 10-spentBefore {
		t.Fatalf("%d expiries took %d points; %d points of lot a were spent before it, so want one taking %d", expiries, expired, spentBefore, 10-spentBefore)
	}
	wantBalance(t, ls[0], points.Rider("u1"), 30-6-expired, 0)
	wantClean(t, ls[0])
}
