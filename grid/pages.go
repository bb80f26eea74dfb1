package grid

import (
	"context"
	"embed"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// OfficerAccount is an officer's account as the map page offers it for
// assignment.
type OfficerAccount struct {
	ID, Name, Login string
	Disabled        bool
}

// OfficerAccounts lists the officer accounts, enabled or not; the map
// page offers the enabled ones.
type OfficerAccounts func(ctx context.Context) ([]OfficerAccount, error)

// OpenCounts counts the open reports of each cell; ok is false when the
// counts are not known just now (the page then says so rather than show
// wrong ones). The reports service provides it; the grid does not import
// reports.
type OpenCounts func() (counts map[string]int, ok bool)

// MountPages adds the grid map page to the kit: the map with its cells, their
// officers and open reports, and for admins the import and the bulk
// assignment form. It returns an error naming any missing dependency.
func MountPages(k *web.Pages, svc *Service, officers OfficerAccounts, open OpenCounts) error {
	if err := web.Require("grid: pages", map[string]bool{"Pages": k == nil, "Service": svc == nil, "OfficerAccounts": officers == nil, "OpenCounts": open == nil}); err != nil {
		return err
	}
	p := &pages{k: k, svc: svc, officers: officers, open: open}
	k.AddMessages(pageMessages)
	k.AddReasons(reasonsZH)
	k.AddTemplates(pageTemplates, "templates/grid.html")
	k.AddNav(web.NavLink{Href: "/admin/grid", Label: "nav.grid", Perm: PermRead, Order: 20})
	k.AddHomeLinks(20, func(c *fiber.Ctx, l web.Lang) []web.Link {
		switch {
		case k.Can(c, PermImport) || k.Can(c, PermAssign):
			return []web.Link{{Href: "/admin/grid", Label: l.T("home.grid")}}
		case k.CanSomewhere(c, PermRead):
			return []web.Link{{Href: "/admin/grid", Label: l.T("home.grid_read")}}
		}
		return nil
	})

	get, post := fiber.MethodGet, fiber.MethodPost
	k.Handle(get, "/admin/grid", PermRead, p.gridMap)
	k.Handle(post, "/admin/grid/import", PermImport, p.importGrid)
	k.Handle(post, "/admin/grid/assign", PermAssign, p.assignMany)
	// The one-cell form of earlier pages, for old links and scripts.
	k.Handle(post, "/admin/grid/cells/:code/officers", PermAssign, p.assignOfficers)
	return nil
}

// pages serves the grid map page.
type pages struct {
	k        *web.Pages
	svc      *Service
	officers OfficerAccounts
	open     OpenCounts
}

// keepBackup is the backup select's value for "keep each cell's backup";
// account ids are hex, so it cannot be one.
const keepBackup = "=keep"

// gridPage shows the map, the cells with their officers and open reports
// and, to those allowed, the import and the bulk assignment forms.
type gridPage struct {
	Map        MapView
	Rows       []cellRow
	Unassigned int
	Officers   []web.Choice
	CanImport  bool
	CanAssign  bool
	// CountsOK is false when the open reports could not be counted.
	CountsOK bool
	Mode     string
	// Import problems, already in words.
	ImportError string
	Problems    []string
	// The bulk assignment form: what it shows chosen, and what went wrong
	// with its last submission, in words.
	PrimaryID, BackupID string
	Selected            int
	AssignError         string
	AssignProblems      []string
	PrimaryInvalid      bool
	BackupInvalid       bool
}

// cellRow is one cell in the table; Checked ticks its box in the bulk form.
type cellRow struct {
	CellView
	Open    int
	Heat    int
	Checked bool
}

func (p *pages) gridPage(c *fiber.Ctx) (gridPage, error) {
	cells := p.svc.Cells()
	counts, ok := p.open()
	data := gridPage{
		Map:       ProjectMap(cells),
		CanImport: p.k.Can(c, PermImport),
		CanAssign: p.k.Can(c, PermAssign),
		CountsOK:  ok,
		Mode:      string(Replace),
	}
	for i := range data.Map.Cells {
		if ok {
			data.Map.Cells[i].setOpen(counts[data.Map.Cells[i].Code])
		}
	}
	for _, v := range cells {
		r := cellRow{CellView: v}
		if ok {
			r.Open = counts[v.Code]
			r.Heat = heat(r.Open)
		}
		if v.Assignment.Primary == nil {
			data.Unassigned++
		}
		data.Rows = append(data.Rows, r)
	}
	if data.CanAssign {
		officers, err := p.officers(c.UserContext())
		if err != nil {
			return gridPage{}, err
		}
		for _, o := range officers {
			if !o.Disabled {
				data.Officers = append(data.Officers, web.Choice{Value: o.ID, Label: o.Name + " (" + o.Login + ")"})
			}
		}
	}
	return data, nil
}

// tick checks the boxes of the cells named (all of them with all).
func (d *gridPage) tick(codes []string, all bool) {
	on := make(map[string]bool, len(codes))
	for _, c := range codes {
		on[c] = true
	}
	d.Selected = 0
	for i := range d.Rows {
		d.Rows[i].Checked = all || on[d.Rows[i].Code]
		if d.Rows[i].Checked {
			d.Selected++
		}
	}
}

func (p *pages) showGrid(c *fiber.Ctx, status int, data gridPage) error {
	return p.k.Render(c, status, web.PageArgs{Name: "grid", Title: "grid.title", Here: "/admin/grid", Data: data})
}

func (p *pages) gridMap(c *fiber.Ctx) error {
	data, err := p.gridPage(c)
	if err != nil {
		return err
	}
	return p.showGrid(c, fiber.StatusOK, data)
}

func (p *pages) importGrid(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	mode := web.Form(c, "mode")
	// refuse shows the page again with the import's problems.
	refuse := func(msg string, problems ...string) error {
		data, err := p.gridPage(c)
		if err != nil {
			return err
		}
		data.Mode, data.ImportError, data.Problems = mode, msg, problems
		return p.showGrid(c, fiber.StatusUnprocessableEntity, data)
	}
	if mode != string(Replace) && mode != string(Merge) {
		return refuse(l.T("err.bad_mode"))
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return refuse(l.T("err.no_file"))
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxImportBytes+1))
	if err != nil {
		return err
	}
	if len(body) > MaxImportBytes {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "The request is too large.")
	}
	res, err := p.svc.Import(c.UserContext(), body, Mode(mode))
	var ie *ImportError
	if errors.As(err, &ie) {
		var problems []string
		for _, pr := range ie.Problems {
			switch {
			case pr.Index < 0:
				problems = append(problems, pr.Reason)
			case pr.Code != "":
				problems = append(problems, l.T("grid.problem_code", pr.Index, pr.Code, pr.Reason))
			default:
				problems = append(problems, l.T("grid.problem", pr.Index, pr.Reason))
			}
		}
		if ie.More > 0 {
			problems = append(problems, l.T("grid.problems_more", ie.More))
		}
		return refuse(l.T("grid.problems"), problems...)
	}
	if err != nil {
		return err
	}
	web.Flash(c, "flash.imported", strconv.Itoa(res.Added), strconv.Itoa(res.Updated), strconv.Itoa(res.Removed), strconv.Itoa(res.Cells))
	return c.Redirect("/admin/grid", fiber.StatusSeeOther)
}

