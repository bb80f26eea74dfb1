package reports

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// PermExport is downloading reports and figures as CSV: an admin's, for the
// city's own spreadsheets and reports to its superiors.
const PermExport policy.Permission = "report:export"

// MaxExportDays bounds one export's date range.
const MaxExportDays = 366

// ExportRange is a range of Beijing days, both included.
type ExportRange struct {
	From, To time.Time // midnight, Beijing time, of the first and the last day
}

// ParseExportRange reads "2026-11-01" and "2026-11-30" as Beijing days. An
// empty to means today.
func ParseExportRange(from, to string, now time.Time) (ExportRange, error) {
	var errs []error
	parse := func(field, v string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, v, beijing)
		if err != nil {
			errs = append(errs, &ValidationError{Field: field, Reason: fmt.Sprintf("give a day as 2026-11-01, not %q", truncateText(v, 20))})
		}
		return d
	}
	r := ExportRange{From: parse("from", from)}
	if to == "" {
		r.To = dayStart(now)
	} else {
		r.To = parse("to", to)
	}
	if len(errs) == 0 {
		switch {
		case r.To.Before(r.From):
			errs = append(errs, &ValidationError{Field: "to", Reason: "the last day comes before the first"})
		case r.To.Sub(r.From) >= MaxExportDays*24*time.Hour:
			errs = append(errs, &ValidationError{Field: "to", Reason: fmt.Sprintf("export at most %d days at a time", MaxExportDays)})
		}
	}
	if len(errs) > 0 {
		return ExportRange{}, errs[0]
	}
	return r, nil
}

// ExportReports writes the reports created in r as CSV to w, newest first,
// with a header row: the public summary of each (no reporter, no photo)
// plus its category's Chinese name. It reads through Search, a page at a
// time. It returns how many reports it wrote.
func (s *Service) ExportReports(ctx context.Context, w io.Writer, r ExportRange) (int, error) {
	names := map[string]string{}
	for _, c := range s.cfg.Categories {
		names[c.Code] = c.ZH
	}
	out := newCSV(w)
	out.row("ticket", "id", "created", "category", "category_zh", "status", "cell", "description", "address",
		"lat", "lng", "acknowledge_due", "decide_due", "reject_reason", "updated")
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(beijing).Format("2006-01-02 15:04:05")
	}
	f := SearchFilter{From: r.From, To: r.To.Add(24*time.Hour - time.Nanosecond), Limit: MaxSearchResults}
	n := 0
	seen := map[string]bool{} // of the last page's oldest instant, which the next page repeats
	for {
		page, err := s.Search(ctx, f)
		if err != nil {
			return n, err
		}
		fresh := 0
		for _, sm := range page {
			if seen[sm.ID] {
				continue
			}
			fresh++
			n++
			out.row(sm.Ticket, sm.ID, when(sm.CreatedAt), sm.Category, names[sm.Category], string(sm.Status), sm.Cell,
				sm.Description, sm.Address, strconv.FormatFloat(sm.Lat, 'f', 6, 64), strconv.FormatFloat(sm.Lng, 'f', 6, 64),
				when(sm.AckDue), when(sm.DecideDue), sm.RejectReason, when(sm.UpdatedAt))
		}
		if len(page) < f.Limit || fresh == 0 {
			break
		}
		// Next page: up to the oldest instant of this one, included (two
		// reports may share it), skipping the ones already written.
		last := page[len(page)-1].CreatedAt
		clear(seen)
		for _, sm := range page {
			if sm.CreatedAt.Equal(last) {
				seen[sm.ID] = true
			}
		}
		f.To = last
	}
	return n, out.flush()
}

// ExportFigures writes the service figures from r's first day to today as
// CSV: one row per cell, then one per officer.
func (s *Service) ExportFigures(ctx context.Context, w io.Writer, r ExportRange) error {
	cells, officers, err := s.ComputeFiguresUntil(ctx, Scope{All: true}, r.From, r.To)
	if err != nil {
		return err
	}
	out := newCSV(w)
	out.row("kind", "key", "reports", "acknowledged_in_time_share", "median_acknowledge_seconds", "median_decide_seconds", "open_backlog", "urged",
		"satisfied", "basic", "unsatisfied", "unrated", "satisfaction_rate")
	for _, group := range []struct {
		kind string
		fs   []Figures
	}{{"cell", cells}, {"officer", officers}} {
		for _, f := range group.fs {
			out.row(group.kind, f.Key, strconv.Itoa(f.Reports), strconv.FormatFloat(f.AckedInTimeShare, 'f', 3, 64),
				strconv.FormatFloat(f.MedianAckSeconds, 'f', 0, 64), strconv.FormatFloat(f.MedianDecideSecs, 'f', 0, 64),
				strconv.Itoa(f.OpenBacklog), strconv.Itoa(f.Urged),
				strconv.Itoa(f.Satisfied), strconv.Itoa(f.Basic), strconv.Itoa(f.Unsatisfied), strconv.Itoa(f.Unrated),
				strconv.FormatFloat(f.SatisfactionRate, 'f', 3, 64))
		}
	}
	return out.flush()
}

