// Package web is Nuanxin's HTTP front: the Fiber application with its
// middleware (request ids, logs, metrics, security headers, body limits), the
// JSON API's OpenAPI description, the operations endpoints, and the page kit
// (Pages: layout, navigation, languages, CSRF, flash messages, rendering)
// that the server-rendered pages are drawn with. It knows no domain: each
// domain package mounts its own API routes and its own pages on it.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// Permissions of the routes this package owns.
const (
	PermHealth   policy.Permission = "system:health"
	PermDescribe policy.Permission = "api:describe"
	PermPage     policy.Permission = "page:view"
)

// MaxBody is the largest request body accepted anywhere (a city's grid map,
// three photos); only the routes given a limit with AllowBody take more than
// DefaultBody.
const MaxBody = 32 << 20

// DefaultBody is the body limit of every route not named to AllowBody: a
// login, a form or a JSON command needs a few kilobytes.
const DefaultBody = 64 << 10

// Server is the HTTP application.
type Server struct {
	App *fiber.App
	API huma.API
	log *slog.Logger

	// errorPage renders an error for a browser; set by NewPages. Until
	// then, and for the API, errors are problem+json.
	errorPage func(c *fiber.Ctx, status int, detail string) error

	// closing is closed when shutdown starts, ending live streams that
	// would otherwise hold the shutdown until its timeout.
	closing   chan struct{}
	closeOnce sync.Once

	bodyMu    sync.RWMutex
	bodyRules []bodyRule
}

// bodyRule lets one route take a larger body than DefaultBody.
type bodyRule struct {
	method   string
	segments []string // a segment starting with ':' matches any one segment
	limit    int
	// signedIn: the larger limit applies only to a request that carries a
	// bearer token or a session cookie; anonymous callers get DefaultBody.
	// The gate checks the credential before the body is read.
	signedIn bool
}

// AllowBody lets requests to method and path (a Fiber pattern such as
// /api/v1/reports/:id/resolve) carry up to limit bytes. With signedIn, only
// requests carrying a credential get the larger limit.
func (s *Server) AllowBody(method, path string, limit int, signedIn bool) {
	if limit > MaxBody {
		panic(fmt.Sprintf("web: body limit %d for %s %s is over MaxBody", limit, method, path))
	}
	s.bodyMu.Lock()
	defer s.bodyMu.Unlock()
	s.bodyRules = append(s.bodyRules, bodyRule{method: method, segments: strings.Split(path, "/"), limit: limit, signedIn: signedIn})
}

// bodyLimit is the limit of a request's body.
func (s *Server) bodyLimit(c *fiber.Ctx) int {
	method, segs := c.Method(), strings.Split(c.Path(), "/")
	s.bodyMu.RLock()
	defer s.bodyMu.RUnlock()
	for _, r := range s.bodyRules {
		if r.method != method || len(r.segments) != len(segs) {
			continue
		}
		match := true
		for i, seg := range r.segments {
			if seg != segs[i] && !strings.HasPrefix(seg, ":") {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if r.signedIn && c.Get(fiber.HeaderAuthorization) == "" && c.Cookies(policy.SessionCookie) == "" {
			return DefaultBody
		}
		return r.limit
	}
	return DefaultBody
}

// limitBody refuses a body over the route's limit before any of it is
// buffered. The server streams request bodies (StreamRequestBody), so what
// has arrived when this runs is the headers and at most 8 KB; without it,
// every request body up to MaxBody would be read into memory before any
// handler could refuse it (16 concurrent 30 MB posts to the login cost half
// a gigabyte).
func (s *Server) limitBody(c *fiber.Ctx) error {
	n := c.Request().Header.ContentLength()
	switch {
	case n == -1:
		// Chunked: the length is unknown until it has been read. Clients
		// that upload (browsers, phones, curl -F) send Content-Length.
		c.Context().SetConnectionClose()
		return fiber.NewError(fiber.StatusLengthRequired, "Send the request with a Content-Length header; chunked request bodies are not accepted.")
	case n > 0 && !identity(c.Request().Header.Peek(fiber.HeaderContentEncoding)):
		// A compressed body would be inflated in memory, whatever its
		// size on the wire: a few kilobytes of gzip can become gigabytes.
		c.Context().SetConnectionClose()
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "Compressed request bodies (Content-Encoding) are not accepted; send the body uncompressed.")
	case n > 0:
		if limit := s.bodyLimit(c); n > limit {
			// The rest of the body is never read: close the connection
			// rather than drain it.
			c.Context().SetConnectionClose()
			return &fiber.Error{Code: fiber.StatusRequestEntityTooLarge, Message: tooLarge(limit)}
		}
	}
	err := c.Next()
	// A request refused before its body was read (the gate's 401 or 403 on
	// an upload) leaves the rest of the body on the connection, where it
	// would be read as the next request. What arrived with the headers
	// (up to 8 KB) was read whole; past that, close the connection. A body
	// up to maxDrain is read and dropped first: closing a socket with
	// unread data resets it, and a phone still sending its photo would see
	// a broken connection instead of "log in again". Larger bodies are not
	// worth reading for a refusal.
	if n > streamPrefetch && (err != nil || c.Response().StatusCode() >= 400) {
		if n <= maxDrain {
			if body := c.Context().RequestBodyStream(); body != nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(body, int64(n)))
			}
		}
		c.Context().SetConnectionClose()
	}
	return err
}

