package points

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func mustReserve(t testing.TB, s *Shelf, rider, reward, station, key string) Reservation {
	t.Helper()
	r, err := s.Reserve(context.Background(), rider, reward, station, key)
	if err != nil {
		t.Fatalf("reserve %s for %s: %v", reward, rider, err)
	}
	if r.Status != StatusReserved || len(r.Code) != codeLen {
		t.Fatalf("reserved: status %s code %q", r.Status, r.Code)
	}
	return r
}

func mustConfirm(t testing.TB, s *Shelf, admin, station, code string) Reservation {
	t.Helper()
	r, err := s.Confirm(context.Background(), admin, station, code)
	if err != nil {
		t.Fatalf("confirm %s at %s: %v", code, station, err)
	}
	if r.Status != StatusPickedUp {
		t.Fatalf("confirmed: status %s", r.Status)
	}
	return r
}

func (e *shelfEnv) movementsOf(t testing.TB, kind Kind) int64 {
	t.Helper()
	return e.count(t, movementsCollection, bson.D{{Key: "kind", Value: kind}})
}

func TestReserveHundredRacersBalanceCoversTen(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 200, 200)
	e.award(t, "u1", 100)
	shelves := []*Shelf{e.s, e.instance()}

	var mu sync.Mutex
	var got []Reservation
	var refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			r, err := shelves[i%2].Reserve(ctx, "u1", rw.ID, "s1", fmt.Sprintf("key-%d", i))
			switch {
			case err == nil:
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
			case errors.Is(err, ErrInsufficient):
				refused.Add(1)
			default:
				t.Errorf("reserve %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if len(got) != 10 || refused.Load() != 90 {
		t.Fatalf("%d reservations and %d refusals, want 10 and 90", len(got), refused.Load())
	}
	e.wantBalance(t, Rider("u1"), 100, 100)
	// A hold refused on the rider's chain (two instances raced) is stored
	// as a refused entry; count the holds that took points.
	if n := e.count(t, entriesCollection, bson.D{{Key: "account", Value: Rider("u1")}, {Key: "kind", Value: KindHold},
		{Key: "refused", Value: bson.D{{Key: "$ne", Value: true}}}}); n != 10 {
		t.Errorf("%d holds took points, want 10", n)
	}
	// The refused reserves gave their units back: 190 of 200 are free.
	if n := e.count(t, slotsCollection, bson.D{{Key: "release", Value: true}}); n != 2*90 {
		t.Errorf("%d slot releases, want %d (stock and limit of each refused reserve)", n, 2*90)
	}
	if n := e.count(t, redeemOpenCollection, nil); n != 0 {
		t.Errorf("%d reserves left open", n)
	}
	codes, err := e.s.Codes(ctx, "u1", 50)
	if err != nil || len(codes) != 10 {
		t.Fatalf("the rider's codes: %d, %v; want 10", len(codes), err)
	}
	for i, r := range got {
		mustConfirm(t, shelves[i%2], "admin1", "s1", FormatCode(r.Code))
	}
	e.wantBalance(t, Rider("u1"), 0, 0)
	e.wantBalance(t, Pool("s1"), 100, 0)
	today, err := e.s.PickupsToday(ctx, "s1")
	if err != nil || len(today) != 10 {
		t.Errorf("today's pickups at s1: %d, %v; want 10", len(today), err)
	}
	e.clean(t)
}

func TestReserveStockFiveFiftyRacers(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, "s1", 10, 5, 1)
	for i := range 50 {
		e.award(t, fmt.Sprintf("r%d", i), 30)
	}
	shelves := []*Shelf{e.s, e.instance()}
	var mu sync.Mutex
	codes := map[string]bool{}
	slots := map[string]bool{}
	var out atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			r, err := shelves[i%2].Reserve(ctx, fmt.Sprintf("r%d", i), rw.ID, "s1", "k")
			switch {
			case err == nil:
				mu.Lock()
				codes[r.Code] = true
				slots[r.StockSlot.Slot] = true
				mu.Unlock()
			case errors.Is(err, ErrOutOfStock):
				out.Add(1)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if len(codes) != 5 || len(slots) != 5 || out.Load() != 45 {
		t.Fatalf("%d codes on %d slots, %d out of stock; want 5, 5, 45", len(codes), len(slots), out.Load())
	}
	held := int64(0)
	for i := range 50 {
		held += e.balance(t, Rider(fmt.Sprintf("r%d", i))).Held
	}
	if held != 50 {
		t.Errorf("%d points held over all riders, want 50", held)
	}
	if n := e.movementsOf(t, KindHold); n != 5 {
		t.Errorf("%d holds, want 5", n)
	}
	e.clean(t)
}

