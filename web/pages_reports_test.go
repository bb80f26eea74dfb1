package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

// Points of the 2×2 test map (testdata/grid2x2.geojson): the middle of T-04
// (south-east) and of T-01 (north-west).
const (
	latT04, lngT04 = 28.195, 112.985
	latT01, lngT01 = 28.205, 112.975
)

// city is a test city: the 2×2 map, an officer for T-04 and one for T-01,
// and two riders.
type city struct {
	officer, other, rider, rider2 accounts.User
}

const (
	officerPassword = "officer-pass-1"
	riderPassword   = "rider-pass-1"
)

func (e *env) city(t *testing.T) city {
	t.Helper()
	ctx := t.Context()
	data, err := os.ReadFile("testdata/grid2x2.geojson")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.grid.Import(ctx, data, grid.Replace); err != nil {
		t.Fatalf("import the map: %v", err)
	}
	var c city
	staff := func(username, name string) accounts.User {
		u, err := e.accounts.CreateStaff(ctx, accounts.StaffInput{Username: username, DisplayName: name, Password: officerPassword, Kind: "officer"})
		if err != nil {
			t.Fatalf("create %s: %v", username, err)
		}
		return u
	}
	c.officer, c.other = staff("officer.wang", "王网格"), staff("officer.li", "李网格")
	if _, err := e.grid.Assign(ctx, "T-04", c.officer.ID, ""); err != nil {
		t.Fatalf("assign T-04: %v", err)
	}
	if _, err := e.grid.Assign(ctx, "T-01", c.other.ID, ""); err != nil {
		t.Fatalf("assign T-01: %v", err)
	}
	rider := func(phone, name string) accounts.User {
		u, err := e.accounts.Register(ctx, accounts.RegisterInput{Phone: phone, DisplayName: name, Password: riderPassword, Work: "food_delivery", AcceptPrivacy: true})
		if err != nil {
			t.Fatalf("register %s: %v", phone, err)
		}
		return u
	}
	c.rider, c.rider2 = rider("13800138000", "骑手小刘"), rider("13900139000", "骑手小张")
	return c
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustReport files a report in T-04 through the service.
func (e *env) mustReport(t *testing.T, reporter accounts.User, key string) reports.Report {
	t.Helper()
	lat, lng := latT04, lngT04
	r, _, err := e.reports.Submit(t.Context(), reporter.ID, reports.Submission{Key: key, Category: "road_damage",
		Description: "井盖缺失", Lat: &lat, Lng: &lng, Photos: [][]byte{mustRead(t, "testdata/road-clean.jpg")}})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return r
}

// multipart posts a multipart form with files under their field names;
// csrf is added from the cookie unless the fields have one.
func (b *browser) multipart(path string, fields map[string]string, files map[string][][]byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if _, ok := fields["csrf"]; !ok {
		fields["csrf"] = b.csrf()
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	for name, list := range files {
		for i, f := range list {
			fw, err := w.CreateFormFile(name, "photo"+string(rune('1'+i))+".jpg")
			if err != nil {
				b.t.Fatal(err)
			}
			_, _ = fw.Write(f)
		}
	}
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

// wantClean checks a page has every message it uses and no inline script
// or style, which the Content-Security-Policy forbids.
func wantClean(t *testing.T, p page) {
	t.Helper()
	if i := strings.Index(p.body, "[["); i >= 0 {
		t.Errorf("page has a missing message: %s", p.body[i:min(len(p.body), i+60)])
	}
	for _, bad := range []string{" style=", "<style", "<script>", "javascript:"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func wantNotBody(t *testing.T, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(p.body, s) {
			t.Errorf("page contains %q", s)
		}
	}
}

var keyField = regexp.MustCompile(`name="key" value="([^"]+)"`)

func TestReportForm(t *testing.T) {
	e := newEnv(t)
	e.city(t)
	b := e.browser(t)
	b.login("13800138000", riderPassword)

	p := b.get("/report")
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	for _, c := range reports.DefaultCategories {
		wantBody(t, p, `value="`+c.Code+`"`, c.ZH)
	}
	wantBody(t, p, `action="/report"`, `enctype="multipart/form-data"`, `capture="environment"`, `accept="image/jpeg,image/png,image/webp,image/*"`,
		`multiple`, `maxlength="500"`, `name="csrf-token"`, `/static/report.js?v=`, `id="pick-map"`, `data-kx=`, `aria-current="page"`)
	if m := keyField.FindStringSubmatch(p.body); m == nil || len(m[1]) < 20 {
		t.Errorf("no idempotency key in the form")
	}
	wantNotBody(t, p, "王网格", "李网格") // officers' names stay off the rider's map

	b.lang = "en"
	delete(b.cookies, "nx_lang")
	p = b.get("/report")
	wantClean(t, p)
	wantBody(t, p, "Road damage", "Take a photo", "Blocked passages and illegal parking")

	t.Run("nav", func(t *testing.T) {
		wantBody(t, b.get("/"), `href="/report"`, `href="/reports"`, `href="/inbox"`)
		wantNotBody(t, b.get("/"), `href="/queue"`)
		ob := e.browser(t)
		ob.login("officer.wang", officerPassword)
		home := ob.get("/")
		wantBody(t, home, `href="/queue"`, `href="/inbox"`, "工作台")
		wantNotBody(t, home, `href="/report"`, `href="/escalations"`)
		ab := e.browser(t)
		ab.login("admin", adminPassword)
		wantBody(t, ab.get("/"), `href="/queue"`, `href="/escalations"`, `href="/figures"`, "督办", "统计")
	})
	t.Run("officer may not report", func(t *testing.T) {
		ob := e.browser(t)
		ob.login("officer.wang", officerPassword)
		wantStatus(t, ob.get("/report"), http.StatusForbidden)
	})
	t.Run("anonymous is sent to log in", func(t *testing.T) {
		p := e.browser(t).get("/report")
		wantStatus(t, p, http.StatusSeeOther)
		if got := p.header.Get("Location"); got != "/login?next=%2Freport" {
			t.Errorf("Location %q", got)
		}
	})
}

func TestReportFallbackSubmit(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	b := e.browser(t)
	b.login("13800138000", riderPassword)
	clean, gps := mustRead(t, "testdata/road-clean.jpg"), mustRead(t, "testdata/road-gps.jpg")

	form := func() (string, map[string]string) {
		p := b.get("/report")
		m := keyField.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatal("no key in the form")
		}
		return m[1], map[string]string{"key": m[1], "category": "road_damage", "description": "井盖缺失，夜里很危险",
			"address": "五一大道", "lat": "28.195", "lng": "112.985", "manual": "true"}
	}

	key, fields := form()
	p := b.multipart("/report", fields, map[string][][]byte{"photos": {clean}})
	wantStatus(t, p, http.StatusSeeOther)
	loc := p.header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/reports/")
	if !ok || id == "" {
		t.Fatalf("Location %q, want the report page", loc)
	}
	r, err := e.reports.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("the report was not stored: %v", err)
	}
	if r.ReporterID != c.rider.ID || r.Cell != "T-04" || r.Status != reports.StatusSubmitted || r.LocationSource != "manual" || len(r.Photos) != 1 {
		t.Errorf("stored %+v; want the rider's submitted report in T-04, placed by hand, with one photo", r)
	}
	p = b.get(loc)
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	wantBody(t, p, "上报成功", `data-status="submitted"`, "已提交", "道路破损", "井盖缺失，夜里很危险", "提交上报",
		"/api/v1/reports/"+id+"/photos/1?thumb=true", "T-04 南东网格", `data-live="report"`, "/static/live.js?v=")

	t.Run("the same form twice is one report", func(t *testing.T) {
		again := map[string]string{}
		for k, v := range fields {
			again[k] = v
		}
		again["key"] = key
		p := b.multipart("/report", again, map[string][][]byte{"photos": {clean}})
		wantStatus(t, p, http.StatusSeeOther)
		if got := p.header.Get("Location"); got != loc {
			t.Errorf("second post went to %q, want %q", got, loc)
		}
		mine, _ := e.reports.Mine(t.Context(), c.rider.ID)
		if len(mine) != 1 {
			t.Errorf("%d reports after posting the same form twice, want 1", len(mine))
		}
	})
	t.Run("photo GPS", func(t *testing.T) {
		_, fields := form()
		fields["lat"], fields["lng"], fields["category"] = "", "", "traffic_facility"
		p := b.multipart("/report", fields, map[string][][]byte{"photos": {gps}})
		wantStatus(t, p, http.StatusSeeOther)
		id := strings.TrimPrefix(p.header.Get("Location"), "/reports/")
		r, err := e.reports.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.LocationSource != "photo" || r.Cell != "T-04" {
			t.Errorf("source %q cell %q, want the photo's GPS in T-04", r.LocationSource, r.Cell)
		}
	})
	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name   string
			change map[string]string
			photos [][]byte
			status int
			want   string
		}{
			{"no photo", nil, nil, http.StatusUnprocessableEntity, "请添加 1 到 3 张照片"},
			{"no category", map[string]string{"category": ""}, [][]byte{clean}, http.StatusUnprocessableEntity, "请选择问题类型"},
			{"bad coordinates", map[string]string{"lat": "north"}, [][]byte{clean}, http.StatusUnprocessableEntity, "坐标无效"},
			{"no position at all", map[string]string{"lat": "", "lng": ""}, [][]byte{clean}, http.StatusUnprocessableEntity, "没有位置"},
			{"not a photo", nil, [][]byte{[]byte("%PDF-1.4 not a photo")}, http.StatusUnsupportedMediaType, "请发送 JPEG、PNG 或 WebP 照片"},
			{"four photos", nil, [][]byte{clean, clean, clean, clean}, http.StatusUnprocessableEntity, "请添加 1 到 3 张照片"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, fields := form()
				for k, v := range tc.change {
					fields[k] = v
				}
				p := b.multipart("/report", fields, map[string][][]byte{"photos": tc.photos})
				wantStatus(t, p, tc.status)
				wantClean(t, p)
				wantBody(t, p, tc.want, `value="五一大道"`)
			})
		}
		_, fields := form()
		fields["csrf"] = "forged"
		wantStatus(t, b.multipart("/report", fields, map[string][][]byte{"photos": {clean}}), http.StatusForbidden)
	})
}