// maxDrain is the most of a refused request's body that is read before the
// connection is closed: a few photos.
const maxDrain = 4 << 20

// identity reports whether a Content-Encoding leaves the body as it is.
func identity(enc []byte) bool {
	e := strings.TrimSpace(string(enc))
	return e == "" || strings.EqualFold(e, "identity")
}

// streamPrefetch is how much of a body the server reads with the headers
// when it streams request bodies (fasthttp's fixed 8 KB).
const streamPrefetch = 8 << 10

// tooLarge says what the limit is, in the unit a person thinks in.
func tooLarge(limit int) string {
	if limit >= 1<<20 {
		return fmt.Sprintf("The request is too large: at most %d MB.", limit>>20)
	}
	return fmt.Sprintf("The request is too large: at most %d KB.", limit>>10)
}

// Options configure NewServer.
type Options struct {
	Gate     *policy.Gate
	Ready    func(context.Context) error // nil when both stores answer
	Registry *prometheus.Registry
	Log      *slog.Logger
	// TrustProxy makes the client address come from X-Forwarded-For, for a
	// deployment behind a reverse proxy.
	TrustProxy bool
	// ImgSrc are further origins pages may show images from (a street
	// map's tile server, "https://*.tianditu.gov.cn"); none by default.
	ImgSrc []string
}

// contentSecurityPolicy is the pages' policy: everything from this server
// only, images also from the origins in imgSrc. An origin that could
// change the policy's meaning (a space, a semicolon, a quote) is left out.
// With other origins, the embedder policy becomes "credentialless": under
// helmet's "require-corp" a browser drops every image from a server that
// does not send Cross-Origin-Resource-Policy, as tile servers do not;
// credentialless loads them, without cookies, and keeps the isolation.
func contentSecurityPolicy(imgSrc []string) (csp, coep string) {
	img := "'self' data: blob:"
	coep = "require-corp"
	for _, o := range imgSrc {
		if o == "" || strings.ContainsAny(o, " \t\r\n;,'\"") {
			continue
		}
		img += " " + o
		coep = "credentialless"
	}
	return "default-src 'self'; img-src " + img + "; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'", coep
}

