package web_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOfficerPhone opens a new report as its officer on a 390×844
// phone: the page is one short screen with the acknowledge button in view
// (the six action forms once stacked to 2,469 px), "more" opens without a
// script, nothing scrolls sideways, and a queue row shows its thumbnail.
func TestBrowserOfficerPhone(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "phone-1")
	officer := tab{t: t, ctx: chrome(t), base: e.serve(t)}
	officer.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	officer.logIn("officer.wang", officerPassword)

	officer.open("/reports/" + r.ID)
	if h := officer.number(`document.documentElement.scrollHeight`); h >= 1200 {
		t.Errorf("the officer's page for a new report is %.0f px tall, want under 1,200", h)
	} else {
		t.Logf("the officer's page for a new report is %.0f px tall", h)
	}
	if w := officer.number(`document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the report page scrolls sideways by %.0f px", w)
	}
	box := officer.floats(`(() => { const b = document.querySelector('#act-main #act-acknowledge button').getBoundingClientRect();
		return [b.top, b.bottom, b.height, window.innerHeight]; })()`)
	if box[0] < 0 || box[1] > box[3] {
		t.Errorf("the acknowledge button spans %.0f–%.0f px, outside the first screen of %.0f px", box[0], box[1], box[3])
	}
	if box[2] < 44 {
		t.Errorf("the acknowledge button is %.0f px tall, want at least 44", box[2])
	}
	// The other actions wait behind "more", hidden until it is opened.
	if officer.eval(`String(document.querySelector('#act-verify').checkVisibility())`) != "false" {
		t.Error("the verify form shows before \"more\" is opened")
	}
	officer.do("open more actions", chromedp.Click(chromedp.CSS("#act-more > summary")))
	if officer.eval(`String(document.querySelector('#act-verify').checkVisibility())`) != "true" {
		t.Error("opening \"more\" does not show the verify form")
	}
	if w := officer.number(`document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("with \"more\" open the page scrolls sideways by %.0f px", w)
	}

	if st := officer.open("/queue"); st != http.StatusOK {
		t.Fatalf("queue: status %d", st)
	}
	sel := `document.querySelector('[data-report-row="` + r.ID + `"] img.row-thumb')`
	officer.do("scroll the row into view", chromedp.ScrollIntoView(chromedp.CSS(`[data-report-row="`+r.ID+`"] img.row-thumb`)))
	officer.waitFor("the row's thumbnail", sel+`.complete && `+sel+`.naturalWidth > 0`)
	if w := officer.number(`document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the queue scrolls sideways by %.0f px", w)
	}
}
