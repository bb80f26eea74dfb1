package open311

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

// Permissions used by the open311 routes. Reading and submitting are open to
// everyone at the gate: a submission is authorised by its api_key, which the
// handler checks.
const (
	PermRead   policy.Permission = "open311:read"
	PermSubmit policy.Permission = "open311:submit"
	PermManage policy.Permission = "open311:manage"
)

// Prefix is where the GeoReport v2 endpoint lives.
const Prefix = "/open311/v2"

// MaxSubmitBody is the largest body of a POST requests.json: one photo of
// reports.MaxPhotoBytes and the form fields around it. The server must
// allow that route this much (web.Server.AllowBody), to callers without a
// session: Open311 clients authenticate with the api_key inside the form.
const MaxSubmitBody = reports.MaxPhotoBytes + 64<<10

const (
	contentTypeJSON = "application/json; charset=utf-8"
	onlyJSON        = "only the JSON format is supported"
)

// Routes mounts the GeoReport v2 endpoint on app and the API key admin
// operations on api. The endpoint's routes are plain Fiber handlers that
// answer every error themselves, as a GeoReport error array: never a fiber
// error, which the application's error handler would turn into problem+json.
func Routes(app fiber.Router, api huma.API, gate *policy.Gate, keys *Keys, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, keys: keys, log: log}
	get, post := fiber.MethodGet, fiber.MethodPost
	gate.Handle(app, get, Prefix+"/services.json", PermRead, h.services)
	gate.Handle(app, get, Prefix+"/requests.json", PermRead, h.requests)
	gate.Handle(app, get, Prefix+"/requests/:id", PermRead, h.request)
	gate.Handle(app, post, Prefix+"/requests.json", PermSubmit, h.submit)
	gate.Handle(app, get, Prefix+"/services.xml", PermRead, h.xml)
	gate.Handle(app, get, Prefix+"/requests.xml", PermRead, h.xml)
	gate.Handle(app, post, Prefix+"/requests.xml", PermSubmit, h.xml)

	policy.Register(api, gate, PermManage, huma.Operation{
		OperationID: "create-open311-key", Method: http.MethodPost, Path: "/api/v1/admin/open311-keys", Tags: []string{"admin"},
		Summary:       "Issue an Open311 API key",
		Description:   "The key is in the answer only: it is not stored and cannot be shown again. Each key files reports as its own anonymous reporter.",
		DefaultStatus: http.StatusCreated, Errors: []int{400, 422},
	}, h.createKey)
	policy.Register(api, gate, PermManage, huma.Operation{
		OperationID: "list-open311-keys", Method: http.MethodGet, Path: "/api/v1/admin/open311-keys", Tags: []string{"admin"},
		Summary: "List the Open311 API keys, newest first (without the keys themselves)",
	}, h.listKeys)
	policy.Register(api, gate, PermManage, huma.Operation{
		OperationID: "revoke-open311-key", Method: http.MethodDelete, Path: "/api/v1/admin/open311-keys/{id}", Tags: []string{"admin"},
		Summary: "Revoke an Open311 API key at once", DefaultStatus: http.StatusNoContent, Errors: []int{404},
	}, h.revokeKey)
}

type handlers struct {
	svc  *Service
	keys *Keys
	log  *slog.Logger
}

// Error is one entry of a GeoReport error answer, which is an array of them.
type Error struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

func (h *handlers) write(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("open311: encode answer", "err", err)
		status, b = http.StatusInternalServerError, []byte(`[{"code":500,"description":"something went wrong on our side; please try again"}]`)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, contentTypeJSON)
	return c.Send(b)
}

func (h *handlers) writeError(c *fiber.Ctx, status int, description string) error {
	return h.write(c, status, []Error{{Code: status, Description: description}})
}

// fail answers err as a GeoReport error array.
func (h *handlers) fail(c *fiber.Ctx, err error) error {
	status, description := h.status(err)
	return h.writeError(c, status, description)
}

// status says how the GeoReport endpoint answers err: open311's own errors
// here, a report's through reports.ProblemOf, the table the API and the
// pages use, with its 4xx statuses folded into the 400 that GeoReport v2
// clients expect (other than 403 and 404, which the specification names).
func (h *handlers) status(err error) (int, string) {
	var ve *ValidationError
	switch {
	case errors.Is(err, ErrNoKey), errors.Is(err, ErrInvalidKey), errors.Is(err, ErrRevokedKey):
		return http.StatusForbidden, err.Error()
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Error()
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, ErrUnavailable):
		h.log.Error("open311: store unavailable", "err", err)
		return http.StatusServiceUnavailable, ErrUnavailable.Error()
	}
	if p, ok := reports.ProblemOf(err); ok {
		status := p.Status
		if status >= 400 && status < 500 && status != http.StatusForbidden && status != http.StatusNotFound {
			status = http.StatusBadRequest
		}
		if status >= 500 {
			h.log.Error("open311: reports unavailable", "err", err)
		}
		return status, p.Detail
	}
	h.log.Error("open311", "err", err)
	return http.StatusInternalServerError, "something went wrong on our side; please try again"
}

func (h *handlers) xml(c *fiber.Ctx) error {
	return h.writeError(c, http.StatusBadRequest, onlyJSON)
}

func (h *handlers) services(c *fiber.Ctx) error {
	return h.write(c, http.StatusOK, h.svc.ServiceTypes(ParseLocale(c.Query("locale"))))
}