func TestReserveSameClientKeyOnce(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 100)
	shelves := []*Shelf{e.s, e.instance()}
	res := make([]Reservation, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			r, err := shelves[i%2].Reserve(ctx, "u1", rw.ID, "s2", "same-key")
			if err != nil {
				t.Errorf("reserve %d: %v", i, err)
			}
			res[i] = r
		})
	}
	wg.Wait()
	for i, r := range res {
		if r.ID != res[0].ID || r.Code != res[0].Code || r.ID == "" {
			t.Errorf("reserve %d returned %s/%s, reserve 0 %s/%s", i, r.ID, r.Code, res[0].ID, res[0].Code)
		}
	}
	e.wantBalance(t, Rider("u1"), 100, 10)
	if n := e.movementsOf(t, KindHold); n != 1 {
		t.Errorf("%d holds, want 1", n)
	}
	if n := e.count(t, slotsCollection, nil); n-e.count(t, slotsCollection, bson.D{{Key: "release", Value: true}})*2 != 2 {
		t.Errorf("claims left: %d slot documents; want one stock and one limit claim outstanding", n)
	}
}

func TestConfirmTwiceRefused(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 30)
	r := mustReserve(t, e.s, "u1", rw.ID, "s1", "k1")
	mustConfirm(t, e.s, "admin1", "s1", strings.ToLower(FormatCode(r.Code)))
	before := e.shelfCounts(t)
	for _, s := range []*Shelf{e.s, e.instance()} {
		_, err := s.Confirm(ctx, "admin1", "s1", r.Code)
		var pe *PickedUpError
		if !errors.As(err, &pe) || !errors.Is(err, ErrCodePickedUp) {
			t.Fatalf("second confirm: got %v, want a PickedUpError", err)
		}
		if pe.StationName != "Wuyi Square Station" || !strings.Contains(err.Error(), "Wuyi Square Station") {
			t.Errorf("the refusal does not name the station: %v", err)
		}
	}
	e.wantBalance(t, Rider("u1"), 20, 0)
	e.wantBalance(t, Pool("s1"), 10, 0)
	if n := e.movementsOf(t, KindHoldPost); n != 1 {
		t.Errorf("%d posts of the hold, want 1", n)
	}
	if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused confirm wrote: %v → %v", before, after)
	}
	// The rider can no longer cancel a reward picked up.
	if _, err := e.s.Cancel(ctx, "u1", r.ID); !errors.Is(err, ErrCodePickedUp) {
		t.Errorf("cancel after pickup: got %v, want ErrCodePickedUp", err)
	}
	e.clean(t)
}

func TestConfirmRacersPostOnce(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 10)
	r := mustReserve(t, e.s, "u1", rw.ID, "s1", "k1")
	shelves := []*Shelf{e.s, e.instance()}
	var ok, picked atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := shelves[i%2].Confirm(ctx, fmt.Sprintf("admin%d", i), "s1", r.Code)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrCodePickedUp):
				picked.Add(1)
			default:
				t.Errorf("confirm %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || picked.Load() != 9 {
		t.Errorf("%d confirms succeeded, %d refused as picked up; want 1 and 9", ok.Load(), picked.Load())
	}
	e.wantBalance(t, Rider("u1"), 0, 0)
	e.clean(t)
}

func TestConfirmOtherStationRefused(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 10)
	r := mustReserve(t, e.s, "u1", rw.ID, "s2", "k1")
	before := e.shelfCounts(t)
	_, err := e.s.Confirm(ctx, "admin1", "s1", r.Code)
	var oe *OtherStationError
	if !errors.As(err, &oe) || !errors.Is(err, ErrCodeOtherStation) || oe.StationID != "s2" ||
		!strings.Contains(err.Error(), "Ande Station") {
		t.Fatalf("got %v, want an OtherStationError naming Ande Station", err)
	}
	if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused confirm wrote: %v → %v", before, after)
	}
	e.wantBalance(t, Rider("u1"), 10, 10)
	mustConfirm(t, e.s, "admin2", "s2", r.Code)

	t.Run("a station's reward only at its station", func(t *testing.T) {
		own := e.reward(t, "s3", 1, 5, 5)
		e.award(t, "u2", 10)
		before := e.shelfCounts(t)
		_, err := e.s.Reserve(ctx, "u2", own.ID, "s1", "k1")
		if !errors.Is(err, ErrRewardUnavailable) || !strings.Contains(err.Error(), "Meixi Lake Station") {
			t.Errorf("got %v, want ErrRewardUnavailable naming Meixi Lake Station", err)
		}
		if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused reserve wrote: %v → %v", before, after)
		}
	})
}

