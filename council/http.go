package council

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// Permissions used by the council routes.
const (
	PermList   policy.Permission = "station:list"
	PermCreate policy.Permission = "station:create"
	PermAssign policy.Permission = "station:assign"
)

// Routes mounts the stations API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, log: log}
	policy.Register(api, gate, PermList, huma.Operation{
		OperationID: "list-stations", Method: http.MethodGet, Path: "/api/v1/stations", Tags: []string{"stations"},
		Summary: "Rest stations",
	}, h.list)
	policy.Register(api, gate, PermCreate, huma.Operation{
		OperationID: "create-station", Method: http.MethodPost, Path: "/api/v1/stations", Tags: []string{"stations"},
		Summary: "Open a station", DefaultStatus: http.StatusCreated, Errors: []int{409, 422},
	}, h.create)
	policy.Register(api, gate, PermAssign, huma.Operation{
		OperationID: "add-station-admin", Method: http.MethodPost, Path: "/api/v1/stations/{id}/admins", Tags: []string{"stations"},
		Summary: "Make a station-admin account an admin of the station", Errors: []int{404, 422},
	}, h.addAdmin)
}

type handlers struct {
	svc *Service
	log *slog.Logger
}

type stationsOutput struct {
	Body struct {
		Stations []Station `json:"stations"`
	}
}

func (h *handlers) list(ctx context.Context, _ *struct{}) (*stationsOutput, error) {
	sts, err := h.svc.List(ctx)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &stationsOutput{}
	out.Body.Stations = sts
	return out, nil
}

type stationInput struct {
	Body struct {
		Name    string  `json:"name" maxLength:"200"`
		Address string  `json:"address,omitempty" maxLength:"1000"`
		Lat     float64 `json:"lat" minimum:"-90" maximum:"90"`
		Lng     float64 `json:"lng" minimum:"-180" maximum:"180"`
	}
}

type stationOutput struct {
	Body Station
}

func (h *handlers) create(ctx context.Context, in *stationInput) (*stationOutput, error) {
	st, err := h.svc.Create(ctx, NewStation{Name: in.Body.Name, Address: in.Body.Address, Lat: in.Body.Lat, Lng: in.Body.Lng})
	if err != nil {
		return nil, h.problem(err)
	}
	return &stationOutput{Body: st}, nil
}

type addAdminInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		UserID string `json:"user_id" maxLength:"64"`
	}
}

func (h *handlers) addAdmin(ctx context.Context, in *addAdminInput) (*stationOutput, error) {
	st, err := h.svc.AddAdmin(ctx, in.ID, in.Body.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	return &stationOutput{Body: st}, nil
}

// problem is the one place council errors become HTTP statuses.
func (h *handlers) problem(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return huma.Error422UnprocessableEntity(ve.Error(), &huma.ErrorDetail{Location: "body." + ve.Field, Message: ve.Reason})
	case errors.Is(err, ErrNameTaken):
		return huma.Error409Conflict("A station with that name exists already.")
	case errors.Is(err, ErrNotFound):
		return huma.Error404NotFound("There is no station with that id.")
	}
	h.log.Error("council", "err", err)
	return huma.Error500InternalServerError("Something went wrong on our side; please try again.")
}
