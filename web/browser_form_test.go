package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/app"
	"github.com/nuanxin/nuanxin/coords"
)

// The rider's report form (issue 10): the camera and the gallery, errors
// next to their fields, the send button in reach, the draft that survives
// closing the tab, Back after sending, the zoomable grid and the street map.

// newEnvWith is newEnv with more settings, built by app.New as the binary is.
func newEnvWith(t *testing.T, settings map[string]string) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	vars := map[string]string{
		"NUANXIN_DATA_DIR":       t.TempDir(),
		"NUANXIN_ADMIN_PASSWORD": adminPassword,
		"NUANXIN_LIVE_INTERVAL":  "100ms",
	}
	for k, v := range settings {
		vars[k] = v
	}
	cfg, err := app.ParseConfig(nil, func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("build the application: %v", err)
	}
	t.Cleanup(a.Close)
	return &env{app: a, srv: a.Server, accounts: a.Accounts, grid: a.Grid, gate: a.Gate, reports: a.Reports, inbox: a.Inbox}
}

// tileServer answers a 256×256 PNG for any tile and counts the requests:
// the street map's tiles, on this machine.
func tileServer(t *testing.T) (template string, served *atomic.Int64) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			c := color.RGBA{0xe8, 0xe4, 0xde, 0xff}
			if x%64 == 0 || y%64 == 0 {
				c = color.RGBA{0xb0, 0xa8, 0x9c, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	served = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/tiles/{z}/{x}/{y}.png", served
}

// phone makes the tab a 390×844 phone and sets its location access: at
// (lat, lng) when granted, refused otherwise.
func (b tab) phone(granted bool, lat, lng float64) {
	b.t.Helper()
	b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	setting := cdpbrowser.PermissionSettingDenied
	if granted {
		setting = cdpbrowser.PermissionSettingGranted
	}
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: setting, Origin: b.base,
	}); err != nil {
		b.t.Fatalf("set location access: %v", err)
	}
	if granted {
		accuracy := 10.0
		if _, err := chromedp.Call(b.ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
			Latitude: &lat, Longitude: &lng, Accuracy: &accuracy,
		}); err != nil {
			b.t.Fatalf("set the position: %v", err)
		}
	}
}

