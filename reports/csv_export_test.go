package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/reports/reportstest"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\uFEFF")) {
		t.Fatal("no byte-order mark: Excel would show the Chinese as garbage")
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	return rows
}

// Every report of the range, once, past the 1,000 a search returns; a
// description a spreadsheet would run is defused; a narrower range keeps
// to its days.
func TestExportReportsCSV(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	in := f.submission("evil", inWest)
	in.Description = `=HYPERLINK("http://evil.example","点我")`
	evil := f.mustSubmit("rider1", in)
	cells := grid.GridCells("T", "芙蓉区", 112.97, 28.19, 0.01, 2, 1)
	res, err := reportstest.Fill(ctx, f.db, f.svc, reportstest.FillOptions{Reports: 1150, Places: reportstest.PlacesOf(cells), Days: 3, Templates: 10})
	if err != nil {
		t.Fatal(err)
	}
	total := len(res.Reports) + 1

	zone := time.FixedZone("CST", 8*3600)
	day := func(daysAgo int) string { return time.Now().In(zone).AddDate(0, 0, -daysAgo).Format(time.DateOnly) }
	r, err := reports.ParseExportRange(day(5), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := f.svc.ExportReports(ctx, &buf, r)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	if n != total || len(rows) != total+1 {
		t.Fatalf("exported %d reports in %d rows, want %d", n, len(rows)-1, total)
	}
	if rows[0][0] != "ticket" || rows[0][1] != "id" || rows[0][7] != "description" {
		t.Errorf("header %v", rows[0])
	}
	ids := map[string]bool{}
	for _, row := range rows[1:] {
		if ids[row[1]] {
			t.Errorf("report %s twice", row[1])
		}
		ids[row[1]] = true
		if row[1] == evil.ID && row[7] != "'"+in.Description {
			t.Errorf("the formula's cell is %q: a spreadsheet would run it", row[7])
		}
	}
	if !ids[evil.ID] {
		t.Error("the report filed through the service is missing")
	}

	// Today only: fewer, and every one created today (Beijing).
	r, err = reports.ParseExportRange(day(0), day(0), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	n, err = f.svc.ExportReports(ctx, &buf, r)
	if err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, buf.Bytes())
	if n == 0 || n >= total {
		t.Fatalf("today: %d reports of %d", n, total)
	}
	for _, row := range rows[1:] {
		if !strings.HasPrefix(row[2], day(0)) {
			t.Fatalf("today's export holds a report created %s", row[2])
		}
	}

	buf.Reset()
	if err := f.svc.ExportFigures(ctx, &buf, r); err != nil {
		t.Fatal(err)
	}
	if figs := readCSV(t, buf.Bytes()); len(figs) < 2 || figs[0][0] != "kind" {
		t.Errorf("figures CSV %v", figs)
	}
}

func TestExportRangeRefused(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ from, to, field string }{
		{"", "", "from"},
		{"2026-13-01", "", "from"},
		{"2026-11-01", "yesterday", "to"},
		{"2026-11-20", "2026-11-10", "to"},
		{"2024-01-01", "2026-11-01", "to"},
	} {
		var ve *reports.ValidationError
		if _, err := reports.ParseExportRange(c.from, c.to, now); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("from %q to %q: err = %v, want a ValidationError on %s", c.from, c.to, err, c.field)
		}
	}
	r, err := reports.ParseExportRange("2026-11-01", "", now)
	if err != nil || r.To.Format(time.DateOnly) != "2026-11-29" {
		t.Errorf("to defaults to today: %v %v", r.To, err)
	}
}
