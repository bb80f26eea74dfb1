package reports_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// Two instances append at once: every change gets its own number, with no
// gap, and a third instance finds the end and reads them all in order.
func TestFeedAppendsWithoutGapsOrSharing(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Docs(t)
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
				if err := f.Publish(ctx, reports.Event{ID: "e", ReportID: string(rune('a' + i))}); err != nil {
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
	db := storagetest.Docs(t)
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
