package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// The kit's own templates: the layout every page is drawn in, the home page
// and the error page.
//
//go:embed templates/*.html
var templateFS embed.FS

// PageOptions configure NewPages.
type PageOptions struct {
	Gate *policy.Gate
	// Auth looks up who is logged in for an error page the gate refused
	// before it recorded the caller, so the page shows them logged in.
	Auth policy.Authenticator
	// CookieLifetime is how long the pre-login CSRF cookie lasts: as long
	// as a session, so a form left open stays good to post.
	CookieLifetime time.Duration
	Log            *slog.Logger
}

// Pages is the page kit: the layout, navigation, languages and messages,
// CSRF tokens, flash messages, static files and rendering that every
// domain's pages share. It knows no domain: each domain mounts its own pages
// on it (accounts.MountPages, grid.MountPages, …), adding its templates,
// messages, navigation links and static files while the application starts.
// Adding anything after the server has started serving is not safe.
type Pages struct {
	s      *Server
	o      PageOptions
	cat    *catalog
	layout map[string]*template.Template // by language: the layout with the template funcs
	tmpl   map[string]map[string]*template.Template
	uses   map[string]templateUses // by template source, for Check
	assets map[string]asset
	nav    []NavLink
	home   []homeLinks
	panels []homePanel
	tz     *time.Location
}

// templateUses is what a template names literally: message keys and assets.
type templateUses struct{ keys, assets []string }

// NewPages builds the kit on s and mounts its own routes: the home page,
// the language switch and the static files. From then on a browser's
// errors render as a page in the visitor's language. It returns an error
// naming any missing option.
func NewPages(s *Server, o PageOptions) (*Pages, error) {
	if err := Require("web: pages", map[string]bool{
		"Server": s == nil, "Gate": o.Gate == nil, "Auth": o.Auth == nil, "CookieLifetime": o.CookieLifetime <= 0, "Log": o.Log == nil,
	}); err != nil {
		return nil, err
	}
	tz, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// No time zone database on this machine; China has kept UTC+8
		// without daylight saving since 1991.
		tz = time.FixedZone("CST", 8*3600)
	}
	k := &Pages{
		s: s, o: o, tz: tz,
		cat:    &catalog{msgs: map[string]Msg{}, reasons: map[string]string{}},
		layout: map[string]*template.Template{}, tmpl: map[string]map[string]*template.Template{},
		uses: map[string]templateUses{}, assets: map[string]asset{},
	}
	k.AddMessages(messages)
	k.AddReasons(reasons)
	for _, tag := range langs {
		k.layout[tag] = template.Must(template.New("layout.html").Funcs(k.funcs(Lang{tag, k.cat})).ParseFS(templateFS, "templates/layout.html"))
		k.tmpl[tag] = map[string]*template.Template{}
	}
	k.scan("layout", templateFS, "templates/layout.html")
	k.AddTemplates(templateFS, "templates/home.html", "templates/error.html")
	k.AddStatic(staticFS, "static")
	s.errorPage = k.errorPage

	get := fiber.MethodGet
	k.Handle(get, "/static/*", PermPage, k.static)
	k.Handle(get, "/lang", PermPage, k.switchLang)
	k.Handle(get, "/", PermPage, k.homePage)
	return k, nil
}

