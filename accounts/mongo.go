package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	usersCollection    = "users"
	sessionsCollection = "sessions"
	failuresCollection = "login_failures"
)

// Indexes lists the indexes accounts need.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: usersCollection, Name: "login_unique", Keys: bson.D{{Key: "login", Value: 1}}, Unique: true},
		{Collection: usersCollection, Name: "kind_created", Keys: bson.D{{Key: "kind", Value: 1}, {Key: "created_at", Value: 1}}},
		{Collection: sessionsCollection, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: sessionsCollection, Name: "expires", Keys: bson.D{{Key: "expires_at", Value: 1}}},
		{Collection: failuresCollection, Name: "key_at", Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: 1}}},
		{Collection: failuresCollection, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
	}
}

type sessionDoc struct {
	ID        string    `bson:"_id"` // SHA-256 of the token: a leaked table grants nothing
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

type failureDoc struct {
	ID  bson.ObjectID `bson:"_id"`
	Key string        `bson:"key"`
	At  time.Time     `bson:"at"`
}

type store struct {
	users, sessions, failures *mongo.Collection
}

func newStore(db *mongo.Database) *store {
	return &store{
		users:    db.Collection(usersCollection),
		sessions: db.Collection(sessionsCollection),
		failures: db.Collection(failuresCollection),
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
	return nil
}

func (s *store) deleteUser(ctx context.Context, id string) error {
	_, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
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

func (s *store) deleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	return err
}

// Failed logins are append-only entries, counted over a window: inserts are
// safe under concurrency on every supported store, unlike a counter.
func (s *store) addFailure(ctx context.Context, key string, at time.Time) error {
	_, err := s.failures.InsertOne(ctx, failureDoc{ID: bson.NewObjectID(), Key: key, At: at})
	return err
}

// failures returns the times of key's failures since 'since', oldest first.
func (s *store) failuresSince(ctx context.Context, key string, since time.Time, limit int64) ([]time.Time, error) {
	cur, err := s.failures.Find(ctx, bson.D{{Key: "key", Value: key}, {Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("count failed logins: %w", err)
	}
	var docs []failureDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("count failed logins: %w", err)
	}
	out := make([]time.Time, len(docs))
	for i, d := range docs {
		out[len(docs)-1-i] = d.At
	}
	return out, nil
}

func (s *store) clearFailures(ctx context.Context, key string) error {
	_, err := s.failures.DeleteMany(ctx, bson.D{{Key: "key", Value: key}})
	return err
}

func (s *store) pruneFailures(ctx context.Context, before time.Time) error {
	_, err := s.failures.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}})
	return err
}
