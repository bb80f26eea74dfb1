package web_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// waitFor polls a JavaScript condition in the tab for up to 15 s: what a
// person would wait for without reloading the page. A poll cut short by the
// page navigating (the condition may be on the next page) starts again.
func (b tab) waitFor(what, condition string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := time.Until(deadline)
		_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](condition,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(left)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %s (%s): %v", what, condition, err)
		}
		b.t.Logf("waiting for %s: %v; polling again", what, err)
		if err := chromedp.Do(b.ctx, chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
			b.t.Logf("waiting for the next page: %v", err)
		}
	}
}

func (b tab) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// logIn logs in through the form.
func (b tab) logIn(login, password string) {
	b.t.Helper()
	b.open("/login")
	b.chinese()
	b.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS("#login"), login),
		chromedp.SendKeys(chromedp.CSS("#password"), password))
	if st := b.load("log in as "+login, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`))); st != http.StatusOK {
		b.t.Fatalf("log in as %s: status %d", login, st)
	}
	if strings.HasSuffix(b.location(), "/login") {
		b.t.Fatalf("log in as %s failed: %s", login, b.text("main"))
	}
}

// TestBrowserReportLifecycle is the acceptance test of reporting: a rider on
// a phone reports a problem with a photo where the phone says they are; the
// officer of that cell sees it arrive in their queue without reloading,
// acknowledges and verifies it; the rider's page follows every step without
// reloading. Two browsers, so two sets of cookies.
func TestBrowserReportLifecycle(t *testing.T) {
	e := newEnv(t)
	// The admin's setup, through the services: the 2×2 map, an officer as
	// the primary of T-04, and a registered rider.
	e.city(t)
	base := e.serve(t) // first, so that it stops after the browsers
	officer := tab{t: t, ctx: chrome(t), base: base}
	rider := tab{t: t, ctx: chrome(t), base: base}

	// The officer opens the queue: nothing yet.
	officer.logIn("officer.wang", officerPassword)
	if st := officer.open("/queue"); st != http.StatusOK {
		t.Fatalf("officer GET /queue: status %d", st)
	}
	if got := officer.text("#queue .empty"); !strings.Contains(got, "没有待处理的上报") {
		t.Fatalf("the empty queue says %q", got)
	}
	officer.do("mark the queue page", chromedp.Evaluate[chromedp.Void]("window.nxNoReload = true"))

	// The rider, on a phone, in T-04 with location access granted.
	rider.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	rider.logIn("13800138000", riderPassword)
	lat, lng, accuracy := latT04, lngT04, 12.0
	if _, err := chromedp.CallBrowser(rider.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: base,
	}); err != nil {
		t.Fatalf("grant geolocation: %v", err)
	}
	if _, err := chromedp.Call(rider.ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
		Latitude: &lat, Longitude: &lng, Accuracy: &accuracy,
	}); err != nil {
		t.Fatalf("set the position: %v", err)
	}
	if st := rider.open("/report"); st != http.StatusOK {
		t.Fatalf("rider GET /report: status %d", st)
	}
	rider.waitFor("the phone's position", `document.getElementById('lat').value !== '' && document.getElementById('geo-status').textContent.includes('已定位')`)
	if got := rider.text("#geo-status"); !strings.Contains(got, "12 米") {
		t.Errorf("the position status says %q, want the accuracy", got)
	}
	if got := rider.eval(`document.getElementById('manual').value`); got != "false" {
		t.Errorf("manual = %q for the phone's position, want false", got)
	}
	photo, err := filepath.Abs("testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	rider.do("attach a photo", chromedp.SetUploadFiles(chromedp.CSS("#photos"), []string{photo}))
	rider.waitFor("the photo's preview", `document.querySelectorAll('#previews li img').length === 1`)
	rider.do("tap a category and describe",
		chromedp.Click(chromedp.CSS(`.categories input[value="road_damage"]`)),
		chromedp.SendKeys(chromedp.CSS("#description"), "井盖缺失，夜里很危险"))
	rider.waitFor("the category chosen", `document.querySelector('.categories input[value="road_damage"]').checked`)
	if got := rider.text("#description-count"); got != "10 / 500" {
		t.Errorf("the counter says %q, want 10 / 500", got)
	}
	rider.screenshot("report-form-phone.png")

	rider.do("send", chromedp.Click(chromedp.CSS("#report-submit")))
	rider.waitFor("the report page", `location.pathname.startsWith('/reports/') && document.getElementById('report-status') !== null`)
	id := strings.TrimPrefix(rider.eval("location.pathname"), "/reports/")
	if got := rider.eval(`document.getElementById('report-status').dataset.status`); got != "submitted" {
		t.Fatalf("the new report's status is %q, want submitted", got)
	}
	if got := rider.text("#report-status"); got != "已提交" {
		t.Errorf("the status badge says %q, want 已提交", got)
	}
	r, err := e.reports.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("the report %s is not stored: %v", id, err)
	}
	if r.Cell != "T-04" || r.LocationSource != "device" || r.Category != "road_damage" || len(r.Photos) != 1 {
		t.Errorf("stored report %+v; want road damage in T-04 from the phone's position, one photo", r)
	}
	if got, _ := chromedp.Run(rider.ctx, chromedp.Evaluate[string](`sessionStorage.getItem('nx.report.pending') || ''`)); got != "" {
		t.Errorf("the pending report is still kept after it was saved")
	}
	rider.waitFor("the photo thumbnail", `document.querySelector('.photos img') && document.querySelector('.photos img').naturalWidth > 0`)
	rider.do("mark the report page", chromedp.Evaluate[chromedp.Void]("window.nxNoReload = true"))
	rider.screenshot("report-submitted-phone.png")

	// The officer's queue shows it, without a reload, with a toast.
	row := `[data-report-row="` + id + `"]`
	officer.waitFor("the new report in the queue", `document.querySelector('`+row+`') !== null`)
	officer.waitFor("the toast", `Array.from(document.querySelectorAll('.toast')).some(t => t.textContent.includes('新上报'))`)
	if got := officer.eval(`String(window.nxNoReload)`); got != "true" {
		t.Fatal("the queue page was reloaded")
	}
	if got := officer.text(row + " .due"); !strings.Contains(got, "确认时限：剩余") {
		t.Errorf("the queue row's deadline says %q", got)
	}
	officer.screenshot("queue-officer.png")

	// The officer opens it, acknowledges, then verifies with severity 2.
	if st := officer.load("open the report", chromedp.Click(chromedp.CSS(row+" a"))); st != http.StatusOK {
		t.Fatalf("officer opens the report: status %d", st)
	}
	if st := officer.load("acknowledge", chromedp.Click(chromedp.CSS("#act-acknowledge button"))); st != http.StatusOK {
		t.Fatalf("acknowledge: status %d", st)
	}
	if got := officer.eval(`document.getElementById('report-status').dataset.status`); got != "acknowledged" {
		t.Fatalf("after acknowledging the status is %q", got)
	}
	rider.waitFor("acknowledged on the rider's page", `document.getElementById('report-status').dataset.status === 'acknowledged'`)
	officer.do("choose severity 2", chromedp.Click(chromedp.CSS(`#act-verify input[name="severity"][value="2"]`)))
	if st := officer.load("verify", chromedp.Click(chromedp.CSS(`#act-verify button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("verify: status %d", st)
	}
	if got := officer.eval(`document.getElementById('report-status').dataset.status`); got != "verified" {
		t.Fatalf("after verifying the status is %q", got)
	}
	officer.screenshot("report-officer.png")

	// The rider's page follows, without a reload.
	rider.waitFor("verified on the rider's page", `document.getElementById('report-status').dataset.status === 'verified'`+
		` && document.querySelector('#timeline [data-action="acknowledge"]') !== null`+
		` && document.querySelector('#timeline [data-action="verify"]') !== null`)
	if got := rider.eval(`String(window.nxNoReload)`); got != "true" {
		t.Fatal("the rider's report page was reloaded")
	}
	if got := rider.text("#report-status"); got != "已核实" {
		t.Errorf("the status badge says %q, want 已核实", got)
	}
	if got := rider.text(`#timeline [data-action="verify"]`); !strings.Contains(got, "较重") || !strings.Contains(got, "网格员") || strings.Contains(got, "王网格") {
		t.Errorf("the verify step says %q; want the severity and the role, not the officer's name", got)
	}
	rider.waitFor("the unread badge", `document.querySelector('[data-unread]') && !document.querySelector('[data-unread]').hidden`)
	rider.screenshot("report-verified-phone.png")

	// Both steps reached the rider's inbox.
	if st := rider.open("/inbox"); st != http.StatusOK {
		t.Fatalf("GET /inbox: status %d", st)
	}
	if got := rider.text(".notes"); !strings.Contains(got, "已核实") || !strings.Contains(got, "确认收到") {
		t.Errorf("the inbox says %q", got)
	}
	rider.screenshot("inbox-phone.png")
}

// TestBrowserReportManualPickAndRetry: location access is denied, so the
// rider picks the place on the map; the server's first answer is lost on the
// way back (the report was saved), so the page retries with the same key and
// the rider still gets exactly one report.
func TestBrowserReportManualPickAndRetry(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	base := e.serve(t) // first, so that it stops after the browser
	rider := tab{t: t, ctx: chrome(t), base: base}
	rider.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	rider.logIn("13800138000", riderPassword)
	if _, err := chromedp.CallBrowser(rider.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: cdpbrowser.PermissionSettingDenied, Origin: base,
	}); err != nil {
		t.Fatalf("deny geolocation: %v", err)
	}
	rider.open("/report")
	rider.waitFor("the no-position message", `document.getElementById('geo-status').classList.contains('warn') && document.getElementById('manual-pick').open`)
	if got := rider.text("#geo-status"); !strings.Contains(got, "照片里的 GPS") {
		t.Errorf("the position status says %q, want a word about the photo's GPS", got)
	}

	// Tap the middle of T-01 on the map.
	xy, err := chromedp.Run(rider.ctx, chromedp.Evaluate[[]float64](`(() => {
		const p = document.querySelector('#pick-map g[data-code="T-01"] path');
		p.scrollIntoView({block: 'center'});
		const r = p.getBoundingClientRect();
		return [r.x + r.width / 2, r.y + r.height / 2];
	})()`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("find T-01 on the map: %v %v", xy, err)
	}
	rider.do("tap the map", chromedp.MouseClickXY(xy[0], xy[1]))
	rider.waitFor("the picked place", `document.getElementById('lat').value !== '' && document.getElementById('pick-marker').getAttribute('visibility') === 'visible'`)
	la, ln := rider.eval(`document.getElementById('lat').value`), rider.eval(`document.getElementById('lng').value`)
	if rider.eval(`document.getElementById('manual').value`) != "true" {
		t.Error("a place picked on the map is not marked as picked by hand")
	}
	photo, err := filepath.Abs("testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// The preview pushes the form down when it appears: tap the category
	// only once it is there, so the tap lands on the tile meant.
	rider.do("attach a photo", chromedp.SetUploadFiles(chromedp.CSS("#photos"), []string{photo}))
	rider.waitFor("the photo's preview", `document.querySelectorAll('#previews li img').length === 1`)
	rider.do("tap a category", chromedp.Click(chromedp.CSS(`.categories input[value="sanitation"]`)))
	rider.waitFor("the category chosen", `document.querySelector('.categories input[value="sanitation"]').checked`)
	rider.screenshot("report-manual-phone.png")

	// Lose the server's first answer to the submission.
	if _, err := chromedp.Call(rider.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/v1/reports", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatalf("intercept submissions: %v", err)
	}
	// The paused request carries the photo as its post data, which cdproto
	// cannot decode (binary is not valid UTF-16 in JSON): read the two
	// fields needed from the raw event.
	paused, err := chromedp.Run(rider.ctx, func(ctx context.Context, tg *chromedp.Target) (<-chan jsonv2.Value, error) {
		events, cancel := tg.Subscribe(fetch.RequestPaused.Method)
		t.Cleanup(cancel)
		return events, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan int64, 4)
	go func() {
		n := 0
		for raw := range paused {
			var ev struct {
				RequestID          fetch.RequestID `json:"requestId"`
				ResponseStatusCode int64           `json:"responseStatusCode"`
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Errorf("read a paused request: %v", err)
				return
			}
			n++
			answers <- ev.ResponseStatusCode
			if n == 1 {
				_, _ = chromedp.Call(rider.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
				continue
			}
			_, _ = chromedp.Call(rider.ctx, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: ev.RequestID})
		}
	}()

	rider.do("send", chromedp.Click(chromedp.CSS("#report-submit")))
	rider.waitFor("the retry message", `document.getElementById('send-status').textContent.includes('网络不通')`)
	rider.screenshot("report-retrying-phone.png")
	rider.waitFor("the report page", `location.pathname.startsWith('/reports/') && document.getElementById('report-status') !== null`)
	if first, second := <-answers, <-answers; first != http.StatusCreated || second != http.StatusOK {
		t.Errorf("the server answered %d then %d; want 201 for the report, then 200 for the retry with the same key", first, second)
	}
	mine, err := e.reports.Mine(t.Context(), c.rider.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 {
		t.Fatalf("%d reports after a lost answer and a retry, want 1", len(mine))
	}
	r := mine[0]
	if r.Cell != "T-01" || r.LocationSource != "manual" || r.Category != "sanitation" {
		t.Errorf("stored %+v; want sanitation in T-01, picked by hand", r)
	}
	if got := rider.eval("location.pathname"); got != "/reports/"+r.ID {
		t.Errorf("the page is %s, want the report's", got)
	}
	// The place stored is the place picked, and the place picked is where
	// the rider tapped: the middle of T-01, (28.205, 112.975), within a few
	// pixels of the map (0.001° is a tenth of the cell).
	pickedLat, errLat := strconv.ParseFloat(la, 64)
	pickedLng, errLng := strconv.ParseFloat(ln, 64)
	if errLat != nil || errLng != nil {
		t.Fatalf("the form holds the position %q, %q: %v %v", la, ln, errLat, errLng)
	}
	if math.Abs(r.Lat-pickedLat) > 1e-6 || math.Abs(r.Lng-pickedLng) > 1e-6 {
		t.Errorf("picked %s, %s; stored %.6f, %.6f", la, ln, r.Lat, r.Lng)
	}
	if math.Abs(pickedLat-28.205) > 0.001 || math.Abs(pickedLng-112.975) > 0.001 {
		t.Errorf("tapped the middle of T-01 (28.205, 112.975); the form picked %s, %s", la, ln)
	}
}

// TestBrowserRefusedPhotoInPageLanguage: a file the phone cannot preview
// goes as it is, the server refuses it, and the page says why in its own
// language, from the problem's code: a Chinese page once showed the server's
// English "Photo 1: this is a PDF document, not a photo…".
func TestBrowserRefusedPhotoInPageLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	rider.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	rider.logIn("13800138000", riderPassword)
	if _, err := chromedp.CallBrowser(rider.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: cdpbrowser.PermissionSettingDenied, Origin: base,
	}); err != nil {
		t.Fatalf("deny geolocation: %v", err)
	}
	rider.open("/report")
	rider.waitFor("the manual position", `document.getElementById('manual-pick').open`)
	rider.do("type the position", chromedp.SendKeys(chromedp.CSS("#lat"), "28.205"), chromedp.SendKeys(chromedp.CSS("#lng"), "112.975"))
	pdf := filepath.Join(t.TempDir(), "scan.jpg")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rider.do("attach a PDF named .jpg", chromedp.SetUploadFiles(chromedp.CSS("#photos"), []string{pdf}))
	rider.waitFor("its (failed) preview", `document.querySelectorAll('#previews li').length === 1`)
	rider.do("tap a category", chromedp.Click(chromedp.CSS(`.categories input[value="sanitation"]`)))
	rider.waitFor("the category chosen", `document.querySelector('.categories input[value="sanitation"]').checked`)
	rider.do("send", chromedp.Click(chromedp.CSS("#report-submit")))
	rider.waitFor("the refusal", `!document.getElementById('report-error').hidden && document.getElementById('report-error').textContent.length > 0`)
	got := rider.text("#report-error")
	if !strings.Contains(got, "请发送 JPEG、PNG 或 WebP 照片") || strings.Contains(got, "PDF document") {
		t.Errorf("the page says %q; want the Chinese message for photo.unsupported_format", got)
	}
	rider.screenshot("report-refused-phone.png")
	mine, err := e.reports.Mine(t.Context(), c.rider.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 0 {
		t.Errorf("%d reports stored after a refused photo, want 0", len(mine))
	}
}
