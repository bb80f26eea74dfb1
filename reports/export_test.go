package reports

import "time"

// Test hooks, for the external test package.

// SetAfterPhotos runs f between storing photos and storing the report.
func SetAfterPhotos(s *Service, f func()) { s.afterPhotos = f }

// SetNow fixes the service's clock.
func SetNow(s *Service, now func() time.Time) { s.now = now }
