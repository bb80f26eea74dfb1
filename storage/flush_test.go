package storage

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// What a power cut would show cannot be made to happen in a test; what can
// is that the flusher keeps syncing, reports a failing disk once rather than
// at every tick, and syncs a last time before stop returns.
func TestFlusher(t *testing.T) {
	var calls atomic.Int64
	var failing atomic.Bool
	var mu sync.Mutex
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	stop := runFlusher(time.Millisecond, func() error {
		calls.Add(1)
		if failing.Load() {
			return errors.New("disk full")
		}
		return nil
	}, log)

	waitCalls := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); calls.Load() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d syncs, want %d", calls.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitCalls(3)
	failing.Store(true)
	waitCalls(calls.Load() + 5)
	failing.Store(false)
	waitCalls(calls.Load() + 2)
	stop()
	after := calls.Load()
	time.Sleep(10 * time.Millisecond)
	if calls.Load() != after {
		t.Fatalf("synced after stop returned")
	}
	stop() // idempotent

	mu.Lock()
	out := logged.String()
	mu.Unlock()
	if n := strings.Count(out, "disk full"); n != 1 {
		t.Errorf("a run of 5+ failures logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "reach the disk again") {
		t.Errorf("recovery not logged:\n%s", out)
	}
}

func TestFlusherSyncsOnceMoreAtStop(t *testing.T) {
	var calls atomic.Int64
	stop := runFlusher(time.Hour, func() error { calls.Add(1); return nil }, slog.New(slog.DiscardHandler))
	stop()
	if calls.Load() != 1 {
		t.Fatalf("%d syncs at stop, want 1", calls.Load())
	}
}

func TestSyncDir(t *testing.T) {
	if err := syncDir(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Fatal("syncing a missing directory succeeded")
	}
	if err := syncDir(t.TempDir()); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
