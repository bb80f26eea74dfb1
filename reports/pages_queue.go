package reports

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/web"
)

// The officers' queue, the escalations and the figures.

type queuePage struct {
	Rows       []queueRow
	Counts     []statusCount
	Statuses   []web.Choice
	Categories []web.Choice
	Cells      []web.Choice
	Status     string
	Cell       string
	Category   string
	Unassigned bool
	Admin      bool
	Filtered   bool
	Links      []web.Link
}

// queueRow is a report in the queue: its list row with the first photo's
// thumbnail and the first line of the description, so an officer can tell
// reports apart without opening each.
type queueRow struct {
	reportRow
	Thumb, ThumbAlt, Excerpt string
	MeToo                    string // "N 位骑手也遇到" (metoo.go)
}

// excerptRunes is where a queue row cuts the description: about one line
// on a phone.
const excerptRunes = 60

// excerpt is the first line of a description, cut at excerptRunes
// characters (not bytes: most are Chinese) with "…".
func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) + "…"
	}
	if r := []rune(s); len(r) > excerptRunes {
		s = strings.TrimSpace(string(r[:excerptRunes])) + "…"
	}
	return s
}

func (p *pages) queueRow(l web.Lang, names map[string]string, r Report, now time.Time) queueRow {
	row := queueRow{reportRow: p.reportRow(l, names, r, now), Excerpt: excerpt(r.Description), MeToo: meTooLabel(l, r.MeToo)}
	if len(r.Photos) > 0 {
		row.Thumb = "/api/v1/reports/" + url.PathEscape(r.ID) + "/photos/1?thumb=true"
		row.ThumbAlt = row.Category
	}
	return row
}

type statusCount struct {
	Status, Label, Href string
	N                   int64
	Current             bool
}

func (p *pages) queue(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	scope := p.access.Scope(c.UserContext())
	f := QueueFilter{Category: strings.Clone(c.Query("category")), Cell: strings.Clone(c.Query("cell")),
		Unassigned: scope.All && c.Query("unassigned") == "true", Limit: 100}
	if s := Status(c.Query("status")); slices.Contains(Statuses, s) {
		f.Status = s
	}
	if !slices.ContainsFunc(p.svc.Categories(), func(cat Category) bool { return cat.Code == f.Category }) {
		f.Category = ""
	}
	q, err := p.svc.ListQueue(c.UserContext(), scope, f)
	if err != nil {
		return err
	}
	names, now := CellNames(p.cells), p.svc.now()
	data := queuePage{Status: string(f.Status), Cell: f.Cell, Category: f.Category, Unassigned: f.Unassigned, Admin: scope.All,
		Categories: p.categoryChoices(l, f.Category)}
	data.Filtered = f.Status != "" || f.Cell != "" || f.Category != "" || f.Unassigned
	for _, r := range q.Reports {
		data.Rows = append(data.Rows, p.queueRow(l, names, r, now))
	}
	// Links keep the other filters.
	link := func(status Status) string {
		v := url.Values{}
		if status != "" {
			v.Set("status", string(status))
		}
		if f.Category != "" {
			v.Set("category", f.Category)
		}
		if f.Cell != "" {
			v.Set("cell", f.Cell)
		}
		if f.Unassigned {
			v.Set("unassigned", "true")
		}
		if len(v) == 0 {
			return "/queue"
		}
		return "/queue?" + v.Encode()
	}
	for _, s := range Statuses {
		data.Counts = append(data.Counts, statusCount{Status: string(s), Label: StatusLabel(l, s), N: q.Counts[s], Href: link(s), Current: s == f.Status})
		data.Statuses = append(data.Statuses, web.Choice{Value: string(s), Label: StatusLabel(l, s), Checked: s == f.Status})
	}
	cells := scope.Cells
	if scope.All {
		cells = nil
		for _, cv := range p.cells.Cells() {
			cells = append(cells, cv.Code)
		}
	}
	for _, code := range cells {
		data.Cells = append(data.Cells, web.Choice{Value: code, Label: CellLabel(l, names, code), Checked: code == f.Cell})
	}
	if p.k.CanSomewhere(c, PermEscalations) {
		data.Links = append(data.Links, web.Link{Href: "/escalations", Label: l.T("nav.escalations")})
	}
	if p.k.CanSomewhere(c, PermFigures) {
		data.Links = append(data.Links, web.Link{Href: "/figures", Label: l.T("nav.figures")})
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "queue", Title: "queue.title", Data: data})
}

func (p *pages) escalations(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	rs, err := p.svc.Escalated(c.UserContext(), 200)
	if err != nil {
		return err
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "queue_escalations", Title: "esc.title", Data: p.reportList(l, rs)})
}

type figuresPage struct {
	Days     int
	Periods  []statusCount
	Cells    []figureRow
	Officers []figureRow
	// Export: the CSV download form, for admins, its days filled in.
	CanExport         bool
	ExportFrom, Today string
}

type figureRow struct {
	Key, Name, InTime, MedianAck, MedianDecide string
	Reports, Open, Urged                       int
	// Satisfaction (rating.go): the counts, and the rate as a percentage
	// ("—" when nothing was rated or due).
	Satisfied, Basic, Unsatisfied, Unrated int
	Satisfaction                           string
}

func (p *pages) figures(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	days := 30
	if d, err := strconv.Atoi(c.Query("days")); err == nil && (d == 7 || d == 90) {
		days = d
	}
	byCell, byOfficer, err := p.svc.ComputeFigures(ctx, p.access.Scope(ctx), time.Now().UTC().AddDate(0, 0, -days))
	if err != nil {
		return err
	}
	names := CellNames(p.cells)
	row := func(f Figures, name string) figureRow {
		r := figureRow{Key: f.Key, Name: name, Reports: f.Reports, Open: f.OpenBacklog, Urged: f.Urged,
			InTime: strconv.Itoa(int(math.Round(f.AckedInTimeShare*100))) + "%", MedianAck: "—", MedianDecide: "—"}
		r.Satisfied, r.Basic, r.Unsatisfied, r.Unrated, r.Satisfaction = f.Satisfied, f.Basic, f.Unsatisfied, f.Unrated, "—"
		if f.Satisfied+f.Basic+f.Unsatisfied+f.Unrated > 0 {
			r.Satisfaction = strconv.Itoa(int(math.Round(f.SatisfactionRate*100))) + "%"
		}
		if f.MedianAckSeconds > 0 {
			r.MedianAck = durText(l, time.Duration(f.MedianAckSeconds*float64(time.Second)))
		}
		if f.MedianDecideSecs > 0 {
			r.MedianDecide = durText(l, time.Duration(f.MedianDecideSecs*float64(time.Second)))
		}
		return r
	}
	today := time.Now().In(beijing)
	data := figuresPage{Days: days, CanExport: p.k.Can(c, PermExport),
		ExportFrom: today.AddDate(0, 0, -days).Format(time.DateOnly), Today: today.Format(time.DateOnly)}
	for _, d := range []int{7, 30, 90} {
		data.Periods = append(data.Periods, statusCount{Label: l.T("fig.days", d), Href: "/figures?days=" + strconv.Itoa(d), Current: d == days})
	}
	for _, f := range byCell {
		data.Cells = append(data.Cells, row(f, CellLabel(l, names, f.Key)))
	}
	for _, f := range byOfficer {
		name := f.Key
		if n, err := p.nameOf(ctx, f.Key); err == nil {
			name = n
		}
		data.Officers = append(data.Officers, row(f, name))
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "queue_figures", Title: "fig.title", Data: data})
}