// NewServer builds the application with its middleware and operations
// routes. Domains mount their routes on API (JSON) and App (pages) after.
func NewServer(o Options) *Server {
	cfg := fiber.Config{
		AppName:   "nuanxin",
		BodyLimit: MaxBody,
		// Bodies are read as handlers ask for them, after limitBody has
		// checked the route's own limit; multipart forms are not parsed
		// ahead of the handler either.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  120 * time.Second,
		DisableStartupMessage:        true,
	}
	s := &Server{log: o.Log, closing: make(chan struct{})}
	cfg.ErrorHandler = s.handleError
	if o.TrustProxy {
		cfg.ProxyHeader = fiber.HeaderXForwardedFor
	}
	app := fiber.New(cfg)
	s.App = app

	app.Use(recover.New())
	app.Use(requestid.New())
	csp, coep := contentSecurityPolicy(o.ImgSrc)
	app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy:     csp,
		CrossOriginEmbedderPolicy: coep,
		ReferrerPolicy:            "same-origin",
		// HSTS only matters over TLS, which a proxy in front terminates.
		HSTSMaxAge: 31536000,
	}))
	app.Use(observe(o.Registry, o.Log))
	app.Use(s.limitBody)

	hc := huma.DefaultConfig("Nuanxin API", "1.0.0")
	hc.Info.Description = "Nuanxin (暖新): gig workers report civic problems to their grid officers, earn points, and take part in station councils."
	// Every route must pass the policy gate, so the spec is served by a gated
	// route below rather than huma's own; the schema links are left out.
	hc.OpenAPIPath, hc.DocsPath, hc.SchemasPath = "", "", ""
	hc.CreateHooks = nil
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}, {}}
	s.API = humafiber.New(app, hc)

	g := o.Gate
	// The document is built on first request, when every domain has
	// mounted its routes, and once only: concurrent first requests share it.
	spec := sync.OnceValues(func() ([]byte, error) { return json.Marshal(s.API.OpenAPI()) })
	g.Handle(app, fiber.MethodGet, "/api/openapi.json", PermDescribe, func(c *fiber.Ctx) error {
		spec, err := spec()
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "application/vnd.oai.openapi+json")
		return c.Send(spec)
	})
	g.Handle(app, fiber.MethodGet, "/healthz", PermHealth, func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	g.Handle(app, fiber.MethodGet, "/readyz", PermHealth, func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
		defer cancel()
		if err := o.Ready(ctx); err != nil {
			o.Log.Warn("not ready", "err", err)
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "detail": "a store does not answer"})
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
	metrics := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	g.Handle(app, fiber.MethodGet, "/metrics", PermHealth, func(c *fiber.Ctx) error {
		metrics(c.Context())
		return nil
	})
	return s
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	return s.App.ShutdownWithContext(ctx)
}

// Closing is closed when shutdown starts. A long-lived response (a live
// stream) ends when it is, rather than hold the shutdown until its timeout.
func (s *Server) Closing() <-chan struct{} { return s.closing }

// observe logs each request once and records its metrics.
func observe(reg *prometheus.Registry, log *slog.Logger) fiber.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nuanxin_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nuanxin_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(requests, latency)
	return func(c *fiber.Ctx) error {
		start := time.Now()
		// Fiber reuses these buffers after the handler returns, and the
		// metrics keep their label strings: copy them.
		method, path := strings.Clone(c.Method()), strings.Clone(c.Path())
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			// The error handler has not run yet; work out what it will send.
			var fe *fiber.Error
			status = fiber.StatusInternalServerError
			if errors.As(err, &fe) {
				status = fe.Code
			}
		}
		route := strings.Clone(c.Route().Path)
		if status == fiber.StatusNotFound && route == "/" && path != "/" {
			route = "(unmatched)" // keeps label values bounded
		}
		d := time.Since(start)
		requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		latency.WithLabelValues(method, route).Observe(d.Seconds())
		lvl := slog.LevelInfo
		if status >= 500 {
			lvl = slog.LevelError
		}
		log.Log(c.UserContext(), lvl, "request",
			"request_id", c.Locals("requestid"), "method", method, "path", path,
			"route", route, "status", status, "duration_ms", float64(d.Microseconds())/1000)
		return err
	}
}

// problemDoc is an RFC 9457 problem document, as package problem's are.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code,omitempty"`
}

// errorHandler is the one place that turns an error escaping a Fiber handler
// into a response: problem+json for the API, a page for browsers. Anything
// that is not a *fiber.Error is unexpected: it is logged once with the request
// id and answered with a plain 500.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	{
		status, detail := fiber.StatusInternalServerError, "Something went wrong on our side; please try again."
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status, detail = fe.Code, fe.Message
			if status == fiber.StatusRequestEntityTooLarge && !strings.HasPrefix(detail, "The request is too large") {
				detail = tooLarge(MaxBody)
			}
			if status == fiber.StatusNotFound && detail == "Cannot "+c.Method()+" "+c.Path() {
				detail = "There is nothing at " + c.Path() + "."
			}
		} else {
			s.log.Error("unhandled error", "request_id", c.Locals("requestid"), "path", c.Path(), "err", err)
		}
		if s.errorPage != nil && wantsHTML(c) {
			return s.errorPage(c, status, detail)
		}
		c.Status(status)
		c.Set(fiber.HeaderContentType, "application/problem+json")
		b, _ := json.Marshal(problemDoc{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: problem.CodeOf(status)})
		return c.Send(b)
	}
}

func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	if strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
		return false
	}
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/html") || c.Method() == fiber.MethodPost
}
