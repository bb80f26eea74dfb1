package accounts

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// usersPage lists the accounts and offers the staff form.
type usersPage struct {
	web.FormState
	Users      []userRow
	Kinds      []web.Choice
	CanCreate  bool
	CanDisable bool
}

type userRow struct {
	User
	Self bool
}

func (p *pages) usersPage(c *fiber.Ctx, f web.FormState) (usersPage, error) {
	l := p.k.Lang(c)
	users, err := p.svc.List(c.UserContext(), "")
	if err != nil {
		return usersPage{}, err
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	data := usersPage{FormState: f, CanCreate: p.k.Can(c, PermCreate), CanDisable: p.k.Can(c, PermDisable)}
	for _, u := range users {
		data.Users = append(data.Users, userRow{User: u, Self: u.ID == me.UserID})
	}
	kind := f.Values["kind"]
	if kind == "" {
		kind = string(KindOfficer)
	}
	for _, k := range StaffKinds {
		data.Kinds = append(data.Kinds, web.Choice{Value: string(k), Label: l.T("kind." + string(k)), Checked: kind == string(k)})
	}
	return data, nil
}

func (p *pages) showUsers(c *fiber.Ctx, status int, f web.FormState) error {
	data, err := p.usersPage(c, f)
	if err != nil {
		return err
	}
	return p.k.Render(c, status, web.PageArgs{Name: "users", Title: "users.title", Here: "/admin/users", Data: data})
}

func (p *pages) users(c *fiber.Ctx) error {
	return p.showUsers(c, fiber.StatusOK, web.NewFormState())
}

func (p *pages) createUser(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	for _, k := range []string{"username", "display_name", "kind"} {
		f.Values[k] = web.Form(c, k)
	}
	u, err := p.svc.CreateStaff(c.UserContext(), StaffInput{
		Username: f.Values["username"], DisplayName: f.Values["display_name"], Password: c.FormValue("password"), Kind: f.Values["kind"],
	})
	if err != nil {
		status, ok := fail(c, &f, l, err, "username")
		if !ok {
			return err
		}
		return p.showUsers(c, status, f)
	}
	web.Flash(c, "flash.user_created", u.DisplayName, u.Login)
	return c.Redirect("/admin/users", fiber.StatusSeeOther)
}

func (p *pages) setDisabled(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
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
	u, err := p.svc.SetDisabled(c.UserContext(), me.UserID, strings.Clone(c.Params("id")), disabled)
	if errors.Is(err, ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_account"))
	}
	if err != nil {
		status, ok := fail(c, &f, l, err, "")
		if !ok {
			return err
		}
		return p.showUsers(c, status, f)
	}
	if disabled {
		web.Flash(c, "flash.user_disabled", u.DisplayName)
	} else {
		web.Flash(c, "flash.user_enabled", u.DisplayName)
	}
	return c.Redirect("/admin/users", fiber.StatusSeeOther)
}
