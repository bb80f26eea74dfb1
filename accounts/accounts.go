// Package accounts owns identity: riders who register themselves, staff
// (officers, station admins, admins) created by an admin, passwords, sessions
// and the throttling of failed logins.
package accounts

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is what an account is for. The kind says which role an account starts
// with; where a staff member holds a role (which cells, which station) is
// recorded in the policy store.
type Kind string

// Account kinds.
const (
	KindRider        Kind = "rider"
	KindOfficer      Kind = "officer"
	KindStationAdmin Kind = "station_admin"
	KindAdmin        Kind = "admin"
)

// Work is the platform work a rider does.
type Work string

// Platform work.
const (
	WorkFoodDelivery Work = "food_delivery"
	WorkCourier      Work = "courier"
	WorkRideHailing  Work = "ride_hailing"
	WorkOther        Work = "other"
)

// Works lists the valid Work values in display order.
var Works = []Work{WorkFoodDelivery, WorkCourier, WorkRideHailing, WorkOther}

// StaffKinds lists the kinds an admin may create.
var StaffKinds = []Kind{KindOfficer, KindStationAdmin, KindAdmin}

// User is an account. PasswordHash never leaves the package's JSON.
type User struct {
	ID           string    `bson:"_id" json:"id"`
	Login        string    `bson:"login" json:"login"`
	Phone        string    `bson:"phone,omitempty" json:"phone,omitempty"`
	DisplayName  string    `bson:"display_name" json:"display_name"`
	Kind         Kind      `bson:"kind" json:"kind"`
	Work         Work      `bson:"work,omitempty" json:"work,omitempty"`
	PasswordHash string    `bson:"password_hash" json:"-"`
	Disabled     bool      `bson:"disabled" json:"disabled"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
	// Privacy is the notice a rider agreed to when registering; staff
	// accounts, made by an admin, have none.
	Privacy *Consent `bson:"privacy,omitempty" json:"privacy,omitempty"`
	// MustChangePassword: an admin reset the password to a temporary one,
	// which works only to choose a new one (policy.Gate).
	MustChangePassword bool `bson:"must_change_password,omitempty" json:"must_change_password,omitempty"`
}

// Consent records which privacy notice a person agreed to, and when.
type Consent struct {
	Version string    `bson:"version" json:"version"`
	At      time.Time `bson:"at" json:"at"`
}

// PrivacyVersion names the privacy notice the /privacy page shows. Change it
// whenever the notice's substance changes, so that each account's consent
// says which text it was given to.
const PrivacyVersion = "2026-11-29"

// Errors.
var (
	ErrNotFound       = errors.New("account not found")
	ErrLoginTaken     = errors.New("that phone number or username is already registered")
	ErrBadCredentials = errors.New("the phone number/username or password is wrong")
	ErrDisabled       = errors.New("this account has been disabled; contact your station or grid office")
	ErrSelf           = errors.New("you cannot disable your own account")
	ErrSelfReset      = errors.New("you cannot reset your own password; change it on your account's password page")
)

// ValidationError says which input field is wrong and how to fix it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ValidationErrors is every wrong field of one input, in the order the form
// asks for them: a person fixes them all in one go instead of discovering
// them one submission at a time. errors.As finds the first *ValidationError
// in it.
type ValidationErrors []*ValidationError

func (e ValidationErrors) Error() string {
	parts := make([]string, len(e))
	for i, v := range e {
		parts[i] = v.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the errors one by one, for errors.As and errors.Is.
func (e ValidationErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, v := range e {
		out[i] = v
	}
	return out
}

// validationErrors collects the *ValidationErrors among errs (nil ones
// skipped) into one error; any other error is returned as it is.
func validationErrors(errs ...error) error {
	var all ValidationErrors
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		all = append(all, ve)
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// ThrottleScope names the limit that refused a login.
type ThrottleScope string

// Throttle scopes, checked in this order.
const (
	// ScopeAccountAddress: too many failures for this account from this
	// address. The owner elsewhere can still log in.
	ScopeAccountAddress ThrottleScope = "account_address"
	// ScopeAddress: too many failures from this address, whatever the account.
	ScopeAddress ThrottleScope = "address"
	// ScopeAccount: too many failures for this account from all addresses
	// together, a distributed attack; it refuses the owner too.
	ScopeAccount ThrottleScope = "account"
)

// ThrottledError says a login was refused because of repeated failures, and
// when to try again. Callers answer 429 with Retry-After.
type ThrottledError struct {
	RetryAfter time.Duration
	Scope      ThrottleScope
	// PerAddress is Scope == ScopeAddress, for callers that only tell the
	// address limit apart from the account limits.
	PerAddress bool
}

// Minutes is RetryAfter in whole minutes, rounded up and at least 1: trying
// again after that many minutes is not refused by the same limit.
func (e *ThrottledError) Minutes() int {
	return max(1, int((e.RetryAfter+time.Minute-1)/time.Minute))
}

func (e *ThrottledError) Error() string {
	switch e.Scope {
	case ScopeAddress:
		return fmt.Sprintf("too many failed logins from your network address; try again in %d minute(s)", e.Minutes())
	case ScopeAccount:
		return fmt.Sprintf("too many failed logins for this account from many network addresses, so it is locked for now; try again in %d minute(s)", e.Minutes())
	}
	return fmt.Sprintf("too many failed logins for this account from your network address; try again in %d minute(s)", e.Minutes())
}

var (
	phoneRe    = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	usernameRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]{2,31}$`)
)

