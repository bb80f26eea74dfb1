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

// MountPages adds the grid map page to the kit: the map with its cells and
// officers, and for admins the import and the assignment forms. It returns
// an error naming any missing dependency.
func MountPages(k *web.Pages, svc *Service, officers OfficerAccounts) error {
	if err := web.Require("grid: pages", map[string]bool{"Pages": k == nil, "Service": svc == nil, "OfficerAccounts": officers == nil}); err != nil {
		return err
	}
	p := &pages{k: k, svc: svc, officers: officers}
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
	k.Handle(post, "/admin/grid/cells/:code/officers", PermAssign, p.assignOfficers)
	return nil
}

// pages serves the grid map page.
type pages struct {
	k        *web.Pages
	svc      *Service
	officers OfficerAccounts
}

// gridPage shows the map, the cells with their officers and, to those
// allowed, the import and assignment forms.
type gridPage struct {
	Map        MapView
	Rows       []cellRow
	Unassigned int
	Officers   []web.Choice
	CanImport  bool
	CanAssign  bool
	Mode       string
	// Import problems, already in words.
	ImportError string
	Problems    []string
}

// cellRow is one cell in the table; PrimaryID and BackupID are what its
// form shows selected, Errors what went wrong with its last submission.
type cellRow struct {
	CellView
	PrimaryID, BackupID string
	Errors              map[string]string
}

func (p *pages) gridPage(c *fiber.Ctx) (gridPage, error) {
	cells := p.svc.Cells()
	data := gridPage{
		Map:       ProjectMap(cells),
		CanImport: p.k.Can(c, PermImport),
		CanAssign: p.k.Can(c, PermAssign),
		Mode:      string(Replace),
	}
	for _, v := range cells {
		r := cellRow{CellView: v}
		if a := v.Assignment; a.Primary != nil {
			r.PrimaryID = a.Primary.ID
		} else {
			data.Unassigned++
		}
		if a := v.Assignment; a.Backup != nil {
			r.BackupID = a.Backup.ID
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

func (p *pages) assignOfficers(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	code := strings.Clone(c.Params("code"))
	primary, backup := web.Form(c, "primary_id"), web.Form(c, "backup_id")
	a, err := p.svc.Assign(c.UserContext(), code, primary, backup)
	if errors.Is(err, ErrCellNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_cell", code))
	}
	if err != nil {
		// What went wrong with an assignment, by field.
		errs := map[string]string{}
		status := fiber.StatusUnprocessableEntity
		var fe *FieldError
		switch {
		case errors.As(err, &fe):
			errs[fe.Field] = l.Reason(fe.Reason)
		case errors.Is(err, ErrSameOfficer):
			errs["backup_id"] = l.T("err.same_officer")
		default:
			return err
		}
		data, derr := p.gridPage(c)
		if derr != nil {
			return derr
		}
		for i := range data.Rows {
			if data.Rows[i].Code == code {
				data.Rows[i].PrimaryID, data.Rows[i].BackupID, data.Rows[i].Errors = primary, backup, errs
			}
		}
		return p.showGrid(c, status, data)
	}
	web.Flash(c, "flash.assigned", code, a.Primary.Name)
	return c.Redirect("/admin/grid#cell-"+code, fiber.StatusSeeOther)
}
