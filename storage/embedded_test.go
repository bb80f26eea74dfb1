package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// holdEnv, when set to a data directory, makes the test binary a child
// process that opens the stores there, writes to both, says "ready" and waits
// to be killed (see TestRestartAfterKill).
const holdEnv = "NUANXIN_STORAGE_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		os.Exit(holdStores(dir))
	}
	os.Exit(m.Run())
}

func holdStores(dir string) int {
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{DataDir: dir}, storagetest.Logger())
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if _, err := s.DB.Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: "before-kill"}}); err != nil {
		fmt.Fprintln(os.Stderr, "insert:", err)
		return 1
	}
	body := []byte("photo written before kill -9")
	if err := s.Blobs.Put(ctx, "photos/killed.jpg", bytes.NewReader(body), int64(len(body)), "image/jpeg", nil); err != nil {
		fmt.Fprintln(os.Stderr, "put:", err)
		return 1
	}
	fmt.Println("ready")
	select {} // until SIGKILL
}

// shortDataDir returns a new directory whose path leaves room for socket
// names (t.TempDir() may not), removed when the test ends.
func shortDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nxst-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestEmbeddedStoresUsePrivateSockets: Open puts both stores' sockets in
// <DataDir>/run, tightening a run directory someone left open, and the stores
// work end to end over them; the standalone servers name a socket, not a
// host:port, in their URI and endpoint.
func TestEmbeddedStoresUsePrivateSockets(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		dir := shortDataDir(t)
		run := filepath.Join(dir, "run")
		if err := os.Mkdir(run, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(run, 0o777); err != nil { // past the umask
			t.Fatal(err)
		}
		s := mustOpen(t, dir)
		defer s.Close(context.Background())

		want := []string{filepath.Join(run, "documents.sock"), filepath.Join(run, "objects.sock")}
		got := storage.Sockets(s)
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("sockets: got %q, want %q", got, want)
		}
		checkPrivateSockets(t, got)
		for _, sub := range []string{"documents", "objects"} {
			checkMode(t, filepath.Join(dir, sub), 0o700)
		}
		checkStoresWork(t, s)
	})

	t.Run("standalone document store", func(t *testing.T) {
		uri, stop, err := storage.StartEmbeddedMongo(t.TempDir(), storagetest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		socket := socketOfURI(t, uri)
		checkPrivateSockets(t, []string{socket})
		stop()
		if _, err := os.Stat(filepath.Dir(socket)); !os.IsNotExist(err) {
			t.Errorf("socket directory after stop: got %v, want it removed", err)
		}
	})

	t.Run("standalone object store", func(t *testing.T) {
		emb, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		socket, ok := strings.CutPrefix(emb.Endpoint, "unix:")
		if !ok || !filepath.IsAbs(socket) {
			emb.Stop()
			t.Fatalf("endpoint %q: want unix:/absolute/socket/path", emb.Endpoint)
		}
		checkPrivateSockets(t, []string{socket})
		emb.Stop()
		if _, err := os.Stat(filepath.Dir(socket)); !os.IsNotExist(err) {
			t.Errorf("socket directory after stop: got %v, want it removed", err)
		}
	})

	// As two instances sharing stores do: the standalone servers' URI and
	// endpoint are configuration Open accepts as they are.
	t.Run("standalone servers configured", func(t *testing.T) {
		uri, stop, err := storage.StartEmbeddedMongo(t.TempDir(), storagetest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		emb, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		defer emb.Stop()
		dir := t.TempDir()
		s, err := storage.Open(t.Context(), storage.Config{
			DataDir: dir, MongoURI: uri,
			S3Endpoint: emb.Endpoint, S3AccessKey: emb.AccessKey, S3SecretKey: emb.SecretKey,
		}, storagetest.Logger())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close(context.Background())
		if s.EmbeddedDocs || s.EmbeddedBlobs || len(storage.Sockets(s)) != 0 {
			t.Errorf("Open started embedded stores (docs=%v blobs=%v sockets=%q) though both were configured", s.EmbeddedDocs, s.EmbeddedBlobs, storage.Sockets(s))
		}
		if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
			t.Errorf("run directory with no embedded store: got %v, want none", err)
		}
		checkStoresWork(t, s)
		if _, err := s.Blobs.Presign(t.Context(), "check/x", time.Minute); !errors.Is(err, storage.ErrPresignUnavailable) {
			t.Errorf("Presign over a Unix socket: got %v, want ErrPresignUnavailable", err)
		}
	})
}

// TestRestartAfterKill: a process holding the stores is killed with SIGKILL,
// leaving its socket files behind; the next Open on the same data directory
// replaces them and finds what the killed process wrote.
func TestRestartAfterKill(t *testing.T) {
	dir := shortDataDir(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child holding the stores: got %q, stderr:\n%s", line, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	sockets := []string{filepath.Join(dir, "run", "documents.sock"), filepath.Join(dir, "run", "objects.sock")}
	for _, p := range sockets {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Type() != fs.ModeSocket {
			t.Fatalf("after kill -9, %s: got %v (mode %v), want the stale socket left behind", p, err, fi)
		}
	}

	s := mustOpen(t, dir)
	defer s.Close(context.Background())
	if got := storage.Sockets(s); len(got) != 2 || got[0] != sockets[0] || got[1] != sockets[1] {
		t.Errorf("sockets after restart: got %q, want %q", got, sockets)
	}
	ctx := t.Context()
	if err := s.DB.Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: "before-kill"}}).Err(); err != nil {
		t.Errorf("document written before the kill: %v", err)
	}
	rc, _, err := s.Blobs.Get(ctx, "photos/killed.jpg")
	if err != nil {
		t.Fatalf("photo written before the kill: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "photo written before kill -9" {
		t.Errorf("photo after restart: got %q", got)
	}
	checkStoresWork(t, s)
}

