package open311_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/open311"
)

var now = time.Date(2026, 3, 15, 4, 0, 0, 0, time.UTC)

func parse(raw string) (open311.Query, error) {
	v, _ := url.ParseQuery(raw)
	return open311.ParseQuery(v.Get, now)
}

func TestParseQuery(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		raw        string
		start, end time.Time
		ids        []string
		codes      []string
		statuses   []string
	}{
		{raw: "", start: now.Add(-90 * day), end: now},
		{raw: "start_date=2026-01-01T08:00:00%2B08:00", start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(90 * day)},
		{raw: "end_date=2026-02-01", start: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Add(-90 * day), end: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{raw: "start_date=2026-01-01T00:00:00Z&end_date=2026-03-31T00:00:00Z", start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)},
		{raw: "start_date=2026-01-01T00:00:00.5Z&end_date=2026-01-02T00:00:00%2B0800", start: time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC), end: time.Date(2026, 1, 1, 16, 0, 0, 0, time.UTC)},
		{raw: "service_code=road_damage,+sanitation&status=Closed", start: now.Add(-90 * day), end: now, codes: []string{"road_damage", "sanitation"}, statuses: []string{"closed"}},
		{raw: "status=open,closed,open", start: now.Add(-90 * day), end: now, statuses: []string{"open", "closed"}},
		{raw: "service_request_id=a1,b2&start_date=bogus", ids: []string{"a1", "b2"}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			q, err := parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !q.Start.Equal(tc.start) || !q.End.Equal(tc.end) {
				t.Errorf("range %s … %s, want %s … %s", q.Start, q.End, tc.start, tc.end)
			}
			if !slices.Equal(q.IDs, tc.ids) || !slices.Equal(q.Codes, tc.codes) || !slices.Equal(q.Statuses, tc.statuses) {
				t.Errorf("ids %v codes %v statuses %v, want %v %v %v", q.IDs, q.Codes, q.Statuses, tc.ids, tc.codes, tc.statuses)
			}
		})
	}
}

func TestParseQueryRefuses(t *testing.T) {
	for raw, field := range map[string]string{
		"start_date=last+week":                                         "start_date",
		"end_date=2026-13-01":                                          "end_date",
		"start_date=2026-01-01&end_date=2026-04-02":                    "end_date",
		"start_date=2026-02-01&end_date=2026-01-01":                    "end_date",
		"status=acknowledged":                                          "status",
		"service_request_id=" + strings.Repeat("x,", open311.MaxIDs+1): "service_request_id",
		"service_request_id=a%2Fb":                                     "service_request_id",
		"service_request_id=" + strings.Repeat("a", 65):                "service_request_id",
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := parse(raw)
			var ve *open311.ValidationError
			if !errors.As(err, &ve) || ve.Field != field {
				t.Errorf("err %v, want a ValidationError on %s", err, field)
			}
		})
	}
}

// FuzzParseQuery checks that any query either is refused or yields a search
// of at most MaxSpan, or at most MaxIDs ids.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "start_date=2026-01-01", "service_request_id=a,b,c", "status=open,closed", "end_date=2026-01-01T00:00:00%2B08:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := open311.ParseQuery(v.Get, now)
		if err != nil {
			return
		}
		if len(q.IDs) > 0 {
			if len(q.IDs) > open311.MaxIDs {
				t.Fatalf("%d ids", len(q.IDs))
			}
			return
		}
		if q.End.Before(q.Start) || q.End.Sub(q.Start) > open311.MaxSpan {
			t.Fatalf("range %s … %s", q.Start, q.End)
		}
	})
}
