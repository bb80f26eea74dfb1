package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS writes every dirty page of the filesystem holding f to disk
// (syncfs(2)), whichever process wrote it: FerretDB's WAL and gofakes3's
// object files are written by code that is not ours to change.
func syncFS(f *os.File) error {
	return unix.Syncfs(int(f.Fd()))
}
