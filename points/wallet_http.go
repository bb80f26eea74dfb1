package points

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// ExpiringWindow is how far ahead the wallet looks for expiring points.
const ExpiringWindow = 30 * 24 * time.Hour

// walletRoutes mounts the rider's wallet and statement and the auditor's
// reconciliation in the JSON API.
func walletRoutes(api huma.API, gate *policy.Gate, s *Service) {
	h := &walletAPI{s: s}
	policy.Register(api, gate, PermWallet, huma.Operation{
		OperationID: "points-wallet", Method: http.MethodGet, Path: "/api/v1/points/wallet", Tags: []string{"points"},
		Summary: "My points: balance, on hold, available, what expires in the next 30 days, lifetime earned",
	}, h.wallet)
	policy.Register(api, gate, PermWallet, huma.Operation{
		OperationID: "points-statement", Method: http.MethodGet, Path: "/api/v1/points/statement", Tags: []string{"points"},
		Summary:     "My statement, newest first, with the balance after each entry",
		Description: "Pages of `limit` entries (1–200, default 50); pass the last entry's `seq` as `before` for the next page.",
		Errors:      []int{422},
	}, h.statement)
	policy.Register(api, gate, PermAudit, huma.Operation{
		OperationID: "points-reconciliation", Method: http.MethodGet, Path: "/api/v1/points/reconciliation", Tags: []string{"points"},
		Summary: "The last reconciliation of the points ledger", Errors: []int{404},
	}, h.lastReconciliation)
	policy.Register(api, gate, PermAudit, huma.Operation{
		OperationID: "points-reconcile", Method: http.MethodPost, Path: "/api/v1/points/reconciliation", Tags: []string{"points"},
		Summary: "Repair, then reconcile the whole points ledger now", Errors: []int{503},
	}, h.reconcile)
}

type walletAPI struct{ s *Service }

// WalletView is the wallet in the API.
type WalletView struct {
	Balance       int64      `json:"balance" doc:"Posted points; below zero is a debt, and spending is refused until it is repaid"`
	Held          int64      `json:"held" doc:"Reserved for rewards not yet picked up"`
	Available     int64      `json:"available" doc:"What may be spent: balance less held"`
	InDebt        bool       `json:"in_debt"`
	Earned        int64      `json:"earned" doc:"Lifetime points earned (awards less clawbacks); the level is read from it"`
	Expiring      int64      `json:"expiring_30d" doc:"Points that expire in the next 30 days unless spent"`
	ExpiringFirst *time.Time `json:"expiring_first,omitempty" doc:"When the first of them expire"`
	Entries       int64      `json:"entries" doc:"How many entries the statement has"`
}

func (s *Service) wallet(ctx context.Context, userID string) (WalletView, error) {
	w, err := s.Ledger.Wallet(ctx, userID, ExpiringWindow, s.Cfg.LotMonths)
	if err != nil {
		return WalletView{}, err
	}
	v := WalletView{Balance: w.Balance, Held: w.Held, Available: w.Available, InDebt: w.Balance < 0,
		Earned: w.Earned, Expiring: w.Expiring, Entries: w.Seq}
	if !w.ExpiringFirst.IsZero() {
		v.ExpiringFirst = &w.ExpiringFirst
	}
	return v, nil
}

type walletOutput struct{ Body WalletView }

func (h *walletAPI) wallet(ctx context.Context, _ *struct{}) (*walletOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	v, err := h.s.wallet(ctx, me.UserID)
	if err != nil {
		return nil, ledgerProblem(err)
	}
	return &walletOutput{Body: v}, nil
}

// StatementEntry is one line of a statement.
type StatementEntry struct {
	Seq     int64      `json:"seq"`
	At      time.Time  `json:"at"`
	Kind    Kind       `json:"kind"`
	Amount  int64      `json:"amount" doc:"Change of the posted balance"`
	Held    int64      `json:"held_change" doc:"Change of the points on hold"`
	Balance int64      `json:"balance" doc:"Posted balance after the entry"`
	Report  string     `json:"report,omitempty" doc:"The report the entry is for, if any"`
	Ref     string     `json:"ref,omitempty"`
	Note    string     `json:"note,omitempty"`
	Expires *time.Time `json:"expires,omitempty" doc:"For points received: when they expire"`
	Refused bool       `json:"refused,omitempty" doc:"A refused movement: nothing moved"`
}

