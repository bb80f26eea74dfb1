package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

func TestBlobsEmbedded(t *testing.T) {
	testBlobContract(t, storagetest.Blobs(t))

	t.Run("presign unavailable", func(t *testing.T) {
		b := storagetest.Blobs(t)
		mustPut(t, b, "a.txt", []byte("hello"), "text/plain", nil)
		_, err := b.Presign(t.Context(), "a.txt", time.Minute)
		if !errors.Is(err, storage.ErrPresignUnavailable) {
			t.Fatalf("Presign: got %v, want ErrPresignUnavailable (gofakes3 does not check signatures)", err)
		}
	})
	t.Run("open", func(t *testing.T) {
		testOpenBlobs(t, storagetest.EmbeddedS3Config(t))
	})
}

func TestBlobsMinIO(t *testing.T) {
	testBlobContract(t, storagetest.MinIO(t))

	t.Run("presign available", func(t *testing.T) {
		b := storagetest.MinIO(t)
		mustPut(t, b, "a.txt", []byte("hello"), "text/plain", nil)
		if _, err := b.Presign(t.Context(), "a.txt", time.Minute); err != nil {
			t.Fatalf("Presign against MinIO: %v", err)
		}
	})
	t.Run("open", func(t *testing.T) {
		testOpenBlobs(t, storagetest.MinIOConfig(t))
	})
}

// testBlobContract checks what every object store behind storage.Blobs must do.
// Each subtest uses b's bucket under its own key prefix.
func testBlobContract(t *testing.T, b *storage.Blobs) {
	t.Run("put get round trip", func(t *testing.T) {
		ctx := t.Context()
		body := []byte("\x89PNG fake photo bytes")
		meta := map[string]string{"reporter": "r-17", "report-id": "66a1f0", "name": "井盖.png"}
		mustPut(t, b, "roundtrip/photo.png", body, "image/png", meta)

		rc, info, err := b.Get(ctx, "roundtrip/photo.png")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("body: got %q, want %q", got, body)
		}
		checkInfo(t, info, storage.ObjectInfo{Key: "roundtrip/photo.png", Size: int64(len(body)), ContentType: "image/png", Metadata: meta})
	})

	t.Run("stat", func(t *testing.T) {
		meta := map[string]string{"reporter": "r-18"}
		mustPut(t, b, "stat/a.jpg", []byte("jpeg"), "image/jpeg", meta)
		info, err := b.Stat(t.Context(), "stat/a.jpg")
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		checkInfo(t, info, storage.ObjectInfo{Key: "stat/a.jpg", Size: 4, ContentType: "image/jpeg", Metadata: meta})
	})

	t.Run("missing key", func(t *testing.T) {
		ctx := t.Context()
		rc, _, err := b.Get(ctx, "missing/nothing-here")
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get: got %v, want ErrNotFound", err)
		}
		if _, err := b.Stat(ctx, "missing/nothing-here"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat: got %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		ctx := t.Context()
		mustPut(t, b, "delete/a.txt", []byte("x"), "text/plain", nil)
		if err := b.Delete(ctx, "delete/a.txt"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := b.Stat(ctx, "delete/a.txt"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat after Delete: got %v, want ErrNotFound", err)
		}
		if err := b.Delete(ctx, "delete/never-existed.txt"); err != nil {
			t.Errorf("Delete of a missing key: got %v, want nil", err)
		}
	})

	t.Run("list by prefix", func(t *testing.T) {
		for _, k := range []string{"list/b/2.txt", "list/a/1.txt", "list/a/2.txt", "list/ab.txt", "other/a/1.txt"} {
			mustPut(t, b, k, []byte(k), "text/plain", nil)
		}
		tests := []struct {
			prefix string
			want   []string
		}{
			{"list/a/", []string{"list/a/1.txt", "list/a/2.txt"}},
			{"list/a", []string{"list/a/1.txt", "list/a/2.txt", "list/ab.txt"}},
			{"list/", []string{"list/a/1.txt", "list/a/2.txt", "list/ab.txt", "list/b/2.txt"}},
			{"list/none/", nil},
		}
		for _, tt := range tests {
			got, err := b.List(t.Context(), tt.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q): got %q, want %q", tt.prefix, got, tt.want)
			}
		}
	})

	// A store may refuse to presign; a URL it does hand out must work and
	// must not survive tampering.
	t.Run("presign", func(t *testing.T) {
		body := []byte("presigned photo")
		mustPut(t, b, "presign/p.jpg", body, "image/jpeg", nil)
		u, err := b.Presign(t.Context(), "presign/p.jpg", 5*time.Minute)
		if errors.Is(err, storage.ErrPresignUnavailable) {
			return
		}
		if err != nil {
			t.Fatalf("Presign: %v", err)
		}
		status, got := httpGet(t, u.String())
		if status != http.StatusOK || !bytes.Equal(got, body) {
			t.Errorf("GET presigned URL: got %d %q, want 200 %q", status, got, body)
		}
		if status, _ := httpGet(t, tamper(t, u)); status != http.StatusForbidden {
			t.Errorf("GET tampered presigned URL: got %d, want 403", status)
		}
	})
}

