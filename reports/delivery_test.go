package reports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// tinyPhoto is a 16×16 photo: quick to process, for tests that submit many.
func tinyPhoto(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *fixture) tinySubmission(key string) reports.Submission {
	in := f.submission(key, inWest)
	in.Photos = [][]byte{tinyPhoto(f.t)}
	return in
}

// flaky is a consumer that fails its first `fails` deliveries.
type flaky struct {
	recorder
	mu    sync.Mutex
	fails int
	calls int
}

func (c *flaky) Publish(ctx context.Context, e reports.Event) error {
	c.mu.Lock()
	c.calls++
	fail := c.calls <= c.fails
	c.mu.Unlock()
	if fail {
		return errors.New("points ledger unreachable")
	}
	return c.recorder.Publish(ctx, e)
}

// times counts how often each event reached a recorder.
func (r *recorder) times() map[string]int {
	out := map[string]int{}
	for _, e := range r.list() {
		out[e.ID]++
	}
	return out
}

// feedTimes counts how often each event is in the feed.
func feedTimes(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	feed := reports.NewFeed(f.db, storagetest.Logger())
	all, err := feed.Read(context.Background(), 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range all {
		out[c.ID]++
	}
	return out
}

func mustFeed(t *testing.T, f *fixture) *reports.Feed {
	t.Helper()
	feed := reports.NewFeed(f.db, storagetest.Logger())
	if err := feed.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return feed
}

// published tells whether a timeline entry is marked delivered to everyone.
func published(t *testing.T, f *fixture, entryID string) bool {
	t.Helper()
	var e struct {
		Published bool `bson:"published"`
	}
	if err := f.db.Collection("report_timeline").FindOne(context.Background(), bson.D{{Key: "_id", Value: entryID}}).Decode(&e); err != nil {
		t.Fatalf("load entry %s: %v", entryID, err)
	}
	return e.Published
}

func later(s *reports.Service, d time.Duration) *reports.Service {
	reports.SetNow(s, func() time.Time { return time.Now().UTC().Add(d) })
	return s
}

// A consumer (the points ledger, say) fails twice, then takes the event.
// Every other consumer saw the event once, the feed holds it once, and it is
// marked published only when the last consumer has it.
func TestConsumerFailsTwiceThenSucceeds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before, points, after := &recorder{}, &flaky{fails: 2}, &recorder{}
	consumers := []reports.Consumer{
		{Name: "before", Events: before},
		{Name: "points", Events: points},
		{Name: "feed", Events: mustFeed(t, f)},
		{Name: "after", Events: after},
	}
	svc := f.serviceWith(consumers)
	r, _, err := svc.Submit(ctx, "rider1", f.tinySubmission("k"))
	if err != nil {
		t.Fatal(err)
	}
	event := r.ID + ":000001"
	if published(t, f, event) {
		t.Fatal("the event is marked published although a consumer failed")
	}
	// Two instances redeliver, a minute later, one after the other and then
	// at once.
	consumers[2].Events = mustFeed(t, f)
	a, b := later(f.serviceWith(consumers), time.Minute), later(f.serviceWith(consumers), time.Minute)
	if err := a.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if published(t, f, event) {
		t.Fatal("the event is marked published after the consumer failed again")
	}
	var wg sync.WaitGroup
	for _, s := range []*reports.Service{a, b, a, b} {
		wg.Go(func() {
			if err := s.Repair(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := points.times()[event]; got < 1 {
		t.Fatalf("the failing consumer never took the event (%d calls)", points.calls)
	}
	for name, c := range map[string]*recorder{"before": before, "after": after} {
		if got := c.times()[event]; got != 1 {
			t.Errorf("consumer %s got the event %d times, want 1", name, got)
		}
	}
	if got := feedTimes(t, f)[event]; got != 1 {
		t.Errorf("the feed holds the event %d times, want 1", got)
	}
	if !published(t, f, event) {
		t.Error("the event is not marked published after every consumer took it")
	}
	mine, err := f.svc.Mine(ctx, "rider1")
	if err != nil || len(mine) != 1 {
		t.Errorf("my reports = %v, %v; want the one report", ids(mine), err)
	}
	// Published: nothing more is delivered.
	calls := points.calls
	if err := a.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if points.calls != calls {
		t.Error("a published event was delivered again")
	}
}

// Two instances repair the same undelivered events at the same moment,
// several times: the idempotent consumers (the inbox, the feed, the
// reporter's list) hold each effect once.
func TestRepairRacingInstancesDeliverOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	box := inbox.NewService(f.db, func() []string { return []string{"admin"} }, storagetest.Logger())
	down := &flaky{fails: 1 << 30}
	svc := f.serviceWith([]reports.Consumer{{Name: "inbox", Events: down}, {Name: "feed", Events: mustFeed(t, f)}})
	var sent []reports.Report
	for i := range 3 {
		r, _, err := svc.Submit(ctx, "rider1", f.tinySubmission(fmt.Sprint("k", i)))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, r)
	}
	var wg sync.WaitGroup
	for range 2 {
		s := later(f.serviceWith([]reports.Consumer{{Name: "inbox", Events: box}, {Name: "feed", Events: mustFeed(t, f)}}), time.Minute)
		for range 3 {
			wg.Go(func() {
				if err := s.Repair(ctx); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	notes, _, err := box.List(ctx, "o1", 100)
	if err != nil {
		t.Fatal(err)
	}
	perEvent := map[string]int{}
	for _, n := range notes {
		perEvent[n.EventID]++
	}
	inFeed := feedTimes(t, f)
	for _, r := range sent {
		event := r.ID + ":000001"
		if perEvent[event] != 1 {
			t.Errorf("officer notified %d times of %s, want 1", perEvent[event], r.ID)
		}
		if inFeed[event] != 1 {
			t.Errorf("the feed holds %s %d times, want 1", event, inFeed[event])
		}
		if !published(t, f, event) {
			t.Errorf("%s is not marked published", event)
		}
	}
	mine, err := f.svc.Mine(ctx, "rider1")
	if err != nil || len(mine) != len(sent) {
		t.Errorf("my reports = %v, %v; want %d", ids(mine), err, len(sent))
	}
}

// Consumer names key the delivery records: a wiring that gives two the same
// name, or none, stops at start.
func TestConsumerNamesChecked(t *testing.T) {
	f := newFixture(t)
	for _, cs := range [][]reports.Consumer{
		{{Name: "inbox", Events: &recorder{}}, {Name: "inbox", Events: &recorder{}}},
		{{Name: "", Events: &recorder{}}},
		{{Name: "In Box", Events: &recorder{}}},
		{{Name: "reporter_list", Events: &recorder{}}},
		{{Name: "points"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewService accepted consumers %+v", cs)
				}
			}()
			f.serviceWith(cs)
		}()
	}
}
