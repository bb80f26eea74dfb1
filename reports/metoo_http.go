package reports

import (
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
	"github.com/nuanxin/nuanxin/web"
)

// PermMeToo lets a rider look up the open reports near them and confirm
// one ("我也遇到"). The service keeps them from their own reports and shows
// them nothing of another rider's but a sealed ref.
const PermMeToo policy.Permission = "report:metoo"

// MaxMeTooBody bounds a confirmation's upload: one photo and the ref.
const MaxMeTooBody = MaxResolveBody

// meTooRoutes mounts the "me too" API. It runs before the routes with a
// report id in the path, so that "nearby" is never taken for one.
func (h *handlers) meTooRoutes(api huma.API) {
	policy.Register(api, h.gate, PermMeToo, huma.Operation{
		OperationID: "nearby-reports", Method: http.MethodGet, Path: "/api/v1/reports/nearby", Tags: []string{"reports"},
		Summary: "Open reports of a category within 100 m, not mine, nearest first (at most 5): is it one of these? (我也遇到)",
		Description: "Each report is shown by an opaque `ref`, valid for an hour and for the asking rider only, with its distance, " +
			"age, status, how many riders confirmed it, whether I did, and its thumbnail's URL; never its id, ticket, description or reporter.",
		Errors: []int{422, 503},
	}, h.nearby)
	policy.Register(api, h.gate, PermMeToo, huma.Operation{
		OperationID: "nearby-report-thumb", Method: http.MethodGet, Path: "/api/v1/reports/nearby/{ref}/thumb", Tags: []string{"reports"},
		Summary: "The thumbnail of a nearby report's first photo, by the ref the lookup gave", Errors: []int{404, 422},
	}, h.nearbyThumb)
	policy.Register(api, h.gate, PermMeToo, huma.Operation{
		OperationID: "me-too", Method: http.MethodPost, Path: "/api/v1/reports/metoo", Tags: []string{"reports"},
		Summary: "Confirm a nearby report: I met the same problem (我也遇到)",
		Description: "multipart/form-data: `ref` from GET /api/v1/reports/nearby, and optionally one `photo` (JPEG, PNG or WebP, at most 10 MB), " +
			"which only the officers see. Once per rider and report: a second confirmation, one's own report or a closed one answer 409; " +
			"a ref of another rider or altered answers 404, an expired one 422.",
		RequestBody:  meTooBody(),
		MaxBodyBytes: MaxMeTooBody, DefaultStatus: http.StatusCreated, Errors: []int{404, 409, 413, 415, 422, 503},
	}, h.meToo)
}

func meTooBody() *huma.RequestBody {
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"multipart/form-data": {
		Schema: &huma.Schema{Type: "object", Required: []string{"ref"}, Properties: map[string]*huma.Schema{
			"ref":   {Type: "string", MaxLength: ptr(maxRef), Description: "the ref of a report from GET /api/v1/reports/nearby"},
			"photo": {Type: "string", Format: "binary", Description: "optional: one photo of the problem, seen by the officers only"},
		}},
		Encoding: map[string]*huma.Encoding{"photo": {ContentType: "image/jpeg, image/png, image/webp"}},
	}}}
}

type nearbyInput struct {
	Category string  `query:"category" required:"true" maxLength:"40"`
	Lat      float64 `query:"lat" required:"true" minimum:"-90" maximum:"90"`
	Lng      float64 `query:"lng" required:"true" minimum:"-180" maximum:"180"`
}

type nearbyOutput struct {
	Body struct {
		Reports []Nearby `json:"reports"`
	}
}

func (h *handlers) nearby(ctx context.Context, in *nearbyInput) (*nearbyOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	ns, err := h.svc.Nearby(ctx, p.UserID, in.Category, in.Lat, in.Lng)
	if err != nil {
		return nil, h.meTooProblem(err)
	}
	out := &nearbyOutput{}
	out.Body.Reports = ns
	return out, nil
}

type refInput struct {
	Ref string `path:"ref" maxLength:"512"`
}

func (h *handlers) nearbyThumb(ctx context.Context, in *refInput) (*huma.StreamResponse, error) {
	p, _ := policy.PrincipalFrom(ctx)
	rc, info, err := h.svc.NearbyThumb(ctx, p.UserID, in.Ref)
	if err != nil {
		return nil, h.meTooProblem(err)
	}
	return photoStream(rc, info), nil
}

type meTooInput struct {
	RawBody multipart.Form
}

// meTooOutput is what the confirming rider is told: that it was recorded,
// and how many riders have confirmed now; nothing of the report.
type meTooOutput struct {
	Status int
	Body   struct {
		Recorded bool `json:"recorded"`
		MeToo    int  `json:"me_too" doc:"how many riders have confirmed the problem, this one included"`
	}
}

func (h *handlers) meToo(ctx context.Context, in *meTooInput) (*meTooOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	files := in.RawBody.File["photo"]
	if len(files) > 1 {
		return nil, h.problem(&ValidationError{Field: "photo", Reason: "attach at most one photo to a confirmation (got " + strconv.Itoa(len(files)) + ")"})
	}
	var photo []byte
	if len(files) == 1 {
		b, err := readPhotos(files)
		if err != nil {
			return nil, h.problem(err)
		}
		photo = b[0]
	}
	ref := formValue(&in.RawBody, "ref")
	if ref == "" {
		return nil, h.problem(&ValidationError{Field: "ref", Reason: "send the ref of a nearby report, from GET /api/v1/reports/nearby"})
	}
	e, err := h.svc.MeToo(ctx, p.UserID, ref, photo)
	if err != nil {
		return nil, h.meTooProblem(err)
	}
	out := &meTooOutput{Status: http.StatusCreated}
	out.Body.Recorded, out.Body.MeToo = true, e.After.MeToo
	return out, nil
}

// meTooProblem tells a "me too" refusal, then the rest as every reports
// route does.
func (h *handlers) meTooProblem(err error) error {
	if me, ok := asMeTooError(err); ok {
		status := http.StatusConflict
		switch me.Code {
		case MeTooUnknown:
			status = http.StatusNotFound
		case MeTooExpired:
			status = http.StatusUnprocessableEntity
		}
		return problem.New(status, me.Code, capitalize(me.Error()))
	}
	return h.problem(err)
}

// staffOf reports whether the caller handles reports in r's cell (its
// officers, admins): they see the confirmations' photos.
func (a Access) staffOf(ctx context.Context, r Report) bool {
	return a.gate.Check(ctx, PermHandle, policy.CellDomain(r.Cell)) == nil
}

// meTooRow fills a timeline row of a confirmation: staff read "a rider met
// it too" with the photo; the reporter only that another rider met it.
func meTooRow(l web.Lang, r Report, e Entry, row *timelineRow, staff bool) {
	row.Role = l.T("role.rider")
	if !staff {
		row.Label = l.T("metoo.row_reporter")
		return
	}
	for i := range e.Photos {
		base := "/api/v1/reports/" + url.PathEscape(r.ID) + "/messages/" + strconv.Itoa(e.Seq) + "/photos/" + strconv.Itoa(i+1)
		row.Photos = append(row.Photos, photoLink{Thumb: base + "?thumb=true", Full: base, Alt: l.T("metoo.photo")})
	}
}

// meTooLabel is "N 位骑手也遇到" for a report confirmed by n riders, or "".
func meTooLabel(l web.Lang, n int) string {
	if n <= 0 {
		return ""
	}
	return l.T("metoo.count", n)
}
