package accounts

import (
	"embed"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// MountPages adds the accounts pages to the kit: logging in and out, a
// rider's registration, and the admins' accounts page. It returns an error
// naming any missing dependency.
func MountPages(k *web.Pages, svc *Service, log *slog.Logger) error {
	if err := web.Require("accounts: pages", map[string]bool{"Pages": k == nil, "Service": svc == nil, "Log": log == nil}); err != nil {
		return err
	}
	p := &pages{k: k, svc: svc, log: log}
	allowBeforeNewPassword(k.Gate())
	k.AddMessages(pageMessages)
	k.AddReasons(reasonsZH)
	k.AddTemplates(pageTemplates, "templates/login.html", "templates/register.html", "templates/users.html", "templates/privacy.html", "templates/password.html")
	k.AddNav(web.NavLink{Href: "/admin/users", Label: "nav.users", Perm: PermList, Order: 10})
	k.AddHomeLinks(90, func(c *fiber.Ctx, l web.Lang) []web.Link {
		if _, ok := policy.PrincipalFrom(c.UserContext()); ok {
			return []web.Link{{Href: policy.PasswordPage, Label: l.T("nav.password")}}
		}
		return nil
	})
	k.AddHomeLinks(10, func(c *fiber.Ctx, l web.Lang) []web.Link {
		if k.CanSomewhere(c, PermList) {
			return []web.Link{{Href: "/admin/users", Label: l.T("home.users")}}
		}
		return nil
	})

	get, post := fiber.MethodGet, fiber.MethodPost
	k.Handle(get, "/login", PermLogin, p.loginForm)
	k.Handle(post, "/login", PermLogin, p.login)
	k.Handle(get, "/register", PermRegister, p.registerForm)
	k.Handle(post, "/register", PermRegister, p.register)
	k.Handle(get, "/privacy", web.PermPage, p.privacy)
	k.Handle(post, "/logout", PermLogout, p.logout)
	k.Handle(get, "/admin/users", PermList, p.users)
	k.Handle(post, "/admin/users", PermCreate, p.createUser)
	k.Handle(post, "/admin/users/:id/disabled", PermDisable, p.setDisabled)
	k.Handle(post, "/admin/users/:id/password-reset", PermReset, p.resetPassword)
	k.Handle(get, policy.PasswordPage, PermPassword, p.passwordForm)
	k.Handle(post, policy.PasswordPage, PermPassword, p.changePassword)
	return nil
}

// pages serves the accounts pages.
type pages struct {
	k   *web.Pages
	svc *Service
	log *slog.Logger
}

// fail records the message of an accounts error on the form and returns
// the status to answer. ok is false for an unexpected error, which the
// caller returns for the error handler to log.
func fail(c *fiber.Ctx, f *web.FormState, l web.Lang, err error, takenField string) (status int, ok bool) {
	var ves ValidationErrors
	var ve *ValidationError
	var te *ThrottledError
	switch {
	case errors.As(err, &ves):
		for _, v := range ves {
			f.Errors[v.Field] = l.Reason(v.Reason)
		}
		f.Error = l.T("err.form")
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &ve):
		f.Errors[ve.Field] = l.Reason(ve.Reason)
		f.Error = l.T("err.form")
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &te):
		key := "err.throttled"
		switch te.Scope {
		case ScopeAddress:
			key = "err.throttled_addr"
		case ScopeAccount:
			key = "err.throttled_account"
		}
		f.Error = l.T(key, te.Minutes())
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(te.RetryAfter.Seconds())+1))
		return fiber.StatusTooManyRequests, true
	case errors.Is(err, ErrBadCredentials):
		f.Error = l.T("err.bad_credentials")
		return fiber.StatusUnauthorized, true
	case errors.Is(err, ErrDisabled):
		f.Error = l.T("err.disabled")
		return fiber.StatusForbidden, true
	case errors.Is(err, ErrLoginTaken):
		f.Errors[takenField] = l.T("err.taken")
		return fiber.StatusConflict, true
	case errors.Is(err, ErrSelf):
		f.Error = l.T("err.self")
		return fiber.StatusConflict, true
	case errors.Is(err, ErrSelfReset):
		f.Error = l.T("err.self_reset")
		return fiber.StatusConflict, true
	}
	return 0, false
}

// loginPage is the login form.
type loginPage struct {
	web.FormState
	Next string
}

func (p *pages) loginForm(c *fiber.Ctx) error {
	data := loginPage{FormState: web.NewFormState()}
	if next := c.Query("next"); next != "" && web.SafeNext(next) == next {
		data.Next = strings.Clone(next)
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "login", Title: "login.title", Data: data})
}

