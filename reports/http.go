package reports

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
	"github.com/nuanxin/nuanxin/storage"
)

// Permissions used by the reports routes. view and handle are checked again
// in the report's cell once the report is loaded.
const (
	PermCreate      policy.Permission = "report:create"
	PermView        policy.Permission = "report:view"
	PermHandle      policy.Permission = "report:handle"
	PermReopen      policy.Permission = "report:reopen"
	PermQueue       policy.Permission = "report:queue"
	PermFigures     policy.Permission = "report:figures"
	PermEscalations policy.Permission = "report:escalations"
	PermCategories  policy.Permission = "category:list"
)

// Body limits of the upload routes, API and pages alike: three photos of at
// most 10 MB with the form around them, and one after-photo.
const (
	MaxSubmitBody  = 32 << 20
	MaxResolveBody = 12 << 20
)

// Routes mounts the reports API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, gate: gate, access: NewAccess(gate), log: log}
	policy.Register(api, gate, PermCategories, huma.Operation{
		OperationID: "list-categories", Method: http.MethodGet, Path: "/api/v1/categories", Tags: []string{"reports"},
		Summary: "The categories a report may have",
	}, h.categories)
	policy.Register(api, gate, PermCreate, huma.Operation{
		OperationID: "submit-report", Method: http.MethodPost, Path: "/api/v1/reports", Tags: []string{"reports"},
		Summary: "Submit a report with 1 to 3 photos",
		Description: "multipart/form-data: `photos` (1–3 files: JPEG, PNG or WebP, at most 10 MB and 40 megapixels each), `category`, " +
			"optional `description` (≤ 500 characters) and `address`, `lat` and `lng` (omit both to use the photo's GPS), `manual` (true when picked on a map). " +
			"Send an `Idempotency-Key` header, the same on every retry of one report: a retry answers the first report (200), " +
			"the same key with different content answers 422.",
		RequestBody:  submitBody(),
		MaxBodyBytes: MaxSubmitBody, DefaultStatus: http.StatusCreated, Errors: []int{400, 413, 422, 503},
	}, h.submit)
	h.meTooRoutes(api) // "me too" (metoo_http.go): before /api/v1/reports/{id}, which would take "nearby" for an id
	policy.Register(api, gate, PermCreate, huma.Operation{
		OperationID: "my-reports", Method: http.MethodGet, Path: "/api/v1/reports/mine", Tags: []string{"reports"},
		Summary: "The reports I submitted, newest first",
	}, h.mine)
	policy.Register(api, gate, PermView, huma.Operation{
		OperationID: "get-report", Method: http.MethodGet, Path: "/api/v1/reports/{id}", Tags: []string{"reports"},
		Summary: "One report with its timeline, by id or ticket number (e.g. 20261129-0042)",
		Description: "Riders see their own reports; officers those in their cells; admins all. " +
			"A ticket number that cannot be one (a day that does not exist, no number) answers 422.",
		Errors: []int{404, 422},
	}, h.get)
	policy.Register(api, gate, PermView, huma.Operation{
		OperationID: "get-report-photo", Method: http.MethodGet, Path: "/api/v1/reports/{id}/photos/{n}", Tags: []string{"reports"},
		Summary: "A report's photo: n is 1–3, or 'after' for the after-photo; ?thumb=true for the thumbnail", Errors: []int{404},
	}, h.photo)
	policy.Register(api, gate, PermHandle, huma.Operation{
		OperationID: "act-on-report", Method: http.MethodPost, Path: "/api/v1/reports/{id}/actions", Tags: []string{"reports"},
		Summary:     "Acknowledge, verify, reject, hand over, start, resolve, reopen, confirm or unlink a duplicate, ask the reporter for more, uphold a disputed resolution",
		Description: "An action not allowed in the report's status answers 409 with the allowed ones. Officers act only in their cells; reopen is for admins.",
		Errors:      []int{403, 404, 409, 422, 503},
	}, h.act)
	policy.Register(api, gate, PermHandle, huma.Operation{
		OperationID: "resolve-report", Method: http.MethodPost, Path: "/api/v1/reports/{id}/resolve", Tags: []string{"reports"},
		Summary:      "Resolve with an optional after-photo (multipart: `photo`, `note`)",
		RequestBody:  resolveBody(),
		MaxBodyBytes: MaxResolveBody, Errors: []int{403, 404, 409, 422, 503},
	}, h.resolve)
	h.threadRoutes(api)
	h.ratingRoutes(api) // satisfaction and disputes (rating_http.go)
	policy.Register(api, gate, PermQueue, huma.Operation{
		OperationID: "queue", Method: http.MethodGet, Path: "/api/v1/queue", Tags: []string{"officers"},
		Summary: "Open reports in my cells, next deadline first, with counts per status",
	}, h.queue)
	policy.Register(api, gate, PermEscalations, huma.Operation{
		OperationID: "escalations", Method: http.MethodGet, Path: "/api/v1/escalations", Tags: []string{"admin"},
		Summary: "Open reports that missed a deadline",
	}, h.escalations)
	policy.Register(api, gate, PermFigures, huma.Operation{
		OperationID: "figures", Method: http.MethodGet, Path: "/api/v1/figures", Tags: []string{"officers"},
		Summary: "Service figures per cell and per officer",
	}, h.figures)
	exportRoutes(api, gate, h)
}

