package reports

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/web"
)

// Datums of a street map's tiles. Nuanxin stores WGS-84 positions (what
// phones give); tiles drawn in GCJ-02 (Amap, Tencent) put a WGS-84 point
// several hundred metres off, so the form converts both ways for them.
const (
	DatumWGS84 = "wgs84" // 天地图 (CGCS2000, within centimetres of WGS-84), OpenStreetMap
	DatumGCJ02 = "gcj02" // Amap, Tencent
)

// MapTiles is a street map's tile source for the report form's manual
// position: an XYZ URL template, the datum its tiles are drawn in, and the
// credit the source asks to show. The zero value is no street map: the form
// draws the grid instead.
type MapTiles struct {
	URL         string // with {z}, {x}, {y} and optionally {s}
	Datum       string // DatumWGS84 or DatumGCJ02
	Attribution string
}

// ParseMapTiles checks a tile source as configured. An empty template is no
// street map (and then datum and attribution are ignored). Otherwise the
// template must be an absolute http or https URL naming {z}, {x} and {y},
// and the datum one of DatumWGS84 and DatumGCJ02. The error says which is
// wrong, for the operator reading it at start.
func ParseMapTiles(template, datum, attribution string) (MapTiles, error) {
	template = strings.TrimSpace(template)
	if template == "" {
		return MapTiles{}, nil
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(template, p) {
			return MapTiles{}, fmt.Errorf("map tiles %q: the URL template needs %s (and {z}, {x}, {y} all three), e.g. https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY", template, p)
		}
	}
	u, err := url.Parse(strings.NewReplacer("{s}", "0", "{z}", "0", "{x}", "0", "{y}", "0").Replace(template))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return MapTiles{}, fmt.Errorf("map tiles %q: give an http or https URL with a host", template)
	}
	switch d := strings.ToLower(strings.TrimSpace(datum)); d {
	case "":
		return MapTiles{}, fmt.Errorf("map tiles: say which coordinate system the tiles use: %s (天地图, OpenStreetMap) or %s (Amap, Tencent)", DatumWGS84, DatumGCJ02)
	case DatumWGS84, DatumGCJ02:
		datum = d
	default:
		return MapTiles{}, fmt.Errorf("map tiles datum %q: use %s (天地图, OpenStreetMap) or %s (Amap, Tencent)", datum, DatumWGS84, DatumGCJ02)
	}
	return MapTiles{URL: template, Datum: datum, Attribution: strings.TrimSpace(attribution)}, nil
}

// On reports whether a street map is configured.
func (t MapTiles) On() bool { return t.URL != "" }

// Origin is the scheme and host the tiles come from, with the host's
// subdomain placeholder spread to every subdomain ("https://*.tianditu.gov.cn"
// for https://t{s}.tianditu.gov.cn/…), in the form a Content-Security-Policy
// source takes. Empty when no street map is configured.
func (t MapTiles) Origin() string {
	if !t.On() {
		return ""
	}
	rest := t.URL[strings.Index(t.URL, "://")+3:]
	scheme := t.URL[:strings.Index(t.URL, "://")]
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if strings.Contains(host, "{s}") {
		// The whole label holding {s} becomes "*", the one wildcard CSP
		// allows (leftmost label only).
		labels := strings.Split(host, ".")
		for i, l := range labels {
			if strings.Contains(l, "{s}") {
				host = "*." + strings.Join(labels[i+1:], ".")
				break
			}
		}
	}
	return strings.ToLower(scheme) + "://" + strings.ToLower(host)
}

// Subdomains are what {s} takes, as the known sources spread their load:
// t0 to t7 for 天地图, webrd01 to 04 for Amap, a b c for OpenStreetMap and
// the rest.
func (t MapTiles) Subdomains() string {
	switch {
	case strings.Contains(t.URL, "tianditu"):
		return "01234567"
	case strings.Contains(t.URL, "autonavi") || strings.Contains(t.URL, "amap"):
		return "1234"
	}
	return "abc"
}

// PageOption sets an optional part of the report pages (MountPages).
type PageOption func(*pages)

// WithMapTiles gives the report form a street map for the manual position.
// Without it (or with the zero MapTiles) the form draws the grid.
func WithMapTiles(t MapTiles) PageOption {
	return func(p *pages) { p.tiles = t }
}

// formTiles is what the form's template needs of the street map.
type formTiles struct {
	MapTiles
	Subdomains           string
	CentreLat, CentreLng string
	Zoom                 int
}

// newFormTiles places the street map's first view on the middle of the
// grid (the city), or on the whole country when no grid is loaded; the
// form moves it to the phone's position once it has one.
func newFormTiles(t MapTiles, cells []grid.CellView) *formTiles {
	if !t.On() {
		return nil
	}
	f := &formTiles{MapTiles: t, Subdomains: t.Subdomains(), CentreLat: "35", CentreLng: "105", Zoom: 4}
	if len(cells) > 0 {
		b := cells[0].Bound()
		for _, c := range cells[1:] {
			b = b.Union(c.Bound())
		}
		c := b.Center()
		g := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
		f.CentreLat, f.CentreLng, f.Zoom = g(c.Lat()), g(c.Lon()), 13
	}
	return f
}

// formMessages are the words the report form gained with its draft, its
// gallery button and its zoomable or street map. They sit beside the map
// settings rather than in pageMessages so that the two could change at the
// same time; they are added to the same catalogue.
var formMessages = map[string]web.Msg{
	"report.gallery":          {ZH: "从相册选择", EN: "Choose from gallery"},
	"report.photos_label":     {ZH: "照片", EN: "Photos"},
	"report.draft_restored":   {ZH: "已恢复上次没有提交的草稿。", EN: "Your unsent draft was restored."},
	"report.draft_discard":    {ZH: "放弃草稿", EN: "Discard draft"},
	"report.zoom_in":          {ZH: "放大地图", EN: "Zoom in"},
	"report.zoom_out":         {ZH: "缩小地图", EN: "Zoom out"},
	"report.street_map_label": {ZH: "街道地图：拖动图钉或点一下地图选择位置", EN: "Street map: drag the pin or tap the map to pick the place"},
	"report.street_map_hint":  {ZH: "拖动图钉，或在地图上点一下问题所在的位置。", EN: "Drag the pin, or tap the map where the problem is."},
	"report.js.fix_fields":    {ZH: "请修改下面标出的内容。", EN: "Please fix what is marked below."},
}
