package reports

import (
	"errors"
	"math"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// maxPickerCells caps the cells drawn on the report form's map picker: the
// page travels over riders' mobile data.
const maxPickerCells = 400

// The rider's report form.

// reportFormPage is the "report a problem" form.
type reportFormPage struct {
	web.FormState
	Key            string // the no-JS fallback's idempotency key
	Categories     []web.Choice
	Map            grid.PickMap
	MaxDescription int
	MaxAddress     int
	MaxPhotos      int
	Tiles          *formTiles // the street map for the manual position; nil: the grid
}

func (p *pages) showReportForm(c *fiber.Ctx, status int, f web.FormState, key string) error {
	l := p.k.Lang(c)
	cells := p.cells.Cells()
	data := reportFormPage{FormState: f, Key: key, Categories: p.categoryChoices(l, f.Values["category"]),
		MaxDescription: MaxDescription, MaxAddress: MaxAddress, MaxPhotos: MaxPhotos, Tiles: newFormTiles(p.tiles, cells)}
	if len(cells) <= maxPickerCells {
		data.Map = grid.NewPickMap(cells, false, 0, 0)
	}
	if data.Values["manual"] == "" {
		data.Values["manual"] = "true" // without the page's script every position is typed by hand
	}
	return p.k.Render(c, status, web.PageArgs{Name: "report_new", Title: "report.title", Here: "/report", Data: data})
}

func (p *pages) reportForm(c *fiber.Ctx) error {
	return p.showReportForm(c, fiber.StatusOK, web.NewFormState(), web.NewToken())
}

// submitReport files a report from the plain form: the path for browsers
// without the page's script, which sends through the API instead.
func (p *pages) submitReport(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	for _, k := range []string{"category", "description", "address", "lat", "lng", "manual"} {
		f.Values[k] = web.Form(c, k)
	}
	key := web.Form(c, "key")
	show := func(status int, field, msg string) error {
		if field != "" {
			f.Errors[field] = msg
			f.Error = l.T("err.form")
		} else {
			f.Error = msg
		}
		return p.showReportForm(c, status, f, key)
	}
	sub := Submission{Key: key, Category: f.Values["category"], Description: f.Values["description"],
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
	r, _, err := p.svc.Submit(c.UserContext(), me.UserID, sub)
	if err != nil {
		status, field, msg, ok := pageProblem(l, err, nil)
		if !ok {
			return err
		}
		if errors.Is(err, ErrIdempotencyKey) {
			key = web.NewToken()
		}
		return show(status, field, msg)
	}
	web.Flash(c, "flash.report_submitted")
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}

// My reports.

func (p *pages) myReports(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	rs, err := p.svc.Mine(c.UserContext(), me.UserID)
	if err != nil {
		return err
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "report_list", Title: "mine.title", Data: p.reportList(l, rs)})
}

// reportList is the rows of a list of reports (mine, escalations).
func (p *pages) reportList(l web.Lang, rs []Report) reportListPage {
	names, now := CellNames(p.cells), p.svc.now()
	var data reportListPage
	for _, r := range rs {
		data.Rows = append(data.Rows, p.reportRow(l, names, r, now))
	}
	return data
}

// One report.

// reportViewPage is one report with its timeline and, for its officers, the
// action forms.
type reportViewPage struct {
	ID, Ticket, Category, Status, StatusLabel, Cell string
	Created                                         string
	Description, Address                            string
	Lat, Lng, Source                                string
	Severity                                        string
	RejectReason                                    string
	Due, DueKind                                    string
	Overdue, Escalated, NearBorder                  bool
	Promise                                         string // the reporter's (promiseText)
	PromiseMissed                                   bool
	DuplicateOf, DuplicateState                     string
	// DuplicateTicket names the report this one repeats, for whoever may
	// be shown it (Access.LinkedDuplicate); DuplicateOther, for a rider
	// who may not, says only that it was reported already.
	DuplicateTicket string
	DuplicateOther  bool
	Seq             int
	Photos          []photoLink
	After           *photoLink
	Timeline        []timelineRow
	Map             grid.PickMap
	Own             bool

	// Action forms, for those who may act in the report's cell: only the
	// actions allowed now, the usual next one (usualNext) as Main and the
	// rest behind one "more actions" control.
	CanAct     bool
	Main       *actionForm
	More       []actionForm
	MoreLabel  string
	MoreOpen   bool // the last refused action was one of More: show it
	Severities []web.Choice
	Reasons    []web.Choice
	Cells      []web.Choice
	// The last action's problem and what was typed.
	ActError  string
	ActAction string
	ActNote   string

	// The reporter's message form and urge button (pages_thread.go).
	threadView
	// The reporter's rating form, an admin's decision on a dispute
	// (rating_pages.go).
	ratingView

	// MeToo is "N 位骑手也遇到", for those who handle the report (metoo.go).
	MeToo string
}

type photoLink struct{ Thumb, Full, Alt string }

// actionForm is one action's form on the report page, with what its
// template needs (the page's choices, the CSRF token, what was typed).
type actionForm struct {
	Name string
	Main bool
	CSRF string
	Page *reportViewPage
	Note string // what was typed, when this action was just refused
}

// usualNext is the action an officer most often takes next on a report in
// each status: the page's one main button. Every other action allowed now
// waits behind "more actions", so a phone shows one button, not six forms.
//
//	submitted    → acknowledge (the 10-minute promise to the rider comes first)
//	acknowledged → verify, with its severity
//	verified     → start
//	in_progress  → resolve, with the optional after-photo
//	resolved     → none: reopening is the exception, behind "more"
//	rejected     → none: likewise
var usualNext = map[Status]Action{
	StatusSubmitted:    ActAcknowledge,
	StatusAcknowledged: ActVerify,
	StatusVerified:     ActStart,
	StatusInProgress:   ActResolve,
}

// splitActions puts the actions allowed now (in Allowed's order) into the
// page's main form and its "more" forms. Handover needs another cell to
// hand over to, so it is left out without one.
func (v *reportViewPage) splitActions(allowed []Action) {
	for _, a := range allowed {
		if a == ActHandover && len(v.Cells) == 0 {
			continue
		}
		f := actionForm{Name: string(a), Page: v}
		if a == usualNext[Status(v.Status)] {
			f.Main = true
			v.Main = &f
			continue
		}
		v.More = append(v.More, f)
	}
}

// fillActionForms gives the forms the CSRF token and what was typed into
// the refused one, opening "more" when that one is behind it.
func (v *reportViewPage) fillActionForms(csrf string) {
	forms := v.More
	if v.Main != nil {
		forms = append([]actionForm{*v.Main}, v.More...)
	}
	for i := range forms {
		f := &forms[i]
		f.CSRF, f.Page = csrf, v
		if f.Name == v.ActAction {
			f.Note = v.ActNote
			v.MoreOpen = v.MoreOpen || !f.Main
		}
	}
	if v.Main != nil {
		v.Main, v.More = &forms[0], forms[1:]
	}
}

// timelineRow is one step: what, when, by which role in which cell. Never
// who: riders see it.
type timelineRow struct {
	Action, Label, When, Role, Cell, Note, Reason, Severity, StatusLabel string
	Photos                                                               []photoLink // a message's
	Rating                                                               string      // a rating's: "评价：满意"
}

// visibleReport loads the report of the route, by id or ticket number, if
// the caller may see it (Access.CanSee, the rule the API follows too).
// Others get the 404 page, so neither reveals anything; a ticket number
// that cannot be one is told so.
func (p *pages) visibleReport(c *fiber.Ctx) (Report, error) {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	notFound := fiber.NewError(fiber.StatusNotFound, l.T("err.no_report"))
	r, err := p.svc.Get(ctx, strings.Clone(c.Params("id")))
	if errors.Is(err, ErrNotFound) {
		return Report{}, notFound
	}
	if isValidation(err) {
		status, _, msg, _ := pageProblem(l, err, nil)
		return Report{}, fiber.NewError(status, msg)
	}
	if err != nil {
		return Report{}, err
	}
	if !p.access.CanSee(ctx, r) {
		return Report{}, notFound
	}
	return r, nil
}

func (p *pages) reportView(c *fiber.Ctx, r Report) (reportViewPage, error) {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	tz := p.k.Zone()
	names := CellNames(p.cells)
	me, _ := policy.PrincipalFrom(ctx)
	now := p.svc.now()
	v := reportViewPage{ID: r.ID, Ticket: r.Ticket, Category: p.categoryName(l, r.Category), Status: string(r.Status), StatusLabel: StatusLabel(l, r.Status),
		Cell: CellLabel(l, names, r.Cell), Created: p.k.When(r.CreatedAt),
		Description: r.Description, Address: r.Address, Seq: r.Seq, Own: me.UserID == r.ReporterID,
		Lat: strconv.FormatFloat(r.Lat, 'f', 6, 64), Lng: strconv.FormatFloat(r.Lng, 'f', 6, 64),
		Source: l.T("view.source", l.T("source."+r.LocationSource)), Escalated: r.EscalatedAck || r.EscalatedDue, NearBorder: r.NearBorder,
		DuplicateOf: r.DuplicateOf, DuplicateState: r.DuplicateState, DueKind: dueKind(l, r.Status)}
	if r.Severity > 0 && r.Status != StatusRejected {
		v.Severity = l.T("severity." + strconv.Itoa(r.Severity))
	}
	if r.RejectReason != "" {
		v.RejectReason = l.T("reason." + r.RejectReason)
	}
	if r.Status.Open() {
		v.Due, v.Overdue = dueText(l, r.NextDue, now)
		if v.Overdue {
			// Since when, as the rider's page says it.
			v.Due = l.T("due.over_since", durText(l, now.Sub(r.NextDue)), p.clock(r.NextDue, now))
		}
	}
	if v.Own {
		v.Promise, v.PromiseMissed = p.promiseText(l, r, now)
	}
	dup, shown, linked, err := p.access.LinkedDuplicate(ctx, p.svc, r)
	if err != nil {
		return v, err
	}
	switch {
	case linked && shown:
		v.DuplicateTicket = dup.Ticket
	case linked:
		v.DuplicateOf, v.DuplicateOther = "", true
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
	entries, err := p.svc.Timeline(ctx, r.ID, 0)
	if err != nil {
		return v, err
	}
	staff := p.access.staffOf(ctx, r)
	if staff {
		v.MeToo = meTooLabel(l, r.MeToo)
	}
	for _, e := range entries {
		row := timelineRow{Action: string(e.Action), Label: actionLabel(l, e.Action), When: e.At.In(tz).Format("2006-01-02 15:04:05"),
			Role: l.T(ActorLabel(e, v.Own)), Note: e.Note, StatusLabel: StatusLabel(l, e.After.Status)}
		if e.Cell != "" {
			row.Cell = CellLabel(l, names, e.Cell)
		}
		switch e.Action {
		case ActReject:
			row.Reason = l.T("reason." + e.Reason)
		case ActVerify:
			row.Severity = l.T("severity." + strconv.Itoa(e.After.Severity))
		case ActMessage, ActUrge:
			threadRow(l, r, e, &row)
		case ActRate:
			ratingRow(l, e, &row)
		case ActMeToo:
			meTooRow(l, r, e, &row, staff)
		}
		v.Timeline = append(v.Timeline, row)
	}
	p.fillThread(c, &v, r, entries)
	if err := p.fillRating(c, &v, r); err != nil {
		return v, err
	}
	// A small map of the report's cell and its neighbours, with the place.
	if r.Cell != "" {
		if home, err := p.cells.Cell(r.Cell); err == nil {
			b := home.Bound()
			pad := math.Max(b.Max.Lon()-b.Min.Lon(), b.Max.Lat()-b.Min.Lat()) * 0.6
			near := orb.Bound{Min: orb.Point{b.Min.Lon() - pad, b.Min.Lat() - pad}, Max: orb.Point{b.Max.Lon() + pad, b.Max.Lat() + pad}}
			var cells []grid.CellView
			for _, cv := range p.cells.Cells() {
				if cv.Bound().Intersects(near) {
					cells = append(cells, cv)
				}
			}
			v.Map = grid.NewPickMap(cells, true, r.Lat, r.Lng)
		}
	}

	if p.k.Gate().Check(ctx, PermHandle, policy.CellDomain(r.Cell)) == nil {
		allowed := p.access.Actions(ctx, r)
		v.MoreLabel = l.T("act.more")
		for _, s := range []int{1, 2, 3} {
			v.Severities = append(v.Severities, web.Choice{Value: strconv.Itoa(s), Label: l.T("severity." + strconv.Itoa(s))})
		}
		for _, reason := range RejectReasons {
			v.Reasons = append(v.Reasons, web.Choice{Value: reason, Label: l.T("reason." + reason)})
		}
		for _, cv := range p.cells.Cells() {
			if cv.Code != r.Cell {
				v.Cells = append(v.Cells, web.Choice{Value: cv.Code, Label: cv.Code + " " + cv.Name})
			}
		}
		v.splitActions(allowed)
		v.CanAct = v.Main != nil || len(v.More) > 0
	}
	return v, nil
}

func (p *pages) showReport(c *fiber.Ctx, status int, r Report, actErr, action, note string) error {
	v, err := p.reportView(c, r)
	if err != nil {
		return err
	}
	v.ActError, v.ActAction, v.ActNote = actErr, action, note
	if v.CanAct {
		v.fillActionForms(p.k.CSRF(c))
	}
	return p.k.Render(c, status, web.PageArgs{Name: "report_view", Title: "view.title", Here: "/reports/" + r.ID, Data: v})
}

func (p *pages) reportPage(c *fiber.Ctx) error {
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	return p.showReport(c, fiber.StatusOK, r, "", "", "")
}

func (p *pages) actOnReport(c *fiber.Ctx) error {
	in := ActionInput{Action: Action(web.Form(c, "action")), Note: web.Form(c, "note"), Reason: web.Form(c, "reason"), Cell: web.Form(c, "cell")}
	if s := web.Form(c, "severity"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			in.Severity = n
		}
	}
	return p.act(c, in)
}

func (p *pages) resolveReport(c *fiber.Ctx) error {
	in := ActionInput{Action: ActResolve, Note: web.Form(c, "note")}
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
// caller may, in the report's cell (Access.Actor); a refused action shows
// the report page again with the reason.
func (p *pages) act(c *fiber.Ctx, in ActionInput) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	if in.Action == ActUphold && mayDecide(ctx, p.k.Gate()) != nil {
		// Officers may act in the cell, but deciding a dispute is for
		// admins (report:dispute, rating_pages.go).
		return fiber.NewError(fiber.StatusForbidden, l.T("dispute.admins_only"))
	}
	actor, err := p.access.Actor(ctx, r, in.Action)
	if err != nil {
		return fiber.NewError(fiber.StatusForbidden, l.T("err.not_your_cell"))
	}
	if _, err := p.svc.Act(ctx, actor, r.ID, in); err != nil {
		if cur, gerr := p.svc.Get(ctx, r.ID); gerr == nil {
			r = cur
		}
		status, _, msg, ok := pageProblem(l, err, func(a Action) bool { return p.access.MayTake(ctx, r, a) })
		if !ok {
			return err
		}
		return p.showReport(c, status, r, msg, string(in.Action), in.Note)
	}
	web.Flash(c, "flash.report_acted", actionLabel(l, in.Action))
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}
