package accounts

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// Permissions used by the accounts routes.
const (
	PermLogin    policy.Permission = "auth:login"
	PermLogout   policy.Permission = "auth:logout"
	PermRegister policy.Permission = "account:register"
	PermProfile  policy.Permission = "profile:read"
	PermList     policy.Permission = "user:list"
	PermCreate   policy.Permission = "user:create"
	PermDisable  policy.Permission = "user:disable"
	PermReset    policy.Permission = "user:reset"
	// PermPassword: changing one's own password, the one thing an account
	// whose password was reset may do (with logging out and reading pages).
	PermPassword policy.Permission = "account:password"
)

// Routes mounts the accounts API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, gate: gate, log: log}
	allowBeforeNewPassword(gate)
	policy.Register(api, gate, PermLogin, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", Tags: []string{"auth"},
		Summary:     "Log in with a phone number or username and a password",
		Description: "Answers a bearer token for the Authorization header. Repeated failures are refused until the end of a 15-minute window (429 with Retry-After): 5 for one account from one address, 20 from one address, 50 for one account from all addresses together.",
		Errors:      []int{400, 401, 403, 422, 429},
	}, h.login)
	policy.Register(api, gate, PermLogout, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout", Tags: []string{"auth"},
		Summary: "End the current session", DefaultStatus: http.StatusNoContent,
	}, h.logout)
	policy.Register(api, gate, PermRegister, huma.Operation{
		OperationID: "register", Method: http.MethodPost, Path: "/api/v1/accounts", Tags: []string{"accounts"},
		Summary: "Register as a rider", DefaultStatus: http.StatusCreated, Errors: []int{400, 409, 422},
	}, h.register)
	policy.Register(api, gate, PermProfile, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/me", Tags: []string{"accounts"},
		Summary: "The logged-in account and where it holds roles",
	}, h.me)
	policy.Register(api, gate, PermPassword, huma.Operation{
		OperationID: "change-password", Method: http.MethodPut, Path: "/api/v1/me/password", Tags: []string{"accounts"},
		Summary:       "Choose a new password",
		Description:   "Needs the current password (after a reset, the temporary one an admin gave). Lifts the obligation a reset put on the account.",
		DefaultStatus: http.StatusNoContent, Errors: []int{400, 422},
	}, h.changePassword)
	policy.Register(api, gate, PermList, huma.Operation{
		OperationID: "list-users", Method: http.MethodGet, Path: "/api/v1/admin/users", Tags: []string{"admin"},
		Summary: "Search accounts, 50 to a page", Errors: []int{422},
	}, h.list)
	policy.Register(api, gate, PermReset, huma.Operation{
		OperationID: "reset-password", Method: http.MethodPost, Path: "/api/v1/admin/users/{id}/password-reset", Tags: []string{"admin"},
		Summary:     "Give an account a temporary password",
		Description: "Ends the account's sessions; the temporary password (the one sent, or one made up when none is) is answered once and works only to choose a new password.",
		Errors:      []int{400, 404, 409, 422},
	}, h.resetPassword)
	policy.Register(api, gate, PermCreate, huma.Operation{
		OperationID: "create-staff", Method: http.MethodPost, Path: "/api/v1/admin/users", Tags: []string{"admin"},
		Summary: "Create an officer, station admin or admin account", DefaultStatus: http.StatusCreated, Errors: []int{400, 409, 422},
	}, h.createStaff)
	policy.Register(api, gate, PermDisable, huma.Operation{
		OperationID: "set-user-disabled", Method: http.MethodPut, Path: "/api/v1/admin/users/{id}/disabled", Tags: []string{"admin"},
		Summary: "Disable or re-enable an account; disabling ends its sessions at once", Errors: []int{400, 404, 409},
	}, h.setDisabled)
}

// allowBeforeNewPassword tells the gate what an account whose password was
// reset may still do: choose a new one, log out, read its profile and see
// plain pages (the password page needs its style sheet).
func allowBeforeNewPassword(gate *policy.Gate) {
	gate.AllowBeforeNewPassword(PermPassword, PermLogout, PermProfile, web.PermPage)
}

type handlers struct {
	svc  *Service
	gate *policy.Gate
	log  *slog.Logger
}

type loginInput struct {
	Body struct {
		Login    string `json:"login" minLength:"1" maxLength:"64" doc:"Mobile number or username"`
		Password string `json:"password" minLength:"1" maxLength:"128"`
	}
	addr string
}

