package points

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Bounds of the earning rules. An award larger than MaxAward is far more
// likely a typo in a rules file (or an attack on Award) than a real reward;
// caps above these would make the slot claims (one insert per awarded
// report, see Earner) slow without ever limiting anything.
const (
	MaxAward      = 10_000 // points in one award
	MaxDailyCap   = 1_000  // awards a rider may earn in a day
	MaxMonthlyCap = 10_000 // awards a rider may earn in a month
)

// Rules are the earning rules: how many points a verified report earns by
// category and severity, the corroboration award of a confirmed duplicate,
// and the caps per rider.
//
// The caps count awards, not points: a rider earns from at most DailyCap
// reports (or Award calls) a day and MonthlyCap a month, in Zone days and
// months. Counting awards keeps a cap meaningful whatever the amounts (a
// rider cannot reach it faster with severe reports) and lets each award claim
// one numbered slot with a unique insert (see Earner).
type Rules struct {
	// Default maps a severity (1..3) to its points, for every category.
	Default map[int]int64 `json:"default"`
	// Categories override Default for some severities of a category.
	Categories map[string]map[int]int64 `json:"categories,omitempty"`
	// Corroboration is paid to the reporter of a confirmed duplicate.
	Corroboration int64 `json:"corroboration"`
	// MeToo is paid to each rider who confirmed a report ("我也遇到"),
	// once the problem is verified (metoo.go).
	MeToo      int64 `json:"me_too"`
	DailyCap   int   `json:"daily_cap"`
	MonthlyCap int   `json:"monthly_cap"`
}

// Default caps: a busy rider verifying ten problems a day is plausible; far
// more is a sign of farming points.
const (
	DefaultDailyCap   = 10
	DefaultMonthlyCap = 100
)

// DefaultRules: severity 1/2/3 → 5/10/20 points in every category, 1 point
// of corroboration, 1 point per "me too" confirmation, at most 10 awards a day and 100 a month per rider.
func DefaultRules() Rules {
	return Rules{
		Default:       map[int]int64{1: 5, 2: 10, 3: 20},
		Corroboration: 1,
		MeToo:         1,
		DailyCap:      DefaultDailyCap,
		MonthlyCap:    DefaultMonthlyCap,
	}
}

func (r Rules) empty() bool { return len(r.Default) == 0 }

// Points is what a report of the category verified at the severity earns:
// the category's amount for that severity if the rules set one, else the
// default. A severity outside 1..3 earns nothing.
func (r Rules) Points(category string, severity int) int64 {
	if severity < 1 || severity > 3 {
		return 0
	}
	if p, ok := r.Categories[category][severity]; ok {
		return p
	}
	return r.Default[severity]
}

// CategoryCodes lists the categories that have their own amounts, sorted.
func (r Rules) CategoryCodes() []string {
	out := make([]string, 0, len(r.Categories))
	for c := range r.Categories {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// rulesFile is the JSON form of a rules file. Numbers are read as
// json.Number so that a value too large for int64 or a fraction is refused
// with the field's name rather than Go's decoder message.
type rulesFile struct {
	Default       map[string]json.Number            `json:"default"`
	Categories    map[string]map[string]json.Number `json:"categories"`
	Corroboration *json.Number                      `json:"corroboration"`
	MeToo         *json.Number                      `json:"me_too"`
	DailyCap      *json.Number                      `json:"daily_cap"`
	MonthlyCap    *json.Number                      `json:"monthly_cap"`
}

// LoadRules reads the earning rules from a JSON file:
//
//	{"default": {"1": 5, "2": 10, "3": 20},
//	 "categories": {"road_damage": {"3": 30}},
//	 "corroboration": 1, "me_too": 1, "daily_cap": 10, "monthly_cap": 100}
//
// Every field is optional; what is left out keeps its value of
// DefaultRules (a category lists only the severities it changes). It
// refuses unknown fields, severities outside 1..3, amounts that are zero,
// negative, fractional or above MaxAward, caps outside their bounds, and a
// monthly cap below the daily one; the error names the file and the field.
func LoadRules(path string) (Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("points rules file: %w", err)
	}
	r, err := parseRules(b)
	if err != nil {
		return Rules{}, fmt.Errorf("points rules file %s: %w", path, err)
	}
	return r, nil
}

func parseRules(b []byte) (Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f rulesFile
	if err := dec.Decode(&f); err != nil {
		return Rules{}, fmt.Errorf("not a JSON object of {\"default\", \"categories\", \"corroboration\", \"me_too\", \"daily_cap\", \"monthly_cap\"}: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Rules{}, errors.New("there is more after the JSON object; give one object")
	}
	r := DefaultRules()
	if f.Default != nil {
		d, err := severities("default", f.Default)
		if err != nil {
			return Rules{}, err
		}
		// Copy: DefaultRules' map is fresh, but be explicit that the
		// file's severities override the built-in ones one by one.
		for s, p := range d {
			r.Default[s] = p
		}
	}
	if len(f.Categories) > 0 {
		r.Categories = map[string]map[int]int64{}
		for code, m := range f.Categories {
			if code == "" || len(code) > 40 || strings.ContainsAny(code, " /?#&") {
				return Rules{}, fmt.Errorf("categories: %q is not a category code (up to 40 characters, no spaces or /?#&)", code)
			}
			if len(m) == 0 {
				return Rules{}, fmt.Errorf("categories.%s: give at least one severity, or leave the category out", code)
			}
			s, err := severities("categories."+code, m)
			if err != nil {
				return Rules{}, err
			}
			r.Categories[code] = s
		}
	}
	if f.Corroboration != nil {
		v, err := number("corroboration", *f.Corroboration, 1, MaxAward)
		if err != nil {
			return Rules{}, err
		}
		r.Corroboration = v
	}
	if f.MeToo != nil {
		v, err := number("me_too", *f.MeToo, 1, MaxAward)
		if err != nil {
			return Rules{}, err
		}
		r.MeToo = v
	}
	if f.DailyCap != nil {
		v, err := number("daily_cap", *f.DailyCap, 1, MaxDailyCap)
		if err != nil {
			return Rules{}, err
		}
		r.DailyCap = int(v)
	}
	if f.MonthlyCap != nil {
		v, err := number("monthly_cap", *f.MonthlyCap, 1, MaxMonthlyCap)
		if err != nil {
			return Rules{}, err
		}
		r.MonthlyCap = int(v)
	}
	if r.MonthlyCap < r.DailyCap {
		return Rules{}, fmt.Errorf("monthly_cap (%d) is below daily_cap (%d); a month's cap must allow at least one full day", r.MonthlyCap, r.DailyCap)
	}
	return r, nil
}

func severities(field string, m map[string]json.Number) (map[int]int64, error) {
	out := make(map[int]int64, len(m))
	for k, n := range m {
		s, err := strconv.Atoi(k)
		if err != nil || s < 1 || s > 3 || k != strconv.Itoa(s) {
			return nil, fmt.Errorf("%s: %q is not a severity; severities are \"1\", \"2\" and \"3\"", field, k)
		}
		p, err := number(field+"."+k, n, 1, MaxAward)
		if err != nil {
			return nil, err
		}
		out[s] = p
	}
	return out, nil
}

// number reads a whole number in [lo, hi].
func number(field string, n json.Number, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s: %s is far too large; give a whole number from %d to %d", field, n, lo, hi)
		}
		return 0, fmt.Errorf("%s: %s is not a whole number; give a whole number from %d to %d", field, n, lo, hi)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s: %d is out of range; give a whole number from %d to %d", field, v, lo, hi)
	}
	return v, nil
}
