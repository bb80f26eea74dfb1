package accounts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	usersCollection    = "users"
	sessionsCollection = "sessions"
	attemptsCollection = "login_attempts"
	// loginsCollection maps a login (phone number or username) to its
	// account by _id, so that logging in reads two documents by _id rather
	// than searching the users by login, which the embedded store answers
	// by reading every account (DESIGN.md). The users' unique login index
	// stays the rule that a login is taken once; this is a lookup table.
	loginsCollection = "logins"
)

// Indexes lists the indexes accounts need.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: usersCollection, Name: "login_unique", Keys: bson.D{{Key: "login", Value: 1}}, Unique: true},
		{Collection: usersCollection, Name: "kind_created", Keys: bson.D{{Key: "kind", Value: 1}, {Key: "created_at", Value: 1}}},
		{Collection: sessionsCollection, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: sessionsCollection, Name: "expires", Keys: bson.D{{Key: "expires_at", Value: 1}}},
		{Collection: attemptsCollection, Name: "expires", Keys: bson.D{{Key: "expires_at", Value: 1}}},
	}
}

type sessionDoc struct {
	ID        string    `bson:"_id"` // SHA-256 of the token: a leaked table grants nothing
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// attemptDoc is one claimed login attempt slot. Its _id is the throttle key,
// the window and the slot number, so that claiming is a unique insert: the
// only write that is atomic on every supported store.
type attemptDoc struct {
	ID        string    `bson:"_id"`
	ExpiresAt time.Time `bson:"expires_at"` // end of the window, for pruning
}

type loginDoc struct {
	Login  string `bson:"_id"`
	UserID string `bson:"user_id"`
}

type store struct {
	users, sessions, attempts, logins *mongo.Collection
	claims                            storage.KeyedLocks[int] // one throttle key's claimers take turns; the state is the slot to try first
}

func newStore(db *mongo.Database) *store {
	return &store{
		users:    db.Collection(usersCollection),
		sessions: db.Collection(sessionsCollection),
		attempts: db.Collection(attemptsCollection),
		logins:   db.Collection(loginsCollection),
	}
}

func (s *store) insertUser(ctx context.Context, u User) error {
	_, err := s.users.InsertOne(ctx, u)
	if storage.IsDuplicateKey(err) {
		return ErrLoginTaken
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	// A failure here is mended by the next login (userByLogin), so the
	// account stands either way.
	_ = s.rememberLogin(ctx, u.Login, u.ID)
	return nil
}

// rememberLogin records login → id. A record left by a deleted account is
// replaced.
func (s *store) rememberLogin(ctx context.Context, login, id string) error {
	_, err := s.logins.ReplaceOne(ctx, bson.D{{Key: "_id", Value: login}}, loginDoc{Login: login, UserID: id}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

func (s *store) deleteUser(ctx context.Context, id string) error {
	_, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// userByLogin finds an account by its login through the logins table, by
// _id. An account the table does not name (made before the table existed,
// or whose record was not written) is found by a search of the users once,
// and recorded. A record is believed only if the account it names has that
// login, so a stale one (its account deleted) is never followed. A login
// that names no account still searches the users: login attempts are
// throttled per login and address, which bounds how often.
func (s *store) userByLogin(ctx context.Context, login string) (User, error) {
	var l loginDoc
	err := s.logins.FindOne(ctx, bson.D{{Key: "_id", Value: login}}).Decode(&l)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return User{}, fmt.Errorf("find login: %w", err)
	}
	if err == nil {
		u, err := s.userBy(ctx, "_id", l.UserID)
		if err == nil && u.Login == login {
			return u, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return User{}, err
		}
	}
	u, err := s.userBy(ctx, "login", login)
	if err != nil {
		return User{}, err
	}
	if rerr := s.rememberLogin(ctx, login, u.ID); rerr != nil {
		return u, nil // found; the record is written by a later login
	}
	return u, nil
}

func (s *store) userBy(ctx context.Context, field, value string) (User, error) {
	var u User
	err := s.users.FindOne(ctx, bson.D{{Key: field, Value: value}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

func (s *store) listUsers(ctx context.Context, kind Kind, limit int64) ([]User, error) {
	filter := bson.D{}
	if kind != "" {
		filter = bson.D{{Key: "kind", Value: kind}}
	}
	cur, err := s.users.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "kind", Value: 1}, {Key: "created_at", Value: 1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users := []User{}
	if err := cur.All(ctx, &users); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// setPassword replaces an account's password hash and says whether it must
// be changed at the next login.
func (s *store) setPassword(ctx context.Context, id, hash string, mustChange bool) error {
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "password_hash", Value: hash}, {Key: "must_change_password", Value: mustChange}}}})
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// searchUsers returns one page of the accounts whose name or login holds q
// (any case), of one kind if kind is set, and how many match in all.
//
// On the embedded store this reads the whole accounts collection (only _id
// lookups use an index there, DESIGN.md): an admin page, used now and then,
// over a collection that grows with people rather than with reports. A city
// running on MongoDB gets the indexes on kind and login.
func (s *store) searchUsers(ctx context.Context, q string, kind Kind, skip, limit int64) ([]User, int64, error) {
	filter := bson.D{}
	if kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: kind})
	}
	if q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "display_name", Value: re}}, bson.D{{Key: "login", Value: re}}}})
	}
	total, err := s.users.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	cur, err := s.users.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "kind", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetSkip(skip).SetLimit(limit))
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	users := []User{}
	if err := cur.All(ctx, &users); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

