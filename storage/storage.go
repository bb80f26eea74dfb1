// Package storage opens Nuanxin's two stores: a MongoDB-protocol document store
// and an S3-protocol object store. Each is either a real server named by
// configuration or an embedded one started in-process (FerretDB over SQLite,
// gofakes3 over the file system) so that the product runs with nothing installed.
// The application always talks the MongoDB wire protocol and the S3 protocol, so
// there is one code path whichever server answers.
//
// Neither embedded server checks credentials, so they listen on no TCP port:
// only on Unix sockets in <DataDir>/run, a directory of mode 0700 that no
// other local user can enter (or, when that path is too long for a socket, in
// a private directory under the system's temporary directory). Sockets left by
// a killed process are replaced at the next start.
//
// The package knows nothing about reports, points or accounts.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Config selects the stores. Empty MongoURI or S3Endpoint means "embedded".
type Config struct {
	DataDir string // where embedded stores keep their files

	MongoURI      string
	MongoDatabase string

	S3Endpoint  string // host:port, or unix:/path/to/socket
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string
	S3Region    string
	S3UseTLS    bool

	// Metrics, if set, receives the store error counters.
	Metrics prometheus.Registerer
}

// Stores holds the open stores. Close releases them and stops embedded servers.
type Stores struct {
	DB    *mongo.Database
	Blobs *Blobs

	// Embedded reports which stores run in-process.
	EmbeddedDocs, EmbeddedBlobs bool

	client  *mongo.Client
	closers []func()
	sockets []string // of the embedded stores, for tests
	// sqliteFile is the embedded document store's database file, whose
	// tables IndexIDs indexes; empty for MongoDB.
	sqliteFile string
}

// Open opens (and, where configured so, starts) both stores and makes sure the
// bucket exists. Embedded stores keep their files in DataDir/documents and
// DataDir/objects (made 0700) and listen on sockets in DataDir/run. Open fails
// when another process still serves those sockets (another Nuanxin on the same
// data directory). On error nothing is left running.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Stores, err error) {
	if cfg.MongoDatabase == "" {
		cfg.MongoDatabase = "nuanxin"
	}
	if cfg.S3Bucket == "" {
		cfg.S3Bucket = "nuanxin"
	}
	// s is not the named result: "return nil, err" must not clear it before
	// the deferred Close runs.
	s := &Stores{}
	defer func() {
		if err != nil {
			_ = s.Close(context.Background())
		}
	}()

	var run string
	if cfg.MongoURI == "" || cfg.S3Endpoint == "" {
		var cleanup func()
		run, cleanup, err = openRunDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		// First in, so it runs last: after the servers have closed their sockets.
		s.closers = append(s.closers, cleanup)
		log.Info("embedded stores listen on Unix sockets only", "dir", run)
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", cfg.DataDir, err)
		}
		// Before the servers, so that it stops after them, with a last sync
		// of what they wrote while closing.
		s.closers = append(s.closers, startFlusher(cfg.DataDir, flushEvery, log))
	}

	uri := cfg.MongoURI
	if uri == "" {
		dir := filepath.Join(cfg.DataDir, "documents")
		socket := filepath.Join(run, documentsSocket)
		var stop func()
		uri, stop, err = startMongo(dir, socket, log)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, stop)
		s.sockets = append(s.sockets, socket)
		s.EmbeddedDocs = true
		s.sqliteFile = filepath.Join(dir, cfg.MongoDatabase+".sqlite")
	}
	errs := newStoreErrors(cfg.Metrics)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second).SetMonitor(errs.monitor()))
	if err != nil {
		return nil, fmt.Errorf("connect to document store: %w", err)
	}
	s.client = client
	s.DB = client.Database(cfg.MongoDatabase)
	if err := s.pingDocs(ctx); err != nil {
		return nil, fmt.Errorf("document store does not answer: %w", err)
	}

	bc := BlobConfig{
		Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseTLS: cfg.S3UseTLS, Presign: true,
	}
	if bc.Endpoint == "" {
		dir := filepath.Join(cfg.DataDir, "objects")
		socket := filepath.Join(run, objectsSocket)
		emb, err := startS3(dir, socket, log)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, emb.Stop)
		s.sockets = append(s.sockets, socket)
		s.EmbeddedBlobs = true
		bc.Endpoint, bc.AccessKey, bc.SecretKey, bc.UseTLS = emb.Endpoint, emb.AccessKey, emb.SecretKey, false
		// gofakes3 does not check signatures, so a presigned URL to it would
		// grant nothing; browsers get photos through the application instead.
		bc.Presign = false
	}
	s.Blobs, err = OpenBlobs(ctx, bc)
	if err != nil {
		return nil, err
	}
	s.Blobs.errs = errs
	return s, nil
}

func (s *Stores) pingDocs(ctx context.Context) error {
	return s.DB.RunCommand(ctx, map[string]any{"ping": 1}).Err()
}

// Ping reports whether both stores answer; it returns the first failure.
func (s *Stores) Ping(ctx context.Context) error {
	if err := s.pingDocs(ctx); err != nil {
		return fmt.Errorf("document store: %w", err)
	}
	if err := s.Blobs.Ping(ctx); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	return nil
}

// Close disconnects and stops embedded servers, last opened first.
func (s *Stores) Close(ctx context.Context) error {
	var err error
	if s.client != nil {
		err = s.client.Disconnect(ctx)
		s.client = nil
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	return err
}

// IsDuplicateKey reports whether err is a unique-index violation: the one
// operation that is atomic on every supported document store, which the
// domains use for every "only once" rule.
func IsDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}

// ErrNotFound is returned by the object store wrapper when a key does not exist.
var ErrNotFound = errors.New("storage: not found")