// assignMany handles the bulk form: its "select all" and "clear" buttons
// show the page again with the boxes ticked or not (no script needed), and
// its "assign" button gives the ticked cells the chosen officers.
func (p *pages) assignMany(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	cells := formValues(c, "cells")
	primary, backup := web.Form(c, "primary_id"), web.Form(c, "backup_id")
	data, err := p.gridPage(c)
	if err != nil {
		return err
	}
	data.PrimaryID, data.BackupID = primary, backup
	switch web.Form(c, "select") {
	case "all":
		data.tick(nil, true)
		return p.showGrid(c, fiber.StatusOK, data)
	case "none":
		data.tick(nil, false)
		return p.showGrid(c, fiber.StatusOK, data)
	}
	b := BulkAssignment{Cells: cells, PrimaryID: primary, BackupID: backup}
	if backup == keepBackup {
		b.BackupID, b.KeepBackup = "", true
	}
	done, err := p.svc.AssignMany(c.UserContext(), b)
	var be *BulkError
	var inc *IncompleteError
	switch {
	case errors.As(err, &be):
		data.tick(cells, false)
		data.AssignError = l.T("grid.assign_refused")
		for _, pr := range be.Problems {
			data.AssignProblems = append(data.AssignProblems, problemText(l, pr))
			data.PrimaryInvalid = data.PrimaryInvalid || pr.Field == "primary_id"
			data.BackupInvalid = data.BackupInvalid || pr.Field == "backup_id"
		}
		if be.More > 0 {
			data.AssignProblems = append(data.AssignProblems, l.T("grid.problems_more", be.More))
		}
		return p.showGrid(c, fiber.StatusUnprocessableEntity, data)
	case errors.As(err, &inc):
		// The page shows what the store holds now; the boxes stay ticked
		// so that pressing "assign" again sends the same request, which
		// finishes the job.
		data, derr := p.gridPage(c)
		if derr != nil {
			return derr
		}
		data.PrimaryID, data.BackupID = primary, backup
		data.tick(cells, false)
		data.AssignError = l.T("grid.assign_incomplete", len(inc.Assigned), len(inc.NotAssigned))
		if len(inc.Assigned) > 0 {
			data.AssignProblems = append(data.AssignProblems, l.T("grid.assigned_list", strings.Join(inc.Assigned, ", ")))
		}
		data.AssignProblems = append(data.AssignProblems, l.T("grid.not_assigned_list", strings.Join(inc.NotAssigned, ", ")))
		return p.showGrid(c, fiber.StatusServiceUnavailable, data)
	case err != nil:
		return err
	}
	web.Flash(c, "flash.assigned_many", strconv.Itoa(len(done)), done[0].Primary.Name)
	return c.Redirect("/admin/grid#cells", fiber.StatusSeeOther)
}

