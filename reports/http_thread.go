package reports

import (
	"context"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// Permissions of the reporter's side of the loop. Riders hold them for
// their own reports only: the service checks the report is theirs
// (Service.Message, Service.Urge) and answers 404 otherwise, as for a
// report they may not see. Officers ask for more through report:handle
// (the ask_more action), in their cells.
const (
	PermMessage policy.Permission = "report:message"
	PermUrge    policy.Permission = "report:urge"
)

// MaxMessageBody bounds a message upload: three photos and the text.
const MaxMessageBody = MaxSubmitBody

// threadRoutes mounts the messages and urging API.
func (h *handlers) threadRoutes(api huma.API) {
	policy.Register(api, h.gate, PermMessage, huma.Operation{
		OperationID: "message-report", Method: http.MethodPost, Path: "/api/v1/reports/{id}/messages", Tags: []string{"reports"},
		Summary: "Add a message to my open report: text and up to 3 photos (补充材料)",
		Description: "multipart/form-data: `text` (1–500 characters), `photos` (0–3 files: JPEG, PNG or WebP, at most 10 MB each). " +
			"Send an `Idempotency-Key` header, the same on every retry of one message: a retry answers the first message (200). " +
			"Only the report's reporter may; a closed report answers 409.",
		RequestBody:  messageBody(),
		MaxBodyBytes: MaxMessageBody, DefaultStatus: http.StatusCreated, Errors: []int{404, 409, 413, 415, 422, 503},
	}, h.message)
	policy.Register(api, h.gate, PermUrge, huma.Operation{
		OperationID: "urge-report", Method: http.MethodPost, Path: "/api/v1/reports/{id}/urge", Tags: []string{"reports"},
		Summary: "Urge (催办) my report once a deadline has passed: once per deadline",
		Description: "Before the deadline, or a second time for the same deadline, answers 409 saying when urging becomes possible " +
			"(`urge_from`) or that it was done.",
		DefaultStatus: http.StatusCreated, Errors: []int{404, 409, 503},
	}, h.urge)
	policy.Register(api, h.gate, PermView, huma.Operation{
		OperationID: "get-message-photo", Method: http.MethodGet, Path: "/api/v1/reports/{id}/messages/{seq}/photos/{n}", Tags: []string{"reports"},
		Summary: "A photo of a message on the report: seq is the message's timeline seq, n is 1–3; ?thumb=true for the thumbnail", Errors: []int{404},
	}, h.messagePhoto)
}

func messageBody() *huma.RequestBody {
	photo := &huma.Schema{Type: "string", Format: "binary", Description: "A photo: JPEG, PNG or WebP, at most 10 MB and 40 megapixels"}
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"multipart/form-data": {
		Schema: &huma.Schema{Type: "object", Required: []string{"text"}, Properties: map[string]*huma.Schema{
			"text":   {Type: "string", MinLength: ptr(1), MaxLength: ptr(MaxMessage), Description: "the message, 1 to 500 characters"},
			"photos": {Type: "array", Items: photo, MaxItems: ptr(MaxPhotos), Description: "0 to 3 photos, each as a part named photos"},
		}},
		Encoding: map[string]*huma.Encoding{"photos": {ContentType: "image/jpeg, image/png, image/webp"}},
	}}}
}

type messageInput struct {
	ID             string `path:"id" maxLength:"64"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128"`
	RawBody        multipart.Form
}

type entryOutput struct {
	Status int
	Body   Entry
}

func (h *handlers) message(ctx context.Context, in *messageInput) (*entryOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	files := in.RawBody.File["photos"]
	if len(files) > MaxPhotos {
		return nil, h.problem(&ValidationError{Field: "photos", Reason: "attach at most 3 photos to a message (got " + strconv.Itoa(len(files)) + ")"})
	}
	photos, err := readPhotos(files)
	if err != nil {
		return nil, h.problem(err)
	}
	e, created, err := h.svc.Message(ctx, p.UserID, in.ID, MessageInput{Key: in.IdempotencyKey, Text: formValue(&in.RawBody, "text"), Photos: photos})
	if err != nil {
		return nil, h.threadProblem(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &entryOutput{Status: status, Body: e}, nil
}

type urgeOutput struct {
	Status int
	Body   Entry
}

func (h *handlers) urge(ctx context.Context, in *idInput) (*urgeOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	e, err := h.svc.Urge(ctx, p.UserID, in.ID)
	if err != nil {
		return nil, h.threadProblem(err)
	}
	return &urgeOutput{Status: http.StatusCreated, Body: e}, nil
}

// threadProblem tells the refusals of messages and urges, then the rest as
// every reports route does.
func (h *handlers) threadProblem(err error) error {
	if ue, ok := asUrgeError(err); ok {
		var details []error
		if ue.Code == UrgeTooEarly {
			details = append(details, &huma.ErrorDetail{Location: "urge_from", Value: ue.From, Message: "urging is possible from this time"})
		}
		return problem.New(http.StatusConflict, ue.Code, capitalize(ue.Error()), details...)
	}
	return h.problem(err)
}

type messagePhotoInput struct {
	ID    string `path:"id" maxLength:"64"`
	Seq   int    `path:"seq" minimum:"1" maximum:"100000"`
	N     int    `path:"n" minimum:"1" maximum:"3"`
	Thumb bool   `query:"thumb"`
}

func (h *handlers) messagePhoto(ctx context.Context, in *messagePhotoInput) (*huma.StreamResponse, error) {
	r, err := h.visible(ctx, in.ID)
	if err != nil {
		return nil, h.problem(err)
	}
	// A confirmation's ("me too") photo is the officers' only: the
	// reporter, who may see the report, may not see another rider's photo.
	rc, info, err := h.svc.TimelinePhoto(ctx, r, in.Seq, in.N, in.Thumb, h.access.staffOf(ctx, r))
	if err != nil {
		return nil, h.problem(err)
	}
	return photoStream(rc, info), nil
}