type handlers struct {
	svc    *Service
	gate   *policy.Gate
	access Access
	log    *slog.Logger
}

type categoriesOutput struct {
	Body struct {
		Categories []Category `json:"categories"`
	}
}

func (h *handlers) categories(ctx context.Context, _ *struct{}) (*categoriesOutput, error) {
	out := &categoriesOutput{}
	out.Body.Categories = h.svc.Categories()
	return out, nil
}

// submitBody describes the submission form field by field, so that a client
// generated from the OpenAPI document sends what the handler reads (huma
// would otherwise describe a raw multipart form as a generic upload).
func submitBody() *huma.RequestBody {
	photo := &huma.Schema{Type: "string", Format: "binary",
		Description: "A photo: JPEG, PNG or WebP, at most 10 MB and 40 megapixels"}
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"multipart/form-data": {
		Schema: &huma.Schema{Type: "object", Required: []string{"photos", "category"}, Properties: map[string]*huma.Schema{
			"photos":      {Type: "array", Items: photo, MinItems: ptr(1), MaxItems: ptr(MaxPhotos), Description: "1 to 3 photos, each as a part named photos"},
			"category":    {Type: "string", MaxLength: ptr(40), Description: "a category code from GET /api/v1/categories"},
			"lat":         {Type: "number", Minimum: ptrF(-90), Maximum: ptrF(90), Description: "WGS-84 latitude; omit lat and lng to use the photo's GPS"},
			"lng":         {Type: "number", Minimum: ptrF(-180), Maximum: ptrF(180), Description: "WGS-84 longitude"},
			"description": {Type: "string", MaxLength: ptr(MaxDescription), Description: "what is wrong, up to 500 characters"},
			"address":     {Type: "string", MaxLength: ptr(MaxAddress), Description: "where, in words"},
			"manual":      {Type: "boolean", Description: "true when the position was picked by hand on a map"},
		}},
		Encoding: map[string]*huma.Encoding{"photos": {ContentType: "image/jpeg, image/png, image/webp"}},
	}}}
}

// resolveBody describes the resolution form.
func resolveBody() *huma.RequestBody {
	return &huma.RequestBody{Content: map[string]*huma.MediaType{"multipart/form-data": {
		Schema: &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{
			"photo": {Type: "string", Format: "binary", Description: "optional after-photo: JPEG, PNG or WebP, at most 10 MB"},
			"note":  {Type: "string", MaxLength: ptr(MaxNote), Description: "what was done"},
		}},
		Encoding: map[string]*huma.Encoding{"photo": {ContentType: "image/jpeg, image/png, image/webp"}},
	}}}
}

func ptr(n int) *int          { return &n }
func ptrF(f float64) *float64 { return &f }

type submitInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128"`
	RawBody        multipart.Form
}