func (b tab) floats(expr string) []float64 {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b tab) number(expr string) float64 {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func testPhoto(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrowserFormFieldErrors: sending an empty form says what is missing
// next to each field (and once at the top, for screen readers); each
// message goes as soon as its field is fixed. The send button is on screen
// without scrolling, and the gallery feeds the same photo list as the camera.
func TestBrowserFormFieldErrors(t *testing.T) {
	e := newEnv(t)
	e.city(t)
	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	rider.phone(true, latT04, lngT04)
	rider.logIn("13800138000", riderPassword)
	rider.open("/report")
	rider.waitFor("the phone's position", `document.getElementById('lat').value !== ''`)

	// In reach at the top of the form, without scrolling.
	if got := rider.floats(`(() => { scrollTo(0, 0); const r = document.getElementById('report-submit').getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; })()`); got[0] < 0 || got[1] > got[2] {
		t.Errorf("the send button is at %.0f–%.0f px in a %.0f px screen: not in reach without scrolling", got[0], got[1], got[2])
	}

	rider.do("send the empty form", chromedp.Click(chromedp.CSS("#report-submit")))
	rider.waitFor("the errors", `!document.getElementById('photos-error').hidden && !document.getElementById('category-error').hidden`)
	if got := rider.text("#photos-error"); got != "请添加 1 到 3 张照片。" {
		t.Errorf("next to the photos: %q", got)
	}
	if got := rider.text("#category-error"); got != "请选择问题类型。" {
		t.Errorf("next to the categories: %q", got)
	}
	if got := rider.text("#report-error"); got == "" || rider.eval(`document.getElementById('report-error').getAttribute('role')`) != "alert" {
		t.Errorf("the summary at the top says %q; want a message in a role=alert box", got)
	}
	if rider.eval(`String(document.getElementById('photos').getAttribute('aria-invalid'))`) != "true" {
		t.Error("the photo input is not marked invalid")
	}
	rider.screenshot("form-errors-phone.png")

	rider.do("tap a category", chromedp.Click(chromedp.CSS(`.categories input[value="road_damage"]`)))
	rider.waitFor("the category's error gone", `document.getElementById('category-error').hidden && !document.getElementById('category-field').hasAttribute('aria-invalid')`)
	if rider.eval(`String(document.getElementById('photos-error').hidden)`) != "false" {
		t.Error("the photos' error went when the category was fixed")
	}

	// One photo from the gallery, one from the camera: one list.
	rider.do("choose from the gallery", chromedp.SetUploadFiles(chromedp.CSS("#gallery"), []string{testPhoto(t)}))
	rider.waitFor("the photos' error gone", `document.getElementById('photos-error').hidden && document.querySelectorAll('#previews li img').length === 1`)
	if got := rider.eval(`document.getElementById('report-error').textContent`); got != "" {
		t.Errorf("the summary still says %q once every field is fixed", got)
	}
	rider.do("take a photo", chromedp.SetUploadFiles(chromedp.CSS("#photos"), []string{testPhoto(t)}))
	rider.waitFor("two previews", `document.querySelectorAll('#previews li img').length === 2`)
	if got := rider.eval(`document.getElementById('photos').getAttribute('capture') + '|' + document.getElementById('gallery').hasAttribute('capture')`); got != "environment|false" {
		t.Errorf("camera capture | gallery has capture = %s; want environment|false", got)
	}
	rider.screenshot("form-two-photos-phone.png")
}

// TestBrowserFormDraftAndBack: what a rider typed and the photo they chose
// survive closing the tab; another rider on the same phone does not see
// them; a discarded draft is gone; once sent, the draft is cleared and Back
// from the report does not show the form.
func TestBrowserFormDraftAndBack(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	base := e.serve(t)
	browser := chrome(t)
	first := tab{t: t, ctx: browser, base: base}
	first.phone(false, 0, 0)
	first.logIn("13800138000", riderPassword)

	// A tab of its own, closed once the draft is written.
	tabCtx, closeTab := chromedp.NewContext(browser)
	a := tab{t: t, ctx: tabCtx, base: base}
	a.phone(false, 0, 0)
	a.open("/report")
	a.waitFor("the manual position", `document.getElementById('manual-pick').open`)
	// The preview pushes the form down when it appears: tap the category
	// only once it is there, so the tap lands on the tile meant.
	a.do("choose a photo", chromedp.SetUploadFiles(chromedp.CSS("#gallery"), []string{testPhoto(t)}))
	a.waitFor("the preview", `document.querySelectorAll('#previews li img').length === 1`)
	a.do("fill the form",
		chromedp.Click(chromedp.CSS(`.categories input[value="sanitation"]`)),
		chromedp.SendKeys(chromedp.CSS("#description"), "垃圾堆在路口"),
		chromedp.SendKeys(chromedp.CSS("#address"), "五一大道口"),
		chromedp.SendKeys(chromedp.CSS("#lat"), "28.205"),
		chromedp.SendKeys(chromedp.CSS("#lng"), "112.975"))
	a.waitFor("the category chosen", `document.querySelector('.categories input[value="sanitation"]').checked`)
	key := "nx.report.draft." + c.rider.ID
	a.waitFor("the draft kept", `(() => { const d = JSON.parse(localStorage.getItem('`+key+`') || '{}'); return d.description === '垃圾堆在路口' && d.lat === '28.205' && d.manual === 'true'; })()`)
	if got, err := chromedp.Run(a.ctx, chromedp.Evaluate[float64](draftPhotos(c.rider.ID), chromedp.EvalAwaitPromise)); err != nil || got != 1 {
		t.Fatalf("%v photos kept in IndexedDB (%v), want 1", got, err)
	}
	closeTab()

	b := tab{t: t, ctx: browser, base: base}
	b.open("/")
	b.open("/report")
	b.waitFor("the draft restored", `!document.getElementById('draft-note').hidden && document.querySelectorAll('#previews li img').length === 1`)
	for _, check := range []struct{ expr, want string }{
		{`document.getElementById('description').value`, "垃圾堆在路口"},
		{`document.getElementById('address').value`, "五一大道口"},
		{`document.querySelector('.categories input:checked').value`, "sanitation"},
		{`document.getElementById('lat').value + ',' + document.getElementById('lng').value`, "28.205,112.975"},
		{`document.getElementById('manual').value`, "true"},
	} {
		if got := b.eval(check.expr); got != check.want {
			t.Errorf("restored %s = %q, want %q", check.expr, got, check.want)
		}
	}
	b.screenshot("form-draft-restored-phone.png")

	// Another rider on the same phone sees an empty form, and their own
	// draft, once discarded, is gone.
	b.load("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	b.logIn("13900139000", riderPassword)
	b.open("/report")
	b.waitFor("the form", `document.getElementById('manual-pick').open`)
	if got := b.eval(`String(document.getElementById('draft-note').hidden) + '|' + document.getElementById('description').value + '|' + document.querySelectorAll('#previews li').length`); got != "true||0" {
		t.Errorf("the second rider's form: draft note hidden|description|photos = %s, want true||0", got)
	}
	b.do("type", chromedp.SendKeys(chromedp.CSS("#description"), "路灯不亮"))
	b.waitFor("the second draft kept", `(localStorage.getItem('nx.report.draft.`+c.rider2.ID+`') || '').includes('路灯不亮')`)
	b.open("/report")
	b.waitFor("the second draft restored", `!document.getElementById('draft-note').hidden && document.getElementById('description').value === '路灯不亮'`)
	b.do("discard it", chromedp.Click(chromedp.CSS("#draft-discard")))
	b.waitFor("the form emptied", `document.getElementById('draft-note').hidden && document.getElementById('description').value === '' && localStorage.getItem('nx.report.draft.`+c.rider2.ID+`') === null`)
	b.open("/report")
	b.waitFor("the form", `document.getElementById('manual-pick').open`)
	if got := b.eval(`String(document.getElementById('draft-note').hidden) + '|' + document.getElementById('description').value`); got != "true|" {
		t.Errorf("after discarding, the form reopens with draft note hidden|description = %s", got)
	}

	// The first rider again: their draft is there; they send it.
	b.load("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	b.logIn("13800138000", riderPassword)
	b.open("/")
	b.open("/report")
	b.waitFor("the draft restored", `!document.getElementById('draft-note').hidden && document.querySelectorAll('#previews li img').length === 1`)
	b.do("send", chromedp.Click(chromedp.CSS("#report-submit")))
	b.waitFor("the report page", `location.pathname.startsWith('/reports/') && document.getElementById('report-status') !== null`)
	mine, err := e.reports.Mine(t.Context(), c.rider.ID)
	if err != nil || len(mine) != 1 {
		t.Fatalf("%d reports stored (%v), want 1", len(mine), err)
	}
	if r := mine[0]; r.Category != "sanitation" || r.Description != "垃圾堆在路口" || r.Address != "五一大道口" || len(r.Photos) != 1 ||
		math.Abs(r.Lat-28.205) > 1e-9 || math.Abs(r.Lng-112.975) > 1e-9 || r.LocationSource != "manual" {
		t.Errorf("stored %+v; want the restored draft", r)
	}
	if got := b.eval(`String(localStorage.getItem('` + key + `'))`); got != "null" {
		t.Errorf("the draft is still kept after sending: %s", got)
	}
	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](draftPhotos(c.rider.ID), chromedp.EvalAwaitPromise)); err != nil || got != 0 {
		t.Errorf("%v draft photos left after sending (%v), want 0", got, err)
	}

	// Back from the report goes where the rider was before the form: the
	// form is not in the tab's history. (Read from the history itself:
	// going back to a page the browser restores from its back-forward
	// cache leaves the DevTools protocol without the page's context.)
	hist, err := chromedp.Call(b.ctx, cdppage.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatalf("the tab's history: %v", err)
	}
	if i := hist.CurrentIndex; i < 1 || hist.Entries[i].URL != base+"/reports/"+mine[0].ID || hist.Entries[i-1].URL != base+"/" {
		var urls []string
		for _, h := range hist.Entries {
			urls = append(urls, h.URL)
		}
		t.Errorf("history %v at %d: want the report, and before it the home page the rider opened the form from", urls, hist.CurrentIndex)
	}
	b.open("/report")
	b.waitFor("the form", `document.getElementById('manual-pick').open`)
	if got := b.eval(`String(document.getElementById('draft-note').hidden) + '|' + document.querySelectorAll('#previews li').length`); got != "true|0" {
		t.Errorf("the form after sending: draft note hidden|photos = %s, want true|0", got)
	}
}

// draftPhotos counts the photos kept in the draft of account id (IndexedDB).
func draftPhotos(id string) string {
	return `new Promise(resolve => {
  const rq = indexedDB.open('nx-report-draft', 1);
  rq.onupgradeneeded = () => rq.result.createObjectStore('photos');
  rq.onsuccess = () => {
    const db = rq.result, g = db.transaction('photos').objectStore('photos').get('` + id + `');
    g.onsuccess = () => { db.close(); resolve(g.result ? g.result.length : 0); };
    g.onerror = () => { db.close(); resolve(-1); };
  };
  rq.onerror = () => resolve(-1);
})`
}

// TestBrowserFormGridZoom: without a street map, the grid drawing zooms in
// with its button, its labels stay 14 px or more on screen, and a tap on
// the zoomed drawing still picks the place tapped.
func TestBrowserFormGridZoom(t *testing.T) {
	e := newEnv(t)
	e.city(t)
	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	rider.phone(false, 0, 0)
	rider.logIn("13800138000", riderPassword)
	rider.open("/report")
	rider.waitFor("the manual position", `document.getElementById('manual-pick').open && !document.getElementById('pick-zoom').hidden`)
	if rider.eval(`String(document.getElementById('street-map') === null && !window.L)`) != "true" {
		t.Fatal("without NUANXIN_MAP_TILES the form loads a street map")
	}
	labelPx := `Math.min(...Array.from(document.querySelectorAll('#pick-map text')).map(el => {
		const m = el.getScreenCTM(); return parseFloat(getComputedStyle(el).fontSize) * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)); }))`
	if px := rider.number(labelPx); px < 14 {
		t.Errorf("the smallest label is %.1f px on screen, want 14 or more", px)
	}
	w0 := rider.number(`document.getElementById('pick-map').viewBox.baseVal.width`)
	rider.do("zoom in", chromedp.Click(chromedp.CSS(`#pick-zoom button[data-zoom="in"]`)))
	rider.waitFor("the zoomed drawing", fmt.Sprintf(`document.getElementById('pick-map').viewBox.baseVal.width < %f`, w0*0.6))
	if px := rider.number(labelPx); px < 14 {
		t.Errorf("zoomed in, the smallest label is %.1f px on screen, want 14 or more", px)
	}
	rider.screenshot("form-grid-zoomed-phone.png")

	// The middle of T-01 as drawn now (zoomed, maybe half off screen: tap
	// the visible part's middle of the cell's path box clipped to the map).
	xy := rider.floats(`(() => {
		const svg = document.getElementById('pick-map'), p = svg.querySelector('g[data-code="T-01"] path');
		svg.scrollIntoView({block: 'center'});
		const r = p.getBoundingClientRect(), s = svg.getBoundingClientRect();
		const x0 = Math.max(r.left, s.left), x1 = Math.min(r.right, s.right), y0 = Math.max(r.top, s.top), y1 = Math.min(r.bottom, s.bottom);
		return [(x0 + x1) / 2, (y0 + y1) / 2];
	})()`)
	// Where that point is, by the drawing's own numbers.
	want := rider.floats(fmt.Sprintf(`(() => {
		const svg = document.getElementById('pick-map'), d = svg.dataset, pt = svg.createSVGPoint();
		pt.x = %f; pt.y = %f;
		const p = pt.matrixTransform(svg.getScreenCTM().inverse());
		return [+d.lat0 - (p.y - d.margin) / d.ky, +d.lon0 + (p.x - d.margin) / d.kx];
	})()`, xy[0], xy[1]))
	rider.do("tap the zoomed map", chromedp.MouseClickXY(xy[0], xy[1]))
	rider.waitFor("the picked place", `document.getElementById('lat').value !== '' && document.getElementById('pick-marker').getAttribute('visibility') === 'visible'`)
	la, _ := strconv.ParseFloat(rider.eval(`document.getElementById('lat').value`), 64)
	ln, _ := strconv.ParseFloat(rider.eval(`document.getElementById('lng').value`), 64)
	if math.Abs(la-want[0]) > 3e-5 || math.Abs(ln-want[1]) > 3e-5 { // about two pixels
		t.Errorf("tapped (%.6f, %.6f); the form picked (%.6f, %.6f)", want[0], want[1], la, ln)
	}
	// Inside T-01 (28.20–28.21, 112.97–112.98).
	if la < 28.2 || la > 28.21 || ln < 112.97 || ln > 112.98 {
		t.Errorf("tapped inside T-01 but picked (%.6f, %.6f)", la, ln)
	}
}

// TestBrowserFormCoordsPort holds the page's WGS-84 ⇄ GCJ-02 conversion
// (reports/static/coords.js, served with the street map) to the Go
// functions it ports: the published pairs of coords_test.go and a grid of
// points over Changsha agree within 1e-7°, both ways.
func TestBrowserFormCoordsPort(t *testing.T) {
	tiles, _ := tileServer(t)
	e := newEnvWith(t, map[string]string{"NUANXIN_MAP_TILES": tiles, "NUANXIN_MAP_TILES_DATUM": "gcj02"})
	e.city(t)
	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	rider.logIn("13800138000", riderPassword)
	rider.open("/report")
	rider.waitFor("the conversion", `window.nxCoords !== undefined`)

	points := [][2]float64{
		// coords_test.go's pairs, WGS-84 and GCJ-02 sides.
		{31.1774276, 121.5272106}, {31.17530398364597, 121.531541859215},
		{22.543847, 113.912316}, {22.540796131694766, 113.9171764808363},
		{39.911954, 116.377817}, {39.91334545536069, 116.38404722455657},
		{39.915, 116.404}, {39.91640428150164, 116.41024449916938},
		// Outside China: unchanged.
		{51.5, -0.12}, {-33.86, 151.21},
	}
	for i := range 11 {
		for j := range 11 {
			points = append(points, [2]float64{27.95 + 0.06*float64(i), 112.65 + 0.07*float64(j)})
		}
	}
	in, _ := json.Marshal(points)
	raw := rider.eval(`JSON.stringify(` + string(in) + `.map(p => [nxCoords.wgs84ToGcj02(p[0], p[1]), nxCoords.gcj02ToWgs84(p[0], p[1])]))`)
	var got [][2][2]float64
	if err := json.Unmarshal([]byte(raw), &got); err != nil || len(got) != len(points) {
		t.Fatalf("the page's answers %s: %v", raw, err)
	}
	const tol = 1e-7
	worst := 0.0
	for i, p := range points {
		fLat, fLng := coords.WGS84ToGCJ02(p[0], p[1])
		bLat, bLng := coords.GCJ02ToWGS84(p[0], p[1])
		for _, d := range []float64{got[i][0][0] - fLat, got[i][0][1] - fLng, got[i][1][0] - bLat, got[i][1][1] - bLng} {
			worst = math.Max(worst, math.Abs(d))
		}
		if math.Abs(got[i][0][0]-fLat) > tol || math.Abs(got[i][0][1]-fLng) > tol {
			t.Errorf("wgs84ToGcj02(%v): page %v, Go (%.10f, %.10f)", p, got[i][0], fLat, fLng)
		}
		if math.Abs(got[i][1][0]-bLat) > tol || math.Abs(got[i][1][1]-bLng) > tol {
			t.Errorf("gcj02ToWgs84(%v): page %v, Go (%.10f, %.10f)", p, got[i][1], bLat, bLng)
		}
	}
	t.Logf("%d points, both ways: largest difference between the page and Go %.3g°", len(points), worst)
}

// TestBrowserFormStreetMap: with NUANXIN_MAP_TILES set (a tile server on
// this machine), the manual position is a Leaflet street map with a pin at
// the phone's position; dragging the pin or tapping the map fills the
// position, turned back to WGS-84 from GCJ-02 tiles; the report is stored
// there. The tiles load, so the Content-Security-Policy allows their host.
func TestBrowserFormStreetMap(t *testing.T) {
	for _, datum := range []string{"wgs84", "gcj02"} {
		t.Run(datum, func(t *testing.T) {
			tiles, served := tileServer(t)
			e := newEnvWith(t, map[string]string{"NUANXIN_MAP_TILES": tiles, "NUANXIN_MAP_TILES_DATUM": datum, "NUANXIN_MAP_TILES_ATTRIBUTION": "测试底图 <b>x</b>"})
			c := e.city(t)
			base := e.serve(t)
			rider := tab{t: t, ctx: chrome(t), base: base}
			rider.phone(true, latT04, lngT04)
			rider.logIn("13800138000", riderPassword)
			rider.open("/report")
			rider.waitFor("the phone's position", `document.getElementById('lat').value !== '' && document.getElementById('manual').value === 'false'`)
			if n := served.Load(); n != 0 {
				t.Errorf("%d tiles fetched before the rider opened the map, want none (riders pay for data)", n)
			}
			if rider.eval(`String(document.getElementById('pick-map') === null)`) != "true" {
				t.Error("with a street map the grid drawing is drawn too")
			}

			toMap := func(lat, lng float64) (float64, float64) {
				if datum == "gcj02" {
					return coords.WGS84ToGCJ02(lat, lng)
				}
				return lat, lng
			}
			field := func() (float64, float64) {
				la, err1 := strconv.ParseFloat(rider.eval(`document.getElementById('lat').value`), 64)
				ln, err2 := strconv.ParseFloat(rider.eval(`document.getElementById('lng').value`), 64)
				if err1 != nil || err2 != nil {
					t.Fatalf("the position fields: %v %v", err1, err2)
				}
				return la, ln
			}
			pin := func() (float64, float64) {
				p := rider.floats(`[parseFloat(document.getElementById('street-map').dataset.pinLat), parseFloat(document.getElementById('street-map').dataset.pinLng)]`)
				return p[0], p[1]
			}
			// checkPin: the pin is drawn at the tiles' datum of the
			// position in the fields, as the Go conversion has it.
			checkPin := func(what string) {
				t.Helper()
				la, ln := field()
				wantLat, wantLng := toMap(la, ln)
				pLat, pLng := pin()
				if math.Abs(pLat-wantLat) > 1e-7 || math.Abs(pLng-wantLng) > 1e-7 {
					t.Errorf("%s: the pin is at (%.9f, %.9f), want (%.9f, %.9f), the %s of the position (%.6f, %.6f)", what, pLat, pLng, wantLat, wantLng, datum, la, ln)
				}
				if d := coords.DistanceM(pLat, pLng, la, ln); (datum == "gcj02") != (d > 100) {
					t.Errorf("%s: the pin is %.0f m from the WGS-84 position: want hundreds on GCJ-02 tiles, none on WGS-84", what, d)
				}
			}
			// iconTip is where the pin points on screen (its bottom middle).
			iconTip := func() (float64, float64) {
				p := rider.floats(`(() => { const r = document.querySelector('#street-map .leaflet-marker-icon').getBoundingClientRect(); return [r.left + r.width / 2, r.bottom]; })()`)
				return p[0], p[1]
			}

			rider.do("open the manual position", chromedp.Click(chromedp.CSS("#manual-pick summary")))
			rider.waitFor("the street map's tiles", `(() => {
				const ts = Array.from(document.querySelectorAll('#street-map img.leaflet-tile-loaded'));
				return ts.length > 0 && ts.every(i => i.complete && i.naturalWidth === 256) && document.querySelector('#street-map .leaflet-marker-icon') !== null;
			})()`)
			if served.Load() == 0 {
				t.Error("no tile was fetched from the tile server")
			}
			if got := rider.text("#street-map .leaflet-control-attribution"); !strings.Contains(got, "测试底图 <b>x</b>") {
				t.Errorf("the credit says %q; want the configured text, as text", got)
			}
			checkPin("at the phone's position")
			rider.screenshot("form-street-map-" + datum + "-phone.png")

			// Drag the pin 60 px right and 40 px up.
			rider.do("bring the map into view", chromedp.Evaluate[chromedp.Void](`document.getElementById('street-map').scrollIntoView({block: 'center'})`))
			x0, y0 := iconTip()
			gx, gy := x0, y0-20 // grab the pin's body, above its tip
			steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, gx, gy, chromedp.ButtonLeft, chromedp.ClickCount(1))}
			for i := 1; i <= 10; i++ {
				steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, gx+6*float64(i), gy-4*float64(i), chromedp.ButtonLeft))
			}
			steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, gx+60, gy-40, chromedp.ButtonLeft, chromedp.ClickCount(1)))
			rider.do("drag the pin", steps...)
			rider.waitFor("the dragged position", `document.getElementById('manual').value === 'true' && document.getElementById('geo-status').textContent.includes('已手动选择')`)
			checkPin("dragged")
			if x1, y1 := iconTip(); math.Abs(x1-(x0+60)) > 3 || math.Abs(y1-(y0-40)) > 3 {
				t.Errorf("the pin was dropped at (%.0f, %.0f) but is drawn at (%.0f, %.0f): the position filled is not where it was dropped", x0+60, y0-40, x1, y1)
			}
			la, ln := field()
			if d := coords.DistanceM(la, ln, latT04, lngT04); d < 30 || d > 1000 {
				t.Errorf("dragging 72 px moved the position %.0f m, want tens of metres", d)
			}

			// Tap the map 50 px left of and 60 px below the pin.
			x1, y1 := iconTip()
			rider.do("tap the map", chromedp.MouseClickXY(x1-50, y1+60))
			rider.waitFor("the tapped position", fmt.Sprintf(`document.getElementById('lat').value !== '%.6f'`, la))
			checkPin("tapped")
			if x2, y2 := iconTip(); math.Abs(x2-(x1-50)) > 3 || math.Abs(y2-(y1+60)) > 3 {
				t.Errorf("tapped (%.0f, %.0f) but the pin is drawn at (%.0f, %.0f)", x1-50, y1+60, x2, y2)
			}
			la, ln = field()

			rider.do("attach a photo", chromedp.SetUploadFiles(chromedp.CSS("#photos"), []string{testPhoto(t)}))
			rider.waitFor("the preview", `document.querySelectorAll('#previews li img').length === 1`)
			rider.do("tap a category", chromedp.Click(chromedp.CSS(`.categories input[value="road_damage"]`)))
			rider.waitFor("the category chosen", `document.querySelector('.categories input[value="road_damage"]').checked`)
			rider.do("send", chromedp.Click(chromedp.CSS("#report-submit")))
			rider.waitFor("the report page", `location.pathname.startsWith('/reports/') && document.getElementById('report-status') !== null`)
			mine, err := e.reports.Mine(t.Context(), c.rider.ID)
			if err != nil || len(mine) != 1 {
				t.Fatalf("%d reports (%v), want 1", len(mine), err)
			}
			r := mine[0]
			if math.Abs(r.Lat-la) > 1e-9 || math.Abs(r.Lng-ln) > 1e-9 || r.LocationSource != "manual" {
				t.Errorf("stored at (%.7f, %.7f) from %s; want the WGS-84 position (%.6f, %.6f) picked by hand", r.Lat, r.Lng, r.LocationSource, la, ln)
			}
		})
	}
}
