package accounts

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// usersPage lists the accounts, a page at a time, and offers the staff form.
type usersPage struct {
	web.FormState
	Users      []userRow
	Kinds      []web.Choice
	CanCreate  bool
	CanDisable bool
	CanReset   bool
	// The search: text, kind filter (with its choices) and page.
	Q          string
	Kind       string
	KindFilter []web.Choice
	Result     UserPage
	PrevURL    string
	NextURL    string
	// Reset is the account whose password was just reset, with the
	// temporary password shown this once.
	Reset     *User
	Temporary string
}

type userRow struct {
	User
	Self bool
}

// usersURL is the address of one page of a search.
func usersURL(q, kind string, page int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if kind != "" {
		v.Set("kind", kind)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

func (p *pages) usersPage(c *fiber.Ctx, f web.FormState) (usersPage, error) {
	l := p.k.Lang(c)
	q, kind := strings.TrimSpace(c.Query("q")), c.Query("kind")
	page := 1
	if s := c.Query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = 0 // refused by Search with its reason
		}
		page = n
	}
	res, err := p.svc.Search(c.UserContext(), q, kind, page)
	var ves ValidationErrors
	if errors.As(err, &ves) {
		// A hand-edited address: say what is wrong and show the first page.
		for _, v := range ves {
			f.Errors["search"] = l.Reason(v.Reason)
		}
		q, kind = "", ""
		res, err = p.svc.Search(c.UserContext(), "", "", 1)
	}
	if err != nil {
		return usersPage{}, err
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	data := usersPage{FormState: f, CanCreate: p.k.Can(c, PermCreate), CanDisable: p.k.Can(c, PermDisable), CanReset: p.k.Can(c, PermReset),
		Q: q, Kind: kind, Result: res}
	for _, u := range res.Users {
		data.Users = append(data.Users, userRow{User: u, Self: u.ID == me.UserID})
	}
	if res.Page > 1 {
		data.PrevURL = usersURL(q, kind, res.Page-1)
	}
	if res.Page < res.Pages {
		data.NextURL = usersURL(q, kind, res.Page+1)
	}
	data.KindFilter = append(data.KindFilter, web.Choice{Value: "", Label: l.T("users.all_kinds"), Checked: kind == ""})
	for _, k := range append([]Kind{KindRider}, StaffKinds...) {
		data.KindFilter = append(data.KindFilter, web.Choice{Value: string(k), Label: l.T("kind." + string(k)), Checked: kind == string(k)})
	}
	newKind := f.Values["kind"]
	if newKind == "" {
		newKind = string(KindOfficer)
	}
	for _, k := range StaffKinds {
		data.Kinds = append(data.Kinds, web.Choice{Value: string(k), Label: l.T("kind." + string(k)), Checked: newKind == string(k)})
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
	if err != nil {
		return p.refuseOnUsers(c, l, f, err)
	}
	if disabled {
		web.Flash(c, "flash.user_disabled", u.DisplayName)
	} else {
		web.Flash(c, "flash.user_enabled", u.DisplayName)
	}
	return c.Redirect("/admin/users", fiber.StatusSeeOther)
}

// resetPassword gives an account a temporary password and shows it to the
// admin once, on the page itself: not in a flash or the address, which
// could be kept in the browser's history.
func (p *pages) resetPassword(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	me, _ := policy.PrincipalFrom(c.UserContext())
	u, temp, err := p.svc.ResetPassword(c.UserContext(), me.UserID, strings.Clone(c.Params("id")), "")
	if err != nil {
		return p.refuseOnUsers(c, l, f, err)
	}
	data, err := p.usersPage(c, f)
	if err != nil {
		return err
	}
	data.Reset, data.Temporary = &u, temp
	// Not to be cached or kept: the page holds a password.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "users", Title: "users.title", Here: "/admin/users", Data: data})
}

// refuseOnUsers answers an action on one account that failed: 404 for an
// unknown account, else the accounts page again with the reason.
func (p *pages) refuseOnUsers(c *fiber.Ctx, l web.Lang, f web.FormState, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_account"))
	}
	status, ok := fail(c, &f, l, err, "")
	if !ok {
		return err
	}
	return p.showUsers(c, status, f)
}
