package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
)

// Roles is what accounts needs from the policy store: to give a new account
// the role its kind starts with.
type Roles interface {
	Grant(ctx context.Context, subject, role, domain string) error
}

// Throttle limits. Every login attempt claims a slot of the current
// FailureWindow in each of three scopes before the password is checked, and
// is refused when a scope has no slot left; an attempt with the right
// password gives its slots back. So at most this many wrong passwords are
// checked per window, however many requests arrive at once:
//
//   - MaxFailuresPerAccountAddress for one account from one address: an
//     attacker on one address locks only themself out, and the owner on
//     another address still logs in;
//   - MaxFailuresPerAddress from one address over all accounts, against one
//     address spraying many accounts;
//   - MaxFailuresPerAccount for one account from all addresses together,
//     against a distributed attack. 50 per 15 minutes lets an attacker with
//     many addresses try 4,800 passwords a day, not millions, while it takes
//     ten addresses working together to lock the owner out; the owner's own
//     typos never come near it.
//
// Windows are fixed (aligned to the clock), so across a window's end up to
// twice a limit can be tried in a short time; the rate over time stays
// within the limit.
const (
	MaxFailuresPerAccountAddress = 5
	MaxFailuresPerAddress        = 20
	MaxFailuresPerAccount        = 50
	FailureWindow                = 15 * time.Minute
	SessionTTL                   = 30 * 24 * time.Hour
)

// Service manages accounts and sessions.
type Service struct {
	store *store
	roles Roles
	log   *slog.Logger
	now   func() time.Time
	// hashSlots bounds the argon2 computations running at once: each takes
	// argonMemory (19 MiB), so a burst of logins for many accounts from many
	// addresses, which no throttle refuses, would otherwise take gigabytes.
	hashSlots chan struct{}
	// verify checks a password against its hash; a seam for tests to count
	// the real checks.
	verify func(hash, pw string) (bool, error)
	// cache keeps sessions and accounts briefly: see cache.go.
	cache *authCache
}

// NewService builds the accounts service.
func NewService(db *mongo.Database, roles Roles, log *slog.Logger) *Service {
	return &Service{
		store: newStore(db), roles: roles, log: log,
		now:       func() time.Time { return time.Now().UTC() },
		hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		verify:    checkPassword,
		cache:     newAuthCache(db),
	}
}

// withHashSlot runs f, an argon2 computation, once a slot is free.
func (s *Service) withHashSlot(ctx context.Context, f func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	var h string
	err := s.withHashSlot(ctx, func() { h = hashPassword(pw) })
	return h, err
}

// RegisterInput is what a rider sends to register.
type RegisterInput struct {
	Phone       string
	DisplayName string
	Password    string
	Work        string
	// AcceptPrivacy says the person read the privacy notice (/privacy) and
	// agreed to it: China's Personal Information Protection Law wants
	// consent, informed, before the account and its data exist.
	AcceptPrivacy bool
}

// Register creates a rider account. Bad input gets ValidationErrors naming
// every wrong field at once; a phone number registered already gets
// ErrLoginTaken.
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, error) {
	phone, phoneErr := NormalizePhone(in.Phone)
	name, nameErr := CleanDisplayName(in.DisplayName)
	// Checked against what was typed when the number itself is wrong: the
	// password's own problems are worth saying at the same time.
	pwFor := phone
	if phoneErr != nil {
		pwFor = in.Phone
	}
	pwErr := CheckPassword(in.Password, pwFor)
	work, workErr := ParseWork(in.Work)
	var consentErr error
	if !in.AcceptPrivacy {
		consentErr = &ValidationError{Field: "accept_privacy", Reason: "read the privacy notice and agree to it to register"}
	}
	if err := validationErrors(phoneErr, nameErr, pwErr, workErr, consentErr); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: bson.NewObjectID().Hex(), Login: phone, Phone: phone, DisplayName: name, Kind: KindRider, Work: work,
		PasswordHash: hash, CreatedAt: now, Privacy: &Consent{Version: PrivacyVersion, At: now}}
	return u, s.create(ctx, u, policy.RoleRider)
}

// StaffInput is what an admin sends to create a staff account.
type StaffInput struct {
	Username    string
	DisplayName string
	Password    string
	Kind        string
}

