package reports_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/reports"
)

// loaded builds an instance of the service on f's stores with its model of
// the open reports built (and following feed, when not nil), as the app
// does.
func loaded(t *testing.T, f *fixture, feed *reports.Feed, consumers []reports.Consumer) *reports.Service {
	t.Helper()
	svc := f.serviceWith(consumers)
	if err := svc.LoadOpen(context.Background(), feed); err != nil {
		t.Fatal(err)
	}
	if err := svc.OpenReady(); err != nil {
		t.Fatalf("OpenReady after LoadOpen: %v", err)
	}
	return svc
}

// queueKey is what two answers of the queue must agree on: the ids in
// order, the counts, and the state of each listed report.
func queueKey(q reports.Queue) string {
	s := fmt.Sprint(q.Counts)
	for _, r := range q.Reports {
		s += fmt.Sprintf(" %s/%d/%s/%s/%s", r.ID, r.Seq, r.Status, r.Cell, r.OfficerID)
	}
	return s
}

// The model answers the queue as the open_reports collection does, after a
// mix of submissions and actions, for every filter; and a new instance
// loading from the collection answers the same.
func TestOpenModelAgreesWithCollection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc = loaded(t, f, nil, []reports.Consumer{{Name: "recorder", Events: f.events}})
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	admin := reports.Actor{ID: "admin", Role: reports.RoleAdmin}
	east := [2]float64{28.195, 112.985}
	var ids []string
	for i := range 12 {
		where := inWest
		if i%3 == 2 {
			where = east
		}
		// 200 m apart: no duplicates but the ones asked for below.
		where[0] += float64(i) * 200 / 111_320.0
		in := f.submission(fmt.Sprintf("k%d", i), where)
		if i%4 == 1 {
			in.Category = "sanitation"
		}
		ids = append(ids, f.mustSubmit(fmt.Sprintf("rider%d", i%3), in).ID)
	}
	steps := []struct {
		id int
		in reports.ActionInput
	}{
		{0, reports.ActionInput{Action: reports.ActAcknowledge}},
		{1, reports.ActionInput{Action: reports.ActVerify, Severity: 2}},
		{1, reports.ActionInput{Action: reports.ActStart}},
		{3, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}},
		{4, reports.ActionInput{Action: reports.ActVerify, Severity: 1}},
		{4, reports.ActionInput{Action: reports.ActResolve}},
		{6, reports.ActionInput{Action: reports.ActHandover, Cell: "T-0002", Note: "东侧"}},
		{7, reports.ActionInput{Action: reports.ActAcknowledge}},
		{9, reports.ActionInput{Action: reports.ActReject, Reason: "duplicate"}},
	}
	for _, s := range steps {
		if _, err := f.svc.Act(ctx, officer, ids[s.id], s.in); err != nil {
			t.Fatalf("%s %d: %v", s.in.Action, s.id, err)
		}
	}
	if _, err := f.svc.Act(ctx, admin, ids[9], reports.ActionInput{Action: reports.ActReopen}); err != nil {
		t.Fatal(err)
	}
	reports.SetNow(f.svc, func() time.Time { return time.Now().UTC().Add(11 * time.Minute) })
	if n, err := f.svc.EscalateDue(ctx); err != nil || n == 0 {
		t.Fatalf("escalate: %d, %v", n, err)
	}

	// The collection, asked directly, has what the model has.
	var inColl []string
	cur, err := f.db.Collection("open_reports").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "next_due", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []reports.Report
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		inColl = append(inColl, d.ID)
	}
	all, err := f.svc.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids2(all.Reports); !slices.Equal(got, inColl) {
		t.Errorf("model queue %v, open_reports %v", got, inColl)
	}
	if len(inColl) != 10 { // 12, less rejected 3 and resolved 4 (9 was reopened)
		t.Errorf("%d open reports, want 10", len(inColl))
	}

	direct := f.service() // no model: reads the collection
	fresh := loaded(t, f, nil, nil)
	scopes := []reports.Scope{{All: true}, {Cells: []string{"T-0001"}}, {Cells: []string{"T-0002"}}, {Cells: []string{"T-0001", "T-0002"}}, {Cells: []string{"X"}}}
	filters := []reports.QueueFilter{{}, {Limit: 2}, {Limit: 2, Offset: 2}, {Category: "sanitation"}, {Cell: "T-0002"}, {Unassigned: true},
		{Status: reports.StatusSubmitted}, {Status: reports.StatusAcknowledged}, {Status: reports.StatusInProgress},
		{Status: reports.StatusRejected}, {Status: reports.StatusResolved}, {Status: reports.StatusVerified, Category: "road_damage"}}
	for _, sc := range scopes {
		for _, fl := range filters {
			want, err := direct.ListQueue(ctx, sc, fl)
			if err != nil {
				t.Fatal(err)
			}
			for name, svc := range map[string]*reports.Service{"kept": f.svc, "loaded": fresh} {
				got, err := svc.ListQueue(ctx, sc, fl)
				if err != nil {
					t.Fatal(err)
				}
				if queueKey(got) != queueKey(want) {
					t.Errorf("%s model, scope %+v filter %+v:\n got %s\nwant %s", name, sc, fl, queueKey(got), queueKey(want))
				}
			}
		}
	}
	for name, svc := range map[string]*reports.Service{"kept": f.svc, "loaded": fresh} {
		got, err := svc.Escalated(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		want, err := direct.Escalated(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids2(got), ids2(want)) || len(got) == 0 {
			t.Errorf("%s model: escalated %v, collection %v", name, ids2(got), ids2(want))
		}
	}
}

