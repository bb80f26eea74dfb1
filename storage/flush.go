package storage

import (
	"log/slog"
	"os"
	syncpkg "sync"
	"time"
)

// The embedded stores do not wait for the disk on each write. FerretDB's
// SQLite runs in WAL mode with synchronous=NORMAL: a commit is in the WAL
// (the operating system's page cache) when it returns, and the database
// file is synced at each checkpoint. gofakes3 writes objects without
// syncing them at all. Either way a write survives the process being
// killed, but not the machine losing power.
//
// With synchronous=FULL, SQLite synced the WAL on every commit, one at a
// time: about ten syncs per report submission, which capped submissions on
// this machine's disk at 44/s whatever the concurrency (66/s without).
// Instead, the flusher asks the kernel to write the data directory's
// filesystem to disk every flushEvery. An acknowledged write is then on
// disk within about that long: the bound MongoDB itself gives by default
// on a standalone server (w:1 without j waits for its journal, which it
// commits every 100 ms), and a bound that now covers the photos too.
const flushEvery = 100 * time.Millisecond

// sqlitePragmas are added to FerretDB's SQLite URI; FerretDB adds its own
// (busy_timeout, journal_mode(wal), auto_vacuum(none)).
const sqlitePragmas = "_pragma=synchronous(normal)"

// startFlusher syncs the filesystem that holds dir every interval, and once
// more when stop is called. stop waits for the last sync.
func startFlusher(dir string, every time.Duration, log *slog.Logger) (stop func()) {
	return runFlusher(every, func() error { return syncDir(dir) }, log.With("dir", dir))
}

// runFlusher calls sync every interval and once more at stop.
func runFlusher(every time.Duration, sync func() error, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg syncpkg.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-done:
				if err := sync(); err != nil {
					log.Error("write the embedded stores to disk at shutdown", "err", err)
				}
				return
			case <-t.C:
				// A failing disk is reported when it starts failing and
				// when it recovers, not at every tick.
				err := sync()
				switch {
				case err != nil && !failing:
					log.Error("write the embedded stores to disk; retrying", "every", every, "err", err)
				case err == nil && failing:
					log.Info("the embedded stores reach the disk again")
				}
				failing = err != nil
			}
		}
	})
	var once syncpkg.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// syncDir flushes the filesystem holding dir (syncFS, per platform).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncFS(f)
}
