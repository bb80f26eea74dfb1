package council

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

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// ledger stands in for points: like Earner.Award it grants once per key
// (a second call with the same key grants nothing), and it can be made to
// fail.
type ledger struct {
	mu     sync.Mutex
	grants map[string]string // key → "user:points"
	calls  int
	fail   atomic.Bool
}

func (l *ledger) Award(_ context.Context, key, userID string, points int64, _ string) error {
	if l.fail.Load() {
		return errors.New("points store unavailable")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.grants == nil {
		l.grants = map[string]string{}
	}
	if _, ok := l.grants[key]; !ok {
		l.grants[key] = fmt.Sprintf("%s:%d", userID, points)
	}
	return nil
}

func newPool(t *testing.T, db *mongo.Database, m *Members) (*Feedback, *ledger) {
	t.Helper()
	l := &ledger{}
	return NewFeedback(db, m, l, 50, storagetest.Logger()), l
}

func mustPost(t *testing.T, f *Feedback, author, text string) Item {
	t.Helper()
	it, err := f.Post(context.Background(), NewItem{Station: "stA", Author: author, Category: CategoryFacilities, Text: text})
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return it
}

func count(t *testing.T, c *mongo.Collection) int64 {
	t.Helper()
	n, err := c.CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	f, _ := newPool(t, db, m)
	for _, c := range []struct {
		name  string
		in    NewItem
		field string
		err   error
	}{
		{"empty text", NewItem{Station: "stA", Author: "r1", Category: CategorySafety, Text: "  \n "}, "text", nil},
		{"5,000 characters", NewItem{Station: "stA", Author: "r1", Category: CategorySafety, Text: strings.Repeat("灯", 5000)}, "text", nil},
		{"unknown category", NewItem{Station: "stA", Author: "r1", Category: "weather", Text: "太热"}, "category", nil},
		{"not a member", NewItem{Station: "stB", Author: "r1", Category: CategorySafety, Text: "门口积水"}, "", ErrNotMember},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.Post(ctx, c.in)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Errorf("err = %v, want %v", err, c.err)
				}
			} else if ve := (*ValidationError)(nil); !errors.As(err, &ve) || ve.Field != c.field {
				t.Errorf("err = %v, want a ValidationError on %s", err, c.field)
			}
			if err != nil && (count(t, f.items) != 0 || count(t, f.list) != 0) {
				t.Error("a refused item was written")
			}
		})
	}
	it, err := f.Post(ctx, NewItem{Station: "stA", Author: "r1", Category: CategoryRights, Text: strings.Repeat("长", MaxFeedbackText), PhotoKey: "council/p1.jpg"})
	if err != nil || it.Status != StatusOpen || it.PhotoKey != "council/p1.jpg" {
		t.Errorf("post of 2,000 characters = %+v, %v; want it open", it.Status, err)
	}
}

// 100 members each support the item twice, at once, through two instances:
// 100 supports, 100 numbered, and every second try told it counted already.
func TestConcurrentSupports(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "author")
	for i := range 100 {
		mustJoin(t, m, "stA", fmt.Sprintf("m%d", i))
	}
	f1, _ := newPool(t, db, m)
	f2, _ := newPool(t, db, m)
	it := mustPost(t, f1, "author", "充电桩坏了两个")
	var ok, again atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			f := []*Feedback{f1, f2}[i%2]
			_, err := f.Support(ctx, it.ID, fmt.Sprintf("m%d", i%100))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrAlreadySupported):
				again.Add(1)
			default:
				t.Errorf("support: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 || again.Load() != 100 {
		t.Errorf("supports accepted %d, refused as repeats %d; want 100 and 100", ok.Load(), again.Load())
	}
	if n, tl := count(t, f1.supports), count(t, f1.tally); n != 100 || tl != 100 {
		t.Errorf("stored supports %d, tally entries %d; want 100 and 100", n, tl)
	}
	got, err := f2.Get(ctx, it.ID)
	if err != nil || got.Supports != 100 {
		t.Errorf("item supports = %d, %v; want 100", got.Supports, err)
	}
	if s, _ := f1.Supported(ctx, it.ID, "m7"); !s {
		t.Error("Supported(m7) = false after m7 supported")
	}
}