func (s *store) setDisabled(ctx context.Context, id string, disabled bool) error {
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: disabled}}}})
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *store) insertSession(ctx context.Context, d sessionDoc) error {
	if _, err := s.sessions.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

func (s *store) session(ctx context.Context, id string) (sessionDoc, error) {
	var d sessionDoc
	err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("find session: %w", err)
	}
	return d, nil
}

func (s *store) deleteSession(ctx context.Context, id string) error {
	_, err := s.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

func (s *store) deleteSessionsOf(ctx context.Context, userID string) error {
	_, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// deleteSessionsExcept ends the account's sessions but the one with id keep
// ("" keeps none).
func (s *store) deleteSessionsExcept(ctx context.Context, userID, keep string) error {
	filter := bson.D{{Key: "user_id", Value: userID}}
	if keep != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}})
	}
	if _, err := s.sessions.DeleteMany(ctx, filter); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

func (s *store) deleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	return err
}

func slotID(prefix string, n int) string { return prefix + ":" + strconv.Itoa(n) }

// claimSlot claims a free slot among 1..limit under prefix (a key and its
// window) by inserting it, and returns its id, or "" when every slot is
// taken. Concurrent callers, in this instance or another, each get a
// different slot or none, so at most limit of them proceed: the unique _id
// decides. Inside this instance the claimers of one key take turns, starting
// where the last one succeeded, so that a burst costs one insert per claim
// rather than one per slot already taken (optimistic claims collapse under
// contention, DESIGN.md). When the last slot is taken the key is most likely
// exhausted (slots fill from 1 up), which one read by _id tells without
// trying limit inserts: the usual case for an attacker's further requests.
func (s *store) claimSlot(ctx context.Context, prefix string, limit int, expires time.Time) (string, error) {
	next, unlock := s.claims.Lock(prefix) // the slot to try first
	defer unlock()
	err := s.attempts.FindOne(ctx, bson.D{{Key: "_id", Value: slotID(prefix, limit)}}).Err()
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return "", fmt.Errorf("read login attempts: %w", err)
	}
	// Round from the hint, so that a slot given back below it (an attempt
	// that succeeded) is found before refusing.
	start := min(max(*next, 1), limit)
	for i := range limit {
		n := (start-1+i)%limit + 1
		id := slotID(prefix, n)
		_, err := s.attempts.InsertOne(ctx, attemptDoc{ID: id, ExpiresAt: expires})
		if err == nil {
			*next = n + 1
			return id, nil
		}
		if !storage.IsDuplicateKey(err) {
			return "", fmt.Errorf("claim login attempt: %w", err)
		}
	}
	return "", nil
}

// releaseSlot frees a claimed slot: the attempt it stood for is not a failure.
func (s *store) releaseSlot(ctx context.Context, id string) error {
	if _, err := s.attempts.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("release login attempt: %w", err)
	}
	return nil
}

// clearSlots frees every slot under prefix, one delete by _id each: any
// other filter would read the whole collection on the embedded store.
func (s *store) clearSlots(ctx context.Context, prefix string, limit int) error {
	for n := 1; n <= limit; n++ {
		if err := s.releaseSlot(ctx, slotID(prefix, n)); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) pruneAttempts(ctx context.Context, now time.Time) error {
	_, err := s.attempts.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	return err
}
