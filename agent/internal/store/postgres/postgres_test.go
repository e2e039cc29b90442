package postgres_test

import (
	"context"
	"errors"
	"fmt"
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

// Two agents (two stores, each with its own connections) that read one
// version of a rule and write it back at once: one write wins, the other
// is refused as stale, whatever the timing.
func TestVersionCheckAcrossStores(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	var stores [2]store.Store
	for i := range stores {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("open store %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	if _, err := stores[0].RuleCreate(t.Context(), store.Rule{Name: "shared", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		var read [2]store.Rule
		for i, s := range stores {
			r, err := s.RuleGet(t.Context(), "shared")
			if err != nil {
				t.Fatal(err)
			}
			read[i] = r
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for i, s := range stores {
			go func() {
				r := read[i]
				r.Description = fmt.Sprintf("round %d by store %d", round, i)
				<-start
				_, err := s.RuleUpdate(t.Context(), r)
				errs <- err
			}()
		}
		close(start)
		var ok, stale int
		for range stores {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrStale):
				stale++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 || stale != 1 {
			t.Fatalf("round %d: %d writes succeeded and %d were stale, want one each", round, ok, stale)
		}
		got, err := stores[1].RuleGet(t.Context(), "shared")
		if err != nil || got.Version != read[0].Version+1 {
			t.Fatalf("round %d: version %d (%v), want %d", round, got.Version, err, read[0].Version+1)
		}
	}
}
