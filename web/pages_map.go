package web

import (
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/nuanxin/nuanxin/grid"
)

// mapView is the grid map drawn as SVG.
type mapView struct {
	ViewBox string
	Cells   []mapCell
}

// mapCell is one cell's shape and label in SVG coordinates.
type mapCell struct {
	Code, Name string
	D          string // path data; rings alternate, so holes stay holes with fill-rule evenodd
	X, Y       string // label position
	FontSize   string
	Assigned   bool // has a primary officer
	Primary    string
}

// Size of the map's longer side in SVG units, and the margin around it.
const (
	mapSize   = 1000.0
	mapMargin = 8.0
)

// projectMap draws cells with an equirectangular projection: longitude is
// scaled by the cosine of the map's middle latitude so that a city's cells
// keep their shape, and y grows southwards as SVG wants. The whole map is
// fitted into mapSize units along its longer side.
func projectMap(cells []grid.CellView) mapView {
	if len(cells) == 0 {
		return mapView{}
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
	v := mapView{ViewBox: "0 0 " + num(w*scale+2*mapMargin) + " " + num(h*scale+2*mapMargin)}
	for _, c := range cells {
		mc := mapCell{Code: c.Code, Name: c.Name, Assigned: c.Assignment.Primary != nil}
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
		mc.FontSize = num(math.Max(4, math.Min(28, fit)))
		v.Cells = append(v.Cells, mc)
	}
	return v
}

// num formats an SVG coordinate with one decimal.
func num(f float64) string {
	return strconv.FormatFloat(f, 'f', 1, 64)
}
