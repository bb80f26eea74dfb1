package reports

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// Permissions of satisfaction (回访). Riders hold report:rate for their own
// reports only: the service checks the report is theirs (Service.Rate) and
// answers 404 otherwise. report:dispute (deciding a dispute: uphold, and
// listing them) is for admins only, through admin *:*; the uphold action is
// posted to the actions route, whose report:handle officers hold too, so
// its handler checks report:dispute itself (mayDecide).
const (
	PermRate    policy.Permission = "report:rate"
	PermDispute policy.Permission = "report:dispute"
)

// CodeAdminsOnly is the problem code of an officer's uphold.
const CodeAdminsOnly = "report.admins_only"

// mayDecide checks the caller may decide disputes: an admin, everywhere.
func mayDecide(ctx context.Context, gate *policy.Gate) error {
	if gate.Check(ctx, PermDispute, policy.DomainAll) != nil {
		return problem.New(http.StatusForbidden, CodeAdminsOnly,
			"Only an administrator decides a disputed resolution (uphold it or reopen the report).")
	}
	return nil
}

// ratingRoutes mounts the rating and disputes API.
func (h *handlers) ratingRoutes(api huma.API) {
	policy.Register(api, h.gate, PermRate, huma.Operation{
		OperationID: "rate-report", Method: http.MethodPost, Path: "/api/v1/reports/{id}/rate", Tags: []string{"reports"},
		Summary: "Rate the resolution of my report (回访): satisfied, basic or unsatisfied, once per resolution, within 7 days",
		Description: "`unsatisfied` needs a `comment` saying what is still wrong: it goes to the administrators, who uphold the resolution " +
			"or reopen the report. A report not resolved, rated already, or resolved more than 7 days ago answers 409; a bad rating 422.",
		DefaultStatus: http.StatusCreated, Errors: []int{404, 409, 422, 503},
	}, h.rate)
	policy.Register(api, h.gate, PermDispute, huma.Operation{
		OperationID: "list-disputes", Method: http.MethodGet, Path: "/api/v1/admin/disputes", Tags: []string{"admin"},
		Summary: "Reports rated unsatisfied and awaiting a decision: uphold (POST …/actions {\"action\":\"uphold\",\"note\":…}) or reopen",
	}, h.disputes)
}

type rateInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Rating  string `json:"rating" enum:"satisfied,basic,unsatisfied" doc:"satisfied (满意), basic (基本满意) or unsatisfied (不满意)"`
		Comment string `json:"comment,omitempty" maxLength:"2000" doc:"up to 500 characters; required for unsatisfied"`
	}
}

func (h *handlers) rate(ctx context.Context, in *rateInput) (*entryOutput, error) {
	p, _ := policy.PrincipalFrom(ctx)
	e, err := h.svc.Rate(ctx, p.UserID, in.ID, RatingInput{Rating: in.Body.Rating, Comment: in.Body.Comment})
	if err != nil {
		if re, ok := asRateError(err); ok {
			var details []error
			if re.Code == RateWindowPassed {
				details = append(details, &huma.ErrorDetail{Location: "rating_until", Value: re.Until, Message: "the rating period ended at this time"})
			}
			return nil, problem.New(http.StatusConflict, re.Code, capitalize(re.Error()), details...)
		}
		return nil, h.problem(err)
	}
	return &entryOutput{Status: http.StatusCreated, Body: e}, nil
}

type disputesOutput struct {
	Body struct {
		Disputes []DisputeJSON `json:"disputes"`
	}
}

// DisputeJSON is a dispute with what an admin decides it on.
type DisputeJSON struct {
	Dispute
	Category string `json:"category"`
	Comment  string `json:"comment" doc:"the reporter's reason"`
}

func (h *handlers) disputes(ctx context.Context, _ *struct{}) (*disputesOutput, error) {
	ds, rs, err := h.svc.Disputes(ctx)
	if err != nil {
		return nil, h.problem(err)
	}
	out := &disputesOutput{}
	out.Body.Disputes = make([]DisputeJSON, 0, len(ds))
	for i, d := range ds {
		comment, err := h.svc.ratingComment(ctx, rs[i])
		if err != nil {
			return nil, h.problem(err)
		}
		out.Body.Disputes = append(out.Body.Disputes, DisputeJSON{Dispute: d, Category: rs[i].Category, Comment: comment})
	}
	return out, nil
}