// NormalizePhone returns the 11-digit form of a mainland mobile number,
// accepting a +86/0086 prefix and spaces or dashes, or a ValidationError.
func NormalizePhone(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+86"), "0086")
	if !phoneRe.MatchString(s) {
		return "", &ValidationError{Field: "phone", Reason: "enter a mainland China mobile number: 11 digits starting with 13–19, e.g. 13800138000"}
	}
	return s, nil
}

// NormalizeUsername returns the lower-case username or a ValidationError.
func NormalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !usernameRe.MatchString(s) {
		return "", &ValidationError{Field: "username", Reason: "3–32 characters: a letter first, then letters, digits, '_', '.' or '-'"}
	}
	return s, nil
}

// normalizeLogin accepts either a phone number or a username.
func normalizeLogin(s string) (string, bool) {
	if p, err := NormalizePhone(s); err == nil {
		return p, true
	}
	if u, err := NormalizeUsername(s); err == nil {
		return u, true
	}
	return "", false
}

// CleanDisplayName trims the name and checks it is 1–32 printable characters.
func CleanDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n == 0 || n > 32 {
		return "", &ValidationError{Field: "display_name", Reason: "enter a name of 1 to 32 characters"}
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", &ValidationError{Field: "display_name", Reason: "the name contains characters that cannot be shown"}
		}
	}
	return s, nil
}

// CheckPassword enforces the password rules.
func CheckPassword(pw, login string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return &ValidationError{Field: "password", Reason: "the password is not valid text"}
	case n < 8:
		return &ValidationError{Field: "password", Reason: "use at least 8 characters"}
	case len(pw) > 128:
		return &ValidationError{Field: "password", Reason: "use at most 128 bytes"}
	case strings.EqualFold(pw, login):
		return &ValidationError{Field: "password", Reason: "the password must not be your phone number or username"}
	}
	return nil
}

// ParseWork checks a platform work value.
func ParseWork(s string) (Work, error) {
	for _, w := range Works {
		if string(w) == s {
			return w, nil
		}
	}
	return "", &ValidationError{Field: "work", Reason: "choose one of food_delivery, courier, ride_hailing, other"}
}

// ParseStaffKind checks a kind an admin may create.
func ParseStaffKind(s string) (Kind, error) {
	for _, k := range StaffKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", &ValidationError{Field: "kind", Reason: "choose one of officer, station_admin, admin"}
}
