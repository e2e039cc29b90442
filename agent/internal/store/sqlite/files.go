package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// realPath creates the database file if it is missing (SQLite would anyway,
// and only an existing file's path can be resolved) and returns its absolute
// path with every symlink resolved. An agent reaching the file through a symlinked data dir
// or a symlink to the file itself finds the same path, so the same lock,
// as one that names it directly.
func realPath(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("create sqlite database %s: %w", path, err)
	}
	f.Close()
	resolved, err := filepath.EvalSymlinks(path)
	if err == nil {
		resolved, err = filepath.Abs(resolved)
	}
	if err != nil {
		return "", fmt.Errorf("resolve the path of sqlite database %s: %w", path, err)
	}
	return resolved, nil
}

// makePrivate takes group and other access away from the files of the
// database at path, which realPath created 0600 if it was missing (an older
// agent created them 0644). The file holds every run's parameters and
// error; SQLite gives the -wal and -shm files it creates the database
// file's mode, so those follow.
func makePrivate(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal", path + ".lock"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("make sqlite database file %s private: %w", p, err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&^0o077); err != nil {
				return fmt.Errorf("make sqlite database file %s private (mode %04o, want 0600): %w", p, perm, err)
			}
		}
	}
	return nil
}
