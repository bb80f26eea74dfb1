package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/reports"
)

// TestBrowserPointsEarnedAndRedeemed: the rider's report is verified and
// the wallet, open on the rider's phone, shows the points without a
// reload; the rider reserves a reward on the shelf and gets a code; the
// station admin, on a phone, types the code and hands the reward over; the
// rider's wallet and statement show the spend.
func TestBrowserPointsEarnedAndRedeemed(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	ctx := t.Context()
	st, err := e.app.Stations.Create(ctx, council.NewStation{Name: "五一广场驿站", Address: "五一大道 1 号", Lat: 28.196, Lng: 112.977})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := e.accounts.CreateStaff(ctx, accounts.StaffInput{Username: "station.zhou", DisplayName: "周站长", Password: officerPassword, Kind: "station_admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Stations.AddAdmin(ctx, st.ID, sa.ID); err != nil {
		t.Fatal(err)
	}
	lunch, err := e.app.Points.Shelf.Create(ctx, points.RewardSpec{Scope: st.ID, NameZH: "暖心午餐", NameEN: "Lunch", Price: 8, Stock: 3, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := e.mustReport(t, c.rider, "points-browser")

	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	station := tab{t: t, ctx: chrome(t), base: base}
	for _, b := range []tab{rider, station} {
		b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}

	rider.logIn("13800138000", riderPassword)
	if st := rider.open("/points"); st != http.StatusOK {
		t.Fatalf("rider GET /points: status %d", st)
	}
	if got := rider.text("#points-available"); got != "0" {
		t.Fatalf("a new rider's wallet shows %q available", got)
	}
	rider.do("mark the wallet page", chromedp.Evaluate[chromedp.Void]("window.nxNoReload = true"))

	// The officer verifies it (severity 2: 10 points by the default rules).
	officer := reports.Actor{ID: c.officer.ID, Role: reports.RoleOfficer}
	if _, err := e.reports.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActVerify, Severity: 2}); err != nil {
		t.Fatal(err)
	}
	rider.waitFor("the award in the wallet", `document.getElementById('points-available').textContent.trim() === '10'`)
	if got := rider.eval(`String(window.nxNoReload)`); got != "true" {
		t.Fatal("the wallet page was reloaded")
	}
	if got := rider.text(".statement"); !strings.Contains(got, "上报核实奖励") || !strings.Contains(got, "+10") {
		t.Errorf("the wallet's recent entries say %q, want the award of 10", got)
	}
	if got := rider.eval(`document.querySelector('.statement a').getAttribute('href')`); got != "/reports/"+r.ID {
		t.Errorf("the award links to %q, want its report", got)
	}
	rider.screenshot("wallet-awarded-phone.png")

	// The rider reserves lunch at the station.
	if st := rider.open("/points/shelf"); st != http.StatusOK {
		t.Fatalf("GET /points/shelf: status %d", st)
	}
	rider.screenshot("shelf-phone.png")
	if st := rider.load("reserve lunch", chromedp.Click(chromedp.CSS("#reward-"+lunch.ID+` button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("reserve: status %d", st)
	}
	rider.waitFor("the code page", `location.pathname === '/points/codes' && document.querySelector('.pickup-code strong') !== null`)
	code := rider.text(".pickup-code strong")
	if len(strings.ReplaceAll(code, "-", "")) < 8 {
		t.Fatalf("the pickup code is %q", code)
	}
	rider.waitFor("the QR code", `document.querySelector('img.qr').naturalWidth > 0`)
	rider.screenshot("codes-phone.png")

	// The station admin types it on a phone.
	station.logIn("station.zhou", officerPassword)
	if st := station.open("/station/" + st.ID + "/pickup"); st != http.StatusOK {
		t.Fatalf("station admin GET the pickup page: status %d", st)
	}
	station.do("type the code", chromedp.SendKeys(chromedp.CSS("#pickup-code"), strings.ToLower(code)))
	if st := station.load("confirm", chromedp.Click(chromedp.CSS(`#pickup-form button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("confirm: status %d", st)
	}
	if got := station.text("#pickup-done"); !strings.Contains(got, "暖心午餐") {
		t.Errorf("after confirming the page says %q, want the reward handed over", got)
	}
	if got := station.text(".pickups-today"); !strings.Contains(got, "暖心午餐") {
		t.Errorf("today's pickups say %q", got)
	}
	station.screenshot("pickup-station-phone.png")
	// The same code again is refused.
	station.do("type the code again", chromedp.SendKeys(chromedp.CSS("#pickup-code"), code))
	station.load("confirm again", chromedp.Click(chromedp.CSS(`#pickup-form button[type="submit"]`)))
	if got := station.text("#pickup-error"); !strings.Contains(got, "已") {
		t.Errorf("a second confirmation says %q, want it refused as picked up already", got)
	}

	// The rider's wallet and statement show it.
	rider.open("/points")
	if got := rider.text("#points-available"); got != "2" {
		t.Errorf("after the pickup the wallet shows %q available, want 2", got)
	}
	rider.open("/points/statement")
	if got := rider.text("ul.statement-full"); !strings.Contains(got, "奖励已领取") || !strings.Contains(got, "-8") {
		t.Errorf("the statement says %q, want the pickup of 8", got)
	}
	rider.screenshot("statement-phone.png")
}
