package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/reports"
)

var (
	formID    = regexp.MustCompile(`<form[^>]*\bid="act-([a-z_]+)"`)
	mainBlock = regexp.MustCompile(`(?s)<div class="act-main" id="act-main">(.*?)</div>`)
	moreBlock = regexp.MustCompile(`(?s)<details class="act-more" id="act-more"( open)?>(.*?)</details>`)
)

// officerActions reads the report page's action forms: the main one (""
// when there is none), those behind "more", and whether "more" is open.
func officerActions(t *testing.T, p page) (main string, more []string, open bool) {
	t.Helper()
	wantStatus(t, p, http.StatusOK)
	if m := mainBlock.FindStringSubmatch(p.body); m != nil {
		ids := formID.FindAllStringSubmatch(m[1], -1)
		if len(ids) != 1 {
			t.Fatalf("the main action holds %d forms, want 1:\n%s", len(ids), m[1])
		}
		main = ids[0][1]
		if !regexp.MustCompile(`<button type="submit" class="primary"`).MatchString(m[1]) {
			t.Errorf("the main action %q is not a primary button:\n%s", main, m[1])
		}
	}
	if m := moreBlock.FindStringSubmatch(p.body); m != nil {
		open = m[1] != ""
		for _, id := range formID.FindAllStringSubmatch(m[2], -1) {
			more = append(more, id[1])
		}
		if !strings.Contains(m[2], "<summary>更多操作</summary>") {
			t.Errorf("the more control has no summary \"更多操作\":\n%s", m[2])
		}
	}
	all := formID.FindAllStringSubmatch(p.body, -1)
	if n := len(more) + len(slices.DeleteFunc([]string{main}, func(s string) bool { return s == "" })); len(all) != n {
		t.Errorf("the page has %d action forms, %d of them outside the main button and \"more\"", len(all), len(all)-n)
	}
	return main, more, open
}

// TestReportPageOffersActionsAllowedNow walks a report through every status
// and checks that its officer's page offers exactly the actions allowed
// now: the usual next one as the main button, the rest behind "more".
func TestReportPageOffersActionsAllowedNow(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	r := e.mustReport(t, c.rider, "k1")
	path := "/reports/" + r.ID
	ob := e.browser(t)
	ob.login("officer.wang", officerPassword)
	ab := e.browser(t)
	ab.login("admin", adminPassword)

	check := func(b *browser, who, wantMain string, wantMore ...string) {
		t.Helper()
		main, more, open := officerActions(t, b.get(path))
		if main != wantMain || !slices.Equal(more, wantMore) {
			t.Errorf("%s: main %q, more %q; want main %q, more %q", who, main, more, wantMain, wantMore)
		}
		if open {
			t.Errorf("%s: \"more\" is open before anything was refused", who)
		}
	}
	act := func(v url.Values) {
		t.Helper()
		wantStatus(t, ob.post(path+"/act", v), http.StatusSeeOther)
	}

	check(ob, "submitted", "acknowledge", "verify", "reject", "handover")
	en := e.browser(t)
	en.lang = "en"
	en.login("officer.wang", officerPassword)
	wantBody(t, en.get(path), "<summary>More actions</summary>")
	act(url.Values{"action": {"acknowledge"}})
	check(ob, "acknowledged", "verify", "reject", "handover", "ask_more")

	// A refused action behind "more" opens it, with what was typed.
	p := ob.post(path+"/act", url.Values{"action": {"handover"}, "cell": {"T-01"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	if _, _, open := officerActions(t, page{status: http.StatusOK, body: p.body}); !open {
		t.Error("a refused handover leaves \"more\" closed")
	}

	act(url.Values{"action": {"verify"}, "severity": {"2"}})
	check(ob, "verified", "start", "resolve", "ask_more")
	act(url.Values{"action": {"start"}})
	check(ob, "in progress", "resolve", "ask_more")
	wantStatus(t, ob.multipart(path+"/resolve", map[string]string{"note": "已修复"}, nil), http.StatusSeeOther)
	// Reopening is for admins, and never the usual next step.
	if got, _ := e.reports.Get(t.Context(), r.ID); got.Status != reports.StatusResolved {
		t.Fatalf("status %s, want resolved", got.Status)
	}
	check(ob, "resolved, officer", "")
	wantNotBody(t, ob.get(path), `id="act-more"`, `id="act-main"`)
	check(ab, "resolved, admin", "", "reopen")

	// Rejected: the same for admins and officers.
	r2 := e.mustReport(t, c.rider, "k2")
	path = "/reports/" + r2.ID
	act(url.Values{"action": {"reject"}, "reason": {"not_a_problem"}})
	check(ob, "rejected, officer", "")
	check(ab, "rejected, admin", "", "reopen")
}

// TestQueueRowsShowThumbAndExcerpt checks a queue row shows its report's
// first photo as a lazy thumbnail named by the category, and the first line
// of the description cut at 60 characters.
func TestQueueRowsShowThumbAndExcerpt(t *testing.T) {
	e := newEnv(t)
	c := e.city(t)
	lat, lng := latT04, lngT04
	long := strings.Repeat("井", 70)
	withPhoto, _, err := e.reports.Submit(t.Context(), c.rider.ID, reports.Submission{Key: "k1", Category: "road_damage",
		Description: "路口井盖缺失\n第二行不该出现", Lat: &lat, Lng: &lng, Photos: [][]byte{mustRead(t, "testdata/road-clean.jpg")}})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := e.reports.Submit(t.Context(), c.rider2.ID, reports.Submission{Key: "k2", Category: "sanitation",
		Description: long, Lat: &lat, Lng: &lng, Photos: [][]byte{mustRead(t, "testdata/road-clean.jpg")}})
	if err != nil {
		t.Fatal(err)
	}
	ob := e.browser(t)
	ob.login("officer.wang", officerPassword)
	p := ob.get("/queue")
	wantStatus(t, p, http.StatusOK)
	wantClean(t, p)
	wantBody(t, p, `<img class="row-thumb" src="/api/v1/reports/`+withPhoto.ID+`/photos/1?thumb=true" alt="道路破损" loading="lazy" width="64" height="64">`,
		`<span class="line2 excerpt">路口井盖缺失…</span>`,
		`<span class="line2 excerpt">`+strings.Repeat("井", 60)+`…</span>`, `alt="环境卫生"`, "/reports/"+second.ID)
	wantNotBody(t, p, "第二行不该出现", strings.Repeat("井", 61))
}
