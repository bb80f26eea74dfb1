package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad duration", map[string]string{"NUANXIN_ACKNOWLEDGE_WITHIN": "soon"}, "acknowledge-within"},
		{"reload too slow", map[string]string{"NUANXIN_RELOAD_INTERVAL": "10s"}, "5s"},
		{"S3 without keys", map[string]string{"NUANXIN_S3_ENDPOINT": "minio:9000"}, "ACCESS_KEY"},
		{"short bucket", map[string]string{"NUANXIN_S3_BUCKET": "nx"}, "3 characters"},
		{"bad log level", map[string]string{"NUANXIN_LOG_LEVEL": "loud"}, "log level"},
		{"categories not JSON", map[string]string{"NUANXIN_CATEGORIES_FILE": write("a.json", "road")}, "JSON list"},
		{"category twice", map[string]string{"NUANXIN_CATEGORIES_FILE": write("b.json", `[{"code":"x","zh":"甲","en":"X"},{"code":"x","zh":"乙","en":"Y"}]`)}, "twice"},
		{"category without name", map[string]string{"NUANXIN_CATEGORIES_FILE": write("c.json", `[{"code":"x","zh":"甲"}]`)}, "en name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(nil, func(k string) string { return c.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	cfg, err := ParseConfig(nil, func(k string) string {
		if k == "NUANXIN_CATEGORIES_FILE" {
			return write("ok.json", `[{"code":"pothole","zh":"坑洼","en":"Pothole"}]`)
		}
		return ""
	}, io.Discard)
	if err != nil || len(cfg.Categories) != 1 || cfg.Categories[0].Code != "pothole" {
		t.Errorf("good categories file: %+v, %v", cfg.Categories, err)
	}
	if cfg.Addr != ":8080" || cfg.Storage.DataDir != "./data" || cfg.AcknowledgeWithin.String() != "10m0s" {
		t.Errorf("defaults: addr %q data %q ack %s", cfg.Addr, cfg.Storage.DataDir, cfg.AcknowledgeWithin)
	}
}

// TestConfigMapTiles: the street map's settings are checked at start, with a
// message naming what is wrong, and the tile host is what the pages'
// Content-Security-Policy will allow images from.
func TestConfigMapTiles(t *testing.T) {
	const (
		tianditu = "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY"
		amap     = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
	)
	refused := []struct {
		name          string
		url, datum    string
		wantInMessage string
	}{
		{"no z", "https://tile.example.org/{x}/{y}.png", "wgs84", "{z}"},
		{"no y", "https://tile.example.org/{z}/{x}.png", "wgs84", "{y}"},
		{"not http", "ftp://tile.example.org/{z}/{x}/{y}.png", "wgs84", "http or https"},
		{"no host", "https:///{z}/{x}/{y}.png", "wgs84", "http or https"},
		{"relative", "/tiles/{z}/{x}/{y}.png", "wgs84", "http or https"},
		{"no datum", tianditu, "", "wgs84"},
		{"bad datum", amap, "bd09", "gcj02"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"NUANXIN_MAP_TILES": c.url, "NUANXIN_MAP_TILES_DATUM": c.datum}
			_, err := ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "NUANXIN_MAP_TILES") || !strings.Contains(err.Error(), c.wantInMessage) {
				t.Errorf("err = %v, want one naming NUANXIN_MAP_TILES and %q", err, c.wantInMessage)
			}
		})
	}

	accepted := []struct {
		name, url, datum, credit string
		wantDatum, wantOrigin    string
		wantSubdomains           string
	}{
		{"tianditu", tianditu, "wgs84", "© 天地图", "wgs84", "https://*.tianditu.gov.cn", "01234567"},
		{"amap, datum in capitals", amap, "GCJ02", "© 高德地图", "gcj02", "https://*.is.autonavi.com", "1234"},
		{"local, with a port", "http://127.0.0.1:8901/tiles/{z}/{x}/{y}.png", "wgs84", "", "wgs84", "http://127.0.0.1:8901", "abc"},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"NUANXIN_MAP_TILES": c.url, "NUANXIN_MAP_TILES_DATUM": c.datum, "NUANXIN_MAP_TILES_ATTRIBUTION": c.credit}
			cfg, err := ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			m := cfg.MapTiles
			if !m.On() || m.URL != c.url || m.Datum != c.wantDatum || m.Attribution != c.credit {
				t.Errorf("map tiles %+v, want %s in %s credited %q", m, c.url, c.wantDatum, c.credit)
			}
			if got := m.Origin(); got != c.wantOrigin {
				t.Errorf("Origin() = %q, want %q", got, c.wantOrigin)
			}
			if got := m.Subdomains(); got != c.wantSubdomains {
				t.Errorf("Subdomains() = %q, want %q", got, c.wantSubdomains)
			}
		})
	}

	// The flag wins over the variable, as for every setting.
	cfg, err := ParseConfig([]string{"-map-tiles", "https://tiles.example.org/{z}/{x}/{y}.png", "-map-tiles-datum", "wgs84"},
		func(k string) string { return map[string]string{"NUANXIN_MAP_TILES": amap}[k] }, io.Discard)
	if err != nil || cfg.MapTiles.URL != "https://tiles.example.org/{z}/{x}/{y}.png" {
		t.Errorf("flag over variable: %+v, %v", cfg.MapTiles, err)
	}
	// Unset: no street map, and a datum alone is no error.
	cfg, err = ParseConfig(nil, func(k string) string { return map[string]string{"NUANXIN_MAP_TILES_DATUM": "gcj02"}[k] }, io.Discard)
	if err != nil || cfg.MapTiles.On() || cfg.MapTiles.Origin() != "" {
		t.Errorf("no template: %+v, %v; want no street map", cfg.MapTiles, err)
	}
}
