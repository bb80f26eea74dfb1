package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
)

// Roles is what accounts needs from the policy store: to give a new account
// the role its kind starts with.
type Roles interface {
	Grant(ctx context.Context, subject, role, domain string) error
}

// Throttle limits: after this many failures inside Window, logins for the
// account (or from the address) are refused until the oldest failure leaves it.
const (
	MaxFailuresPerAccount = 5
	MaxFailuresPerAddress = 20
	FailureWindow         = 15 * time.Minute
	SessionTTL            = 30 * 24 * time.Hour
)

// Service manages accounts and sessions.
type Service struct {
	store *store
	roles Roles
	log   *slog.Logger
	now   func() time.Time
}

// NewService builds the accounts service.
func NewService(db *mongo.Database, roles Roles, log *slog.Logger) *Service {
	return &Service{store: newStore(db), roles: roles, log: log, now: func() time.Time { return time.Now().UTC() }}
}

// RegisterInput is what a rider sends to register.
type RegisterInput struct {
	Phone       string
	DisplayName string
	Password    string
	Work        string
}

// Register creates a rider account. It returns a *ValidationError for bad
// input and ErrLoginTaken when the phone number is registered already.
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, error) {
	phone, err := NormalizePhone(in.Phone)
	if err != nil {
		return User{}, err
	}
	name, err := CleanDisplayName(in.DisplayName)
	if err != nil {
		return User{}, err
	}
	work, err := ParseWork(in.Work)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(in.Password, phone); err != nil {
		return User{}, err
	}
	u := User{ID: bson.NewObjectID().Hex(), Login: phone, Phone: phone, DisplayName: name, Kind: KindRider, Work: work,
		PasswordHash: hashPassword(in.Password), CreatedAt: s.now()}
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
	u := User{ID: bson.NewObjectID().Hex(), Login: login, DisplayName: name, Kind: kind,
		PasswordHash: hashPassword(in.Password), CreatedAt: s.now()}
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
// network address, for throttling. Errors: ErrBadCredentials, ErrDisabled,
// *ThrottledError, *ValidationError.
func (s *Service) Login(ctx context.Context, login, password, addr string) (Session, error) {
	now := s.now()
	norm, ok := normalizeLogin(login)
	if !ok {
		return Session{}, &ValidationError{Field: "login", Reason: "enter your mobile number or username"}
	}
	acctKey, addrKey := "login:"+norm, "addr:"+addr
	if err := s.checkThrottle(ctx, acctKey, MaxFailuresPerAccount, false, now); err != nil {
		return Session{}, err
	}
	if addr != "" {
		if err := s.checkThrottle(ctx, addrKey, MaxFailuresPerAddress, true, now); err != nil {
			return Session{}, err
		}
	}
	u, err := s.store.userBy(ctx, "login", norm)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, err
	}
	hash := u.PasswordHash
	if errors.Is(err, ErrNotFound) {
		hash = dummyHash()
	}
	match, herr := checkPassword(hash, password)
	if herr != nil {
		return Session{}, herr
	}
	if errors.Is(err, ErrNotFound) || !match {
		s.recordFailure(ctx, now, acctKey, addrKey)
		return Session{}, ErrBadCredentials
	}
	if u.Disabled {
		return Session{}, ErrDisabled
	}
	if err := s.store.clearFailures(ctx, acctKey); err != nil {
		s.log.Warn("clear failed logins", "err", err)
	}
	token := randomToken(32)
	sess := sessionDoc{ID: tokenID(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.insertSession(ctx, sess); err != nil {
		return Session{}, err
	}
	return Session{Token: token, ExpiresAt: sess.ExpiresAt, User: u}, nil
}

func (s *Service) checkThrottle(ctx context.Context, key string, max int, perAddr bool, now time.Time) error {
	times, err := s.store.failuresSince(ctx, key, now.Add(-FailureWindow), int64(max))
	if err != nil {
		return err
	}
	if len(times) < max {
		return nil
	}
	return &ThrottledError{RetryAfter: times[0].Add(FailureWindow).Sub(now), PerAddress: perAddr}
}

func (s *Service) recordFailure(ctx context.Context, now time.Time, keys ...string) {
	for _, k := range keys {
		if k == "addr:" {
			continue
		}
		if err := s.store.addFailure(ctx, k, now); err != nil {
			s.log.Warn("record failed login", "err", err)
		}
	}
	// Old entries serve no purpose; pruning here keeps the table small
	// without a background job.
	if err := s.store.pruneFailures(ctx, now.Add(-2*FailureWindow)); err != nil {
		s.log.Warn("prune failed logins", "err", err)
	}
}

// Logout ends the session of token. Ending an unknown session is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	return s.store.deleteSession(ctx, tokenID(token))
}

// Authenticate resolves a session token to its account. It answers
// policy.ErrUnauthenticated for an unknown or expired session and for a
// disabled account, checked on every call so disabling takes effect at once.
func (s *Service) Authenticate(ctx context.Context, token string) (policy.Principal, error) {
	if token == "" || len(token) > 128 {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	sess, err := s.store.session(ctx, tokenID(token))
	if errors.Is(err, ErrNotFound) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	if err != nil {
		return policy.Principal{}, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	u, err := s.store.userBy(ctx, "_id", sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	if err != nil {
		return policy.Principal{}, err
	}
	if u.Disabled {
		return policy.Principal{}, policy.ErrUnauthenticated
	}
	return policy.Principal{UserID: u.ID, Kind: string(u.Kind), DisplayName: u.DisplayName, Login: u.Login}, nil
}

// Get returns the account with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	return s.store.userBy(ctx, "_id", id)
}

// Active reports whether the account exists and is enabled: whether it can
// take work.
func (s *Service) Active(ctx context.Context, id string) (bool, error) {
	u, err := s.store.userBy(ctx, "_id", id)
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
	return s.store.userBy(ctx, "login", norm)
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

// SetDisabled disables or re-enables an account. Disabling ends its sessions
// at once. An admin cannot disable their own account (ErrSelf).
func (s *Service) SetDisabled(ctx context.Context, actorID, id string, disabled bool) (User, error) {
	if disabled && actorID == id {
		return User{}, ErrSelf
	}
	if err := s.store.setDisabled(ctx, id, disabled); err != nil {
		return User{}, err
	}
	if disabled {
		// Authenticate checks the flag on every request, so this is tidying,
		// not what makes the disable take effect.
		if err := s.store.deleteSessionsOf(ctx, id); err != nil {
			s.log.Warn("end sessions of disabled account", "user", id, "err", err)
		}
	}
	return s.Get(ctx, id)
}

// EnsureAdmin creates the "admin" account on first start. With an empty
// password one is generated and returned (to be shown once). When the account
// exists already it returns created=false. Two instances starting at once are
// safe: the unique login decides which one creates it.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, pw string, err error) {
	if _, err := s.store.userBy(ctx, "login", "admin"); err == nil {
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

// PruneSessions deletes expired sessions.
func (s *Service) PruneSessions(ctx context.Context) error {
	return s.store.deleteExpiredSessions(ctx, s.now())
}

func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
