package reports

import (
	"context"
	"embed"
	"io"
	"mime/multipart"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/web"
)

// The report pages' templates and scripts. The live updates of these pages
// come through the inbox package's stream and its script, live.js.
var (
	//go:embed templates/*.html
	pageTemplates embed.FS
	//go:embed static
	pageStatic embed.FS
)

// NameOf returns the display name of an account, for the figures by
// officer.
type NameOf func(ctx context.Context, accountID string) (string, error)

// MountPages adds the report pages to the kit: the rider's form and list, a
// report with its timeline and, for its officers, the action forms; the
// officers' queue, the escalations and the figures. Who sees what is
// decided by Access, the rule the API and the live stream follow too; a
// refused action is told through ProblemOf in the page's language. cells
// names the cells and draws the small maps. It returns an error naming any
// missing dependency. opts add what is optional (WithMapTiles).
func MountPages(k *web.Pages, svc *Service, cells *grid.Service, nameOf NameOf, opts ...PageOption) error {
	if err := web.Require("reports: pages", map[string]bool{"Pages": k == nil, "Service": svc == nil, "Grid": cells == nil, "NameOf": nameOf == nil}); err != nil {
		return err
	}
	p := &pages{k: k, svc: svc, cells: cells, nameOf: nameOf, access: NewAccess(k.Gate())}
	for _, o := range opts {
		o(p)
	}
	k.AddMessages(pageMessages)
	k.AddMessages(formMessages)
	k.AddTemplates(pageTemplates, "templates/report_new.html", "templates/report_list.html", "templates/report_view.html",
		"templates/queue.html", "templates/queue_escalations.html", "templates/queue_figures.html")
	k.AddStatic(pageStatic, "static")
	// The links follow the same permissions as their routes, so an officer
	// without cells is not offered a queue they cannot open.
	k.AddNav(
		web.NavLink{Href: "/report", Label: "nav.report", Perm: PermCreate, Order: 30},
		web.NavLink{Href: "/reports", Label: "nav.mine", Perm: PermCreate, Order: 31},
		web.NavLink{Href: "/queue", Label: "nav.queue", Perm: PermQueue, Order: 40},
		web.NavLink{Href: "/escalations", Label: "nav.escalations", Perm: PermEscalations, Order: 41},
		web.NavLink{Href: "/figures", Label: "nav.figures", Perm: PermFigures, Order: 42},
	)

	get, post := fiber.MethodGet, fiber.MethodPost
	k.AddHomePanel(10, p.homePanel)
	k.Handle(get, "/report", PermCreate, p.reportForm)
	k.Handle(post, "/report", PermCreate, p.submitReport)
	k.Handle(get, "/reports", PermCreate, p.myReports)
	k.Handle(get, "/reports/:id", PermView, p.reportPage)
	k.Handle(post, "/reports/:id/act", PermHandle, p.actOnReport)
	k.Handle(post, "/reports/:id/resolve", PermHandle, p.resolveReport)
	p.mountThread(k) // messages and urging (pages_thread.go)
	p.mountRating(k) // satisfaction and disputes (rating_pages.go)
	k.Handle(get, "/queue", PermQueue, p.queue)
	k.Handle(get, "/escalations", PermEscalations, p.escalations)
	k.Handle(get, "/figures", PermFigures, p.figures)
	return nil
}

// pages serves the report pages.
type pages struct {
	k      *web.Pages
	svc    *Service
	cells  *grid.Service
	nameOf NameOf
	access Access
	tiles  MapTiles // the form's street map, if any (WithMapTiles)
}

// Labels of report values in the visitor's language.

// CategoryLabel names the category code in l, from cats (the service's
// Categories); an unknown code is shown as it is.
func CategoryLabel(l web.Lang, cats []Category, code string) string {
	for _, c := range cats {
		if c.Code == code {
			if l.Tag() == web.EN {
				return c.EN
			}
			return c.ZH
		}
	}
	return code
}

func (p *pages) categoryName(l web.Lang, code string) string {
	return CategoryLabel(l, p.svc.Categories(), code)
}

func (p *pages) categoryChoices(l web.Lang, checked string) []web.Choice {
	var out []web.Choice
	for _, c := range p.svc.Categories() {
		out = append(out, web.Choice{Value: c.Code, Label: p.categoryName(l, c.Code), Checked: c.Code == checked})
	}
	return out
}

// StatusLabel names a status in l.
func StatusLabel(l web.Lang, s Status) string { return l.T("status." + string(s)) }

func actionLabel(l web.Lang, a Action) string { return l.T("action." + string(a)) }

// CellNames maps the codes of the map's cells to their names, for
// CellLabel.
func CellNames(cells *grid.Service) map[string]string {
	out := map[string]string{}
	for _, c := range cells.Cells() {
		out[c.Code] = c.Name
	}
	return out
}

// CellLabel names a cell by code and name (names from CellNames); no cell
// is "outside the map".
func CellLabel(l web.Lang, names map[string]string, code string) string {
	if code == "" {
		return l.T("cell.none")
	}
	if n := names[code]; n != "" {
		return code + " " + n
	}
	return code
}

