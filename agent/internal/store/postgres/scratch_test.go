package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
)

func TestScratchDatabaseIsCreatedEmptyAndDropped(t *testing.T) {
	t.Parallel()
	server := pgtest.ServerURL(t)
	db, err := postgres.CreateScratchDatabase(t.Context(), server, "jobbridge_scratch_")
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	t.Cleanup(func() {
		if !dropped {
			_ = db.Drop(t.Context())
		}
	})
	if !strings.HasPrefix(db.Name, "jobbridge_scratch_") || len(db.Name) != len("jobbridge_scratch_")+16 {
		t.Errorf("name %q, want the prefix and 16 hex digits", db.Name)
	}
	if !strings.Contains(db.URL, "/"+db.Name) {
		t.Errorf("URL %q does not name the database %s", db.URL, db.Name)
	}

	// An agent's store opens (and migrates) it; an open connection does
	// not stop the drop.
	s, err := postgres.Open(t.Context(), db.URL)
	if err != nil {
		t.Fatalf("open the scratch database: %v", err)
	}
	defer s.Close()
	if err := db.Drop(t.Context()); err != nil {
		t.Fatalf("drop with a connection open: %v", err)
	}
	dropped = true
	if _, err := postgres.Open(t.Context(), db.URL); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("open after the drop: %v, want the database gone (ErrUnavailable)", err)
	}
	if err := db.Drop(t.Context()); err != nil {
		t.Errorf("a second drop: %v, want nil (nothing left to drop)", err)
	}
}

func TestScratchDatabaseRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, server, prefix, want string }{
		{"not a URL", "host=localhost user=postgres", "burst_", "not a postgres://"},
		{"password not quoted back", "mysql://u:s3cret@host/db", "burst_", "not a postgres://"},
		{"a prefix that is not an identifier", "postgres://u@127.0.0.1/db", "burst; DROP", "prefix"},
	} {
		_, err := postgres.CreateScratchDatabase(t.Context(), tc.server, tc.prefix)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v, want an error saying %q without the password", tc.name, err, tc.want)
		}
	}
}
