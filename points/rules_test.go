package points_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/points"
)

func TestRulesDefault(t *testing.T) {
	r := points.DefaultRules()
	for sev, want := range map[int]int64{0: 0, 1: 5, 2: 10, 3: 20, 4: 0} {
		if got := r.Points("road_damage", sev); got != want {
			t.Errorf("severity %d: %d points, want %d", sev, got, want)
		}
	}
	if r.Corroboration != 1 || r.DailyCap != points.DefaultDailyCap || r.MonthlyCap != points.DefaultMonthlyCap {
		t.Errorf("defaults: %+v", r)
	}
}

func TestRulesLoad(t *testing.T) {
	r, err := points.LoadRules("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cat  string
		sev  int
		want int64
	}{
		{"road_damage", 1, 5}, {"road_damage", 3, 30}, {"fire_safety", 2, 15}, {"fire_safety", 3, 40},
		{"sanitation", 3, 20}, {"sanitation", 2, 10},
	} {
		if got := r.Points(c.cat, c.sev); got != c.want {
			t.Errorf("%s severity %d: %d points, want %d", c.cat, c.sev, got, c.want)
		}
	}
	if r.Corroboration != 2 || r.DailyCap != 8 || r.MonthlyCap != 80 {
		t.Errorf("corroboration %d, caps %d/%d; want 2, 8/80", r.Corroboration, r.DailyCap, r.MonthlyCap)
	}
	if got := strings.Join(r.CategoryCodes(), ","); got != "fire_safety,road_damage" {
		t.Errorf("category codes %q", got)
	}
}

func TestRulesLoadPartial(t *testing.T) {
	r, err := points.LoadRules(writeRules(t, `{"default": {"3": 25}, "daily_cap": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Points("x", 1) != 5 || r.Points("x", 3) != 25 || r.DailyCap != 4 || r.MonthlyCap != points.DefaultMonthlyCap || r.Corroboration != 1 {
		t.Errorf("partial file: %+v", r)
	}
}

func writeRules(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRulesLoadBad(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"not json":           {`{"default": `, "not a JSON object"},
		"a list":             {`[1, 2]`, "not a JSON object"},
		"unknown field":      {`{"defaults": {"1": 5}}`, `unknown field "defaults"`},
		"unknown nested":     {`{"categories": {"road_damage": {"4": 5}}}`, `categories.road_damage: "4" is not a severity`},
		"severity zero":      {`{"default": {"0": 5}}`, `default: "0" is not a severity`},
		"severity word":      {`{"default": {"high": 5}}`, `default: "high" is not a severity`},
		"severity padded":    {`{"default": {"01": 5}}`, `default: "01" is not a severity`},
		"zero amount":        {`{"default": {"1": 0}}`, "default.1: 0 is out of range"},
		"negative amount":    {`{"categories": {"road_damage": {"2": -3}}}`, "categories.road_damage.2: -3 is out of range"},
		"fraction":           {`{"default": {"1": 2.5}}`, "default.1: 2.5 is not a whole number"},
		"overflow":           {`{"default": {"1": 99999999999999999999}}`, "default.1: 99999999999999999999 is far too large"},
		"above max":          {`{"default": {"1": 10001}}`, "default.1: 10001 is out of range"},
		"zero corroboration": {`{"corroboration": 0}`, "corroboration: 0 is out of range"},
		"negative cap":       {`{"daily_cap": -1}`, "daily_cap: -1 is out of range"},
		"huge cap":           {`{"monthly_cap": 1e30}`, "monthly_cap: 1e30 is not a whole number"},
		"month below day":    {`{"daily_cap": 20, "monthly_cap": 10}`, "monthly_cap (10) is below daily_cap (20)"},
		"bad category":       {`{"categories": {"road damage": {"1": 5}}}`, `categories: "road damage" is not a category code`},
		"empty category":     {`{"categories": {"road_damage": {}}}`, "categories.road_damage: give at least one severity"},
		"trailing":           {`{} {}`, "more after the JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeRules(t, c.body)
			_, err := points.LoadRules(p)
			if err == nil {
				t.Fatalf("loaded %s", c.body)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q, want it to name the file and say %q", err, c.want)
			}
		})
	}
	if _, err := points.LoadRules(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "points rules file") {
		t.Errorf("missing file: %v", err)
	}
}
