package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"mime/multipart"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

// reportPageNames are the templates of the report, queue and inbox pages.
var reportPageNames = []string{"report_new", "report_list", "report_view", "queue", "queue_escalations", "queue_figures", "inbox"}

// maxPickerCells caps the cells drawn on the report form's map picker: the
// page travels over riders' mobile data.
const maxPickerCells = 400

// mountReports parses the report, queue and inbox pages and adds their
// routes. MountPages calls it.
func mountReports(s *Server, p *pages) {
	p.addPages(reportPageNames)
	g, app := p.d.Gate, s.App
	get, post := fiber.MethodGet, fiber.MethodPost
	g.Handle(app, get, "/report", reports.PermCreate, p.reportForm)
	g.Handle(app, post, "/report", reports.PermCreate, p.submitReport)
	g.Handle(app, get, "/reports", reports.PermCreate, p.myReports)
	g.Handle(app, get, "/reports/:id", reports.PermView, p.reportPage)
	g.Handle(app, post, "/reports/:id/act", reports.PermHandle, p.actOnReport)
	g.Handle(app, post, "/reports/:id/resolve", reports.PermHandle, p.resolveReport)
	g.Handle(app, get, "/queue", reports.PermQueue, p.queue)
	g.Handle(app, get, "/escalations", reports.PermEscalations, p.escalations)
	g.Handle(app, get, "/figures", reports.PermFigures, p.figures)
	g.Handle(app, get, "/inbox", inbox.PermRead, p.inbox)
	g.Handle(app, post, "/inbox/:id/read", inbox.PermRead, p.markRead)
}

