// Package pgtest gives tests a PostgreSQL database of their own. Tests of any
// package that need one (the store's, the agent's HTTP tests) call
// NewDatabase; it reads the server's URL from JOBBRIDGE_TEST_POSTGRES_URL and
// skips the test when that is unset, unless JOBBRIDGE_TEST_REQUIRE_POSTGRES=1
// says PostgreSQL must be tested (as CI does), when it fails instead.
package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
)

// The environment variables NewDatabase reads.
const (
	EnvURL     = "JOBBRIDGE_TEST_POSTGRES_URL"
	EnvRequire = "JOBBRIDGE_TEST_REQUIRE_POSTGRES"
)

// ServerURL returns the URL of the test server, skipping (or, when required,
// failing) the test when none is configured.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set", EnvRequire, EnvURL)
		}
		t.Skipf("PostgreSQL tests are off: set %s=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (any database the role may CREATE DATABASE from) to run them",
			EnvURL)
	}
	return u
}

// NewDatabase creates an empty database, jobbridge_test_<random>, on the test
// server and returns its URL. The database is dropped when the test ends,
// even with connections still open to it.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.CreateScratchDatabase(ctx, server, "jobbridge_test_")
	if err != nil {
		t.Fatalf("on the test server (%s): %v", EnvURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("on the test server (%s): %v", EnvURL, err)
		}
	})
	return db.URL
}
