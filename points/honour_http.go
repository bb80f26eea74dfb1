package points

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// honourRoutes mounts the honour and adjustment API: leaderboards and the
// 公示 (public), the rider's public-name choice and honour, adjustments
// (admins, four eyes) and the CSV exports (auditors).
func honourRoutes(api huma.API, gate *policy.Gate, s *Service) {
	h := &honourAPI{s: s, log: s.Log}
	tags := []string{"points"}
	policy.Register(api, gate, PermHonour, huma.Operation{
		OperationID: "points-leaderboard", Method: http.MethodGet, Path: "/api/v1/points/leaderboard", Tags: tags,
		Summary:     "A month's leaderboard of the city, a district or a station",
		Description: "Riders are shown by display name only if they chose so, otherwise by a masked name; never by phone number.",
		Errors:      []int{422},
	}, h.leaderboard)
	policy.Register(api, gate, PermHonour, huma.Operation{
		OperationID: "points-notice", Method: http.MethodGet, Path: "/api/v1/points/notice", Tags: tags,
		Summary: "The 公示 notice board: every award of a month, and every clawback", Errors: []int{422},
	}, h.notice)
	policy.Register(api, gate, PermAudit, huma.Operation{
		OperationID: "points-notice-csv", Method: http.MethodGet, Path: "/api/v1/points/notice.csv", Tags: tags,
		Summary: "The 公示 of a month as CSV", Errors: []int{422},
		Responses: csvResponses(),
	}, h.noticeCSV)
	policy.Register(api, gate, PermAudit, huma.Operation{
		OperationID: "points-statement-csv", Method: http.MethodGet, Path: "/api/v1/points/riders/{id}/statement.csv", Tags: tags,
		Summary: "Every entry of a rider's account with the running balance, as CSV", Errors: []int{422},
		Responses: csvResponses(),
	}, h.statementCSV)
	policy.Register(api, gate, PermWallet, huma.Operation{
		OperationID: "points-my-honour", Method: http.MethodGet, Path: "/api/v1/points/me/honour", Tags: tags,
		Summary: "My level, next level, badges and whether my name is shown on public pages",
	}, h.myHonour)
	policy.Register(api, gate, PermWallet, huma.Operation{
		OperationID: "points-set-public-name", Method: http.MethodPut, Path: "/api/v1/points/me/public-name", Tags: tags,
		Summary: "Choose whether the leaderboards and the 公示 show my display name (otherwise a masked name)",
	}, h.setPublicName)
	policy.Register(api, gate, PermAdjust, huma.Operation{
		OperationID: "points-propose-adjustment", Method: http.MethodPost, Path: "/api/v1/points/adjustments", Tags: tags,
		Summary:       "Propose a manual adjustment of a rider's points",
		Description:   "A different admin must approve it before it posts. amount: non-zero, at most 100,000 either way; reason: required, at most 500 characters.",
		DefaultStatus: http.StatusCreated, Errors: []int{422},
	}, h.propose)
	policy.Register(api, gate, PermAdjust, huma.Operation{
		OperationID: "points-list-adjustments", Method: http.MethodGet, Path: "/api/v1/points/adjustments", Tags: tags,
		Summary: "Adjustments, newest first, with their state (pending, approved, rejected, stalled)",
	}, h.list)
	policy.Register(api, gate, PermAdjust, huma.Operation{
		OperationID: "points-approve-adjustment", Method: http.MethodPost, Path: "/api/v1/points/adjustments/{id}/approve", Tags: tags,
		Summary:     "Approve an adjustment and post it",
		Description: "Refused (403) to the admin who proposed it. Approving an approved adjustment again completes its post if it was interrupted, and posts nothing twice.",
		Errors:      []int{403, 404, 409, 422},
	}, h.approve)
	policy.Register(api, gate, PermAdjust, huma.Operation{
		OperationID: "points-reject-adjustment", Method: http.MethodPost, Path: "/api/v1/points/adjustments/{id}/reject", Tags: tags,
		Summary: "Reject a pending adjustment, with a reason", Errors: []int{404, 409, 422},
	}, h.reject)
}

type honourAPI struct {
	s   *Service
	log *slog.Logger
}

func csvResponses() map[string]*huma.Response {
	return map[string]*huma.Response{"200": {Description: "CSV, UTF-8, with a header row",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}}}
}

// monthOrNow is the month asked for, or the current one in Zone.
func monthOrNow(m string) string {
	if m == "" {
		return MonthKey(time.Now())
	}
	return m
}

