package reports_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/reports"
)

// crashRig builds service instances on one fixture's stores, as successive
// runs of the server would be: each gets its own feed follower, while the
// recorder stands for an outside consumer that outlives them.
type crashRig struct {
	f   *fixture
	rec *recorder
}

func (c *crashRig) instance(t *testing.T, clock time.Duration) *reports.Service {
	t.Helper()
	return later(c.f.serviceWith([]reports.Consumer{
		{Name: "recorder", Events: c.rec},
		{Name: "feed", Events: mustFeed(t, c.f)},
	}), clock)
}

// points lists the points between two writes that one whole submission
// passes, in order.
func (c *crashRig) points(t *testing.T) []string {
	t.Helper()
	svc := c.instance(t, 0)
	var points []string
	var mu sync.Mutex
	reports.SetStopAt(svc, func(p string) {
		mu.Lock()
		defer mu.Unlock()
		points = append(points, p)
	})
	if _, _, err := svc.Submit(context.Background(), "rider-points", c.f.tinySubmission("k")); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	mu.Lock()
	defer mu.Unlock()
	// "thumbs" comes after the answer, in work of its own: a stop there is
	// TestThumbnailsAfterAStop's.
	return slices.DeleteFunc(points, func(p string) bool { return p == "thumbs" })
}