func TestCancelReturnsPointsAndStock(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 1, 1)
	e.award(t, "a", 10)
	e.award(t, "b", 10)
	r := mustReserve(t, e.s, "a", rw.ID, "s1", "k1")
	if _, err := e.s.Reserve(ctx, "b", rw.ID, "s1", "k1"); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("second rider: got %v, want ErrOutOfStock", err)
	}
	if _, err := e.s.Cancel(ctx, "b", r.ID); !errors.Is(err, ErrReservationNotFound) {
		t.Errorf("another rider cancels: got %v, want ErrReservationNotFound", err)
	}
	got, err := e.s.Cancel(ctx, "a", r.ID)
	if err != nil || got.Status != StatusCancelled {
		t.Fatalf("cancel: %v, status %s", err, got.Status)
	}
	e.wantBalance(t, Rider("a"), 10, 0)
	// Cancelling again changes nothing.
	if got, err := e.s.Cancel(ctx, "a", r.ID); err != nil || got.Status != StatusCancelled {
		t.Errorf("cancel again: %v, status %s", err, got.Status)
	}
	if n := e.movementsOf(t, KindHoldVoid); n != 1 {
		t.Errorf("%d voids, want 1", n)
	}
	// The unit is back: the other rider gets it.
	mustReserve(t, e.s, "b", rw.ID, "s1", "k2")
	// The cancelled code is refused at the station, clearly.
	before := e.shelfCounts(t)
	if _, err := e.s.Confirm(ctx, "admin1", "s1", r.Code); !errors.Is(err, ErrCodeCancelled) {
		t.Errorf("confirm a cancelled code: got %v, want ErrCodeCancelled", err)
	}
	if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("confirming a cancelled code wrote: %v → %v", before, after)
	}
	// The month slot came back too: rider a may reserve again this month
	// (when there is stock).
	if _, err := e.s.Update(ctx, rw.ID, RewardChange{AddStock: 1}); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, e.s, "a", rw.ID, "s1", "k3")
	if _, err := e.s.Update(ctx, rw.ID, RewardChange{AddStock: 1}); err != nil {
		t.Fatal(err)
	}
	e.award(t, "a", 10)
	if _, err := e.s.Reserve(ctx, "a", rw.ID, "s1", "k4"); !errors.Is(err, ErrLimitReached) {
		t.Errorf("a second unit in the month: got %v, want ErrLimitReached", err)
	}
	e.clean(t)
}

func TestPickupExpiryTwiceVoidsOnce(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 2, 1)
	e.award(t, "a", 10)
	e.award(t, "b", 10)
	r := mustReserve(t, e.s, "a", rw.ID, "s1", "k1")
	mustReserve(t, e.s, "b", rw.ID, "s2", "k1")
	// Six days later nothing expires.
	e.clock.add(6 * 24 * time.Hour)
	if rep, err := e.s.ExpirePickups(ctx); err != nil || rep.Expired != 0 {
		t.Fatalf("day 6: %+v, %v", rep, err)
	}
	e.wantBalance(t, Rider("a"), 10, 10)
	e.clock.add(24*time.Hour + time.Minute)
	shelves := []*Shelf{e.s, e.instance()}
	var expired atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			rep, err := shelves[i%2].ExpirePickups(ctx)
			if err != nil {
				t.Errorf("expire %d: %v", i, err)
			}
			expired.Add(int64(rep.Expired))
		})
	}
	wg.Wait()
	if expired.Load() != 2 {
		t.Errorf("%d reservations expired over four runs, want 2", expired.Load())
	}
	if n := e.movementsOf(t, KindHoldVoid); n != 2 {
		t.Errorf("%d voids, want 2", n)
	}
	e.wantBalance(t, Rider("a"), 10, 0)
	e.wantBalance(t, Rider("b"), 10, 0)
	if rep, err := e.s.ExpirePickups(ctx); err != nil || rep.Expired != 0 {
		t.Errorf("a later run: %+v, %v", rep, err)
	}
	got, err := e.s.Reservation(ctx, "a", r.ID)
	if err != nil || got.Status != StatusExpired {
		t.Errorf("status: %s, %v", got.Status, err)
	}
	before := e.shelfCounts(t)
	if _, err := e.s.Confirm(ctx, "admin1", "s1", r.Code); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("confirm an expired code: got %v, want ErrCodeExpired", err)
	}
	if _, err := e.s.Cancel(ctx, "a", r.ID); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("cancel an expired reservation: got %v, want ErrCodeExpired", err)
	}
	if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refusals wrote: %v → %v", before, after)
	}
	// The units are back.
	mustReserve(t, e.s, "a", rw.ID, "s1", "k2")
	e.clean(t)
}

