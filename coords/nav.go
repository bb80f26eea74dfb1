package coords

import (
	"net/url"
	"strconv"
	"strings"
)

// Links are the one-tap navigation links (一键导航) to a place.
//
// Amap and Tencent read GCJ-02 and Baidu reads BD-09. Each link carries the
// place already converted to the app's own datum, and says which datum it is
// in (Baidu's coord_type=bd09ll, Tencent's coord_type=2), rather than
// passing WGS-84 with the parameter that asks the app to convert: the
// conversion here is tested against published pairs, while an app that
// ignored or dropped that parameter (Amap's route planner does not document
// one) would land the rider some 500 m off.
type Links struct {
	Geo     string `json:"geo" doc:"geo: URI (RFC 5870) in WGS-84, which Android hands to the rider's map app"`
	Amap    string `json:"amap" doc:"Amap (高德) route planner to the place, GCJ-02"`
	Baidu   string `json:"baidu" doc:"Baidu (百度) map marker, BD-09"`
	Tencent string `json:"tencent" doc:"Tencent (腾讯) map marker, GCJ-02"`
}

// src names Nuanxin to the map providers, as their URI APIs ask callers to.
const src = "nuanxin"

// NavLinks builds the navigation links to the WGS-84 position (lat, lng)
// named name.
func NavLinks(lat, lng float64, name string) Links {
	name = strings.TrimSpace(name)
	gLat, gLng := WGS84ToGCJ02(lat, lng)
	bLat, bLng := WGS84ToBD09(lat, lng)

	// geo:lat,lng?q=lat,lng(label): the label form Android's map apps show.
	wgs := deg(lat) + "," + deg(lng)
	geo := "geo:" + wgs + "?q=" + wgs + "(" + escapeLabel(name) + ")"

	// Amap's route planner: from the rider's own position (from left empty)
	// to the station, by bike (mode=ride), in the Amap app when installed.
	amap := "https://uri.amap.com/navigation?" + url.Values{
		"to":         {deg(gLng) + "," + deg(gLat) + "," + stripDelims(name, ",|")},
		"mode":       {"ride"},
		"src":        {src},
		"callnative": {"1"},
	}.Encode()

	baidu := "https://api.map.baidu.com/marker?" + url.Values{
		"location":   {deg(bLat) + "," + deg(bLng)},
		"coord_type": {"bd09ll"},
		"title":      {name},
		"content":    {name},
		"output":     {"html"},
		"src":        {"webapp." + src + "." + src},
	}.Encode()

	// Tencent's marker attributes are "key:value" pairs joined by ";", so
	// those characters cannot appear in the title.
	tencent := "https://apis.map.qq.com/uri/v1/marker?" + url.Values{
		"marker":     {"coord:" + deg(gLat) + "," + deg(gLng) + ";title:" + stripDelims(name, ";:|")},
		"coord_type": {"2"},
		"referer":    {src},
	}.Encode()

	return Links{Geo: geo, Amap: amap, Baidu: baidu, Tencent: tencent}
}

// deg formats degrees with 6 decimals (about 0.1 m), the most Baidu accepts.
func deg(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

// escapeLabel percent-encodes a geo: URI label; parentheses would end it early.
func escapeLabel(s string) string {
	return strings.NewReplacer("(", "%28", ")", "%29").Replace(url.PathEscape(s))
}

func stripDelims(s, delims string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(delims, r) {
			return ' '
		}
		return r
	}, s)
}
