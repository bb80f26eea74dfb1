// Package problem is the error document of Nuanxin's JSON API: RFC 9457
// problem+json with a stable `code`, so that a client (the report form's
// script, a phone app) can show its own message in the user's language
// instead of the English `detail`. Every domain returns these from its API
// handlers; importing the package also makes huma's own errors (schema
// validation, body limits) carry a code.
package problem

import (
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Error is a problem document with a stable code.
type Error struct {
	huma.ErrorModel
	Code string `json:"code,omitempty" doc:"Stable code of the problem, e.g. photo.unsupported_format; the detail is English text for people"`
}

// New makes a problem. details are per-field errors (huma.ErrorDetail).
func New(status int, code, detail string, details ...error) *Error {
	e := &Error{ErrorModel: huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: detail}, Code: code}
	for _, d := range details {
		if d == nil {
			continue
		}
		if c, ok := d.(huma.ErrorDetailer); ok {
			e.Errors = append(e.Errors, c.ErrorDetail())
		} else {
			e.Errors = append(e.Errors, &huma.ErrorDetail{Message: d.Error()})
		}
	}
	return e
}

// CodeOf is the code of a status when nothing more precise is known.
func CodeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusLengthRequired:
		return "length_required"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

func init() {
	// huma builds its own errors (request validation, unknown fields,
	// oversized bodies) through this variable: give them a code too.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return New(status, CodeOf(status), msg, errs...)
	}
}
