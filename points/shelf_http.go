package points

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// MaxPictureBody is the body limit of a reward picture upload (the
// application's body limit for "/api/v1/points/rewards/:id/picture" and the
// page "/station/:id/shelf/:reward/picture" and "/admin/points/shelf/:reward/picture").
const MaxPictureBody = MaxPictureBytes + 64<<10

// shelfRoutes mounts the rewards shelf and redemption in the JSON API.
func shelfRoutes(api huma.API, gate *policy.Gate, s *Service) {
	h := &shelfAPI{s: s, gate: gate}
	reg := func(op huma.Operation) huma.Operation {
		op.Tags = []string{"rewards"}
		return op
	}
	policy.Register(api, gate, PermShelf, reg(huma.Operation{
		OperationID: "points-shelf", Method: http.MethodGet, Path: "/api/v1/points/shelf",
		Summary: "The rewards shelf: city-wide rewards, then each station's, nearest first when lat and lng are given",
	}), h.shelf)
	policy.Register(api, gate, PermShelf, reg(huma.Operation{
		OperationID: "points-reward", Method: http.MethodGet, Path: "/api/v1/points/rewards/{id}",
		Summary: "One reward", Errors: []int{404},
	}), h.reward)
	policy.Register(api, gate, PermShelfManage, reg(huma.Operation{
		OperationID: "points-reward-create", Method: http.MethodPost, Path: "/api/v1/points/rewards",
		Summary:       "Put a reward on a shelf (scope \"city\": admins; a station id: that station's admins)",
		DefaultStatus: http.StatusCreated, Errors: []int{403, 422},
	}), h.create)
	policy.Register(api, gate, PermShelfManage, reg(huma.Operation{
		OperationID: "points-reward-update", Method: http.MethodPatch, Path: "/api/v1/points/rewards/{id}",
		Summary: "Change a reward's names, price, monthly limit or window, or restock it (add_stock)", Errors: []int{403, 404, 422},
	}), h.update)
	policy.Register(api, gate, PermShelfManage, reg(huma.Operation{
		OperationID: "points-reward-retire", Method: http.MethodPost, Path: "/api/v1/points/rewards/{id}/retire",
		Summary: "Take a reward off the shelf (reservations made can still be picked up)", Errors: []int{403, 404},
	}), h.retire)
	policy.Register(api, gate, PermShelfManage, reg(huma.Operation{
		OperationID: "points-reward-picture", Method: http.MethodPut, Path: "/api/v1/points/rewards/{id}/picture",
		Summary:      "Upload a reward's picture (the body is a JPEG or PNG, at most 5 MB and 4000×4000; metadata is removed)",
		MaxBodyBytes: MaxPictureBody, Errors: []int{403, 404, 413, 422},
	}), h.picture)
	policy.Register(api, gate, PermRedeem, reg(huma.Operation{
		OperationID: "points-reserve", Method: http.MethodPost, Path: "/api/v1/points/reservations",
		Summary:     "Reserve a reward: its price is held and a pickup code issued",
		Description: "Send the same `client_key` again to get the same reservation (a retry never reserves twice).",
		Errors:      []int{404, 409, 422, 503},
	}), h.reserve)
	policy.Register(api, gate, PermWallet, reg(huma.Operation{
		OperationID: "points-my-codes", Method: http.MethodGet, Path: "/api/v1/points/reservations",
		Summary: "My reservations and their pickup codes, newest first",
	}), h.mine)
	policy.Register(api, gate, PermRedeem, reg(huma.Operation{
		OperationID: "points-cancel", Method: http.MethodPost, Path: "/api/v1/points/reservations/{id}/cancel",
		Summary: "Cancel my reservation: the points and the unit come back", Errors: []int{404, 409},
	}), h.cancel)
	policy.Register(api, gate, PermConfirm, reg(huma.Operation{
		OperationID: "points-confirm", Method: http.MethodPost, Path: "/api/v1/points/stations/{station}/pickups",
		Summary: "Hand a reward over against the rider's code (station admins of that station)",
		Errors:  []int{403, 404, 409, 410, 422, 429},
	}), h.confirm)
	policy.Register(api, gate, PermConfirm, reg(huma.Operation{
		OperationID: "points-pickups-today", Method: http.MethodGet, Path: "/api/v1/points/stations/{station}/pickups",
		Summary: "Rewards handed over at the station today", Errors: []int{403},
	}), h.today)
}

type shelfAPI struct {
	s    *Service
	gate *policy.Gate
}

