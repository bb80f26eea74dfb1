package grid

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// borderTolerance is how close, in degrees, a point must be to a cell's border
// to count as on it: about 0.1 mm. Exact float tests miss points that lie on a
// slanted shared edge only up to rounding, which would leave them in neither
// or in an arbitrary one of the two cells; with the tolerance they are on
// the border of both, and the smaller code wins.
const borderTolerance = 1e-9

// earthRadius is the mean Earth radius in metres (IUGG).
const earthRadius = 6371008.8

// Index answers which cell contains a point. It is immutable after NewIndex
// and safe for concurrent use.
type Index struct {
	cells  []Cell // sorted by Code; a cell's position is its id in tree
	byCode map[string]int
	tree   rtree.RTreeG[int32] // bounding boxes, widened by borderTolerance
}

// NewIndex builds an index over cells, which should have unique codes (as
// ParseFeatureCollection guarantees); of cells sharing a code only the first
// given is kept. The index holds its own copy of the geometry. Cells without
// geometry can be looked up by code but contain no point.
func NewIndex(cells []Cell) *Index {
	sorted := make([]Cell, len(cells))
	for i, c := range cells {
		c.Geometry = c.Geometry.Clone()
		sorted[i] = c
	}
	slices.SortStableFunc(sorted, func(a, b Cell) int { return strings.Compare(a.Code, b.Code) })
	sorted = slices.CompactFunc(sorted, func(a, b Cell) bool { return a.Code == b.Code })

	ix := &Index{cells: sorted, byCode: make(map[string]int, len(sorted))}
	for i, c := range sorted {
		ix.byCode[c.Code] = i
	}
	// Inserted in code order, which usually follows the map row by row, the
	// tree's nodes come out long and overlapping; in a shuffled order
	// BenchmarkLocate takes about a third less time. The seed is fixed so
	// every index over the same cells has the same shape.
	order := make([]int, len(sorted))
	for i := range order {
		order[i] = i
	}
	shuffle := rand.New(rand.NewPCG(0x6e75616e, 0x78696e))
	shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, i := range order {
		c := sorted[i]
		if len(c.Geometry) == 0 {
			continue
		}
		b := c.Bound()
		ix.tree.Insert(
			[2]float64{b.Min[0] - borderTolerance, b.Min[1] - borderTolerance},
			[2]float64{b.Max[0] + borderTolerance, b.Max[1] + borderTolerance},
			int32(i),
		)
	}
	return ix
}

// Locate returns the cell whose area contains the point, borders included.
// A point in a hole is not in the cell. When several cells contain the point,
// as on a shared border or vertex, the one with the smallest Code is
// returned, whatever the order the cells were given in. false means the point
// is unassigned (also for NaN or infinite input).
func (ix *Index) Locate(lat, lng float64) (Cell, bool) {
	i := ix.locate(orb.Point{lng, lat})
	if i < 0 {
		return Cell{}, false
	}
	return ix.cells[i], true
}

func (ix *Index) locate(p orb.Point) int {
	if !finite(p[0]) || !finite(p[1]) {
		return -1
	}
	best := -1
	ix.tree.Search(p, p, func(_, _ [2]float64, i int32) bool {
		// Cells are numbered in Code order, so a higher number cannot win.
		if best >= 0 && int(i) > best {
			return true
		}
		if multiPolygonContains(ix.cells[i].Geometry, p) {
			best = int(i)
		}
		return true
	})
	return best
}

// Len returns the number of cells in the index.
func (ix *Index) Len() int {
	return len(ix.cells)
}

// Cells returns the cells sorted by Code. The slice is the caller's; the
// geometry is shared with the index and must not be modified.
func (ix *Index) Cells() []Cell {
	return slices.Clone(ix.cells)
}

// Cell returns the cell with the given code. Its geometry is shared with the
// index and must not be modified.
func (ix *Index) Cell(code string) (Cell, bool) {
	i, ok := ix.byCode[code]
	if !ok {
		return Cell{}, false
	}
	return ix.cells[i], true
}