// testOpenBlobs checks that OpenBlobs creates a missing bucket and that
// opening the same bucket again (a second instance, a restart) works.
func testOpenBlobs(t *testing.T, cfg storage.BlobConfig) {
	ctx := t.Context()
	first, err := storage.OpenBlobs(ctx, cfg)
	if err != nil {
		t.Fatalf("first OpenBlobs: %v", err)
	}
	if got := first.Bucket(); got != cfg.Bucket {
		t.Errorf("Bucket: got %q, want %q", got, cfg.Bucket)
	}
	mustPut(t, first, "k", []byte("v"), "text/plain", nil)
	second, err := storage.OpenBlobs(ctx, cfg)
	if err != nil {
		t.Fatalf("second OpenBlobs of the same bucket: %v", err)
	}
	if _, err := second.Stat(ctx, "k"); err != nil {
		t.Errorf("Stat through the second handle: %v", err)
	}

	short := cfg
	short.Bucket = "ab"
	if _, err := storage.OpenBlobs(ctx, short); err == nil {
		t.Errorf("OpenBlobs with a 2-character bucket name: got nil error")
	}
}

func TestRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	body := []byte("photo bytes that must survive a restart")
	meta := map[string]string{"reporter": "r-1"}

	s := mustOpen(t, dir)
	if !s.EmbeddedDocs || !s.EmbeddedBlobs {
		t.Fatalf("Embedded: got docs=%v blobs=%v, want both", s.EmbeddedDocs, s.EmbeddedBlobs)
	}
	if _, err := s.DB.Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: "t1"}, {Key: "name", Value: "井盖"}}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	mustPut(t, s.Blobs, "photos/1.jpg", body, "image/jpeg", meta)
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, dir)
	defer s.Close(context.Background())
	var doc struct {
		ID   string `bson:"_id"`
		Name string `bson:"name"`
	}
	if err := s.DB.Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: "t1"}}).Decode(&doc); err != nil {
		t.Fatalf("FindOne after restart: %v", err)
	}
	if doc.Name != "井盖" {
		t.Errorf("document after restart: got name %q, want %q", doc.Name, "井盖")
	}
	rc, info, err := s.Blobs.Get(ctx, "photos/1.jpg")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("object after restart: got %q, want %q", got, body)
	}
	checkInfo(t, info, storage.ObjectInfo{Key: "photos/1.jpg", Size: int64(len(body)), ContentType: "image/jpeg", Metadata: meta})
}

// TestOpenFailure checks that Open reports a store it cannot reach, after the
// embedded document store it already started, instead of hanging or panicking.
func TestOpenFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	cfg := storage.Config{DataDir: t.TempDir(), S3Endpoint: "127.0.0.1:1", S3AccessKey: "a", S3SecretKey: "b"}
	s, err := storage.Open(ctx, cfg, storagetest.Logger())
	if err == nil {
		s.Close(context.Background())
		t.Fatalf("Open with an unreachable object store: got nil error")
	}
	if s != nil {
		t.Errorf("Open failed with %v but returned non-nil stores", err)
	}
}