// RewardView is a reward in the API.
type RewardView struct {
	Reward
	PictureURL string `json:"picture_url,omitempty"`
}

func rewardView(r Reward) RewardView {
	v := RewardView{Reward: r}
	if r.HasPicture {
		v.PictureURL = "/points/rewards/" + r.ID + "/picture"
	}
	return v
}

// SectionView is one station's part of the shelf.
type SectionView struct {
	StationID   string       `json:"station_id,omitempty" doc:"absent for the city-wide rewards"`
	StationName string       `json:"station_name,omitempty"`
	DistanceM   float64      `json:"distance_m,omitempty"`
	Rewards     []RewardView `json:"rewards"`
}

type shelfInput struct {
	Lat float64 `query:"lat" minimum:"-90" maximum:"90"`
	Lng float64 `query:"lng" minimum:"-180" maximum:"180"`
	Has bool    `query:"near" doc:"set with lat and lng to order stations by distance"`
}

type shelfOutput struct {
	Body struct {
		Sections []SectionView `json:"sections"`
	}
}

func (h *shelfAPI) shelf(ctx context.Context, in *shelfInput) (*shelfOutput, error) {
	var at *Position
	if in.Has || in.Lat != 0 || in.Lng != 0 {
		at = &Position{Lat: in.Lat, Lng: in.Lng}
	}
	secs, err := h.s.Shelf.List(ctx, at)
	if err != nil {
		return nil, shelfProblem(err)
	}
	out := &shelfOutput{}
	out.Body.Sections = make([]SectionView, 0, len(secs))
	for _, sec := range secs {
		v := SectionView{DistanceM: sec.DistanceM, Rewards: make([]RewardView, 0, len(sec.Rewards))}
		if sec.Station != nil {
			v.StationID, v.StationName = sec.Station.ID, sec.Station.Name
		}
		for _, r := range sec.Rewards {
			v.Rewards = append(v.Rewards, rewardView(r))
		}
		out.Body.Sections = append(out.Body.Sections, v)
	}
	return out, nil
}

type rewardIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type rewardOutput struct{ Body RewardView }

func (h *shelfAPI) reward(ctx context.Context, in *rewardIDInput) (*rewardOutput, error) {
	r, err := h.s.Shelf.Reward(ctx, in.ID)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &rewardOutput{Body: rewardView(r)}, nil
}

// manageDomain is where managing a scope's shelf is checked: the city's
// needs the permission everywhere (admins), a station's in that station.
func manageDomain(scope string) string {
	if scope == CityScope {
		return policy.DomainAll
	}
	return policy.StationDomain(scope)
}

func (h *shelfAPI) mayManage(ctx context.Context, scope string) error {
	if err := h.gate.Check(ctx, PermShelfManage, manageDomain(scope)); err != nil {
		return problem.New(http.StatusForbidden, "forbidden", "You may not keep this shelf.")
	}
	return nil
}

type createRewardInput struct {
	Body struct {
		Scope  string     `json:"scope" maxLength:"64" doc:"\"city\" or a station id"`
		NameZH string     `json:"name_zh" maxLength:"800"`
		NameEN string     `json:"name_en,omitempty" maxLength:"800"`
		Price  int64      `json:"price" doc:"points, 1–100000"`
		Stock  int64      `json:"stock" doc:"units offered, ≥ 0"`
		Limit  int        `json:"limit" doc:"units one rider may reserve per month, ≥ 1"`
		From   *time.Time `json:"from,omitempty"`
		Until  *time.Time `json:"until,omitempty"`
	}
}

func (h *shelfAPI) create(ctx context.Context, in *createRewardInput) (*rewardOutput, error) {
	b := in.Body
	if err := h.mayManage(ctx, b.Scope); err != nil {
		return nil, err
	}
	spec := RewardSpec{Scope: b.Scope, NameZH: b.NameZH, NameEN: b.NameEN, Price: b.Price, Stock: b.Stock, Limit: b.Limit}
	if b.From != nil {
		spec.From = *b.From
	}
	if b.Until != nil {
		spec.Until = *b.Until
	}
	r, err := h.s.Shelf.Create(ctx, spec)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &rewardOutput{Body: rewardView(r)}, nil
}

type updateRewardInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		NameZH   *string    `json:"name_zh,omitempty" maxLength:"800"`
		NameEN   *string    `json:"name_en,omitempty" maxLength:"800"`
		Price    *int64     `json:"price,omitempty"`
		AddStock int64      `json:"add_stock,omitempty" doc:"units to add (restock); negative takes back units not handed out"`
		Limit    *int       `json:"limit,omitempty"`
		From     *time.Time `json:"from,omitempty"`
		Until    *time.Time `json:"until,omitempty"`
		Active   *bool      `json:"active,omitempty"`
	}
}