func TestPickupPastDeadlineNotConfirmedBeforeExpiryRuns(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 1, 1)
	e.award(t, "a", 10)
	r := mustReserve(t, e.s, "a", rw.ID, "s1", "k1")
	e.clock.add(7*24*time.Hour + time.Second)
	if _, err := e.s.Confirm(ctx, "admin1", "s1", r.Code); !errors.Is(err, ErrCodeExpired) {
		t.Fatalf("confirm past the deadline: got %v, want ErrCodeExpired", err)
	}
	e.wantBalance(t, Rider("a"), 10, 0)
	if rep, err := e.s.ExpirePickups(ctx); err != nil || rep.Expired != 0 {
		t.Errorf("expiry after the confirm expired it: %+v, %v", rep, err)
	}
	if n := e.movementsOf(t, KindHoldVoid); n != 1 {
		t.Errorf("%d voids, want 1", n)
	}
}

func TestConfirmWrongCodeThrottle(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 10)
	r := mustReserve(t, e.s, "u1", rw.ID, "s1", "k1")
	for i := range CodeTryLimit {
		wrong := fmt.Sprintf("AAAA-BBBB-%02d", i)
		if i == 3 {
			wrong = "not a code"
		}
		if _, err := e.s.Confirm(ctx, "admin1", "s1", wrong); !errors.Is(err, ErrCodeUnknown) {
			t.Fatalf("wrong code %d: got %v, want ErrCodeUnknown", i, err)
		}
	}
	_, err := e.s.Confirm(ctx, "admin1", "s1", r.Code)
	var te *TooManyTriesError
	if !errors.As(err, &te) || !errors.Is(err, ErrTooManyTries) || !te.RetryAt.After(e.clock.now()) {
		t.Fatalf("after %d wrong codes: got %v, want TooManyTriesError", CodeTryLimit, err)
	}
	if !strings.Contains(err.Error(), "try again after") {
		t.Errorf("the refusal does not say when to retry: %v", err)
	}
	// Another admin is not held back by admin1's mistakes.
	if _, err := e.s.Confirm(ctx, "admin2", "s1", "AAAA-BBBB-CC"); !errors.Is(err, ErrCodeUnknown) {
		t.Errorf("admin2: got %v, want ErrCodeUnknown", err)
	}
	e.clock.t = te.RetryAt
	mustConfirm(t, e.s, "admin1", "s1", r.Code)

	t.Run("racing wrong codes claim at most the limit", func(t *testing.T) {
		shelves := []*Shelf{e.s, e.instance()}
		var unknown, throttled atomic.Int64
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				_, err := shelves[i%2].Confirm(ctx, "admin3", "s1", "ZZZZ-ZZZZ-ZZ")
				switch {
				case errors.Is(err, ErrCodeUnknown):
					unknown.Add(1)
				case errors.Is(err, ErrTooManyTries):
					throttled.Add(1)
				default:
					t.Errorf("racer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if unknown.Load() != CodeTryLimit || throttled.Load() != 30-CodeTryLimit {
			t.Errorf("%d wrong codes looked up and %d throttled, want %d and %d", unknown.Load(), throttled.Load(), CodeTryLimit, 30-CodeTryLimit)
		}
	})
}

func TestReserveBadInputWritesNothing(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	rw := e.reward(t, CityScope, 10, 5, 5)
	e.award(t, "u1", 5)
	e.award(t, "debtor", 20)
	if _, err := e.l.Post(ctx, Transfer{Key: "clawback:test", Kind: KindClawback, Debit: Rider("debtor"), Credit: Issuance, Amount: 25}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, rider, reward, station, key string
		want                              error
	}{
		{"unknown reward", "u1", "rwnope", "s1", "k1", ErrRewardNotFound},
		{"unknown station", "u1", rw.ID, "nowhere", "k1", ErrInvalid},
		{"no station", "u1", rw.ID, "", "k1", ErrInvalid},
		{"empty client key", "u1", rw.ID, "s1", "", ErrInvalid},
		{"client key with a slash", "u1", rw.ID, "s1", "a/b", ErrInvalid},
		{"balance too small", "u1", rw.ID, "s1", "k1", ErrInsufficient},
		{"rider in debt", "debtor", rw.ID, "s1", "k1", ErrInDebt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.shelfCounts(t)
			_, err := e.s.Reserve(ctx, c.rider, c.reward, c.station, c.key)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := e.shelfCounts(t); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("wrote: %v → %v", before, after)
			}
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		if _, err := e.s.Confirm(ctx, "admin1", "s1", "0000-0000-00"); !errors.Is(err, ErrCodeUnknown) {
			t.Errorf("got %v, want ErrCodeUnknown", err)
		}
	})
}