func TestEnsureIndexesIdempotent(t *testing.T) {
	ctx := t.Context()
	db := storagetest.Docs(t)
	idx := []storage.Index{
		{Collection: "votes", Name: "one_vote_per_member", Keys: bson.D{{Key: "proposal", Value: 1}, {Key: "member", Value: 1}}, Unique: true},
		{Collection: "votes", Name: "by_proposal", Keys: bson.D{{Key: "proposal", Value: 1}}},
	}
	for i := range 2 {
		if err := storage.EnsureIndexes(ctx, db, idx); err != nil {
			t.Fatalf("EnsureIndexes, call %d: %v", i+1, err)
		}
	}
	votes := db.Collection("votes")
	if _, err := votes.InsertOne(ctx, bson.D{{Key: "proposal", Value: "p1"}, {Key: "member", Value: "m1"}}); err != nil {
		t.Fatalf("first vote: %v", err)
	}
	_, err := votes.InsertOne(ctx, bson.D{{Key: "proposal", Value: "p1"}, {Key: "member", Value: "m1"}})
	if !storage.IsDuplicateKey(err) {
		t.Fatalf("second vote: got %v, want a duplicate-key error", err)
	}
	if _, err := votes.InsertOne(ctx, bson.D{{Key: "proposal", Value: "p1"}, {Key: "member", Value: "m2"}}); err != nil {
		t.Fatalf("another member's vote: %v", err)
	}
	if storage.IsDuplicateKey(errors.New("other")) || storage.IsDuplicateKey(nil) || storage.IsDuplicateKey(mongo.ErrNoDocuments) {
		t.Errorf("IsDuplicateKey reports true for an unrelated error")
	}
}

func TestPing(t *testing.T) {
	t.Run("stores up", func(t *testing.T) {
		s := mustOpen(t, t.TempDir())
		defer s.Close(context.Background())
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("object store stopped", func(t *testing.T) {
		emb, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
		if err != nil {
			t.Fatalf("StartEmbeddedS3: %v", err)
		}
		b, err := storage.OpenBlobs(t.Context(), storage.BlobConfig{
			Endpoint: emb.Endpoint, AccessKey: emb.AccessKey, SecretKey: emb.SecretKey, Bucket: "ping-test",
		})
		if err != nil {
			emb.Stop()
			t.Fatalf("OpenBlobs: %v", err)
		}
		if err := b.Ping(t.Context()); err != nil {
			t.Errorf("Ping while up: %v", err)
		}
		emb.Stop()
		// minio-go retries a refused connection for about 5 s before giving
		// up; a readiness probe bounds Ping with its own deadline, as here.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if err := b.Ping(ctx); err == nil {
			t.Errorf("Ping after the server stopped: got nil, want an error")
		}
	})
}

func mustOpen(t *testing.T, dir string) *storage.Stores {
	t.Helper()
	s, err := storage.Open(t.Context(), storage.Config{DataDir: dir}, storagetest.Logger())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func mustPut(t *testing.T, b *storage.Blobs, key string, body []byte, contentType string, meta map[string]string) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(body), int64(len(body)), contentType, meta); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func checkInfo(t *testing.T, got, want storage.ObjectInfo) {
	t.Helper()
	if got.Key != want.Key || got.Size != want.Size || got.ContentType != want.ContentType {
		t.Errorf("info: got key %q size %d type %q, want key %q size %d type %q",
			got.Key, got.Size, got.ContentType, want.Key, want.Size, want.ContentType)
	}
	if want.Metadata == nil {
		want.Metadata = map[string]string{}
	}
	if !maps.Equal(got.Metadata, want.Metadata) {
		t.Errorf("metadata: got %q, want %q", got.Metadata, want.Metadata)
	}
}

// httpGet fetches url with a plain HTTP client, as a browser would.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("request %s: %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// tamper returns u with one character of its signature changed.
func tamper(t *testing.T, u *url.URL) string {
	t.Helper()
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	if sig == "" {
		t.Fatalf("presigned URL has no X-Amz-Signature: %s", u)
	}
	last := sig[len(sig)-1:]
	repl := "0"
	if last == "0" {
		repl = "1"
	}
	q.Set("X-Amz-Signature", strings.TrimSuffix(sig, last)+repl)
	v := *u
	v.RawQuery = q.Encode()
	return v.String()
}
