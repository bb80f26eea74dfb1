package reports_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// feedDocs is a document store with the reports indexes, the feed's unique
// event index among them.
func feedDocs(t *testing.T) *mongo.Database {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, reports.Indexes()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Two instances append at once: every change gets its own number, with no
// gap, and a third instance finds the end and reads them all in order.
func TestFeedAppendsWithoutGapsOrSharing(t *testing.T) {
	ctx := context.Background()
	db := feedDocs(t)
	a, b := reports.NewFeed(db, storagetest.Logger()), reports.NewFeed(db, storagetest.Logger())
	for _, f := range []*reports.Feed{a, b} {
		if err := f.Init(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const each = 15
	var wg sync.WaitGroup
	for _, f := range []*reports.Feed{a, b} {
		for i := range each {
			wg.Go(func() {
				if err := f.Publish(ctx, reports.Event{ID: fmt.Sprintf("%p-%d", f, i), ReportID: string(rune('a' + i))}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	c := reports.NewFeed(db, storagetest.Logger())
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Last(); got != 2*each {
		t.Fatalf("a new instance finds the feed ending at %d, want %d", got, 2*each)
	}
	all, err := c.Read(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range all {
		if ch.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, ch.Seq)
		}
	}
	if len(all) != 2*each {
		t.Errorf("read %d entries, want %d", len(all), 2*each)
	}
}

// A change appended through one instance reaches a subscriber of another.
func TestFeedFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := feedDocs(t)
	writer, reader := reports.NewFeed(db, storagetest.Logger()), reports.NewFeed(db, storagetest.Logger())
	for _, f := range []*reports.Feed{writer, reader} {
		if err := f.Init(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sub, stop := reader.Subscribe()
	defer stop()
	go reader.Follow(ctx, 20*time.Millisecond)
	if err := writer.Publish(ctx, reports.Event{ID: "r1:000002", ReportID: "r1", Status: reports.StatusVerified}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-sub:
		if c.ReportID != "r1" || c.Status != reports.StatusVerified || c.Seq != 1 {
			t.Errorf("change = %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other instance did not hear of the change within 5 s")
	}
}

// Events published by two instances at once, each several times, while
// other events are appended, then again by a third instance that starts
// after them: the feed holds every event once, with no gap.
func TestFeedHoldsEachEventOnce(t *testing.T) {
	ctx := context.Background()
	db := feedDocs(t)
	a, b := reports.NewFeed(db, storagetest.Logger()), reports.NewFeed(db, storagetest.Logger())
	for _, f := range []*reports.Feed{a, b} {
		if err := f.Init(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const events, copies = 12, 3
	var wg sync.WaitGroup
	for _, f := range []*reports.Feed{a, b} {
		for i := range events {
			for range copies {
				wg.Go(func() {
					if err := f.Publish(ctx, reports.Event{ID: fmt.Sprintf("r%d:000001", i), ReportID: fmt.Sprintf("r%d", i)}); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
	wg.Wait()
	// Redelivered later, by an instance that knows where the feed ends.
	late := reports.NewFeed(db, storagetest.Logger())
	if err := late.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := late.Publish(ctx, reports.Event{ID: fmt.Sprintf("r%d:000001", i), ReportID: fmt.Sprintf("r%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := a.Read(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for i, c := range all {
		held[c.ID]++
		if c.Seq != int64(i+1) {
			t.Errorf("entry %d has seq %d", i, c.Seq)
		}
	}
	if len(all) != events || len(held) != events {
		t.Errorf("the feed holds %d entries for %d distinct events, want %d of each: %v", len(all), len(held), events, held)
	}
	for id, n := range held {
		if n != 1 {
			t.Errorf("event %s is in the feed %d times", id, n)
		}
	}
	if err := a.Publish(ctx, reports.Event{}); err == nil {
		t.Error("an event without an id was accepted")
	}
}
