package web

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/grid"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/admin/grid", "/admin/grid"},
		{"/login?next=%2F", "/login?next=%2F"},
		{"", "/"},
		{"admin", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{`/\evil.example`, "/"},
		{"/\tevil", "/"},
		{"/a\r\nSet-Cookie: x=1", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
	}
	for _, tc := range tests {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNegotiateLang(t *testing.T) {
	tests := []struct {
		header string
		want   lang
	}{
		{"", langZH},
		{"en", langEN},
		{"en-GB,en;q=0.8", langEN},
		{"zh-TW,zh;q=0.9,en;q=0.8", langZH},
		{"de-DE,de;q=0.9,en;q=0.8,zh;q=0.5", langEN},
		{"en;q=0.2, zh-CN;q=0.9", langZH},
		{"en;q=0, fr", langZH},
		{"*", langZH},
		{"english", langZH},
	}
	for _, tc := range tests {
		if got := negotiateLang(tc.header); got != tc.want {
			t.Errorf("negotiateLang(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

var verb = regexp.MustCompile(`%[sdvq]`)

// TestMessages checks the message table: both languages for every key, the
// same arguments in both, and every key the templates use present.
func TestMessages(t *testing.T) {
	for k, m := range messages {
		if m.zh == "" || m.en == "" {
			t.Errorf("message %q lacks a language: %+v", k, m)
		}
		if zh, en := verb.FindAllString(m.zh, -1), verb.FindAllString(m.en, -1); strings.Join(zh, "") != strings.Join(en, "") {
			t.Errorf("message %q: arguments %v in Chinese, %v in English", k, zh, en)
		}
	}
	used := regexp.MustCompile(`\bt "([a-z0-9_.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(name)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := messages[m[1]]; !ok {
				t.Errorf("%s uses message %q, which is not in the table", name, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range accounts.Works {
		if _, ok := messages["work."+string(w)]; !ok {
			t.Errorf("no message for work %q", w)
		}
	}
	for _, k := range append([]accounts.Kind{accounts.KindRider}, accounts.StaffKinds...) {
		if _, ok := messages["kind."+string(k)]; !ok {
			t.Errorf("no message for kind %q", k)
		}
	}
}

func TestProjectMap(t *testing.T) {
	square := func(code string, lng, lat float64) grid.CellView {
		ring := orb.Ring{{lng, lat}, {lng + 0.01, lat}, {lng + 0.01, lat + 0.01}, {lng, lat + 0.01}, {lng, lat}}
		return grid.CellView{Cell: grid.Cell{Code: code, Geometry: orb.MultiPolygon{{ring}}}}
	}
	// Two cells side by side at 60° north, where a degree of longitude is
	// half a degree of latitude: the map is as wide as it is high.
	cells := []grid.CellView{square("W", 10, 60), square("E", 10.01, 60)}
	cells[1].Assignment.Primary = &grid.OfficerRef{ID: "o1", Name: "Officer"}
	v := projectMap(cells)
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
	if got := projectMap(nil); got.ViewBox != "" || got.Cells != nil {
		t.Errorf("empty map: %+v", got)
	}
}
