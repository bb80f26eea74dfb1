package web_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/internal/browsertest"
)

// serve runs the application on a free loopback port until the test ends
// and returns its base URL. It serves through App.Serve, as the binary does.
func (e *env) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.app.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// chrome starts a headless Chromium with a fresh profile and returns a tab.
// The browser stops when the test ends.
func chrome(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, 2*time.Minute, chromedp.WindowSize(1280, 900))
}

// tab wraps a browser tab with helpers that fail the test.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// load runs steps that navigate (a link, a form) and returns the status of
// the page the browser ends on.
func (b tab) load(what string, steps ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

func (b tab) open(path string) int {
	b.t.Helper()
	return b.load("open "+path, chromedp.Navigate(b.base+path))
}

func (b tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b tab) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	return s
}

// screenshot saves a full-page PNG under NUANXIN_SCREENSHOT_DIR, else in a
// temporary directory, and logs where.
func (b tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("NUANXIN_SCREENSHOT_DIR")
	if dir == "" {
		dir = b.t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
	b.t.Logf("screenshot: %s", path)
}

// chinese makes sure the pages are in Chinese, through the switch link if
// the browser asked for another language.
func (b tab) chinese() {
	b.t.Helper()
	l, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.documentElement.lang"))
	if err != nil {
		b.t.Fatalf("page language: %v", err)
	}
	if l != "zh-CN" {
		b.load("switch to Chinese", chromedp.Click(chromedp.CSS("a.lang")))
	}
	if l := b.text(".top .lang"); l != "English" {
		b.t.Fatalf("switch link says %q; want the pages in Chinese", l)
	}
}

func TestBrowserAdminAssignsOfficer(t *testing.T) {
	e := newEnv(t)
	base := e.serve(t) // first, so that it stops after the browser
	b := tab{t: t, ctx: chrome(t), base: base}

	// Log in through the form.
	if st := b.open("/login"); st != http.StatusOK {
		t.Fatalf("GET /login: status %d", st)
	}
	b.chinese()
	b.do("fill the login form",
		chromedp.SendKeys(chromedp.CSS("#login"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword))
	if st := b.load("log in", chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("log in: status %d", st)
	}
	if got := b.text(".welcome h2"); !strings.Contains(got, "管理员 Admin") {
		t.Fatalf("home page greets %q, want the admin", got)
	}

	// Create an officer.
	b.open("/admin/users")
	b.do("fill the staff form",
		chromedp.SendKeys(chromedp.CSS("#username"), "officer.wang"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "王网格"),
		chromedp.SendKeys(chromedp.CSS("#password"), "officer-pass-1"),
		chromedp.SetValue(chromedp.CSS("#kind"), "officer"))
	if st := b.load("create the officer", chromedp.Click(chromedp.CSS(`#create-user button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("create officer: status %d", st)
	}
	if got := b.text(".flash"); !strings.Contains(got, "王网格") {
		t.Fatalf("after creating the officer the page says %q", got)
	}
	b.screenshot("users.png")
	officer, err := e.accounts.ByLogin(t.Context(), "officer.wang")
	if err != nil {
		t.Fatalf("the officer was not created: %v", err)
	}

	// Upload the 2×2 map.
	mapFile := filepath.Join(t.TempDir(), "grid2x2.geojson")
	data, err := os.ReadFile("testdata/grid2x2.geojson")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mapFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b.open("/admin/grid")
	b.do("choose the map file",
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{mapFile}),
		chromedp.SetValue(chromedp.CSS("#mode"), "replace"))
	if st := b.load("import the map", chromedp.Click(chromedp.CSS(`#import-form button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("import: status %d", st)
	}
	if got := b.text(".flash"); !strings.Contains(got, "4") {
		t.Errorf("after the import the page says %q", got)
	}
	paths, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll("svg.map path"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 {
		t.Fatalf("%d cells drawn, want 4", len(paths))
	}
	unassigned, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll("svg.map a.unassigned"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(unassigned) != 4 {
		t.Errorf("%d cells drawn as unassigned, want 4", len(unassigned))
	}

	// Assign the officer as primary of T-02 and T-03 in one submission of
	// the bulk form: tick the cells, choose in the bar, press assign.
	b.do("tick T-02 and T-03 and choose the primary officer",
		chromedp.Click(chromedp.CSS(`label[for="pick-T-02"]`)),
		chromedp.Click(chromedp.CSS(`label[for="pick-T-03"]`)),
		chromedp.SetValue(chromedp.CSS(`#bulk-primary`), officer.ID))
	if st := b.load("assign", chromedp.Click(chromedp.CSS(`#bulk-assign .bulk-bar button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("assign: status %d", st)
	}
	if got := b.text(".flash"); !strings.Contains(got, "2") || !strings.Contains(got, "王网格") {
		t.Errorf("after the assignment the page says %q", got)
	}
	if got := b.text("#cell-T-02 .primary"); got != "王网格" {
		t.Errorf("T-02's primary officer shows as %q, want 王网格", got)
	}
	if got := b.text("#cell-T-01 .primary"); strings.Contains(got, "王网格") {
		t.Errorf("T-01 shows %q, want no officer", got)
	}
	unassigned, err = chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll("svg.map a.unassigned"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.text("#cell-T-03 .primary"); got != "王网格" {
		t.Errorf("T-03's primary officer shows as %q, want 王网格", got)
	}
	if len(unassigned) != 2 {
		t.Errorf("%d cells drawn as unassigned after the assignment, want 2", len(unassigned))
	}
	stored := 0
	for _, c := range e.grid.Cells() {
		if c.Assignment.Primary != nil && c.Assignment.Primary.ID == officer.ID {
			stored++
			if c.Code != "T-02" && c.Code != "T-03" {
				t.Errorf("%s was assigned although it was not ticked", c.Code)
			}
		}
	}
	if stored != 2 {
		t.Errorf("the grid service has the officer as primary of %d cells, want T-02 and T-03: %+v", stored, e.grid.Cells())
	}

	b.screenshot("grid-desktop.png")
	b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.open("/admin/grid")
	b.screenshot("grid-phone.png")
}

func TestBrowserAdminPagesRefused(t *testing.T) {
	e := newEnv(t)
	base := e.serve(t) // first, so that it stops after the browser
	b := tab{t: t, ctx: chrome(t), base: base}

	// Anonymous: sent to the login page, which comes back afterwards.
	if st := b.open("/admin/grid"); st != http.StatusOK {
		t.Fatalf("anonymous GET /admin/grid ends with status %d, want the login page", st)
	}
	if got, want := b.location(), b.base+"/login?next=%2Fadmin%2Fgrid"; got != want {
		t.Fatalf("anonymous GET /admin/grid ends at %s, want %s", got, want)
	}
	b.chinese()

	// A rider registers through the form and is logged in.
	b.open("/register")
	b.do("fill the registration form",
		chromedp.SendKeys(chromedp.CSS("#phone"), "13800138000"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "骑手小刘"),
		chromedp.SendKeys(chromedp.CSS("#password"), "rider-pass-1"),
		chromedp.Click(chromedp.CSS(`.tiles input[value="food_delivery"]`)),
		// The consent is asked for by a box the person ticks themselves.
		chromedp.Click(chromedp.CSS(`#accept_privacy`)))
	b.screenshot("register.png")
	if st := b.load("register", chromedp.Click(chromedp.CSS(`form[action="/register"] button[type="submit"]`))); st != http.StatusOK {
		t.Fatalf("register: status %d", st)
	}
	if got := b.location(); got != b.base+"/" {
		t.Errorf("after registering the browser is at %s, want the home page", got)
	}
	if got := b.text(".welcome h2"); !strings.Contains(got, "骑手小刘") {
		t.Errorf("home page greets %q, want the rider", got)
	}
	b.screenshot("home-rider.png")

	// The rider may not open the grid map.
	if st := b.open("/admin/grid"); st != http.StatusForbidden {
		t.Fatalf("rider GET /admin/grid: status %d, want 403", st)
	}
	if got := b.text(".problem h1"); got != "没有权限" {
		t.Errorf("403 page heading %q, want 没有权限", got)
	}
	if got := b.text(".problem .status"); !strings.Contains(got, "403") {
		t.Errorf("403 page status line %q", got)
	}
	b.screenshot("forbidden.png")
}
