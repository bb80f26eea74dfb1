package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// nobody is the unprivileged user the access test connects as.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// TestEmbeddedStoresRefuseOtherUsers: another local user cannot connect to
// the embedded stores' sockets, while the service user can. It needs root to
// run a process as another user, and python3 to connect from it.
func TestEmbeddedStoresRefuseOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test must run as root under CI: it starts a process as user nobody")
		}
		t.Skip("not root: cannot start a process as another user")
	}
	python := pythonFor(t, nobody)
	if python == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed under CI, installed where user nobody can run it (such as /usr/bin/python3)")
		}
		t.Skip("no python3 that user nobody can run")
	}

	// A data directory others may enter, so that only the run directory
	// keeps nobody out.
	dir := shortDataDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Control: nobody reaches a socket beside run/ that is open to all. If
	// this fails, a refusal below would prove nothing.
	control := filepath.Join(dir, "control.sock")
	ln, err := net.Listen("unix", control)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(control, 0o777); err != nil {
		t.Fatal(err)
	}
	if out, err := connectAs(t, python, nobody, control); err != nil {
		t.Fatalf("nobody cannot connect even to an open socket in %s (is every parent directory searchable by others?): %v\n%s", dir, err, out)
	}

	s := mustOpen(t, dir)
	defer s.Close(context.Background())
	sockets := storage.Sockets(s)

	// The standalone servers (tests, tools) keep their sockets under
	// os.TempDir(), which others may enter.
	uri, stop, err := storage.StartEmbeddedMongo(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	docs := socketOfURI(t, uri)
	emb, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Stop()
	sockets = append(sockets, docs, strings.TrimPrefix(emb.Endpoint, "unix:"))

	if len(sockets) != 4 {
		t.Fatalf("sockets: got %q, want 4", sockets)
	}
	for _, p := range sockets {
		out, err := connectAs(t, python, nobody, p)
		if err == nil {
			t.Errorf("nobody connected to %s; want permission denied", p)
		} else if !strings.Contains(out, "Permission denied") {
			t.Errorf("nobody connecting to %s: got %v\n%s\nwant permission denied", p, err, out)
		}
		if out, err := connectAs(t, python, nil, p); err != nil {
			t.Errorf("the service user connecting to %s: %v\n%s", p, err, out)
		}
	}
}

// pythonFor returns the first python3 on PATH (or in /usr/bin) that cred can
// run: a shim under root's home directory (pyenv) is not one.
func pythonFor(t *testing.T, cred *syscall.Credential) string {
	t.Helper()
	for _, dir := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/bin", "/bin") {
		p := filepath.Join(dir, "python3")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		cmd := exec.CommandContext(t.Context(), p, "-c", "pass")
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if cmd.Run() == nil {
			return p
		}
	}
	return ""
}

// connectAs runs python3 as cred (nil: as this process's user) to connect to
// the Unix socket at path, returning its output.
func connectAs(t *testing.T, python string, cred *syscall.Credential, path string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), python, "-c",
		"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])", path)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestEmbeddedStoresOpenNoTCPPort: starting the embedded stores, through Open
// or on their own, adds no listening TCP socket to this process.
func TestEmbeddedStoresOpenNoTCPPort(t *testing.T) {
	before := tcpListeners(t)
	s := mustOpen(t, shortDataDir(t))
	defer s.Close(context.Background())
	_, stop, err := storage.StartEmbeddedMongo(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	emb, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Stop()
	checkStoresWork(t, s)

	after := tcpListeners(t)

	// Control: the count does see a TCP listener of this process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := tcpListeners(t); got != after+1 {
		t.Fatalf("control listener: counted %d TCP listeners, want %d", got, after+1)
	}
	if after != before {
		t.Errorf("listening TCP sockets of this process: %d before starting the stores, %d with them running; want no new one", before, after)
	}
}

// tcpListeners counts the listening TCP sockets (IPv4 and IPv6) this process
// holds, matching the socket inodes of its file descriptors against
// /proc/net/tcp and /proc/net/tcp6.
func tcpListeners(t *testing.T) int {
	t.Helper()
	listening := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue // no IPv6 in this kernel
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) > 9 && fields[3] == "0A" { // TCP_LISTEN
				listening[fields[9]] = true
			}
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed since the listing
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok && listening[strings.TrimSuffix(inode, "]")] {
			n++
		}
	}
	return n
}
