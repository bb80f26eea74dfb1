package inbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/reports"
)

// storedFor counts what the store holds for a user's chain and for a source,
// by scanning: only a test may.
func storedFor(t *testing.T, s *Service, filter bson.D) int64 {
	t.Helper()
	n, err := s.coll.CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The same event published at the same moment by 8 goroutines over two
// instances is stored once for each recipient.
func TestConcurrentPublishStoresOnce(t *testing.T) {
	db := mustDB(t)
	a, b := newService(t, db), newService(t, db)
	e := event(reports.ActVerify)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			if err := s.Publish(context.Background(), e); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := storedFor(t, a, bson.D{{Key: "user_id", Value: "rider"}}); got != 1 {
		t.Errorf("stored %d notifications for one event published 8 times at once, want 1", got)
	}
	for _, s := range []*Service{a, b} {
		ns, unread, err := s.List(context.Background(), "rider", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 1 || unread != 1 || ns[0].ID != "rider/1" || ns[0].EventID != e.ID {
			t.Errorf("List = %+v, %d unread; want the one notification rider/1, unread", ns, unread)
		}
	}
}

// tellN tells user n notices, one after another, a second apart.
func tellN(t *testing.T, s *Service, user string, from, n int) {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		if err := s.Tell(context.Background(), Notice{ID: fmt.Sprint("notice-", i), Kind: "council_opened", Subject: fmt.Sprint("p", i),
			Link: "/proposals/p", Users: []string{user}, At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
}

// Fifty events for one user: the list is newest first, limited, the unread
// count right, and marking read counts down, also as seen from another
// instance that had the entries in its cache.
func TestListNewestFirstAndMarkRead(t *testing.T) {
	db := mustDB(t)
	s, other := newService(t, db), newService(t, db)
	tellN(t, s, "rider", 0, 50)
	ns, unread, err := s.List(context.Background(), "rider", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 20 || unread != 50 {
		t.Fatalf("List(20) gave %d notifications and %d unread, want 20 and 50", len(ns), unread)
	}
	for i, n := range ns {
		if want := fmt.Sprint("p", 49-i); n.Subject != want || n.ID != fmt.Sprint("rider/", 50-i) {
			t.Errorf("entry %d is %s %q, want rider/%d %q", i, n.ID, n.Subject, 50-i, want)
		}
	}
	if _, _, err := other.List(context.Background(), "rider", 100); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns[:5] {
		if err := s.MarkRead(context.Background(), "rider", n.ID); err != nil {
			t.Fatal(err)
		}
	}
	for name, inst := range map[string]*Service{"this instance": s, "another instance": other} {
		all, unread, err := inst.List(context.Background(), "rider", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 50 || unread != 45 {
			t.Errorf("%s: %d notifications, %d unread after marking 5 read; want 50 and 45", name, len(all), unread)
		}
		for i, n := range all {
			if n.Read != (i < 5) {
				t.Errorf("%s: entry %d (%s) read = %v", name, i, n.ID, n.Read)
			}
		}
	}
	// Once more from the cache of read entries: the same answer.
	if _, unread, _ := s.List(context.Background(), "rider", 100); unread != 45 {
		t.Errorf("unread = %d on a second view, want 45", unread)
	}
}

// The unread count looks at the 200 latest notifications only.
func TestUnreadCountsTheLatest200(t *testing.T) {
	s := mustService(t)
	tellN(t, s, "rider", 0, 205)
	ns, unread, err := s.List(context.Background(), "rider", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 10 || unread != 200 {
		t.Errorf("List gave %d notifications and %d unread of 205, want 10 and 200", len(ns), unread)
	}
}

// Two users' notifications interleaved stay in their own chains, and one
// cannot mark the other's read.
func TestChainsDoNotMix(t *testing.T) {
	s := mustService(t)
	for i := range 6 {
		users := []string{"ana"}
		if i%2 == 1 {
			users = []string{"bo"}
		}
		if i == 5 {
			users = []string{"ana", "bo"}
		}
		if err := s.Tell(context.Background(), Notice{ID: fmt.Sprint("n", i), Kind: "council_opened", Subject: fmt.Sprint(i), Link: "/x", Users: users}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"ana": "5 4 2 0", "bo": "5 3 1"}
	for user, subjects := range want {
		ns, unread, err := s.List(context.Background(), user, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range ns {
			got = append(got, n.Subject)
			if n.UserID != user || !strings.HasPrefix(n.ID, user+"/") {
				t.Errorf("%s's list holds %s of %s", user, n.ID, n.UserID)
			}
		}
		if strings.Join(got, " ") != subjects || unread != int64(len(got)) {
			t.Errorf("%s's list %v (%d unread), want %s", user, got, unread, subjects)
		}
	}
	if err := s.MarkRead(context.Background(), "bo", "ana/1"); err != ErrNotFound {
		t.Errorf("bo marking ana/1: %v, want ErrNotFound", err)
	}
	if err := s.MarkRead(context.Background(), "ana", "ana/99"); err != ErrNotFound {
		t.Errorf("marking a notification that does not exist: %v, want ErrNotFound", err)
	}
}

// legacy is a notification as earlier releases stored it.
func legacy(event, user string, at time.Time, read bool) bson.D {
	return bson.D{{Key: "_id", Value: event + "." + user}, {Key: "user_id", Value: user}, {Key: "event_id", Value: event},
		{Key: "kind", Value: "verify"}, {Key: "report_id", Value: strings.Split(event, ":")[0]}, {Key: "status", Value: "verified"},
		{Key: "category", Value: "road"}, {Key: "why", Value: "reporter"}, {Key: "at", Value: at}, {Key: "read", Value: read}}
}

// Notifications of an earlier release are moved into the chains in the
// order they happened; a second run, a run after a stop between appending
// and deleting, and the event delivered again store nothing twice.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	s := mustService(t)
	t0 := time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC)
	// Inserted out of order; r3 is read.
	docs := []any{
		legacy("r2:000002", "rider", t0.Add(2*time.Minute), false),
		legacy("r1:000002", "rider", t0.Add(time.Minute), false),
		legacy("r3:000002", "rider", t0.Add(3*time.Minute), true),
		legacy("r1:000001", "off", t0, false),
	}
	if _, err := s.legacy.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	moved, err := s.Migrate(ctx)
	if err != nil || moved != 4 {
		t.Fatalf("Migrate = %d, %v; want 4 moved", moved, err)
	}
	check := func(when string) {
		t.Helper()
		ns, unread, err := s.List(ctx, "rider", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range ns {
			got = append(got, n.ID+"="+n.EventID)
		}
		if want := "rider/3=r3:000002 rider/2=r2:000002 rider/1=r1:000002"; strings.Join(got, " ") != want || unread != 2 || !ns[0].Read {
			t.Errorf("%s: rider's list %v, %d unread; want %s, 2 unread, the newest read", when, got, unread, want)
		}
		if ns, _, _ := s.List(ctx, "off", 100); len(ns) != 1 || ns[0].ReportID != "r1" || !ns[0].At.Equal(t0) {
			t.Errorf("%s: officer's list %+v, want the one notification of r1", when, ns)
		}
		if left, _ := s.legacy.CountDocuments(ctx, bson.D{}); left != 0 {
			t.Errorf("%s: %d legacy notifications left", when, left)
		}
		if all := storedFor(t, s, bson.D{}); all != 4 {
			t.Errorf("%s: %d notifications stored, want 4", when, all)
		}
	}
	check("after migrating")

	if moved, err := s.Migrate(ctx); err != nil || moved != 0 {
		t.Errorf("second Migrate = %d, %v; want nothing to move", moved, err)
	}
	check("after migrating again")

	// A stop after appending and before deleting leaves the legacy
	// document: the next run only deletes it. A fresh instance (no hints)
	// does it.
	if _, err := s.legacy.InsertOne(ctx, legacy("r2:000002", "rider", t0.Add(2*time.Minute), false)); err != nil {
		t.Fatal(err)
	}
	if moved, err := newService(t, s.db).Migrate(ctx); err != nil || moved != 1 {
		t.Errorf("Migrate after a stop = %d, %v; want 1 moved", moved, err)
	}
	check("after a stopped run")

	// The event of a migrated notification delivered again adds nothing.
	e := reports.Event{ID: "r2:000002", Action: reports.ActVerify, ReportID: "r2", ReporterID: "rider", Status: reports.StatusVerified, At: t0}
	if err := s.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	check("after the event came again")
}
