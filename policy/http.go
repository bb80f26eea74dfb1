package policy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
)

// Cookie names shared by the gate and the pages.
const (
	SessionCookie = "nx_session"
	CSRFCookie    = "nx_csrf"
	CSRFHeader    = "X-CSRF-Token"
	CSRFField     = "csrf"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID      string
	Kind        string // account kind: rider, officer, station_admin, admin
	DisplayName string
	Login       string
	// MustChangePassword: an admin reset the password, and until its owner
	// chooses a new one the gate lets through only what AllowBeforeNewPassword
	// named (the password change itself, logging out, plain pages).
	MustChangePassword bool
}

// PasswordPage is where the gate sends a browser whose account must choose
// a new password first.
const PasswordPage = "/account/password"

// Subject is the casbin subject of the principal.
func (p Principal) Subject() string { return Subject(p.UserID) }

// ErrUnauthenticated is returned by an Authenticator for a token that does not
// name a live session of an enabled account.
var ErrUnauthenticated = errors.New("policy: not authenticated")

// Authenticator resolves a bearer token or session cookie to its account.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Route is one entry of the route table: every route states its permission.
type Route struct {
	Method     string
	Path       string
	Permission Permission
}

// Gate is the policy layer in front of every route. Routes are registered
// through it (Register for the JSON API, Handle for pages and plain handlers),
// which records them in the route table that tests walk.
type Gate struct {
	en   *Enforcer
	auth Authenticator
	log  *slog.Logger

	mu     sync.Mutex
	routes []Route
	// beforeNewPassword: what an account that must change its password may
	// still do (AllowBeforeNewPassword).
	beforeNewPassword map[Permission]bool
}

// AllowBeforeNewPassword names permissions an account whose password was
// reset may use before choosing a new one. Call it while wiring, before
// serving.
func (g *Gate) AllowBeforeNewPassword(perms ...Permission) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.beforeNewPassword == nil {
		g.beforeNewPassword = map[Permission]bool{}
	}
	for _, p := range perms {
		g.beforeNewPassword[p] = true
	}
}

func (g *Gate) allowedBeforeNewPassword(perm Permission) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.beforeNewPassword[perm]
}

// NewGate builds the gate.
func NewGate(en *Enforcer, auth Authenticator, log *slog.Logger) *Gate {
	return &Gate{en: en, auth: auth, log: log}
}

// Enforcer returns the enforcer behind the gate.
func (g *Gate) Enforcer() *Enforcer { return g.en }

// Routes returns the route table, sorted by path then method.
func (g *Gate) Routes() []Route {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]Route(nil), g.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

func (g *Gate) record(method, path string, perm Permission) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes = append(g.routes, Route{Method: method, Path: path, Permission: perm})
}

type principalKey struct{}

// PrincipalFrom returns the caller the gate authenticated, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p. Services and tests use it to act as p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Check reports whether the caller in ctx holds perm in domain: the second
// half of a check whose domain is known only after loading the target (the
// cell of a report, the station of a proposal). It returns ErrForbidden.
func (g *Gate) Check(ctx context.Context, perm Permission, domain string) error {
	p, ok := PrincipalFrom(ctx)
	if g.en.Allowed(p.Subject(), ok, perm, domain) {
		return nil
	}
	return fmt.Errorf("%w: %s in %s", ErrForbidden, perm, domain)
}

// decision is what the gate concluded about one request.
type decision struct {
	principal *Principal
	status    int // 0 = allowed
	detail    string
	// newPassword: refused because the account must choose a new
	// password first; pages send the browser there.
	newPassword bool
}

