package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
)

// wantPrivate fails unless each file exists with mode 0600.
func wantPrivate(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600: it holds every rule and run", filepath.Base(p), perm)
		}
	}
}

// writeRule makes the store write, so the WAL and its index exist.
func writeRule(t *testing.T, s store.Store) {
	t.Helper()
	if _, err := s.RuleCreate(t.Context(), store.Rule{Name: "r", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	writeRule(t, s)
	// SQLite gives the -wal and -shm files it creates the database's mode.
	wantPrivate(t, path, path+"-wal", path+"-shm")
}

func TestDatabaseFilesOfAnOlderAgentAreMadePrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	writeRule(t, s)
	s.Close()
	// What an older agent left: the database 0644, and -wal and -shm files
	// (empty, as after a crash at the wrong moment) 0644 too.
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open the older agent's database: %v", err)
	}
	defer s.Close()
	if _, err := s.RuleGet(t.Context(), "r"); err != nil {
		t.Fatalf("the older agent's rule: %v", err)
	}
	wantPrivate(t, path, path+"-wal", path+"-shm")
}
