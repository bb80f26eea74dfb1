package grid

import (
	"fmt"
	"strconv"

	"github.com/paulmach/orb"
)

// GridCells returns cols×rows square cells (in degrees) covering the area
// from (minLng, minLat) eastwards and northwards with the given step. Cells
// are numbered in reading order from the north-west corner: codes
// "<prefix>-0001", "<prefix>-0002", … (more digits when there are more than
// 9999 cells, so codes sort in number order), names "网格 0001", …, all in
// the given district. Neighbours share their edges exactly. It returns nil
// when cols, rows or step is not positive; the caller keeps the area within
// valid coordinates. It serves the demo seed and benchmarks.
func GridCells(prefix, district string, minLng, minLat, step float64, cols, rows int) []Cell {
	return gridCells(prefix, minLng, minLat, step, step, cols, rows, func(_, _ int, number string) (string, string) {
		return "网格 " + number, district
	})
}

// Bounds of ChangshaDemo: 6×6 cells of 0.015° × 0.012°, about 1.5 km × 1.3 km.
const (
	changshaMinLng  = 112.93
	changshaMinLat  = 28.16
	changshaStepLng = 0.015
	changshaStepLat = 0.012
	changshaSize    = 6
)

// ChangshaDemo returns 36 cells (6×6, codes CS-0001…CS-0036 in reading order
// from the north-west) over central Changsha, lng 112.93–113.02 and lat
// 28.16–28.232. Districts follow the real ones roughly: 岳麓区 west of the
// Xiang River, 开福区 to the north, 芙蓉区 in the centre-east, 天心区 south
// of the centre and 雨花区 to the south-east. Names are like "芙蓉区第3网格".
func ChangshaDemo() []Cell {
	perDistrict := map[string]int{}
	return gridCells("CS", changshaMinLng, changshaMinLat, changshaStepLng, changshaStepLat, changshaSize, changshaSize,
		func(row, col int, _ string) (string, string) {
			d := changshaDistrict(row, col)
			perDistrict[d]++
			return fmt.Sprintf("%s第%d网格", d, perDistrict[d]), d
		})
}

// changshaDistrict names the district of the demo cell at row (0 = north)
// and col (0 = west).
func changshaDistrict(row, col int) string {
	switch {
	case col <= 1: // west of lng 112.96, across the Xiang River
		return "岳麓区"
	case row <= 1: // north of lat 28.208
		return "开福区"
	case row == 2: // lat 28.196–28.208, around 五一广场
		return "芙蓉区"
	case col >= 4 && row == 3: // around the railway station
		return "芙蓉区"
	case col >= 4:
		return "雨花区"
	default:
		return "天心区"
	}
}

// gridCells builds the cells of GridCells and ChangshaDemo. label gives the
// name and district of the cell at row (0 = north), col (0 = west) with the
// zero-padded number.
func gridCells(prefix string, minLng, minLat, stepLng, stepLat float64, cols, rows int,
	label func(row, col int, number string) (name, district string),
) []Cell {
	if cols <= 0 || rows <= 0 || !(stepLng > 0) || !(stepLat > 0) {
		return nil
	}
	// Each edge coordinate comes from one formula so neighbours share it bit for bit.
	lng := func(col int) float64 { return minLng + float64(col)*stepLng }
	lat := func(rowFromSouth int) float64 { return minLat + float64(rowFromSouth)*stepLat }
	width := max(4, len(strconv.Itoa(cols*rows)))

	cells := make([]Cell, 0, cols*rows)
	for row := range rows {
		south, north := lat(rows-1-row), lat(rows-row)
		for col := range cols {
			west, east := lng(col), lng(col+1)
			number := fmt.Sprintf("%0*d", width, len(cells)+1)
			name, district := label(row, col, number)
			cells = append(cells, Cell{
				Code:     prefix + "-" + number,
				Name:     name,
				District: district,
				// Counter-clockwise, as RFC 7946 asks of outer rings.
				Geometry: orb.MultiPolygon{{{
					{west, south}, {east, south}, {east, north}, {west, north}, {west, south},
				}}},
			})
		}
	}
	return cells
}
