package web

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
)

// usersPage lists the accounts and offers the staff form.
type usersPage struct {
	formState
	Users      []userRow
	Kinds      []choice
	CanCreate  bool
	CanDisable bool
}

type userRow struct {
	accounts.User
	Self bool
}

func (p *pages) usersPage(c *fiber.Ctx, f formState) (usersPage, error) {
	l := p.lang(c)
	users, err := p.d.Accounts.List(c.UserContext(), "")
	if err != nil {
		return usersPage{}, err
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	data := usersPage{formState: f, CanCreate: p.can(c, accounts.PermCreate), CanDisable: p.can(c, accounts.PermDisable)}
	for _, u := range users {
		data.Users = append(data.Users, userRow{User: u, Self: u.ID == me.UserID})
	}
	kind := f.Values["kind"]
	if kind == "" {
		kind = string(accounts.KindOfficer)
	}
	for _, k := range accounts.StaffKinds {
		data.Kinds = append(data.Kinds, choice{Value: string(k), Label: l.T("kind." + string(k)), Checked: kind == string(k)})
	}
	return data, nil
}

func (p *pages) showUsers(c *fiber.Ctx, status int, f formState) error {
	data, err := p.usersPage(c, f)
	if err != nil {
		return err
	}
	return p.render(c, status, pageArgs{Name: "users", Title: "users.title", Here: "/admin/users", Data: data})
}

func (p *pages) users(c *fiber.Ctx) error {
	return p.showUsers(c, fiber.StatusOK, newFormState())
}

func (p *pages) createUser(c *fiber.Ctx) error {
	l := p.lang(c)
	f := newFormState()
	for _, k := range []string{"username", "display_name", "kind"} {
		f.Values[k] = form(c, k)
	}
	u, err := p.d.Accounts.CreateStaff(c.UserContext(), accounts.StaffInput{
		Username: f.Values["username"], DisplayName: f.Values["display_name"], Password: c.FormValue("password"), Kind: f.Values["kind"],
	})
	if err != nil {
		status, ok := f.fail(c, l, err, "username")
		if !ok {
			return err
		}
		return p.showUsers(c, status, f)
	}
	flash(c, "flash.user_created", u.DisplayName, u.Login)
	return c.Redirect("/admin/users", fiber.StatusSeeOther)
}

func (p *pages) setDisabled(c *fiber.Ctx) error {
	l := p.lang(c)
	f := newFormState()
	var disabled bool
	switch c.FormValue("disabled") {
	case "true":
		disabled = true
	case "false":
	default:
		f.Error = l.T("err.bad_disabled")
		return p.showUsers(c, fiber.StatusUnprocessableEntity, f)
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	u, err := p.d.Accounts.SetDisabled(c.UserContext(), me.UserID, strings.Clone(c.Params("id")), disabled)
	if errors.Is(err, accounts.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_account"))
	}
	if err != nil {
		status, ok := f.fail(c, l, err, "")
		if !ok {
			return err
		}
		return p.showUsers(c, status, f)
	}
	if disabled {
		flash(c, "flash.user_disabled", u.DisplayName)
	} else {
		flash(c, "flash.user_enabled", u.DisplayName)
	}
	return c.Redirect("/admin/users", fiber.StatusSeeOther)
}

// gridPage shows the map, the cells with their officers and, to those
// allowed, the import and assignment forms.
type gridPage struct {
	Map        mapView
	Rows       []cellRow
	Unassigned int
	Officers   []choice
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
	grid.CellView
	PrimaryID, BackupID string
	Errors              map[string]string
}

func (p *pages) gridPage(c *fiber.Ctx) (gridPage, error) {
	cells := p.d.Grid.Cells()
	data := gridPage{
		Map:       projectMap(cells),
		CanImport: p.can(c, grid.PermImport),
		CanAssign: p.can(c, grid.PermAssign),
		Mode:      string(grid.Replace),
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
		officers, err := p.d.Accounts.List(c.UserContext(), string(accounts.KindOfficer))
		if err != nil {
			return gridPage{}, err
		}
		for _, o := range officers {
			if !o.Disabled {
				data.Officers = append(data.Officers, choice{Value: o.ID, Label: o.DisplayName + " (" + o.Login + ")"})
			}
		}
	}
	return data, nil
}

func (p *pages) showGrid(c *fiber.Ctx, status int, data gridPage) error {
	return p.render(c, status, pageArgs{Name: "grid", Title: "grid.title", Here: "/admin/grid", Data: data})
}

func (p *pages) gridMap(c *fiber.Ctx) error {
	data, err := p.gridPage(c)
	if err != nil {
		return err
	}
	return p.showGrid(c, fiber.StatusOK, data)
}

func (p *pages) importGrid(c *fiber.Ctx) error {
	l := p.lang(c)
	mode := form(c, "mode")
	// refuse shows the page again with the import's problems.
	refuse := func(msg string, problems ...string) error {
		data, err := p.gridPage(c)
		if err != nil {
			return err
		}
		data.Mode, data.ImportError, data.Problems = mode, msg, problems
		return p.showGrid(c, fiber.StatusUnprocessableEntity, data)
	}
	if mode != string(grid.Replace) && mode != string(grid.Merge) {
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
	body, err := io.ReadAll(io.LimitReader(f, grid.MaxImportBytes+1))
	if err != nil {
		return err
	}
	if len(body) > grid.MaxImportBytes {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "The request is too large.")
	}
	res, err := p.d.Grid.Import(c.UserContext(), body, grid.Mode(mode))
	var ie *grid.ImportError
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
	flash(c, "flash.imported", strconv.Itoa(res.Added), strconv.Itoa(res.Updated), strconv.Itoa(res.Removed), strconv.Itoa(res.Cells))
	return c.Redirect("/admin/grid", fiber.StatusSeeOther)
}

func (p *pages) assignOfficers(c *fiber.Ctx) error {
	l := p.lang(c)
	code := strings.Clone(c.Params("code"))
	primary, backup := form(c, "primary_id"), form(c, "backup_id")
	a, err := p.d.Grid.Assign(c.UserContext(), code, primary, backup)
	if errors.Is(err, grid.ErrCellNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_cell", code))
	}
	if err != nil {
		f := newFormState()
		status, ok := f.fail(c, l, err, "")
		if !ok {
			return err
		}
		data, derr := p.gridPage(c)
		if derr != nil {
			return derr
		}
		for i := range data.Rows {
			if data.Rows[i].Code == code {
				data.Rows[i].PrimaryID, data.Rows[i].BackupID, data.Rows[i].Errors = primary, backup, f.Errors
			}
		}
		return p.showGrid(c, status, data)
	}
	flash(c, "flash.assigned", code, a.Primary.Name)
	return c.Redirect("/admin/grid#cell-"+code, fiber.StatusSeeOther)
}