// CreateStaff creates an officer, station admin or admin account. Officers and
// station admins start with no cells or station: an admin assigns those.
func (s *Service) CreateStaff(ctx context.Context, in StaffInput) (User, error) {
	login, err := NormalizeUsername(in.Username)
	if err != nil {
		return User{}, err
	}
	name, err := CleanDisplayName(in.DisplayName)
	if err != nil {
		return User{}, err
	}
	kind, err := ParseStaffKind(in.Kind)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(in.Password, login); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: bson.NewObjectID().Hex(), Login: login, DisplayName: name, Kind: kind,
		PasswordHash: hash, CreatedAt: s.now()}
	role := ""
	if kind == KindAdmin {
		role = policy.RoleAdmin
	}
	return u, s.create(ctx, u, role)
}

// create stores the user and grants the global role its kind starts with. If
// the grant fails the user is removed again, so no account exists without
// the role it was promised.
func (s *Service) create(ctx context.Context, u User, role string) error {
	if err := s.store.insertUser(ctx, u); err != nil {
		return err
	}
	if role == "" {
		return nil
	}
	if err := s.roles.Grant(ctx, policy.Subject(u.ID), role, policy.DomainAll); err != nil {
		if derr := s.store.deleteUser(context.WithoutCancel(ctx), u.ID); derr != nil {
			s.log.Error("remove account after failed grant", "user", u.ID, "err", derr)
		}
		return err
	}
	return nil
}

// Session is a logged-in session. Token is shown once; only its hash is stored.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      User
}

// Login checks the credentials and opens a session. addr is the client's
// network address, for throttling. The attempt is counted before the
// password is checked (see MaxFailuresPerAccountAddress), so concurrent
// requests cannot check more passwords than the limits allow. Errors:
// ErrBadCredentials, ErrDisabled, *ThrottledError, *ValidationError.
func (s *Service) Login(ctx context.Context, login, password, addr string) (Session, error) {
	now := s.now()
	norm, ok := normalizeLogin(login)
	if !ok {
		return Session{}, &ValidationError{Field: "login", Reason: "enter your mobile number or username"}
	}
	att, err := s.claimAttempt(ctx, norm, addr, now)
	if err != nil {
		return Session{}, err
	}
	// From here on, a failed attempt keeps its slots (they are the record of
	// the failure); anything else gives them back.
	u, err := s.store.userByLogin(ctx, norm)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.release(ctx, att)
		return Session{}, err
	}
	unknown := errors.Is(err, ErrNotFound)
	hash := u.PasswordHash
	if unknown {
		// Checked all the same, so that an unknown login answers as slowly
		// as a real one and cannot be told apart.
		hash = dummyHash()
	}
	var match bool
	var herr error
	if err := s.withHashSlot(ctx, func() { match, herr = s.verify(hash, password) }); err != nil {
		s.release(ctx, att)
		return Session{}, err
	}
	if herr != nil {
		s.release(ctx, att)
		return Session{}, herr
	}
	if unknown || !match {
		return Session{}, ErrBadCredentials
	}
	// The right password: whoever sent it is not guessing, so this attempt
	// and the earlier failures of this account from this address stop
	// counting. Failures from other addresses still count against the
	// account, and other accounts' failures against the address.
	s.succeeded(ctx, att)
	if u.Disabled {
		return Session{}, ErrDisabled
	}
	token := randomToken(32)
	sess := sessionDoc{ID: tokenID(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.insertSession(ctx, sess); err != nil {
		return Session{}, err
	}
	// A disable that ran since the account was read above has deleted the
	// account's sessions before this one existed. Read the flag again: if it
	// is set, end this session too; if not, the disable comes later and its
	// deletion will find this session.
	// The same holds for a password reset racing this login: the reset
	// changes the hash, then ends the sessions.
	cur, err := s.store.userBy(ctx, "_id", u.ID)
	if err == nil && !cur.Disabled && cur.PasswordHash == u.PasswordHash {
		return Session{Token: token, ExpiresAt: sess.ExpiresAt, User: u}, nil
	}
	if err == nil && !cur.Disabled {
		if derr := s.store.deleteSession(context.WithoutCancel(ctx), sess.ID); derr != nil {
			return Session{}, fmt.Errorf("end the session of a password reset during login: %w", derr)
		}
		return Session{}, ErrBadCredentials
	}
	if derr := s.store.deleteSession(context.WithoutCancel(ctx), sess.ID); derr != nil {
		return Session{}, fmt.Errorf("end the session of an account disabled during login: %w", derr)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, err
	}
	return Session{}, ErrDisabled
}

// attempt is the slots one login attempt holds, one per throttle scope.
type attempt struct {
	pairPrefix string   // the account-from-address key and window
	slots      []string // ids of the claimed slots
}

// throttleKey is one throttle scope of a login attempt.
type throttleKey struct {
	key   string
	limit int
	scope ThrottleScope
}

// throttleKeys lists the scopes in the order they are claimed. The account
// from this address comes first, so that a guesser refused there takes
// nothing from the budget shared with the owner; the account over all
// addresses comes last for the same reason. Logins hold no '|' and no ':',
// so keys cannot run into each other; addresses may hold ':' (IPv6).
func throttleKeys(login, addr string) []throttleKey {
	keys := []throttleKey{{"la:" + login + "|" + addr, MaxFailuresPerAccountAddress, ScopeAccountAddress}}
	if addr != "" {
		keys = append(keys, throttleKey{"a:" + addr, MaxFailuresPerAddress, ScopeAddress})
	}
	return append(keys, throttleKey{"l:" + login, MaxFailuresPerAccount, ScopeAccount})
}

// claimAttempt claims a slot of the current window in every scope, or none:
// when a scope is full the slots already claimed are given back and a
// *ThrottledError says when the window ends.
func (s *Service) claimAttempt(ctx context.Context, login, addr string, now time.Time) (attempt, error) {
	secs := int64(FailureWindow / time.Second)
	window := now.Unix() / secs
	end := time.Unix((window+1)*secs, 0).UTC()
	suffix := ":" + strconv.FormatInt(window, 10)
	var att attempt
	for i, k := range throttleKeys(login, addr) {
		prefix := k.key + suffix
		if i == 0 {
			att.pairPrefix = prefix
		}
		id, err := s.store.claimSlot(ctx, prefix, k.limit, end)
		if err == nil && id == "" {
			err = &ThrottledError{RetryAfter: end.Sub(now), Scope: k.scope, PerAddress: k.scope == ScopeAddress}
		}
		if err != nil {
			s.release(ctx, att)
			return attempt{}, err
		}
		att.slots = append(att.slots, id)
	}
	return att, nil
}

// release gives back an attempt's slots: it was not a failed password.
// Without the caller's cancellation, so that a client hanging up does not
// leave them counted as failures.
func (s *Service) release(ctx context.Context, att attempt) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range att.slots {
		if err := s.store.releaseSlot(ctx, id); err != nil {
			s.log.Warn("release login attempt", "err", err)
		}
	}
}

