package app

import (
	"regexp"
	"strings"
	"testing"
)

// A rider's home page leads with the report button, then shows their report
// in progress, their unread messages and their points; an officer's shows
// none of the rider's panels.
func TestHomePanels(t *testing.T) {
	base, _ := startDemo(t)
	rider := login(t, base, "13800138001", DemoPassword)
	status, rep := submitReport(t, rider, "home-1", map[string]string{
		"category": "road_damage", "description": "井盖缺失", "lat": "28.1960", "lng": "112.9770",
	}, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit: %d %v", status, rep)
	}
	id, _ := rep["id"].(string)

	u := newWebUser(t, base)
	u.logIn("13800138001", DemoPassword)
	status, home := u.get("/")
	if status != 200 {
		t.Fatalf("GET /: %d", status)
	}
	for _, want := range []string{`id="home-reports"`, `class="button primary big" href="/report"`, `href="/reports/` + id + `"`,
		`id="home-inbox"`, `id="home-points"`} {
		if !strings.Contains(home, want) {
			t.Errorf("the rider's home page lacks %s", want)
		}
	}
	if !regexp.MustCompile(`id="home-points"[\s\S]*?class="stat">可用 \d+ 分<`).MatchString(home) {
		t.Error("the rider's points panel does not show what can be spent")
	}
	// The report button comes before everything else on the page's panels.
	if i, j := strings.Index(home, `href="/report"`), strings.Index(home, `id="home-inbox"`); i < 0 || j < 0 || i > j {
		t.Errorf("the report button is not first (at %d, inbox at %d)", i, j)
	}
	if m := regexp.MustCompile(`id="home-reports"[\s\S]*?</section>`).FindString(home); !strings.Contains(m, "道路") {
		t.Errorf("the open report's category is not in its panel:\n%s", m)
	}

	off := newWebUser(t, base)
	off.logIn("officer1", DemoPassword)
	_, page := off.get("/")
	if strings.Contains(page, `id="home-reports"`) || strings.Contains(page, `id="home-points"`) {
		t.Error("an officer's home page shows a rider's panels")
	}
	if !strings.Contains(page, `id="home-inbox"`) {
		t.Error("an officer's home page lacks the unread messages")
	}
}
