package reports

import (
	"context"
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
// ("pending", "photos", "report", "entry", "noted", "open", then
// "delivered:<consumer>" and "recorded:<consumer>" for each consumer). A test
// that stops the goroutine there (runtime.Goexit) sees what a kill leaves.
func SetStopAt(s *Service, f func(point string)) { s.stopAt = f }

// SetNow fixes the service's clock.
func SetNow(s *Service, now func() time.Time) { s.now = now }

// MineAll is Mine without its limit of 200.
func MineAll(ctx context.Context, s *Service, reporterID string) ([]Report, error) {
	return s.mine(ctx, reporterID, 1<<30)
}

// ReportID is the id a rider's submission with this Idempotency-Key gets.
func ReportID(reporterID, key string) string { return reportID(reporterID, key) }