type boardInput struct {
	Month string `query:"month" maxLength:"7" doc:"2006-01, in China time; default this month"`
	Scope string `query:"scope" maxLength:"200" doc:"city (default), district:<name> or station:<id>"`
	Limit int    `query:"limit" minimum:"0" maximum:"500" doc:"at most this many rows; default 50"`
}

type boardOutput struct {
	Body struct {
		Month  string     `json:"month"`
		Scope  string     `json:"scope"`
		Scopes []string   `json:"scopes" doc:"the scopes with a board this month"`
		Rows   []BoardRow `json:"rows"`
	}
}

func (h *honourAPI) leaderboard(ctx context.Context, in *boardInput) (*boardOutput, error) {
	month, scope := monthOrNow(in.Month), in.Scope
	if scope == "" {
		scope = ScopeCity
	}
	if err := h.s.Honour.Refresh(ctx); err != nil {
		return nil, h.problem(err)
	}
	rows, err := h.s.Honour.Board(ctx, month, scope, in.Limit)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &boardOutput{}
	out.Body.Month, out.Body.Scope, out.Body.Scopes, out.Body.Rows = month, scope, h.s.Honour.Scopes(month), rows
	if out.Body.Rows == nil {
		out.Body.Rows = []BoardRow{}
	}
	return out, nil
}

type monthInput struct {
	Month string `query:"month" maxLength:"7" doc:"2006-01, in China time; default this month"`
}

type noticeOutput struct {
	Body struct {
		Month string      `json:"month"`
		Rows  []NoticeRow `json:"rows"`
	}
}

func (h *honourAPI) notice(ctx context.Context, in *monthInput) (*noticeOutput, error) {
	month := monthOrNow(in.Month)
	if err := h.s.Honour.Refresh(ctx); err != nil {
		return nil, h.problem(err)
	}
	rows, err := h.s.Honour.Notice(ctx, month)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &noticeOutput{}
	out.Body.Month, out.Body.Rows = month, rows
	if out.Body.Rows == nil {
		out.Body.Rows = []NoticeRow{}
	}
	return out, nil
}

// csvStream answers a CSV built in memory first, so that a failure half
// way is a clean error status rather than a truncated file.
func csvStream(name string, b []byte) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hctx.SetHeader("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
		hctx.SetHeader("Content-Length", strconv.Itoa(len(b)))
		hctx.SetHeader("Cache-Control", "no-store")
		hctx.SetHeader("X-Content-Type-Options", "nosniff")
		_, _ = hctx.BodyWriter().Write(b)
	}}
}

func (h *honourAPI) noticeCSV(ctx context.Context, in *monthInput) (*huma.StreamResponse, error) {
	month := monthOrNow(in.Month)
	if err := h.s.Honour.Refresh(ctx); err != nil {
		return nil, h.problem(err)
	}
	var buf bytes.Buffer
	if err := h.s.Honour.NoticeCSV(ctx, &buf, month); err != nil {
		return nil, h.problem(err)
	}
	return csvStream("notice-"+month+".csv", buf.Bytes()), nil
}

type riderInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h *honourAPI) statementCSV(ctx context.Context, in *riderInput) (*huma.StreamResponse, error) {
	var buf bytes.Buffer
	if err := StatementCSV(ctx, h.s.Ledger, &buf, Rider(in.ID)); err != nil {
		return nil, h.problem(err)
	}
	return csvStream("statement-"+safeFileName(in.ID)+".csv", buf.Bytes()), nil
}

// safeFileName keeps a download's name to letters, digits, - and _.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			return r
		}
		return '_'
	}, s)
}

type myHonourOutput struct {
	Body struct {
		RiderHonour
		ShowName bool `json:"show_name" doc:"my display name is shown on public pages"`
	}
}

