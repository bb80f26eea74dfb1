package points

// Internal tests: they stop an Earner between two writes through its
// stopAt hook, as a kill would.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// earnDB returns a fresh embedded database with the points indexes.
func earnDB(t testing.TB) *mongo.Database {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, Indexes()); err != nil {
		t.Fatal(err)
	}
	return db
}

func earnSetup(t testing.TB, rules Rules) (*mongo.Database, *Ledger, *Earner) {
	t.Helper()
	db := earnDB(t)
	l := NewLedger(db, storagetest.Logger())
	return db, l, NewEarner(l, db, rules, 12, storagetest.Logger())
}

// earnT0 is a fixed moment: 2026-03-15 10:00 in Zone.
var earnT0 = time.Date(2026, 3, 15, 2, 0, 0, 0, time.UTC)

// earnHistory builds the events of one report from (action, status,
// severity) steps, numbered from 1 as the report's timeline is.
type earnStep struct {
	act reports.Action
	st  reports.Status
	sev int
	dup bool
}

func earnHistory(report, rider string, steps ...earnStep) []reports.Event {
	out := make([]reports.Event, len(steps))
	for i, s := range steps {
		out[i] = reports.Event{ID: fmt.Sprintf("%s/%06d", report, i+1), Action: s.act, ReportID: report, ReportSeq: i + 1,
			ReporterID: rider, Category: "road_damage", Status: s.st, Severity: s.sev, Duplicate: s.dup, Cell: "c1",
			At: earnT0.Add(time.Duration(i) * time.Minute)}
	}
	return out
}

var (
	stSubmit = earnStep{reports.ActSubmit, reports.StatusSubmitted, 0, false}
	stAck    = earnStep{reports.ActAcknowledge, reports.StatusAcknowledged, 0, false}
	stReject = earnStep{reports.ActReject, reports.StatusRejected, 0, false}
)

func stVerify(sev int) earnStep {
	return earnStep{reports.ActVerify, reports.StatusVerified, sev, false}
}
func stResolve(sev int) earnStep {
	return earnStep{reports.ActResolve, reports.StatusResolved, sev, false}
}
func stReopen(sev int) earnStep {
	return earnStep{reports.ActReopen, reports.StatusAcknowledged, sev, false}
}
func stRejectAfter(sev int) earnStep {
	return earnStep{reports.ActReject, reports.StatusRejected, sev, false}
}

func earnPublish(t testing.TB, e *Earner, evs ...reports.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := e.Publish(context.Background(), ev); err != nil {
			t.Fatalf("publish %s: %v", ev.ID, err)
		}
	}
}

func earnBalance(t testing.TB, l *Ledger, rider string) int64 {
	t.Helper()
	b, err := l.Balance(context.Background(), Rider(rider))
	if err != nil {
		t.Fatal(err)
	}
	return b.Balance
}

func earnWantBalance(t testing.TB, l *Ledger, rider string, want int64) {
	t.Helper()
	if got := earnBalance(t, l, rider); got != want {
		t.Errorf("balance of %s = %d, want %d", rider, got, want)
	}
}

