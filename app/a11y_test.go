package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nuanxin/nuanxin/internal/browsertest"
)

// axePath is axe-core, vendored from the npm registry at a pinned version
// (testdata/axe/README.md). The test evaluates it in each page it audits;
// the product never serves it.
const axePath = "testdata/axe/axe.min.js"

// a11yViewports are the screens every page is audited on: a common phone and
// a small laptop.
var a11yViewports = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"phone 390×844", 390, 844, true},
	{"desktop 1280×800", 1280, 800, false},
}

// a11yLangs are the page languages, switched to through the language link's
// target (/lang), as a visitor does.
var a11yLangs = []string{"zh-CN", "en"}

// axeRun audits the whole document and keeps what a person is most likely
// to be stopped by. It answers JSON so that the Go side decodes one shape.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
  r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), summary: n.failureSummary || ''}))}))))`

// measure finds what is too small to hit with a thumb or to read, in the page
// as rendered:
//
//   - every visible interactive element (a, button, input, select, textarea,
//     summary, [role=button], and a label of a checkbox or radio) must offer
//     a target of at least 44×44 CSS px. A control counts as large enough
//     when it, or one of its labels, is (a checkbox inside a big tile is hit
//     through the tile; a visually hidden file input through its label).
//     Exempt, as WCAG 2.5.5 allows, are links inside running text: a link
//     whose computed display is "inline" and whose parent element holds text
//     of its own beside it (a sentence around the link). A link alone in its
//     paragraph, list item or table cell is not running text and must be big.
//     Also exempt, by the same criterion's "equivalent" exception: a link
//     whose destination a large enough link on the same page also offers (a
//     station's pin on the map, and its name in the list below it).
//   - every visible text node must be rendered at 14 CSS px or more: its
//     element's computed font-size (for SVG text, scaled by the drawing's
//     transform to the screen).
const measure = `(() => {
  const describe = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + Array.from(el.classList).join('.');
    const t = (el.innerText || el.value || el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 30);
    return t ? s + ' "' + t + '"' : s;
  };
  const box = el => { const r = el.getBoundingClientRect(); return {w: r.width, h: r.height}; };
  const shown = el => {
    if (!el.getClientRects().length) return false;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const big = b => b.w >= 43.5 && b.h >= 43.5; // sub-pixel layout rounds 44 to 43.99
  const ownText = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim() !== '');
  const inRunningText = el => el.tagName === 'A' && getComputedStyle(el).display === 'inline' && el.parentElement && ownText(el.parentElement);
  const hrefOf = a => new URL(a.getAttribute('href'), document.baseURI).href;
  const bigHrefs = new Set();
  for (const a of document.querySelectorAll('a[href]')) if (shown(a) && big(box(a))) bigHrefs.add(hrefOf(a));
  const small = [];
  const seen = new Set();
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], label';
  for (const el of document.querySelectorAll(sel)) {
    let candidates = [el];
    if (el.tagName === 'LABEL') {
      const c = el.control;
      if (!c || (c.type !== 'checkbox' && c.type !== 'radio')) continue;
    }
    if (el.labels && el.labels.length) candidates = candidates.concat(Array.from(el.labels));
    const visible = candidates.filter(shown);
    if (!shown(el) && !visible.length) continue;
    if (inRunningText(el)) continue;
    if (el.matches('a[href]') && bigHrefs.has(hrefOf(el))) continue;
    if (visible.some(c => big(box(c)))) continue;
    const b = box(el);
    const d = describe(el) + ' ' + Math.round(b.w*10)/10 + '×' + Math.round(b.h*10)/10;
    if (!seen.has(d)) { seen.add(d); small.push(d); }
  }
  const tiny = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const done = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || done.has(el)) continue;
    done.add(el);
    if (el.closest('script, style, template, noscript, title')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden') continue;
    let px = parseFloat(cs.fontSize);
    if (el instanceof SVGElement && el.ownerSVGElement) {
      const m = el.getScreenCTM();
      if (m) px *= Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    }
    if (px < 13.95) tiny.push(describe(el) + ' ' + Math.round(px*10)/10 + 'px');
  }
  return JSON.stringify({small: small, tiny: tiny});
})()`

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// a11yBrowser starts one headless Chromium for the whole test; each role
// gets its own tab (and so its own cookies, through a browser context).
func a11yBrowser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, 10*time.Minute)
}

// a11yTab is one role's browser tab.
type a11yTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b a11yTab) open(what, path string) int {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("%s: open %s: %v", what, path, err)
	}
	return int(resp.Status)
}

func (b a11yTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// demoReportAndOfficer files a report as a demo rider at Wuyi Square, as
// TestDemoEveryPage does, and finds the officer of its cell by their roles.
func demoReportAndOfficer(t *testing.T, base string) (reportID, officer string) {
	t.Helper()
	rider := login(t, base, "13800138001", DemoPassword)
	status, rep := submitReport(t, rider, "demo-a11y-1", map[string]string{
		"category": "road_damage", "description": "井盖缺失", "lat": "28.1960", "lng": "112.9770",
	}, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit a report: status %d: %v", status, rep)
	}
	reportID, _ = rep["id"].(string)
	cell, _ := rep["cell"].(string)
	if reportID == "" || cell == "" {
		t.Fatalf("report %v: want an id and a cell in the demo map", rep)
	}
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
	return reportID, officer
}

// TestAccessibilityEveryPage starts the demo city as TestDemoEveryPage does,
// logs each kind of demo account in through the login form of a real
// browser, and audits every page its navigation offers, those its home page
// links to, and a report page (and, before logging in, the home, login and
// registration pages), in
// Chinese and in English, on a phone and on a desktop screen: axe-core must
// find no serious or critical violation, every control must be at least
// 44×44 px and no text smaller than 14 px.
func TestAccessibilityEveryPage(t *testing.T) {
	axeJS, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	browser := a11yBrowser(t)
	base, _ := startDemo(t) // after the browser, so that it stops first
	reportID, officer := demoReportAndOfficer(t, base)
	reportPage := "/reports/" + reportID

	for _, acct := range []struct {
		kind, login, password string
	}{
		{"visitor", "", ""},
		{"rider", "13800138001", DemoPassword},
		{"officer", officer, DemoPassword},
		{"station admin", "station1", DemoPassword},
		{"admin", "admin", adminPassword},
	} {
		t.Run(acct.kind, func(t *testing.T) {
			// A new browser context: this role's own cookies.
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			b := a11yTab{t: t, ctx: ctx, base: base}

			pages := []string{"/", "/login", "/register"}
			if acct.login != "" {
				if st := b.open("log in", "/login"); st != 200 {
					t.Fatalf("GET /login: status %d", st)
				}
				b.do("fill the login form",
					chromedp.SendKeys(chromedp.CSS("#login"), acct.login),
					chromedp.SendKeys(chromedp.CSS("#password"), acct.password))
				resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
				if err != nil || resp.Status != 200 {
					t.Fatalf("log in as %s through the form: %v %v", acct.login, err, resp)
				}
				// The navigation's pages, then those the home page links to
				// that the navigation does not (a station admin's council).
				nav, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
					`Array.from(document.querySelectorAll('nav.nav ul a[href]')).map(a => a.getAttribute('href'))`))
				if err != nil || len(nav) == 0 {
					t.Fatalf("%s's navigation: %v %v", acct.kind, nav, err)
				}
				home, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
					`Array.from(document.querySelectorAll('main .links a[href]')).map(a => a.getAttribute('href'))`))
				if err != nil {
					t.Fatalf("%s's home page links: %v", acct.kind, err)
				}
				pages = nav
				for _, h := range home {
					if !contains(pages, h) {
						pages = append(pages, h)
					}
				}
				pages = append(pages, reportPage)
				if acct.kind == "admin" {
					// Reached from the escalations page, not the navigation.
					pages = append(pages, "/disputes")
				}
			}

			var problems []string
			for _, lang := range a11yLangs {
				if st := b.open("switch language", "/lang?to="+url.QueryEscape(lang)+"&next=/"); st != 200 {
					t.Fatalf("switch to %s: status %d", lang, st)
				}
				for _, vp := range a11yViewports {
					opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
					if vp.mobile {
						opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
					}
					b.do("set the viewport", chromedp.EmulateViewport(vp.width, vp.height, opts...))
					for _, path := range pages {
						where := fmt.Sprintf("%s %s %s %s", acct.kind, lang, vp.name, path)
						st := b.open(where, path)
						if st != 200 && !(st == 403 && path == reportPage && acct.kind == "station admin") {
							t.Errorf("%s: status %d", where, st)
						}
						got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
						if err != nil || got != lang {
							t.Errorf("%s: the page says lang=%q (%v), want %q", where, got, err, lang)
						}
						problems = append(problems, audit(t, ctx, string(axeJS), where)...)
					}
				}
			}
			if len(problems) > 0 {
				t.Errorf("%d accessibility problems:\n%s", len(problems), strings.Join(problems, "\n"))
			}
			t.Logf("%s: audited %d pages × %d languages × %d viewports: %v", acct.kind, len(pages), len(a11yLangs), len(a11yViewports), pages)
		})
	}
}

// audit runs axe-core and the size measurements on the loaded page and
// returns one line per problem.
func audit(t *testing.T, ctx context.Context, axeJS, where string) []string {
	t.Helper()
	// Evaluated through the DevTools protocol, the script is not subject to
	// the pages' Content-Security-Policy (script-src 'self').
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeJS)); err != nil {
		t.Fatalf("%s: load axe-core: %v", where, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", where, err)
	}
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("%s: axe result: %v", where, err)
	}
	var out []string
	for _, v := range violations {
		for _, n := range v.Nodes {
			out = append(out, fmt.Sprintf("%s: axe %s (%s) at %s: %s", where, v.ID, v.Impact, n.Target, v.Help))
		}
	}
	raw, err = chromedp.Run(ctx, chromedp.Evaluate[string](measure))
	if err != nil {
		t.Fatalf("%s: measure: %v", where, err)
	}
	var sizes struct{ Small, Tiny []string }
	if err := json.Unmarshal([]byte(raw), &sizes); err != nil {
		t.Fatalf("%s: sizes: %v", where, err)
	}
	sort.Strings(sizes.Small)
	for _, s := range sizes.Small {
		out = append(out, fmt.Sprintf("%s: tap target under 44×44 px: %s", where, s))
	}
	for _, s := range sizes.Tiny {
		out = append(out, fmt.Sprintf("%s: text under 14 px: %s", where, s))
	}
	return out
}