func (h *honourAPI) myHonour(ctx context.Context, _ *struct{}) (*myHonourOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	if err := h.s.Honour.Refresh(ctx); err != nil {
		return nil, h.problem(err)
	}
	rh, err := h.s.Honour.Rider(ctx, me.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	show, err := h.s.Honour.ShowsPublicName(ctx, me.UserID)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &myHonourOutput{}
	out.Body.RiderHonour, out.Body.ShowName = rh, show
	return out, nil
}

type publicNameInput struct {
	Body struct {
		Show bool `json:"show" doc:"true: show my display name on the leaderboards and the 公示"`
	}
}

type publicNameOutput struct {
	Body struct {
		Show bool `json:"show"`
	}
}

func (h *honourAPI) setPublicName(ctx context.Context, in *publicNameInput) (*publicNameOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	if err := h.s.Honour.SetPublicName(ctx, me.UserID, in.Body.Show); err != nil {
		return nil, h.problem(err)
	}
	out := &publicNameOutput{}
	out.Body.Show = in.Body.Show
	return out, nil
}

type proposeInput struct {
	Body struct {
		Rider  string `json:"rider" maxLength:"64" doc:"the rider's user id"`
		Amount int64  `json:"amount" minimum:"-100000" maximum:"100000" doc:"points to add (positive) or deduct (negative); not zero"`
		Reason string `json:"reason" maxLength:"2000" doc:"why; required, at most 500 characters"`
	}
}

type adjustmentOutput struct {
	Body Adjustment
}

func (h *honourAPI) propose(ctx context.Context, in *proposeInput) (*adjustmentOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	adj, err := h.s.Adjust.Propose(ctx, me.UserID, in.Body.Rider, in.Body.Amount, in.Body.Reason)
	if err != nil {
		return nil, h.problem(err)
	}
	return &adjustmentOutput{Body: adj}, nil
}

type listAdjustmentsInput struct {
	Limit int `query:"limit" minimum:"0" maximum:"500" doc:"default 50"`
}

type adjustmentsOutput struct {
	Body struct {
		Adjustments []Adjustment `json:"adjustments"`
	}
}

func (h *honourAPI) list(ctx context.Context, in *listAdjustmentsInput) (*adjustmentsOutput, error) {
	list, err := h.s.Adjust.List(ctx, in.Limit)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &adjustmentsOutput{}
	out.Body.Adjustments = list
	if list == nil {
		out.Body.Adjustments = []Adjustment{}
	}
	return out, nil
}

type adjustmentIDInput struct {
	ID string `path:"id" maxLength:"40"`
}

func (h *honourAPI) approve(ctx context.Context, in *adjustmentIDInput) (*adjustmentOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	adj, err := h.s.Adjust.Approve(ctx, me.UserID, in.ID)
	if err != nil {
		return nil, h.problem(err)
	}
	return &adjustmentOutput{Body: adj}, nil
}

type rejectInput struct {
	ID   string `path:"id" maxLength:"40"`
	Body struct {
		Reason string `json:"reason" maxLength:"2000" doc:"required, at most 500 characters"`
	}
}

func (h *honourAPI) reject(ctx context.Context, in *rejectInput) (*adjustmentOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	adj, err := h.s.Adjust.Reject(ctx, me.UserID, in.ID, in.Body.Reason)
	if err != nil {
		return nil, h.problem(err)
	}
	return &adjustmentOutput{Body: adj}, nil
}

// sentence turns a wrapped error into a sentence for a client: the text
// after the sentinel's own words, capitalised, with a full stop.
func sentence(err, sentinel error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, sentinel.Error()+": "); ok {
		s = rest
	}
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// problem is where honour and adjustment errors become statuses.
func (h *honourAPI) problem(err error) error {
	switch {
	case errors.Is(err, ErrSelfApproval):
		return problem.New(http.StatusForbidden, "adjust.self_approval", sentence(err, ErrSelfApproval))
	case errors.Is(err, ErrAdjustmentDecided):
		return problem.New(http.StatusConflict, "adjust.decided", sentence(err, ErrAdjustmentDecided))
	case errors.Is(err, ErrNoAdjustment):
		return problem.New(http.StatusNotFound, "adjust.not_found", "There is no adjustment with that id.")
	case errors.Is(err, ErrInsufficient):
		return problem.New(http.StatusConflict, "points.insufficient", sentence(err, ErrInsufficient))
	case errors.Is(err, ErrBadScope):
		return problem.New(http.StatusUnprocessableEntity, "honour.bad_scope", sentence(err, ErrBadScope))
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrOverflow):
		return problem.New(http.StatusUnprocessableEntity, "points.invalid", sentence(err, ErrInvalid))
	case errors.Is(err, ErrBusy):
		return problem.New(http.StatusServiceUnavailable, "points.busy", "The points ledger is busy; please try again.")
	}
	h.log.Error("points: honour", "err", err)
	return problem.New(http.StatusInternalServerError, problem.CodeOf(http.StatusInternalServerError), "Something went wrong on our side; please try again.")
}
