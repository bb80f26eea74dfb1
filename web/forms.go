package web

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// FormState is a form's input kept for showing it again (never passwords)
// and its problems: Errors by field, Error for the form as a whole. A page's
// data embeds it, so templates read .Page.Values, .Page.Errors and
// .Page.Error.
type FormState struct {
	Values map[string]string
	Errors map[string]string
	Error  string
}

// NewFormState returns an empty form.
func NewFormState() FormState {
	return FormState{Values: map[string]string{}, Errors: map[string]string{}}
}

// Choice is one option of a radio group or select.
type Choice struct {
	Value, Label string
	Checked      bool
}

// Form returns a copy of a form field: Fiber reuses the request's memory.
func Form(c *fiber.Ctx, name string) string {
	return strings.Clone(c.FormValue(name))
}

// SafeNext returns next when it is a path on this site, else "/": a login
// link must not send anyone to another site.
func SafeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, r := range next {
		// Browsers read a backslash as a slash ("/\evil.example") and drop
		// tabs and newlines.
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