// addPages parses more page templates over the layout, in every language.
func (p *pages) addPages(names []string) {
	for _, l := range langs {
		base := template.Must(template.New("layout.html").Funcs(p.funcs(l)).ParseFS(templateFS, "templates/layout.html"))
		for _, name := range names {
			t := template.Must(base.Clone())
			p.tmpl[l][name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
		}
	}
}

// Labels of report values in the visitor's language.

func (p *pages) categoryName(l lang, code string) string {
	for _, c := range p.d.Reports.Categories() {
		if c.Code == code {
			if l == langEN {
				return c.EN
			}
			return c.ZH
		}
	}
	return code
}

func (p *pages) categoryChoices(l lang, checked string) []choice {
	var out []choice
	for _, c := range p.d.Reports.Categories() {
		out = append(out, choice{Value: c.Code, Label: p.categoryName(l, c.Code), Checked: c.Code == checked})
	}
	return out
}

func statusLabel(l lang, s reports.Status) string { return l.T("status." + string(s)) }
func actionLabel(l lang, a reports.Action) string { return l.T("action." + string(a)) }

// cellNames maps cell codes to names, for labels.
func (p *pages) cellNames() map[string]string {
	out := map[string]string{}
	for _, c := range p.d.Grid.Cells() {
		out[c.Code] = c.Name
	}
	return out
}

// cellLabel names a cell by code and name; no cell is "outside the map".
func cellLabel(l lang, names map[string]string, code string) string {
	if code == "" {
		return l.T("cell.none")
	}
	if n := names[code]; n != "" {
		return code + " " + n
	}
	return code
}

// durText says how long d is, roughly: minutes, hours and minutes, or days.
func durText(l lang, d time.Duration) string {
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
func dueText(l lang, due, now time.Time) (text string, overdue bool) {
	if due.IsZero() || due.Year() >= 9999 {
		return "—", false
	}
	if d := due.Sub(now); d >= 0 {
		return l.T("due.left", durText(l, d)), false
	}
	return l.T("due.over", durText(l, now.Sub(due))), true
}

// dueKind says which promise the next deadline keeps.
func dueKind(l lang, s reports.Status) string {
	switch s {
	case reports.StatusSubmitted:
		return l.T("due.ack")
	case reports.StatusAcknowledged:
		return l.T("due.decide")
	case reports.StatusVerified, reports.StatusInProgress:
		return l.T("due.follow")
	}
	return ""
}

// reportProblem tells a reports error in the page's language: the status
// and code come from reports.ProblemOf (the table the API and Open311 use),
// the message from the code (problemText). may filters the actions a
// refused transition offers to those the caller may take. ok is false for
// an unexpected error.
func reportProblem(l lang, err error, may func(reports.Action) bool) (status int, field, msg string, ok bool) {
	pr, ok := reports.ProblemOf(err)
	if !ok {
		return 0, "", "", false
	}
	field = pr.Field
	if field == "lng" {
		field = "lat" // one input pair, one message
	}
	if pr.Code == reports.CodeTransition {
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
		return pr.Status, "", l.T("act.not_now", actionLabel(l, pr.Action), statusLabel(l, pr.From), list), true
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
		b, err := io.ReadAll(io.LimitReader(f, reports.MaxPhotoBytes+1))
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// The rider's report form.

// reportFormPage is the "report a problem" form.
type reportFormPage struct {
	formState
	Key            string // the no-JS fallback's idempotency key
	Categories     []choice
	Map            pickMap
	MaxDescription int
	MaxAddress     int
	MaxPhotos      int
}

// pickMap is the grid map drawn for picking a place by hand: the drawing
// and the numbers that turn a point on it back into a position.
type pickMap struct {
	mapView
	Lon0, Lat0, KX, KY, Margin string
	// Marker is the point to show (a report's position), if any.
	Marker     bool
	MX, MY, MR string
}

// mapFrame is projectMap's projection: x = margin + (lon-lon0)·kx,
// y = margin + (lat0-lat)·ky.
type mapFrame struct{ lon0, lat0, kx, ky float64 }

// frameOf computes the projection projectMap uses for cells.
func frameOf(cells []grid.CellView) mapFrame {
	b := cells[0].Bound()
	for _, c := range cells[1:] {
		b = b.Union(c.Bound())
	}
	k := math.Cos((b.Min.Lat() + b.Max.Lat()) / 2 * math.Pi / 180)
	w := math.Max((b.Max.Lon()-b.Min.Lon())*k, 1e-9)
	h := math.Max(b.Max.Lat()-b.Min.Lat(), 1e-9)
	scale := (mapSize - 2*mapMargin) / math.Max(w, h)
	return mapFrame{lon0: b.Min.Lon(), lat0: b.Max.Lat(), kx: k * scale, ky: scale}
}

func (f mapFrame) project(lat, lng float64) (x, y float64) {
	return mapMargin + (lng-f.lon0)*f.kx, mapMargin + (f.lat0-lat)*f.ky
}

// newPickMap draws cells for picking, with a marker at (lat, lng) when mark
// is set. Officer names are left out: riders see this map.
func newPickMap(cells []grid.CellView, mark bool, lat, lng float64) pickMap {
	if len(cells) == 0 {
		return pickMap{}
	}
	m := pickMap{mapView: projectMap(cells)}
	for i := range m.Cells {
		m.Cells[i].Primary = ""
		// These maps are drawn small: larger codes stay readable.
		if fs, err := strconv.ParseFloat(m.Cells[i].FontSize, 64); err == nil {
			m.Cells[i].FontSize = num(math.Min(fs*1.6, 44))
		}
	}
	f := frameOf(cells)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }
	m.Lon0, m.Lat0, m.KX, m.KY, m.Margin = g(f.lon0), g(f.lat0), g(f.kx), g(f.ky), g(mapMargin)
	if mark {
		x, y := f.project(lat, lng)
		m.Marker, m.MX, m.MY, m.MR = true, num(x), num(y), num(mapSize/36)
	}
	return m
}

func (p *pages) showReportForm(c *fiber.Ctx, status int, f formState, key string) error {
	l := p.lang(c)
	cells := p.d.Grid.Cells()
	data := reportFormPage{formState: f, Key: key, Categories: p.categoryChoices(l, f.Values["category"]),
		MaxDescription: reports.MaxDescription, MaxAddress: reports.MaxAddress, MaxPhotos: reports.MaxPhotos}
	if len(cells) <= maxPickerCells {
		data.Map = newPickMap(cells, false, 0, 0)
	}
	if data.Values["manual"] == "" {
		data.Values["manual"] = "true" // without the page's script every position is typed by hand
	}
	return p.render(c, status, pageArgs{Name: "report_new", Title: "report.title", Here: "/report", Data: data})
}

func (p *pages) reportForm(c *fiber.Ctx) error {
	return p.showReportForm(c, fiber.StatusOK, newFormState(), newToken())
}

// submitReport files a report from the plain form: the path for browsers
// without the page's script, which sends through the API instead.
func (p *pages) submitReport(c *fiber.Ctx) error {
	l := p.lang(c)
	f := newFormState()
	for _, k := range []string{"category", "description", "address", "lat", "lng", "manual"} {
		f.Values[k] = form(c, k)
	}
	key := form(c, "key")
	show := func(status int, field, msg string) error {
		if field != "" {
			f.Errors[field] = msg
			f.Error = l.T("err.form")
		} else {
			f.Error = msg
		}
		return p.showReportForm(c, status, f, key)
	}
	sub := reports.Submission{Key: key, Category: f.Values["category"], Description: f.Values["description"],
		Address: f.Values["address"], Manual: f.Values["manual"] != "false"}
	if lat, lng := strings.TrimSpace(f.Values["lat"]), strings.TrimSpace(f.Values["lng"]); lat != "" || lng != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		ln, err2 := strconv.ParseFloat(lng, 64)
		if err1 != nil || err2 != nil {
			return show(fiber.StatusUnprocessableEntity, "lat", l.T("report.bad.coords"))
		}
		sub.Lat, sub.Lng = &la, &ln
	}
	mf, err := c.MultipartForm()
	if err != nil {
		return show(fiber.StatusUnprocessableEntity, "photos", l.T("report.bad.photos"))
	}
	photos, err := readUploads(mf.File["photos"])
	if err != nil {
		return show(fiber.StatusUnprocessableEntity, "photos", l.T("photo.not_an_image"))
	}
	sub.Photos = photos
	me, _ := policy.PrincipalFrom(c.UserContext())
	r, _, err := p.d.Reports.Submit(c.UserContext(), me.UserID, sub)
	if err != nil {
		status, field, msg, ok := reportProblem(l, err, nil)
		if !ok {
			return err
		}
		if errors.Is(err, reports.ErrIdempotencyKey) {
			key = newToken()
		}
		return show(status, field, msg)
	}
	flash(c, "flash.report_submitted")
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}

// My reports.

// reportRow is one report in a list.
type reportRow struct {
	ID, Category, Status, StatusLabel, Cell, Created, Address string
	Due                                                       string
	DueKind                                                   string
	Overdue, NearBorder, Duplicate, Escalated                 bool
	EscalatedAck, EscalatedDecide                             bool
}

func (p *pages) reportRow(l lang, names map[string]string, r reports.Report, now time.Time) reportRow {
	row := reportRow{ID: r.ID, Category: p.categoryName(l, r.Category), Status: string(r.Status), StatusLabel: statusLabel(l, r.Status),
		Cell: cellLabel(l, names, r.Cell), Created: r.CreatedAt.In(p.tz).Format("2006-01-02 15:04"), Address: r.Address,
		DueKind: dueKind(l, r.Status), NearBorder: r.NearBorder, Duplicate: r.DuplicateOf != "",
		Escalated: r.EscalatedAck || r.EscalatedDue, EscalatedAck: r.EscalatedAck, EscalatedDecide: r.EscalatedDue}
	if r.Status.Open() {
		row.Due, row.Overdue = dueText(l, r.NextDue, now)
	}
	return row
}

type reportListPage struct {
	Rows []reportRow
}

func (p *pages) myReports(c *fiber.Ctx) error {
	l := p.lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	rs, err := p.d.Reports.Mine(c.UserContext(), me.UserID)
	if err != nil {
		return err
	}
	names, now := p.cellNames(), time.Now()
	var data reportListPage
	for _, r := range rs {
		data.Rows = append(data.Rows, p.reportRow(l, names, r, now))
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "report_list", Title: "mine.title", Data: data})
}

// One report.

// reportViewPage is one report with its timeline and, for its officers, the
// action forms.
type reportViewPage struct {
	ID, Category, Status, StatusLabel, Cell, Created string
	Description, Address                             string
	Lat, Lng, Source                                 string
	Severity                                         string
	RejectReason                                     string
	Due, DueKind                                     string
	Overdue, Escalated, NearBorder                   bool
	AckPromise                                       string
	DuplicateOf, DuplicateState                      string
	Seq                                              int
	Photos                                           []photoLink
	After                                            *photoLink
	Timeline                                         []timelineRow
	Map                                              pickMap
	Own                                              bool

	// Action forms, for those who may act in the report's cell.
	CanAct     bool
	Actions    map[string]bool
	Severities []choice
	Reasons    []choice
	Cells      []choice
	// The last action's problem and what was typed.
	ActError  string
	ActAction string
	ActNote   string
}

type photoLink struct{ Thumb, Full, Alt string }

// timelineRow is one step: what, when, by which role in which cell. Never
// who: riders see it.
type timelineRow struct {
	Action, Label, When, Role, Cell, Note, Reason, Severity, StatusLabel string
}

// visibleReport loads the report of the route if the caller may see it
// (reports.Access.CanSee, the rule the API follows too). Others get the 404
// page, so report ids reveal nothing.
func (p *pages) visibleReport(c *fiber.Ctx) (reports.Report, error) {
	l := p.lang(c)
	ctx := c.UserContext()
	notFound := fiber.NewError(fiber.StatusNotFound, l.T("err.no_report"))
	r, err := p.d.Reports.Get(ctx, strings.Clone(c.Params("id")))
	if errors.Is(err, reports.ErrNotFound) {
		return reports.Report{}, notFound
	}
	if err != nil {
		return reports.Report{}, err
	}
	if !p.access.CanSee(ctx, r) {
		return reports.Report{}, notFound
	}
	return r, nil
}

func (p *pages) reportView(c *fiber.Ctx, r reports.Report) (reportViewPage, error) {
	l := p.lang(c)
	ctx := c.UserContext()
	names := p.cellNames()
	me, _ := policy.PrincipalFrom(ctx)
	v := reportViewPage{ID: r.ID, Category: p.categoryName(l, r.Category), Status: string(r.Status), StatusLabel: statusLabel(l, r.Status),
		Cell: cellLabel(l, names, r.Cell), Created: r.CreatedAt.In(p.tz).Format("2006-01-02 15:04"),
		Description: r.Description, Address: r.Address, Seq: r.Seq, Own: me.UserID == r.ReporterID,
		Lat: strconv.FormatFloat(r.Lat, 'f', 6, 64), Lng: strconv.FormatFloat(r.Lng, 'f', 6, 64),
		Source: l.T("view.source", l.T("source."+r.LocationSource)), Escalated: r.EscalatedAck || r.EscalatedDue, NearBorder: r.NearBorder,
		DuplicateOf: r.DuplicateOf, DuplicateState: r.DuplicateState, DueKind: dueKind(l, r.Status)}
	if r.Severity > 0 && r.Status != reports.StatusRejected {
		v.Severity = l.T("severity." + strconv.Itoa(r.Severity))
	}
	if r.RejectReason != "" {
		v.RejectReason = l.T("reason." + r.RejectReason)
	}
	if r.Status.Open() {
		v.Due, v.Overdue = dueText(l, r.NextDue, time.Now())
	}
	if v.Own && r.Status == reports.StatusSubmitted {
		due, layout := r.AckDue.In(p.tz), "15:04"
		if due.Format("2006-01-02") != time.Now().In(p.tz).Format("2006-01-02") {
			layout = "01-02 15:04"
		}
		v.AckPromise = l.T("report.ack_promise", due.Format(layout))
	}
	for i := range r.Photos {
		n := strconv.Itoa(i + 1)
		base := "/api/v1/reports/" + url.PathEscape(r.ID) + "/photos/" + n
		v.Photos = append(v.Photos, photoLink{Thumb: base + "?thumb=true", Full: base, Alt: l.T("report.photo_n", i+1)})
	}
	if r.AfterPhoto != nil {
		base := "/api/v1/reports/" + url.PathEscape(r.ID) + "/photos/after"
		v.After = &photoLink{Thumb: base + "?thumb=true", Full: base, Alt: l.T("report.after_photo")}
	}
	entries, err := p.d.Reports.Timeline(ctx, r.ID, 0)
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		row := timelineRow{Action: string(e.Action), Label: actionLabel(l, e.Action), When: e.At.In(p.tz).Format("2006-01-02 15:04:05"),
			Role: l.T("role." + e.ActorRole), Note: e.Note, StatusLabel: statusLabel(l, e.After.Status)}
		if e.Cell != "" {
			row.Cell = cellLabel(l, names, e.Cell)
		}
		switch e.Action {
		case reports.ActReject:
			row.Reason = l.T("reason." + e.Reason)
		case reports.ActVerify:
			row.Severity = l.T("severity." + strconv.Itoa(e.After.Severity))
		}
		v.Timeline = append(v.Timeline, row)
	}
	// A small map of the report's cell and its neighbours, with the place.
	if r.Cell != "" {
		if home, err := p.d.Grid.Cell(r.Cell); err == nil {
			b := home.Bound()
			pad := math.Max(b.Max.Lon()-b.Min.Lon(), b.Max.Lat()-b.Min.Lat()) * 0.6
			near := orb.Bound{Min: orb.Point{b.Min.Lon() - pad, b.Min.Lat() - pad}, Max: orb.Point{b.Max.Lon() + pad, b.Max.Lat() + pad}}
			var cells []grid.CellView
			for _, cv := range p.d.Grid.Cells() {
				if cv.Bound().Intersects(near) {
					cells = append(cells, cv)
				}
			}
			v.Map = newPickMap(cells, true, r.Lat, r.Lng)
		}
	}

	if p.d.Gate.Check(ctx, reports.PermHandle, policy.CellDomain(r.Cell)) == nil {
		v.Actions = map[string]bool{}
		for _, a := range reports.Allowed(r.Status) {
			if p.mayTake(c, r, a) {
				v.Actions[string(a)] = true
				v.CanAct = true
			}
		}
		for _, s := range []int{1, 2, 3} {
			v.Severities = append(v.Severities, choice{Value: strconv.Itoa(s), Label: l.T("severity." + strconv.Itoa(s))})
		}
		for _, reason := range reports.RejectReasons {
			v.Reasons = append(v.Reasons, choice{Value: reason, Label: l.T("reason." + reason)})
		}
		for _, cv := range p.d.Grid.Cells() {
			if cv.Code != r.Cell {
				v.Cells = append(v.Cells, choice{Value: cv.Code, Label: cv.Code + " " + cv.Name})
			}
		}
	}
	return v, nil
}