func earnCount(t testing.TB, db *mongo.Database, coll string, filter bson.D) int64 {
	t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// earnMovements lists the kinds and amounts of the movements of a report,
// in key order, e.g. "award 10, clawback 15".
func earnMovements(t testing.TB, db *mongo.Database, report string) string {
	t.Helper()
	cur, err := db.Collection(movementsCollection).Find(context.Background(), bson.D{{Key: "ref", Value: "report:" + report}})
	if err != nil {
		t.Fatal(err)
	}
	var ms []Movement
	if err := cur.All(context.Background(), &ms); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Movement{}
	var keys []string
	for _, m := range ms {
		byKey[m.Key] = m
		keys = append(keys, m.Key)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", byKey[k].Kind, byKey[k].Amount))
	}
	return strings.Join(out, ", ")
}

func earnClean(t testing.TB, l *Ledger) {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Anomalies {
		t.Errorf("ledger anomaly: %s", a)
	}
}

func TestEarnVerifiedOnce(t *testing.T) {
	t.Run("delivered twice", func(t *testing.T) {
		db, l, e := earnSetup(t, DefaultRules())
		evs := earnHistory("R1", "u1", stSubmit, stVerify(2))
		earnPublish(t, e, evs...)
		earnPublish(t, e, evs[1], evs[1])
		earnWantBalance(t, l, "u1", 10)
		if got := earnMovements(t, db, "R1"); got != "award 10" {
			t.Errorf("movements %q, want one award of 10", got)
		}
		// The lot expires at the end of the month twelve months after the event.
		var m Movement
		if err := db.Collection(movementsCollection).FindOne(context.Background(), bson.D{{Key: "ref", Value: "report:R1"}}).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if want := LotExpiry(earnT0, 12); !m.Expires.Equal(want) {
			t.Errorf("lot expires %v, want %v", m.Expires, want)
		}
		if len(m.Tags) != 1 || m.Tags[0] != "cell:c1" {
			t.Errorf("tags %v, want [cell:c1]", m.Tags)
		}
		earnClean(t, l)
	})
	t.Run("two instances at once", func(t *testing.T) {
		db, l, _ := earnSetup(t, DefaultRules())
		es := []*Earner{NewEarner(l, db, DefaultRules(), 12, storagetest.Logger()),
			NewEarner(NewLedger(db, storagetest.Logger()), db, DefaultRules(), 12, storagetest.Logger())}
		es[1].TagsFor = func(cell string) []string { return []string{"district:d1"} }
		evs := earnHistory("R1", "u1", stSubmit, stAck, stVerify(3))
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range 16 {
			wg.Go(func() {
				for _, ev := range evs {
					if err := es[i%2].Publish(context.Background(), ev); err != nil {
						failed.Add(1)
						t.Errorf("publish: %v", err)
					}
				}
			})
		}
		wg.Wait()
		earnWantBalance(t, l, "u1", 20)
		if got := earnMovements(t, db, "R1"); got != "award 20" {
			t.Errorf("movements %q, want one award of 20", got)
		}
		earnClean(t, l)
	})
}

func TestEarnReverify(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	evs := earnHistory("R1", "u1", stSubmit, stVerify(2), stResolve(2), stReopen(2), stVerify(3), stResolve(3), stReopen(3), stVerify(1))
	earnPublish(t, e, evs[:4]...)
	earnWantBalance(t, l, "u1", 10) // a reopen alone takes nothing back
	earnPublish(t, e, evs[4])
	earnWantBalance(t, l, "u1", 20) // the difference, 10
	earnPublish(t, e, evs[5:]...)
	earnWantBalance(t, l, "u1", DefaultRules().Points("road_damage", 1))
	if got, want := earnMovements(t, db, "R1"), "award 10, award 10, clawback 15"; got != want {
		t.Errorf("movements %q, want %q", got, want)
	}
	earnClean(t, l)
}

func TestEarnReopenThenReject(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	evs := earnHistory("R1", "u1", stSubmit, stVerify(3), stResolve(3), stReopen(3), stRejectAfter(3))
	earnPublish(t, e, evs[:3]...)
	earnWantBalance(t, l, "u1", 20)
	if _, err := l.Post(context.Background(), Transfer{Key: "spend:1", Kind: KindSpend, Debit: Rider("u1"), Credit: Pool("s1"), Amount: 15}); err != nil {
		t.Fatal(err)
	}
	earnPublish(t, e, evs[3:]...)
	earnWantBalance(t, l, "u1", -15) // a debt
	if got, want := earnMovements(t, db, "R1"), "award 20, clawback 20"; got != want {
		t.Errorf("movements %q, want %q", got, want)
	}
	_, err := l.Post(context.Background(), Transfer{Key: "spend:2", Kind: KindSpend, Debit: Rider("u1"), Credit: Pool("s1"), Amount: 1})
	if !errors.Is(err, ErrInsufficient) {
		t.Errorf("spend while in debt: %v, want ErrInsufficient", err)
	}
	earnClean(t, l)
}

func TestEarnRejectedEarnsNothing(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	earnPublish(t, e, earnHistory("R1", "u1", stSubmit, stAck, stReject)...)
	earnWantBalance(t, l, "u1", 0)
	if n := earnCount(t, db, movementsCollection, nil); n != 0 {
		t.Errorf("%d movements, want none", n)
	}
}

func TestEarnDuplicate(t *testing.T) {
	dup := func(act reports.Action, st reports.Status, sev int, linked bool) earnStep {
		return earnStep{act, st, sev, linked}
	}
	t.Run("confirm then unlink", func(t *testing.T) {
		db, l, e := earnSetup(t, DefaultRules())
		evs := earnHistory("D1", "u2",
			dup(reports.ActSubmit, reports.StatusSubmitted, 0, true),
			dup(reports.ActConfirmDuplicate, reports.StatusSubmitted, 0, true),
			dup(reports.ActReject, reports.StatusRejected, 0, true), // closed as a duplicate
		)
		earnPublish(t, e, evs[:2]...)
		earnWantBalance(t, l, "u2", 1)
		earnPublish(t, e, evs...)
		earnWantBalance(t, l, "u2", 1) // closing a confirmed duplicate keeps the corroboration
		if got := earnMovements(t, db, "D1"); got != "award 1" {
			t.Errorf("movements %q, want one award of 1", got)
		}

		evs = earnHistory("D2", "u3",
			dup(reports.ActSubmit, reports.StatusSubmitted, 0, true),
			dup(reports.ActConfirmDuplicate, reports.StatusSubmitted, 0, true),
			dup(reports.ActUnlinkDuplicate, reports.StatusSubmitted, 0, false),
			dup(reports.ActVerify, reports.StatusVerified, 2, false), // now a report of its own
		)
		earnPublish(t, e, evs[:3]...)
		earnWantBalance(t, l, "u3", 0)
		earnPublish(t, e, evs[3])
		earnWantBalance(t, l, "u3", 10)
		if got, want := earnMovements(t, db, "D2"), "award 1, clawback 1, award 10"; got != want {
			t.Errorf("movements %q, want %q", got, want)
		}
	})
	t.Run("verified duplicate earns corroboration only", func(t *testing.T) {
		_, l, e := earnSetup(t, DefaultRules())
		evs := earnHistory("D1", "u2",
			dup(reports.ActSubmit, reports.StatusSubmitted, 0, true),
			dup(reports.ActVerify, reports.StatusVerified, 2, true),
			dup(reports.ActConfirmDuplicate, reports.StatusVerified, 2, true),
		)
		earnPublish(t, e, evs...)
		earnWantBalance(t, l, "u2", 1)
	})
	t.Run("confirmation arriving after newer events", func(t *testing.T) {
		_, l, e := earnSetup(t, DefaultRules())
		evs := earnHistory("D1", "u2",
			dup(reports.ActSubmit, reports.StatusSubmitted, 0, true),
			dup(reports.ActConfirmDuplicate, reports.StatusSubmitted, 0, true),
			dup(reports.ActAcknowledge, reports.StatusAcknowledged, 0, true),
		)
		earnPublish(t, e, evs[0], evs[2], evs[1])
		earnWantBalance(t, l, "u2", 1)
		earnPublish(t, e, evs...)
		earnWantBalance(t, l, "u2", 1)

		// Unlinked in between: the late confirmation no longer counts.
		evs = earnHistory("D2", "u3",
			dup(reports.ActSubmit, reports.StatusSubmitted, 0, true),
			dup(reports.ActConfirmDuplicate, reports.StatusSubmitted, 0, true),
			dup(reports.ActUnlinkDuplicate, reports.StatusSubmitted, 0, false),
		)
		earnPublish(t, e, evs[0], evs[2], evs[1])
		earnWantBalance(t, l, "u3", 0)
	})
}

// snapshot of what the ledger and the earner hold.
func earnSnapshot(t testing.TB, db *mongo.Database, l *Ledger, riders ...string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range riders {
		fmt.Fprintf(&b, "%s=%d ", r, earnBalance(t, l, r))
	}
	for _, c := range []string{entriesCollection, movementsCollection, earnStatesCollection, capsCollection} {
		fmt.Fprintf(&b, "%s=%d ", c, earnCount(t, db, c, nil))
	}
	return b.String()
}

func TestEarnReplayHistory(t *testing.T) {
	histories := map[string][]reports.Event{
		"R1": earnHistory("R1", "u1", stSubmit, stAck, stVerify(2), stResolve(2), stReopen(2), stVerify(3), stResolve(3),
			stReopen(3), stRejectAfter(3), stReopen(3), stVerify(1)),
		"R2": earnHistory("R2", "u1", stSubmit, stVerify(3), stResolve(3), stReopen(3), stRejectAfter(3), stReopen(3)),
		"R3": earnHistory("R3", "u2", stSubmit, stAck, stVerify(2)),
	}
	want := map[string]int64{"u1": 5, "u2": 10}

	db, l, e := earnSetup(t, DefaultRules())
	for _, evs := range histories {
		earnPublish(t, e, evs...)
	}
	for r, w := range want {
		earnWantBalance(t, l, r, w)
	}
	before := earnSnapshot(t, db, l, "u1", "u2")

	var all []reports.Event
	for _, evs := range histories {
		all = append(all, evs...)
	}
	t.Run("in order", func(t *testing.T) {
		earnPublish(t, e, all...)
		if got := earnSnapshot(t, db, l, "u1", "u2"); got != before {
			t.Errorf("after replay: %s\nbefore:        %s", got, before)
		}
	})
	t.Run("shuffled", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		fresh := NewEarner(NewLedger(db, storagetest.Logger()), db, DefaultRules(), 12, storagetest.Logger())
		for range 3 {
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			earnPublish(t, e, all...)
			earnPublish(t, fresh, all...)
		}
		if got := earnSnapshot(t, db, l, "u1", "u2"); got != before {
			t.Errorf("after replay: %s\nbefore:        %s", got, before)
		}
	})
	t.Run("first delivery shuffled", func(t *testing.T) {
		// Out of order the first time: events that must wait for earlier
		// ones are refused and delivered again, as reports does, and the
		// outcome is the same as in order.
		for seed := range uint64(5) {
			_, l, e := earnSetup(t, DefaultRules())
			rng := rand.New(rand.NewPCG(seed, 7))
			pending := append([]reports.Event(nil), all...)
			rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
			for round := 0; len(pending) > 0; round++ {
				if round > len(all) {
					t.Fatalf("seed %d: %d events still refused", seed, len(pending))
				}
				var again []reports.Event
				for _, ev := range pending {
					if err := e.Publish(context.Background(), ev); errors.Is(err, errEarlier) {
						again = append(again, ev)
					} else if err != nil {
						t.Fatal(err)
					}
				}
				pending = again
			}
			for r, w := range want {
				earnWantBalance(t, l, r, w)
			}
		}
	})
}

