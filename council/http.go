package council

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// Permissions used by the council routes.
const (
	PermList   policy.Permission = "station:list"
	PermCreate policy.Permission = "station:create"
	PermAssign policy.Permission = "station:assign"
	// PermManage lets a station admin keep their station's details; the
	// handler checks it in the station's domain.
	PermManage policy.Permission = "station:manage"
	// PermOpen opens and closes stations (admins).
	PermOpen policy.Permission = "station:open"
)

// Routes mounts the stations API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, gate: gate, log: log}
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
	policy.Register(api, gate, PermList, huma.Operation{
		OperationID: "nearest-stations", Method: http.MethodGet, Path: "/api/v1/stations/nearest", Tags: []string{"stations"},
		Summary:     "The stations nearest a position (WGS-84), open ones first, with navigation links",
		Description: "The Amap, Baidu and Tencent links carry the position converted to the coordinates each app reads (GCJ-02, BD-09), so they land on the station.",
		Errors:      []int{422},
	}, h.nearest)
	policy.Register(api, gate, PermManage, huma.Operation{
		OperationID: "update-station", Method: http.MethodPatch, Path: "/api/v1/stations/{id}", Tags: []string{"stations"},
		Summary: "Change a station's details (its admins): name, address, position, hours, facilities, services", Errors: []int{403, 404, 409, 422},
	}, h.update)
	policy.Register(api, gate, PermOpen, huma.Operation{
		OperationID: "open-station", Method: http.MethodPost, Path: "/api/v1/stations/{id}/open", Tags: []string{"stations"},
		Summary: "Open a station (admins)", Errors: []int{404},
	}, h.open)
	policy.Register(api, gate, PermOpen, huma.Operation{
		OperationID: "close-station", Method: http.MethodPost, Path: "/api/v1/stations/{id}/close", Tags: []string{"stations"},
		Summary: "Close a station (admins): it is no longer open now, whatever its hours", Errors: []int{404},
	}, h.close)
}

type nearestInput struct {
	Lat   float64 `query:"lat" minimum:"-90" maximum:"90" required:"true"`
	Lng   float64 `query:"lng" minimum:"-180" maximum:"180" required:"true"`
	Limit int     `query:"limit" minimum:"1" maximum:"50" default:"10"`
}

type nearestOutput struct {
	Body struct {
		Stations []NearStation `json:"stations"`
	}
}

func (h *handlers) nearest(ctx context.Context, in *nearestInput) (*nearestOutput, error) {
	ns, err := h.svc.Nearest(ctx, in.Lat, in.Lng, in.Limit, time.Now())
	if err != nil {
		return nil, h.problem(err)
	}
	out := &nearestOutput{}
	out.Body.Stations = ns
	if out.Body.Stations == nil {
		out.Body.Stations = []NearStation{}
	}
	return out, nil
}

// updateInput is what a station admin may change through the API. Photos
// are not among it: they will come through an upload that checks them, not
// as object keys a client names.
type updateInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Name       *string   `json:"name,omitempty" maxLength:"200"`
		Address    *string   `json:"address,omitempty" maxLength:"1000"`
		Lat        *float64  `json:"lat,omitempty" minimum:"-90" maximum:"90"`
		Lng        *float64  `json:"lng,omitempty" minimum:"-180" maximum:"180"`
		Hours      *Hours    `json:"hours,omitempty"`
		Facilities *[]string `json:"facilities,omitempty" maxItems:"20"`
		Services   *[]string `json:"services,omitempty" maxItems:"20"`
	}
}

func (h *handlers) update(ctx context.Context, in *updateInput) (*stationOutput, error) {
	if err := h.gate.Check(ctx, PermManage, policy.StationDomain(in.ID)); err != nil {
		return nil, huma.Error403Forbidden("Only an admin of this station may change its details.")
	}
	b := in.Body
	st, err := h.svc.Update(ctx, in.ID, StationChange{Name: b.Name, Address: b.Address, Lat: b.Lat, Lng: b.Lng,
		Hours: b.Hours, Facilities: b.Facilities, Services: b.Services})
	if err != nil {
		return nil, h.problem(err)
	}
	return &stationOutput{Body: st}, nil
}

type stationIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h *handlers) open(ctx context.Context, in *stationIDInput) (*stationOutput, error) {
	return h.setOpen(ctx, in.ID, true)
}

func (h *handlers) close(ctx context.Context, in *stationIDInput) (*stationOutput, error) {
	return h.setOpen(ctx, in.ID, false)
}

func (h *handlers) setOpen(ctx context.Context, id string, open bool) (*stationOutput, error) {
	st, err := h.svc.SetOpen(ctx, id, open)
	if err != nil {
		return nil, h.problem(err)
	}
	return &stationOutput{Body: st}, nil
}

type handlers struct {
	svc  *Service
	gate *policy.Gate
	log  *slog.Logger
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
