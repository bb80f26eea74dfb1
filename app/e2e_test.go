package app

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startDemo runs the program as main does, with -demo, on a fresh data
// directory, and returns its base URL and what it printed. It stops when the
// test ends.
func startDemo(t *testing.T) (base string, out *syncWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	out = &syncWriter{w: &bytes.Buffer{}}
	go func() {
		done <- Run(ctx, []string{"-demo"}, testEnv(t, nil), out, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("the program ended before listening: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the program did not stop within 30 s")
		}
	})
	return base, out
}

// webUser is a person in a browser without JavaScript: cookies kept,
// redirects followed, HTML asked for.
type webUser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebUser(t *testing.T, base string) *webUser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webUser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (u *webUser) send(req *http.Request) (int, string) {
	u.t.Helper()
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (u *webUser) get(path string) (int, string) {
	u.t.Helper()
	req, err := http.NewRequest("GET", u.base+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	return u.send(req)
}

var (
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	navBlock  = regexp.MustCompile(`(?s)<nav class="nav"[^>]*>(.*?)</nav>`)
	navHref   = regexp.MustCompile(`<li><a href="([^"]+)"`)
)

// logIn fills in and sends the login form, as a person does.
func (u *webUser) logIn(login, password string) {
	u.t.Helper()
	status, page := u.get("/login")
	m := csrfField.FindStringSubmatch(page)
	if status != 200 || m == nil {
		u.t.Fatalf("GET /login: status %d, csrf field found: %v", status, m != nil)
	}
	form := url.Values{"login": {login}, "password": {password}, "csrf": {html.UnescapeString(m[1])}}
	req, err := http.NewRequest("POST", u.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, page = u.send(req)
	if status != 200 || !strings.Contains(page, `action="/logout"`) {
		u.t.Fatalf("log in as %s through the form: status %d, logged in: %v\n%s", login, status, strings.Contains(page, `action="/logout"`), page)
	}
}

// navigation lists the links of the page's main navigation.
func navigation(page string) []string {
	block := navBlock.FindStringSubmatch(page)
	if block == nil {
		return nil
	}
	var out []string
	for _, m := range navHref.FindAllStringSubmatch(block[1], -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestDemoEveryPage starts the program the way main does, on the demo city,
// logs in through the web form as each kind of demo account and opens every
// page its navigation offers, plus a report page: each must answer 200. This
// is the test that would have caught the shipped binary answering 500 on
// every report page while the tests, wired their own way, were green.
func TestDemoEveryPage(t *testing.T) {
	base, out := startDemo(t)

	// A rider files a report at Wuyi Square through the API, as the phone
	// app does, so that there is a report page to open.
	rider := login(t, base, "13800138001", DemoPassword)
	status, rep := submitReport(t, rider, "demo-e2e-1", map[string]string{
		"category": "road_damage", "description": "井盖缺失", "lat": "28.1960", "lng": "112.9770",
	}, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit a report: status %d: %v", status, rep)
	}
	reportID, _ := rep["id"].(string)
	cell, _ := rep["cell"].(string)
	if reportID == "" || cell == "" {
		t.Fatalf("report %v: want an id and a cell in the demo map", rep)
	}
	// The officer of that cell, found as a person would: by their roles.
	officer := ""
	for i := 1; i <= 6 && officer == ""; i++ {
		c := login(t, base, fmt.Sprintf("officer%d", i), DemoPassword)
		var me struct{ Roles map[string]string }
		c.must("GET", "/api/v1/me", nil, &me, 200)
		if me.Roles["cell:"+cell] == "officer" {
			officer = fmt.Sprintf("officer%d", i)
		}
	}
	if officer == "" {
		t.Fatalf("no demo officer holds cell %s", cell)
	}

	for _, acct := range []struct {
		kind, login, password string
		wantNav               []string // pages this kind must be offered
		seesReport            bool
	}{
		{"rider", "13800138001", DemoPassword, []string{"/report", "/reports", "/inbox"}, true},
		{"officer", officer, DemoPassword, []string{"/queue", "/admin/grid", "/inbox"}, true},
		{"station admin", "station1", DemoPassword, []string{"/"}, false},
		{"admin", "admin", adminPassword, []string{"/admin/users", "/admin/grid", "/queue", "/escalations", "/figures", "/inbox"}, true},
	} {
		t.Run(acct.kind, func(t *testing.T) {
			u := newWebUser(t, base)
			u.logIn(acct.login, acct.password)
			status, home := u.get("/")
			if status != 200 {
				t.Fatalf("GET / as %s: status %d", acct.kind, status)
			}
			nav := navigation(home)
			for _, want := range acct.wantNav {
				if !contains(nav, want) {
					t.Errorf("%s's navigation %v lacks %s", acct.kind, nav, want)
				}
			}
			pages := append(nav, "/reports/"+reportID)
			for _, path := range pages {
				status, body := u.get(path)
				want := 200
				if path == "/reports/"+reportID && !acct.seesReport {
					want = 403 // a station admin has no business with a rider's report
				}
				if status != want {
					t.Errorf("GET %s as %s: status %d, want %d\n%.600s", path, acct.kind, status, want, body)
				}
			}
			t.Logf("%s opened %v", acct.kind, pages)
		})
	}
	if !strings.Contains(out.String(), "13800138001") {
		t.Errorf("the demo did not print its logins:\n%s", out.String())
	}
}