// stopSubmission submits on svc and stops it at point as a kill would: the
// goroutine ends there, and nothing after it runs.
func stopSubmission(t *testing.T, svc *reports.Service, rider string, in reports.Submission, point string) {
	t.Helper()
	var reached atomic.Bool
	reports.SetStopAt(svc, func(p string) {
		if p == point {
			reached.Store(true)
			runtime.Goexit()
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := svc.Submit(context.Background(), rider, in)
		t.Errorf("the submission went past %s (err %v)", point, err)
	}()
	<-done
	if !reached.Load() {
		t.Fatalf("the submission never reached %s", point)
	}
}

func (c *crashRig) count(t *testing.T, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := c.f.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *crashRig) objects(t *testing.T, reportID string) []string {
	t.Helper()
	keys, err := c.f.blobs.List(context.Background(), "reports/"+reportID+"/")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkComplete says whether the rider's report is whole, once: stored with
// its photos, its timeline's one entry published, in the open set (the
// queues), in the rider's list, in the feed, delivered to the recorder, with
// no note or stray photo left.
func (c *crashRig) checkComplete(t *testing.T, rider, id, stoppedAt string) {
	t.Helper()
	r := c.checkVisible(t, rider, id, stoppedAt)
	if n := c.count(t, "report_pending", bson.D{{Key: "report_id", Value: id}}); n != 0 {
		t.Errorf("%d pending notes left", n)
	}
	var keys []string
	for _, p := range r.Photos {
		keys = append(keys, p.Key, p.ThumbKey)
	}
	slices.Sort(keys)
	if got := c.objects(t, id); !slices.Equal(got, keys) || len(keys) != 2 {
		t.Errorf("stored objects = %v, want the report's photo and thumbnail %v", got, keys)
	}
}

// checkVisible is checkComplete but for what no one sees: notes and the
// photos of an attempt that lost, which Repair removes later.
func (c *crashRig) checkVisible(t *testing.T, rider, id, stoppedAt string) reports.Report {
	t.Helper()
	ctx := context.Background()
	r, err := c.f.svc.Get(ctx, id)
	if err != nil {
		t.Fatalf("the report: %v", err)
	}
	if r.Status != reports.StatusSubmitted || r.Seq != 1 || r.Cell != "T-0001" || r.OfficerID != "o1" {
		t.Errorf("report state = %s seq %d cell %s officer %s", r.Status, r.Seq, r.Cell, r.OfficerID)
	}
	// Its ticket leads back to it, whoever stored it.
	if byTicket, err := c.f.svc.Get(ctx, r.Ticket); err != nil || byTicket.ID != id {
		t.Errorf("ticket %q finds %q, %v; want report %s", r.Ticket, byTicket.ID, err, id)
	}
	tl, err := c.f.svc.Timeline(ctx, id, 0)
	if err != nil || len(tl) != 1 || tl[0].Action != reports.ActSubmit || tl[0].After.Status != reports.StatusSubmitted {
		t.Errorf("timeline = %+v, %v; want the one submit entry", tl, err)
	}
	event := id + ":000001"
	if !published(t, c.f, event) {
		t.Error("the submit entry is not marked published")
	}
	if n := c.count(t, "open_reports", bson.D{{Key: "_id", Value: id}}); n != 1 {
		t.Errorf("the report is in the open set %d times, want 1", n)
	}
	mine, err := reports.MineAll(ctx, c.f.svc, rider)
	if err != nil || len(mine) != 1 || mine[0].ID != id {
		t.Errorf("the rider's list = %v, %v; want [%s]", ids(mine), err, id)
	}
	// Stopped after the consumers took the event but before it was marked
	// published, every consumer is handed it again (a first delivery that
	// reaches all is not recorded): each must absorb it. The feed holds it
	// once; the rider's list may hold it twice (Mine shows it once); the
	// recorder counts what it was handed.
	redelivered := stoppedAt == "open" || strings.HasPrefix(stoppedAt, "delivered:")
	listed := c.count(t, "reporter_reports", bson.D{{Key: "report_id", Value: id}})
	if want := int64(1); listed != want && (!redelivered || listed != 2) {
		t.Errorf("the report has %d entries in the rider's list, want %d", listed, want)
	}
	if got := feedTimes(t, c.f)[event]; got != 1 {
		t.Errorf("the feed holds the event %d times, want 1", got)
	}
	want := 1
	if redelivered {
		want = 2
	}
	if got := c.rec.times()[event]; got != want {
		t.Errorf("the recorder got the event %d times, want %d", got, want)
	}
	// The photo is there; its thumbnail may be made only by Repair
	// (checkComplete), and the thumbnail route shows the photo meanwhile.
	for _, p := range r.Photos {
		if !slices.Contains(c.objects(t, id), p.Key) {
			t.Errorf("photo object %s is missing", p.Key)
		}
	}
	return r
}

// A submission stopped (as by kill -9) between any two of its writes, then
// the server restarted on the same stores: the rider's retry with the same
// Idempotency-Key, or the repair the restarted server runs by itself, leaves
// the report complete, queued, listed and announced, once, and no photo
// behind.
func TestSubmissionStoppedBetweenWrites(t *testing.T) {
	rig := &crashRig{f: newFixture(t), rec: &recorder{}}
	points := rig.points(t)
	for _, want := range []string{"pending", "photos", "ticket", "report", "entry", "open", "delivered:reporter_list", "delivered:feed"} {
		if !slices.Contains(points, want) {
			t.Fatalf("a submission passes %v; %s is missing", points, want)
		}
	}
	ctx := context.Background()
	for _, point := range points {
		// Before the report is stored nothing is visible to repair: the
		// retry stores it.
		invisible := point == "pending" || point == "photos" || point == "ticket"

		t.Run("retry after "+point, func(t *testing.T) {
			rider := "rider-retry-" + point
			in := rig.f.tinySubmission("k")
			stopSubmission(t, rig.instance(t, 0), rider, in, point)

			restarted := rig.instance(t, time.Minute)
			r, created, err := restarted.Submit(ctx, rider, in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if created != invisible {
				t.Errorf("retry: created = %v, want %v", created, invisible)
			}
			// Complete as the retry answers, before any repair.
			rig.checkVisible(t, rider, r.ID, point)
			// A retry that stored the report makes its thumbnail after
			// answering.
			restarted.Wait()
			// The stopped attempt's photos, if it never stored its
			// report, go an hour later.
			if err := rig.instance(t, 2*time.Hour).Repair(ctx); err != nil {
				t.Fatal(err)
			}
			rig.checkComplete(t, rider, r.ID, point)
		})

		t.Run("repair after "+point, func(t *testing.T) {
			rider := "rider-repair-" + point
			in := rig.f.tinySubmission("k")
			stopSubmission(t, rig.instance(t, 0), rider, in, point)

			restarted := rig.instance(t, time.Minute)
			if err := restarted.Repair(ctx); err != nil {
				t.Fatal(err)
			}
			mine, err := reports.MineAll(ctx, restarted, rider)
			if err != nil {
				t.Fatal(err)
			}
			if invisible {
				if len(mine) != 0 {
					t.Errorf("a report never stored is listed: %v", ids(mine))
				}
				if err := rig.instance(t, 2*time.Hour).Repair(ctx); err != nil {
					t.Fatal(err)
				}
				if n := rig.count(t, "report_pending", bson.D{{Key: "report_id", Value: reports.ReportID(rider, in.Key)}}); n != 0 {
					t.Errorf("%d pending notes left an hour later", n)
				}
				if got := rig.objects(t, reports.ReportID(rider, in.Key)); len(got) != 0 {
					t.Errorf("photos of a submission never stored are kept an hour later: %v", got)
				}
			} else {
				if len(mine) != 1 {
					t.Fatalf("after repair the rider's list = %v, want the report", ids(mine))
				}
				rig.checkComplete(t, rider, mine[0].ID, point)
			}
			// The rider's retry afterwards changes nothing but is answered.
			again := rig.instance(t, time.Minute)
			r, _, err := again.Submit(ctx, rider, in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			again.Wait() // the thumbnail, if this retry stored the report
			rig.checkComplete(t, rider, r.ID, point)
		})
	}
}

// A report stored without its first entry is acted on before anyone
// repairs it: the action writes the missing entry first, so the timeline
// has no gap, and the report is queued and listed.
func TestActionOnReportStoppedBeforeItsEntry(t *testing.T) {
	rig := &crashRig{f: newFixture(t), rec: &recorder{}}
	ctx := context.Background()
	in := rig.f.tinySubmission("k")
	stopSubmission(t, rig.instance(t, 0), "rider1", in, "report")
	id := reports.ReportID("rider1", "k")
	svc := rig.instance(t, time.Minute)
	if _, err := svc.Act(ctx, reports.Actor{ID: "o1", Role: reports.RoleOfficer}, id, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	tl, err := svc.Timeline(ctx, id, 0)
	var actions []string
	for _, e := range tl {
		actions = append(actions, string(e.Action))
	}
	if err != nil || strings.Join(actions, " ") != "submit acknowledge" {
		t.Errorf("timeline = %v, %v; want submit acknowledge", actions, err)
	}
	mine, err := reports.MineAll(ctx, svc, "rider1")
	if err != nil || len(mine) != 1 || mine[0].Status != reports.StatusAcknowledged {
		t.Errorf("the rider's list = %v, %v", ids(mine), err)
	}
	if n := rig.count(t, "open_reports", bson.D{{Key: "_id", Value: id}, {Key: "status", Value: reports.StatusAcknowledged}}); n != 1 {
		t.Errorf("the acknowledged report is in the open set %d times", n)
	}
	if n := rig.count(t, "report_pending", bson.D{}); n != 0 {
		t.Errorf("%d pending notes left", n)
	}
}
