package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage"
)

type walletView struct {
	Balance   int64 `json:"balance"`
	Held      int64 `json:"held"`
	Available int64 `json:"available"`
	InDebt    bool  `json:"in_debt"`
	Earned    int64 `json:"earned"`
}

type statementView struct {
	Entries []struct {
		Kind    string `json:"kind"`
		Amount  int64  `json:"amount"`
		Balance int64  `json:"balance"`
		Report  string `json:"report"`
	} `json:"entries"`
}

// TestPointsFollowTheReport: a verified report pays its reporter by the
// rules (severity 1 → 5, 3 → 20); verified again after a reopen at another
// severity it pays the difference, never twice; reopened and rejected, the
// award is taken back. Each step through the API, as the rider sees it.
func TestPointsFollowTheReport(t *testing.T) {
	w := newReportWorld(t)
	status, rep := submitReport(t, w.rider, "points-1", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit: %d %v", status, rep)
	}
	id := rep["id"].(string)
	path := "/api/v1/reports/" + id + "/actions"
	wallet := func(c *client) walletView {
		var v walletView
		c.must("GET", "/api/v1/points/wallet", nil, &v, 200)
		return v
	}
	waitBalance := func(want int64) walletView {
		t.Helper()
		var v walletView
		eventually(t, 10*time.Second, "the wallet shows the award", func() bool {
			v = wallet(w.rider)
			return v.Balance == want
		})
		return v
	}

	w.officer.must("POST", path, map[string]any{"action": "verify", "severity": 1}, nil, 200)
	if v := waitBalance(5); v.Earned != 5 || v.Available != 5 {
		t.Errorf("after a severity-1 verification: %+v, want 5 earned and available", v)
	}
	var st statementView
	w.rider.must("GET", "/api/v1/points/statement", nil, &st, 200)
	if len(st.Entries) != 1 || st.Entries[0].Kind != "award" || st.Entries[0].Report != id || st.Entries[0].Balance != 5 {
		t.Errorf("statement = %+v, want one award of 5 for report %s", st.Entries, id)
	}
	if v := wallet(w.otherRider); v.Balance != 0 {
		t.Errorf("another rider's wallet shows %d", v.Balance)
	}

	// Reopened and verified again at severity 3: 15 more, 20 in all.
	w.officer.must("POST", path, map[string]any{"action": "resolve", "note": "已修复"}, nil, 200)
	w.admin.must("POST", path, map[string]any{"action": "reopen", "note": "复查"}, nil, 200)
	w.officer.must("POST", path, map[string]any{"action": "verify", "severity": 3}, nil, 200)
	waitBalance(20)

	// Reopened and rejected: the whole award is taken back.
	w.officer.must("POST", path, map[string]any{"action": "resolve", "note": "已修复"}, nil, 200)
	w.admin.must("POST", path, map[string]any{"action": "reopen", "note": "复查"}, nil, 200)
	w.officer.must("POST", path, map[string]any{"action": "reject", "reason": "not_a_problem"}, nil, 200)
	if v := waitBalance(0); v.Earned != 0 {
		t.Errorf("after the rejection: %+v, want nothing earned", v)
	}
	w.rider.must("GET", "/api/v1/points/statement", nil, &st, 200)
	if len(st.Entries) != 3 || st.Entries[0].Kind != "clawback" || st.Entries[0].Amount != -20 {
		t.Errorf("statement = %+v, want award 5, award 15, clawback 20 (newest first)", st.Entries)
	}
	// Replaying every event the feed holds, in order and then newest
	// first, through the points consumer changes nothing.
	a := w.app
	before := walletOf(w.rider)
	var stBefore statementView
	w.rider.must("GET", "/api/v1/points/statement", nil, &stBefore, 200)
	changes, err := a.Feed.Read(t.Context(), 0, 1000)
	if err != nil || len(changes) < 8 {
		t.Fatalf("read the feed: %d changes, %v", len(changes), err)
	}
	for _, order := range []string{"in order", "newest first"} {
		for i := range changes {
			c := changes[i]
			if order == "newest first" {
				c = changes[len(changes)-1-i]
			}
			if err := a.Points.Earner.Publish(t.Context(), c.Event); err != nil {
				t.Fatalf("replay %s of event %s: %v", order, c.ID, err)
			}
		}
		if after := walletOf(w.rider); after != before {
			t.Errorf("after replaying the feed %s the wallet is %+v, was %+v", order, after, before)
		}
		var stAfter statementView
		w.rider.must("GET", "/api/v1/points/statement", nil, &stAfter, 200)
		if len(stAfter.Entries) != len(stBefore.Entries) {
			t.Errorf("after replaying the feed %s the statement has %d entries, had %d", order, len(stAfter.Entries), len(stBefore.Entries))
		}
	}

	var rec struct {
		Clean     bool     `json:"clean"`
		Anomalies []string `json:"anomalies"`
	}
	w.admin.must("POST", "/api/v1/points/reconciliation", nil, &rec, 200)
	if !rec.Clean {
		t.Errorf("reconciliation: %v", rec.Anomalies)
	}
	if got := w.rider.do("POST", "/api/v1/points/reconciliation", nil, nil); got != 403 {
		t.Errorf("a rider running reconciliation: %d, want 403", got)
	}
}