func statementEntry(e Entry) StatementEntry {
	se := StatementEntry{Seq: e.Seq, At: e.At, Kind: e.Kind, Amount: e.Amount, Held: e.HeldChange, Balance: e.Balance,
		Ref: e.Ref, Note: e.Note, Refused: e.Refused}
	if r, ok := strings.CutPrefix(e.Ref, "report:"); ok {
		se.Report = r
	}
	if !e.Expires.IsZero() {
		se.Expires = &e.Expires
	}
	return se
}

type statementInput struct {
	Before int64 `query:"before" minimum:"0" doc:"Entries before this seq; 0 or absent: from the newest"`
	Limit  int   `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type statementOutput struct {
	Body struct {
		Entries []StatementEntry `json:"entries"`
		Next    int64            `json:"next,omitempty" doc:"Pass as before for the next page; absent on the last"`
	}
}

func (h *walletAPI) statement(ctx context.Context, in *statementInput) (*statementOutput, error) {
	me, _ := policy.PrincipalFrom(ctx)
	es, err := h.s.Ledger.Statement(ctx, Rider(me.UserID), in.Before, in.Limit)
	if err != nil {
		return nil, ledgerProblem(err)
	}
	out := &statementOutput{}
	out.Body.Entries = make([]StatementEntry, 0, len(es))
	for _, e := range es {
		out.Body.Entries = append(out.Body.Entries, statementEntry(e))
	}
	if n := len(es); n == in.Limit && es[n-1].Seq > 1 {
		out.Body.Next = es[n-1].Seq
	}
	return out, nil
}

// ReconciliationView is a reconciliation result in the API.
type ReconciliationView struct {
	At        time.Time `json:"at"`
	Clean     bool      `json:"clean"`
	Accounts  int       `json:"accounts"`
	Entries   int       `json:"entries"`
	Movements int       `json:"movements"`
	Anomalies []string  `json:"anomalies"`
}

func reconciliationView(rep Report) ReconciliationView {
	v := ReconciliationView{At: rep.At, Clean: rep.Clean(), Accounts: rep.Accounts, Entries: rep.Entries, Movements: rep.Movements,
		Anomalies: make([]string, 0, len(rep.Anomalies))}
	for _, a := range rep.Anomalies {
		v.Anomalies = append(v.Anomalies, a.String())
	}
	return v
}

type reconciliationOutput struct{ Body ReconciliationView }

func (h *walletAPI) lastReconciliation(ctx context.Context, _ *struct{}) (*reconciliationOutput, error) {
	rep, err, ran := h.s.Audit.Last()
	if !ran {
		return nil, problem.New(http.StatusNotFound, "points.not_reconciled", "The ledger has not been reconciled since this server started; POST to run it now.")
	}
	if err != nil {
		return nil, problem.New(http.StatusServiceUnavailable, "points.unavailable", "The last reconciliation could not read the ledger: "+err.Error())
	}
	return &reconciliationOutput{Body: reconciliationView(rep)}, nil
}

func (h *walletAPI) reconcile(ctx context.Context, _ *struct{}) (*reconciliationOutput, error) {
	rep, err := h.s.Audit.Run(ctx)
	if err != nil {
		return nil, problem.New(http.StatusServiceUnavailable, "points.unavailable", "Could not read the ledger: "+err.Error())
	}
	return &reconciliationOutput{Body: reconciliationView(rep)}, nil
}

// ledgerProblem turns a ledger error into a problem document; an error it
// does not know is returned as is (a 500).
func ledgerProblem(err error) error {
	switch {
	case errors.Is(err, ErrInvalid):
		return problem.New(http.StatusUnprocessableEntity, "points.invalid", upperFirst(err.Error()))
	case errors.Is(err, ErrInsufficient):
		return problem.New(http.StatusConflict, "points.insufficient", upperFirst(err.Error()))
	case errors.Is(err, ErrOverflow):
		return problem.New(http.StatusUnprocessableEntity, "points.overflow", upperFirst(err.Error()))
	case errors.Is(err, ErrKeyConflict):
		return problem.New(http.StatusUnprocessableEntity, "points.key_conflict", upperFirst(err.Error()))
	case errors.Is(err, ErrNotFound):
		return problem.New(http.StatusNotFound, "points.not_found", upperFirst(err.Error()))
	case errors.Is(err, ErrHoldSettled):
		return problem.New(http.StatusConflict, "points.settled", upperFirst(err.Error()))
	case errors.Is(err, ErrBusy), errors.Is(err, ErrStale):
		return problem.New(http.StatusServiceUnavailable, "points.busy", "The points ledger is busy; try again in a moment.")
	}
	return err
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
