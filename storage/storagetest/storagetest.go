// Package storagetest gives tests real stores: an embedded FerretDB, an
// embedded S3 server, or the MinIO named by NUANXIN_TEST_MINIO. Every call
// returns a fresh database or bucket and registers its own cleanup, so tests
// never share state.
//
// Only test code imports this package.
package storagetest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// MinIOEnv names the environment variable that points the tests at a real
// MinIO, as http://ACCESS:SECRET@HOST:PORT (https for TLS).
const MinIOEnv = "NUANXIN_TEST_MINIO"

// cleanupTimeout bounds each cleanup: t.Context is already canceled when
// cleanups run, so they need a context of their own.
const cleanupTimeout = 30 * time.Second

// Logger returns a logger that discards everything, for stores under test.
func Logger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// Docs starts an embedded FerretDB over SQLite in a temporary directory,
// reached through a Unix socket as in the product, and returns a database
// with a name no other test uses. The server stops and the
// client disconnects when the test ends.
func Docs(t testing.TB) *mongo.Database {
	t.Helper()
	uri, stop, err := storage.StartEmbeddedMongo(t.TempDir(), Logger())
	if err != nil {
		t.Fatalf("start embedded document store: %v", err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		stop()
		t.Fatalf("connect to embedded document store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := client.Disconnect(ctx); err != nil {
			t.Errorf("disconnect from embedded document store: %v", err)
		}
		stop()
	})
	return client.Database("test_" + randomName(16))
}

// Blobs starts an embedded S3 server over a temporary directory, reached
// through a Unix socket as in the product, and opens a fresh bucket on it, without presigned URLs (the embedded server does not
// check signatures). The server stops when the test ends.
func Blobs(t testing.TB) *storage.Blobs {
	t.Helper()
	return open(t, EmbeddedS3Config(t))
}

// EmbeddedS3Config starts an embedded S3 server over a temporary directory and
// returns the configuration of a bucket that does not exist yet, for tests of
// storage.OpenBlobs itself. The server stops when the test ends.
func EmbeddedS3Config(t testing.TB) storage.BlobConfig {
	t.Helper()
	emb, err := storage.StartEmbeddedS3(t.TempDir(), Logger())
	if err != nil {
		t.Fatalf("start embedded object store: %v", err)
	}
	t.Cleanup(emb.Stop)
	return storage.BlobConfig{
		Endpoint:  emb.Endpoint,
		AccessKey: emb.AccessKey,
		SecretKey: emb.SecretKey,
		Bucket:    bucketName(),
		Presign:   false,
	}
}

// MinIO opens a fresh bucket, with presigned URLs, on the MinIO named by
// NUANXIN_TEST_MINIO. When the variable is empty the test is skipped, or
// fails when CI is set (to any value), so that CI cannot pass without
// exercising a real server. The bucket and everything in it are removed when the test ends.
func MinIO(t testing.TB) *storage.Blobs {
	t.Helper()
	return open(t, MinIOConfig(t))
}

// MinIOConfig returns the configuration of a bucket that does not exist yet on
// the MinIO named by NUANXIN_TEST_MINIO, for tests of storage.OpenBlobs itself.
// It skips or fails like MinIO. If the bucket gets created, it and its objects
// are removed when the test ends.
func MinIOConfig(t testing.TB) storage.BlobConfig {
	t.Helper()
	raw := os.Getenv(MinIOEnv)
	if raw == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set; .ci/run starts MinIO and sets it, so CI must not run the object-store tests without a real MinIO", MinIOEnv)
		}
		t.Skipf("%s is not set (format http://ACCESS:SECRET@127.0.0.1:9000); skipping the tests against a real MinIO", MinIOEnv)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", MinIOEnv, err)
	}
	secret, _ := u.User.Password()
	cfg := storage.BlobConfig{
		Endpoint:  u.Host,
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Bucket:    bucketName(),
		UseTLS:    u.Scheme == "https",
		Presign:   true,
	}
	if (u.Scheme != "http" && u.Scheme != "https") || cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		t.Fatalf("%s must look like http://ACCESS:SECRET@HOST:PORT", MinIOEnv)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
	})
	if err != nil {
		t.Fatalf("%s: %v", MinIOEnv, err)
	}
	// A real MinIO outlives the test, so leave it as it was found.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if ok, err := client.BucketExists(ctx, cfg.Bucket); err != nil || !ok {
			return
		}
		objects := client.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Recursive: true})
		for res := range client.RemoveObjects(ctx, cfg.Bucket, objects, minio.RemoveObjectsOptions{}) {
			t.Errorf("clean up MinIO bucket %s: remove %s: %v", cfg.Bucket, res.ObjectName, res.Err)
		}
		if err := client.RemoveBucket(ctx, cfg.Bucket); err != nil {
			t.Errorf("clean up MinIO bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

func open(t testing.TB, cfg storage.BlobConfig) *storage.Blobs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := storage.OpenBlobs(ctx, cfg)
	if err != nil {
		t.Fatalf("open bucket %s at %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	return b
}

// bucketName returns a valid, unused S3 bucket name: lowercase, 3 to 63 characters.
func bucketName() string { return "nxtest-" + randomName(20) }

// randomName returns n random lowercase letters and digits.
func randomName(n int) string {
	return strings.ToLower(rand.Text()[:n])
}