// TestLedgerVerifyCommand runs `nuanxin ledger verify` on the data a
// server left: clean, it exits 0; after an entry's balance is tampered
// with, it names the entry and returns ErrLedgerAnomalies (exit 1).
func TestLedgerVerifyCommand(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t, nil)
	cfg, err := ParseConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, cfg, testLogger(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i, user := range []string{"u1", "u2"} {
		if _, err := a.Points.Earner.Award(ctx, points.AwardRequest{Key: "test:" + user, UserID: user, Points: int64(10 * (i + 1)), Note: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	var out bytes.Buffer
	if err := Run(ctx, []string{"ledger", "verify"}, env, &out, nil); err != nil {
		t.Fatalf("verify a clean ledger: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), ": clean") {
		t.Errorf("output lacks the clean verdict:\n%s", out.String())
	}

	stores, err := storage.Open(ctx, cfg.Storage, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	// The first entry of rider u2's chain (see points.Entry).
	_, err = stores.DB.Collection("points_entries").UpdateOne(ctx, bson.D{{Key: "_id", Value: "rider:u2/000000000001"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: 2000}}}})
	if cerr := stores.Close(ctx); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	out.Reset()
	err = Run(ctx, []string{"ledger", "verify"}, env, &out, nil)
	if !errors.Is(err, ErrLedgerAnomalies) {
		t.Fatalf("verify a tampered ledger: %v, want ErrLedgerAnomalies\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "balance rider:u2#1") {
		t.Errorf("output does not name the tampered entry:\n%s", out.String())
	}
	if err := Run(ctx, []string{"ledger", "frobnicate"}, env, io.Discard, nil); err == nil {
		t.Error("an unknown ledger command was accepted")
	}
}

// TestRedeemAtTheStation walks redemption through the API with every role
// in its place: adjustments need a second admin; a station admin keeps
// only their own station's shelf and hands over only their own station's
// rewards; a rider's codes are theirs alone; a code is confirmed once.
func TestRedeemAtTheStation(t *testing.T) {
	w := newReportWorld(t)
	admin2User := createStaff(t, w.admin, "admin-two", "admin")
	admin2 := login(t, w.base, "admin-two", "staff-password")
	stations := map[string]string{}
	admins := map[string]*client{}
	for i, name := range []string{"五一广场驿站", "橘子洲驿站"} {
		var st struct{ ID string }
		w.admin.must("POST", "/api/v1/stations", map[string]any{"name": name, "lat": 28.19, "lng": 112.97}, &st, 201)
		login := fmt.Sprintf("station-admin-%d", i)
		u := createStaff(t, w.admin, login, "station_admin")
		w.admin.must("POST", "/api/v1/stations/"+st.ID+"/admins", map[string]string{"user_id": u.ID}, nil, 200)
		stations[name] = st.ID
		admins[name] = loginAs(t, w.base, login)
	}
	a, b := stations["五一广场驿站"], stations["橘子洲驿站"]
	saA, saB := admins["五一广场驿站"], admins["橘子洲驿站"]

	// 100 points for the rider, by an adjustment two admins agree on.
	var adj struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if got := w.admin.do("POST", "/api/v1/points/adjustments", map[string]any{"rider": "13800138999", "amount": 100, "reason": "驿站志愿服务"}, nil); got != 422 {
		t.Errorf("an adjustment for a phone number no rider has: %d, want 422", got)
	}
	if got := w.admin.do("POST", "/api/v1/points/adjustments", map[string]any{"rider": w.officerID, "amount": 100, "reason": "驿站志愿服务"}, nil); got != 422 {
		t.Errorf("an adjustment for an officer: %d, want 422", got)
	}
	// Named by phone number, as an admin knows a rider.
	w.admin.must("POST", "/api/v1/points/adjustments", map[string]any{"rider": "13800138011", "amount": 100, "reason": "驿站志愿服务"}, &adj, 201)
	if got := w.admin.do("POST", "/api/v1/points/adjustments/"+adj.ID+"/approve", nil, nil); got != 403 {
		t.Errorf("the proposer approving their own adjustment: %d, want 403", got)
	}
	if v := walletOf(w.rider); v.Balance != 0 {
		t.Fatalf("before approval the wallet shows %d", v.Balance)
	}
	admin2.must("POST", "/api/v1/points/adjustments/"+adj.ID+"/approve", nil, &adj, 200)
	if got := admin2.do("POST", "/api/v1/points/adjustments/"+adj.ID+"/approve", nil, nil); got != 409 && got != 200 {
		t.Errorf("approving twice: %d", got)
	}
	if v := walletOf(w.rider); v.Balance != 100 {
		t.Fatalf("after approval by %s the wallet shows %d, want 100", admin2User.ID, v.Balance)
	}

	// Shelves: each station admin keeps their own.
	reward := map[string]any{"scope": a, "name_zh": "暖心午餐", "name_en": "Lunch", "price": 30, "stock": 2, "limit": 1}
	var rw struct{ ID string }
	saA.must("POST", "/api/v1/points/rewards", reward, &rw, 201)
	if got := saB.do("POST", "/api/v1/points/rewards", reward, nil); got != 403 {
		t.Errorf("station B's admin stocking station A's shelf: %d, want 403", got)
	}
	city := map[string]any{"scope": "city", "name_zh": "矿泉水", "price": 5, "stock": 10, "limit": 2}
	if got := saA.do("POST", "/api/v1/points/rewards", city, nil); got != 403 {
		t.Errorf("a station admin stocking the city shelf: %d, want 403", got)
	}
	if got := saB.do("PATCH", "/api/v1/points/rewards/"+rw.ID, map[string]any{"price": 1}, nil); got != 403 {
		t.Errorf("station B's admin repricing station A's reward: %d, want 403", got)
	}
	if got := w.officer.do("POST", "/api/v1/points/reservations", map[string]any{"reward": rw.ID, "station": a, "client_key": "o1"}, nil); got != 403 {
		t.Errorf("an officer reserving: %d, want 403", got)
	}

	// The rider reserves; the code is theirs alone.
	var res struct {
		ID, Code, Status string
		QR               string `json:"qr_url"`
	}
	w.rider.must("POST", "/api/v1/points/reservations", map[string]any{"reward": rw.ID, "station": a, "client_key": "lunch-1"}, &res, 200)
	if res.Code == "" || res.Status != "reserved" {
		t.Fatalf("reservation = %+v, want a code", res)
	}
	if v := walletOf(w.rider); v.Available != 70 || v.Held != 30 {
		t.Errorf("after reserving: %+v, want 70 available and 30 held", v)
	}
	var theirs struct{ Reservations []map[string]any }
	w.otherRider.must("GET", "/api/v1/points/reservations", nil, &theirs, 200)
	if len(theirs.Reservations) != 0 {
		t.Errorf("another rider lists %d reservations", len(theirs.Reservations))
	}
	if got := w.otherRider.do("POST", "/api/v1/points/reservations/"+res.ID+"/cancel", nil, nil); got != 404 {
		t.Errorf("another rider cancelling the code: %d, want 404", got)
	}
	if got := w.otherRider.do("GET", res.QR, nil, nil); got != 404 {
		t.Errorf("another rider opening the QR code: %d, want 404", got)
	}

	// Station B cannot hand it over, and is told where it belongs.
	resp, body := rawRequest(t, "POST", w.base+"/api/v1/points/stations/"+b+"/pickups", "application/json", saB.token, []byte(`{"code":"`+res.Code+`"}`))
	if resp.StatusCode != 409 || !strings.Contains(string(body), "五一广场驿站") {
		t.Errorf("station B confirming station A's code: %d %s, want 409 naming 五一广场驿站", resp.StatusCode, body)
	}
	if got := saB.do("POST", "/api/v1/points/stations/"+a+"/pickups", map[string]string{"code": res.Code}, nil); got != 403 {
		t.Errorf("station B's admin confirming at station A: %d, want 403", got)
	}
	saA.must("POST", "/api/v1/points/stations/"+a+"/pickups", map[string]string{"code": strings.ToLower(res.Code)}, nil, 200)
	if got := saA.do("POST", "/api/v1/points/stations/"+a+"/pickups", map[string]string{"code": res.Code}, nil); got != 409 {
		t.Errorf("confirming a picked-up code again: %d, want 409", got)
	}
	if v := walletOf(w.rider); v.Balance != 70 || v.Held != 0 {
		t.Errorf("after the pickup: %+v, want 70 and nothing held", v)
	}
	var today struct{ Reservations []map[string]any }
	saA.must("GET", "/api/v1/points/stations/"+a+"/pickups", nil, &today, 200)
	if len(today.Reservations) != 1 {
		t.Errorf("station A's pickups today: %d, want 1", len(today.Reservations))
	}
	if got := saB.do("GET", "/api/v1/points/stations/"+a+"/pickups", nil, nil); got != 403 {
		t.Errorf("station B reading station A's pickups: %d, want 403", got)
	}
}

func walletOf(c *client) walletView {
	var v walletView
	c.must("GET", "/api/v1/points/wallet", nil, &v, 200)
	return v
}

func loginAs(t *testing.T, base, staffLogin string) *client {
	return login(t, base, staffLogin, "staff-password")
}

// TestStationDirectoryAPI: a rider finds the nearest stations, open ones
// first, with navigation links; a station admin changes their own
// station's hours and no other's; an admin closes a station, which then
// comes after the open ones.
func TestStationDirectoryAPI(t *testing.T) {
	w := newReportWorld(t)
	ids := map[string]string{}
	admins := map[string]*client{}
	for i, st := range []struct {
		name     string
		lat, lng float64
	}{{"近站", 28.1960, 112.9770}, {"远站", 28.2300, 112.9300}} {
		var out struct{ ID string }
		w.admin.must("POST", "/api/v1/stations", map[string]any{"name": st.name, "lat": st.lat, "lng": st.lng}, &out, 201)
		u := createStaff(t, w.admin, fmt.Sprintf("dir-admin-%d", i), "station_admin")
		w.admin.must("POST", "/api/v1/stations/"+out.ID+"/admins", map[string]string{"user_id": u.ID}, nil, 200)
		ids[st.name], admins[st.name] = out.ID, loginAs(t, w.base, fmt.Sprintf("dir-admin-%d", i))
	}
	// Both open all day.
	for name, c := range admins {
		c.must("PATCH", "/api/v1/stations/"+ids[name], map[string]any{"hours": map[string]string{
			"mon": "24h", "tue": "24h", "wed": "24h", "thu": "24h", "fri": "24h", "sat": "24h", "sun": "24h"}}, nil, 200)
	}
	if got := admins["远站"].do("PATCH", "/api/v1/stations/"+ids["近站"], map[string]any{"name": "改名"}, nil); got != 403 {
		t.Errorf("another station's admin renaming it: %d, want 403", got)
	}
	if got := admins["近站"].do("POST", "/api/v1/stations/"+ids["近站"]+"/close", nil, nil); got != 403 {
		t.Errorf("a station admin closing their station: %d, want 403 (admins open and close)", got)
	}
	type near struct {
		Stations []struct {
			Station struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"station"`
			DistanceM float64 `json:"distance_m"`
			OpenNow   bool    `json:"open_now"`
			Nav       map[string]string
		} `json:"stations"`
	}
	var n near
	w.rider.must("GET", "/api/v1/stations/nearest?lat=28.1955&lng=112.9765", nil, &n, 200)
	if len(n.Stations) != 2 || n.Stations[0].Station.Name != "近站" || !n.Stations[0].OpenNow || n.Stations[0].DistanceM > 200 {
		t.Fatalf("nearest = %+v, want 近站 first, open, within 200 m", n.Stations)
	}
	if len(n.Stations[0].Nav) < 4 {
		t.Errorf("navigation links: %v, want geo:, Amap, Baidu and Tencent", n.Stations[0].Nav)
	}
	w.admin.must("POST", "/api/v1/stations/"+ids["近站"]+"/close", nil, nil, 200)
	w.rider.must("GET", "/api/v1/stations/nearest?lat=28.1955&lng=112.9765", nil, &n, 200)
	if n.Stations[0].Station.Name != "远站" || n.Stations[1].OpenNow {
		t.Errorf("after closing 近站: %+v, want the open 远站 first", n.Stations)
	}
	if got := w.rider.do("GET", "/api/v1/stations/nearest?lat=91&lng=112", nil, nil); got != 422 {
		t.Errorf("a latitude of 91: %d, want 422", got)
	}
}
