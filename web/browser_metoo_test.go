package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserMeToo (issue 10), on a phone: rider A has reported a missing
// manhole cover; rider B, about 22 m away, opens the form, takes a photo
// and picks the same category, is offered A's report (its thumbnail, how
// far, how long ago; nothing that names it) and taps 我也遇到 instead of
// filing a new report. The officer's page then says 1 位骑手也遇到, with
// B's photo on the timeline.
func TestBrowserMeToo(t *testing.T) {
	e := newEnvWith(t, nil)
	c := e.city(t)
	first := e.mustReport(t, c.rider, "metoo-a")
	base := e.serve(t)

	b := tab{t: t, ctx: chrome(t), base: base}
	b.phone(true, latT04+0.0002, lngT04)
	b.logIn("13900139000", riderPassword)
	b.open("/report")
	b.waitFor("the phone's position", `document.getElementById('lat').value !== ''`)
	pic := filepath.Join(t.TempDir(), "same.jpg")
	if err := os.WriteFile(pic, smallPhoto(t), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do("take a photo", chromedp.SetUploadFiles(chromedp.CSS("#gallery"), []string{pic}))
	b.waitFor("the preview", `document.querySelectorAll('#previews li img').length === 1`)
	if got := b.eval(`String(document.getElementById('metoo-panel').hidden)`); got != "true" {
		t.Error("the me-too panel shows before a category is chosen")
	}
	b.do("pick the category", chromedp.Click(chromedp.CSS(`.categories input[value="road_damage"]`)))
	b.waitFor("the nearby report's card with its thumbnail",
		`!document.getElementById('metoo-panel').hidden && (() => { const i = document.querySelector('#metoo-list img'); return i && i.complete && i.naturalWidth > 0; })()`)
	panel := b.text("#metoo-panel")
	for _, want := range []string{"附近已有人上报，是这个吗？", "米", "刚刚", "我也遇到", "不是，继续上报"} {
		if !strings.Contains(panel, want) {
			t.Errorf("the panel says %q, want %q in it", panel, want)
		}
	}
	for _, leak := range []string{first.ID, first.Ticket, "井盖缺失", "骑手小刘"} {
		if strings.Contains(panel, leak) || strings.Contains(b.eval(`document.getElementById('metoo-panel').innerHTML`), leak) {
			t.Errorf("the panel shows %q of rider A's report", leak)
		}
	}
	if h := b.number(`document.querySelector('#metoo-list button').getBoundingClientRect().height`); h < 44 {
		t.Errorf("the 我也遇到 button is %.0f px tall, want at least 44", h)
	}
	b.do("scroll to the panel", chromedp.ScrollIntoView(chromedp.CSS("#metoo-panel")))
	b.screenshot("metoo-panel-phone.png")

	b.do("tap 我也遇到", chromedp.Click(chromedp.CSS(`#metoo-list button[data-ref]`)))
	b.waitFor("the confirmation recorded", `document.getElementById('metoo-status').textContent.indexOf('已记录') === 0`)
	if got := b.eval(`String(document.querySelectorAll('#previews li').length)`); got != "0" {
		t.Errorf("after confirming the form still holds %s photos; the draft should be cleared", got)
	}
	if loc := b.location(); !strings.HasSuffix(loc, "/report") {
		t.Errorf("after confirming the rider is at %s, want still on the form", loc)
	}
	b.screenshot("metoo-recorded-phone.png")

	r, err := e.reports.Get(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.MeToo != 1 || len(r.MeTooBy) != 1 || r.MeTooBy[0] != c.rider2.ID {
		t.Errorf("stored: me_too %d by %v, want 1 by rider B", r.MeToo, r.MeTooBy)
	}

	officer := tab{t: t, ctx: chrome(t), base: base}
	officer.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	officer.logIn("officer.wang", officerPassword)
	if st := officer.open("/reports/" + first.ID); st != http.StatusOK {
		t.Fatalf("the officer's report page: %d", st)
	}
	if got := officer.text("#report-metoo"); got != "1 位骑手也遇到" {
		t.Errorf("the officer's report page says %q, want 1 位骑手也遇到", got)
	}
	if got := officer.text(`#timeline [data-action="me_too"]`); !strings.Contains(got, "骑手也遇到") || strings.Contains(got, "骑手小张") || strings.Contains(got, "13900139000") {
		t.Errorf("the officer's timeline shows the confirmation as %q", got)
	}
	officer.waitFor("the confirmation's photo", `(() => { const i = document.querySelector('#timeline [data-action="me_too"] img'); return i && i.complete && i.naturalWidth > 0; })()`)
	officer.open("/queue")
	if got := officer.text(`[data-report-row="` + first.ID + `"]`); !strings.Contains(got, "1 位骑手也遇到") {
		t.Errorf("the officer's queue row says %q, want the badge 1 位骑手也遇到", got)
	}
	officer.screenshot("metoo-queue-phone.png")
}
