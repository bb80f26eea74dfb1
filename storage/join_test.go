package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// TestJoinerAnswersEachWriterItsOwnOutcome: 64 writers insert at once, two
// of each _id; the joined writes store each _id once, and exactly one of
// the two writers of each is told it collided.
func TestJoinerAnswersEachWriterItsOwnOutcome(t *testing.T) {
	ctx := context.Background()
	coll := storagetest.Docs(t).Collection("joined")
	ins := storage.JoinInserts(coll)
	var mu sync.Mutex
	ok, dup := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			id := fmt.Sprint("d", i/2)
			err := ins.Do(ctx, bson.D{{Key: "_id", Value: id}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok[id]++
			case storage.IsDuplicateKey(err):
				dup[id]++
			default:
				t.Errorf("insert %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	for i := range 32 {
		id := fmt.Sprint("d", i)
		if ok[id] != 1 || dup[id] != 1 {
			t.Errorf("%s: %d stored, %d told it collided; want 1 and 1", id, ok[id], dup[id])
		}
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 32 {
		t.Fatalf("%d documents (%v), want 32", n, err)
	}

	del := storage.JoinDeletes(coll)
	for i := range 32 {
		wg.Go(func() {
			if err := del.Do(ctx, fmt.Sprint("d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d documents left (%v), want 0", n, err)
	}
}