func TestReportPageVisibility(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "k1")
	path := "/reports/" + r.ID

	t.Run("reporter", func(t *testing.T) {
		b := e.browser(t)
		b.login("13800138000", riderPassword)
		p := b.get(path)
		wantStatus(t, p, http.StatusOK)
		wantBody(t, p, `data-status="submitted"`, `data-action="submit"`, "骑手", "网格员将在")
		// The reporter sees no action forms, and no officer's name.
		wantNotBody(t, p, `action="/reports/`+r.ID+`/act"`, "王网格")
		wantStatus(t, b.get("/reports"), http.StatusOK)
		wantBody(t, b.get("/reports"), path, "道路破损", "已提交")
	})
	t.Run("another rider", func(t *testing.T) {
		b := e.browser(t)
		b.login("13900139000", riderPassword)
		p := b.get(path)
		wantStatus(t, p, http.StatusNotFound)
		wantBody(t, p, "页面不存在", "没有这条上报")
		wantNotBody(t, p, "井盖缺失")
		wantNotBody(t, b.get("/reports"), path)
		// The photo route says the same.
		req := httptest.NewRequest(http.MethodGet, "/api/v1/reports/"+r.ID+"/photos/1?thumb=true", nil)
		req.AddCookie(&http.Cookie{Name: policy.SessionCookie, Value: b.cookies[policy.SessionCookie]})
		resp, err := e.srv.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("another rider's photo: status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("officer of another cell", func(t *testing.T) {
		b := e.browser(t)
		b.login("officer.li", officerPassword)
		wantStatus(t, b.get(path), http.StatusNotFound)
		p := b.post(path+"/act", url.Values{"action": {"acknowledge"}})
		if p.status != http.StatusNotFound && p.status != http.StatusForbidden {
			t.Errorf("act from another cell: status %d, want 404 or 403", p.status)
		}
		if got, _ := e.reports.Get(t.Context(), r.ID); got.Status != reports.StatusSubmitted {
			t.Errorf("status %s after another cell's officer acted", got.Status)
		}
	})
	t.Run("officer of the cell", func(t *testing.T) {
		b := e.browser(t)
		b.login("officer.wang", officerPassword)
		p := b.get(path)
		wantStatus(t, p, http.StatusOK)
		wantClean(t, p)
		wantBody(t, p, `id="act-acknowledge"`, `id="act-verify"`, `id="act-reject"`, `id="act-handover"`, `name="severity" value="2"`,
			`value="insufficient_evidence"`, `value="T-01"`, "确认时限")
		wantNotBody(t, p, `id="act-reopen"`, `id="act-start"`, "13800138000", "骑手小刘")
	})
	t.Run("admin", func(t *testing.T) {
		b := e.browser(t)
		b.login("admin", adminPassword)
		wantStatus(t, b.get(path), http.StatusOK)
	})
	t.Run("no such report", func(t *testing.T) {
		b := e.browser(t)
		b.login("admin", adminPassword)
		wantStatus(t, b.get("/reports/nope"), http.StatusNotFound)
	})
}