func TestSupportRefusals(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	mustJoin(t, m, "stA", "r2")
	mustJoin(t, m, "stB", "outsider")
	f, _ := newPool(t, db, m)
	it := mustPost(t, f, "r1", "饮水机没水")
	if _, err := f.Support(ctx, it.ID, "r1"); !errors.Is(err, ErrOwnItem) {
		t.Errorf("own item: err = %v, want ErrOwnItem", err)
	}
	if _, err := f.Support(ctx, it.ID, "outsider"); !errors.Is(err, ErrNotMember) {
		t.Errorf("another station's member: err = %v, want ErrNotMember", err)
	}
	if _, err := f.Support(ctx, "nope", "r2"); !errors.Is(err, ErrFeedbackNotFound) {
		t.Errorf("unknown item: err = %v, want ErrFeedbackNotFound", err)
	}
	if count(t, f.supports) != 0 || count(t, f.tally) != 0 {
		t.Error("a refused support was written")
	}
	if n, err := f.Support(ctx, it.ID, "r2"); err != nil || n != 1 {
		t.Errorf("support = %d, %v; want 1", n, err)
	}
	for _, step := range []struct {
		to   FeedbackStatus
		text string
	}{{StatusUnderReview, ""}, {StatusAnswered, "已报修"}} {
		if _, err := f.Transition(ctx, it.ID, step.to, "admin", step.text); err != nil {
			t.Fatal(err)
		}
	}
	mustJoin(t, m, "stA", "r3")
	if _, err := f.Support(ctx, it.ID, "r3"); !errors.Is(err, ErrFeedbackClosed) {
		t.Errorf("support of an answered item: err = %v, want ErrFeedbackClosed", err)
	}
}

func TestFeedbackStateMachine(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	f, l := newPool(t, db, m)
	it := mustPost(t, f, "r1", "夜里门口没有灯")
	var te *FeedbackTransitionError
	if _, err := f.Transition(ctx, it.ID, StatusAdopted, "admin", ""); !errors.As(err, &te) || te.From != StatusOpen {
		t.Errorf("open → adopted: err = %v, want a FeedbackTransitionError from open", err)
	}
	if _, err := f.Transition(ctx, it.ID, "closed", "admin", ""); err == nil {
		t.Error("an unknown status was accepted")
	}
	if _, err := f.Transition(ctx, it.ID, StatusUnderReview, "admin", ""); err != nil {
		t.Fatal(err)
	}
	var ve *ValidationError
	if _, err := f.Transition(ctx, it.ID, StatusDeclined, "admin", " "); !errors.As(err, &ve) || ve.Field != "reason" {
		t.Errorf("decline without a reason: err = %v, want a ValidationError on reason", err)
	}
	got, err := f.Transition(ctx, it.ID, StatusDeclined, "admin", "灯归物业管，已转交")
	if err != nil || got.Status != StatusDeclined || got.Reason != "灯归物业管，已转交" {
		t.Fatalf("decline = %+v, %v", got, err)
	}
	if _, err := f.Transition(ctx, it.ID, StatusAdopted, "admin", ""); !errors.As(err, &te) || te.From != StatusDeclined {
		t.Errorf("declined → adopted: err = %v, want a FeedbackTransitionError from declined", err)
	}
	tl, err := f.Timeline(ctx, it.ID)
	if err != nil || len(tl) != 2 || tl[0].To != StatusUnderReview || tl[1].To != StatusDeclined || tl[1].Text == "" {
		t.Errorf("timeline = %+v, %v; want under_review then declined with the reason", tl, err)
	}
	if len(l.grants) != 0 {
		t.Errorf("a declined item earned points: %v", l.grants)
	}
	now := time.Now()
	if w := got.Waiting(now); w != 0 {
		t.Errorf("a decided item waits %v, want 0", w)
	}
	open := mustPost(t, f, "r1", "微波炉坏了")
	if w := open.Waiting(open.CreatedAt.Add(90 * time.Minute)); w != 90*time.Minute {
		t.Errorf("open item waited %v, want 1h30m", w)
	}
}

