package grid

import (
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func TestProjectMap(t *testing.T) {
	square := func(code string, lng, lat float64) CellView {
		ring := orb.Ring{{lng, lat}, {lng + 0.01, lat}, {lng + 0.01, lat + 0.01}, {lng, lat + 0.01}, {lng, lat}}
		return CellView{Cell: Cell{Code: code, Geometry: orb.MultiPolygon{{ring}}}}
	}
	// Two cells side by side at 60° north, where a degree of longitude is
	// half a degree of latitude: the map is as wide as it is high.
	cells := []CellView{square("W", 10, 60), square("E", 10.01, 60)}
	cells[1].Assignment.Primary = &OfficerRef{ID: "o1", Name: "Officer"}
	v := ProjectMap(cells)
	f := strings.Fields(v.ViewBox)
	if len(f) != 4 {
		t.Fatalf("viewBox %q", v.ViewBox)
	}
	w, _ := strconv.ParseFloat(f[2], 64)
	h, _ := strconv.ParseFloat(f[3], 64)
	// The middle latitude is 60.005°, so not exactly square.
	if w < h*0.99 || w > h*1.01 {
		t.Errorf("viewBox %q: want about square", v.ViewBox)
	}
	if len(v.Cells) != 2 || v.Cells[0].Assigned || !v.Cells[1].Assigned || v.Cells[1].Primary != "Officer" {
		t.Fatalf("cells %+v", v.Cells)
	}
	// The south-west corner of W is at the left margin and the bottom.
	if !strings.HasPrefix(v.Cells[0].D, "M"+num(mapMargin)+" "+num(h-mapMargin)+" ") {
		t.Errorf("W path %q: want it to start at the bottom left (%s, %s)", v.Cells[0].D, num(mapMargin), num(h-mapMargin))
	}
	if strings.Count(v.Cells[0].D, "L") != 3 || !strings.HasSuffix(v.Cells[0].D, "Z") {
		t.Errorf("W path %q: want four corners and a close", v.Cells[0].D)
	}
	x0, _ := strconv.ParseFloat(v.Cells[0].X, 64)
	x1, _ := strconv.ParseFloat(v.Cells[1].X, 64)
	if x0 >= x1 {
		t.Errorf("label of W at x=%v is not west of E at x=%v", x0, x1)
	}
	if got := ProjectMap(nil); got.ViewBox != "" || got.Cells != nil {
		t.Errorf("empty map: %+v", got)
	}
}

// TestPickMap checks that the numbers the report form's script turns a tap
// into a position with are ProjectMap's projection: the marker of a point
// drawn at its place, and officer names left out.
func TestPickMap(t *testing.T) {
	ring := orb.Ring{{112.97, 28.19}, {112.99, 28.19}, {112.99, 28.21}, {112.97, 28.21}, {112.97, 28.19}}
	cells := []CellView{{Cell: Cell{Code: "T-01", Geometry: orb.MultiPolygon{{ring}}}, Assignment: Assignment{Primary: &OfficerRef{ID: "o1", Name: "王网格"}}}}
	m := NewPickMap(cells, true, 28.19, 112.97) // the south-west corner
	if m.Cells[0].Primary != "" {
		t.Errorf("the pick map names the officer %q", m.Cells[0].Primary)
	}
	if !strings.HasPrefix(m.Cells[0].D, "M"+m.MX+" "+m.MY+" ") {
		t.Errorf("marker at (%s, %s), want it at the corner the path starts from: %q", m.MX, m.MY, m.Cells[0].D)
	}
	parse := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		return f
	}
	// The script's inverse: lng = lon0 + (x - margin)/kx, lat = lat0 - (y - margin)/ky.
	lng := parse(m.Lon0) + (parse(m.MX)-parse(m.Margin))/parse(m.KX)
	lat := parse(m.Lat0) - (parse(m.MY)-parse(m.Margin))/parse(m.KY)
	if d := lng - 112.97; d > 1e-4 || d < -1e-4 {
		t.Errorf("longitude back from the map %v, want 112.97", lng)
	}
	if d := lat - 28.19; d > 1e-4 || d < -1e-4 {
		t.Errorf("latitude back from the map %v, want 28.19", lat)
	}
	if got := NewPickMap(nil, true, 0, 0); got.Cells != nil || got.Marker {
		t.Errorf("empty pick map: %+v", got)
	}
}

// TestOpenBadge checks a cell's open-report badge: shaded by count, drawn
// at the code's size just above the code, inside the cell, and absent for
// a cell with none.
func TestOpenBadge(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 2: 2, 4: 2, 5: 3, 9: 3, 10: 4, 250: 4} {
		if got := heat(n); got != want {
			t.Errorf("heat(%d) = %d, want %d", n, got, want)
		}
	}
	ring := orb.Ring{{112.97, 28.19}, {112.99, 28.19}, {112.99, 28.21}, {112.97, 28.21}, {112.97, 28.19}}
	v := ProjectMap([]CellView{{Cell: Cell{Code: "T-01", Geometry: orb.MultiPolygon{{ring}}}}})
	c := v.Cells[0]
	c.setOpen(0)
	if c.Open != 0 || c.Heat != 0 || c.Badge != (Badge{}) {
		t.Errorf("no open reports: %+v", c)
	}
	c.setOpen(12)
	f := func(s string) float64 {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		return x
	}
	b := c.Badge
	if c.Open != 12 || c.Heat != 4 || b.Size != c.FontSize {
		t.Fatalf("12 open reports: %+v", c)
	}
	top, bottom := f(b.Y), f(b.Y)+f(b.H)
	if codeTop := f(c.Y) - 1.2*f(c.FontSize); bottom > codeTop+0.5 {
		t.Errorf("badge reaches y=%v, below the top of the code at y=%v", bottom, codeTop)
	}
	if top < mapMargin-0.5 {
		t.Errorf("badge top y=%v is above the cell, which starts at y=%v", top, mapMargin)
	}
	if cx := f(b.X) + f(b.W)/2; cx < f(c.X)-0.1 || cx > f(c.X)+0.1 || f(b.TX) != f(c.X) {
		t.Errorf("badge centred at x=%v, number at x=%s, want both at the code's x=%s", cx, b.TX, c.X)
	}
	if f(b.W) < 1.6*f(c.FontSize)-0.1 {
		t.Errorf("badge %v wide for two digits at size %s", b.W, c.FontSize)
	}
}