func TestReportActions(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "k1")
	path := "/reports/" + r.ID
	status := func() reports.Report {
		t.Helper()
		got, err := e.reports.Get(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ob := e.browser(t)
	ob.login("officer.wang", officerPassword)
	ob.get(path)

	p := ob.post(path+"/act", url.Values{"action": {"acknowledge"}})
	wantStatus(t, p, http.StatusSeeOther)
	if got := p.header.Get("Location"); got != path {
		t.Errorf("Location %q, want %q", got, path)
	}
	if got := status().Status; got != reports.StatusAcknowledged {
		t.Fatalf("status %s, want acknowledged", got)
	}
	p = ob.get(path)
	wantBody(t, p, "已完成：确认收到", `data-status="acknowledged"`, `data-action="acknowledge"`, "网格员")

	// Verify without a severity: the form says so and keeps the note.
	p = ob.post(path+"/act", url.Values{"action": {"verify"}, "note": {"现场确认"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "请选择严重程度", "现场确认")

	// Acknowledging twice: not allowed now, and what is.
	p = ob.post(path+"/act", url.Values{"action": {"acknowledge"}})
	wantStatus(t, p, http.StatusConflict)
	wantClean(t, p)
	wantBody(t, p, "现在不能“确认收到”", "已受理", "现在可以：核实、不予采纳、转交其他网格")

	p = ob.post(path+"/act", url.Values{"action": {"verify"}, "severity": {"2"}, "note": {"现场确认"}})
	wantStatus(t, p, http.StatusSeeOther)
	if got := status(); got.Status != reports.StatusVerified || got.Severity != 2 {
		t.Fatalf("status %s severity %d, want verified 2", got.Status, got.Severity)
	}
	p = ob.get(path)
	wantBody(t, p, `data-action="verify"`, "严重程度：较重", "现场确认", `id="act-start"`, `id="act-resolve"`)

	t.Run("English 409", func(t *testing.T) {
		en := e.browser(t)
		en.lang = "en"
		en.login("officer.wang", officerPassword)
		p := en.post(path+"/act", url.Values{"action": {"acknowledge"}})
		wantStatus(t, p, http.StatusConflict)
		wantBody(t, p, "You cannot Acknowledge now: the report is Verified. Allowed now: Start work, Resolve")
	})
	t.Run("the rider may not act", func(t *testing.T) {
		b := e.browser(t)
		b.login("13800138000", riderPassword)
		b.get(path)
		wantStatus(t, b.post(path+"/act", url.Values{"action": {"start"}}), http.StatusForbidden)
	})
	t.Run("forged token", func(t *testing.T) {
		wantStatus(t, ob.post(path+"/act", url.Values{"action": {"start"}, "csrf": {"forged"}}), http.StatusForbidden)
	})

	// Resolve with an after-photo.
	p = ob.multipart(path+"/resolve", map[string]string{"note": "已修复"}, map[string][][]byte{"photo": {mustRead(t, "testdata/road-clean.jpg")}})
	wantStatus(t, p, http.StatusSeeOther)
	if got := status(); got.Status != reports.StatusResolved || got.AfterPhoto == nil {
		t.Fatalf("status %s after photo %v, want resolved with a photo", got.Status, got.AfterPhoto)
	}
	p = ob.get(path)
	wantBody(t, p, `data-status="resolved"`, "/photos/after?thumb=true", "已修复")
	wantNotBody(t, p, `id="act-reopen"`)

	// Reopening is for admins.
	wantStatus(t, ob.post(path+"/act", url.Values{"action": {"reopen"}}), http.StatusForbidden)
	ab := e.browser(t)
	ab.login("admin", adminPassword)
	wantBody(t, ab.get(path), `id="act-reopen"`)
	wantStatus(t, ab.post(path+"/act", url.Values{"action": {"reopen"}, "note": {"骑手反映仍未修好"}}), http.StatusSeeOther)
	if got := status().Status; got != reports.StatusAcknowledged {
		t.Fatalf("status %s after reopen, want acknowledged", got)
	}
	tl, _ := e.reports.Timeline(t.Context(), r.ID, 0)
	if last := tl[len(tl)-1]; last.ActorRole != reports.RoleAdmin || last.ActorID == "" {
		t.Errorf("reopen entry %+v, want by the admin", last)
	}

	// Hand over to T-01; the page needs a reason.
	p = ob.post(path+"/act", url.Values{"action": {"handover"}, "cell": {"T-01"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "请写明原因")
	wantStatus(t, ob.post(path+"/act", url.Values{"action": {"handover"}, "cell": {"T-01"}, "note": {"在马路对面"}}), http.StatusSeeOther)
	if got := status(); got.Cell != "T-01" {
		t.Fatalf("cell %s after handover, want T-01", got.Cell)
	}
	// Now it is the other officer's; this one no longer sees it.
	wantStatus(t, ob.get(path), http.StatusNotFound)
	lb := e.browser(t)
	lb.login("officer.li", officerPassword)
	wantBody(t, lb.get(path), `data-action="handover"`, "在马路对面", `id="act-acknowledge"`)
}

func TestQueuePages(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r1 := e.mustReport(t, c.rider, "k1")
	lat, lng := latT01, lngT01
	r2, _, err := e.reports.Submit(t.Context(), c.rider2.ID, reports.Submission{Key: "k2", Category: "fire_safety",
		Lat: &lat, Lng: &lng, Photos: [][]byte{mustRead(t, "testdata/road-clean.jpg")}})
	if err != nil {
		t.Fatal(err)
	}
	// Outside the map: nobody's cell, for the admin.
	far, farLng := 30.0, 120.0
	r3, _, err := e.reports.Submit(t.Context(), c.rider2.ID, reports.Submission{Key: "k3", Category: "sanitation",
		Lat: &far, Lng: &farLng, Photos: [][]byte{mustRead(t, "testdata/road-clean.jpg")}})
	if err != nil {
		t.Fatal(err)
	}

	ob := e.browser(t)
	ob.login("officer.wang", officerPassword)
	p := ob.get("/queue")
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	wantBody(t, p, "/reports/"+r1.ID, "道路破损", "确认时限：剩余", `data-live="queue"`, "/static/queue.js?v=", `href="/figures"`)
	wantNotBody(t, p, "/reports/"+r2.ID, "/reports/"+r3.ID, `name="unassigned"`, `href="/escalations"`)
	if !strings.Contains(p.body, `<span class="n">1</span> 已提交`) {
		t.Errorf("the counts do not show 1 submitted:\n%s", p.body)
	}
	p = ob.get("/queue?status=acknowledged")
	wantNotBody(t, p, "/reports/"+r1.ID)
	wantBody(t, p, "没有待处理的上报")
	p = ob.get("/queue?cell=T-01")
	wantNotBody(t, p, "/reports/"+r2.ID)
	p = ob.get("/queue?category=fire_safety")
	wantNotBody(t, p, "/reports/"+r1.ID)

	ab := e.browser(t)
	ab.login("admin", adminPassword)
	p = ab.get("/queue")
	wantBody(t, p, "/reports/"+r1.ID, "/reports/"+r2.ID, "/reports/"+r3.ID, `name="unassigned"`, "网格外")
	p = ab.get("/queue?unassigned=true")
	wantBody(t, p, "/reports/"+r3.ID)
	wantNotBody(t, p, "/reports/"+r1.ID, "/reports/"+r2.ID)

	p = ab.get("/escalations")
	wantStatus(t, p, http.StatusOK)
	wantBody(t, p, "没有超时的上报")
	p = ab.get("/figures")
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	wantBody(t, p, "T-04 南东网格", "王网格", "近 30 天")
	wantStatus(t, ab.get("/figures?days=7"), http.StatusOK)

	wantStatus(t, ob.get("/escalations"), http.StatusForbidden)
	p = ob.get("/figures")
	wantStatus(t, p, http.StatusOK)
	wantBody(t, p, "T-04 南东网格")
	wantNotBody(t, p, "T-01 北西网格")

	rb := e.browser(t)
	rb.login("13800138000", riderPassword)
	wantStatus(t, rb.get("/queue"), http.StatusForbidden)
	wantStatus(t, rb.get("/figures"), http.StatusForbidden)
}

func TestInboxPage(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "k1")
	officer := reports.Actor{ID: c.officer.ID, Role: reports.RoleOfficer}
	if _, err := e.reports.Act(t.Context(), officer, r.ID, reports.ActionInput{Action: reports.ActVerify, Severity: 2}); err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	b.login("13800138000", riderPassword)
	p := b.get("/inbox")
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	wantBody(t, p, "你上报的“道路破损”已核实", "1 条未读", `href="/reports/`+r.ID+`"`, "T-04 南东网格")
	m := regexp.MustCompile(`action="(/inbox/[^"]+/read)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no mark-read form:\n%s", p.body)
	}
	action := strings.ReplaceAll(m[1], "&#43;", "+")
	p = b.post(action, url.Values{})
	wantStatus(t, p, http.StatusSeeOther)
	p = b.get("/inbox")
	wantBody(t, p, "0 条未读")
	wantNotBody(t, p, `action="/inbox/`)
	ns, unread, err := e.inbox.List(t.Context(), c.rider.ID, 10)
	if err != nil || unread != 0 || len(ns) != 1 || !ns[0].Read {
		t.Errorf("inbox %+v unread %d err %v, want one read notification", ns, unread, err)
	}

	// The officer was told of the new report; the rider cannot mark it.
	ob := e.browser(t)
	ob.login("officer.wang", officerPassword)
	p = ob.get("/inbox")
	wantBody(t, p, "新上报：道路破损")
	m = regexp.MustCompile(`action="(/inbox/[^"]+/read)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("the officer has no mark-read form")
	}
	wantStatus(t, b.post(m[1], url.Values{}), http.StatusNotFound)
	wantStatus(t, ob.post(m[1], url.Values{}), http.StatusSeeOther)
}

func TestReportRoutesHavePermissions(t *testing.T) {
	e := newEnv(t)
	want := map[string]policy.Permission{
		"GET /report":               reports.PermCreate,
		"POST /report":              reports.PermCreate,
		"GET /reports":              reports.PermCreate,
		"GET /reports/:id":          reports.PermView,
		"POST /reports/:id/act":     reports.PermHandle,
		"POST /reports/:id/resolve": reports.PermHandle,
		"GET /queue":                reports.PermQueue,
		"GET /escalations":          reports.PermEscalations,
		"GET /figures":              reports.PermFigures,
		"GET /inbox":                inbox.PermRead,
		"POST /inbox/:id/read":      inbox.PermRead,
		"GET /api/v1/live":          inbox.PermLive,
	}
	got := map[string]policy.Permission{}
	for _, r := range e.gate.Routes() {
		got[r.Method+" "+r.Path] = r.Permission
	}
	for route, perm := range want {
		if got[route] != perm {
			t.Errorf("%s: permission %q, want %q", route, got[route], perm)
		}
	}
}
