package points_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// newDB returns a fresh embedded database with the ledger's indexes.
func newDB(t testing.TB) *mongo.Database {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, points.Indexes()); err != nil {
		t.Fatal(err)
	}
	return db
}

func newLedger(db *mongo.Database) *points.Ledger {
	return points.NewLedger(db, storagetest.Logger())
}

func mustPost(t testing.TB, l *points.Ledger, tr points.Transfer) points.Result {
	t.Helper()
	res, err := l.Post(context.Background(), tr)
	if err != nil {
		t.Fatalf("post %s: %v", tr.Key, err)
	}
	return res
}

func award(key, rider string, amount int64) points.Transfer {
	return points.Transfer{Key: key, Kind: points.KindAward, Debit: points.Issuance, Credit: points.Rider(rider), Amount: amount}
}

func spend(key, rider, station string, amount int64) points.Transfer {
	return points.Transfer{Key: key, Kind: points.KindSpend, Debit: points.Rider(rider), Credit: points.Pool(station), Amount: amount}
}

func mustBalance(t testing.TB, l *points.Ledger, account string) points.Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), account)
	if err != nil {
		t.Fatalf("balance of %s: %v", account, err)
	}
	return b
}

func wantBalance(t testing.TB, l *points.Ledger, account string, balance, held int64) {
	t.Helper()
	b := mustBalance(t, l, account)
	if b.Balance != balance || b.Held != held || b.Available != balance-held {
		t.Errorf("%s: balance %d held %d available %d, want %d, %d, %d", account, b.Balance, b.Held, b.Available, balance, held, balance-held)
	}
}

func mustVerify(t testing.TB, l *points.Ledger) points.Report {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func wantClean(t testing.TB, l *points.Ledger) {
	t.Helper()
	rep := mustVerify(t, l)
	for _, a := range rep.Anomalies {
		t.Errorf("anomaly: %s", a)
	}
}

// counts returns how many documents each of the ledger's collections holds.
func counts(t testing.TB, db *mongo.Database) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range []string{points.EntriesCollection, points.MovementsCollection, points.LegsCollection, points.OpenCollection} {
		n, err := db.Collection(c).CountDocuments(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		out[c] = n
	}
	return out
}

func wantCounts(t testing.TB, got, want map[string]int64) {
	t.Helper()
	for c, n := range want {
		if got[c] != n {
			t.Errorf("%s holds %d documents, want %d", c, got[c], n)
		}
	}
}

func TestConcurrentSpends(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("instances=%d", instances), func(t *testing.T) {
			db := newDB(t)
			ls := make([]*points.Ledger, instances)
			for i := range ls {
				ls[i] = newLedger(db)
			}
			mustPost(t, ls[0], award("award:report:R1", "u1", 10))
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Go(func() {
					_, err := ls[i%instances].Post(context.Background(), spend(fmt.Sprintf("redeem:%d", i), "u1", "s1", 1))
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, points.ErrInsufficient):
						refused.Add(1)
					default:
						t.Errorf("spend %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 10 || refused.Load() != 90 {
				t.Errorf("%d spends succeeded and %d were refused, want 10 and 90", ok.Load(), refused.Load())
			}
			wantBalance(t, ls[0], points.Rider("u1"), 0, 0)
			wantBalance(t, ls[instances-1], points.Pool("s1"), 10, 0)
			wantClean(t, ls[0])
			t.Logf("stored: %v (refusals decided on the chain add an entry and a movement each)", counts(t, db))
			if instances == 1 {
				// Inside one instance the check before writing is exact: a
				// refused spend writes nothing.
				wantCounts(t, counts(t, db), map[string]int64{points.EntriesCollection: 22, points.MovementsCollection: 11, points.OpenCollection: 0})
			}
		})
	}
}

