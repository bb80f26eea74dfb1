package points_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

func newAdjuster(db *mongo.Database, l *points.Ledger) *points.Adjuster {
	return points.NewAdjuster(l, db, 12, storagetest.Logger())
}

func mustPropose(t *testing.T, a *points.Adjuster, admin, rider string, amount int64) points.Adjustment {
	t.Helper()
	adj, err := a.Propose(context.Background(), admin, rider, amount, "compensation for a lost report")
	if err != nil {
		t.Fatalf("propose %d for %s: %v", amount, rider, err)
	}
	return adj
}

// countDocs counts what a collection holds (tests only: a scan).
func countDocs(t *testing.T, db *mongo.Database, coll string) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAdjustProposeInvalid(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	a := newAdjuster(db, newLedger(db))
	long := strings.Repeat("长", points.MaxAdjustReason+1)
	for _, tc := range []struct {
		name         string
		admin, rider string
		amount       int64
		reason       string
	}{
		{"zero", "adm1", "ann", 0, "why"},
		{"huge", "adm1", "ann", points.MaxAdjustment + 1, "why"},
		{"huge negative", "adm1", "ann", -points.MaxAdjustment - 1, "why"},
		{"min int", "adm1", "ann", -1 << 63, "why"},
		{"no reason", "adm1", "ann", 5, "  "},
		{"long reason", "adm1", "ann", 5, long},
		{"no rider", "adm1", "", 5, "why"},
		{"slash rider", "adm1", "a/b", 5, "why"},
		{"no admin", "", "ann", 5, "why"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.Propose(ctx, tc.admin, tc.rider, tc.amount, tc.reason); !errors.Is(err, points.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
	if n := countDocs(t, db, "points_adjustments"); n != 0 {
		t.Errorf("%d proposals stored, want none", n)
	}
	if _, err := a.Propose(ctx, "adm1", "ann", points.MaxAdjustment, strings.Repeat("长", points.MaxAdjustReason)); err != nil {
		t.Errorf("the largest adjustment with the longest reason: %v", err)
	}
}

func TestAdjustApproveByProposerRefused(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	a := newAdjuster(db, l)
	adj := mustPropose(t, a, "adm1", "ann", 50)
	if _, err := a.Approve(ctx, "adm1", adj.ID); !errors.Is(err, points.ErrSelfApproval) {
		t.Fatalf("approved by its proposer: %v, want ErrSelfApproval", err)
	}
	wantBalance(t, l, points.Rider("ann"), 0, 0)
	if n := countDocs(t, db, points.MovementsCollection); n != 0 {
		t.Errorf("%d movements stored, want none", n)
	}
	got, err := a.Get(ctx, adj.ID)
	if err != nil || got.Status != points.AdjustPending {
		t.Errorf("after a refused self-approval: %q %v, want pending", got.Status, err)
	}
	// Another admin may.
	got, err = a.Approve(ctx, "adm2", adj.ID)
	if err != nil || got.Status != points.AdjustApproved || got.DecidedBy != "adm2" {
		t.Fatalf("approved by another admin: %+v %v", got, err)
	}
	wantBalance(t, l, points.Rider("ann"), 50, 0)
	wantBalance(t, l, points.Adjustments, -50, 0)
	// The points are a lot that expires like an award.
	st, _ := l.Statement(ctx, points.Rider("ann"), 0, 10)
	if len(st) != 1 || st[0].Kind != points.KindAdjustment || st[0].Expires.IsZero() || st[0].Earned != 0 {
		t.Errorf("statement %+v", st)
	}
	wantClean(t, l)
}

func TestAdjustApproveRace(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	a := newAdjuster(db, l)
	adj := mustPropose(t, a, "adm0", "ann", 40)

	// Approving twice posts once.
	if _, err := a.Approve(ctx, "adm1", adj.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Approve(ctx, "adm1", adj.ID); err != nil || got.Status != points.AdjustApproved {
		t.Fatalf("approve again: %+v %v", got, err)
	}
	wantBalance(t, l, points.Rider("ann"), 40, 0)

	// Eight admins racing, on two instances (two ledgers and adjusters on
	// one database), to approve or reject one proposal: one decision, at
	// most one post.
	adj2 := mustPropose(t, a, "adm0", "bob", 30)
	l2 := newLedger(db)
	a2 := newAdjuster(db, l2)
	var approved, rejected, decided atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			<-start
			inst := a
			if i%2 == 1 {
				inst = a2
			}
			admin := fmt.Sprintf("adm%d", i+1)
			var err error
			if i%4 == 3 {
				_, err = inst.Reject(ctx, admin, adj2.ID, "not justified")
				if err == nil {
					rejected.Add(1)
				}
			} else {
				_, err = inst.Approve(ctx, admin, adj2.ID)
				if err == nil {
					approved.Add(1)
				}
			}
			switch {
			case err == nil:
			case errors.Is(err, points.ErrAdjustmentDecided):
				decided.Add(1)
			default:
				t.Errorf("%s: %v", admin, err)
			}
		})
	}
	close(start)
	wg.Wait()
	got, err := a.Get(ctx, adj2.ID)
	if err != nil {
		t.Fatal(err)
	}
	bob := mustBalance(t, l, points.Rider("bob"))
	switch got.Status {
	case points.AdjustApproved:
		if bob.Balance != 30 || rejected.Load() != 0 {
			t.Errorf("approved: bob has %d, %d rejections succeeded", bob.Balance, rejected.Load())
		}
	case points.AdjustRejected:
		if bob.Balance != 0 || approved.Load() != 0 || rejected.Load() != 1 {
			t.Errorf("rejected: bob has %d, %d approvals and %d rejections succeeded", bob.Balance, approved.Load(), rejected.Load())
		}
	default:
		t.Errorf("status %q after the race", got.Status)
	}
	if n := countDocs(t, db, "points_adjust_decisions"); n != 2 {
		t.Errorf("%d decisions stored, want 2 (one per proposal)", n)
	}
	if n, err := db.Collection(points.MovementsCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: points.AdjustKey(adj2.ID)}}); err != nil || n > 1 {
		t.Errorf("%d movements for the adjustment: %v", n, err)
	}
	wantClean(t, l)
}