// assignOfficers handles the one-cell form of earlier pages: a problem
// shows the page again with the bulk form holding that cell and those
// officers, and the problem above it.
func (p *pages) assignOfficers(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	code := strings.Clone(c.Params("code"))
	primary, backup := web.Form(c, "primary_id"), web.Form(c, "backup_id")
	a, err := p.svc.Assign(c.UserContext(), code, primary, backup)
	if errors.Is(err, ErrCellNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_cell", code))
	}
	if err != nil {
		data, derr := p.gridPage(c)
		if derr != nil {
			return derr
		}
		var fe *FieldError
		switch {
		case errors.As(err, &fe):
			data.AssignError = l.T("grid.cell_problem", code, l.Reason(fe.Reason))
			data.PrimaryInvalid, data.BackupInvalid = fe.Field == "primary_id", fe.Field == "backup_id"
		case errors.Is(err, ErrSameOfficer):
			data.AssignError = l.T("grid.cell_problem", code, l.T("err.same_officer"))
			data.BackupInvalid = true
		default:
			return err
		}
		data.PrimaryID, data.BackupID = primary, backup
		data.tick([]string{code}, false)
		return p.showGrid(c, fiber.StatusUnprocessableEntity, data)
	}
	web.Flash(c, "flash.assigned", code, a.Primary.Name)
	return c.Redirect("/admin/grid#cell-"+code, fiber.StatusSeeOther)
}

// problemText puts a bulk assignment's problem in words.
func problemText(l web.Lang, pr Problem) string {
	if pr.Cell != "" {
		return l.T("grid.cell_problem", pr.Cell, l.Reason(pr.Reason))
	}
	return l.Reason(pr.Reason)
}

// formValues returns copies of every value of a form field, from a
// urlencoded or a multipart body.
func formValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	if strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEMultipartForm) {
		if mf, err := c.MultipartForm(); err == nil {
			out = append(out, mf.Value[name]...)
		}
	}
	return out
}