// Ten admins adopt the same item at once through two instances: one wins,
// and the author is awarded once, under the item's key.
func TestAdoptionAwardsOnce(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	f1, l := newPool(t, db, m)
	f2 := NewFeedback(db, m, l, 50, storagetest.Logger())
	it := mustPost(t, f1, "r1", "希望增加夜间开放")
	if _, err := f1.Transition(ctx, it.ID, StatusUnderReview, "admin", ""); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := []*Feedback{f1, f2}[i%2].Transition(ctx, it.ID, StatusAdopted, "admin", "纳入下月议题")
			var te *FeedbackTransitionError
			switch {
			case err == nil:
				won.Add(1)
			case !errors.As(err, &te):
				t.Errorf("adopt: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d adoptions succeeded, want 1", won.Load())
	}
	if want := map[string]string{AwardKey(it.ID): "r1:50"}; len(l.grants) != 1 || l.grants[AwardKey(it.ID)] != want[AwardKey(it.ID)] {
		t.Errorf("grants = %v, want %v", l.grants, want)
	}
	if l.calls != 1 {
		t.Errorf("award asked %d times, want once", l.calls)
	}
	// A losing adopter may have written its intent after the winner
	// cleared its own (the intent comes before the decision): the repair
	// then asks for the award again under the same key, which grants
	// nothing new, and clears the intent.
	if _, err := f1.RepairAwards(ctx); err != nil || count(t, f1.pending) != 0 {
		t.Errorf("RepairAwards after a granted adoption: %v, %d intents left; want none", err, count(t, f1.pending))
	}
	if len(l.grants) != 1 {
		t.Errorf("grants after the repair = %v, want the one", l.grants)
	}
}

// The award fails: the adoption stands and says so; concurrent repairs
// then grant it once.
func TestAdoptionAwardRepair(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	f, l := newPool(t, db, m)
	it := mustPost(t, f, "r1", "建议设置母婴角")
	if _, err := f.Transition(ctx, it.ID, StatusUnderReview, "admin", ""); err != nil {
		t.Fatal(err)
	}
	l.fail.Store(true)
	got, err := f.Transition(ctx, it.ID, StatusAdopted, "admin", "")
	if err != nil || got.Status != StatusAdopted || !got.AwardPending {
		t.Fatalf("adopt with points down = %+v, %v; want adopted with the award pending", got, err)
	}
	if n, err := f.RepairAwards(ctx); err == nil || n != 0 {
		t.Errorf("RepairAwards with points down = %d, %v; want an error and nothing granted", n, err)
	}
	l.fail.Store(false)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := f.RepairAwards(ctx); err != nil {
				t.Errorf("repair: %v", err)
			}
		})
	}
	wg.Wait()
	if len(l.grants) != 1 || l.grants[AwardKey(it.ID)] != "r1:50" {
		t.Errorf("grants = %v, want r1:50 once under %s", l.grants, AwardKey(it.ID))
	}
	if got, _ := f.Get(ctx, it.ID); got.AwardPending || count(t, f.pending) != 0 {
		t.Errorf("after repair: award pending %v, pending records %d; want none", got.AwardPending, count(t, f.pending))
	}
}

func TestListByStation(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	mustJoin(t, m, "stA", "r1")
	f, _ := newPool(t, db, m)
	var ids []string
	for i := range 5 {
		ids = append(ids, mustPost(t, f, "r1", fmt.Sprintf("第%d条", i)).ID)
		if i == 2 {
			// A writer that stopped after listing its item: readers skip it.
			if _, err := storage.AppendOnce(ctx, f.list, &f.hints, "stA", "ghost", func(id string, _ int) any {
				return listEntry{ID: id, Src: "ghost", At: time.Now()}
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []string
	before := 0
	for page := 0; ; page++ {
		items, next, err := f.List(ctx, "stA", before, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, it.ID)
		}
		if next == 0 || page > 5 {
			break
		}
		before = next
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want newest first %v", got, want)
	}
	if items, _, err := f.List(ctx, "stB", 0, 10); err != nil || len(items) != 0 {
		t.Errorf("another station's list = %v, %v; want empty", items, err)
	}
}