func TestEarnCrashBetweenClaimAndPost(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	evs := earnHistory("R1", "u1", stSubmit, stVerify(3))
	earnPublish(t, e, evs[0])
	e.stopAt = func(point string) {
		if point == "claimed" {
			runtime.Goexit()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Publish(context.Background(), evs[1])
	}()
	<-done
	// One state: the verification's (a submission, which earns nothing
	// and has nothing older to be ordered against, stores none).
	if n := earnCount(t, db, earnStatesCollection, nil); n != 1 {
		t.Fatalf("%d award states, want 1 (the crash came after the claim)", n)
	}
	earnWantBalance(t, l, "u1", 0) // the movement was not posted

	// A restarted instance gets the event again.
	again := NewEarner(NewLedger(db, storagetest.Logger()), db, DefaultRules(), 12, storagetest.Logger())
	earnPublish(t, again, evs[1], evs[1])
	earnWantBalance(t, l, "u1", 20)
	if got := earnMovements(t, db, "R1"); got != "award 20" {
		t.Errorf("movements %q, want one award of 20", got)
	}
	// An old event mends it just as well: crash again, then deliver the submit.
	e2 := NewEarner(NewLedger(db, storagetest.Logger()), db, DefaultRules(), 12, storagetest.Logger())
	e2.stopAt = e.stopAt
	evs2 := earnHistory("R2", "u1", stSubmit, stVerify(1))
	earnPublish(t, again, evs2[0])
	done = make(chan struct{})
	go func() {
		defer close(done)
		_ = e2.Publish(context.Background(), evs2[1])
	}()
	<-done
	redelivered := evs2[0]
	redelivered.Again = true // as Repair hands it out
	earnPublish(t, again, redelivered)
	earnWantBalance(t, l, "u1", 25)
	earnClean(t, l)
}

func TestAwardCaps(t *testing.T) {
	rules := DefaultRules()
	rules.DailyCap, rules.MonthlyCap = 3, 5
	t.Run("reports racing", func(t *testing.T) {
		db, l, e := earnSetup(t, rules)
		other := NewEarner(NewLedger(db, storagetest.Logger()), db, rules, 12, storagetest.Logger())
		const n = 12
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				evs := earnHistory(fmt.Sprintf("R%d", i), "u1", stSubmit, stVerify(2))
				for _, x := range []*Earner{e, other} { // each delivered on both instances
					for _, ev := range evs {
						if err := x.Publish(context.Background(), ev); err != nil {
							t.Errorf("publish: %v", err)
						}
					}
				}
			})
		}
		wg.Wait()
		earnWantBalance(t, l, "u1", 3*10)
		if got := earnCount(t, db, movementsCollection, nil); got != 3 {
			t.Errorf("%d movements, want 3 (the daily cap)", got)
		}
		// The next day, the month allows two more.
		for i := range 4 {
			evs := earnHistory(fmt.Sprintf("N%d", i), "u1", stSubmit, stVerify(1))
			for j := range evs {
				evs[j].At = evs[j].At.Add(24 * time.Hour)
			}
			earnPublish(t, e, evs...)
		}
		earnWantBalance(t, l, "u1", 3*10+2*5)
		// A capped report stays capped when verified again.
		for i := range n {
			evs := earnHistory(fmt.Sprintf("R%d", i), "u1", stSubmit, stVerify(2), stResolve(2), stReopen(2), stVerify(3))
			earnPublish(t, e, evs...)
		}
		earnWantBalance(t, l, "u1", 3*20+2*5)
		earnClean(t, l)
	})
	t.Run("awards racing", func(t *testing.T) {
		db, l, e := earnSetup(t, rules)
		other := NewEarner(NewLedger(db, storagetest.Logger()), db, rules, 12, storagetest.Logger())
		var ok, capped atomic.Int64
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				x := e
				if i%2 == 1 {
					x = other
				}
				_, err := x.Award(context.Background(), AwardRequest{Key: fmt.Sprintf("council:feedback:%d", i), UserID: "u1", Points: 7})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrCapped):
					capped.Add(1)
				default:
					t.Errorf("award: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 3 || capped.Load() != 7 {
			t.Errorf("%d awarded, %d capped; want 3 and 7", ok.Load(), capped.Load())
		}
		earnWantBalance(t, l, "u1", 21)
		if got := earnCount(t, db, movementsCollection, nil); got != 3 {
			t.Errorf("%d movements, want 3", got)
		}
	})
	t.Run("slot kept across a crash", func(t *testing.T) {
		db, l, e := earnSetup(t, rules)
		e.stopAt = func(point string) {
			if point == "slot" {
				runtime.Goexit()
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = e.Award(context.Background(), AwardRequest{Key: "k1", UserID: "u1", Points: 4})
		}()
		<-done
		e.stopAt = nil
		if _, err := e.Award(context.Background(), AwardRequest{Key: "k1", UserID: "u1", Points: 4}); err != nil {
			t.Fatal(err)
		}
		// One day slot and one month slot, held by k1, and the decision.
		if got := earnCount(t, db, capsCollection, nil); got != 3 {
			t.Errorf("%d cap documents, want 3 (no slot wasted)", got)
		}
		earnWantBalance(t, l, "u1", 4)
	})
}

