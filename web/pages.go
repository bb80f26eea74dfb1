package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageDeps is what the pages need.
type PageDeps struct {
	Gate     *policy.Gate
	Accounts *accounts.Service
	Grid     *grid.Service
	Stations *council.Service
	Reports  *reports.Service
	Inbox    *inbox.Service
	Log      *slog.Logger
}

// MountPages adds the server-rendered pages and their static assets to s.App,
// every route through the gate, and makes browser errors render as a page in
// the visitor's language. It panics if the embedded templates do not parse,
// which is a programming error caught by any test. A missing dependency is
// an error at start, naming it, rather than a nil pointer at a page view.
func MountPages(s *Server, d PageDeps) error {
	if err := require("pages", map[string]bool{
		"Gate": d.Gate == nil, "Accounts": d.Accounts == nil, "Grid": d.Grid == nil, "Stations": d.Stations == nil,
		"Reports": d.Reports == nil, "Inbox": d.Inbox == nil, "Log": d.Log == nil,
	}); err != nil {
		return err
	}
	p := newPages(d)
	s.errorPage = p.errorPage

	g, app := d.Gate, s.App
	get, post := fiber.MethodGet, fiber.MethodPost
	g.Handle(app, get, "/static/*", PermPage, p.static)
	g.Handle(app, get, "/lang", PermPage, p.switchLang)
	g.Handle(app, get, "/", PermPage, p.home)
	g.Handle(app, get, "/login", accounts.PermLogin, p.loginForm)
	g.Handle(app, post, "/login", accounts.PermLogin, p.login)
	g.Handle(app, get, "/register", accounts.PermRegister, p.registerForm)
	g.Handle(app, post, "/register", accounts.PermRegister, p.register)
	g.Handle(app, post, "/logout", accounts.PermLogout, p.logout)
	g.Handle(app, get, "/admin/users", accounts.PermList, p.users)
	g.Handle(app, post, "/admin/users", accounts.PermCreate, p.createUser)
	g.Handle(app, post, "/admin/users/:id/disabled", accounts.PermDisable, p.setDisabled)
	g.Handle(app, get, "/admin/grid", grid.PermRead, p.gridMap)
	g.Handle(app, post, "/admin/grid/import", grid.PermImport, p.importGrid)
	g.Handle(app, post, "/admin/grid/cells/:code/officers", grid.PermAssign, p.assignOfficers)
	mountReports(s, p)
	return nil
}