// csvOut writes CSV for spreadsheets: a UTF-8 byte-order mark first, which
// Excel needs to read Chinese, and every cell made safe to open.
type csvOut struct {
	b   *bufio.Writer
	w   *csv.Writer
	err error
}

func newCSV(w io.Writer) *csvOut {
	b := bufio.NewWriter(w)
	_, err := b.WriteString("\uFEFF")
	return &csvOut{b: b, w: csv.NewWriter(b), err: err}
}

func (c *csvOut) row(cells ...string) {
	if c.err != nil {
		return
	}
	for i, v := range cells {
		cells[i] = spreadsheetSafe(v)
	}
	c.err = c.w.Write(cells)
}

func (c *csvOut) flush() error {
	if c.err != nil {
		return c.err
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.b.Flush()
}

// spreadsheetSafe defuses a cell a spreadsheet would run as a formula (a
// rider's description starting with "=HYPERLINK(…)"): OWASP's advice, a
// leading apostrophe, which spreadsheets show as text and do not print.
func spreadsheetSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		// Numbers such as "-3.5" are no formula; keep them as they are.
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}

// exportRoutes mounts the CSV downloads.
func exportRoutes(api huma.API, gate *policy.Gate, h *handlers) {
	policy.Register(api, gate, PermExport, huma.Operation{
		OperationID: "export-reports", Method: http.MethodGet, Path: "/api/v1/admin/export/reports.csv", Tags: []string{"admin"},
		Summary:     "The reports created on a range of days, as CSV",
		Description: "`from` and `to` are Beijing days (2026-11-01); `to` defaults to today; at most 366 days. UTF-8 with a byte-order mark, newest first; cells a spreadsheet would run as formulas start with an apostrophe.",
		Errors:      []int{422},
	}, h.exportReports)
	policy.Register(api, gate, PermExport, huma.Operation{
		OperationID: "export-figures", Method: http.MethodGet, Path: "/api/v1/admin/export/figures.csv", Tags: []string{"admin"},
		Summary: "Service figures per cell and officer over a range of days, as CSV",
		Errors:  []int{422},
	}, h.exportFigures)
}

type exportInput struct {
	From string `query:"from" required:"true" maxLength:"10" doc:"first Beijing day, 2026-11-01"`
	To   string `query:"to" maxLength:"10" doc:"last Beijing day; empty: today"`
}

func (h *handlers) export(in *exportInput, name string, write func(ctx context.Context, w io.Writer, r ExportRange) error) (*huma.StreamResponse, error) {
	r, err := ParseExportRange(in.From, in.To, h.svc.now())
	if err != nil {
		return nil, h.problem(err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hctx.SetHeader("Content-Disposition", fmt.Sprintf(`attachment; filename="nuanxin-%s-%s-%s.csv"`, name,
			r.From.Format("20060102"), r.To.Format("20060102")))
		hctx.SetHeader("Cache-Control", "private, no-store")
		if err := write(hctx.Context(), hctx.BodyWriter(), r); err != nil && !errors.Is(err, context.Canceled) {
			// The header is gone: the download ends short, and the log says why.
			h.log.Error("export", "what", name, "err", err)
		}
	}}, nil
}

func (h *handlers) exportReports(ctx context.Context, in *exportInput) (*huma.StreamResponse, error) {
	return h.export(in, "reports", func(ctx context.Context, w io.Writer, r ExportRange) error {
		_, err := h.svc.ExportReports(ctx, w, r)
		return err
	})
}

func (h *handlers) exportFigures(ctx context.Context, in *exportInput) (*huma.StreamResponse, error) {
	return h.export(in, "figures", h.svc.ExportFigures)
}