func TestAwardSameKey(t *testing.T) {
	db, l, e := earnSetup(t, DefaultRules())
	req := AwardRequest{Key: "council:feedback:f1", UserID: "u1", Points: 3, Note: "feedback adopted", Ref: "feedback:f1", Tags: []string{"station:s1"}}
	var wg sync.WaitGroup
	var replayed atomic.Int64
	for range 8 {
		wg.Go(func() {
			res, err := e.Award(context.Background(), req)
			if err != nil {
				t.Errorf("award: %v", err)
				return
			}
			if res.Replayed {
				replayed.Add(1)
			}
		})
	}
	wg.Wait()
	earnWantBalance(t, l, "u1", 3)
	if got := earnCount(t, db, movementsCollection, nil); got != 1 {
		t.Errorf("%d movements, want 1", got)
	}
	if replayed.Load() != 7 {
		t.Errorf("%d calls replayed, want 7", replayed.Load())
	}
	// The same key for another amount is a different fact.
	other := req
	other.Points = 4
	if _, err := e.Award(context.Background(), other); !errors.Is(err, ErrKeyConflict) {
		t.Errorf("same key, other amount: %v, want ErrKeyConflict", err)
	}
	// Later, on another day, the retry posts the same lot.
	e.now = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
	res, err := e.Award(context.Background(), req)
	if err != nil || !res.Replayed {
		t.Errorf("retry a month later: replayed=%v err=%v, want the first result", res.Replayed, err)
	}
	earnWantBalance(t, l, "u1", 3)
}