// succeeded releases the attempt and clears the account's failures from
// this address. A failure to clear only leaves the count higher: logged, not
// failed, since the login itself is right.
func (s *Service) succeeded(ctx context.Context, att attempt) {
	// The first slot is the pair's, which clearSlots frees with the rest.
	s.release(ctx, attempt{slots: att.slots[1:]})
	if err := s.store.clearSlots(context.WithoutCancel(ctx), att.pairPrefix, MaxFailuresPerAccountAddress); err != nil {
		s.log.Warn("clear failed logins", "err", err)
	}
}

// Logout ends the session of token. Ending an unknown session is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if err := s.store.deleteSession(ctx, tokenID(token)); err != nil {
		return err
	}
	return s.cache.changed(ctx)
}

// Authenticate resolves a session token to its account. It answers
// policy.ErrUnauthenticated for an unknown or expired session and for a
// disabled account. Sessions and accounts are read through the cache
// (cache.go): disabling or logging out takes effect at once on the instance
// that does it, and within one Follow interval on the others.
func (s *Service) Authenticate(ctx context.Context, token string) (policy.Principal, error) {
	if token == "" || len(token) > 128 {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	sess, err := s.sessionByID(ctx, tokenID(token))
	if errors.Is(err, ErrNotFound) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	if err != nil {
		return policy.Principal{}, err
	}
	if !s.now().Before(sess.expires) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	u, err := s.userByID(ctx, sess.userID)
	if errors.Is(err, ErrNotFound) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	if err != nil {
		return policy.Principal{}, err
	}
	if u.Disabled {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	return policy.Principal{UserID: u.ID, Kind: string(u.Kind), DisplayName: u.DisplayName, Login: u.Login,
		MustChangePassword: u.MustChangePassword}, nil
}

// Get returns the account with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	return s.store.userBy(ctx, "_id", id)
}

// Active reports whether the account exists and is enabled: whether it can
// take work.
func (s *Service) Active(ctx context.Context, id string) (bool, error) {
	u, err := s.userByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !u.Disabled, nil
}

// ByLogin returns the account with a phone number or username, or ErrNotFound.
func (s *Service) ByLogin(ctx context.Context, login string) (User, error) {
	norm, ok := normalizeLogin(login)
	if !ok {
		return User{}, ErrNotFound
	}
	return s.store.userByLogin(ctx, norm)
}

// List returns accounts, optionally of one kind, oldest first (at most 1000).
func (s *Service) List(ctx context.Context, kind string) ([]User, error) {
	if kind != "" {
		if _, err := ParseStaffKind(kind); err != nil && kind != string(KindRider) {
			return nil, &ValidationError{Field: "kind", Reason: "choose one of rider, officer, station_admin, admin"}
		}
	}
	return s.store.listUsers(ctx, Kind(kind), 1000)
}

// SetDisabled disables or re-enables an account. An admin cannot disable
// their own account (ErrSelf); an unknown id is ErrNotFound.
//
// Disabling takes effect at once through the flag, which Authenticate reads
// on every request, and then deletes the account's sessions, so that they are
// gone for anything that checks only the session, and cannot come back if the
// account is enabled again. If that deletion fails the account stays disabled
// and the error is returned, for the admin to see and retry: a warning in a
// log would leave the sessions waiting for a re-enable.
//
// Enabling first deletes any session the account still has (one opened by a
// login racing the disable, or left by a failed deletion), so a re-enabled
// account starts with no session; if that fails the account stays disabled.
func (s *Service) SetDisabled(ctx context.Context, actorID, id string, disabled bool) (User, error) {
	if disabled && actorID == id {
		return User{}, ErrSelf
	}
	if disabled {
		if err := s.store.setDisabled(ctx, id, true); err != nil {
			return User{}, err
		}
		if err := s.cache.changed(ctx); err != nil {
			return User{}, fmt.Errorf("the account is disabled here, but other servers may still let it in for a while; disable it again: %w", err)
		}
		if err := s.store.deleteSessionsOf(ctx, id); err != nil {
			return User{}, fmt.Errorf("the account is disabled, but its sessions could not be ended; disable it again: %w", err)
		}
		return s.Get(ctx, id)
	}
	u, err := s.Get(ctx, id)
	if err != nil || !u.Disabled {
		// Enabling an enabled account must not end its sessions.
		return u, err
	}
	if err := s.store.deleteSessionsOf(ctx, id); err != nil {
		return User{}, fmt.Errorf("the account stays disabled: its old sessions could not be ended: %w", err)
	}
	if err := s.store.setDisabled(ctx, id, false); err != nil {
		return User{}, err
	}
	if err := s.cache.changed(ctx); err != nil {
		s.log.Warn("other servers may refuse the enabled account for up to 30 seconds", "err", err)
	}
	return s.Get(ctx, id)
}

// UsersPerPage is how many accounts one page of Search holds.
const UsersPerPage = 50

// UserPage is one page of a search of the accounts.
type UserPage struct {
	Users []User `json:"users"`
	Total int    `json:"total" doc:"accounts matching, on all pages"`
	Page  int    `json:"page" doc:"this page, from 1"`
	Pages int    `json:"pages" doc:"pages in all, at least 1"`
}

// Search finds accounts whose name or login holds q (any case; empty for
// all), optionally of one kind, ordered by kind then age, UsersPerPage at a
// time; page counts from 1.
func (s *Service) Search(ctx context.Context, q, kind string, page int) (UserPage, error) {
	q = strings.TrimSpace(q)
	var errs []error
	if utf8.RuneCountInString(q) > 64 || !utf8.ValidString(q) {
		errs = append(errs, &ValidationError{Field: "q", Reason: "search with at most 64 characters"})
	}
	if kind != "" && !slices.Contains(append([]Kind{KindRider}, StaffKinds...), Kind(kind)) {
		errs = append(errs, &ValidationError{Field: "kind", Reason: "choose one of rider, officer, station_admin, admin"})
	}
	if page < 1 || page > 100_000 {
		errs = append(errs, &ValidationError{Field: "page", Reason: "pages count from 1"})
	}
	if err := validationErrors(errs...); err != nil {
		return UserPage{}, err
	}
	users, total, err := s.store.searchUsers(ctx, q, Kind(kind), int64(page-1)*UsersPerPage, UsersPerPage)
	if err != nil {
		return UserPage{}, err
	}
	return UserPage{Users: users, Total: int(total), Page: page, Pages: max(1, int((total+UsersPerPage-1)/UsersPerPage))}, nil
}

// ResetPassword gives the account a temporary password, which the admin
// hands over in person or by phone, and ends its sessions; until its owner
// chooses a new password with ChangePassword, the account can do nothing
// else (policy.Gate). An empty password makes one up; the password is
// returned to be shown once. Resetting your own is refused (ErrSelfReset): change
// it instead.
func (s *Service) ResetPassword(ctx context.Context, actorID, id, password string) (User, string, error) {
	if actorID == id {
		return User{}, "", ErrSelfReset
	}
	u, err := s.Get(ctx, id)
	if err != nil {
		return User{}, "", err
	}
	if password == "" {
		password = temporaryPassword()
	}
	if err := CheckPassword(password, u.Login); err != nil {
		return User{}, "", err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, "", err
	}
	// The hash first: a login racing the reset reads the account again
	// after making its session and ends it when the hash has changed.
	if err := s.store.setPassword(ctx, id, hash, true); err != nil {
		return User{}, "", err
	}
	if err := s.cache.changed(ctx); err != nil {
		return User{}, "", fmt.Errorf("the password is reset here, but other servers may still accept the old one for a while; reset it again: %w", err)
	}
	if err := s.store.deleteSessionsOf(ctx, id); err != nil {
		return User{}, "", fmt.Errorf("the password is reset, but the account's sessions could not be ended; reset it again: %w", err)
	}
	u, err = s.Get(ctx, id)
	return u, password, err
}

// ChangePassword sets a new password for the account after checking the
// current one, lifts the obligation a reset put on it, and ends the
// account's other sessions: whoever changes a password because it may be
// known elsewhere wants the other phones logged out. keepToken is the
// session the change is made from, kept; empty ends them all. A wrong
// current password is a *ValidationError on current_password.
func (s *Service) ChangePassword(ctx context.Context, id, current, next, keepToken string) error {
	u, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	var match bool
	var herr error
	if err := s.withHashSlot(ctx, func() { match, herr = s.verify(u.PasswordHash, current) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	var errs []error
	if !match {
		errs = append(errs, &ValidationError{Field: "current_password", Reason: "the current password is wrong"})
	}
	if err := CheckPassword(next, u.Login); err != nil {
		errs = append(errs, err)
	} else if next == current {
		errs = append(errs, &ValidationError{Field: "password", Reason: "choose a password different from the current one"})
	}
	if err := validationErrors(errs...); err != nil {
		return err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.setPassword(ctx, id, hash, false); err != nil {
		return err
	}
	keep := ""
	if keepToken != "" {
		keep = tokenID(keepToken)
	}
	if err := s.store.deleteSessionsExcept(ctx, id, keep); err != nil {
		return fmt.Errorf("the password is changed, but the account's other sessions could not be ended; log out on the other devices: %w", err)
	}
	return s.cache.changed(ctx)
}

// temporaryPassword makes a 12-character password of capital letters and
// the digits 2–7 (crypto/rand.Text's base32 alphabet: no 0, 1, 8 or 9 to
// mistake for O, I, B or g when read aloud or copied by hand): 60 bits of
// chance, for one login.
func temporaryPassword() string {
	return rand.Text()[:12]
}

// EnsureAdmin creates the "admin" account on first start. With an empty
// password one is generated and returned (to be shown once). When the account
// exists already it returns created=false. Two instances starting at once are
// safe: the unique login decides which one creates it.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, pw string, err error) {
	if _, err := s.store.userByLogin(ctx, "admin"); err == nil {
		return false, "", nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, "", err
	}
	pw = password
	if pw == "" {
		pw = randomToken(12)
	}
	_, err = s.CreateStaff(ctx, StaffInput{Username: "admin", DisplayName: "管理员 Admin", Password: pw, Kind: string(KindAdmin)})
	if errors.Is(err, ErrLoginTaken) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("create admin account: %w", err)
	}
	return true, pw, nil
}

// PruneSessions deletes expired sessions and the login attempt records of
// past throttle windows. Both read the whole collection on the embedded
// store, so this runs from a periodic job, never on a request.
func (s *Service) PruneSessions(ctx context.Context) error {
	now := s.now()
	if err := s.store.deleteExpiredSessions(ctx, now); err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	if err := s.store.pruneAttempts(ctx, now); err != nil {
		return fmt.Errorf("prune login attempts: %w", err)
	}
	return nil
}

func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