// mayTake reports whether the caller may take action a on r as it is
// (reports.Access.MayTake).
func (p *pages) mayTake(c *fiber.Ctx, r reports.Report, a reports.Action) bool {
	return p.access.MayTake(c.UserContext(), r, a)
}

func (p *pages) showReport(c *fiber.Ctx, status int, r reports.Report, actErr, action, note string) error {
	v, err := p.reportView(c, r)
	if err != nil {
		return err
	}
	v.ActError, v.ActAction, v.ActNote = actErr, action, note
	return p.render(c, status, pageArgs{Name: "report_view", Title: "view.title", Here: "/reports/" + r.ID, Data: v})
}

func (p *pages) reportPage(c *fiber.Ctx) error {
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	return p.showReport(c, fiber.StatusOK, r, "", "", "")
}

func (p *pages) actOnReport(c *fiber.Ctx) error {
	in := reports.ActionInput{Action: reports.Action(form(c, "action")), Note: form(c, "note"), Reason: form(c, "reason"), Cell: form(c, "cell")}
	if s := form(c, "severity"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			in.Severity = n
		}
	}
	return p.act(c, in)
}

func (p *pages) resolveReport(c *fiber.Ctx) error {
	in := reports.ActionInput{Action: reports.ActResolve, Note: form(c, "note")}
	if fh, err := c.FormFile("photo"); err == nil {
		photos, err := readUploads([]*multipart.FileHeader{fh})
		if err != nil {
			return err
		}
		if len(photos) == 1 {
			in.AfterPhoto = photos[0]
		}
	}
	return p.act(c, in)
}