// stopReserve runs a reserve and stops it at point, as a kill would.
func stopReserve(t *testing.T, s *Shelf, point, rider, reward, key string) {
	t.Helper()
	var reached atomic.Bool
	s.stopAt = func(p string) {
		if p == point {
			reached.Store(true)
			runtime.Goexit()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Reserve(context.Background(), rider, reward, "s1", key)
	}()
	<-done
	s.stopAt = nil
	if !reached.Load() {
		t.Fatalf("the reserve did not reach %q", point)
	}
}

func TestReserveRepairAfterCrash(t *testing.T) {
	t.Run("killed between the claims and the hold", func(t *testing.T) {
		e := newShelfEnv(t, nil)
		ctx := context.Background()
		rw := e.reward(t, CityScope, 10, 1, 1)
		e.award(t, "a", 10)
		e.award(t, "b", 10)
		stopReserve(t, e.s, "claimed", "a", rw.ID, "k1")
		// The unit is stranded until the repair pass runs.
		if _, err := e.s.Reserve(ctx, "b", rw.ID, "s1", "k1"); !errors.Is(err, ErrOutOfStock) {
			t.Fatalf("before repair: got %v, want ErrOutOfStock", err)
		}
		if n, err := e.s.RepairReservations(ctx); err != nil || n != 0 {
			t.Errorf("repair within the grace period: %d, %v; want nothing done", n, err)
		}
		e.clock.add(11 * time.Minute)
		if n, err := e.instance().RepairReservations(ctx); err != nil || n != 1 {
			t.Fatalf("repair: %d, %v; want 1", n, err)
		}
		if n, err := e.s.RepairReservations(ctx); err != nil || n != 0 {
			t.Errorf("second repair: %d, %v; want nothing done", n, err)
		}
		e.wantBalance(t, Rider("a"), 10, 0)
		mustReserve(t, e.s, "b", rw.ID, "s1", "k2")
		// The same client key says the reserve was undone.
		if _, err := e.s.Reserve(ctx, "a", rw.ID, "s1", "k1"); !errors.Is(err, ErrAborted) {
			t.Errorf("retry with the interrupted key: got %v, want ErrAborted", err)
		}
		e.clean(t)
	})
	t.Run("killed after the hold", func(t *testing.T) {
		e := newShelfEnv(t, nil)
		ctx := context.Background()
		rw := e.reward(t, CityScope, 10, 1, 1)
		e.award(t, "a", 10)
		stopReserve(t, e.s, "held", "a", rw.ID, "k1")
		e.wantBalance(t, Rider("a"), 10, 10)
		e.clock.add(11 * time.Minute)
		// The retry of the same key, past the grace period, completes it.
		r, err := e.instance().Reserve(ctx, "a", rw.ID, "s1", "k1")
		if err != nil || r.Status != StatusReserved {
			t.Fatalf("retry: %v, status %s", err, r.Status)
		}
		codes, err := e.s.Codes(ctx, "a", 10)
		if err != nil || len(codes) != 1 || codes[0].ID != r.ID {
			t.Fatalf("codes after repair: %+v, %v", codes, err)
		}
		if n := e.movementsOf(t, KindHold); n != 1 {
			t.Errorf("%d holds, want 1", n)
		}
		mustConfirm(t, e.s, "admin1", "s1", r.Code)
		e.wantBalance(t, Rider("a"), 0, 0)
		e.clean(t)
	})
	t.Run("expiry repairs too", func(t *testing.T) {
		e := newShelfEnv(t, nil)
		ctx := context.Background()
		rw := e.reward(t, CityScope, 10, 1, 1)
		e.award(t, "a", 10)
		stopReserve(t, e.s, "held", "a", rw.ID, "k1")
		e.clock.add(11 * time.Minute)
		rep, err := e.s.ExpirePickups(ctx)
		if err != nil || rep.Repaired != 1 {
			t.Fatalf("expire: %+v, %v", rep, err)
		}
		codes, _ := e.s.Codes(ctx, "a", 10)
		if len(codes) != 1 || codes[0].Status != StatusReserved {
			t.Fatalf("codes: %+v", codes)
		}
		e.clock.add(8 * 24 * time.Hour)
		if rep, err := e.s.ExpirePickups(ctx); err != nil || rep.Expired != 1 {
			t.Errorf("expire later: %+v, %v", rep, err)
		}
		e.wantBalance(t, Rider("a"), 10, 0)
		e.clean(t)
	})
}