func ids2(rs []reports.Report) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// instance is one server of a two-instance test: a service whose model
// follows its own feed follower, and whose changes reach the shared feed.
func instance(t *testing.T, ctx context.Context, f *fixture) *reports.Service {
	t.Helper()
	feed := mustFeed(t, f)
	svc := loaded(t, f, feed, []reports.Consumer{{Name: "feed", Events: feed}})
	go feed.Follow(ctx, 20*time.Millisecond)
	return svc
}

// eventually polls cond for up to 5 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func inQueue(t *testing.T, svc *reports.Service, f reports.QueueFilter, id string) bool {
	t.Helper()
	q, err := svc.ListQueue(context.Background(), reports.Scope{Cells: []string{"T-0001"}}, f)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(ids2(q.Reports), id)
}

// A report filed on instance A shows in instance B's queue, and leaves B's
// queue of new reports when A acknowledges it, and B's queue altogether
// when A rejects it: B learns it from the feed, not from the collection.
func TestOpenModelFollowsAnotherInstance(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := instance(t, ctx, f), instance(t, ctx, f)
	r, _, err := a.Submit(ctx, "rider1", f.submission("k", inWest))
	if err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return inQueue(t, b, reports.QueueFilter{}, r.ID) }) {
		t.Fatal("a report filed on A never showed in B's queue")
	}
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	acked := time.Now()
	if _, err := a.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	// The bound is generous for a loaded machine; the lag is logged: about
	// one follow interval (20 ms here, 500 ms in the app).
	if !eventually(func() bool { return !inQueue(t, b, reports.QueueFilter{Status: reports.StatusSubmitted}, r.ID) }) {
		t.Fatal("a report acknowledged on A stayed among B's new reports")
	}
	t.Logf("the acknowledgement on A reached B's queue after %s", time.Since(acked).Round(time.Millisecond))
	if !inQueue(t, b, reports.QueueFilter{Status: reports.StatusAcknowledged}, r.ID) {
		t.Error("a report acknowledged on A is not among B's acknowledged ones")
	}
	if _, err := a.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return !inQueue(t, b, reports.QueueFilter{}, r.ID) }) {
		t.Fatal("a report rejected on A stayed in B's queue")
	}
	for name, svc := range map[string]*reports.Service{"A": a, "B": b} {
		if err := svc.OpenReady(); err != nil {
			t.Errorf("%s: OpenReady: %v", name, err)
		}
	}
}

// Changes racing from both instances at once (submissions, acknowledgements,
// rejections): both models end up agreeing with the collection.
func TestOpenModelConcurrentInstances(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := instance(t, ctx, f), instance(t, ctx, f)
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	var wg sync.WaitGroup
	for i := range 8 {
		svc := []*reports.Service{a, b}[i%2]
		other := []*reports.Service{b, a}[i%2]
		wg.Go(func() {
			where := inWest
			where[0] += float64(i) * 200 / 111_320.0
			r, _, err := svc.Submit(ctx, "rider", f.submission(fmt.Sprintf("c%d", i), where))
			if err != nil {
				t.Error(err)
				return
			}
			switch i % 4 {
			case 1: // acknowledged on the other instance
				_, err = other.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActAcknowledge})
			case 2: // both reject at once: one wins
				var w2 sync.WaitGroup
				for _, s := range []*reports.Service{a, b} {
					w2.Go(func() {
						_, err := s.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"})
						var te *reports.TransitionError
						if err != nil && !errors.As(err, &te) {
							t.Error(err)
						}
					})
				}
				w2.Wait()
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	direct := f.service()
	want, err := direct.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Reports) != 6 {
		t.Errorf("%d open reports in the collection, want 6", len(want.Reports))
	}
	for name, svc := range map[string]*reports.Service{"A": a, "B": b} {
		if !eventually(func() bool {
			got, err := svc.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{Limit: 100})
			return err == nil && queueKey(got) == queueKey(want)
		}) {
			got, _ := svc.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{Limit: 100})
			t.Errorf("%s's model:\n got %s\nwant %s", name, queueKey(got), queueKey(want))
		}
	}
}

