//go:build unix && !linux

package storage

import (
	"os"
	"syscall"
)

// syncFS asks the kernel to write dirty pages to disk. On the other Unix systems there
// is no per-filesystem call; sync(2) flushes them all.
func syncFS(*os.File) error {
	syscall.Sync()
	return nil
}