// TestRestartWithStaleSockets: socket files nobody listens on, in place of
// both stores' sockets, do not stop the next start.
func TestRestartWithStaleSockets(t *testing.T) {
	dir := shortDataDir(t)
	s := mustOpen(t, dir)
	mustPut(t, s.Blobs, "k", []byte("v"), "text/plain", nil)
	sockets := storage.Sockets(s)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range sockets {
		staleSocket(t, p)
	}
	s = mustOpen(t, dir)
	defer s.Close(context.Background())
	if _, err := s.Blobs.Stat(t.Context(), "k"); err != nil {
		t.Errorf("object after restart: %v", err)
	}
	checkStoresWork(t, s)
}

// TestOpenRefusesBusyDataDir: a second Open on a data directory whose stores
// are running fails with a clear error instead of taking over their sockets,
// and the first keeps working.
func TestOpenRefusesBusyDataDir(t *testing.T) {
	dir := shortDataDir(t)
	first := mustOpen(t, dir)
	defer first.Close(context.Background())
	second, err := storage.Open(t.Context(), storage.Config{DataDir: dir}, storagetest.Logger())
	if err == nil {
		second.Close(context.Background())
		t.Fatal("second Open on a data directory in use: got nil error")
	}
	if !strings.Contains(err.Error(), "another Nuanxin") {
		t.Errorf("second Open: got %q, want it to say another Nuanxin may be running", err)
	}
	checkStoresWork(t, first)
}

// TestLongDataDirFallsBack: when <DataDir>/run/... is too long for a socket
// path, the sockets go to a private directory under the system's temporary
// directory, which Close removes.
func TestLongDataDirFallsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	s := mustOpen(t, dir)
	sockets := storage.Sockets(s)
	if len(sockets) != 2 {
		t.Fatalf("sockets: got %q, want 2", sockets)
	}
	run := filepath.Dir(sockets[0])
	if strings.HasPrefix(run, dir) || filepath.Dir(sockets[1]) != run {
		t.Errorf("sockets: got %q, want both in one directory outside %s", sockets, dir)
	}
	checkPrivateSockets(t, sockets)
	checkStoresWork(t, s)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Errorf("socket directory %s after Close: got %v, want it removed", run, err)
	}
}

// TestBlobsSocketEndpoint: a unix: endpoint must name an absolute path.
func TestBlobsSocketEndpoint(t *testing.T) {
	_, err := storage.OpenBlobs(t.Context(), storage.BlobConfig{Endpoint: "unix:relative/s3.sock", AccessKey: "a", SecretKey: "b", Bucket: "nuanxin"})
	if err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("OpenBlobs with a relative socket: got %v, want an error asking for an absolute path", err)
	}
}

// socketOfURI returns the socket path a mongodb:// URI names as its host, and
// fails the test if the host is anything else (a host:port, several hosts).
// net/url refuses an escaped '/' in a host, so the URI is taken apart by hand.
func socketOfURI(t *testing.T, uri string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	host, _, _ := strings.Cut(rest, "/")
	socket, err := url.QueryUnescape(host)
	if !ok || err != nil || strings.ContainsAny(socket, ",@") || !filepath.IsAbs(socket) || !strings.HasSuffix(socket, ".sock") {
		t.Fatalf("URI %q: want mongodb://<escaped absolute socket path>/", uri)
	}
	if _, _, err := net.SplitHostPort(socket); err == nil {
		t.Fatalf("URI %q names a host and port; want a socket", uri)
	}
	return socket
}

// checkPrivateSockets checks that each path is a socket of mode 0600 in a
// directory of mode 0700.
func checkPrivateSockets(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("socket %s: %v", p, err)
			continue
		}
		if fi.Mode().Type() != fs.ModeSocket {
			t.Errorf("%s: got mode %v, want a socket", p, fi.Mode())
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("socket %s: got mode %v, want no access for group or others", p, perm)
		}
		checkMode(t, filepath.Dir(p), 0o700)
	}
}

func checkMode(t *testing.T, dir string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Errorf("%s: %v", dir, err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: got mode %v, want %v", dir, got, want)
	}
}

// checkStoresWork writes and reads through both stores.
func checkStoresWork(t *testing.T, s *storage.Stores) {
	t.Helper()
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	id := fmt.Sprint(time.Now().UnixNano())
	if _, err := s.DB.Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	if err := s.DB.Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
		t.Fatalf("FindOne: %v", err)
	}
	mustPut(t, s.Blobs, "check/"+id, []byte(id), "text/plain", nil)
	rc, _, err := s.Blobs.Get(ctx, "check/"+id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != id {
		t.Fatalf("Get: got %q, want %q", got, id)
	}
}

// staleSocket leaves a socket file at path that nothing listens on, as a
// process killed with kill -9 does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("make a stale socket at %s: %v", path, err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("stale socket %s: %v", path, err)
	}
}