// act takes an action on the report of the route after checking that the
// caller may, in the report's cell; a refused action shows the report page
// again with the reason.
func (p *pages) act(c *fiber.Ctx, in reports.ActionInput) error {
	l := p.lang(c)
	ctx := c.UserContext()
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	actor, err := p.access.Actor(ctx, r, in.Action)
	if err != nil {
		return fiber.NewError(fiber.StatusForbidden, l.T("err.not_your_cell"))
	}
	if _, err := p.d.Reports.Act(ctx, actor, r.ID, in); err != nil {
		if cur, gerr := p.d.Reports.Get(ctx, r.ID); gerr == nil {
			r = cur
		}
		status, _, msg, ok := reportProblem(l, err, func(a reports.Action) bool { return p.mayTake(c, r, a) })
		if !ok {
			return err
		}
		return p.showReport(c, status, r, msg, string(in.Action), in.Note)
	}
	flash(c, "flash.report_acted", actionLabel(l, in.Action))
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}

// The officer's queue.

// scope is what the caller may list (reports.Access.Scope).
func (p *pages) scope(c *fiber.Ctx) reports.Scope {
	return p.access.Scope(c.UserContext())
}

type queuePage struct {
	Rows       []reportRow
	Counts     []statusCount
	Statuses   []choice
	Categories []choice
	Cells      []choice
	Status     string
	Cell       string
	Category   string
	Unassigned bool
	Admin      bool
	Filtered   bool
	Links      []homeLink
}