// Resolve captures the client's address for throttling. Fiber's IP honours
// the configured proxy header, so behind a reverse proxy each client is
// throttled on its own address rather than all on the proxy's.
func (in *loginInput) Resolve(ctx huma.Context) []error {
	in.addr = strings.Clone(humafiber.Unwrap(ctx).IP())
	return nil
}

type tokenOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"Send as 'Authorization: Bearer <token>'"`
		ExpiresAt time.Time `json:"expires_at"`
		User      User      `json:"user"`
	}
}

func (h *handlers) login(ctx context.Context, in *loginInput) (*tokenOutput, error) {
	sess, err := h.svc.Login(ctx, in.Body.Login, in.Body.Password, in.addr)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &tokenOutput{}
	out.Body.Token, out.Body.ExpiresAt, out.Body.User = sess.Token, sess.ExpiresAt, sess.User
	return out, nil
}

type logoutInput struct {
	Authorization string `header:"Authorization"`
}

func (h *handlers) logout(ctx context.Context, in *logoutInput) (*struct{}, error) {
	if tok, ok := strings.CutPrefix(in.Authorization, "Bearer "); ok {
		if err := h.svc.Logout(ctx, tok); err != nil {
			return nil, h.problem(err)
		}
	}
	return nil, nil
}

type registerInput struct {
	Body struct {
		Phone       string `json:"phone" maxLength:"32" doc:"Mainland China mobile number"`
		DisplayName string `json:"display_name" maxLength:"200"`
		Password    string `json:"password" maxLength:"256"`
		Work        string `json:"work" enum:"food_delivery,courier,ride_hailing,other"`
		// Not a huma "required" field: a client that leaves it out gets the
		// same sentence as one that sends false, next to the other fields'.
		AcceptPrivacy bool `json:"accept_privacy,omitempty" doc:"true once the person has read the privacy notice (GET /privacy) and agreed to it; registration is refused without it"`
	}
}

type userOutput struct {
	Body User
}

func (h *handlers) register(ctx context.Context, in *registerInput) (*userOutput, error) {
	u, err := h.svc.Register(ctx, RegisterInput{Phone: in.Body.Phone, DisplayName: in.Body.DisplayName, Password: in.Body.Password, Work: in.Body.Work, AcceptPrivacy: in.Body.AcceptPrivacy})
	if err != nil {
		return nil, h.problem(err)
	}
	return &userOutput{Body: u}, nil
}

type meOutput struct {
	Body struct {
		User  User              `json:"user"`
		Roles map[string]string `json:"roles" doc:"Domain → role, e.g. \"cell:CS-0001\": \"officer\""`
	}
}

func (h *handlers) me(ctx context.Context, _ *struct{}) (*meOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	u, err := h.svc.Get(ctx, p.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &meOutput{}
	out.Body.User = u
	out.Body.Roles = map[string]string{}
	en := h.gate.Enforcer()
	for _, role := range []string{policy.RoleRider, policy.RoleOfficer, policy.RoleStationAdmin, policy.RoleAdmin} {
		for _, d := range en.Domains(p.Subject(), role) {
			out.Body.Roles[d] = role
		}
	}
	return out, nil
}

type usersInput struct {
	Q    string `query:"q" maxLength:"64" doc:"Only accounts whose name or login holds this text, any case"`
	Kind string `query:"kind" enum:"rider,officer,station_admin,admin," doc:"Only accounts of this kind"`
	Page int    `query:"page" minimum:"1" default:"1" doc:"Page, from 1"`
}

type usersOutput struct {
	Body UserPage
}

func (h *handlers) list(ctx context.Context, in *usersInput) (*usersOutput, error) {
	page, err := h.svc.Search(ctx, in.Q, in.Kind, in.Page)
	if err != nil {
		return nil, h.problem(err)
	}
	return &usersOutput{Body: page}, nil
}

type passwordInput struct {
	// The credential of the request: its session is the one kept.
	Authorization string `header:"Authorization"`
	Session       string `cookie:"nx_session"`
	Body          struct {
		CurrentPassword string `json:"current_password" maxLength:"256"`
		NewPassword     string `json:"new_password" maxLength:"256"`
	}
}

func (h *handlers) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	p, _ := policy.PrincipalFrom(ctx)
	keep := in.Session
	if t, ok := strings.CutPrefix(in.Authorization, "Bearer "); ok {
		keep = strings.TrimSpace(t)
	}
	if err := h.svc.ChangePassword(ctx, p.UserID, in.Body.CurrentPassword, in.Body.NewPassword, keep); err != nil {
		return nil, h.problem(renamed(err, "password", "new_password"))
	}
	return nil, nil
}

type resetInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body *struct {
		Password string `json:"password,omitempty" maxLength:"256" doc:"The temporary password; leave out to have one made up"`
	} `required:"false"`
}

type resetOutput struct {
	Body struct {
		User              User   `json:"user"`
		TemporaryPassword string `json:"temporary_password" doc:"Shown this once: give it to the account's owner"`
	}
}

func (h *handlers) resetPassword(ctx context.Context, in *resetInput) (*resetOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	pw := ""
	if in.Body != nil {
		pw = in.Body.Password
	}
	u, temp, err := h.svc.ResetPassword(ctx, p.UserID, in.ID, pw)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &resetOutput{}
	out.Body.User, out.Body.TemporaryPassword = u, temp
	return out, nil
}

// renamed gives a validation error on field the API's name for it.
func renamed(err error, field, as string) error {
	var ves ValidationErrors
	if !errors.As(err, &ves) {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		ves = ValidationErrors{ve}
	}
	out := make(ValidationErrors, len(ves))
	for i, v := range ves {
		c := *v
		if c.Field == field {
			c.Field = as
		}
		out[i] = &c
	}
	return out
}

type staffInput struct {
	Body struct {
		Username    string `json:"username" maxLength:"64"`
		DisplayName string `json:"display_name" maxLength:"200"`
		Password    string `json:"password" maxLength:"256"`
		Kind        string `json:"kind" enum:"officer,station_admin,admin"`
	}
}

func (h *handlers) createStaff(ctx context.Context, in *staffInput) (*userOutput, error) {
	u, err := h.svc.CreateStaff(ctx, StaffInput{Username: in.Body.Username, DisplayName: in.Body.DisplayName, Password: in.Body.Password, Kind: in.Body.Kind})
	if err != nil {
		return nil, h.problem(err)
	}
	return &userOutput{Body: u}, nil
}

type disableInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Disabled bool `json:"disabled"`
	}
}

func (h *handlers) setDisabled(ctx context.Context, in *disableInput) (*userOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	u, err := h.svc.SetDisabled(ctx, p.UserID, in.ID, in.Body.Disabled)
	if err != nil {
		return nil, h.problem(err)
	}
	return &userOutput{Body: u}, nil
}

// problem is the one place accounts errors become HTTP statuses.
func (h *handlers) problem(err error) error {
	var ves ValidationErrors
	var ve *ValidationError
	var te *ThrottledError
	switch {
	case errors.As(err, &ves):
		details := make([]error, len(ves))
		for i, v := range ves {
			details[i] = &huma.ErrorDetail{Location: "body." + v.Field, Message: v.Reason}
		}
		return huma.Error422UnprocessableEntity(capitalize(ves.Error()), details...)
	case errors.As(err, &ve):
		return huma.Error422UnprocessableEntity(ve.Error(), &huma.ErrorDetail{Location: "body." + ve.Field, Message: ve.Reason})
	case errors.As(err, &te):
		return huma.ErrorWithHeaders(huma.Error429TooManyRequests(capitalize(te.Error())),
			http.Header{"Retry-After": {strconv.Itoa(int(te.RetryAfter.Seconds()) + 1)}})
	case errors.Is(err, ErrBadCredentials):
		return huma.Error401Unauthorized(capitalize(err.Error()))
	case errors.Is(err, ErrDisabled):
		return huma.Error403Forbidden(capitalize(err.Error()))
	case errors.Is(err, ErrLoginTaken):
		return huma.Error409Conflict(capitalize(err.Error()))
	case errors.Is(err, ErrSelf):
		return huma.Error409Conflict(capitalize(err.Error()))
	case errors.Is(err, ErrSelfReset):
		return huma.Error409Conflict(capitalize(err.Error()))
	case errors.Is(err, ErrNotFound):
		return huma.Error404NotFound("No account with that id.")
	}
	h.log.Error("accounts", "err", err)
	return huma.Error500InternalServerError("Something went wrong on our side; please try again.")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b) + "."
}
