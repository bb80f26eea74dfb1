package grid

// Routing is the grid as a report router sees it: cell codes and officer
// account ids, plain values only. It satisfies reports.Grid without grid
// knowing that package.
type Routing struct{ s *Service }

// Routing returns the service's routing view.
func (s *Service) Routing() Routing { return Routing{s} }

// Locate returns the code of the cell containing the point.
func (r Routing) Locate(lat, lng float64) (string, bool) {
	c, ok := r.s.Locate(lat, lng)
	return c.Code, ok
}

// Officers returns the account ids of the cell's primary and backup officer
// ("" where none is assigned).
func (r Routing) Officers(cell string) (primary, backup string) {
	a := r.s.snap.Load().assignments[cell]
	if a.Primary != nil {
		primary = a.Primary.ID
	}
	if a.Backup != nil {
		backup = a.Backup.ID
	}
	return primary, backup
}

// DistanceToBorder is the distance in metres from the point to the cell's edge.
func (r Routing) DistanceToBorder(cell string, lat, lng float64) (float64, bool) {
	return r.s.Index().DistanceToBorder(cell, lat, lng)
}

// Exists reports whether the map has the cell.
func (r Routing) Exists(cell string) bool {
	_, ok := r.s.Index().Cell(cell)
	return ok
}
