package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
)

// TestBrowserCouncil is the acceptance test of councils, on phones: a
// rider finds the nearest station from where the phone says they are,
// checks in through the link on the station's poster, joins its council
// and posts feedback; the station admin adopts it into a proposal and opens
// voting; the rider votes and is shown the receipt; after the close the
// rider finds the receipt in the published list and sees the result, and
// the points the adoption earned.
func TestBrowserCouncil(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	ctx := t.Context()
	// The proposal's week passes in a moment: the votes' clock runs ahead
	// by skew (set before the server starts, read atomically after).
	var skew atomic.Int64
	e.app.Council.Votes.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })

	near, err := e.app.Stations.Create(ctx, council.NewStation{Name: "五一广场暖新驿站", Address: "五一大道 1 号", Lat: 28.1960, Lng: 112.9770,
		Hours: council.EveryDay("24h"), Facilities: []string{council.FacilityDrinkingWater, council.FacilityCharging}})
	if err != nil {
		t.Fatal(err)
	}
	far, err := e.app.Stations.Create(ctx, council.NewStation{Name: "火车站暖新驿站", Address: "车站北路", Lat: 28.1950, Lng: 113.0100,
		Hours: council.EveryDay("24h")})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := e.accounts.CreateStaff(ctx, accounts.StaffInput{Username: "station.zhou", DisplayName: "周站长", Password: officerPassword, Kind: "station_admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Stations.AddAdmin(ctx, near.ID, sa.ID); err != nil {
		t.Fatal(err)
	}

	base := e.serve(t)
	rider := tab{t: t, ctx: chrome(t), base: base}
	admin := tab{t: t, ctx: chrome(t), base: base}
	for _, b := range []tab{rider, admin} {
		b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}

	// The rider stands 300 m from the near station, with location access.
	rider.logIn(c.rider.Phone, riderPassword)
	lat, lng, accuracy := 28.1975, 112.9745, 15.0
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
	if st := rider.open("/stations"); st != http.StatusOK {
		t.Fatalf("GET /stations: status %d", st)
	}
	// Location access is granted, so the page finds the position itself.
	rider.waitFor("the nearest stations", `location.search.includes('lat=') && document.querySelector('.station-list li') !== null`)
	first := rider.eval(`document.querySelector('.station-list li').id`)
	if first != "station-"+near.ID {
		t.Fatalf("the nearest station listed first is %s, want %s", first, near.ID)
	}
	if got := rider.text(".station-list li:first-child .station-meta"); !strings.Contains(got, "米") {
		t.Errorf("the nearest station's line %q gives no distance in metres", got)
	}
	for _, prefix := range []string{"geo:", "https://uri.amap.com/", "https://api.map.baidu.com/", "https://apis.map.qq.com/"} {
		n := rider.eval(`String(document.querySelectorAll('#station-` + near.ID + ` a[href^="` + prefix + `"]').length)`)
		if n == "0" {
			t.Errorf("no %s navigation link for the nearest station", prefix)
		}
	}
	if rider.eval(`String(document.getElementById('station-`+far.ID+`') !== null)`) != "true" {
		t.Errorf("the other station is not listed")
	}
	rider.screenshot("council-stations-phone.png")

	// The station admin prints the poster; its link is the check-in page.
	admin.logIn("station.zhou", officerPassword)
	if st := admin.open("/station/" + near.ID + "/poster"); st != http.StatusOK {
		t.Fatalf("GET the poster: status %d", st)
	}
	if admin.eval(`String(document.getElementById('poster-qr').naturalWidth > 0)`) != "true" {
		t.Errorf("the poster's QR code did not load")
	}
	posterURL, err := url.Parse(admin.text("#poster-url"))
	if err != nil || posterURL.Path != "/stations/"+near.ID+"/checkin" {
		t.Fatalf("the poster's link is %q (%v), want the station's check-in page", admin.text("#poster-url"), err)
	}

	// The rider scans it: checks in, and is offered the council.
	if st := rider.open(posterURL.Path); st != http.StatusOK {
		t.Fatalf("GET %s: status %d", posterURL.Path, st)
	}
	if st := rider.load("check in", chromedp.Click(chromedp.CSS("#checkin-button"))); st != http.StatusOK {
		t.Fatalf("check in: status %d", st)
	}
	if got := rider.text(".checkin-count"); !strings.Contains(got, "1") {
		t.Errorf("after checking in the page says %q, want one rider today", got)
	}
	if st := rider.load("join the council", chromedp.Click(chromedp.CSS(`form[action="/stations/`+near.ID+`/join"] button`))); st != http.StatusOK {
		t.Fatalf("join: status %d", st)
	}
	if ok, err := e.app.Council.Members.IsMember(ctx, near.ID, c.rider.ID); err != nil || !ok {
		t.Fatalf("after joining the rider is not a member (%v)", err)
	}

	// The rider posts feedback.
	if st := rider.open("/stations/" + near.ID + "/feedback"); st != http.StatusOK {
		t.Fatalf("GET the feedback pool: status %d", st)
	}
	rider.do("write an item",
		chromedp.Click(chromedp.CSS(`input[name="category"][value="facilities"]`)),
		chromedp.SendKeys(chromedp.CSS("#text"), "饮水机出水太慢，高峰时排长队。"))
	if st := rider.load("post it", chromedp.Click(chromedp.CSS(`#post-form button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("post feedback: status %d", st)
	}
	items, _, err := e.app.Council.Feedback.List(ctx, near.ID, 0, 10)
	if err != nil || len(items) != 1 || items[0].Author != c.rider.ID {
		t.Fatalf("the pool holds %+v (%v), want the rider's item", items, err)
	}
	item := items[0]

	// The station admin adopts it into a proposal and opens voting.
	if st := admin.open("/station/" + near.ID + "/feedback"); st != http.StatusOK {
		t.Fatalf("GET the admin's feedback page: status %d", st)
	}
	if st := admin.load("adopt into a proposal", chromedp.Click(chromedp.CSS(`#item-`+item.ID+` a[href*="from_item="]`))); st != http.StatusOK {
		t.Fatalf("open the proposal form: status %d", st)
	}
	admin.do("title the proposal", chromedp.SetValue(chromedp.CSS("#p-title"), "增加一台饮水机"))
	if st := admin.load("create the proposal", chromedp.Click(chromedp.CSS(`#proposal-form button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("create the proposal: status %d", st)
	}
	pid, ok, err := e.app.Council.Proposals.ForItem(ctx, item.ID)
	if err != nil || !ok {
		t.Fatalf("the item has no proposal after the form (%v): the page says %s", err, admin.text("main"))
	}
	if st := admin.load("open voting", chromedp.Click(chromedp.CSS(`#open-form button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("open voting: status %d", st)
	}
	p, err := e.app.Council.Votes.Get(ctx, pid)
	if err != nil || p.RollSize != 1 {
		t.Fatalf("after opening, the proposal is %+v (%v), want a roll of the one member", p, err)
	}
	admin.screenshot("council-proposal-admin-phone.png")

	// The rider votes and is shown the receipt.
	if st := rider.open("/proposals/" + pid); st != http.StatusOK {
		t.Fatalf("GET the proposal: status %d", st)
	}
	rider.do("choose for", chromedp.Click(chromedp.CSS(`#ballot input[name="choice"][value="yes"]`)))
	if st := rider.load("vote", chromedp.Click(chromedp.CSS(`#ballot button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("vote: status %d", st)
	}
	code := rider.text("#receipt-code")
	if len(code) != len("XXXX-XXXX-XXXX-XXXX") {
		t.Fatalf("the receipt code shown is %q", code)
	}
	if got := rider.text("#receipt"); !strings.Contains(got, "您的投票已计入") {
		t.Errorf("the receipt says %q, want that the vote was counted", got)
	}
	if rider.eval(`String(document.getElementById('results-title') === null)`) != "true" {
		t.Errorf("results are shown before the close")
	}
	rider.screenshot("council-receipt-phone.png")

	// The week passes; the proposal closes when it is next read.
	skew.Store(int64(time.Until(p.Closes) + e.app.Council.Votes.Settle() + time.Minute))
	if st := rider.open("/proposals/" + pid); st != http.StatusOK {
		t.Fatalf("GET the closed proposal: status %d", st)
	}
	if got := rider.text(".results .verdict"); got != "通过" {
		t.Errorf("the result says %q, want passed", got)
	}
	row := rider.eval(`(function(){var r=document.querySelector('#receipts-table tr[data-code="` + code + `"]');return r?r.className+'|'+r.textContent:''})()`)
	if !strings.HasPrefix(row, "mine|") || !strings.Contains(row, "赞成") {
		t.Errorf("the published receipts show the rider's code as %q, want it marked as theirs with 赞成", row)
	}
	rider.screenshot("council-results-phone.png")

	// The adoption earned the author points, once.
	if st := rider.open("/points"); st != http.StatusOK {
		t.Fatalf("GET /points: status %d", st)
	}
	if got := rider.text("#points-available"); got != "10" {
		t.Errorf("the wallet shows %q available after the adoption, want 10", got)
	}
}
