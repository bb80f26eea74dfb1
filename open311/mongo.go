package open311

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

const keysCollection = "open311_keys"

// Indexes lists the indexes open311 needs: the unique hash of each key, by
// which every submission is authenticated, and the listing order.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: keysCollection, Name: "hash_unique", Keys: bson.D{{Key: "hash", Value: 1}}, Unique: true},
		{Collection: keysCollection, Name: "created", Keys: bson.D{{Key: "created_at", Value: -1}}},
	}
}

// keyDoc is a stored key: the key and the SHA-256 of its plaintext.
type keyDoc struct {
	Key  `bson:",inline"`
	Hash string `bson:"hash"`
}

type keyStore struct {
	keys *mongo.Collection
}

func newKeyStore(db *mongo.Database) *keyStore {
	return &keyStore{keys: db.Collection(keysCollection)}
}

func (s *keyStore) insert(ctx context.Context, d keyDoc) error {
	if _, err := s.keys.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("store API key: %w", err)
	}
	return nil
}

func (s *keyStore) byHash(ctx context.Context, hash string) (keyDoc, error) {
	var d keyDoc
	err := s.keys.FindOne(ctx, bson.D{{Key: "hash", Value: hash}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return keyDoc{}, ErrKeyNotFound
	}
	if err != nil {
		return keyDoc{}, fmt.Errorf("find API key: %w", err)
	}
	return d, nil
}

func (s *keyStore) list(ctx context.Context, limit int64) ([]Key, error) {
	cur, err := s.keys.Find(ctx, bson.D{}, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetProjection(bson.D{{Key: "hash", Value: 0}}).
		SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	out := []Key{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out, nil
}

// revoke sets the revoked flag. Revocation only ever goes one way, so a plain
// update is safe under concurrency: two revokes agree on the outcome. A
// second revoke keeps the first time.
func (s *keyStore) revoke(ctx context.Context, id string, at time.Time) error {
	res, err := s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revoked", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}, {Key: "revoked_at", Value: at}}}})
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	n, err := s.keys.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if n == 0 {
		return ErrKeyNotFound
	}
	return nil
}