// ReportJSON is a report as the API shows it.
type ReportJSON struct {
	Report
	// DuplicateOfTicket and AlreadyReported say what the caller may know
	// of the report this one repeats (Access.LinkedDuplicate): its id and
	// ticket, or, for a rider whose report repeats another rider's, only
	// that it was reported already (duplicate_of is then left out).
	DuplicateOfTicket string   `json:"duplicate_of_ticket,omitempty" doc:"ticket number of the report this one repeats, for those who may see that report"`
	AlreadyReported   bool     `json:"already_reported,omitempty" doc:"another rider reported the same problem first; riders are not shown that report"`
	NoPhoto           bool     `json:"no_photo" doc:"filed without a photo (Open311 allows it): check the place itself"`
	Allowed           []Action `json:"allowed_actions,omitempty" doc:"what the caller may do now"`
	Timeline          []Entry  `json:"timeline,omitempty"`
}

// present is r as the caller may see it: without the id of a report it
// repeats that is not theirs to see (Access.LinkedDuplicate).
func (h *handlers) present(ctx context.Context, r Report) (ReportJSON, error) {
	out := ReportJSON{Report: r, NoPhoto: !r.HasPhotos()}
	dup, shown, linked, err := h.access.LinkedDuplicate(ctx, h.svc, r)
	switch {
	case err != nil:
		return out, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case linked && shown:
		out.DuplicateOfTicket = dup.Ticket
	case linked:
		out.DuplicateOf, out.AlreadyReported = "", true
	}
	return out, nil
}

type reportOutput struct {
	Status int
	Body   ReportJSON
}

func formValue(f *multipart.Form, k string) string {
	if v := f.Value[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h *handlers) submit(ctx context.Context, in *submitInput) (*reportOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	sub := Submission{Key: in.IdempotencyKey, Category: formValue(&in.RawBody, "category"),
		Description: formValue(&in.RawBody, "description"), Address: formValue(&in.RawBody, "address"),
		Manual: formValue(&in.RawBody, "manual") == "true"}
	lat, lng := strings.TrimSpace(formValue(&in.RawBody, "lat")), strings.TrimSpace(formValue(&in.RawBody, "lng"))
	if lat != "" || lng != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		ln, err2 := strconv.ParseFloat(lng, 64)
		if err1 != nil || err2 != nil {
			return nil, huma.Error422UnprocessableEntity("lat and lng must both be decimal numbers, e.g. lat=28.1941&lng=112.9823, or both omitted to use the photo's location")
		}
		sub.Lat, sub.Lng = &la, &ln
	}
	photos, err := readPhotos(in.RawBody.File["photos"])
	if err != nil {
		return nil, h.problem(err)
	}
	sub.Photos = photos
	r, created, err := h.svc.Submit(ctx, p.UserID, sub)
	if err != nil {
		return nil, h.problem(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	body, err := h.present(ctx, r)
	if err != nil {
		return nil, h.problem(err)
	}
	return &reportOutput{Status: status, Body: body}, nil
}

// readPhotos reads the uploaded files, each cut off just past the limit so a
// huge file costs no more memory than a slightly too large one.
func readPhotos(files []*multipart.FileHeader) ([][]byte, error) {
	if len(files) > MaxPhotos {
		return nil, &ValidationError{Field: "photos", Reason: fmt.Sprintf("attach 1 to 3 photos (got %d)", len(files))}
	}
	var out [][]byte
	for _, fh := range files {
		f, err := fh.Open()
		if err != nil {
			return nil, &ValidationError{Field: "photos", Reason: "a photo could not be read; send it again"}
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxPhotoBytes+1))
		f.Close()
		if err != nil {
			return nil, &ValidationError{Field: "photos", Reason: "a photo could not be read; send it again"}
		}
		out = append(out, b)
	}
	return out, nil
}

type mineOutput struct {
	Body struct {
		Reports []Report `json:"reports"`
	}
}

type myReportsOutput struct {
	Body struct {
		Reports []ReportJSON `json:"reports"`
	}
}

func (h *handlers) mine(ctx context.Context, _ *struct{}) (*myReportsOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	rs, err := h.svc.Mine(ctx, p.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &myReportsOutput{}
	out.Body.Reports = make([]ReportJSON, 0, len(rs))
	for _, r := range rs {
		j, err := h.present(ctx, r)
		if err != nil {
			return nil, h.problem(err)
		}
		out.Body.Reports = append(out.Body.Reports, j)
	}
	return out, nil
}

// visible loads a report the caller may see (Access.CanSee), by id or
// ticket number. Others are "not found", so that neither reveals anything.
func (h *handlers) visible(ctx context.Context, id string) (Report, error) {
	r, err := h.svc.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if !h.access.CanSee(ctx, r) {
		return Report{}, ErrNotFound
	}
	return r, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h *handlers) get(ctx context.Context, in *idInput) (*reportOutput, error) {
	r, err := h.visible(ctx, in.ID)
	if err != nil {
		return nil, h.problem(err)
	}
	tl, err := h.svc.Timeline(ctx, r.ID, 0)
	if err != nil {
		return nil, h.problem(err)
	}
	out, err := h.present(ctx, r)
	if err != nil {
		return nil, h.problem(err)
	}
	out.Timeline, out.Allowed = MeTooVisible(tl, h.access.staffOf(ctx, r)), h.access.Actions(ctx, r)
	return &reportOutput{Status: http.StatusOK, Body: out}, nil
}

type photoInput struct {
	ID    string `path:"id" maxLength:"64"`
	N     string `path:"n" maxLength:"8"`
	Thumb bool   `query:"thumb"`
}

func (h *handlers) photo(ctx context.Context, in *photoInput) (*huma.StreamResponse, error) {
	r, err := h.visible(ctx, in.ID)
	if err != nil {
		return nil, h.problem(err)
	}
	var key string
	if in.N == "after" && r.AfterPhoto != nil {
		key = r.AfterPhoto.Key
	} else if n, err := strconv.Atoi(in.N); err == nil && n >= 1 && n <= len(r.Photos) {
		key = r.Photos[n-1].Key
	} else {
		return nil, huma.Error404NotFound("The report has no such photo.")
	}
	rc, info, err := h.svc.OpenPhoto(ctx, r, key, in.Thumb)
	if err != nil {
		return nil, h.problem(err)
	}
	return photoStream(rc, info), nil
}

// photoStream sends a stored photo: to its viewers only, so privately
// cached, and never sniffed into anything but an image.
func photoStream(rc io.ReadCloser, info storage.ObjectInfo) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer rc.Close()
		ct := info.ContentType
		if ct != "image/png" {
			ct = "image/jpeg" // stored photos are only ever JPEG or PNG
		}
		hctx.SetHeader("Content-Type", ct)
		hctx.SetHeader("Content-Length", strconv.FormatInt(info.Size, 10))
		hctx.SetHeader("Cache-Control", "private, max-age=86400, immutable")
		hctx.SetHeader("Content-Disposition", "inline")
		hctx.SetHeader("X-Content-Type-Options", "nosniff")
		_, _ = io.Copy(hctx.BodyWriter(), rc)
	}}
}

type actInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Action   Action `json:"action" enum:"acknowledge,verify,reject,handover,start,resolve,reopen,confirm_duplicate,unlink_duplicate,ask_more,uphold" doc:"ask_more: ask the reporter for more (note required); uphold: an administrator keeps a disputed resolution (note to the reporter required)"`
		Severity int    `json:"severity,omitempty" minimum:"0" maximum:"3" doc:"verify: 1 minor, 2 serious, 3 urgent"`
		Reason   string `json:"reason,omitempty" maxLength:"40" doc:"reject: not_a_problem, duplicate, outside_area, insufficient_evidence or abusive"`
		Note     string `json:"note,omitempty" maxLength:"2000"`
		Cell     string `json:"cell,omitempty" maxLength:"64" doc:"handover: the cell that should take it"`
	}
}

func (h *handlers) act(ctx context.Context, in *actInput) (*reportOutput, error) {
	if in.Body.Action == ActUphold {
		// Officers hold report:handle, which this route asks; deciding a
		// dispute is for admins (report:dispute). Checked after the
		// report is found, so that a missing report is still a 404.
		if _, err := h.visible(ctx, in.ID); err != nil {
			return nil, h.problem(err)
		}
		if err := mayDecide(ctx, h.gate); err != nil {
			return nil, err
		}
	}
	return h.do(ctx, in.ID, ActionInput{Action: in.Body.Action, Severity: in.Body.Severity, Reason: in.Body.Reason, Note: in.Body.Note, Cell: in.Body.Cell})
}

