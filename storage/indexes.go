package storage

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index is one index a domain needs. Domains declare theirs; EnsureIndexes
// creates them at start. Creating an index that already exists with the same
// keys and options is a no-op on MongoDB and FerretDB, so this is idempotent.
type Index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
}

// EnsureIndexes creates every index that is missing.
func EnsureIndexes(ctx context.Context, db *mongo.Database, idx []Index) error {
	for _, ix := range idx {
		opts := options.Index().SetName(ix.Name)
		if ix.Unique {
			opts.SetUnique(true)
		}
		_, err := db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: opts})
		if err != nil {
			return fmt.Errorf("create index %s.%s: %w", ix.Collection, ix.Name, err)
		}
	}
	return nil
}
