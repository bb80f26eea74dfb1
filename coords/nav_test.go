package coords

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u
}

func mustFloats(t *testing.T, s string) (float64, float64) {
	t.Helper()
	parts := strings.Split(s, ",")
	if len(parts) < 2 {
		t.Fatalf("%q: want two comma-separated numbers", s)
	}
	a, err1 := strconv.ParseFloat(parts[0], 64)
	b, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%q: %v %v", s, err1, err2)
	}
	return a, b
}

// Each link, read the way its app reads it (its own datum, its own order of
// latitude and longitude), must land within 0.5 m of the station.
func TestNavLinksLandOnTheStation(t *testing.T) {
	const lat, lng = 28.196, 112.977 // Changsha, Wuyi Square
	const name = "五一广场(东) 暖新驿站; A:1|2"
	l := NavLinks(lat, lng, name)
	// landed converts the link's numbers back to WGS-84 with inv (nil: they
	// are WGS-84 already) and checks where they land.
	landed := func(app string, inv func(lat, lng float64) (float64, float64), gotLat, gotLng float64) {
		t.Helper()
		if inv != nil {
			gotLat, gotLng = inv(gotLat, gotLng)
		}
		if d := DistanceM(lat, lng, gotLat, gotLng); d > 0.5 {
			t.Errorf("%s link lands %.2f m from the station, want < 0.5 m", app, d)
		}
	}

	t.Run("geo", func(t *testing.T) {
		m := regexp.MustCompile(`^geo:([-0-9.]+,[-0-9.]+)\?q=([-0-9.]+,[-0-9.]+)\((.*)\)$`).FindStringSubmatch(l.Geo)
		if m == nil {
			t.Fatalf("geo = %q, want geo:lat,lng?q=lat,lng(name)", l.Geo)
		}
		if m[1] != m[2] {
			t.Errorf("geo position %s and query %s differ", m[1], m[2])
		}
		gLat, gLng := mustFloats(t, m[1])
		landed("geo (WGS-84)", nil, gLat, gLng)
		label, err := url.PathUnescape(m[3])
		if err != nil || label != name {
			t.Errorf("geo label = %q (%v), want %q", label, err, name)
		}
	})

	t.Run("amap", func(t *testing.T) {
		u := mustParse(t, l.Amap)
		if u.Host != "uri.amap.com" || u.Path != "/navigation" {
			t.Errorf("amap = %s, want uri.amap.com/navigation", l.Amap)
		}
		q := u.Query()
		if c := q.Get("coordinate"); c != "" && c != "gaode" {
			t.Errorf("amap coordinate = %q, the position is GCJ-02", c)
		}
		to := strings.SplitN(q.Get("to"), ",", 3)
		if len(to) != 3 {
			t.Fatalf("amap to = %q, want lng,lat,name", q.Get("to"))
		}
		gLng, gLat := mustFloats(t, to[0]+","+to[1]) // Amap: lng first
		landed("amap (GCJ-02)", GCJ02ToWGS84, gLat, gLng)
		if strings.ContainsAny(to[2], ",|") || !strings.Contains(to[2], "暖新驿站") {
			t.Errorf("amap name = %q, want the name without , or |", to[2])
		}
		// The same numbers read as WGS-84 would be hundreds of metres off:
		// the conversion is what makes the link right.
		if d := DistanceM(lat, lng, gLat, gLng); d < 200 {
			t.Errorf("amap position is only %.0f m from the WGS-84 input: not converted?", d)
		}
	})

	t.Run("baidu", func(t *testing.T) {
		u := mustParse(t, l.Baidu)
		if u.Host != "api.map.baidu.com" || u.Path != "/marker" {
			t.Errorf("baidu = %s, want api.map.baidu.com/marker", l.Baidu)
		}
		q := u.Query()
		if q.Get("coord_type") != "bd09ll" {
			t.Errorf("baidu coord_type = %q, want bd09ll", q.Get("coord_type"))
		}
		bLat, bLng := mustFloats(t, q.Get("location")) // Baidu: lat first
		landed("baidu (BD-09)", BD09ToWGS84, bLat, bLng)
		if q.Get("title") != name || q.Get("output") != "html" {
			t.Errorf("baidu title %q output %q", q.Get("title"), q.Get("output"))
		}
	})

	t.Run("tencent", func(t *testing.T) {
		u := mustParse(t, l.Tencent)
		if u.Host != "apis.map.qq.com" || u.Path != "/uri/v1/marker" {
			t.Errorf("tencent = %s, want apis.map.qq.com/uri/v1/marker", l.Tencent)
		}
		q := u.Query()
		if q.Get("coord_type") != "2" {
			t.Errorf("tencent coord_type = %q, want 2 (Tencent's own GCJ-02)", q.Get("coord_type"))
		}
		attrs := map[string]string{}
		for _, kv := range strings.Split(q.Get("marker"), ";") {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				t.Fatalf("tencent marker attribute %q is not key:value", kv)
			}
			attrs[k] = v
		}
		gLat, gLng := mustFloats(t, attrs["coord"]) // Tencent: lat first
		landed("tencent (GCJ-02)", GCJ02ToWGS84, gLat, gLng)
		if !strings.Contains(attrs["title"], "暖新驿站") {
			t.Errorf("tencent title = %q", attrs["title"])
		}
	})
}

// Outside China the apps read WGS-84, and so do the links.
func TestNavLinksOutsideChina(t *testing.T) {
	l := NavLinks(51.5007, -0.1246, "Westminster")
	q := mustParse(t, l.Tencent).Query()
	if !strings.Contains(q.Get("marker"), "coord:51.500700,-0.124600") {
		t.Errorf("tencent marker = %q, want the input position", q.Get("marker"))
	}
}
