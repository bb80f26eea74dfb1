package grid

import (
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// MapView is the grid map drawn as SVG: the map page shows it, and the
// report pages draw it small to pick or show a place (PickMap).
type MapView struct {
	ViewBox string
	Cells   []MapCell
}

// MapCell is one cell's shape and label in SVG coordinates.
type MapCell struct {
	Code, Name string
	D          string // path data; rings alternate, so holes stay holes with fill-rule evenodd
	X, Y       string // label position
	FontSize   string
	Assigned   bool // has a primary officer
	Primary    string
	// Open counts the cell's open reports, drawn as a badge shaded by Heat
	// (1-4); only the grid page sets them (setOpen), riders' maps never.
	Open  int
	Heat  int
	Badge Badge

	// The label's position and size, and the top of its box, in map units.
	lx, ly, fs, top float64
}

// Badge is where a cell's open-report count is drawn: a rounded box and
// its number, in map units.
type Badge struct {
	X, Y, W, H, R string // the box
	TX, TY, Size  string // the number
}

// heat shades a count of open reports: 1, 2-4, 5-9, 10 or more.
func heat(n int) int {
	switch {
	case n <= 0:
		return 0
	case n == 1:
		return 1
	case n < 5:
		return 2
	case n < 10:
		return 3
	}
	return 4
}

// setOpen sets the cell's open-report count and places its badge just above
// the cell's code, at the code's size (so it is as readable), inside the
// label's box when there is room and at its top when there is not.
func (m *MapCell) setOpen(n int) {
	m.Open, m.Heat, m.Badge = n, heat(n), Badge{}
	if n <= 0 {
		return
	}
	f := m.fs
	w := math.Max(1.6, 0.62*float64(len(strconv.Itoa(n)))+0.9) * f
	h := 1.4 * f
	// The code's glyphs reach about one size above its baseline (0.2 em
	// above the label's middle).
	cy := m.ly - 1.2*f - 0.2*f - h/2
	if cy-h/2 < m.top {
		cy = m.top + h/2
	}
	m.Badge = Badge{
		X: num(m.lx - w/2), Y: num(cy - h/2), W: num(w), H: num(h), R: num(h / 2),
		TX: num(m.lx), TY: num(cy + 0.36*f), Size: m.FontSize,
	}
}

// Size of the map's longer side in SVG units, and the margin around it.
const (
	mapSize   = 1000.0
	mapMargin = 8.0
)

// ProjectMap draws cells with an equirectangular projection: longitude is
// scaled by the cosine of the map's middle latitude so that a city's cells
// keep their shape, and y grows southwards as SVG wants. The whole map is
// fitted into mapSize units along its longer side.
func ProjectMap(cells []CellView) MapView {
	if len(cells) == 0 {
		return MapView{}
	}
	b := cells[0].Bound()
	for _, c := range cells[1:] {
		b = b.Union(c.Bound())
	}
	k := math.Cos((b.Min.Lat() + b.Max.Lat()) / 2 * math.Pi / 180)
	w := (b.Max.Lon() - b.Min.Lon()) * k
	h := b.Max.Lat() - b.Min.Lat()
	// A map that is a line or a point still needs a scale.
	w, h = math.Max(w, 1e-9), math.Max(h, 1e-9)
	scale := (mapSize - 2*mapMargin) / math.Max(w, h)
	project := func(p orb.Point) (float64, float64) {
		return mapMargin + (p.Lon()-b.Min.Lon())*k*scale, mapMargin + (b.Max.Lat()-p.Lat())*scale
	}
	v := MapView{ViewBox: "0 0 " + num(w*scale+2*mapMargin) + " " + num(h*scale+2*mapMargin)}
	for _, c := range cells {
		mc := MapCell{Code: c.Code, Name: c.Name, Assigned: c.Assignment.Primary != nil}
		if c.Assignment.Primary != nil {
			mc.Primary = c.Assignment.Primary.Name
		}
		var d strings.Builder
		var labelBox orb.Bound
		largest := -1.0
		for _, poly := range c.Geometry {
			for _, ring := range poly {
				for i, pt := range ring {
					if i == len(ring)-1 && len(ring) > 1 && pt == ring[0] {
						break // closed by Z
					}
					x, y := project(pt)
					if i == 0 {
						d.WriteString("M")
					} else {
						d.WriteString(" L")
					}
					d.WriteString(num(x) + " " + num(y))
				}
				d.WriteString(" Z ")
			}
			// The label goes in the largest piece, at the middle of its box.
			if len(poly) > 0 {
				pb := poly[0].Bound()
				if a := (pb.Max.Lon() - pb.Min.Lon()) * (pb.Max.Lat() - pb.Min.Lat()); a > largest {
					largest, labelBox = a, pb
				}
			}
		}
		mc.D = strings.TrimSpace(d.String())
		x0, y0 := project(labelBox.Min)
		x1, y1 := project(labelBox.Max)
		mc.X, mc.Y = num((x0+x1)/2), num((y0+y1)/2)
		// Fit the code into its cell: about 0.6 em per character.
		fit := math.Min(math.Abs(x1-x0)/(0.62*float64(max(len(c.Code), 3))), math.Abs(y1-y0)/2.5)
		mc.fs = math.Max(4, math.Min(28, fit))
		mc.FontSize = num(mc.fs)
		mc.lx, mc.ly, mc.top = (x0+x1)/2, (y0+y1)/2, math.Min(y0, y1)
		v.Cells = append(v.Cells, mc)
	}
	return v
}

// mapFrame is ProjectMap's projection: x = margin + (lon-lon0)·kx,
// y = margin + (lat0-lat)·ky.
type mapFrame struct{ lon0, lat0, kx, ky float64 }

// frameOf computes the projection ProjectMap uses for cells.
func frameOf(cells []CellView) mapFrame {
	b := cells[0].Bound()
	for _, c := range cells[1:] {
		b = b.Union(c.Bound())
	}
	k := math.Cos((b.Min.Lat() + b.Max.Lat()) / 2 * math.Pi / 180)
	w := math.Max((b.Max.Lon()-b.Min.Lon())*k, 1e-9)
	h := math.Max(b.Max.Lat()-b.Min.Lat(), 1e-9)
	scale := (mapSize - 2*mapMargin) / math.Max(w, h)
	return mapFrame{lon0: b.Min.Lon(), lat0: b.Max.Lat(), kx: k * scale, ky: scale}
}

func (f mapFrame) project(lat, lng float64) (x, y float64) {
	return mapMargin + (lng-f.lon0)*f.kx, mapMargin + (f.lat0-lat)*f.ky
}

// PickMap is the grid map drawn for picking a place by hand, or showing
// one: the drawing and the numbers that turn a point on it back into a
// position (the report form's script reads them).
type PickMap struct {
	MapView
	Lon0, Lat0, KX, KY, Margin string
	// Marker is the point to show (a report's position), if any.
	Marker     bool
	MX, MY, MR string
}

// NewPickMap draws cells for picking, with a marker at (lat, lng) when
// mark is set. Officer names are left out: riders see this map.
func NewPickMap(cells []CellView, mark bool, lat, lng float64) PickMap {
	if len(cells) == 0 {
		return PickMap{}
	}
	m := PickMap{MapView: ProjectMap(cells)}
	for i := range m.Cells {
		m.Cells[i].Primary = ""
		// These maps are drawn small: larger codes stay readable.
		if fs, err := strconv.ParseFloat(m.Cells[i].FontSize, 64); err == nil {
			m.Cells[i].FontSize = num(math.Min(fs*1.6, 44))
		}
	}
	f := frameOf(cells)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }
	m.Lon0, m.Lat0, m.KX, m.KY, m.Margin = g(f.lon0), g(f.lat0), g(f.kx), g(f.ky), g(mapMargin)
	if mark {
		x, y := f.project(lat, lng)
		m.Marker, m.MX, m.MY, m.MR = true, num(x), num(y), num(mapSize/36)
	}
	return m
}

// num formats an SVG coordinate with one decimal.
func num(f float64) string {
	return strconv.FormatFloat(f, 'f', 1, 64)
}
