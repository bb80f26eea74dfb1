package storage

import (
	"context"
	"fmt"
	"sync"

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

// LazyIndexes creates a set of indexes the first time a writer needs them,
// for code that may run before the application's start has created them (a
// migration, a consumer in a test); a failed attempt is tried again next
// time. The zero value is ready to use.
type LazyIndexes struct {
	mu   sync.Mutex
	done bool
}

// Ensure creates idx on db unless an earlier call has.
func (l *LazyIndexes) Ensure(ctx context.Context, db *mongo.Database, idx []Index) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	if err := EnsureIndexes(ctx, db, idx); err != nil {
		return err
	}
	l.done = true
	return nil
}