// An instance whose re-reads fail says so (OpenReady), answers from the
// store meanwhile, and recovers once the store answers again.
func TestOpenModelStaleThenRecovers(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := instance(t, ctx, f), instance(t, ctx, f)
	var broken atomic.Bool
	broken.Store(true)
	reports.SetOpenReread(b, func(ctx context.Context, id string) (reports.Report, error) {
		if broken.Load() {
			return reports.Report{}, errors.New("store down")
		}
		return b.Get(ctx, id)
	})
	r, _, err := a.Submit(ctx, "rider1", f.submission("k", inWest))
	if err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return b.OpenReady() != nil }) {
		t.Fatal("B could not re-read a changed report, yet OpenReady says it is current")
	}
	t.Logf("while stale: %v", b.OpenReady())
	// Stale, B answers from the store: the report is there.
	if !inQueue(t, b, reports.QueueFilter{}, r.ID) {
		t.Error("a stale B does not list the report the store holds")
	}
	broken.Store(false)
	if !eventually(func() bool { return b.OpenReady() == nil }) {
		t.Fatalf("B did not recover: %v", b.OpenReady())
	}
	if !inQueue(t, b, reports.QueueFilter{}, r.ID) {
		t.Error("recovered, B's model does not list the report")
	}
	if err := a.OpenReady(); err != nil {
		t.Errorf("A: %v", err)
	}
}

// The duplicate search and the SLA worker, reading the model: the rules of
// TestDuplicates and TestEscalationOnceAcrossInstances hold.
func TestOpenModelDuplicatesAndEscalation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc = loaded(t, f, nil, []reports.Consumer{{Name: "recorder", Events: f.events}})
	first := f.mustSubmit("rider1", f.submission("a", inWest))
	near := [2]float64{inWest[0] + 20/111320.0, inWest[1] + 20/111320.0} // about 25 m north-east
	dup := f.mustSubmit("rider2", f.submission("b", near))
	if dup.DuplicateOf != first.ID {
		t.Errorf("25 m away, same category: duplicate_of %q, want %s", dup.DuplicateOf, first.ID)
	}
	other := f.submission("c", near)
	other.Category = "sanitation"
	if r := f.mustSubmit("rider2", other); r.DuplicateOf != "" {
		t.Error("another category linked as a duplicate")
	}
	far := [2]float64{inWest[0], inWest[1] + 80/(111320.0*0.88)} // 80 m east of the first, 66 m of the second
	if r := f.mustSubmit("rider2", f.submission("d", far)); r.DuplicateOf != "" {
		t.Error("66 m away linked as a duplicate")
	}
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	if _, err := f.svc.Act(ctx, officer, dup.ID, reports.ActionInput{Action: reports.ActConfirmDuplicate}); err != nil {
		t.Fatal(err)
	}
	if r := f.mustSubmit("rider3", f.submission("e", near)); r.DuplicateOf != first.ID {
		t.Errorf("near a confirmed duplicate: duplicate_of %q, want the original %s", r.DuplicateOf, first.ID)
	}
	for _, id := range []string{first.ID, dup.ID} {
		if _, err := f.svc.Act(ctx, officer, id, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.mustSubmit("rider4", f.submission("f", near)); r.DuplicateOf == first.ID || r.DuplicateOf == dup.ID {
		t.Error("linked to a closed report")
	}

	// Two instances with models, escalating at once: each breach once.
	g := newFixture(t)
	g.svc = loaded(t, g, nil, []reports.Consumer{{Name: "recorder", Events: g.events}})
	r := g.mustSubmit("rider1", g.submission("k", inWest))
	a, b := loaded(t, g, nil, nil), loaded(t, g, nil, nil)
	for _, d := range []time.Duration{11 * time.Minute, 25 * time.Hour} {
		now := func() time.Time { return r.CreatedAt.Add(d) }
		reports.SetNow(a, now)
		reports.SetNow(b, now)
		var wg sync.WaitGroup
		for range 3 {
			for _, s := range []*reports.Service{a, b} {
				wg.Go(func() {
					if _, err := s.EscalateDue(ctx); err != nil {
						t.Errorf("escalate: %v", err)
					}
				})
			}
		}
		wg.Wait()
	}
	if got := escalations(t, g, r.ID); got[reports.ActEscalateAck] != 1 || got[reports.ActEscalateDecision] != 1 {
		t.Errorf("escalations = %v, want one of each", got)
	}
	for name, s := range map[string]*reports.Service{"A": a, "B": b} {
		list, err := s.Escalated(ctx, 10)
		if err != nil || len(list) != 1 || list[0].ID != r.ID || !list[0].EscalatedAck || !list[0].EscalatedDue {
			t.Errorf("%s: escalation list = %v, %v", name, ids2(list), err)
		}
	}
}

// What the model costs per open report (see the openSet comment).
func TestOpenSetMemory(t *testing.T) {
	const n = 20_000
	per, held := reports.OpenModelBytes(n)
	t.Logf("open-reports model: %.0f bytes per open report (%d reports)", per, held)
	if held != n {
		t.Errorf("the model holds %d reports, want %d", held, n)
	}
}
