package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// StartEmbeddedMongo runs FerretDB (SQLite backend, files in dir) on a free
// loopback port and returns its URI and a stop function that waits for it to
// close its files.
func StartEmbeddedMongo(dir string, log *slog.Logger) (uri string, stop func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// FerretDB logs every connection at info level and warns about commands the driver sends that it lacks (endSessions); only its errors matter here.
	quiet := slog.New(log.Handler().WithGroup("ferretdb"))
	quiet = slog.New(levelFloor{quiet.Handler(), slog.LevelError})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:  "sqlite",
		// A URI: a directory named with '#' or '?' must be escaped.
		SQLiteURL: "file:" + (&url.URL{Path: dir + "/"}).EscapedPath(),
		Logger:    quiet,
	})
	if err != nil {
		return "", nil, fmt.Errorf("start embedded document store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	return f.MongoDBURI(), func() { cancel(); <-done }, nil
}

// levelFloor drops records below a level.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}
func (h levelFloor) WithGroup(g string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(g), h.min}
}

// EmbeddedS3 is a running in-process S3 server.
type EmbeddedS3 struct {
	Endpoint             string // 127.0.0.1:port
	AccessKey, SecretKey string
	Stop                 func()
}

// StartEmbeddedS3 serves an S3 API over the files in dir on a free loopback
// port. gofakes3 does not verify request signatures, which is why it listens
// on 127.0.0.1 only and is never exposed to browsers; the random credentials
// only keep clients honest about configuration.
func StartEmbeddedS3(dir string, log *slog.Logger) (*EmbeddedS3, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	backend, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), dir))
	if err != nil {
		return nil, fmt.Errorf("start embedded object store: %w", err)
	}
	faker := gofakes3.New(backend,
		gofakes3.WithLogger(gofakes3.DiscardLog()),
		gofakes3.WithAutoBucket(false),
		gofakes3.WithoutVersioning(),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start embedded object store: %w", err)
	}
	srv := &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("embedded object store stopped", "err", err)
		}
	}()
	return &EmbeddedS3{
		Endpoint:  ln.Addr().String(),
		AccessKey: randomHex(10),
		SecretKey: randomHex(20),
		Stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		},
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