func TestAdjustCrashBetweenApprovalAndPost(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	a := newAdjuster(db, l)
	adj := mustPropose(t, a, "adm1", "ann", 25)
	adj2 := mustPropose(t, a, "adm1", "bob", 15)
	// What a crash leaves after the approval record and before the post:
	// the decision, and nothing in the ledger.
	now := time.Now().UTC()
	for _, id := range []string{adj.ID, adj2.ID} {
		if _, err := db.Collection("points_adjust_decisions").InsertOne(ctx, bson.D{
			{Key: "_id", Value: id}, {Key: "approved", Value: true}, {Key: "by", Value: "adm2"}, {Key: "at", Value: now}}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := a.Get(ctx, adj.ID); got.Status != points.AdjustStalled {
		t.Errorf("status %q, want stalled", got.Status)
	}
	// Approving again completes it, once.
	for range 2 {
		if got, err := a.Approve(ctx, "adm3", adj.ID); err != nil || got.Status != points.AdjustApproved {
			t.Fatalf("re-approve: %+v %v", got, err)
		}
	}
	wantBalance(t, l, points.Rider("ann"), 25, 0)
	// The repair pass completes the other, once.
	for i, want := range []int{1, 0} {
		n, err := a.Repair(ctx, 0)
		if err != nil || n != want {
			t.Errorf("repair %d: %d posted, %v; want %d", i+1, n, err, want)
		}
	}
	wantBalance(t, l, points.Rider("bob"), 15, 0)
	// The proposer cannot finish it either.
	if _, err := a.Approve(ctx, "adm1", adj.ID); !errors.Is(err, points.ErrSelfApproval) {
		t.Errorf("proposer re-approving: %v", err)
	}
	wantClean(t, l)
}

func TestAdjustNegativeAndReject(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	a := newAdjuster(db, l)
	mustPost(t, l, award("a1", "ann", 20))

	// A deduction larger than the balance is refused and stays pending.
	big := mustPropose(t, a, "adm1", "ann", -30)
	if _, err := a.Approve(ctx, "adm2", big.ID); !errors.Is(err, points.ErrInsufficient) {
		t.Fatalf("deduct 30 of 20: %v, want ErrInsufficient", err)
	}
	if got, _ := a.Get(ctx, big.ID); got.Status != points.AdjustPending {
		t.Errorf("refused deduction is %q, want pending", got.Status)
	}
	wantBalance(t, l, points.Rider("ann"), 20, 0)

	small := mustPropose(t, a, "adm1", "ann", -8)
	if got, err := a.Approve(ctx, "adm2", small.ID); err != nil || got.Status != points.AdjustApproved {
		t.Fatalf("deduct 8: %+v %v", got, err)
	}
	wantBalance(t, l, points.Rider("ann"), 12, 0)
	wantBalance(t, l, points.Adjustments, 8, 0)

	// Rejection needs a reason; the proposer may withdraw; decided once.
	if _, err := a.Reject(ctx, "adm2", big.ID, " "); !errors.Is(err, points.ErrInvalid) {
		t.Errorf("reject without a reason: %v", err)
	}
	got, err := a.Reject(ctx, "adm1", big.ID, "withdrawn: wrong rider")
	if err != nil || got.Status != points.AdjustRejected || got.DecideNote != "withdrawn: wrong rider" {
		t.Fatalf("reject: %+v %v", got, err)
	}
	if _, err := a.Approve(ctx, "adm2", big.ID); !errors.Is(err, points.ErrAdjustmentDecided) {
		t.Errorf("approve a rejected one: %v", err)
	}
	if _, err := a.Reject(ctx, "adm2", small.ID, "too late"); !errors.Is(err, points.ErrAdjustmentDecided) {
		t.Errorf("reject an approved one: %v", err)
	}
	if _, err := a.Approve(ctx, "adm2", "adj-99999999"); !errors.Is(err, points.ErrNoAdjustment) {
		t.Errorf("approve an unknown one: %v", err)
	}

	list, err := a.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, x := range list {
		got2 = append(got2, x.ID+" "+x.Status)
	}
	if want := "adj-00000002 approved,adj-00000001 rejected"; strings.Join(got2, ",") != want {
		t.Errorf("list %q, want %q", got2, want)
	}
	wantClean(t, l)
}

func TestAdjustProposeRace(t *testing.T) {
	// Admins proposing at once each get their own number.
	db := newDB(t)
	a := newAdjuster(db, newLedger(db))
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Go(func() {
			adj, err := a.Propose(context.Background(), "adm1", fmt.Sprintf("r%d", i), 1, "why")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = adj.ID
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
	if list, _ := a.List(context.Background(), 0); len(list) != 10 || list[0].ID != "adj-00000010" {
		t.Errorf("list has %d, first %v", len(list), list)
	}
}
