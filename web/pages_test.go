package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
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
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/web"
)

const adminPassword = "admin-secret-123"

// env is the whole application, built by app.New exactly as the binary
// builds it, on fresh embedded stores in a temporary directory.
type env struct {
	app      *app.App
	srv      *web.Server
	accounts *accounts.Service
	grid     *grid.Service
	gate     *policy.Gate
	reports  *reports.Service
	inbox    *inbox.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := app.ParseConfig(nil, func(k string) string {
		return map[string]string{
			"NUANXIN_DATA_DIR":       t.TempDir(),
			"NUANXIN_ADMIN_PASSWORD": adminPassword,
			"NUANXIN_LIVE_INTERVAL":  "100ms",
		}[k]
	}, io.Discard)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("build the application: %v", err)
	}
	t.Cleanup(a.Close)
	return &env{app: a, srv: a.Server, accounts: a.Accounts, grid: a.Grid, gate: a.Gate, reports: a.Reports, inbox: a.Inbox}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is a minimal browser for app.Test: it keeps cookies and asks for
// HTML.
type browser struct {
	t       *testing.T
	e       *env
	cookies map[string]string
	lang    string // Accept-Language
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, e: e, cookies: map[string]string{}}
}

// page is an answer: status, headers and body.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.e.srv.App.Test(req, -1)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	for _, c := range resp.Cookies() {
		if c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) || c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// csrf is the token a page would have shown this browser: its session's,
// once logged in, else the pre-login cookie's.
func (b *browser) csrf() string {
	if s := b.cookies[policy.SessionCookie]; s != "" {
		return policy.SessionCSRF(s)
	}
	return b.cookies[policy.CSRFCookie]
}

