package inbox

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// PermRead lets any logged-in user read their own inbox.
const PermRead policy.Permission = "inbox:read"

// Routes mounts the inbox API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, log: log}
	policy.Register(api, gate, PermRead, huma.Operation{
		OperationID: "inbox", Method: http.MethodGet, Path: "/api/v1/inbox", Tags: []string{"inbox"},
		Summary: "My notifications, newest first, with the unread count",
	}, h.list)
	policy.Register(api, gate, PermRead, huma.Operation{
		OperationID: "mark-read", Method: http.MethodPost, Path: "/api/v1/inbox/{id}/read", Tags: []string{"inbox"},
		Summary: "Mark one of my notifications read", DefaultStatus: http.StatusNoContent, Errors: []int{404},
		Description: "The id is the notification's as the inbox lists it, path-escaped: its '/' is sent as %2F.",
	}, h.markRead)
}

type handlers struct {
	svc *Service
	log *slog.Logger
}

type inboxOutput struct {
	Body struct {
		Notifications []Notification `json:"notifications"`
		Unread        int64          `json:"unread"`
	}
}

func (h *handlers) list(ctx context.Context, _ *struct{}) (*inboxOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	ns, unread, err := h.svc.List(ctx, p.UserID, 100)
	if err != nil {
		h.log.Error("inbox", "err", err)
		return nil, huma.Error503ServiceUnavailable("The inbox is briefly unavailable; try again.")
	}
	out := &inboxOutput{}
	out.Body.Notifications, out.Body.Unread = ns, unread
	return out, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"300" doc:"the notification's id, path-escaped ('/' as %2F)"`
}

func (h *handlers) markRead(ctx context.Context, in *idInput) (*struct{}, error) {
	p, _ := policy.PrincipalFrom(ctx)
	// The router hands over the path segment as sent: an id's '/' arrives
	// as %2F, and is decoded here.
	id, err := url.PathUnescape(in.ID)
	if err != nil {
		return nil, huma.Error404NotFound("You have no notification with that id.")
	}
	err = h.svc.MarkRead(ctx, p.UserID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, huma.Error404NotFound("You have no notification with that id.")
	}
	if err != nil {
		h.log.Error("inbox", "err", err)
		return nil, huma.Error503ServiceUnavailable("The inbox is briefly unavailable; try again.")
	}
	return nil, nil
}