type statusCount struct {
	Status, Label, Href string
	N                   int64
	Current             bool
}

func (p *pages) queue(c *fiber.Ctx) error {
	l := p.lang(c)
	scope := p.scope(c)
	f := reports.QueueFilter{Category: strings.Clone(c.Query("category")), Cell: strings.Clone(c.Query("cell")),
		Unassigned: scope.All && c.Query("unassigned") == "true", Limit: 100}
	if s := reports.Status(c.Query("status")); slices.Contains(reports.Statuses, s) {
		f.Status = s
	}
	if !slices.ContainsFunc(p.d.Reports.Categories(), func(cat reports.Category) bool { return cat.Code == f.Category }) {
		f.Category = ""
	}
	q, err := p.d.Reports.ListQueue(c.UserContext(), scope, f)
	if err != nil {
		return err
	}
	names, now := p.cellNames(), time.Now()
	data := queuePage{Status: string(f.Status), Cell: f.Cell, Category: f.Category, Unassigned: f.Unassigned, Admin: scope.All,
		Categories: p.categoryChoices(l, f.Category)}
	data.Filtered = f.Status != "" || f.Cell != "" || f.Category != "" || f.Unassigned
	for _, r := range q.Reports {
		data.Rows = append(data.Rows, p.reportRow(l, names, r, now))
	}
	// Links keep the other filters.
	link := func(status reports.Status) string {
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
	for _, s := range reports.Statuses {
		data.Counts = append(data.Counts, statusCount{Status: string(s), Label: statusLabel(l, s), N: q.Counts[s], Href: link(s), Current: s == f.Status})
		data.Statuses = append(data.Statuses, choice{Value: string(s), Label: statusLabel(l, s), Checked: s == f.Status})
	}
	cells := scope.Cells
	if scope.All {
		cells = nil
		for _, cv := range p.d.Grid.Cells() {
			cells = append(cells, cv.Code)
		}
	}
	for _, code := range cells {
		data.Cells = append(data.Cells, choice{Value: code, Label: cellLabel(l, names, code), Checked: code == f.Cell})
	}
	if p.canSomewhere(c, reports.PermEscalations) {
		data.Links = append(data.Links, homeLink{"/escalations", l.T("nav.escalations")})
	}
	if p.canSomewhere(c, reports.PermFigures) {
		data.Links = append(data.Links, homeLink{"/figures", l.T("nav.figures")})
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "queue", Title: "queue.title", Data: data})
}