func (p *pages) login(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	data := loginPage{FormState: web.NewFormState()}
	data.Values["login"] = web.Form(c, "login")
	if next := web.Form(c, "next"); web.SafeNext(next) == next {
		data.Next = next
	}
	show := func(status int) error {
		return p.k.Render(c, status, web.PageArgs{Name: "login", Title: "login.title", Here: "/login", Data: data})
	}
	// Without a session the gate has not checked the token: a login form
	// posted from another site must not log the browser into its account.
	if !web.CSRFOK(c) {
		data.Error = l.T("err.csrf")
		return show(fiber.StatusForbidden)
	}
	sess, err := p.svc.Login(c.UserContext(), data.Values["login"], c.FormValue("password"), strings.Clone(c.IP()))
	if err != nil {
		status, ok := fail(c, &data.FormState, l, err, "login")
		if !ok {
			return err
		}
		return show(status)
	}
	p.startSession(c, sess)
	if sess.User.MustChangePassword {
		web.Flash(c, "flash.choose_password")
		return c.Redirect(policy.PasswordPage, fiber.StatusSeeOther)
	}
	web.Flash(c, "flash.logged_in")
	return c.Redirect(web.SafeNext(data.Next), fiber.StatusSeeOther)
}

// passwordPage is the form to choose a new password.
type passwordPage struct {
	web.FormState
	Forced bool // an admin reset the password
}

func (p *pages) showPassword(c *fiber.Ctx, status int, f web.FormState) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	return p.k.Render(c, status, web.PageArgs{Name: "password", Title: "password.title", Here: policy.PasswordPage,
		Data: passwordPage{FormState: f, Forced: me.MustChangePassword}})
}

func (p *pages) passwordForm(c *fiber.Ctx) error {
	return p.showPassword(c, fiber.StatusOK, web.NewFormState())
}

func (p *pages) changePassword(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	me, _ := policy.PrincipalFrom(c.UserContext())
	next := c.FormValue("password")
	if next != c.FormValue("confirm") {
		f.Errors["confirm"] = l.T("err.password_mismatch")
		f.Error = l.T("err.form")
		return p.showPassword(c, fiber.StatusUnprocessableEntity, f)
	}
	if err := p.svc.ChangePassword(c.UserContext(), me.UserID, c.FormValue("current_password"), next, policy.RequestToken(c)); err != nil {
		status, ok := fail(c, &f, l, err, "")
		if !ok {
			return err
		}
		return p.showPassword(c, status, f)
	}
	web.Flash(c, "flash.password_changed")
	return c.Redirect("/", fiber.StatusSeeOther)
}

// startSession sets the session cookie, and a fresh CSRF token so that one
// planted before the login is worth nothing after it.
func (p *pages) startSession(c *fiber.Ctx, sess Session) {
	c.Cookie(&fiber.Cookie{
		Name: policy.SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: web.HTTPS(c),
	})
	p.k.RenewCSRF(c)
}

func (p *pages) logout(c *fiber.Ctx) error {
	if tok := c.Cookies(policy.SessionCookie); tok != "" {
		if err := p.svc.Logout(c.UserContext(), strings.Clone(tok)); err != nil {
			return err
		}
	}
	c.Cookie(&fiber.Cookie{
		Name: policy.SessionCookie, Path: "/", Expires: time.Unix(0, 0),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: web.HTTPS(c),
	})
	web.Flash(c, "flash.logged_out")
	return c.Redirect("/", fiber.StatusSeeOther)
}

// privacyPage is the privacy notice: what Nuanxin collects and why.
type privacyPage struct {
	Version string
}

func (p *pages) privacy(c *fiber.Ctx) error {
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "privacy", Title: "privacy.title", Data: privacyPage{Version: PrivacyVersion}})
}

// registerPage is the rider registration form.
type registerPage struct {
	web.FormState
	Works []web.Choice
}

func registerData(l web.Lang, f web.FormState) registerPage {
	data := registerPage{FormState: f}
	for _, w := range Works {
		data.Works = append(data.Works, web.Choice{Value: string(w), Label: l.T("work." + string(w)), Checked: f.Values["work"] == string(w)})
	}
	return data
}

func (p *pages) registerForm(c *fiber.Ctx) error {
	data := registerData(p.k.Lang(c), web.NewFormState())
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "register", Title: "register.title", Data: data})
}

func (p *pages) register(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	for _, k := range []string{"phone", "display_name", "work", "accept_privacy"} {
		f.Values[k] = web.Form(c, k)
	}
	show := func(status int) error {
		return p.k.Render(c, status, web.PageArgs{Name: "register", Title: "register.title", Here: "/register", Data: registerData(l, f)})
	}
	if !web.CSRFOK(c) {
		f.Error = l.T("err.csrf")
		return show(fiber.StatusForbidden)
	}
	password := c.FormValue("password")
	u, err := p.svc.Register(c.UserContext(), RegisterInput{
		Phone: f.Values["phone"], DisplayName: f.Values["display_name"], Password: password, Work: f.Values["work"],
		AcceptPrivacy: web.Form(c, "accept_privacy") == "yes",
	})
	if err != nil {
		status, ok := fail(c, &f, l, err, "phone")
		if !ok {
			return err
		}
		return show(status)
	}
	sess, err := p.svc.Login(c.UserContext(), u.Login, password, strings.Clone(c.IP()))
	if err != nil {
		// The account exists; logging in by hand is all that is left.
		p.log.Warn("log in after registering", "user", u.ID, "err", err)
		web.Flash(c, "flash.register_login")
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	p.startSession(c, sess)
	web.Flash(c, "flash.registered")
	return c.Redirect("/", fiber.StatusSeeOther)
}