func TestAwardInvalid(t *testing.T) {
	db, _, e := earnSetup(t, DefaultRules())
	good := AwardRequest{Key: "council:feedback:f1", UserID: "u1", Points: 3}
	for name, mod := range map[string]func(*AwardRequest){
		"empty key":       func(r *AwardRequest) { r.Key = "" },
		"key with slash":  func(r *AwardRequest) { r.Key = "a/b" },
		"long key":        func(r *AwardRequest) { r.Key = strings.Repeat("k", 201) },
		"no rider":        func(r *AwardRequest) { r.UserID = "" },
		"rider slash":     func(r *AwardRequest) { r.UserID = "u/1" },
		"zero":            func(r *AwardRequest) { r.Points = 0 },
		"negative":        func(r *AwardRequest) { r.Points = -5 },
		"too many":        func(r *AwardRequest) { r.Points = MaxAward + 1 },
		"overflowing":     func(r *AwardRequest) { r.Points = 1<<63 - 1 },
		"long note":       func(r *AwardRequest) { r.Note = strings.Repeat("注", 501) },
		"invalid utf8":    func(r *AwardRequest) { r.Key = "k\xff" },
		"long ref":        func(r *AwardRequest) { r.Ref = strings.Repeat("r", 201) },
		"negative, again": func(r *AwardRequest) { r.Points = -1 << 63 },
	} {
		t.Run(name, func(t *testing.T) {
			req := good
			mod(&req)
			if _, err := e.Award(context.Background(), req); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
	for _, c := range []string{grantsCollection, capsCollection, movementsCollection, entriesCollection} {
		if n := earnCount(t, db, c, nil); n != 0 {
			t.Errorf("%s holds %d documents after refused awards, want none", c, n)
		}
	}
}

func TestRulesViewAndTemplate(t *testing.T) {
	r := DefaultRules()
	r.Categories = map[string]map[int]int64{"road_damage": {3: 30}}
	v := earnRulesView(r)
	if v.Default["2"] != 10 || v.Categories["road_damage"]["3"] != 30 || v.Corroboration != 1 || v.MeToo != 1 || v.DailyCap != DefaultDailyCap {
		t.Errorf("rules view %+v", v)
	}
	s := &Service{Cfg: Config{}}
	if got := s.earningRules(); got.Points("x", 3) != 20 {
		t.Errorf("rules of a service without an earner: %+v, want the defaults", got)
	}
	// The page template parses, and names only messages that earnMessages adds.
	_, err := template.New("x").Funcs(template.FuncMap{"t": func(string, ...any) string { return "" },
		"asset": func(string) string { return "" }, "when": func(time.Time) string { return "" }}).ParseFS(earnTemplates, "templates/earn_rules.html")
	if err != nil {
		t.Fatal(err)
	}
	b, err := earnTemplates.ReadFile("templates/earn_rules.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\bt "([a-z0-9_.]+)"`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := earnMessages[m[1]]; !ok {
			t.Errorf("the template uses message %q, which earnMessages lacks", m[1])
		}
	}
}
