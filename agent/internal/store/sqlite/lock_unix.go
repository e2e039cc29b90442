//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// InUseError is returned by Open when another process (or another Open in
// this one) holds the database's lock file.
type InUseError struct {
	Path     string // the database file
	LockPath string // the lock file that is held
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("sqlite database %s is in use by another agent (lock %s)", e.Path, e.LockPath)
}

// fileLock is an exclusive flock on a file beside the database file's resolved
// path. The kernel drops it when the process dies, so a crashed agent never
// leaves it behind.
type fileLock struct{ f *os.File }

// lockFile locks resolved (path with its symlinks resolved; see realPath) for
// this process; errors name path, as the operator gave it.
func lockFile(path, resolved string) (*fileLock, error) {
	lockPath := resolved + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file of sqlite database %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Path: path, LockPath: lockPath}
		}
		return nil, fmt.Errorf("lock sqlite database %s (lock %s): %w", path, lockPath, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() error {
	// Closing the file releases the lock. The file stays: removing it would
	// let a third agent lock a new file while a second waits on the old one.
	return l.f.Close()
}
