package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// IndexIDs makes FerretDB's lookups by _id use an index: SQLite's plan for
// the exact query FerretDB sends names the index (before, a full scan), and
// the documents are still found.
func TestIndexIDsServesLookupsByID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := storage.Open(ctx, storage.Config{DataDir: dir, MongoDatabase: "nuanxin"}, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	c := s.DB.Collection("things")
	for i := range 50 {
		if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("t%03d", i)}, {Key: "n", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() string {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "documents", "nuanxin.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var table string
		if err := db.QueryRow(`SELECT table_name FROM "_ferretdb_collections" WHERE name = 'things'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), `"t007"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	before := plan()
	if strings.Contains(before, "USING INDEX") {
		t.Logf("FerretDB's own _id index already serves the lookup: %s", before)
	}
	created, err := s.IndexIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := plan()
	t.Logf("plan before: %s; after (%d indexes created): %s", before, created, after)
	if !strings.Contains(after, "_nuanxin_id") {
		t.Errorf("the lookup by _id does not use the index: %s", after)
	}
	if again, err := s.IndexIDs(ctx); err != nil || again != 0 {
		t.Errorf("a second pass created %d indexes (err %v), want 0", again, err)
	}
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "t007"}}).Decode(&got); err != nil || got.N != 7 {
		t.Errorf("FindOne by _id after indexing: %+v %v", got, err)
	}
	if _, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: "t008"}}); err != nil {
		t.Error(err)
	}
	if n, err := c.CountDocuments(ctx, bson.D{}); err != nil || n != 49 {
		t.Errorf("%d documents after one delete, want 49 (%v)", n, err)
	}
}
