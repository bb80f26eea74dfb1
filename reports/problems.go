package reports

import (
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// Problem is how an error of this package is told: the HTTP status, a stable
// code that pages and clients turn into a message in the user's language,
// and an English detail. It is the one error table of reports: the JSON
// API, the pages and Open311 all use it.
type Problem struct {
	Status  int
	Code    string
	Detail  string
	Field   string   // the input at fault, for a validation error,
	Reason  string   // and what is wrong with it
	Action  Action   // a refused transition: what was tried,
	From    Status   // in which status,
	Allowed []Action // and what that status allows
}

// Codes of the problems that are not about a photo or one field. A photo
// problem's code is "photo." + PhotoError.Code; a field's is "invalid." +
// the field.
const (
	CodeNotFound     = "report.not_found"
	CodeForbidden    = "report.not_your_cell"
	CodeTransition   = "report.action_not_allowed"
	CodeIdempotency  = "report.key_reused"
	CodeConflict     = "report.conflict"
	CodeUnavailable  = "report.unavailable"
	codePhotoPrefix  = "photo."
	codeFieldPrefix  = "invalid."
	codeDefaultField = "invalid"
)

// ProblemOf says how to tell err. ok is false for an unexpected error, which
// the caller logs and answers with a plain 500.
func ProblemOf(err error) (p Problem, ok bool) {
	var pe *PhotoError
	var ve *ValidationError
	var te *TransitionError
	switch {
	case errors.As(err, &pe):
		// "photo 2: " from Submit, then the reason a rider can act on.
		p = Problem{Status: http.StatusUnprocessableEntity, Code: codePhotoPrefix + pe.Code, Field: "photos",
			Detail: capitalize(strings.TrimSuffix(err.Error(), pe.Error()) + pe.Reason)}
		switch pe.Code {
		case PhotoTooLarge:
			p.Status = http.StatusRequestEntityTooLarge
		case PhotoUnsupported:
			p.Status = http.StatusUnsupportedMediaType
		}
		return p, true
	case errors.As(err, &ve):
		code := codeDefaultField
		if ve.Field != "" {
			code = codeFieldPrefix + ve.Field
		}
		return Problem{Status: http.StatusUnprocessableEntity, Code: code, Field: ve.Field, Reason: ve.Reason, Detail: ve.Error()}, true
	case errors.As(err, &te):
		return Problem{Status: http.StatusConflict, Code: CodeTransition, Detail: capitalize(te.Error()),
			Action: te.Action, From: te.Status, Allowed: te.Allowed}, true
	case errors.Is(err, ErrIdempotencyKey):
		return Problem{Status: http.StatusUnprocessableEntity, Code: CodeIdempotency, Field: "Idempotency-Key", Detail: capitalize(err.Error())}, true
	case errors.Is(err, ErrNotFound):
		return Problem{Status: http.StatusNotFound, Code: CodeNotFound, Detail: "No such report, or it is not yours to see."}, true
	case errors.Is(err, policy.ErrForbidden):
		return Problem{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "This report is outside the grid cells where you may act."}, true
	case errors.Is(err, ErrConflict):
		return Problem{Status: http.StatusConflict, Code: CodeConflict, Detail: capitalize(err.Error())}, true
	case errors.Is(err, ErrUnavailable):
		return Problem{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Detail: capitalize(ErrUnavailable.Error())}, true
	}
	return Problem{}, false
}

// APIError is the problem document of p.
func (p Problem) APIError() *problem.Error {
	var details []error
	switch {
	case p.Reason != "":
		details = append(details, &huma.ErrorDetail{Location: p.Field, Message: p.Reason})
	case len(p.Allowed) > 0:
		for _, a := range p.Allowed {
			details = append(details, &huma.ErrorDetail{Location: "allowed_actions", Value: a, Message: string(a)})
		}
	}
	return problem.New(p.Status, p.Code, p.Detail, details...)
}
