package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// HTTPS reports whether the browser reached us over TLS (directly or, with
// a trusted proxy, as the proxy says), so cookies must be Secure.
func HTTPS(c *fiber.Ctx) bool { return c.Protocol() == "https" }

type csrfLocal struct{}

// CSRF returns the request's CSRF token, for the forms of the page. A
// visitor logged in by the session cookie gets the session's own token
// (policy.SessionCSRF), which the gate checks on every unsafe request.
// Before logging in there is no session to tie it to: the login and
// registration forms use a random token double-submitted in a cookie,
// issued here when the browser has none.
func (k *Pages) CSRF(c *fiber.Ctx) string {
	if v, ok := c.Locals(csrfLocal{}).(string); ok {
		return v
	}
	if s := cookieSession(c); s != "" {
		v := policy.SessionCSRF(s)
		c.Locals(csrfLocal{}, v)
		return v
	}
	v := c.Cookies(policy.CSRFCookie)
	if validToken(v) {
		v = strings.Clone(v)
	} else {
		v = k.RenewCSRF(c)
	}
	c.Locals(csrfLocal{}, v)
	return v
}

// cookieSession is the session token of a request the gate authenticated by
// its session cookie, or "".
func cookieSession(c *fiber.Ctx) string {
	if _, ok := policy.PrincipalFrom(c.UserContext()); !ok || c.Get(fiber.HeaderAuthorization) != "" {
		return ""
	}
	return strings.Clone(c.Cookies(policy.SessionCookie))
}

// RenewCSRF sets a fresh pre-login CSRF cookie and returns its value. A
// login calls it so that a token planted before it is worth nothing after.
func (k *Pages) RenewCSRF(c *fiber.Ctx) string {
	v := NewToken()
	c.Cookie(&fiber.Cookie{
		Name: policy.CSRFCookie, Value: v, Path: "/",
		Expires:  time.Now().Add(k.o.CookieLifetime),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: HTTPS(c),
	})
	c.Locals(csrfLocal{}, v)
	return v
}

// CSRFOK checks the form's token on the forms anyone may post (login,
// register), which the gate does not check without a session: against the
// session's token for a logged-in visitor (whose page showed that one), else
// against the pre-login cookie.
func CSRFOK(c *fiber.Ctx) bool {
	want := c.Cookies(policy.CSRFCookie)
	if s := cookieSession(c); s != "" {
		want = policy.SessionCSRF(s)
	}
	sent := c.FormValue(policy.CSRFField)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(sent)) == 1
}

// NewToken returns 32 random bytes, URL-safe: a CSRF token, or a form's
// idempotency key.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(32) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// flashCookie carries a message across the redirect after a POST.
const flashCookie = "nx_flash"

// Flash sets the message shown by the next page: a message key under
// "flash." and its arguments.
func Flash(c *fiber.Ctx, key string, args ...string) {
	raw := strings.Join(append([]string{key}, args...), "\x1f")
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(raw)), Path: "/",
		MaxAge: 60, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: HTTPS(c),
	})
}

// takeFlash returns the pending message in l and clears it. Only known
// message keys are shown, so the cookie cannot put arbitrary text on a page.
func (k *Pages) takeFlash(c *fiber.Ctx, l Lang) string {
	v := c.Cookies(flashCookie)
	if v == "" {
		return ""
	}
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Path: "/", Expires: time.Unix(0, 0),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: HTTPS(c),
	})
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	parts := strings.Split(string(raw), "\x1f")
	if !l.Has(parts[0]) || !strings.HasPrefix(parts[0], "flash.") || len(parts) > 5 {
		return ""
	}
	args := make([]any, len(parts)-1)
	for i, a := range parts[1:] {
		args[i] = a
	}
	return l.T(parts[0], args...)
}