// require names the dependencies a mount was given as nil.
func require(what string, missing map[string]bool) error {
	var names []string
	for name, nil_ := range missing {
		if nil_ {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return fmt.Errorf("web: %s: missing %s", what, strings.Join(names, ", "))
}

// pages holds the parsed templates and assets and serves every page.
type pages struct {
	d      PageDeps
	access reports.Access
	tmpl   map[lang]map[string]*template.Template
	assets map[string]asset
	tz     *time.Location
}

// pageNames are the templates under templates/, each defining "content".
var pageNames = []string{"home", "login", "register", "users", "grid", "error"}

func newPages(d PageDeps) *pages {
	tz, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// No time zone database on this machine; China has kept UTC+8
		// without daylight saving since 1991.
		tz = time.FixedZone("CST", 8*3600)
	}
	p := &pages{d: d, access: reports.NewAccess(d.Gate), tz: tz, assets: loadAssets(), tmpl: map[lang]map[string]*template.Template{}}
	for _, l := range langs {
		base := template.Must(template.New("layout.html").Funcs(p.funcs(l)).ParseFS(templateFS, "templates/layout.html"))
		p.tmpl[l] = map[string]*template.Template{}
		for _, name := range pageNames {
			t := template.Must(base.Clone())
			p.tmpl[l][name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
		}
	}
	return p
}

func (p *pages) funcs(l lang) template.FuncMap {
	return template.FuncMap{
		"t":     l.T,
		"asset": p.assetURL,
		"kind":  func(k string) string { return l.T("kind." + k) },
		"work":  func(w string) string { return l.T("work." + w) },
		"when":  func(t time.Time) string { return t.In(p.tz).Format("2006-01-02 15:04") },
	}
}

// pageArgs says which page to render.
type pageArgs struct {
	Name  string // template, one of pageNames
	Title string // message key of the title
	// Here is the address of the page for the language switch; empty means
	// the request's own (right for GET; a POST re-rendering a form names
	// the page it came from).
	Here string
	Data any
}

// view is what the layout sees; the page's own data is in Page.
type view struct {
	Lang      lang
	OtherLang lang
	Title     string
	CSRF      string
	Me        *policy.Principal
	Nav       []navLink
	Flash     string
	SwitchURL string
	LoginURL  string
	Page      any
}

type navLink struct {
	Href, Label string
	Current     bool
	Inbox       bool // carries the unread badge
}

// render writes the page with status. Pages carry a CSRF token and personal
// data, so they are never cached.
func (p *pages) render(c *fiber.Ctx, status int, a pageArgs) error {
	l := p.lang(c)
	here := a.Here
	if here == "" {
		here = c.OriginalURL()
		if c.Method() != fiber.MethodGet {
			here = c.Path()
		}
	}
	v := view{
		Lang:      l,
		OtherLang: l.other(),
		Title:     l.T(a.Title),
		CSRF:      p.csrfToken(c),
		Flash:     p.takeFlash(c, l),
		SwitchURL: "/lang?to=" + url.QueryEscape(string(l.other())) + "&next=" + url.QueryEscape(safeNext(here)),
		LoginURL:  "/login",
		Page:      a.Data,
	}
	// Coming back after logging in only makes sense to a page, not to the
	// address a form posted to.
	if (a.Here != "" || c.Method() == fiber.MethodGet) && here != "/" && here != "/login" && here != "/register" && safeNext(here) == here {
		v.LoginURL = "/login?next=" + url.QueryEscape(here)
	}
	if me, ok := policy.PrincipalFrom(c.UserContext()); ok {
		v.Me = &me
	}
	v.Nav = p.nav(c, l, here)
	t, ok := p.tmpl[l][a.Name]
	if !ok {
		return fmt.Errorf("no page template %q", a.Name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render page %s: %w", a.Name, err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderVary, "Cookie, Accept-Language")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// nav lists the pages the caller may open.
func (p *pages) nav(c *fiber.Ctx, l lang, here string) []navLink {
	links := []navLink{{Href: "/", Label: l.T("nav.home")}}
	if p.canSomewhere(c, accounts.PermList) {
		links = append(links, navLink{Href: "/admin/users", Label: l.T("nav.users")})
	}
	if p.canSomewhere(c, grid.PermRead) {
		links = append(links, navLink{Href: "/admin/grid", Label: l.T("nav.grid")})
	}
	// The report links follow the same permissions as their routes, so an
	// officer without cells is not offered a queue they cannot open.
	for _, l2 := range []struct {
		perm        policy.Permission
		href, label string
	}{
		{reports.PermCreate, "/report", "nav.report"},
		{reports.PermCreate, "/reports", "nav.mine"},
		{reports.PermQueue, "/queue", "nav.queue"},
		{reports.PermEscalations, "/escalations", "nav.escalations"},
		{reports.PermFigures, "/figures", "nav.figures"},
	} {
		if p.canSomewhere(c, l2.perm) {
			links = append(links, navLink{Href: l2.href, Label: l.T(l2.label)})
		}
	}
	if p.canSomewhere(c, inbox.PermRead) {
		links = append(links, navLink{Href: "/inbox", Label: l.T("nav.inbox"), Inbox: true})
	}
	cur, _, _ := strings.Cut(here, "?")
	for i := range links {
		links[i].Current = links[i].Href == cur
	}
	return links
}

// can reports whether the caller holds perm everywhere. It decides which
// controls a page shows; the gate still guards every route.
func (p *pages) can(c *fiber.Ctx, perm policy.Permission) bool {
	me, ok := policy.PrincipalFrom(c.UserContext())
	return p.d.Gate.Enforcer().Allowed(me.Subject(), ok, perm, policy.DomainAll)
}

// canSomewhere reports whether the caller holds perm in some domain, as the
// gate requires of the read pages (an officer reads the map of their cells).
func (p *pages) canSomewhere(c *fiber.Ctx, perm policy.Permission) bool {
	me, ok := policy.PrincipalFrom(c.UserContext())
	return p.d.Gate.Enforcer().AllowedSomewhere(me.Subject(), ok, perm)
}

// lang is the visitor's language: the switch cookie, else Accept-Language.
func (p *pages) lang(c *fiber.Ctx) lang {
	if l, ok := c.Locals(langLocal{}).(lang); ok {
		return l
	}
	l, ok := parseLang(c.Cookies(langCookie))
	if !ok {
		l = negotiateLang(c.Get(fiber.HeaderAcceptLanguage))
	}
	c.Locals(langLocal{}, l)
	return l
}

type (
	langLocal struct{}
	csrfLocal struct{}
)

// https reports whether the browser reached us over TLS (directly or, with
// a trusted proxy, as the proxy says), so cookies must be Secure.
func https(c *fiber.Ctx) bool { return c.Protocol() == "https" }

// csrfToken returns the request's CSRF token. A visitor logged in by the
// session cookie gets the session's own token (policy.SessionCSRF), which the
// gate checks on every unsafe request. Before logging in there is no session
// to tie it to: the login and registration forms use a random token
// double-submitted in a cookie, issued here when the browser has none.
func (p *pages) csrfToken(c *fiber.Ctx) string {
	if v, ok := c.Locals(csrfLocal{}).(string); ok {
		return v
	}
	if s := cookieSession(c); s != "" {
		v := policy.SessionCSRF(s)
		c.Locals(csrfLocal{}, v)
		return v
	}
	v := c.Cookies(policy.CSRFCookie)
	if validToken(v) {
		v = strings.Clone(v)
	} else {
		v = p.newCSRF(c)
	}
	c.Locals(csrfLocal{}, v)
	return v
}

// cookieSession is the session token of a request the gate authenticated by
// its session cookie, or "".
func cookieSession(c *fiber.Ctx) string {
	if _, ok := policy.PrincipalFrom(c.UserContext()); !ok || c.Get(fiber.HeaderAuthorization) != "" {
		return ""
	}
	return strings.Clone(c.Cookies(policy.SessionCookie))
}

// newCSRF sets a fresh pre-login CSRF cookie and returns its value.
func (p *pages) newCSRF(c *fiber.Ctx) string {
	v := newToken()
	c.Cookie(&fiber.Cookie{
		Name: policy.CSRFCookie, Value: v, Path: "/",
		Expires:  time.Now().Add(accounts.SessionTTL),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
	c.Locals(csrfLocal{}, v)
	return v
}

// csrfOK checks the form's token on the forms anyone may post (login,
// register): against the session's token for a logged-in visitor (whose
// page showed that one), else against the pre-login cookie.
func csrfOK(c *fiber.Ctx) bool {
	want := c.Cookies(policy.CSRFCookie)
	if s := cookieSession(c); s != "" {
		want = policy.SessionCSRF(s)
	}
	sent := c.FormValue(policy.CSRFField)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(sent)) == 1
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(32) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// flashCookie carries a message across the redirect after a POST.
const flashCookie = "nx_flash"

// flash sets the message shown by the next page: a message key under
// "flash." and its arguments.
func flash(c *fiber.Ctx, key string, args ...string) {
	raw := strings.Join(append([]string{key}, args...), "\x1f")
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(raw)), Path: "/",
		MaxAge: 60, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
}

// takeFlash returns the pending message in l and clears it. Only known
// message keys are shown, so the cookie cannot put arbitrary text on a page.
func (p *pages) takeFlash(c *fiber.Ctx, l lang) string {
	v := c.Cookies(flashCookie)
	if v == "" {
		return ""
	}
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Path: "/", Expires: time.Unix(0, 0),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	parts := strings.Split(string(raw), "\x1f")
	if _, ok := messages[parts[0]]; !ok || !strings.HasPrefix(parts[0], "flash.") || len(parts) > 5 {
		return ""
	}
	args := make([]any, len(parts)-1)
	for i, a := range parts[1:] {
		args[i] = a
	}
	return l.T(parts[0], args...)
}

// safeNext returns next when it is a path on this site, else "/": a login
// link must not send anyone to another site.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, r := range next {
		// Browsers read a backslash as a slash ("/\evil.example") and drop
		// tabs and newlines.
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// form returns a copy of a form field: Fiber reuses the request's memory.
func form(c *fiber.Ctx, name string) string {
	return strings.Clone(c.FormValue(name))
}

// asset is one embedded static file.
type asset struct {
	body    []byte
	ctype   string
	version string // content hash, for cache-busting URLs
}

var assetTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(staticFS, "static", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		ctype, ok := assetTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(name, "static/")] = asset{body: b, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("web: read embedded assets: " + err.Error())
	}
	return out
}

// assetURL is the address of a static file, with its content hash so that
// browsers may keep it for a year.
func (p *pages) assetURL(name string) string {
	a, ok := p.assets[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.version
}

// static serves the embedded assets.
func (p *pages) static(c *fiber.Ctx) error {
	a, ok := p.assets[c.Params("*")]
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "There is nothing at "+c.Path()+".")
	}
	etag := `"` + a.version + `"`
	c.Set(fiber.HeaderETag, etag)
	if c.Query("v") == a.version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ctype)
	return c.Send(a.body)
}

// errorData is what the error page shows.
type errorData struct {
	Status  int
	Heading string
	Detail  string
	Login   bool
}

// errorPage renders an error for a browser in the visitor's language.
func (p *pages) errorPage(c *fiber.Ctx, status int, detail string) error {
	l := p.lang(c)
	ctx := c.UserContext()
	if _, ok := policy.PrincipalFrom(ctx); !ok {
		// The gate refuses before it records who asked; look them up so the
		// page shows them as logged in.
		if tok := c.Cookies(policy.SessionCookie); tok != "" {
			if me, err := p.d.Accounts.Authenticate(ctx, strings.Clone(tok)); err == nil {
				c.SetUserContext(policy.WithPrincipal(ctx, me))
			}
		}
	}
	title := fmt.Sprintf("error.%d", status)
	if _, ok := messages[title]; !ok {
		title = "error.title"
	}
	data := errorData{Status: status, Heading: l.T(title), Detail: errorDetail(l, detail), Login: status == fiber.StatusUnauthorized}
	if err := p.render(c, status, pageArgs{Name: "error", Title: title, Data: data}); err != nil {
		p.d.Log.Error("render error page", "request_id", c.Locals("requestid"), "err", err)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(detail)
	}
	return nil
}

// errorDetail translates the details the gate and the application give.
func errorDetail(l lang, detail string) string {
	if perm, ok := strings.CutPrefix(detail, "Your account is not allowed to do this ("); ok {
		return l.T("error.forbidden", strings.TrimSuffix(perm, ")."))
	}
	if where, ok := strings.CutPrefix(detail, "There is nothing at "); ok {
		return l.T("error.nothing", strings.TrimSuffix(where, "."))
	}
	if limit, ok := strings.CutPrefix(detail, "The request is too large: at most "); ok {
		return l.T("error.too_large", strings.TrimSuffix(limit, "."))
	}
	return l.reason(detail)
}
