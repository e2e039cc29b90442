package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/agent/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jobbridge.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Exercise(t, open)
}

func TestSecondOpenRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	_, err = sqlite.Open(t.Context(), path)
	want := "sqlite database " + path + " is in use by another agent (lock " + path + ".lock)"
	var inUse *sqlite.InUseError
	if !errors.As(err, &inUse) || err.Error() != want {
		t.Fatalf("second open of one file: got %v, want %q", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	again, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open after the first agent closed: %v", err)
	}
	again.Close()
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatalf("record a future migration: %v", err)
	}
	s.Close()
	_, err = sqlite.Open(t.Context(), path)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 999, this agent knows up to ") || !strings.HasSuffix(err.Error(), ": upgrade the agent") {
		t.Fatalf("open a database from a newer agent: got %v, want ErrSchemaTooNew naming both versions", err)
	}
	// The refused Open released the lock: fixing the table lets an agent in.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = 999`); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open after the future version is gone: %v", err)
	}
	s.Close()
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode of the file: got %q (%v), want wal", mode, err)
	}
	// Foreign keys are on in the store's own connections: a log line of a
	// run that does not exist is refused.
	_, err = s.Exec(t.Context(), `INSERT INTO run_logs (run_id, seq, time, level, message) VALUES ($1, 1, 0, 'info', 'x')`, "nope")
	if err == nil {
		t.Fatalf("foreign keys are off: a log line of a missing run was stored")
	}
}

func TestExecNumberedPlaceholders(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer s.Close()
	// $2 before $1, and $1 twice: bound by number, not by position.
	n, err := s.Exec(t.Context(), `UPDATE demo_orders SET some_column = $2 WHERE name = $1 OR name = $1 || 'x'`, "alpha", 7)
	if err != nil || n != 1 {
		t.Fatalf("exec with numbered placeholders: %d rows, %v; want 1", n, err)
	}
	n, err = s.Exec(t.Context(), `UPDATE demo_orders SET some_column = 0 WHERE some_column = $1`, 7)
	if err != nil || n != 1 {
		t.Fatalf("the row got the value of $2: %d rows, %v; want 1", n, err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s := open(t)
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ping a closed store: got %v, want ErrUnavailable", err)
	}
	if _, err := s.RunGet(t.Context(), "x"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("read a closed store: got %v, want ErrUnavailable", err)
	}
}

// Whatever path leads to the file (a symlinked directory, a symlink to the
// file), a second Open of it is refused while the first holds it.
func TestSecondOpenThroughASymlinkRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "jobbridge.db")
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer first.Close()
	linkedDir := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(dir, linkedDir); err != nil {
		t.Fatal(err)
	}
	linkedFile := filepath.Join(t.TempDir(), "jobbridge.db")
	if err := os.Symlink(path, linkedFile); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(linkedDir, "jobbridge.db"), linkedFile} {
		s, err := sqlite.Open(t.Context(), p)
		var inUse *sqlite.InUseError
		if !errors.As(err, &inUse) {
			if s != nil {
				s.Close()
			}
			t.Errorf("open %s, a path to an open database: %v, want *sqlite.InUseError", p, err)
			continue
		}
		if inUse.Path != p || inUse.LockPath != path+".lock" {
			t.Errorf("open %s: the error names %s (lock %s), want the path given and the lock beside the real file %s", p, inUse.Path, inUse.LockPath, path)
		}
	}
}