// Require names the dependencies a mount was given as nil (true in
// missing), as an error starting with what: a missing dependency fails at
// start with its name rather than as a nil pointer at a page view.
func Require(what string, missing map[string]bool) error {
	var names []string
	for name, absent := range missing {
		if absent {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return fmt.Errorf("%s: missing %s", what, strings.Join(names, ", "))
}

// Gate is the policy gate every page route goes through.
func (k *Pages) Gate() *policy.Gate { return k.o.Gate }

// Handle adds a page route guarded by perm.
func (k *Pages) Handle(method, path string, perm policy.Permission, h fiber.Handler) {
	k.o.Gate.Handle(k.s.App, method, path, perm, h)
}

// Zone is the time zone pages show times in (China's).
func (k *Pages) Zone() *time.Location { return k.tz }

// When formats t as pages show a time: "2006-01-02 15:04" in Zone.
func (k *Pages) When(t time.Time) string { return t.In(k.tz).Format("2006-01-02 15:04") }

func (k *Pages) funcs(l Lang) template.FuncMap {
	return template.FuncMap{
		"t":     l.T,
		"asset": k.assetURL,
		"when":  k.When,
	}
}

// AddMessages merges a domain's messages into the catalogue. It panics on a
// key already there or a message that is not complete in both languages
// with the same arguments: programming errors, caught at start.
func (k *Pages) AddMessages(msgs map[string]Msg) {
	for key, m := range msgs {
		if _, dup := k.cat.msgs[key]; dup {
			panic(fmt.Sprintf("web: message %q is added twice", key))
		}
		if problem := checkMsg(key, m); problem != "" {
			panic("web: " + problem)
		}
		k.cat.msgs[key] = m
	}
}

// AddReasons adds Chinese translations of the English reasons a domain's
// services give (the English text is the key), for Lang.Reason. It panics
// on a reason already there.
func (k *Pages) AddReasons(zh map[string]string) {
	for en, z := range zh {
		if _, dup := k.cat.reasons[en]; dup {
			panic(fmt.Sprintf("web: reason %q is added twice", en))
		}
		k.cat.reasons[en] = z
	}
}

// AddTemplates parses page templates from fsys, each over the layout in
// every language. Each file defines "content", what the layout shows in its
// main part; a page is named by its file name without ".html"
// ("templates/report_view.html" is the page "report_view"). A template sees
// the layout's view (.Lang, .CSRF, .Me, …) with the page's own data in
// .Page, and the functions t (a message in the page's language), asset (a
// static file's versioned address) and when (a time as pages show it). It
// panics when a template does not parse or a page name is taken: programming
// errors, caught at start.
func (k *Pages) AddTemplates(fsys fs.FS, paths ...string) {
	for _, p := range paths {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if _, dup := k.tmpl[ZH][name]; dup {
			panic(fmt.Sprintf("web: page template %q is added twice", name))
		}
		for _, tag := range langs {
			t := template.Must(k.layout[tag].Clone())
			k.tmpl[tag][name] = template.Must(t.ParseFS(fsys, p))
		}
		k.scan(name, fsys, p)
	}
}

var (
	usesKey   = regexp.MustCompile(`\bt "([a-z0-9_.]+)"`)
	usesAsset = regexp.MustCompile(`\basset "([^"]+)"`)
)

// scan records the message keys and assets a template names literally.
func (k *Pages) scan(name string, fsys fs.FS, p string) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		panic("web: read template: " + err.Error())
	}
	var u templateUses
	for _, m := range usesKey.FindAllStringSubmatch(string(b), -1) {
		u.keys = append(u.keys, m[1])
	}
	for _, m := range usesAsset.FindAllStringSubmatch(string(b), -1) {
		u.assets = append(u.assets, m[1])
	}
	k.uses[name] = u
}

