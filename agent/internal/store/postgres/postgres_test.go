package postgres_test

import (
	"context"
	"errors"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // skip once, not in every subtest
	storetest.Exercise(t, open)
}

// execOn runs one statement on the database at url, outside the store.
func execOn(t *testing.T, url, stmt string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	execOn(t, url, `INSERT INTO schema_migrations (version) VALUES (999)`)
	_, err = postgres.Open(t.Context(), url)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 999, this agent knows up to ") || !strings.HasSuffix(err.Error(), ": upgrade the agent") {
		t.Fatalf("open a database from a newer agent: got %v, want ErrSchemaTooNew naming both versions", err)
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(t.Context(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("agents starting at once: %v", err)
		}
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open a server that is not there: got %v, want ErrUnavailable", err)
	}
	t.Logf("open 127.0.0.1:1: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("open a server that is not there took %v", d)
	}
}

func TestMissingDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	if _, err := s.RuleList(t.Context()); err != nil {
		t.Fatalf("list rules: %v", err)
	}
	// Drop the database under the store: its connections are terminated
	// and new ones are refused.
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	execOn(t, pgtest.ServerURL(t), "DROP DATABASE "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, call := range []func() error{
		func() error { return s.Ping(ctx) },
		func() error { _, err := s.RunGet(ctx, "x"); return err },
		func() error {
			_, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Job: "demo"}})
			return err
		},
	} {
		err := call()
		t.Logf("after the drop: %v", err)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("use a store whose database was dropped: got %v, want ErrUnavailable", err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("calls on a dropped database hung until the deadline")
	}
}