// loadManaged reads a reward and checks that the caller keeps its shelf.
func (h *shelfAPI) loadManaged(ctx context.Context, id string) (Reward, error) {
	r, err := h.s.Shelf.Reward(ctx, id)
	if err != nil {
		return Reward{}, shelfProblem(err)
	}
	if err := h.mayManage(ctx, r.Scope); err != nil {
		return Reward{}, err
	}
	return r, nil
}

func (h *shelfAPI) update(ctx context.Context, in *updateRewardInput) (*rewardOutput, error) {
	if _, err := h.loadManaged(ctx, in.ID); err != nil {
		return nil, err
	}
	b := in.Body
	r, err := h.s.Shelf.Update(ctx, in.ID, RewardChange{NameZH: b.NameZH, NameEN: b.NameEN, Price: b.Price, AddStock: b.AddStock,
		Limit: b.Limit, From: b.From, Until: b.Until, Active: b.Active})
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &rewardOutput{Body: rewardView(r)}, nil
}

func (h *shelfAPI) retire(ctx context.Context, in *rewardIDInput) (*rewardOutput, error) {
	if _, err := h.loadManaged(ctx, in.ID); err != nil {
		return nil, err
	}
	r, err := h.s.Shelf.Retire(ctx, in.ID)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &rewardOutput{Body: rewardView(r)}, nil
}

type pictureInput struct {
	ID          string `path:"id" maxLength:"64"`
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"image/jpeg"`
}

func (h *shelfAPI) picture(ctx context.Context, in *pictureInput) (*rewardOutput, error) {
	if _, err := h.loadManaged(ctx, in.ID); err != nil {
		return nil, err
	}
	r, err := h.s.Shelf.SetPicture(ctx, in.ID, in.RawBody)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &rewardOutput{Body: rewardView(r)}, nil
}

// ReservationView is a reservation in the API.
type ReservationView struct {
	ID       string    `json:"id"`
	Reward   string    `json:"reward"`
	NameZH   string    `json:"name_zh"`
	NameEN   string    `json:"name_en"`
	Station  string    `json:"station"`
	Price    int64     `json:"price"`
	Code     string    `json:"code,omitempty" doc:"The pickup code, as read aloud (shown to its rider only)"`
	QR       string    `json:"qr_url,omitempty"`
	Status   Status    `json:"status"`
	Created  time.Time `json:"created"`
	Deadline time.Time `json:"deadline" doc:"Not picked up by then, it expires and the points come back"`
	EndedAt  time.Time `json:"ended_at,omitzero"`
}

func reservationView(r Reservation, withCode bool) ReservationView {
	v := ReservationView{ID: r.ID, Reward: r.Reward, NameZH: r.NameZH, NameEN: r.NameEN, Station: r.Station, Price: r.Price,
		Status: r.Status, Created: r.Created, Deadline: r.Deadline, EndedAt: r.EndedAt}
	if withCode && r.Status == StatusReserved {
		v.Code, v.QR = FormatCode(r.Code), "/points/codes/"+r.ID+"/qr.png"
	}
	return v
}

type reserveInput struct {
	Body struct {
		Reward    string `json:"reward" maxLength:"64"`
		Station   string `json:"station" maxLength:"64" doc:"where the rider will pick it up"`
		ClientKey string `json:"client_key" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$" doc:"chosen by the client; a retry with the same key returns the same reservation"`
	}
}

type reservationOutput struct{ Body ReservationView }

func (h *shelfAPI) reserve(ctx context.Context, in *reserveInput) (*reservationOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	r, err := h.s.Shelf.Reserve(ctx, me.UserID, in.Body.Reward, in.Body.Station, in.Body.ClientKey)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &reservationOutput{Body: reservationView(r, true)}, nil
}

type reservationsOutput struct {
	Body struct {
		Reservations []ReservationView `json:"reservations"`
	}
}

func (h *shelfAPI) mine(ctx context.Context, _ *struct{}) (*reservationsOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	rs, err := h.s.Shelf.Codes(ctx, me.UserID, 50)
	if err != nil {
		return nil, shelfProblem(err)
	}
	out := &reservationsOutput{}
	out.Body.Reservations = make([]ReservationView, 0, len(rs))
	for _, r := range rs {
		out.Body.Reservations = append(out.Body.Reservations, reservationView(r, true))
	}
	return out, nil
}

type reservationIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h *shelfAPI) cancel(ctx context.Context, in *reservationIDInput) (*reservationOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	r, err := h.s.Shelf.Cancel(ctx, me.UserID, in.ID)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &reservationOutput{Body: reservationView(r, true)}, nil
}

type confirmInput struct {
	Station string `path:"station" maxLength:"64"`
	Body    struct {
		Code string `json:"code" maxLength:"40" doc:"the code as typed or scanned; case, spaces and dashes do not matter"`
	}
}

func (h *shelfAPI) mayConfirm(ctx context.Context, station string) error {
	if err := h.gate.Check(ctx, PermConfirm, policy.StationDomain(station)); err != nil {
		return problem.New(http.StatusForbidden, "forbidden", "Only an admin of this station may hand over its rewards.")
	}
	return nil
}

func (h *shelfAPI) confirm(ctx context.Context, in *confirmInput) (*reservationOutput, error) {
	if err := h.mayConfirm(ctx, in.Station); err != nil {
		return nil, err
	}
	me, _ := policy.PrincipalFrom(ctx)
	r, err := h.s.Shelf.Confirm(ctx, me.UserID, in.Station, in.Body.Code)
	if err != nil {
		return nil, shelfProblem(err)
	}
	return &reservationOutput{Body: reservationView(r, false)}, nil
}

type stationInput struct {
	Station string `path:"station" maxLength:"64"`
}

func (h *shelfAPI) today(ctx context.Context, in *stationInput) (*reservationsOutput, error) {
	if err := h.mayConfirm(ctx, in.Station); err != nil {
		return nil, err
	}
	rs, err := h.s.Shelf.PickupsToday(ctx, in.Station)
	if err != nil {
		return nil, shelfProblem(err)
	}
	out := &reservationsOutput{}
	out.Body.Reservations = make([]ReservationView, 0, len(rs))
	for _, r := range rs {
		out.Body.Reservations = append(out.Body.Reservations, reservationView(r, false))
	}
	return out, nil
}

// shelfProblem is the one table from shelf and redemption errors to
// statuses and stable codes. An error it does not know goes to the
// ledger's table, then is returned as is (a 500, logged once).
func shelfProblem(err error) error {
	msg := upperFirst(err.Error())
	var te *TooManyTriesError
	switch {
	case errors.As(err, &te):
		return problem.New(http.StatusTooManyRequests, "code.too_many_tries", msg)
	case errors.Is(err, ErrRewardNotFound):
		return problem.New(http.StatusNotFound, "reward.not_found", msg)
	case errors.Is(err, ErrRewardUnavailable):
		return problem.New(http.StatusConflict, "reward.unavailable", msg)
	case errors.Is(err, ErrOutOfStock):
		return problem.New(http.StatusConflict, "reward.out_of_stock", msg)
	case errors.Is(err, ErrLimitReached):
		return problem.New(http.StatusConflict, "reward.limit_reached", msg)
	case errors.Is(err, ErrPicture):
		return problem.New(http.StatusUnprocessableEntity, "reward.bad_picture", msg)
	case errors.Is(err, ErrNoPicture):
		return problem.New(http.StatusNotFound, "reward.no_picture", msg)
	case errors.Is(err, ErrInDebt):
		return problem.New(http.StatusConflict, "points.in_debt", msg)
	case errors.Is(err, ErrReservationNotFound):
		return problem.New(http.StatusNotFound, "reservation.not_found", msg)
	case errors.Is(err, ErrCodeUnknown):
		return problem.New(http.StatusNotFound, "code.unknown", msg)
	case errors.Is(err, ErrCodeOtherStation):
		return problem.New(http.StatusConflict, "code.other_station", msg)
	case errors.Is(err, ErrCodePickedUp):
		return problem.New(http.StatusConflict, "code.already_picked_up", msg)
	case errors.Is(err, ErrCodeExpired):
		return problem.New(http.StatusGone, "code.expired", msg)
	case errors.Is(err, ErrCodeCancelled):
		return problem.New(http.StatusGone, "code.cancelled", msg)
	case errors.Is(err, ErrAborted):
		return problem.New(http.StatusConflict, "reservation.aborted", msg)
	case errors.As(err, new(*FieldError)):
		var fe *FieldError
		errors.As(err, &fe)
		return problem.New(http.StatusUnprocessableEntity, "reward.invalid", msg, &huma.ErrorDetail{Location: "body." + fe.Field, Message: fe.Reason})
	}
	return ledgerProblem(err)
}