// DistanceToBorder returns the distance in metres from the point to the
// nearest edge (outer ring or hole) of the cell with the given code, whether
// the point lies inside the cell or not. It projects the edges onto a plane
// tangent at the point (equirectangular), which is accurate to well under 1%
// for edges up to tens of kilometres long away from the poles. It returns
// false when there is no such cell, the cell has no geometry or the point is
// not finite.
func (ix *Index) DistanceToBorder(code string, lat, lng float64) (float64, bool) {
	i, ok := ix.byCode[code]
	if !ok || !finite(lat) || !finite(lng) {
		return 0, false
	}
	ky := earthRadius * math.Pi / 180
	kx := ky * math.Cos(lat*math.Pi/180)
	project := func(q orb.Point) (float64, float64) {
		dx := q[0] - lng
		// Take the short way round across the antimeridian.
		if dx > 180 {
			dx -= 360
		} else if dx < -180 {
			dx += 360
		}
		return dx * kx, (q[1] - lat) * ky
	}

	best := math.Inf(1)
	for _, polygon := range ix.cells[i].Geometry {
		for _, ring := range polygon {
			for j := range ring {
				ax, ay := project(ring[j])
				bx, by := project(ring[(j+1)%len(ring)])
				best = min(best, distanceToSegment(0, 0, ax, ay, bx, by))
			}
		}
	}
	if math.IsInf(best, 1) {
		return 0, false
	}
	return best, true
}

// multiPolygonContains reports whether p lies in the closed area of mp,
// borders included.
func multiPolygonContains(mp orb.MultiPolygon, p orb.Point) bool {
	for _, polygon := range mp {
		if polygonContains(polygon, p) {
			return true
		}
	}
	return false
}

// polygonContains reports whether p lies in the closed area of the polygon:
// inside or on the outer ring and not strictly inside a hole. A hole's border
// belongs to the polygon.
func polygonContains(polygon orb.Polygon, p orb.Point) bool {
	if len(polygon) == 0 {
		return false
	}
	inside, onBorder := ringContains(polygon[0], p)
	if onBorder {
		return true
	}
	if !inside {
		return false
	}
	for _, hole := range polygon[1:] {
		inside, onBorder := ringContains(hole, p)
		if onBorder {
			return true
		}
		if inside {
			return false
		}
	}
	return true
}

// ringContains tells whether p is within borderTolerance of the ring's border
// and, if not, whether it is inside (even-odd crossing test). It treats the
// ring as closed whether or not its last position repeats the first.
// orb/planar is not used: it counts a point on a hole's border as outside
// the polygon and compares slopes exactly on slanted edges.
func ringContains(r orb.Ring, p orb.Point) (inside, onBorder bool) {
	n := len(r)
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := r[j], r[i]
		if nearSegment(p, a, b) {
			return false, true
		}
		if (a[1] > p[1]) != (b[1] > p[1]) {
			x := a[0] + (p[1]-a[1])*(b[0]-a[0])/(b[1]-a[1])
			if p[0] < x {
				inside = !inside
			}
		}
	}
	return inside, false
}

// nearSegment reports whether p is within borderTolerance of segment ab,
// measured in degrees.
func nearSegment(p, a, b orb.Point) bool {
	if p[0] < min(a[0], b[0])-borderTolerance || p[0] > max(a[0], b[0])+borderTolerance ||
		p[1] < min(a[1], b[1])-borderTolerance || p[1] > max(a[1], b[1])+borderTolerance {
		return false
	}
	d := distanceToSegment(p[0], p[1], a[0], a[1], b[0], b[1])
	return d <= borderTolerance
}

// distanceToSegment returns the planar distance from (px, py) to the segment
// from (ax, ay) to (bx, by).
func distanceToSegment(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = ((px-ax)*dx + (py-ay)*dy) / l2
		t = max(0, min(1, t))
	}
	return math.Hypot(px-(ax+t*dx), py-(ay+t*dy))
}

func finite(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}
