package reports

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Test hooks, for the external test package.

// SetAfterPhotos runs f between storing photos and storing the report.
func SetAfterPhotos(s *Service, f func()) {
	s.stopAt = func(point string) {
		if point == "photos" {
			f()
		}
	}
}

// SetStopAt runs f at every point between two writes, with the point's name
// ("pending", "photos", "ticket", "report", "entry", "open", then "delivered:<consumer>"
// for each consumer, then "noted" when the pending note is removed before the
// answer, or "thumbs" in the work after the answer, thumbs.go). A test that
// stops the goroutine there (runtime.Goexit) sees what a kill leaves.
func SetStopAt(s *Service, f func(point string)) { s.stopAt = f }

// SetNow fixes the service's clock.
func SetNow(s *Service, now func() time.Time) { s.now = now }

// MineAll is Mine without its limit of 200.
func MineAll(ctx context.Context, s *Service, reporterID string) ([]Report, error) {
	return s.mine(ctx, reporterID, 1<<30)
}

// ReportID is the id a rider's submission with this Idempotency-Key gets.
func ReportID(reporterID, key string) string { return reportID(reporterID, key) }

// SetOpenReread replaces how the open-reports model re-reads a report after
// a feed change (nil: from the store), so a test can make it fail.
func SetOpenReread(s *Service, f func(ctx context.Context, id string) (Report, error)) {
	s.openRereadHook = f
}

// OpenModelBytes measures the heap the open-reports model takes per report,
// with n reports like a rider's (a 100-character description, an address,
// three photos).
func OpenModelBytes(n int) (perReport float64, held int) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newOpenIndex()
	now := time.Now().UTC()
	desc := strings.Repeat("井盖破损路面塌陷", 13)[:300]
	for i := range n {
		id := fmt.Sprintf("%024x", i)
		ps := make([]Photo, 3)
		for j := range ps {
			ps[j] = Photo{Key: fmt.Sprintf("reports/%s/%012x-%d.jpg", id, i, j), ThumbKey: fmt.Sprintf("reports/%s/%012x-%d.thumb.jpg", id, i, j),
				ContentType: "image/jpeg", Width: 1600, Height: 1200, Size: 280_000}
		}
		r := Report{ID: id, ReporterID: fmt.Sprintf("%016x", i%5000), Category: DefaultCategories[i%8].Code,
			Description: strings.Clone(desc), Address: strings.Clone("芙蓉区五一大道与黄兴中路交叉口东北角"),
			Lat: 28.1 + float64(i%1000)/10_000, Lng: 112.9 + float64(i/1000)/1000, LocationSource: "device", Photos: ps, CreatedAt: now,
			State: State{Seq: 1, Status: StatusSubmitted, Cell: fmt.Sprintf("C-%04d", i%100), OfficerID: "officer-1", BackupID: "officer-2",
				AckDue: now.Add(time.Duration(i) * time.Second), DecideDue: now, NextDue: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}}
		x.put(r, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held = len(x.byID)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n), held
}

// HoldThumbSlots takes every slot thumbnails are made in, so that work
// after the answer waits, until release is called.
func HoldThumbSlots(s *Service) (release func()) {
	n := cap(s.thumbSlots)
	for range n {
		s.thumbSlots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.thumbSlots
		}
	}
}
