package web

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
)

// homePage is what the home page shows besides the layout.
type homePage struct {
	Links []homeLink
}

type homeLink struct{ Href, Label string }

func (p *pages) home(c *fiber.Ctx) error {
	l := p.lang(c)
	var data homePage
	if p.canSomewhere(c, accounts.PermList) {
		data.Links = append(data.Links, homeLink{"/admin/users", l.T("home.users")})
	}
	if p.can(c, grid.PermImport) || p.can(c, grid.PermAssign) {
		data.Links = append(data.Links, homeLink{"/admin/grid", l.T("home.grid")})
	} else if p.canSomewhere(c, grid.PermRead) {
		data.Links = append(data.Links, homeLink{"/admin/grid", l.T("home.grid_read")})
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "home", Title: "home.title", Data: data})
}

// switchLang remembers the chosen language and goes back to the page.
func (p *pages) switchLang(c *fiber.Ctx) error {
	l, ok := parseLang(c.Query("to"))
	if !ok {
		return fiber.NewError(fiber.StatusBadRequest, p.lang(c).T("err.bad_lang"))
	}
	c.Cookie(&fiber.Cookie{
		Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
	return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
}

// formState is a form's input kept for showing it again (never passwords)
// and its problems: Errors by field, Error for the form as a whole.
type formState struct {
	Values map[string]string
	Errors map[string]string
	Error  string
}

func newFormState() formState {
	return formState{Values: map[string]string{}, Errors: map[string]string{}}
}

// fail records the message of an accounts or grid error on the form and
// returns the status to answer. ok is false for an unexpected error, which
// the caller returns for the error handler to log.
func (f *formState) fail(c *fiber.Ctx, l lang, err error, takenField string) (status int, ok bool) {
	var ve *accounts.ValidationError
	var te *accounts.ThrottledError
	var fe *grid.FieldError
	switch {
	case errors.As(err, &ve):
		f.Errors[ve.Field] = l.reason(ve.Reason)
		f.Error = l.T("err.form")
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &fe):
		f.Errors[fe.Field] = l.reason(fe.Reason)
		f.Error = l.T("err.form")
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &te):
		key := "err.throttled"
		switch te.Scope {
		case accounts.ScopeAddress:
			key = "err.throttled_addr"
		case accounts.ScopeAccount:
			key = "err.throttled_account"
		}
		f.Error = l.T(key, te.Minutes())
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(te.RetryAfter.Seconds())+1))
		return fiber.StatusTooManyRequests, true
	case errors.Is(err, accounts.ErrBadCredentials):
		f.Error = l.T("err.bad_credentials")
		return fiber.StatusUnauthorized, true
	case errors.Is(err, accounts.ErrDisabled):
		f.Error = l.T("err.disabled")
		return fiber.StatusForbidden, true
	case errors.Is(err, accounts.ErrLoginTaken):
		f.Errors[takenField] = l.T("err.taken")
		return fiber.StatusConflict, true
	case errors.Is(err, accounts.ErrSelf):
		f.Error = l.T("err.self")
		return fiber.StatusConflict, true
	case errors.Is(err, grid.ErrSameOfficer):
		f.Errors["backup_id"] = l.T("err.same_officer")
		return fiber.StatusUnprocessableEntity, true
	}
	return 0, false
}

// loginPage is the login form.
type loginPage struct {
	formState
	Next string
}

func (p *pages) loginForm(c *fiber.Ctx) error {
	data := loginPage{formState: newFormState()}
	if next := c.Query("next"); next != "" && safeNext(next) == next {
		data.Next = strings.Clone(next)
	}
	return p.render(c, fiber.StatusOK, pageArgs{Name: "login", Title: "login.title", Data: data})
}

func (p *pages) login(c *fiber.Ctx) error {
	l := p.lang(c)
	data := loginPage{formState: newFormState()}
	data.Values["login"] = form(c, "login")
	if next := form(c, "next"); safeNext(next) == next {
		data.Next = next
	}
	show := func(status int) error {
		return p.render(c, status, pageArgs{Name: "login", Title: "login.title", Here: "/login", Data: data})
	}
	// Without a session the gate has not checked the token: a login form
	// posted from another site must not log the browser into its account.
	if !csrfOK(c) {
		data.Error = l.T("err.csrf")
		return show(fiber.StatusForbidden)
	}
	sess, err := p.d.Accounts.Login(c.UserContext(), data.Values["login"], c.FormValue("password"), strings.Clone(c.IP()))
	if err != nil {
		status, ok := data.fail(c, l, err, "login")
		if !ok {
			return err
		}
		return show(status)
	}
	p.startSession(c, sess)
	flash(c, "flash.logged_in")
	return c.Redirect(safeNext(data.Next), fiber.StatusSeeOther)
}

// startSession sets the session cookie, and a fresh CSRF token so that one
// planted before the login is worth nothing after it.
func (p *pages) startSession(c *fiber.Ctx, sess accounts.Session) {
	c.Cookie(&fiber.Cookie{
		Name: policy.SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
	p.newCSRF(c)
}

func (p *pages) logout(c *fiber.Ctx) error {
	if tok := c.Cookies(policy.SessionCookie); tok != "" {
		if err := p.d.Accounts.Logout(c.UserContext(), strings.Clone(tok)); err != nil {
			return err
		}
	}
	c.Cookie(&fiber.Cookie{
		Name: policy.SessionCookie, Path: "/", Expires: time.Unix(0, 0),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: https(c),
	})
	flash(c, "flash.logged_out")
	return c.Redirect("/", fiber.StatusSeeOther)
}

// registerPage is the rider registration form.
type registerPage struct {
	formState
	Works []choice
}

// choice is one option of a radio group or select.
type choice struct {
	Value, Label string
	Checked      bool
}

func (p *pages) registerPage(l lang, f formState) registerPage {
	data := registerPage{formState: f}
	for _, w := range accounts.Works {
		data.Works = append(data.Works, choice{Value: string(w), Label: l.T("work." + string(w)), Checked: f.Values["work"] == string(w)})
	}
	return data
}

func (p *pages) registerForm(c *fiber.Ctx) error {
	data := p.registerPage(p.lang(c), newFormState())
	return p.render(c, fiber.StatusOK, pageArgs{Name: "register", Title: "register.title", Data: data})
}

func (p *pages) register(c *fiber.Ctx) error {
	l := p.lang(c)
	f := newFormState()
	for _, k := range []string{"phone", "display_name", "work"} {
		f.Values[k] = form(c, k)
	}
	show := func(status int) error {
		return p.render(c, status, pageArgs{Name: "register", Title: "register.title", Here: "/register", Data: p.registerPage(l, f)})
	}
	if !csrfOK(c) {
		f.Error = l.T("err.csrf")
		return show(fiber.StatusForbidden)
	}
	password := c.FormValue("password")
	u, err := p.d.Accounts.Register(c.UserContext(), accounts.RegisterInput{
		Phone: f.Values["phone"], DisplayName: f.Values["display_name"], Password: password, Work: f.Values["work"],
	})
	if err != nil {
		status, ok := f.fail(c, l, err, "phone")
		if !ok {
			return err
		}
		return show(status)
	}
	sess, err := p.d.Accounts.Login(c.UserContext(), u.Login, password, strings.Clone(c.IP()))
	if err != nil {
		// The account exists; logging in by hand is all that is left.
		p.d.Log.Warn("log in after registering", "user", u.ID, "err", err)
		flash(c, "flash.register_login")
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	p.startSession(c, sess)
	flash(c, "flash.registered")
	return c.Redirect("/", fiber.StatusSeeOther)
}