func (p *pages) escalations(c *fiber.Ctx) error {
	l := p.lang(c)
	rs, err := p.d.Reports.Escalated(c.UserContext(), 200)
	if err != nil {
		return err
	}
	names, now := p.cellNames(), time.Now()
	var data reportListPage
	for _, r := range rs {
		data.Rows = append(data.Rows, p.reportRow(l, names, r, now))
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "queue_escalations", Title: "esc.title", Data: data})
}

type figuresPage struct {
	Days     int
	Periods  []statusCount
	Cells    []figureRow
	Officers []figureRow
}

type figureRow struct {
	Key, Name, InTime, MedianAck, MedianDecide string
	Reports, Open                              int
}

func (p *pages) figures(c *fiber.Ctx) error {
	l := p.lang(c)
	ctx := c.UserContext()
	days := 30
	if d, err := strconv.Atoi(c.Query("days")); err == nil && (d == 7 || d == 90) {
		days = d
	}
	byCell, byOfficer, err := p.d.Reports.ComputeFigures(ctx, p.scope(c), time.Now().UTC().AddDate(0, 0, -days))
	if err != nil {
		return err
	}
	names := p.cellNames()
	row := func(f reports.Figures, name string) figureRow {
		r := figureRow{Key: f.Key, Name: name, Reports: f.Reports, Open: f.OpenBacklog,
			InTime: strconv.Itoa(int(math.Round(f.AckedInTimeShare*100))) + "%", MedianAck: "—", MedianDecide: "—"}
		if f.MedianAckSeconds > 0 {
			r.MedianAck = durText(l, time.Duration(f.MedianAckSeconds*float64(time.Second)))
		}
		if f.MedianDecideSecs > 0 {
			r.MedianDecide = durText(l, time.Duration(f.MedianDecideSecs*float64(time.Second)))
		}
		return r
	}
	data := figuresPage{Days: days}
	for _, d := range []int{7, 30, 90} {
		data.Periods = append(data.Periods, statusCount{Label: l.T("fig.days", d), Href: "/figures?days=" + strconv.Itoa(d), Current: d == days})
	}
	for _, f := range byCell {
		data.Cells = append(data.Cells, row(f, cellLabel(l, names, f.Key)))
	}
	for _, f := range byOfficer {
		name := f.Key
		if u, err := p.d.Accounts.Get(ctx, f.Key); err == nil {
			name = u.DisplayName
		}
		data.Officers = append(data.Officers, row(f, name))
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "queue_figures", Title: "fig.title", Data: data})
}

