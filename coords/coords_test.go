package coords

import (
	"fmt"
	"math"
	"testing"
)

// Published pairs, (lat, lng) in degrees.
//
// wgsGCJ are the test vectors of eviltransform
// (github.com/googollee/eviltransform, go/transform_test.go and
// python/test.py: Shanghai, Shenzhen, Beijing), and the Tiananmen point of
// wandergis/coordtransform's README (github.com/wandergis/coordtransform).
var wgsGCJ = []struct {
	name           string
	wgsLat, wgsLng float64
	gcjLat, gcjLng float64
}{
	{"shanghai", 31.1774276, 121.5272106, 31.17530398364597, 121.531541859215},
	{"shenzhen", 22.543847, 113.912316, 22.540796131694766, 113.9171764808363},
	{"beijing", 39.911954, 116.377817, 39.91334545536069, 116.38404722455657},
	{"tiananmen", 39.915, 116.404, 39.91640428150164, 116.41024449916938},
}

// From wandergis/coordtransform's README (also the fixtures of its
// test/app.js): gcj02tobd09(116.404, 39.915), bd09togcj02(116.404, 39.915)
// and wgs84tobd09(116.404, 39.915), written there as (lng, lat).
const (
	tLat, tLng                 = 39.915, 116.404
	gcjToBDLat, gcjToBDLng     = 39.92133699351021, 116.41036949371029
	bdToGCJLat, bdToGCJLng     = 39.90865673957631, 116.39762729119315
	wgsToBDLat, wgsToBDLng     = 39.922699552216216, 116.41662724378733
	forwardTolerance           = 0.01 // metres: the same formula, up to float rounding
	inverseTolerance           = 0.5  // metres: the brief's bound for an inverse
	coordtransformInverseSlack = 0.1  // metres; see TestBD09Published
)

func near(t *testing.T, what string, gotLat, gotLng, wantLat, wantLng, tol float64) {
	t.Helper()
	if d := DistanceM(gotLat, gotLng, wantLat, wantLng); d > tol || math.IsNaN(d) {
		t.Errorf("%s = (%.9f, %.9f), want (%.9f, %.9f): %.3f m off, tolerance %.2f m", what, gotLat, gotLng, wantLat, wantLng, d, tol)
	}
}

func TestWGS84ToGCJ02Published(t *testing.T) {
	for _, c := range wgsGCJ {
		t.Run(c.name, func(t *testing.T) {
			lat, lng := WGS84ToGCJ02(c.wgsLat, c.wgsLng)
			near(t, "WGS84ToGCJ02", lat, lng, c.gcjLat, c.gcjLng, forwardTolerance)
		})
	}
}

func TestGCJ02ToWGS84Published(t *testing.T) {
	for _, c := range wgsGCJ {
		t.Run(c.name, func(t *testing.T) {
			lat, lng := GCJ02ToWGS84(c.gcjLat, c.gcjLng)
			near(t, "GCJ02ToWGS84", lat, lng, c.wgsLat, c.wgsLng, inverseTolerance)
		})
	}
}

func TestBD09Published(t *testing.T) {
	lat, lng := GCJ02ToBD09(tLat, tLng)
	near(t, "GCJ02ToBD09", lat, lng, gcjToBDLat, gcjToBDLng, forwardTolerance)
	lat, lng = WGS84ToBD09(tLat, tLng)
	near(t, "WGS84ToBD09", lat, lng, wgsToBDLat, wgsToBDLng, forwardTolerance)
	// coordtransform's bd09togcj02 is Baidu's one-step approximate inverse;
	// ours is refined, so it may differ from theirs by a few centimetres.
	lat, lng = BD09ToGCJ02(tLat, tLng)
	near(t, "BD09ToGCJ02", lat, lng, bdToGCJLat, bdToGCJLng, coordtransformInverseSlack)
	// And the inverses of the published forward pairs.
	lat, lng = BD09ToGCJ02(gcjToBDLat, gcjToBDLng)
	near(t, "BD09ToGCJ02(published BD)", lat, lng, tLat, tLng, inverseTolerance)
	lat, lng = BD09ToWGS84(wgsToBDLat, wgsToBDLng)
	near(t, "BD09ToWGS84(published BD)", lat, lng, tLat, tLng, inverseTolerance)
}