// query reads a query parameter, copied: Fiber reuses its buffers.
func query(c *fiber.Ctx) func(string) string {
	return func(k string) string { return strings.Clone(c.Query(k)) }
}

func (h *handlers) requests(c *fiber.Ctx) error {
	q, err := ParseQuery(query(c), time.Now().UTC())
	if err != nil {
		return h.fail(c, err)
	}
	rs, err := h.svc.Requests(c.UserContext(), q)
	if err != nil {
		return h.fail(c, err)
	}
	return h.write(c, http.StatusOK, rs)
}

// request answers requests/<id>.json: a one-element array, as the
// specification has it. An id without a format suffix is taken as JSON.
func (h *handlers) request(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		if !strings.EqualFold(id[i+1:], "json") {
			return h.writeError(c, http.StatusBadRequest, onlyJSON)
		}
		id = id[:i]
	}
	r, err := h.svc.Request(c.UserContext(), id, ParseLocale(c.Query("locale")))
	if err != nil {
		return h.fail(c, err)
	}
	return h.write(c, http.StatusOK, []Request{r})
}

// submitted is the answer to a POST: the report's id, and no account.
type submitted struct {
	ID        string  `json:"service_request_id"`
	Notice    string  `json:"service_notice"`
	AccountID *string `json:"account_id"`
}

// submit files a report. Personal fields the specification allows (email,
// first_name, last_name, phone, device_id, account_id) are ignored on
// purpose: a report filed here belongs to the API key, not to a person.
func (h *handlers) submit(c *fiber.Ctx) error {
	ctype, _, _ := mime.ParseMediaType(string(c.Request().Header.ContentType()))
	if ctype != fiber.MIMEApplicationForm && ctype != fiber.MIMEMultipartForm {
		return h.writeError(c, http.StatusBadRequest, "send the request as application/x-www-form-urlencoded, or multipart/form-data with the photo as the file field media")
	}
	form := func(k string) string { return strings.Clone(c.FormValue(k)) }
	in := Submission{
		APIKey: form("api_key"), IdempotencyKey: strings.Clone(c.Get("Idempotency-Key")),
		ServiceCode: form("service_code"), Lat: form("lat"), Long: form("long"),
		Description: form("description"), Address: form("address_string"), MediaURL: form("media_url"),
		Locale: ParseLocale(form("locale")),
	}
	if ctype == fiber.MIMEMultipartForm {
		mf, err := c.MultipartForm()
		if err != nil {
			return h.writeError(c, http.StatusBadRequest, "the multipart/form-data body could not be read; send it again")
		}
		files := mf.File["media"]
		if len(files) > 1 {
			return h.writeError(c, http.StatusBadRequest, "send one photo as the file field media")
		}
		if len(files) == 1 {
			f, err := files[0].Open()
			if err != nil {
				return h.writeError(c, http.StatusBadRequest, "the photo could not be read; send it again")
			}
			// Cut off just past the limit: a huge file costs no more memory
			// than a slightly too large one, and the reports service refuses it.
			in.Media, err = io.ReadAll(io.LimitReader(f, reports.MaxPhotoBytes+1))
			f.Close()
			if err != nil {
				return h.writeError(c, http.StatusBadRequest, "the photo could not be read; send it again")
			}
		}
	}
	r, created, err := h.svc.Submit(c.UserContext(), in)
	if err != nil {
		return h.fail(c, err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return h.write(c, status, []submitted{{ID: r.ID, Notice: r.ServiceNotice}})
}

type createKeyInput struct {
	Body struct {
		Name string `json:"name" maxLength:"200" doc:"who the key is for, 1 to 60 characters, e.g. the client app's name"`
	}
}

type createdKeyOutput struct {
	Body struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Key       string    `json:"key" doc:"the API key, shown this once: clients send it as api_key"`
		CreatedAt time.Time `json:"created_at"`
	}
}

func (h *handlers) createKey(ctx context.Context, in *createKeyInput) (*createdKeyOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	plain, k, err := h.keys.Create(ctx, in.Body.Name, p.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &createdKeyOutput{}
	out.Body.ID, out.Body.Name, out.Body.Key, out.Body.CreatedAt = k.ID, k.Name, plain, k.CreatedAt
	return out, nil
}

type keysOutput struct {
	Body struct {
		Keys []Key `json:"keys"`
	}
}

func (h *handlers) listKeys(ctx context.Context, _ *struct{}) (*keysOutput, error) {
	ks, err := h.keys.List(ctx)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &keysOutput{}
	out.Body.Keys = ks
	return out, nil
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h *handlers) revokeKey(ctx context.Context, in *keyIDInput) (*struct{}, error) {
	if err := h.keys.Revoke(ctx, in.ID); err != nil {
		return nil, h.problem(err)
	}
	return nil, nil
}

// problem is the one place key administration errors become HTTP statuses
// (problem+json, like the rest of /api).
func (h *handlers) problem(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return huma.Error422UnprocessableEntity(ve.Error(), &huma.ErrorDetail{Location: "body." + ve.Field, Message: ve.Reason})
	case errors.Is(err, ErrKeyNotFound):
		return huma.Error404NotFound("No API key with that id.")
	}
	h.log.Error("open311 keys", "err", err)
	return huma.Error500InternalServerError("Something went wrong on our side; please try again.")
}
