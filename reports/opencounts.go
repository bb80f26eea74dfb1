package reports

// OpenByCell counts the open reports of each grid cell ("" for those outside
// every cell), from the open-report model: no store read. ok is false while
// the model is not loaded or has fallen behind (OpenReady says why); a page
// then shows no counts rather than wrong ones.
func (s *Service) OpenByCell() (counts map[string]int, ok bool) {
	x, done, ok := s.open.read()
	if !ok {
		return nil, false
	}
	defer done()
	counts = make(map[string]int, len(x.byCell))
	for cell, rs := range x.byCell {
		counts[cell] = len(rs)
	}
	return counts, true
}
