//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "fmt"

// InUseError is returned by Open when another agent holds the database's
// lock file. On this platform the lock is not taken, so it never is.
type InUseError struct {
	Path     string
	LockPath string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("sqlite database %s is in use by another agent (lock %s)", e.Path, e.LockPath)
}

// fileLock does nothing where syscall.Flock does not exist: keeping one agent
// per file is then the operator's job.
type fileLock struct{}

func lockFile(string, string) (*fileLock, error) { return &fileLock{}, nil }

func (*fileLock) release() error { return nil }
