package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

func mustService(t *testing.T) *Service {
	t.Helper()
	return newService(t, mustDB(t))
}

func mustDB(t *testing.T) *mongo.Database {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, Indexes()); err != nil {
		t.Fatal(err)
	}
	return db
}

// newService is one instance's inbox on db.
func newService(t *testing.T, db *mongo.Database) *Service {
	t.Helper()
	return NewService(db, func() []string { return []string{"admin1"} }, storagetest.Logger())
}

func event(action reports.Action) reports.Event {
	return reports.Event{ID: "r1:00000" + string(action), Action: action, ReportID: "r1", ReporterID: "rider", Status: reports.StatusSubmitted,
		Cell: "T-1", OfficerID: "off", BackupID: "bak", At: time.Now().UTC()}
}

func unread(t *testing.T, s *Service, user string) (int, int64) {
	t.Helper()
	ns, n, err := s.List(context.Background(), user, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(ns), n
}

// The same event delivered twice notifies once.
func TestPublishIsIdempotent(t *testing.T) {
	s := mustService(t)
	for range 3 {
		if err := s.Publish(context.Background(), event(reports.ActVerify)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := unread(t, s, "rider"); got != 1 {
		t.Errorf("rider has %d notifications for one event delivered 3 times, want 1", got)
	}
}

func TestRecipients(t *testing.T) {
	cases := []struct {
		action reports.Action
		edit   func(*reports.Event)
		want   map[string]int
	}{
		{reports.ActSubmit, nil, map[string]int{"off": 1, "rider": 0, "admin1": 0}},
		{reports.ActSubmit, func(e *reports.Event) { e.OfficerID = "" }, map[string]int{"admin1": 1}},
		{reports.ActAcknowledge, nil, map[string]int{"rider": 1, "off": 0}},
		{reports.ActEscalateAck, nil, map[string]int{"bak": 1, "admin1": 1, "rider": 0}},
		{reports.ActEscalateDecision, nil, map[string]int{"admin1": 1, "bak": 0}},
		{reports.ActHandover, nil, map[string]int{"off": 1, "rider": 1}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d %s", i, c.action), func(t *testing.T) {
			s := mustService(t)
			e := event(c.action)
			if c.edit != nil {
				c.edit(&e)
			}
			if err := s.Publish(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			for user, want := range c.want {
				if got, _ := unread(t, s, user); got != want {
					t.Errorf("%s got %d notifications, want %d", user, got, want)
				}
			}
		})
	}
}

func TestMarkRead(t *testing.T) {
	s := mustService(t)
	if err := s.Publish(context.Background(), event(reports.ActVerify)); err != nil {
		t.Fatal(err)
	}
	ns, _, _ := s.List(context.Background(), "rider", 10)
	if err := s.MarkRead(context.Background(), "someone-else", ns[0].ID); err != ErrNotFound {
		t.Errorf("marking another user's notification: %v, want ErrNotFound", err)
	}
	if err := s.MarkRead(context.Background(), "rider", ns[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, n := unread(t, s, "rider"); n != 0 {
		t.Errorf("unread = %d after marking read", n)
	}
}
