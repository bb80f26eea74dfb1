// Package coords converts positions between the three datums a Chinese map
// app may expect (WGS-84, what phones and Nuanxin store; GCJ-02, what Amap
// and Tencent read; BD-09, what Baidu reads), measures distances, and builds
// the one-tap navigation links of a station.
//
// The conversions are the widely published "eviltransform" formulas
// (github.com/googollee/eviltransform, the same constants as
// github.com/wandergis/coordtransform). They are written out here rather than
// imported because no Go module of them is on the list of modules checked as
// served here, and the whole algorithm is some sixty lines with published test
// pairs to hold it to (coords_test.go).
//
// All functions take and return (lat, lng) in degrees. GCJ-02 and BD-09 exist
// only in mainland China: outside the box eviltransform uses for China every
// function returns its input unchanged, as the map apps do.
package coords

import "math"

// Krasovsky 1940, the ellipsoid GCJ-02's offsets are computed on.
const (
	krasovskyA  = 6378245.0
	krasovskyEE = 0.00669342162296594323
)

// bdPi is the constant of Baidu's GCJ-02 → BD-09 rotation.
const bdPi = math.Pi * 3000.0 / 180.0

// EarthRadius is the mean Earth radius in metres (IUGG), used by DistanceM.
const EarthRadius = 6371008.8

// InChina reports whether the point lies in the box where GCJ-02 applies
// (eviltransform's bounds). It is a coarse box: it includes some of China's
// neighbours, as the formulas the map apps use do too.
func InChina(lat, lng float64) bool {
	return lng >= 72.004 && lng <= 137.8347 && lat >= 0.8293 && lat <= 55.8271
}

func transform(x, y float64) (lat, lng float64) {
	xy := x * y
	absX := math.Sqrt(math.Abs(x))
	xPi, yPi := x*math.Pi, y*math.Pi
	d := 20.0*math.Sin(6.0*xPi) + 20.0*math.Sin(2.0*xPi)
	lat, lng = d, d
	lat += 20.0*math.Sin(yPi) + 40.0*math.Sin(yPi/3.0)
	lng += 20.0*math.Sin(xPi) + 40.0*math.Sin(xPi/3.0)
	lat += 160.0*math.Sin(yPi/12.0) + 320*math.Sin(yPi/30.0)
	lng += 150.0*math.Sin(xPi/12.0) + 300.0*math.Sin(xPi/30.0)
	lat *= 2.0 / 3.0
	lng *= 2.0 / 3.0
	lat += -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*xy + 0.2*absX
	lng += 300.0 + x + 2.0*y + 0.1*x*x + 0.1*xy + 0.1*absX
	return lat, lng
}

// delta is GCJ-02's offset at a WGS-84 point, in degrees.
func delta(lat, lng float64) (dLat, dLng float64) {
	dLat, dLng = transform(lng-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - krasovskyEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dLng = (dLng * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLat, dLng
}

// WGS84ToGCJ02 converts a WGS-84 position to GCJ-02 (Amap, Tencent).
func WGS84ToGCJ02(lat, lng float64) (gcjLat, gcjLng float64) {
	if !InChina(lat, lng) {
		return lat, lng
	}
	dLat, dLng := delta(lat, lng)
	return lat + dLat, lng + dLng
}

// inverse finds w with forward(w) = target by fixed-point iteration
// w ← w − (forward(w) − target). The offsets GCJ-02 and BD-09 add change
// by far less than a metre per metre, so each step shrinks the error by
// orders of magnitude: three or four steps reach 1e-10° (about 0.01 mm).
func inverse(lat, lng float64, forward func(lat, lng float64) (float64, float64)) (float64, float64) {
	wLat, wLng := lat, lng
	for range 20 {
		fLat, fLng := forward(wLat, wLng)
		dLat, dLng := fLat-lat, fLng-lng
		wLat, wLng = wLat-dLat, wLng-dLng
		if math.Abs(dLat) < 1e-10 && math.Abs(dLng) < 1e-10 {
			break
		}
	}
	return wLat, wLng
}

// GCJ02ToWGS84 converts a GCJ-02 position back to WGS-84. GCJ-02 has no
// closed-form inverse; this one iterates until the round trip agrees to
// about 0.01 mm (the one-step inverse often quoted is 1 to 2 m off).
func GCJ02ToWGS84(lat, lng float64) (wgsLat, wgsLng float64) {
	if !InChina(lat, lng) {
		return lat, lng
	}
	return inverse(lat, lng, WGS84ToGCJ02)
}

// GCJ02ToBD09 converts a GCJ-02 position to BD-09 (Baidu).
func GCJ02ToBD09(lat, lng float64) (bdLat, bdLng float64) {
	if !InChina(lat, lng) {
		return lat, lng
	}
	x, y := lng, lat
	z := math.Hypot(x, y) + 0.00002*math.Sin(y*bdPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdPi)
	return z*math.Sin(theta) + 0.006, z*math.Cos(theta) + 0.0065
}

// BD09ToGCJ02 converts a BD-09 position to GCJ-02. Baidu's published
// inverse is itself approximate (a few centimetres); it is refined here by
// the same iteration as GCJ02ToWGS84 so that round trips agree exactly.
func BD09ToGCJ02(lat, lng float64) (gcjLat, gcjLng float64) {
	if !InChina(lat, lng) {
		return lat, lng
	}
	x, y := lng-0.0065, lat-0.006
	z := math.Hypot(x, y) - 0.00002*math.Sin(y*bdPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bdPi)
	gLat, gLng := z*math.Sin(theta), z*math.Cos(theta)
	// Refine: w ← w − (GCJ02ToBD09(w) − bd).
	for range 5 {
		bLat, bLng := GCJ02ToBD09(gLat, gLng)
		dLat, dLng := bLat-lat, bLng-lng
		gLat, gLng = gLat-dLat, gLng-dLng
		if math.Abs(dLat) < 1e-10 && math.Abs(dLng) < 1e-10 {
			break
		}
	}
	return gLat, gLng
}

// WGS84ToBD09 converts a WGS-84 position to BD-09 (Baidu).
func WGS84ToBD09(lat, lng float64) (bdLat, bdLng float64) {
	return GCJ02ToBD09(WGS84ToGCJ02(lat, lng))
}

// BD09ToWGS84 converts a BD-09 position back to WGS-84.
func BD09ToWGS84(lat, lng float64) (wgsLat, wgsLng float64) {
	return GCJ02ToWGS84(BD09ToGCJ02(lat, lng))
}

// DistanceM is the great-circle (haversine) distance in metres between two
// positions in the same datum.
func DistanceM(lat1, lng1, lat2, lng2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLng := (lng2 - lng1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}