// SessionCSRF is the CSRF token of a session: a one-way function of the
// session token, so it is tied to that session. A page shows it and an unsafe
// request authenticated by the session cookie must send it back. Another
// site can neither read the HttpOnly session cookie nor plant a token that
// matches it (a double-submit cookie alone could be planted by a sibling
// subdomain or a man in the middle on plain HTTP), and the token cannot be
// turned back into the session.
func SessionCSRF(session string) string {
	if session == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("nuanxin csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// decide authenticates the caller (bearer token first, then session cookie)
// and asks the enforcer. A cookie-authenticated unsafe request must carry the
// session's CSRF token, so another site cannot ride on the browser's cookie.
//
// csrfSent is called only when the token is needed, after the caller has
// been authenticated: reading a form field reads the request body, which an
// unauthenticated caller must not make the server buffer.
func (g *Gate) decide(ctx context.Context, perm Permission, method, authz, session string, csrfSent func() string) decision {
	var d decision
	token, viaCookie := credential(authz, session)
	if token != "" {
		p, err := g.auth.Authenticate(ctx, token)
		switch {
		case err == nil:
			d.principal = &p
		case errors.Is(err, ErrUnauthenticated):
			// Unknown, expired or disabled: treat as anonymous, and say so if
			// the route needs more.
		default:
			g.log.Error("authenticate", "err", err)
			return decision{status: http.StatusServiceUnavailable, detail: "Sign-in could not be checked just now; try again in a moment."}
		}
	}
	if d.principal != nil && viaCookie && !safeMethod(method) && !sameToken(SessionCSRF(session), csrfSent()) {
		return decision{status: http.StatusForbidden, detail: "The form's security token is missing or stale; reload the page and try again."}
	}
	if d.principal != nil && d.principal.MustChangePassword && !g.allowedBeforeNewPassword(perm) {
		return decision{principal: d.principal, status: http.StatusForbidden, newPassword: true,
			detail: "An administrator reset your password: choose a new one first (PUT /api/v1/me/password, or the page " + PasswordPage + ")."}
	}
	sub, authed := "", d.principal != nil
	if authed {
		sub = d.principal.Subject()
	}
	if g.en.AllowedSomewhere(sub, authed, perm) {
		return d
	}
	if !authed {
		if token != "" {
			return decision{status: http.StatusUnauthorized, detail: "Your session has ended or the token is not valid; log in again."}
		}
		return decision{status: http.StatusUnauthorized, detail: "Log in to do this."}
	}
	return decision{principal: d.principal, status: http.StatusForbidden, detail: fmt.Sprintf("Your account is not allowed to do this (%s).", perm)}
}

// credential is the token a request authenticates with: the bearer token,
// else the session cookie (viaCookie).
func credential(authz, session string) (token string, viaCookie bool) {
	if t, ok := strings.CutPrefix(authz, "Bearer "); ok {
		return strings.TrimSpace(t), false
	}
	return session, session != ""
}

// RequestToken is the token the gate authenticated a request with (bearer
// token or session cookie), copied out of Fiber's buffers, for a handler
// that must check it again later (a live stream that outlasts a logout).
func RequestToken(c *fiber.Ctx) string {
	token, _ := credential(c.Get(fiber.HeaderAuthorization), c.Cookies(SessionCookie))
	return strings.Clone(token)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Register adds a JSON API operation guarded by perm.
func Register[I, O any](api huma.API, g *Gate, perm Permission, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		var session string
		if c, err := huma.ReadCookie(ctx, SessionCookie); err == nil {
			session = c.Value
		}
		d := g.decide(ctx.Context(), perm, ctx.Method(), ctx.Header("Authorization"), session, func() string { return ctx.Header(CSRFHeader) })
		if d.status != 0 {
			if d.status == http.StatusUnauthorized {
				ctx.SetHeader("WWW-Authenticate", `Bearer realm="nuanxin"`)
			}
			_ = huma.WriteErr(api, ctx, d.status, d.detail)
			return
		}
		if d.principal != nil {
			ctx = huma.WithValue(ctx, principalKey{}, *d.principal)
		}
		next(ctx)
	})
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-permission"] = string(perm)
	g.record(op.Method, fiberPath(op.Path), perm)
	huma.Register(api, op, h)
}

// fiberPath turns an OpenAPI path template into Fiber's form, as the route
// table holds paths the way the router reports them.
func fiberPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			b.WriteByte(':')
		case '}':
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

// Handle adds a plain Fiber route (a page, a health check) guarded by perm.
// A denied anonymous GET of a page is sent to the login page; other denials
// become fiber errors that the application's error handler renders.
func (g *Gate) Handle(r fiber.Router, method, path string, perm Permission, h fiber.Handler) {
	g.record(method, path, perm)
	r.Add(method, path, func(c *fiber.Ctx) error {
		d := g.decide(c.UserContext(), perm, c.Method(), c.Get(fiber.HeaderAuthorization),
			c.Cookies(SessionCookie), func() string { return csrfSent(c) })
		switch {
		case d.status == 0:
		case d.newPassword && c.Method() == fiber.MethodGet && !strings.HasPrefix(c.Path(), "/api/"):
			return c.Redirect(PasswordPage, fiber.StatusSeeOther)
		case d.status == http.StatusUnauthorized:
			if c.Method() == fiber.MethodGet && !strings.HasPrefix(c.Path(), "/api/") {
				return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
			}
			return fiber.NewError(d.status, d.detail)
		default:
			return fiber.NewError(d.status, d.detail)
		}
		if d.principal != nil {
			c.Locals(principalKey{}, *d.principal)
			c.SetUserContext(context.WithValue(c.UserContext(), principalKey{}, *d.principal))
		}
		return h(c)
	})
}

func csrfSent(c *fiber.Ctx) string {
	if v := c.Get(CSRFHeader); v != "" {
		return v
	}
	return c.FormValue(CSRFField)
}
