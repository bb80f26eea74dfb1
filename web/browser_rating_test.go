package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/reports"
)

// TestBrowserRatingDispute (issue 10), on a phone: the rider rates a
// resolved report 不满意 with a reason (refused first without one), an
// admin opens it from the disputes list reached from 督办 and upholds it,
// the rider sees the uphold on the timeline, and the report's cell's
// satisfaction figure moves.
func TestBrowserRatingDispute(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "rate-1")
	officer := reports.Actor{ID: c.officer.ID, Role: reports.RoleOfficer}
	for _, in := range []reports.ActionInput{{Action: reports.ActVerify, Severity: 1}, {Action: reports.ActResolve, Note: "已更换井盖"}} {
		if _, err := e.reports.Act(t.Context(), officer, r.ID, in); err != nil {
			t.Fatalf("%s: %v", in.Action, err)
		}
	}
	base := e.serve(t)
	admin := tab{t: t, ctx: chrome(t), base: base}
	rider := tab{t: t, ctx: chrome(t), base: base}
	for _, b := range []tab{admin, rider} {
		b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}
	satisfaction := func() string {
		return admin.eval(`(() => { for (const tr of document.querySelectorAll('#figures-cells tbody tr')) {
			if (tr.querySelector('th').textContent.includes('T-04')) return tr.querySelector('td.satisfaction').textContent.trim() +
				' ' + tr.querySelector('td:nth-of-type(10)').textContent.trim(); } return 'none'; })()`)
	}
	admin.logIn("admin", adminPassword)
	admin.open("/figures")
	before := satisfaction()

	// The rider's rating form: three big choices, a comment, a button.
	rider.logIn("13800138000", riderPassword)
	rider.open("/reports/" + r.ID)
	if got := rider.eval(`String(document.querySelectorAll('#rate-form input[type=radio][name=rating]').length)`); got != "3" {
		t.Fatalf("the rating form has %s choices, want 3", got)
	}
	if got := rider.number(`Math.min(...[...document.querySelectorAll('#rate-form label.tile')].map(l => l.getBoundingClientRect().height))`); got < 44 {
		t.Errorf("a rating choice is %v px tall, want at least 44", got)
	}
	rider.screenshot("rating-form-phone.png")
	rider.do("choose 不满意", chromedp.Click(chromedp.CSS("#rate-form label.tile:nth-of-type(3)")))
	if st := rider.load("rate without a reason", chromedp.Click(chromedp.CSS("#rate-send"))); st != http.StatusUnprocessableEntity {
		t.Errorf("rating 不满意 without a reason: status %d, want 422", st)
	}
	if got := rider.text("#rate-error"); !strings.Contains(got, "写明") {
		t.Errorf("the refusal says %q", got)
	}
	rider.do("choose 不满意 and give the reason",
		chromedp.Click(chromedp.CSS("#rate-form label.tile:nth-of-type(3)")),
		chromedp.SendKeys(chromedp.CSS("#rate-comment"), "井盖还是松的，踩上去会动"))
	if st := rider.load("rate", chromedp.Click(chromedp.CSS("#rate-send"))); st != http.StatusOK {
		t.Fatalf("rate: status %d", st)
	}
	if got := rider.text(".flash"); !strings.Contains(got, "感谢评价") {
		t.Errorf("the flash says %q", got)
	}
	if got := rider.text(`#timeline [data-action="rate"]`); !strings.Contains(got, "评价：不满意") || !strings.Contains(got, "井盖还是松的") {
		t.Errorf("the rating step says %q", got)
	}
	if got := rider.eval(`String(document.getElementById('rate-form') !== null)`); got != "false" {
		t.Error("the rating form is still offered after rating")
	}

	// The admin: 督办 → the disputes list → the report → 维持办结.
	admin.open("/escalations")
	if st := admin.load("open the disputes", chromedp.Click(chromedp.CSS("#disputes-link"))); st != http.StatusOK {
		t.Fatalf("disputes: status %d", st)
	}
	if got := admin.text("#disputes"); !strings.Contains(got, "井盖还是松的") || !strings.Contains(got, r.Ticket) {
		t.Errorf("the disputes list says %q", got)
	}
	admin.screenshot("disputes-phone.png")
	if st := admin.load("open the disputed report", chromedp.Click(chromedp.CSS(`#disputes a[href="/reports/`+r.ID+`"]`))); st != http.StatusOK {
		t.Fatalf("open the report: status %d", st)
	}
	if got := admin.text("#dispute-reason"); !strings.Contains(got, "井盖还是松的") {
		t.Errorf("the dispute's reason reads %q", got)
	}
	admin.do("write the note", chromedp.SendKeys(chromedp.CSS("#uphold-note"), "已复查，井盖已固定"))
	admin.screenshot("dispute-decide-phone.png")
	if st := admin.load("uphold", chromedp.Click(chromedp.CSS("#dispute-uphold button"))); st != http.StatusOK {
		t.Fatalf("uphold: status %d", st)
	}
	if got := admin.eval(`String(document.getElementById('dispute') !== null)`); got != "false" {
		t.Error("the decision is still offered after upholding")
	}
	admin.open("/disputes")
	if got := admin.eval(`String(document.getElementById('disputes') !== null)`); got != "false" {
		t.Error("the disputes list still lists the upheld report")
	}

	// The rider sees the uphold, with the note.
	rider.open("/reports/" + r.ID)
	if got := rider.text(`#timeline [data-action="uphold"]`); !strings.Contains(got, "维持办结") || !strings.Contains(got, "已复查，井盖已固定") {
		t.Errorf("the uphold step says %q", got)
	}
	rider.screenshot("upheld-phone.png")
	// And in the inbox, with the administrator's note.
	rider.open("/inbox")
	if got := rider.text(".notes"); !strings.Contains(got, "经复核维持办结") || !strings.Contains(got, "已复查，井盖已固定") {
		t.Errorf("the rider's inbox says %q", got)
	}

	// The figure moved: one unsatisfied rating in T-04, 0 %.
	admin.open("/figures")
	after := satisfaction()
	if after == before || after != "0% 1" {
		t.Errorf("T-04's satisfaction and unsatisfied went from %q to %q, want \"0%% 1\"", before, after)
	}
	if got := admin.text("#satisfaction-legend"); !strings.Contains(got, "未评价") {
		t.Errorf("the figures page's legend says %q", got)
	}
	admin.screenshot("figures-satisfaction-phone.png")
}