func TestSameKeyPostedOnce(t *testing.T) {
	db := newDB(t)
	ls := []*points.Ledger{newLedger(db), newLedger(db)}
	results := make([]points.Result, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			res, err := ls[i%2].Post(context.Background(), award("award:report:R", "u1", 5))
			if err != nil {
				t.Errorf("post %d: %v", i, err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	replayed := 0
	for i, r := range results {
		if r.Debit.ID != results[0].Debit.ID || r.Credit.ID != results[0].Credit.ID || r.Credit.Balance != 5 {
			t.Errorf("post %d returned entries %s/%s (credit balance %d), post 0 %s/%s", i, r.Debit.ID, r.Credit.ID, r.Credit.Balance, results[0].Debit.ID, results[0].Credit.ID)
		}
		if r.Replayed {
			replayed++
		}
	}
	if replayed != 19 {
		t.Errorf("%d posts were replays, want 19", replayed)
	}
	wantBalance(t, ls[0], points.Rider("u1"), 5, 0)
	wantBalance(t, ls[1], points.Issuance, -5, 0)
	wantCounts(t, counts(t, db), map[string]int64{points.EntriesCollection: 2, points.MovementsCollection: 1, points.LegsCollection: 2, points.OpenCollection: 0})
	wantClean(t, ls[0])

	t.Run("the same key for a different movement", func(t *testing.T) {
		before := counts(t, db)
		_, err := ls[1].Post(context.Background(), award("award:report:R", "u1", 6))
		if !errors.Is(err, points.ErrKeyConflict) {
			t.Fatalf("got %v, want ErrKeyConflict", err)
		}
		wantCounts(t, counts(t, db), before)
	})
}

// stopAt posts on l and stops the goroutine at point, as a kill would.
func stopAt(t *testing.T, l *points.Ledger, point string, post func(*points.Ledger) error) {
	t.Helper()
	var reached atomic.Bool
	points.SetStopAt(l, func(p string) {
		if p == point {
			reached.Store(true)
			runtime.Goexit()
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := post(l)
		t.Errorf("the post went past %s (err %v)", point, err)
	}()
	<-done
	points.SetStopAt(l, nil)
	if !reached.Load() {
		t.Fatalf("the post never reached %s", point)
	}
}

func TestCrashBetweenWrites(t *testing.T) {
	wantPoints := []string{"open", "movement", "debit", "debit-recorded", "credit", "credit-recorded", "closed"}
	t.Run("points", func(t *testing.T) {
		l := newLedger(newDB(t))
		var got []string
		points.SetStopAt(l, func(p string) { got = append(got, p) })
		mustPost(t, l, award("a", "u1", 3))
		if fmt.Sprint(got) != fmt.Sprint(wantPoints) {
			t.Fatalf("points %v, want %v", got, wantPoints)
		}
	})

	type scenario struct {
		name  string
		setup func(t *testing.T, l *points.Ledger)
		post  func(l *points.Ledger) error
		// balances after the movement: rider u1 and the counter-account
		rider, riderHeld int64
		counter          string
		counterBal       int64
	}
	scenarios := []scenario{
		{name: "award", setup: func(*testing.T, *points.Ledger) {},
			post: func(l *points.Ledger) error {
				_, err := l.Post(context.Background(), award("award:report:R", "u1", 7))
				return err
			}, rider: 7, counter: points.Issuance, counterBal: -7},
		{name: "spend", setup: func(t *testing.T, l *points.Ledger) { mustPost(t, l, award("a0", "u1", 10)) },
			post: func(l *points.Ledger) error {
				_, err := l.Post(context.Background(), spend("redeem:K", "u1", "s1", 4))
				return err
			}, rider: 6, counter: points.Pool("s1"), counterBal: 4},
		{name: "hold", setup: func(t *testing.T, l *points.Ledger) { mustPost(t, l, award("a0", "u1", 10)) },
			post: func(l *points.Ledger) error {
				_, err := l.Hold(context.Background(), points.HoldRequest{Key: "hold:K", Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: 4})
				return err
			}, rider: 10, riderHeld: 4, counter: points.Pool("s1"), counterBal: 0},
		{name: "hold post", setup: func(t *testing.T, l *points.Ledger) {
			mustPost(t, l, award("a0", "u1", 10))
			if _, err := l.Hold(context.Background(), points.HoldRequest{Key: "hold:K", Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: 4}); err != nil {
				t.Fatal(err)
			}
		}, post: func(l *points.Ledger) error {
			_, err := l.PostHold(context.Background(), "hold:K", "")
			return err
		}, rider: 6, counter: points.Pool("s1"), counterBal: 4},
	}
	for _, sc := range scenarios {
		for _, point := range wantPoints {
			t.Run(sc.name+"/"+point, func(t *testing.T) {
				db := newDB(t)
				first := newLedger(db)
				sc.setup(t, first)
				stopAt(t, first, point, sc.post)

				// A new instance, as after a restart: nothing remembered.
				now := time.Now().UTC()
				l := newLedger(db)
				points.SetNow(l, func() time.Time { return now })
				rep, err := l.Repair(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if point == "open" {
					// Nothing but the marker was written: the post is
					// forgotten once its marker is older than the grace.
					if rep != (points.RepairReport{Pending: 1}) {
						t.Errorf("repair %+v, want one pending marker", rep)
					}
					now = now.Add(11 * time.Minute)
					if rep, err = l.Repair(context.Background()); err != nil || rep != (points.RepairReport{Aborted: 1}) {
						t.Fatalf("repair after the grace: %+v, %v; want one aborted marker", rep, err)
					}
					wantClean(t, l)
					// The key is free: the caller's retry posts it.
					if err := sc.post(l); err != nil {
						t.Fatal(err)
					}
				} else {
					want := points.RepairReport{Completed: 1}
					if point == "closed" {
						want = points.RepairReport{}
					}
					if rep != want {
						t.Errorf("repair %+v, want %+v", rep, want)
					}
				}
				wantBalance(t, l, points.Rider("u1"), sc.rider, sc.riderHeld)
				wantBalance(t, l, sc.counter, sc.counterBal, mustBalance(t, l, sc.counter).Held)
				wantClean(t, l)
				if n := counts(t, db)[points.OpenCollection]; n != 0 {
					t.Errorf("%d open markers left", n)
				}

				// Repair again: nothing to do, nothing written.
				before := counts(t, db)
				if rep, err := l.Repair(context.Background()); err != nil || rep != (points.RepairReport{}) {
					t.Errorf("second repair: %+v, %v; want nothing done", rep, err)
				}
				wantCounts(t, counts(t, db), before)

				// The caller's retry (on the first instance, which
				// remembers the chains as they were) returns the same
				// result and writes nothing.
				if err := sc.post(first); err != nil {
					t.Errorf("retry: %v", err)
				}
				wantCounts(t, counts(t, db), before)
				wantBalance(t, l, points.Rider("u1"), sc.rider, sc.riderHeld)
			})
		}
	}
}

func TestReversalMayTakeBalanceNegative(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	mustPost(t, l, award("award:report:R", "u1", 10))
	mustPost(t, l, spend("redeem:1", "u1", "s1", 8))
	res, err := l.Reverse(ctx, "award:report:R", "report rejected after reopening")
	if err != nil {
		t.Fatal(err)
	}
	if res.Debit.Account != points.Rider("u1") || res.Debit.Amount != -10 || res.Debit.Ref != "award:report:R" {
		t.Errorf("reversal debit %+v", res.Debit)
	}
	wantBalance(t, l, points.Rider("u1"), -8, 0)
	wantBalance(t, l, points.Issuance, 0, 0)

	before := counts(t, db)
	if _, err := l.Post(ctx, spend("redeem:2", "u1", "s1", 1)); !errors.Is(err, points.ErrInsufficient) {
		t.Errorf("spend in debt: got %v, want ErrInsufficient", err)
	}
	if _, err := l.Hold(ctx, points.HoldRequest{Key: "hold:2", Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: 1}); !errors.Is(err, points.ErrInsufficient) {
		t.Errorf("hold in debt: got %v, want ErrInsufficient", err)
	}
	again, err := l.Reverse(ctx, "award:report:R", "")
	if err != nil || !again.Replayed || again.Debit.ID != res.Debit.ID {
		t.Errorf("second reversal: replayed %v entry %s, %v; want the first", again.Replayed, again.Debit.ID, err)
	}
	wantCounts(t, counts(t, db), before)
	if _, err := l.Reverse(ctx, points.ReverseKey("award:report:R"), ""); !errors.Is(err, points.ErrInvalid) {
		t.Errorf("reversing a reversal: got %v, want ErrInvalid", err)
	}
	if _, err := l.Reverse(ctx, "award:report:nope", ""); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("reversing nothing: got %v, want ErrNotFound", err)
	}

	mustPost(t, l, award("award:report:R2", "u1", 9))
	wantBalance(t, l, points.Rider("u1"), 1, 0)
	mustPost(t, l, spend("redeem:3", "u1", "s1", 1))
	wantBalance(t, l, points.Rider("u1"), 0, 0)
	wantClean(t, l)
}

func hold(key string, amount int64) points.HoldRequest {
	return points.HoldRequest{Key: key, Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: amount, Deadline: time.Now().Add(7 * 24 * time.Hour)}
}

func TestHoldSettledOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("post", func(t *testing.T) {
		l := newLedger(newDB(t))
		mustPost(t, l, award("a", "u1", 10))
		if _, err := l.Hold(ctx, hold("hold:1", 4)); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, points.Rider("u1"), 10, 4)
		// More than is available is refused while the hold stands.
		if _, err := l.Post(ctx, spend("redeem:x", "u1", "s1", 7)); !errors.Is(err, points.ErrInsufficient) {
			t.Errorf("spend over the hold: got %v, want ErrInsufficient", err)
		}
		first, err := l.PostHold(ctx, "hold:1", "picked up")
		if err != nil {
			t.Fatal(err)
		}
		again, err := l.PostHold(ctx, "hold:1", "")
		if err != nil || !again.Replayed || again.Debit.ID != first.Debit.ID {
			t.Errorf("second post: %v, replayed %v", err, again.Replayed)
		}
		if _, err := l.VoidHold(ctx, "hold:1", ""); !errors.Is(err, points.ErrHoldSettled) {
			t.Errorf("void after post: got %v, want ErrHoldSettled", err)
		}
		wantBalance(t, l, points.Rider("u1"), 6, 0)
		wantBalance(t, l, points.Pool("s1"), 4, 0)
		wantClean(t, l)
	})
	t.Run("void", func(t *testing.T) {
		l := newLedger(newDB(t))
		mustPost(t, l, award("a", "u1", 10))
		if _, err := l.Hold(ctx, hold("hold:1", 4)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VoidHold(ctx, "hold:1", "not picked up in 7 days"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.PostHold(ctx, "hold:1", ""); !errors.Is(err, points.ErrHoldSettled) {
			t.Errorf("post after void: got %v, want ErrHoldSettled", err)
		}
		wantBalance(t, l, points.Rider("u1"), 10, 0)
		wantBalance(t, l, points.Pool("s1"), 0, 0)
		wantClean(t, l)
	})
	t.Run("racing post and void", func(t *testing.T) {
		db := newDB(t)
		ls := []*points.Ledger{newLedger(db), newLedger(db)}
		mustPost(t, ls[0], award("a", "u1", 100))
		outcomes := map[points.Kind]int{}
		var riderWant int64 = 100
		for h := range 6 {
			key := fmt.Sprintf("hold:%d", h)
			if _, err := ls[0].Hold(ctx, hold(key, 5)); err != nil {
				t.Fatal(err)
			}
			var posted, voided, settled atomic.Int64
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					l := ls[i%2]
					var err error
					var ok *atomic.Int64
					if (i/2+h)%2 == 0 {
						_, err = l.PostHold(ctx, key, "")
						ok = &posted
					} else {
						_, err = l.VoidHold(ctx, key, "")
						ok = &voided
					}
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, points.ErrHoldSettled):
						settled.Add(1)
					default:
						t.Errorf("settle %s: %v", key, err)
					}
				})
			}
			wg.Wait()
			switch {
			case posted.Load() == 10 && voided.Load() == 0 && settled.Load() == 10:
				outcomes[points.KindHoldPost]++
				riderWant -= 5
			case voided.Load() == 10 && posted.Load() == 0 && settled.Load() == 10:
				outcomes[points.KindHoldVoid]++
			default:
				t.Errorf("%s: %d posts and %d voids succeeded, %d refused; want all of one kind", key, posted.Load(), voided.Load(), settled.Load())
			}
		}
		t.Logf("outcomes: %v", outcomes)
		wantBalance(t, ls[0], points.Rider("u1"), riderWant, 0)
		wantBalance(t, ls[1], points.Pool("s1"), 100-riderWant, 0)
		wantClean(t, ls[0])
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	mustPost(t, l, points.Transfer{Key: "a", Kind: points.KindAdjustment, Debit: points.Adjustments, Credit: points.Rider("u1"), Amount: 10})
	// u2 holds the most an int64 can: the next award overflows its balance.
	mustPost(t, l, award("big", "u2", math.MaxInt64))
	// The issuance account is now at -MaxInt64; one more point makes it
	// MinInt64, still held; a second would overflow it.
	mustPost(t, l, award("edge", "u3", 1))

	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"zero amount", func() error { _, err := l.Post(ctx, award("z", "u1", 0)); return err }, points.ErrInvalid},
		{"negative amount", func() error { _, err := l.Post(ctx, award("n", "u1", -5)); return err }, points.ErrInvalid},
		{"negative spend", func() error { _, err := l.Post(ctx, spend("ns", "u1", "s1", -1)); return err }, points.ErrInvalid},
		{"empty key", func() error { _, err := l.Post(ctx, award("", "u1", 1)); return err }, points.ErrInvalid},
		{"unknown kind", func() error {
			_, err := l.Post(ctx, points.Transfer{Key: "k", Kind: "gift", Debit: points.Issuance, Credit: points.Rider("u1"), Amount: 1})
			return err
		}, points.ErrInvalid},
		{"hold as a transfer", func() error {
			_, err := l.Post(ctx, points.Transfer{Key: "k", Kind: points.KindHold, Debit: points.Rider("u1"), Credit: points.Pool("s1"), Amount: 1})
			return err
		}, points.ErrInvalid},
		{"same account", func() error {
			_, err := l.Post(ctx, points.Transfer{Key: "k", Kind: points.KindAdjustment, Debit: points.Rider("u1"), Credit: points.Rider("u1"), Amount: 1})
			return err
		}, points.ErrInvalid},
		{"slash in account", func() error { _, err := l.Post(ctx, award("k", "u1/x", 1)); return err }, points.ErrInvalid},
		{"hold credited to a rider", func() error {
			_, err := l.Hold(ctx, points.HoldRequest{Key: "h", Debit: points.Rider("u1"), Credit: points.Rider("u2"), Amount: 1})
			return err
		}, points.ErrInvalid},
		{"zero hold", func() error { _, err := l.Hold(ctx, hold("h0", 0)); return err }, points.ErrInvalid},
		{"spend beyond the balance", func() error { _, err := l.Post(ctx, spend("s", "u1", "s1", 11)); return err }, points.ErrInsufficient},
		{"hold beyond the balance", func() error { _, err := l.Hold(ctx, hold("h1", 11)); return err }, points.ErrInsufficient},
		{"rider balance overflows", func() error {
			_, err := l.Post(ctx, points.Transfer{Key: "o1", Kind: points.KindAdjustment, Debit: points.Adjustments, Credit: points.Rider("u2"), Amount: 1})
			return err
		}, points.ErrOverflow},
		{"issuance overflows", func() error { _, err := l.Post(ctx, award("o2", "u4", 1)); return err }, points.ErrOverflow},
		{"settle an unknown hold", func() error { _, err := l.PostHold(ctx, "hold:none", ""); return err }, points.ErrNotFound},
		{"settle a transfer", func() error { _, err := l.VoidHold(ctx, "a", ""); return err }, points.ErrInvalid},
		{"statement page of 0", func() error { _, err := l.Statement(ctx, points.Rider("u1"), 0, 0); return err }, points.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := counts(t, db)
			err := c.do()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Logf("%v", err)
			wantCounts(t, counts(t, db), before)
		})
	}
	wantBalance(t, l, points.Rider("u1"), 10, 0)
	wantBalance(t, l, points.Rider("u2"), math.MaxInt64, 0)
	wantBalance(t, l, points.Issuance, math.MinInt64, 0)
	wantClean(t, l)
}

