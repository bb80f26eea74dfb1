package grid_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/app"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

const adminPassword = "admin-secret-123"

// gridApp is the application as the binary builds it, with a 3×1 map
// (T-0001..T-0003), two officers and one open report in T-0002.
type gridApp struct {
	t        *testing.T
	a        *app.App
	officers [2]accounts.User
}

func newGridApp(t *testing.T) *gridApp {
	t.Helper()
	cfg, err := app.ParseConfig(nil, func(k string) string {
		return map[string]string{"NUANXIN_DATA_DIR": t.TempDir(), "NUANXIN_ADMIN_PASSWORD": adminPassword, "NUANXIN_LIVE_INTERVAL": "100ms"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	g := &gridApp{t: t, a: a}
	data, err := grid.MarshalFeatureCollection(grid.GridCells("T", "d", 112.97, 28.19, 0.01, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Grid.Import(t.Context(), data, grid.Replace); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"wang", "li"} {
		u, err := a.Accounts.CreateStaff(t.Context(), accounts.StaffInput{Username: "officer." + name, DisplayName: "网格员" + name, Password: "officer-pass-1", Kind: string(accounts.KindOfficer)})
		if err != nil {
			t.Fatal(err)
		}
		g.officers[i] = u
	}
	admin, err := a.Accounts.ByLogin(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile("../app/testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	lat, lng := 28.195, 112.985 // in T-0002
	if _, _, err := a.Reports.Submit(t.Context(), admin.ID, reports.Submission{Key: "grid-page-1", Category: "road_damage", Description: "井盖缺失", Lat: &lat, Lng: &lng, Photos: [][]byte{photo}}); err != nil {
		t.Fatal(err)
	}
	// The open reports are counted from a model that follows the report
	// feed; wait until it has the report.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if counts, ok := a.Reports.OpenByCell(); ok && counts["T-0002"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the open-report counts never showed the report in T-0002")
		}
	}
	return g
}

func (g *gridApp) send(req *http.Request) (int, http.Header, string) {
	g.t.Helper()
	resp, err := g.a.Server.App.Test(req, -1)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// session logs in through the login form and returns a function that sends
// page requests with the session and, on POSTs, its CSRF token.
func (g *gridApp) session(login, password string) func(method, path string, form url.Values) (int, http.Header, string) {
	g.t.Helper()
	const token = "t0ken-for-login-0123456789"
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"login": {login}, "password": {password}, "csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: policy.CSRFCookie, Value: token})
	resp, err := g.a.Server.App.Test(req, -1)
	if err != nil {
		g.t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == policy.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		g.t.Fatalf("log in as %s: %d, no session cookie", login, resp.StatusCode)
	}
	// Cookies the pages set (the flash message) go back with the next request.
	jar := map[string]string{policy.SessionCookie: session}
	return func(method, path string, form url.Values) (int, http.Header, string) {
		if form != nil {
			form.Set("csrf", policy.SessionCSRF(session))
		}
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "zh-CN")
		for k, v := range jar {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		code, hdr, body := g.send(req)
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			if c.Value == "" || c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c.Value
			}
		}
		return code, hdr, body
	}
}

// api logs in through the API and returns a function that sends JSON with
// the bearer token.
func (g *gridApp) api(login, password string) func(method, path, body string) (int, string) {
	g.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"login":"`+login+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	code, _, body := g.send(req)
	var out struct{ Token string }
	if err := json.Unmarshal([]byte(body), &out); code != http.StatusOK || err != nil {
		g.t.Fatalf("log in as %s: %d %s", login, code, body)
	}
	return func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+out.Token)
		code, _, b := g.send(req)
		return code, b
	}
}

// primaryOf is the id of a cell's primary officer, "" for none.
func (g *gridApp) primaryOf(code string) string {
	c, err := g.a.Grid.Cell(code)
	if err != nil {
		g.t.Fatal(err)
	}
	if c.Assignment.Primary == nil {
		return ""
	}
	return c.Assignment.Primary.ID
}

func wantIn(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q", what, w)
		}
	}
}