// durText says how long d is, roughly: minutes, hours and minutes, or days.
func durText(l web.Lang, d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 60:
		return l.T("dur.min", m)
	case m < 48*60:
		return l.T("dur.hm", m/60, m%60)
	}
	return l.T("dur.days", m/(24*60))
}

// dueText says how long is left until due, or how long it is overdue; the
// far-future deadline of a closed report is no deadline.
func dueText(l web.Lang, due, now time.Time) (text string, overdue bool) {
	if due.IsZero() || due.Year() >= 9999 {
		return "—", false
	}
	if d := due.Sub(now); d >= 0 {
		return l.T("due.left", durText(l, d)), false
	}
	return l.T("due.over", durText(l, now.Sub(due))), true
}

// clock shows t as a time of day in the pages' zone, with the date when it
// is not now's day.
func (p *pages) clock(t, now time.Time) string {
	tz := p.k.Zone()
	layout := "15:04"
	if t.In(tz).Format(time.DateOnly) != now.In(tz).Format(time.DateOnly) {
		layout = "01-02 15:04"
	}
	return t.In(tz).Format(layout)
}

// promiseText tells r's reporter its promise (PromiseOf) in l: what the
// officer will do by when, or, once that time passed, that it is overdue
// since then. Empty for a closed report.
func (p *pages) promiseText(l web.Lang, r Report, now time.Time) (text string, missed bool) {
	pr, ok := PromiseOf(r, now)
	if !ok {
		return "", false
	}
	key := "promise." + pr.Kind
	if pr.Missed {
		key += ".missed"
	}
	return l.T(key, p.clock(pr.Due, now)), pr.Missed
}

// dueKind says which promise the next deadline keeps.
func dueKind(l web.Lang, s Status) string {
	switch s {
	case StatusSubmitted:
		return l.T("due.ack")
	case StatusAcknowledged:
		return l.T("due.decide")
	case StatusVerified, StatusInProgress:
		return l.T("due.follow")
	}
	return ""
}

// pageProblem tells an error of this package in the page's language: the
// status and code come from ProblemOf (the table the API and Open311 use),
// the message from the code (problemText). may filters the actions a
// refused transition offers to those the caller may take. ok is false for
// an unexpected error.
func pageProblem(l web.Lang, err error, may func(Action) bool) (status int, field, msg string, ok bool) {
	pr, ok := ProblemOf(err)
	if !ok {
		return 0, "", "", false
	}
	field = pr.Field
	if field == "lng" {
		field = "lat" // one input pair, one message
	}
	if pr.Code == CodeTransition {
		var allowed []string
		for _, a := range pr.Allowed {
			if may == nil || may(a) {
				allowed = append(allowed, actionLabel(l, a))
			}
		}
		list := l.T("act.none")
		if len(allowed) > 0 {
			list = strings.Join(allowed, l.T("list.sep"))
		}
		return pr.Status, "", l.T("act.not_now", actionLabel(l, pr.Action), StatusLabel(l, pr.From), list), true
	}
	fallback := pr.Reason
	if fallback == "" {
		fallback = pr.Detail
	}
	return pr.Status, field, problemText(l, pr.Code, fallback), true
}

// readUploads reads uploaded photos, each cut off just past the size limit
// so that a huge file costs no more memory than a slightly too large one
// (the service then refuses it). Empty parts, which browsers send for a file
// input left empty, are skipped.
func readUploads(files []*multipart.FileHeader) ([][]byte, error) {
	var out [][]byte
	for _, fh := range files {
		if fh.Filename == "" && fh.Size == 0 {
			continue
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxPhotoBytes+1))
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// reportRow is one report in a list. Promise is what its reporter is told
// (promiseText): the rider's list shows it, the officers' lists show Due.
type reportRow struct {
	ID, Ticket, Category, Status, StatusLabel, Cell, Created, Address string
	Due                                                               string
	DueKind                                                           string
	Promise                                                           string
	Overdue, NearBorder, Duplicate, Escalated                         bool
	EscalatedAck, EscalatedDecide, PromiseMissed                      bool
}

func (p *pages) reportRow(l web.Lang, names map[string]string, r Report, now time.Time) reportRow {
	row := reportRow{ID: r.ID, Ticket: r.Ticket, Category: p.categoryName(l, r.Category), Status: string(r.Status), StatusLabel: StatusLabel(l, r.Status),
		Cell: CellLabel(l, names, r.Cell), Created: p.k.When(r.CreatedAt), Address: r.Address,
		DueKind: dueKind(l, r.Status), NearBorder: r.NearBorder, Duplicate: r.DuplicateOf != "",
		Escalated: r.EscalatedAck || r.EscalatedDue, EscalatedAck: r.EscalatedAck, EscalatedDecide: r.EscalatedDue}
	if r.Status.Open() {
		row.Due, row.Overdue = dueText(l, r.NextDue, now)
	}
	row.Promise, row.PromiseMissed = p.promiseText(l, r, now)
	return row
}

type reportListPage struct {
	Rows []reportRow
}
