package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// Neither embedded server checks credentials (FerretDB runs without
// authentication, gofakes3 does not verify signatures), so whoever can connect
// to them can read every account, session and photo. They therefore listen on
// Unix sockets only, never on TCP, in a directory of mode 0700: the kernel lets
// no other user (root aside) traverse it, so only the service user reaches them.

// Socket file names in the run directory. The document store's must end in
// "sock": that is how mongo-driver tells a socket path from a host name.
const (
	documentsSocket = "documents.sock"
	objectsSocket   = "objects.sock"
)

// maxSocketPath is the longest path a Unix socket may have: the kernel's
// sun_path holds 108 bytes on Linux and 104 on macOS and the BSDs, including
// the terminating NUL.
const maxSocketPath = 103

// unixEndpoint prefixes a BlobConfig.Endpoint that names a Unix socket.
const unixEndpoint = "unix:"

// openRunDir makes the directory the embedded stores' sockets live in: <dataDir>/run,
// mode 0700 even if it already existed with a looser mode. When a socket path
// there would not fit (see socketDirUsable), it makes a fresh private directory
// under os.TempDir() instead; cleanup removes that one when the stores stop
// (after kill -9 it is left behind, empty of anything but dead sockets).
func openRunDir(dataDir string) (dir string, cleanup func(), err error) {
	dir, err = filepath.Abs(filepath.Join(dataDir, "run"))
	if err != nil {
		return "", nil, fmt.Errorf("socket directory: %w", err)
	}
	if socketDirUsable(dir) {
		if err := privateDir(dir); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	return tempRunDir()
}

// tempRunDir makes a fresh directory of mode 0700 under os.TempDir(), whose
// random name no other user can have created first.
func tempRunDir() (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "nuanxin-run-")
	if err != nil {
		return "", nil, fmt.Errorf("socket directory: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", nil, fmt.Errorf("socket directory: %w", err)
	}
	if !socketDirUsable(dir) {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("socket directory %s: the path is too long for a Unix socket (at most %d bytes); set TMPDIR to a shorter directory", dir, maxSocketPath-len(documentsSocket)-1)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// socketDirUsable reports whether sockets in dir can be listened on and named
// in a MongoDB URI: the path must fit in a socket address, and must hold no
// ':', which mongo-driver would read as the start of a port number even when
// escaped.
func socketDirUsable(dir string) bool {
	longest := max(len(documentsSocket), len(objectsSocket))
	return len(dir)+1+longest <= maxSocketPath && !strings.Contains(dir, ":")
}

// privateDir creates dir if needed and makes it 0700, whatever mode an
// earlier run or a person left it with.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make %s private to the service user: %w", dir, err)
	}
	return nil
}

// clearStaleSocket removes the socket file at path when nothing answers on it:
// a process killed with kill -9 leaves its sockets behind, and listening on
// an existing path fails. A socket something still answers on is left alone
// and reported: two servers over the same files would corrupt them.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away so the embedded store can listen there", path)
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%s: another process is serving this store; is another Nuanxin running on the same data directory?", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	return nil
}

// listenUnix listens on a socket at path, replacing a stale one, and makes
// the socket file 0600 in case its directory is ever opened up.
func listenUnix(path string) (net.Listener, error) {
	if err := clearStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// mongoSocketURI returns the URI mongo-driver connects to a socket with: the
// path, escaped, as the host.
func mongoSocketURI(path string) string {
	return "mongodb://" + url.QueryEscape(path) + "/"
}

// StartEmbeddedMongo runs FerretDB (SQLite backend, files in dir) on a Unix
// socket in a fresh private directory under os.TempDir(), and returns its URI
// (mongodb://<escaped socket path>/) and a stop function that waits for it to
// close its files and removes the socket directory. Nothing listens on TCP.
// Open uses <DataDir>/run instead; this form serves tests and tools that need
// a store of their own.
func StartEmbeddedMongo(dir string, log *slog.Logger) (uri string, stop func(), err error) {
	run, cleanup, err := tempRunDir()
	if err != nil {
		return "", nil, fmt.Errorf("start embedded document store: %w", err)
	}
	uri, stopMongo, err := startMongo(dir, filepath.Join(run, documentsSocket), log)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return uri, func() { stopMongo(); cleanup() }, nil
}

// startMongo runs FerretDB over the files in dir, listening on the socket
// path only.
func startMongo(dir, socket string, log *slog.Logger) (uri string, stop func(), err error) {
	if err := privateDir(dir); err != nil {
		return "", nil, err
	}
	if err := clearStaleSocket(socket); err != nil {
		return "", nil, fmt.Errorf("start embedded document store: %w", err)
	}
	// FerretDB logs every connection at info level and warns about commands the driver sends that it lacks (endSessions); only its errors matter here.
	quiet := slog.New(log.Handler().WithGroup("ferretdb"))
	quiet = slog.New(levelFloor{quiet.Handler(), slog.LevelError})
	f, err := ferretdb.New(&ferretdb.Config{
		// Unix only: an empty TCP address disables FerretDB's TCP listener.
		Listener: ferretdb.ListenerConfig{Unix: socket},
		Handler:  "sqlite",
		// A URI: a directory named with '#' or '?' must be escaped.
		// synchronous(normal): see flushEvery.
		SQLiteURL: "file:" + (&url.URL{Path: dir + "/"}).EscapedPath() + "?" + sqlitePragmas,
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
	stop = func() { cancel(); <-done }
	// FerretDB creates the socket with the process umask; the directory
	// already keeps others out, this keeps the file private too.
	if err := os.Chmod(socket, 0o600); err != nil {
		stop()
		return "", nil, fmt.Errorf("start embedded document store: %w", err)
	}
	return mongoSocketURI(socket), stop, nil
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
	// Endpoint is "unix:" followed by the server's socket path; BlobConfig
	// and Config.S3Endpoint accept it as it is.
	Endpoint string
	// AccessKey and SecretKey are random. gofakes3 does not check them: the
	// socket's private directory is the only protection.
	AccessKey, SecretKey string
	// Stop shuts the server down, removing its socket.
	Stop func()
}

// StartEmbeddedS3 serves an S3 API over the files in dir on a Unix socket in
// a fresh private directory under os.TempDir(); Stop also removes that
// directory. Nothing listens on TCP. Open uses <DataDir>/run instead; this
// form serves tests and tools that need a store of their own.
func StartEmbeddedS3(dir string, log *slog.Logger) (*EmbeddedS3, error) {
	run, cleanup, err := tempRunDir()
	if err != nil {
		return nil, fmt.Errorf("start embedded object store: %w", err)
	}
	emb, err := startS3(dir, filepath.Join(run, objectsSocket), log)
	if err != nil {
		cleanup()
		return nil, err
	}
	stop := emb.Stop
	emb.Stop = func() { stop(); cleanup() }
	return emb, nil
}

// startS3 serves gofakes3 over the files in dir, listening on the socket
// path only. gofakes3 verifies no signature, so it is never exposed to
// browsers either: photos reach them through the application.
func startS3(dir, socket string, log *slog.Logger) (*EmbeddedS3, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
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
	ln, err := listenUnix(socket)
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
		Endpoint:  unixEndpoint + socket,
		AccessKey: randomHex(10),
		SecretKey: randomHex(20),
		Stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Closing the listener removes the socket file.
			_ = srv.Shutdown(ctx)
		},
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