// Check reports every message key and static file a template names that no
// one added, so that a page never shows "[[key]]" or links a missing
// script. Call it once every domain has mounted its pages.
func (k *Pages) Check() error {
	var problems []string
	for name, u := range k.uses {
		for _, key := range u.keys {
			if _, ok := k.cat.msgs[key]; !ok {
				problems = append(problems, fmt.Sprintf("%s uses message %q", name, key))
			}
		}
		for _, a := range u.assets {
			if _, ok := k.assets[a]; !ok {
				problems = append(problems, fmt.Sprintf("%s uses static file %q", name, a))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("web: pages: no one added what the templates use: %s", strings.Join(problems, "; "))
}

// NavLink is a link of the main navigation, shown to whoever holds Perm
// somewhere (in some cell, station or everywhere), as the gate requires of
// the page it opens.
type NavLink struct {
	Href  string
	Label string // message key
	Perm  policy.Permission
	// Order places the link: lower first, after "Home".
	Order int
	// Inbox marks the link that carries the unread badge.
	Inbox bool
}

// AddNav adds links to the main navigation.
func (k *Pages) AddNav(links ...NavLink) {
	k.nav = append(k.nav, links...)
	sort.SliceStable(k.nav, func(i, j int) bool { return k.nav[i].Order < k.nav[j].Order })
}

// Link is a link on a page, its label in words.
type Link struct{ Href, Label string }

type homeLinks struct {
	order int
	links func(c *fiber.Ctx, l Lang) []Link
}

// AddHomeLinks adds what the home page offers a logged-in visitor:
// links is asked on each view of the home page for the caller's links in
// l. order places them among other domains' (lower first).
func (k *Pages) AddHomeLinks(order int, links func(c *fiber.Ctx, l Lang) []Link) {
	k.home = append(k.home, homeLinks{order, links})
	sort.SliceStable(k.home, func(i, j int) bool { return k.home[i].order < k.home[j].order })
}

// HomePanel is one box of what a logged-in visitor finds first on the home
// page: their open reports, their unread messages, their balance. Every
// part is optional.
type HomePanel struct {
	Title   string
	ID      string // the element id, for links and tests
	Primary *Link  // one large main button
	Stat    string // a figure shown large, e.g. a balance
	Items   []HomeItem
	Empty   string // said when there are no items
	More    *Link  // to the full list
}

// HomeItem is one line of a panel.
type HomeItem struct {
	Href, Label, Detail string
	Status              string // a short state, shown as a badge
}

type homePanel struct {
	order int
	panel func(c *fiber.Ctx, l Lang) (*HomePanel, error)
}

// AddHomePanel adds a panel to the home page of logged-in visitors: panel is
// asked on each view for the caller's panel in l, nil for none. order places
// it among other domains' panels (lower first). A failing panel is left out
// and logged, so that one store's trouble does not take the home page down.
func (k *Pages) AddHomePanel(order int, panel func(c *fiber.Ctx, l Lang) (*HomePanel, error)) {
	k.panels = append(k.panels, homePanel{order, panel})
	sort.SliceStable(k.panels, func(i, j int) bool { return k.panels[i].order < k.panels[j].order })
}

// PageArgs say which page to render.
type PageArgs struct {
	Name  string // the page template, as AddTemplates named it
	Title string // message key of the title
	// Here is the address of the page for the language switch; empty means
	// the request's own (right for GET; a POST re-rendering a form names
	// the page it came from).
	Here string
	Data any // what the template sees as .Page
}

// view is what the layout sees; the page's own data is in Page.
type view struct {
	Lang      string
	OtherLang string
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

// Render writes the page with status. Pages carry a CSRF token and personal
// data, so they are never cached.
func (k *Pages) Render(c *fiber.Ctx, status int, a PageArgs) error {
	l := k.Lang(c)
	here := a.Here
	if here == "" {
		here = c.OriginalURL()
		if c.Method() != fiber.MethodGet {
			here = c.Path()
		}
	}
	other := l.other()
	v := view{
		Lang:      l.tag,
		OtherLang: other.tag,
		Title:     l.T(a.Title),
		CSRF:      k.CSRF(c),
		Flash:     k.takeFlash(c, l),
		SwitchURL: "/lang?to=" + url.QueryEscape(other.tag) + "&next=" + url.QueryEscape(SafeNext(here)),
		LoginURL:  "/login",
		Page:      a.Data,
	}
	// Coming back after logging in only makes sense to a page, not to the
	// address a form posted to.
	if (a.Here != "" || c.Method() == fiber.MethodGet) && here != "/" && here != "/login" && here != "/register" && SafeNext(here) == here {
		v.LoginURL = "/login?next=" + url.QueryEscape(here)
	}
	if me, ok := policy.PrincipalFrom(c.UserContext()); ok {
		v.Me = &me
	}
	v.Nav = k.navFor(c, l, here)
	t, ok := k.tmpl[l.tag][a.Name]
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

// navFor lists the pages the caller may open. Each link follows the
// permission of its route, so an officer without cells is not offered a
// queue they cannot open.
func (k *Pages) navFor(c *fiber.Ctx, l Lang, here string) []navLink {
	links := []navLink{{Href: "/", Label: l.T("nav.home")}}
	for _, n := range k.nav {
		if k.CanSomewhere(c, n.Perm) {
			links = append(links, navLink{Href: n.Href, Label: l.T(n.Label), Inbox: n.Inbox})
		}
	}
	cur, _, _ := strings.Cut(here, "?")
	for i := range links {
		links[i].Current = links[i].Href == cur
	}
	return links
}

// Can reports whether the caller holds perm everywhere. It decides which
// controls a page shows; the gate still guards every route.
func (k *Pages) Can(c *fiber.Ctx, perm policy.Permission) bool {
	me, ok := policy.PrincipalFrom(c.UserContext())
	return k.o.Gate.Enforcer().Allowed(me.Subject(), ok, perm, policy.DomainAll)
}

// CanSomewhere reports whether the caller holds perm in some domain, as the
// gate requires of the read pages (an officer reads the map of their cells).
func (k *Pages) CanSomewhere(c *fiber.Ctx, perm policy.Permission) bool {
	me, ok := policy.PrincipalFrom(c.UserContext())
	return k.o.Gate.Enforcer().AllowedSomewhere(me.Subject(), ok, perm)
}

// Lang is the visitor's language: the switch cookie, else Accept-Language.
func (k *Pages) Lang(c *fiber.Ctx) Lang {
	if tag, ok := c.Locals(langLocal{}).(string); ok {
		return Lang{tag, k.cat}
	}
	tag, ok := parseLang(c.Cookies(langCookie))
	if !ok {
		tag = negotiateLang(c.Get(fiber.HeaderAcceptLanguage))
	}
	c.Locals(langLocal{}, tag)
	return Lang{tag, k.cat}
}

type langLocal struct{}

// homePage is what the home page shows besides the layout.
type homePage struct {
	Links  []Link
	Panels []*HomePanel
}

func (k *Pages) homePage(c *fiber.Ctx) error {
	l := k.Lang(c)
	var data homePage
	for _, h := range k.home {
		data.Links = append(data.Links, h.links(c, l)...)
	}
	if _, ok := policy.PrincipalFrom(c.UserContext()); ok {
		for _, h := range k.panels {
			p, err := h.panel(c, l)
			if err != nil {
				k.o.Log.Warn("home page panel left out", "err", err)
				continue
			}
			if p != nil {
				data.Panels = append(data.Panels, p)
			}
		}
	}
	return k.Render(c, fiber.StatusOK, PageArgs{Name: "home", Title: "home.title", Data: data})
}

// switchLang remembers the chosen language and goes back to the page.
func (k *Pages) switchLang(c *fiber.Ctx) error {
	tag, ok := parseLang(c.Query("to"))
	if !ok {
		return fiber.NewError(fiber.StatusBadRequest, k.Lang(c).T("err.bad_lang"))
	}
	c.Cookie(&fiber.Cookie{
		Name: langCookie, Value: tag, Path: "/", MaxAge: 365 * 24 * 3600,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: HTTPS(c),
	})
	return c.Redirect(SafeNext(c.Query("next")), fiber.StatusSeeOther)
}

// errorData is what the error page shows.
type errorData struct {
	Status  int
	Heading string
	Detail  string
	Login   bool
}

// errorPage renders an error for a browser in the visitor's language.
func (k *Pages) errorPage(c *fiber.Ctx, status int, detail string) error {
	l := k.Lang(c)
	ctx := c.UserContext()
	if _, ok := policy.PrincipalFrom(ctx); !ok {
		// The gate refuses before it records who asked; look them up so the
		// page shows them as logged in.
		if tok := c.Cookies(policy.SessionCookie); tok != "" {
			if me, err := k.o.Auth.Authenticate(ctx, strings.Clone(tok)); err == nil {
				c.SetUserContext(policy.WithPrincipal(ctx, me))
			}
		}
	}
	title := fmt.Sprintf("error.%d", status)
	if !l.Has(title) {
		title = "error.title"
	}
	data := errorData{Status: status, Heading: l.T(title), Detail: errorDetail(l, detail), Login: status == fiber.StatusUnauthorized}
	if err := k.Render(c, status, PageArgs{Name: "error", Title: title, Data: data}); err != nil {
		k.o.Log.Error("render error page", "request_id", c.Locals("requestid"), "err", err)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(detail)
	}
	return nil
}

// errorDetail translates the details the gate and the application give.
func errorDetail(l Lang, detail string) string {
	if perm, ok := strings.CutPrefix(detail, "Your account is not allowed to do this ("); ok {
		return l.T("error.forbidden", strings.TrimSuffix(perm, ")."))
	}
	if where, ok := strings.CutPrefix(detail, "There is nothing at "); ok {
		return l.T("error.nothing", strings.TrimSuffix(where, "."))
	}
	if limit, ok := strings.CutPrefix(detail, "The request is too large: at most "); ok {
		return l.T("error.too_large", strings.TrimSuffix(limit, "."))
	}
	return l.Reason(detail)
}