// rowOf is the table row of a cell as the page renders it.
func rowOf(t *testing.T, body, code string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="cell-` + regexp.QuoteMeta(code) + `".*?</tr>`).FindString(body)
	if m == "" {
		t.Fatalf("no row for %s", code)
	}
	return m
}

// The admin's grid page: one form around the table, "select all" without a
// script, every problem named with nothing written, then many cells
// assigned in one submission; open-report counts on the map and in the
// table, for admins and officers.
func TestGridPageBulkAssign(t *testing.T) {
	g := newGridApp(t)
	wang, li := g.officers[0].ID, g.officers[1].ID
	admin := g.session("admin", adminPassword)

	code, _, body := admin(http.MethodGet, "/admin/grid", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /admin/grid: %d", code)
	}
	wantIn(t, "the admin's grid page", body, `action="/admin/grid/assign"`, `name="cells" value="T-0001"`, `name="primary_id"`, `value="=keep"`)
	if strings.Contains(body, `action="/admin/grid/cells/`) || strings.Count(body, `name="primary_id"`) != 1 {
		t.Error("the table still has a form per row")
	}
	// The open report: a badge on the map, a count in the table.
	if n := strings.Count(body, `<g class="open-badge heat-1">`); n != 1 {
		t.Errorf("%d badges on the map, want 1 (T-0002's)", n)
	}
	wantIn(t, "T-0002's row", rowOf(t, body, "T-0002"), `<span class="open-count heat-1">1</span>`)
	wantIn(t, "T-0001's row", rowOf(t, body, "T-0001"), `<span class="muted">0</span>`)

	// "Select all" shows the page again with every box ticked and the
	// officers chosen so far, and writes nothing.
	code, _, body = admin(http.MethodPost, "/admin/grid/assign", url.Values{"select": {"all"}, "primary_id": {wang}})
	if code != http.StatusOK {
		t.Fatalf("select all: %d", code)
	}
	if n := strings.Count(body, `name="cells" value="T-000`); n != 3 || strings.Count(body, " checked>") != 3 {
		t.Errorf("select all: %d boxes, %d ticked; want 3 and 3", n, strings.Count(body, " checked>"))
	}
	wantIn(t, "the page after select all", body, `<option value="`+wang+`" selected>`, "已选 3 个网格")
	code, _, body = admin(http.MethodPost, "/admin/grid/assign", url.Values{"select": {"none"}, "cells": {"T-0001", "T-0002"}})
	if code != http.StatusOK || strings.Contains(body, " checked>") {
		t.Errorf("clear: %d, boxes still ticked", code)
	}

	// Every problem at once, nothing written.
	code, _, body = admin(http.MethodPost, "/admin/grid/assign", url.Values{"cells": {"T-0001", "NOPE"}, "primary_id": {""}, "backup_id": {li}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad bulk assignment: %d, want 422", code)
	}
	wantIn(t, "the refusal", body, "没有指派任何网格", "网格 NOPE：没有这个编码的网格", "请选择主责网格员", `id="bulk-primary" aria-invalid="true"`)
	if strings.Count(body, " checked>") != 1 {
		t.Error("the refused form does not keep T-0001 ticked")
	}
	code, _, body = admin(http.MethodPost, "/admin/grid/assign", url.Values{"cells": {"T-0001"}, "primary_id": {li}, "backup_id": {li}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("same officer twice: %d, want 422", code)
	}
	wantIn(t, "the refusal", body, "主责和备岗网格员必须是不同的人")
	for _, c := range []string{"T-0001", "T-0002", "T-0003"} {
		if p := g.primaryOf(c); p != "" {
			t.Errorf("%s has primary %s after refused assignments", c, p)
		}
	}
	// Without the session's token the form is refused.
	req := httptest.NewRequest(http.MethodPost, "/admin/grid/assign", strings.NewReader(url.Values{"cells": {"T-0001"}, "primary_id": {wang}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, _, _ := g.send(req); code != http.StatusForbidden && code != http.StatusUnauthorized {
		t.Errorf("bulk assignment without a session: %d", code)
	}

	// Two cells in one submission.
	code, hdr, _ := admin(http.MethodPost, "/admin/grid/assign", url.Values{"cells": {"T-0001", "T-0003"}, "primary_id": {wang}, "backup_id": {li}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/admin/grid#cells" {
		t.Fatalf("bulk assignment: %d to %q, want 303 to /admin/grid#cells", code, hdr.Get("Location"))
	}
	if g.primaryOf("T-0001") != wang || g.primaryOf("T-0003") != wang || g.primaryOf("T-0002") != "" {
		t.Errorf("primaries T-0001 %q, T-0002 %q, T-0003 %q; want %s, none, %s", g.primaryOf("T-0001"), g.primaryOf("T-0002"), g.primaryOf("T-0003"), wang, wang)
	}
	_, _, body = admin(http.MethodGet, "/admin/grid", nil)
	wantIn(t, "the page after the assignment", body, "已为 2 个网格指派主责网格员 网格员wang", "1 个尚无主责网格员")
	wantIn(t, "T-0003's row", rowOf(t, body, "T-0003"), "网格员wang", "网格员li")

	// Keeping each cell's backup: T-0001 keeps li, T-0002 has none.
	code, _, _ = admin(http.MethodPost, "/admin/grid/assign", url.Values{"cells": {"T-0001", "T-0002"}, "primary_id": {wang}, "backup_id": {"=keep"}})
	if code != http.StatusSeeOther {
		t.Fatalf("keep backups: %d", code)
	}
	if c, _ := g.a.Grid.Cell("T-0001"); c.Assignment.Backup == nil || c.Assignment.Backup.ID != li {
		t.Errorf("T-0001 backup %+v, want li kept", c.Assignment.Backup)
	}
	if c, _ := g.a.Grid.Cell("T-0002"); c.Assignment.Primary == nil || c.Assignment.Backup != nil {
		t.Errorf("T-0002 %+v, want wang and no backup", c.Assignment)
	}

	// The one-cell route of earlier pages still works.
	code, _, _ = admin(http.MethodPost, "/admin/grid/cells/T-0002/officers", url.Values{"primary_id": {li}})
	if code != http.StatusSeeOther || g.primaryOf("T-0002") != li {
		t.Errorf("one-cell assignment: %d, T-0002 primary %q", code, g.primaryOf("T-0002"))
	}

	t.Run("officer sees counts, no controls", func(t *testing.T) {
		officer := g.session("officer.wang", "officer-pass-1")
		code, _, body := officer(http.MethodGet, "/admin/grid", nil)
		if code != http.StatusOK {
			t.Fatalf("officer GET /admin/grid: %d", code)
		}
		wantIn(t, "the officer's grid page", body, `<g class="open-badge heat-1">`, `<span class="open-count heat-1">1</span>`)
		for _, control := range []string{`action="/admin/grid/assign"`, `name="cells"`, `name="primary_id"`} {
			if strings.Contains(body, control) {
				t.Errorf("the officer's page shows %s", control)
			}
		}
		if code, _, _ := officer(http.MethodPost, "/admin/grid/assign", url.Values{"cells": {"T-0001"}, "primary_id": {wang}}); code != http.StatusForbidden {
			t.Errorf("officer's bulk assignment: %d, want 403", code)
		}
		api := g.api("officer.wang", "officer-pass-1")
		if code, _ := api(http.MethodPost, "/api/v1/grid/assign", `{"cells":["T-0001"],"primary_id":"`+wang+`"}`); code != http.StatusForbidden {
			t.Errorf("officer's API bulk assignment: %d, want 403", code)
		}
	})
}

// The API's bulk assignment: 422 with a detail per problem and nothing
// written, then every cell assigned.
func TestGridAPIBulkAssign(t *testing.T) {
	g := newGridApp(t)
	wang, li := g.officers[0].ID, g.officers[1].ID
	api := g.api("admin", adminPassword)

	code, body := api(http.MethodPost, "/api/v1/grid/assign", `{"cells":["T-0001","NOPE","T-0003"],"primary_id":"`+wang+`","backup_id":"`+wang+`"}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad bulk assignment: %d %s", code, body)
	}
	var problem struct {
		Detail string
		Errors []struct{ Location, Message string }
	}
	if err := json.Unmarshal([]byte(body), &problem); err != nil {
		t.Fatal(err)
	}
	var locs []string
	for _, e := range problem.Errors {
		locs = append(locs, e.Location)
	}
	if got, want := strings.Join(locs, " "), "body.cells[1] body.backup_id"; got != want {
		t.Errorf("problems at %q, want %q: %s", got, want, body)
	}
	wantIn(t, "the problem", body, "Nothing was assigned", "cell NOPE: there is no cell with this code", "must be different people")
	for _, c := range []string{"T-0001", "T-0003"} {
		if p := g.primaryOf(c); p != "" {
			t.Errorf("%s has primary %s after a refused assignment", c, p)
		}
	}
	if code, body := api(http.MethodPost, "/api/v1/grid/assign", `{"cells":[],"primary_id":""}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "choose at least one cell") || !strings.Contains(body, "choose the primary officer") {
		t.Errorf("empty bulk assignment: %d %s", code, body)
	}

	code, body = api(http.MethodPost, "/api/v1/grid/assign", `{"cells":["T-0001","T-0002","T-0003"],"primary_id":"`+wang+`","backup_id":"`+li+`"}`)
	if code != http.StatusOK {
		t.Fatalf("bulk assignment: %d %s", code, body)
	}
	var out struct{ Assigned []grid.Assignment }
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Assigned) != 3 {
		t.Fatalf("answer %s: want 3 assignments", body)
	}
	for _, c := range []string{"T-0001", "T-0002", "T-0003"} {
		if p := g.primaryOf(c); p != wang {
			t.Errorf("%s primary %q, want %s", c, p, wang)
		}
	}
}