// The offsets are real: a converted point is hundreds of metres from the
// input in China, which is what makes a link without conversion a bug.
func TestOffsetIsLarge(t *testing.T) {
	lat, lng := 28.196, 112.977 // Changsha, Wuyi Square
	gLat, gLng := WGS84ToGCJ02(lat, lng)
	bLat, bLng := WGS84ToBD09(lat, lng)
	if d := DistanceM(lat, lng, gLat, gLng); d < 200 {
		t.Errorf("GCJ-02 offset in Changsha = %.0f m, want hundreds of metres", d)
	}
	if d := DistanceM(lat, lng, bLat, bLng); d < 500 {
		t.Errorf("BD-09 offset in Changsha = %.0f m, want hundreds of metres", d)
	}
}

// Round trips over a grid covering mainland China (and a little beyond,
// inside the box where GCJ-02 applies) come back within 0.5 m.
func TestRoundTripsOverChina(t *testing.T) {
	worst := map[string]float64{}
	n := 0
	for lat := 18.0; lat <= 53.5; lat += 0.37 {
		for lng := 73.7; lng <= 135.0; lng += 0.53 {
			n++
			gLat, gLng := WGS84ToGCJ02(lat, lng)
			wLat, wLng := GCJ02ToWGS84(gLat, gLng)
			check(t, worst, "WGS→GCJ→WGS", lat, lng, wLat, wLng)

			bLat, bLng := GCJ02ToBD09(gLat, gLng)
			g2Lat, g2Lng := BD09ToGCJ02(bLat, bLng)
			check(t, worst, "GCJ→BD→GCJ", gLat, gLng, g2Lat, g2Lng)

			bLat, bLng = WGS84ToBD09(lat, lng)
			wLat, wLng = BD09ToWGS84(bLat, bLng)
			check(t, worst, "WGS→BD→WGS", lat, lng, wLat, wLng)
		}
	}
	t.Logf("%d grid points; worst round-trip errors: %v", n, worst)
}

func check(t *testing.T, worst map[string]float64, what string, lat, lng, gotLat, gotLng float64) {
	t.Helper()
	d := DistanceM(lat, lng, gotLat, gotLng)
	if d > worst[what] {
		worst[what] = d
	}
	if !(d <= inverseTolerance) {
		t.Fatalf("%s at (%v, %v) came back %.3f m off", what, lat, lng, d)
	}
}

func TestOutsideChinaIsIdentity(t *testing.T) {
	for _, p := range [][2]float64{
		{51.5007, -0.1246},  // London
		{40.6892, -74.0445}, // New York
		{-33.8568, 151.2153},
		{60.0, 100.0}, // north of the box
		{35.0, 140.0}, // east of the box (Tokyo's longitude)
		{0, 0},
	} {
		lat, lng := p[0], p[1]
		for name, f := range map[string]func(float64, float64) (float64, float64){
			"WGS84ToGCJ02": WGS84ToGCJ02, "GCJ02ToWGS84": GCJ02ToWGS84,
			"GCJ02ToBD09": GCJ02ToBD09, "BD09ToGCJ02": BD09ToGCJ02,
			"WGS84ToBD09": WGS84ToBD09, "BD09ToWGS84": BD09ToWGS84,
		} {
			if gLat, gLng := f(lat, lng); gLat != lat || gLng != lng {
				t.Errorf("%s(%v, %v) = (%v, %v), want the input unchanged outside China", name, lat, lng, gLat, gLng)
			}
		}
	}
}

func TestDistanceM(t *testing.T) {
	// One degree of latitude is about 111.2 km on the mean sphere.
	if d := DistanceM(28, 112, 29, 112); math.Abs(d-111195) > 5 {
		t.Errorf("one degree of latitude = %.0f m, want about 111195", d)
	}
	if d := DistanceM(28.2, 112.9, 28.2, 112.9); d != 0 {
		t.Errorf("distance to itself = %v", d)
	}
}

func ExampleWGS84ToGCJ02() {
	lat, lng := WGS84ToGCJ02(39.915, 116.404)
	fmt.Printf("%.6f,%.6f\n", lat, lng)
	// Output: 39.916404,116.410244
}

func BenchmarkGCJ02ToWGS84(b *testing.B) {
	for b.Loop() {
		GCJ02ToWGS84(39.91640428150164, 116.41024449916938)
	}
}