type resolveInput struct {
	ID      string `path:"id" maxLength:"64"`
	RawBody multipart.Form
}

func (h *handlers) resolve(ctx context.Context, in *resolveInput) (*reportOutput, error) {
	a := ActionInput{Action: ActResolve, Note: formValue(&in.RawBody, "note")}
	files := in.RawBody.File["photo"]
	if len(files) > 1 {
		return nil, huma.Error422UnprocessableEntity("Attach at most one after-photo.")
	}
	if len(files) == 1 {
		b, err := readPhotos(files)
		if err != nil {
			return nil, h.problem(err)
		}
		a.AfterPhoto = b[0]
	}
	return h.do(ctx, in.ID, a)
}

// do checks the caller may act on this report, in its cell, then acts.
func (h *handlers) do(ctx context.Context, id string, a ActionInput) (*reportOutput, error) {
	r, err := h.visible(ctx, id)
	if err != nil {
		return nil, h.problem(err)
	}
	actor, err := h.access.Actor(ctx, r, a.Action)
	if err != nil {
		return nil, h.problem(err)
	}
	r, err = h.svc.Act(ctx, actor, r.ID, a) // id may be a ticket number
	if err != nil {
		return nil, h.problem(err)
	}
	out, err := h.present(ctx, r)
	if err != nil {
		return nil, h.problem(err)
	}
	out.Allowed = h.access.Actions(ctx, r)
	return &reportOutput{Status: http.StatusOK, Body: out}, nil
}

type queueInput struct {
	Status     string `query:"status" enum:"submitted,acknowledged,verified,in_progress,resolved,rejected," doc:"default: every open status"`
	Category   string `query:"category" maxLength:"40"`
	Cell       string `query:"cell" maxLength:"64"`
	Unassigned bool   `query:"unassigned" doc:"only reports without an officer (admin)"`
	Limit      int    `query:"limit" minimum:"0" maximum:"100" default:"50"`
	Offset     int    `query:"offset" minimum:"0" maximum:"100000"`
}

type queueOutput struct {
	Body struct {
		Reports []Report         `json:"reports"`
		Counts  map[Status]int64 `json:"counts"`
	}
}

func (h *handlers) queue(ctx context.Context, in *queueInput) (*queueOutput, error) {
	q, err := h.svc.ListQueue(ctx, h.access.Scope(ctx), QueueFilter{Status: Status(in.Status), Category: in.Category, Cell: in.Cell,
		Unassigned: in.Unassigned, Limit: in.Limit, Offset: in.Offset})
	if err != nil {
		return nil, h.problem(err)
	}
	out := &queueOutput{}
	out.Body.Reports, out.Body.Counts = q.Reports, q.Counts
	return out, nil
}

func (h *handlers) escalations(ctx context.Context, _ *struct{}) (*mineOutput, error) {
	rs, err := h.svc.Escalated(ctx, 200)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &mineOutput{}
	out.Body.Reports = rs
	return out, nil
}

type figuresInput struct {
	Days int `query:"days" minimum:"1" maximum:"365" default:"30"`
}

type figuresOutput struct {
	Body struct {
		Cells    []Figures `json:"cells"`
		Officers []Figures `json:"officers"`
	}
}

func (h *handlers) figures(ctx context.Context, in *figuresInput) (*figuresOutput, error) {
	days := in.Days
	if days == 0 {
		days = 30
	}
	cells, officers, err := h.svc.ComputeFigures(ctx, h.access.Scope(ctx), time.Now().UTC().AddDate(0, 0, -days))
	if err != nil {
		return nil, h.problem(err)
	}
	out := &figuresOutput{}
	out.Body.Cells, out.Body.Officers = cells, officers
	return out, nil
}

// problem answers err with the problem document ProblemOf gives it.
func (h *handlers) problem(err error) error {
	p, ok := ProblemOf(err)
	if !ok {
		h.log.Error("reports", "err", err)
		return problem.New(http.StatusInternalServerError, problem.CodeOf(http.StatusInternalServerError), "Something went wrong on our side; please try again.")
	}
	if p.Status == http.StatusServiceUnavailable {
		h.log.Error("reports: store unavailable", "err", err)
	}
	return p.APIError()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