func TestStatementPages(t *testing.T) {
	ctx := context.Background()
	l := newLedger(newDB(t))
	for i := 1; i <= 25; i++ {
		mustPost(t, l, award(fmt.Sprintf("award:%d", i), "u1", int64(i)))
	}
	var seqs []int64
	before := int64(0)
	for {
		page, err := l.Statement(ctx, points.Rider("u1"), before, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seqs = append(seqs, e.Seq)
			// The running balance after entry n is 1+2+…+n.
			if e.Balance != e.Seq*(e.Seq+1)/2 || e.Movement != fmt.Sprintf("award:%d", e.Seq) || e.Counter != points.Issuance {
				t.Errorf("entry %d: balance %d movement %s counter %s", e.Seq, e.Balance, e.Movement, e.Counter)
			}
		}
		if len(page) < 10 {
			break
		}
		before = page[len(page)-1].Seq
	}
	if len(seqs) != 25 || seqs[0] != 25 || seqs[24] != 1 {
		t.Errorf("pages gave %v, want 25 down to 1", seqs)
	}
	if page, err := l.Statement(ctx, points.Rider("u1"), 1000, 3); err != nil || len(page) != 3 || page[0].Seq != 25 {
		t.Errorf("a cursor past the head: %d entries, %v", len(page), err)
	}
	if page, err := l.Statement(ctx, points.Rider("nobody"), 0, 10); err != nil || len(page) != 0 {
		t.Errorf("an empty account: %d entries, %v", len(page), err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*mongo.Database, *points.Ledger) {
		db := newDB(t)
		l := newLedger(db)
		mustPost(t, l, award("award:1", "u1", 10))
		mustPost(t, l, spend("redeem:1", "u1", "s1", 3))
		wantClean(t, l)
		return db, l
	}
	entries := func(db *mongo.Database) *mongo.Collection { return db.Collection(points.EntriesCollection) }
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *mongo.Database)
		want   []string
	}{
		{"a forged entry", func(t *testing.T, db *mongo.Database) {
			_, err := entries(db).InsertOne(ctx, bson.D{
				{Key: "_id", Value: points.EntryID(points.Rider("u1"), 3)}, {Key: "account", Value: points.Rider("u1")},
				{Key: "seq", Value: int64(3)}, {Key: "amount", Value: int64(100)}, {Key: "balance", Value: int64(107)},
				{Key: "held_change", Value: int64(0)}, {Key: "held", Value: int64(0)},
				{Key: "movement", Value: "gift"}, {Key: "leg", Value: "gift/credit"}, {Key: "counter", Value: points.Issuance},
				{Key: "kind", Value: "award"}, {Key: "at", Value: time.Now()},
			})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{points.AnomalyOrphan}},
		{"an amount changed", func(t *testing.T, db *mongo.Database) {
			_, err := entries(db).UpdateOne(ctx, bson.D{{Key: "_id", Value: points.EntryID(points.Rider("u1"), 2)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "amount", Value: int64(-1)}}}})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{points.AnomalyBalance, points.AnomalyLegMismatch, points.AnomalyUnbalanced}},
		{"a balance changed", func(t *testing.T, db *mongo.Database) {
			_, err := entries(db).UpdateOne(ctx, bson.D{{Key: "_id", Value: points.EntryID(points.Rider("u1"), 1)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: int64(1000)}}}})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{points.AnomalyBalance}},
		{"a leg deleted", func(t *testing.T, db *mongo.Database) {
			_, err := entries(db).DeleteOne(ctx, bson.D{{Key: "_id", Value: points.EntryID(points.Pool("s1"), 1)}})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{points.AnomalyMissingLeg, points.AnomalyLegRecord}},
		{"an entry removed from the middle", func(t *testing.T, db *mongo.Database) {
			_, err := entries(db).DeleteOne(ctx, bson.D{{Key: "_id", Value: points.EntryID(points.Rider("u1"), 1)}})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{points.AnomalySeqGap, points.AnomalyMissingLeg}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, l := setup(t)
			c.tamper(t, db)
			rep := mustVerify(t, l)
			found := map[string]bool{}
			for _, a := range rep.Anomalies {
				found[a.Kind] = true
				t.Logf("%s", a)
			}
			for _, k := range c.want {
				if !found[k] {
					t.Errorf("no %s anomaly reported", k)
				}
			}
		})
	}
}

func TestVerifyFindsOverdueHold(t *testing.T) {
	ctx := context.Background()
	l := newLedger(newDB(t))
	mustPost(t, l, award("a", "u1", 10))
	h := hold("hold:1", 2)
	h.Deadline = time.Now().Add(time.Hour)
	if _, err := l.Hold(ctx, h); err != nil {
		t.Fatal(err)
	}
	wantClean(t, l)
	points.SetNow(l, func() time.Time { return time.Now().Add(2 * time.Hour) })
	rep := mustVerify(t, l)
	if len(rep.Anomalies) != 1 || rep.Anomalies[0].Kind != points.AnomalyHoldOverdue {
		t.Fatalf("anomalies %v, want one overdue hold", rep.Anomalies)
	}
	if _, err := l.VoidHold(ctx, "hold:1", "expired"); err != nil {
		t.Fatal(err)
	}
	wantClean(t, l)
}