// post sends a form; csrf is added unless the form has one.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// upload sends a multipart form with an optional file.
func (b *browser) upload(path string, fields map[string]string, file []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if _, ok := fields["csrf"]; !ok {
		fields["csrf"] = b.csrf()
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "map.geojson")
		if err != nil {
			b.t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

// login logs in through the form and checks it worked.
func (b *browser) login(login, password string) {
	b.t.Helper()
	b.get("/login")
	p := b.post("/login", url.Values{"login": {login}, "password": {password}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("log in as %s: status %d, want 303; body:\n%s", login, p.status, p.body)
	}
}

func wantStatus(t *testing.T, p page, want int) {
	t.Helper()
	if p.status != want {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, want, p.body)
	}
}

func wantBody(t *testing.T, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Errorf("page does not contain %q; body:\n%s", s, p.body)
		}
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	t.Run("mismatch", func(t *testing.T) {
		b := e.browser(t)
		b.get("/login")
		if b.cookies[policy.CSRFCookie] == "" {
			t.Fatal("GET /login set no CSRF cookie")
		}
		p := b.post("/login", url.Values{"login": {"admin"}, "password": {adminPassword}, "csrf": {"forged"}})
		wantStatus(t, p, http.StatusForbidden)
		wantBody(t, p, "页面已过期")
		if b.cookies[policy.SessionCookie] != "" {
			t.Error("a login with a forged token opened a session")
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		b := e.browser(t)
		p := b.post("/login", url.Values{"login": {"admin"}, "password": {adminPassword}, "csrf": {"whatever"}})
		wantStatus(t, p, http.StatusForbidden)
	})
	t.Run("register mismatch", func(t *testing.T) {
		b := e.browser(t)
		b.get("/register")
		p := b.post("/register", url.Values{"phone": {"13800138000"}, "display_name": {"小王"}, "password": {"long-enough-1"}, "work": {"courier"}, "accept_privacy": {"yes"}, "csrf": {"forged"}})
		wantStatus(t, p, http.StatusForbidden)
		if _, err := e.accounts.ByLogin(t.Context(), "13800138000"); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("a registration with a forged token created an account (err %v)", err)
		}
	})
	t.Run("cookie attributes", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/login", nil)
		resp, err := e.srv.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		var c *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == policy.CSRFCookie {
				c = k
			}
		}
		if c == nil {
			t.Fatal("no CSRF cookie")
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || len(c.Value) != 43 {
			t.Errorf("CSRF cookie %+v, want HttpOnly, SameSite=Lax, Path=/, 43 characters", c)
		}
	})
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, acceptLanguage, cookie string
		want, notWant                string
	}{
		{"default is Chinese", "", "", `<html lang="zh-CN">`, "Log in"},
		{"Accept-Language en", "en-US,en;q=0.9", "", `<html lang="en">`, "登录"},
		{"Accept-Language prefers zh", "fr, zh-TW;q=0.8, en;q=0.5", "", `<html lang="zh-CN">`, "Log in"},
		{"Accept-Language neither", "fr-FR, de", "", `<html lang="zh-CN">`, "Log in"},
		{"cookie beats header", "zh-CN", "en", `<html lang="en">`, "登录"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(t)
			b.lang = tc.acceptLanguage
			if tc.cookie != "" {
				b.cookies["nx_lang"] = tc.cookie
			}
			p := b.get("/login")
			wantStatus(t, p, http.StatusOK)
			wantBody(t, p, tc.want)
			if strings.Contains(p.body, tc.notWant) {
				t.Errorf("page contains %q", tc.notWant)
			}
		})
	}
	t.Run("switch", func(t *testing.T) {
		b := e.browser(t)
		p := b.get("/login?next=%2Fadmin%2Fgrid")
		wantBody(t, p, `href="/lang?to=en&amp;next=%2Flogin%3Fnext%3D%252Fadmin%252Fgrid"`)
		p = b.get("/lang?to=en&next=" + url.QueryEscape("/login?next=/admin/grid"))
		wantStatus(t, p, http.StatusSeeOther)
		if got, want := p.header.Get("Location"), "/login?next=/admin/grid"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if got := b.cookies["nx_lang"]; got != "en" {
			t.Fatalf("nx_lang cookie %q, want en", got)
		}
		p = b.get("/login")
		wantBody(t, p, `<html lang="en">`, "Mobile number or username", `href="/lang?to=zh-CN&amp;next=%2Flogin"`)
		b.get("/lang?to=zh-CN&next=/")
		wantBody(t, b.get("/"), `<html lang="zh-CN">`)
	})
	t.Run("switch refuses other sites", func(t *testing.T) {
		b := e.browser(t)
		for _, next := range []string{"//evil.example", "https://evil.example/", `/\evil.example`, ""} {
			p := b.get("/lang?to=en&next=" + url.QueryEscape(next))
			wantStatus(t, p, http.StatusSeeOther)
			if got := p.header.Get("Location"); got != "/" {
				t.Errorf("next=%q: Location %q, want /", next, got)
			}
		}
	})
	t.Run("unknown language", func(t *testing.T) {
		wantStatus(t, e.browser(t).get("/lang?to=fr&next=/"), http.StatusBadRequest)
	})
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	t.Run("wrong password", func(t *testing.T) {
		b := e.browser(t)
		b.get("/login")
		p := b.post("/login", url.Values{"login": {"admin"}, "password": {"not-the-password"}})
		wantStatus(t, p, http.StatusUnauthorized)
		wantBody(t, p, "手机号/用户名或密码错误", `value="admin"`)
		if strings.Contains(p.body, "not-the-password") {
			t.Error("the page shows the password that was typed")
		}
	})
	t.Run("wrong password in English", func(t *testing.T) {
		b := e.browser(t)
		b.lang = "en"
		b.get("/login")
		p := b.post("/login", url.Values{"login": {"admin"}, "password": {"not-the-password"}})
		wantStatus(t, p, http.StatusUnauthorized)
		wantBody(t, p, "The mobile number/username or password is wrong.")
	})
	t.Run("malformed login", func(t *testing.T) {
		b := e.browser(t)
		b.get("/login")
		p := b.post("/login", url.Values{"login": {"?"}, "password": {"x"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantBody(t, p, "请输入手机号或用户名", `aria-invalid="true"`)
	})
	t.Run("throttled", func(t *testing.T) {
		if _, err := e.accounts.CreateStaff(t.Context(), accounts.StaffInput{Username: "victim", DisplayName: "V", Password: "victim-pass-1", Kind: "officer"}); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		b.get("/login")
		var p page
		for range accounts.MaxFailuresPerAccountAddress + 1 {
			p = b.post("/login", url.Values{"login": {"victim"}, "password": {"wrong-wrong"}})
		}
		wantStatus(t, p, http.StatusTooManyRequests)
		wantBody(t, p, "登录失败次数过多", "分钟后再试")
		if p.header.Get("Retry-After") == "" {
			t.Error("no Retry-After header")
		}
	})
	t.Run("next", func(t *testing.T) {
		tests := []struct{ next, want string }{
			{"//evil.example", "/"},
			{"//evil.example/admin", "/"},
			{"https://evil.example/", "/"},
			{`/\evil.example`, "/"},
			{"javascript:alert(1)", "/"},
			{"/admin/users", "/admin/users"},
			{"", "/"},
		}
		for _, tc := range tests {
			t.Run(tc.next, func(t *testing.T) {
				b := e.browser(t)
				b.get("/login?next=" + url.QueryEscape(tc.next))
				p := b.post("/login", url.Values{"login": {"admin"}, "password": {adminPassword}, "next": {tc.next}})
				wantStatus(t, p, http.StatusSeeOther)
				if got := p.header.Get("Location"); got != tc.want {
					t.Errorf("Location %q, want %q", got, tc.want)
				}
			})
		}
	})
	t.Run("session cookie and logout", func(t *testing.T) {
		b := e.browser(t)
		b.get("/login")
		before := b.cookies[policy.CSRFCookie]
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{
			"login": {"admin"}, "password": {adminPassword}, "csrf": {before}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: policy.CSRFCookie, Value: before})
		resp, err := e.srv.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		var sess *http.Cookie
		for _, c := range resp.Cookies() {
			switch c.Name {
			case policy.SessionCookie:
				sess = c
			case policy.CSRFCookie:
				b.cookies[c.Name] = c.Value
			}
		}
		if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Expires.Before(time.Now().Add(24*time.Hour)) {
			t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Lax, Path=/, expiring with the session", sess)
		}
		if b.cookies[policy.CSRFCookie] == before {
			t.Error("the CSRF token was not renewed at login")
		}
		b.cookies[policy.SessionCookie] = sess.Value
		p := b.get("/")
		wantBody(t, p, "管理员 Admin", "/admin/users", "/admin/grid")

		// Logging out needs the token too.
		p = b.post("/logout", url.Values{"csrf": {"forged"}})
		wantStatus(t, p, http.StatusForbidden)
		p = b.post("/logout", url.Values{})
		wantStatus(t, p, http.StatusSeeOther)
		if b.cookies[policy.SessionCookie] != "" {
			t.Error("logout did not clear the session cookie")
		}
		if _, err := e.accounts.Authenticate(t.Context(), sess.Value); err == nil {
			t.Error("the session still works after logout")
		}
		p = b.get("/")
		wantBody(t, p, "已退出登录", `href="/login"`)
	})
}

func TestRegister(t *testing.T) {
	e := newEnv(t)
	t.Run("invalid", func(t *testing.T) {
		b := e.browser(t)
		b.get("/register")
		p := b.post("/register", url.Values{"phone": {"12345"}, "display_name": {"小李"}, "password": {"secret-pass-1"}, "work": {"courier"}, "accept_privacy": {"yes"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantBody(t, p, "请输入中国大陆手机号", `value="小李"`, `value="courier" required checked`)
		if strings.Contains(p.body, "secret-pass-1") {
			t.Error("the page shows the password")
		}
	})
	t.Run("every error at once, consent asked", func(t *testing.T) {
		b := e.browser(t)
		p := b.get("/register")
		wantBody(t, p, `name="accept_privacy"`, `href="/privacy"`)
		p = b.post("/register", url.Values{"phone": {"12345"}, "display_name": {" "}, "password": {"short"}, "work": {"pilot"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantBody(t, p, "请输入中国大陆手机号", "请输入 1 到 32 个字的名字", "密码至少需要 8 个字符", "请选择你的工作",
			"请阅读并同意《隐私说明》后再注册", `id="privacy-error"`, `value="12345"`)
		// Everything right but the consent: refused, the rest kept.
		p = b.post("/register", url.Values{"phone": {"13900139055"}, "display_name": {"小周"}, "password": {"secret-pass-1"}, "work": {"courier"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantBody(t, p, "请阅读并同意《隐私说明》后再注册", `value="13900139055"`, `value="小周"`)
		if _, err := e.accounts.ByLogin(context.Background(), "13900139055"); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("an account was made without consent: %v", err)
		}
	})
	t.Run("privacy notice", func(t *testing.T) {
		b := e.browser(t)
		p := b.get("/privacy")
		wantStatus(t, p, http.StatusOK)
		wantBody(t, p, "隐私说明", "手机号", accounts.PrivacyVersion)
		b.get("/lang?to=en&next=" + url.QueryEscape("/privacy"))
		p = b.get("/privacy")
		wantBody(t, p, "Privacy notice", "mobile number")
	})
	t.Run("rider is forbidden the admin pages", func(t *testing.T) {
		b := e.browser(t)
		b.get("/register")
		p := b.post("/register", url.Values{"phone": {"139 0013 9000"}, "display_name": {"小张"}, "password": {"secret-pass-1"}, "work": {"food_delivery"}, "accept_privacy": {"yes"}})
		wantStatus(t, p, http.StatusSeeOther)
		if got := p.header.Get("Location"); got != "/" {
			t.Errorf("Location %q, want /", got)
		}
		p = b.get("/")
		wantBody(t, p, "注册成功", "小张", "骑手")
		if strings.Contains(p.body, `href="/admin/`) {
			t.Error("the rider's home page links to admin pages")
		}
		p = b.get("/admin/grid")
		wantStatus(t, p, http.StatusForbidden)
		wantBody(t, p, "没有权限", "grid:read", "小张")
		p = b.post("/admin/users", url.Values{"username": {"sneaky"}, "display_name": {"S"}, "password": {"sneaky-pass-1"}, "kind": {"admin"}})
		wantStatus(t, p, http.StatusForbidden)
	})
	t.Run("taken", func(t *testing.T) {
		b := e.browser(t)
		b.get("/register")
		p := b.post("/register", url.Values{"phone": {"13900139000"}, "display_name": {"另一个"}, "password": {"secret-pass-1"}, "work": {"other"}, "accept_privacy": {"yes"}})
		wantStatus(t, p, http.StatusConflict)
		wantBody(t, p, "该手机号或用户名已被注册")
	})
	t.Run("anonymous is sent to log in", func(t *testing.T) {
		p := e.browser(t).get("/admin/grid")
		wantStatus(t, p, http.StatusSeeOther)
		if got, want := p.header.Get("Location"), "/login?next=%2Fadmin%2Fgrid"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
	})
}

func TestUsersPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login("admin", adminPassword)

	p := b.post("/admin/users", url.Values{"username": {"Officer.Li"}, "display_name": {"李网格"}, "password": {"short"}, "kind": {"officer"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "密码至少需要 8 个字符", `value="Officer.Li"`, `value="李网格"`)

	p = b.post("/admin/users", url.Values{"username": {"Officer.Li"}, "display_name": {"李网格"}, "password": {"officer-pass-1"}, "kind": {"officer"}})
	wantStatus(t, p, http.StatusSeeOther)
	p = b.get("/admin/users")
	wantBody(t, p, "已创建账户 李网格（officer.li）", "李网格", "网格员")

	p = b.post("/admin/users", url.Values{"username": {"officer.li"}, "display_name": {"又一个"}, "password": {"officer-pass-1"}, "kind": {"officer"}})
	wantStatus(t, p, http.StatusConflict)

	li, err := e.accounts.ByLogin(t.Context(), "officer.li")
	if err != nil {
		t.Fatal(err)
	}
	p = b.post("/admin/users/"+li.ID+"/disabled", url.Values{"disabled": {"true"}})
	wantStatus(t, p, http.StatusSeeOther)
	if u, _ := e.accounts.Get(t.Context(), li.ID); !u.Disabled {
		t.Error("the account is not disabled")
	}
	wantBody(t, b.get("/admin/users"), "已停用 李网格", "启用")
	p = b.post("/admin/users/"+li.ID+"/disabled", url.Values{"disabled": {"maybe"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	p = b.post("/admin/users/"+li.ID+"/disabled", url.Values{"disabled": {"false"}})
	wantStatus(t, p, http.StatusSeeOther)

	admin, _ := e.accounts.ByLogin(t.Context(), "admin")
	p = b.post("/admin/users/"+admin.ID+"/disabled", url.Values{"disabled": {"true"}})
	wantStatus(t, p, http.StatusConflict)
	wantBody(t, p, "不能停用自己的账户")
	p = b.post("/admin/users/000000000000000000000000/disabled", url.Values{"disabled": {"true"}})
	wantStatus(t, p, http.StatusNotFound)
	wantBody(t, p, "没有这个账户")
}

func TestGridPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login("admin", adminPassword)
	good, err := os.ReadFile("testdata/grid2x2.geojson")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile("testdata/bad.geojson")
	if err != nil {
		t.Fatal(err)
	}

	p := b.get("/admin/grid")
	wantStatus(t, p, http.StatusOK)
	wantBody(t, p, "还没有网格地图", `enctype="multipart/form-data"`)

	p = b.upload("/admin/grid/import", map[string]string{"mode": "replace"}, nil)
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "请选择要上传的 GeoJSON 文件")

	p = b.upload("/admin/grid/import", map[string]string{"mode": "sideways"}, good)
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "请选择导入方式")

	p = b.upload("/admin/grid/import", map[string]string{"mode": "replace"}, bad)
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "要素 1（编码 B-02）：ring 0 is not closed")

	p = b.upload("/admin/grid/import", map[string]string{"mode": "replace", "csrf": "forged"}, good)
	wantStatus(t, p, http.StatusForbidden)

	p = b.upload("/admin/grid/import", map[string]string{"mode": "replace"}, good)
	wantStatus(t, p, http.StatusSeeOther)
	p = b.get("/admin/grid")
	wantBody(t, p, "地图已导入：新增 4，更新 0，删除 0，现共 4 个网格", "共 4 个网格，4 个尚无主责网格员")
	if n := strings.Count(p.body, "<path "); n != 4 {
		t.Errorf("%d SVG paths, want 4", n)
	}
	if strings.Contains(p.body, `name="primary_id"`) {
		t.Error("assignment forms shown although there are no officers")
	}

	officer, err := e.accounts.CreateStaff(t.Context(), accounts.StaffInput{Username: "officer.wang", DisplayName: "王网格", Password: "officer-pass-1", Kind: "officer"})
	if err != nil {
		t.Fatal(err)
	}
	p = b.post("/admin/grid/cells/T-02/officers", url.Values{"primary_id": {officer.ID}, "backup_id": {officer.ID}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "主责和备岗网格员必须是不同的人")
	p = b.post("/admin/grid/cells/T-02/officers", url.Values{"primary_id": {""}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	wantBody(t, p, "请选择主责网格员")
	p = b.post("/admin/grid/cells/NOPE/officers", url.Values{"primary_id": {officer.ID}})
	wantStatus(t, p, http.StatusNotFound)

	p = b.post("/admin/grid/cells/T-02/officers", url.Values{"primary_id": {officer.ID}})
	wantStatus(t, p, http.StatusSeeOther)
	if got, want := p.header.Get("Location"), "/admin/grid#cell-T-02"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	p = b.get("/admin/grid")
	wantBody(t, p, "已为网格 T-02 指派主责网格员 王网格", "3 个尚无主责网格员")
	if c, _ := e.grid.Cell("T-02"); c.Assignment.Primary == nil || c.Assignment.Primary.ID != officer.ID {
		t.Errorf("T-02 assignment %+v, want primary %s", c.Assignment, officer.ID)
	}

	t.Run("in English", func(t *testing.T) {
		en := e.browser(t)
		en.lang = "en"
		en.login("admin", adminPassword)
		p := en.upload("/admin/grid/import", map[string]string{"mode": "merge"}, bad)
		wantStatus(t, p, http.StatusUnprocessableEntity)
		wantBody(t, p, "The map was not imported", "feature 1 (code B-02): ring 0 is not closed")
	})

	t.Run("officer reads without controls", func(t *testing.T) {
		ob := e.browser(t)
		ob.login("officer.wang", "officer-pass-1")
		p := ob.get("/")
		wantBody(t, p, `href="/admin/grid"`)
		p = ob.get("/admin/grid")
		wantStatus(t, p, http.StatusOK)
		wantBody(t, p, "王网格", `id="cell-T-02"`)
		for _, control := range []string{`action="/admin/grid/import"`, `name="primary_id"`} {
			if strings.Contains(p.body, control) {
				t.Errorf("the officer's map shows %s", control)
			}
		}
		wantStatus(t, ob.upload("/admin/grid/import", map[string]string{"mode": "replace"}, good), http.StatusForbidden)
		wantStatus(t, ob.post("/admin/grid/cells/T-01/officers", url.Values{"primary_id": {officer.ID}}), http.StatusForbidden)
		wantStatus(t, ob.get("/admin/users"), http.StatusForbidden)
	})
}

func TestErrorPages(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	p := b.get("/no/such/page")
	wantStatus(t, p, http.StatusNotFound)
	wantBody(t, p, "页面不存在", "这里什么也没有：/no/such/page", `href="/"`)
	b.lang = "en"
	p = b.get("/no/such/page")
	wantBody(t, p, "Page not found", "There is nothing at /no/such/page.")

	// Without a session, logging out is refused with a page, not JSON.
	p = e.browser(t).post("/logout", url.Values{})
	wantStatus(t, p, http.StatusUnauthorized)
	wantBody(t, p, "需要登录", "请先登录")

	// The API keeps answering problem+json.
	req := httptest.NewRequest(http.MethodGet, "/api/v1/grid/cells", nil)
	resp, err := e.srv.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("API error Content-Type %q, want problem+json", ct)
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	home := b.get("/")
	i := strings.Index(home.body, "/static/nuanxin.css?v=")
	if i < 0 {
		t.Fatalf("home page does not link the stylesheet:\n%s", home.body)
	}
	href := home.body[i : i+strings.IndexByte(home.body[i:], '"')]
	p := b.get(href)
	wantStatus(t, p, http.StatusOK)
	if ct := p.header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/css", ct)
	}
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q, want immutable for a versioned URL", cc)
	}
	p = b.get("/static/nuanxin.css")
	if cc := p.header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q for an unversioned URL", cc)
	}
	req := httptest.NewRequest(http.MethodGet, "/static/nuanxin.css", nil)
	req.Header.Set("If-None-Match", p.header.Get("ETag"))
	resp, err := e.srv.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: status %d, want 304", resp.StatusCode)
	}
	if p := b.get("/static/favicon.svg"); p.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon Content-Type %q", p.header.Get("Content-Type"))
	}
	wantStatus(t, b.get("/static/../pages.go"), http.StatusNotFound)
	wantStatus(t, b.get("/static/nope.css"), http.StatusNotFound)

	// No inline styles or scripts: the Content-Security-Policy forbids them.
	for _, path := range []string{"/", "/login", "/register", "/privacy"} {
		p := b.get(path)
		for _, bad := range []string{"style=", "<style", "<script"} {
			if strings.Contains(p.body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestPageRoutesHavePermissions(t *testing.T) {
	e := newEnv(t)
	want := map[string]policy.Permission{
		"GET /":                                 web.PermPage,
		"GET /static/*":                         web.PermPage,
		"GET /lang":                             web.PermPage,
		"GET /login":                            accounts.PermLogin,
		"POST /login":                           accounts.PermLogin,
		"GET /register":                         accounts.PermRegister,
		"POST /register":                        accounts.PermRegister,
		"GET /privacy":                          web.PermPage,
		"POST /logout":                          accounts.PermLogout,
		"GET /admin/users":                      accounts.PermList,
		"POST /admin/users":                     accounts.PermCreate,
		"POST /admin/users/:id/disabled":        accounts.PermDisable,
		"POST /admin/users/:id/password-reset":  accounts.PermReset,
		"GET /account/password":                 accounts.PermPassword,
		"POST /account/password":                accounts.PermPassword,
		"GET /admin/grid":                       grid.PermRead,
		"POST /admin/grid/import":               grid.PermImport,
		"POST /admin/grid/cells/:code/officers": grid.PermAssign,
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

// The admin finds an account by part of its name, pages through the list,
// and resets a password: the temporary one is shown once, on that page.
func TestUsersSearchAndReset(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var target accounts.User
	for i := range 60 {
		u, err := e.accounts.Register(ctx, accounts.RegisterInput{Phone: fmt.Sprintf("1380000%04d", i), DisplayName: fmt.Sprintf("骑手%02d", i), Password: "long-enough-1", Work: "courier", AcceptPrivacy: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 42 {
			target = u
		}
	}
	b := e.browser(t)
	b.login("admin", adminPassword)
	p := b.get("/admin/users")
	wantStatus(t, p, http.StatusOK)
	wantBody(t, p, "第 1 / 2 页，共 61 个账户", `href="/admin/users?page=2"`)
	p = b.get("/admin/users?page=2")
	wantBody(t, p, "第 2 / 2 页，共 61 个账户", `href="/admin/users"`)
	p = b.get("/admin/users?q=" + url.QueryEscape("骑手42"))
	wantBody(t, p, "共 1 个账户", "id=\"user-"+target.ID+"\"")
	p = b.get("/admin/users?page=nine")
	wantStatus(t, p, http.StatusOK)
	wantBody(t, p, "页码从 1 开始")

	p = b.post("/admin/users/"+target.ID+"/password-reset", url.Values{})
	wantStatus(t, p, http.StatusOK)
	m := regexp.MustCompile(`<code>([A-Z2-7]{12})</code>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no temporary password on the page:\n%.2000s", p.body)
	}
	if _, err := e.accounts.Login(ctx, target.Login, m[1], "10.1.1.1"); err != nil {
		t.Fatalf("log in with the temporary password shown: %v", err)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q on a page showing a password", p.header.Get("Cache-Control"))
	}
	p = b.get("/admin/users")
	if strings.Contains(p.body, m[1]) {
		t.Error("the temporary password is shown again")
	}
	wantBody(t, p, "待改密码")
}