// The inbox.

type inboxPage struct {
	Items  []inboxItem
	Unread int64
}

type inboxItem struct {
	ID, Text, Cell, When, Href, StatusLabel, Status string
	Read                                            bool
}

// noteText is a notification in words, from what happened and why the
// reader was told.
func (p *pages) noteText(l lang, n inbox.Notification) string {
	cat := p.categoryName(l, n.Category)
	key := "note." + string(n.Kind)
	if n.Kind == reports.ActHandover && n.Why != "reporter" {
		key = "note.handover_in"
	}
	if s := l.T(key, cat); !strings.HasPrefix(s, "[[") {
		return s
	}
	return l.T("note.other", cat)
}

func (p *pages) inbox(c *fiber.Ctx) error {
	l := p.lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	ns, unread, err := p.d.Inbox.List(c.UserContext(), me.UserID, 100)
	if err != nil {
		return err
	}
	names := p.cellNames()
	data := inboxPage{Unread: unread}
	for _, n := range ns {
		it := inboxItem{ID: url.PathEscape(n.ID), Text: p.noteText(l, n), When: n.At.In(p.tz).Format("2006-01-02 15:04"),
			Href: "/reports/" + n.ReportID, Status: string(n.Status), StatusLabel: statusLabel(l, n.Status), Read: n.Read}
		if n.Cell != "" {
			it.Cell = cellLabel(l, names, n.Cell)
		}
		data.Items = append(data.Items, it)
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "inbox", Title: "inbox.title", Data: data})
}

func (p *pages) markRead(c *fiber.Ctx) error {
	l := p.lang(c)
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_note"))
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	err = p.d.Inbox.MarkRead(c.UserContext(), me.UserID, strings.Clone(id))
	if errors.Is(err, inbox.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_note"))
	}
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return c.Redirect("/inbox", fiber.StatusSeeOther)
}
