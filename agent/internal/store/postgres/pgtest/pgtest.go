// Package pgtest gives tests a PostgreSQL database of their own. Tests of any
// package that need one (the store's, the agent's HTTP tests) call
// NewDatabase; it reads the server's URL from JOBBRIDGE_TEST_POSTGRES_URL and
// skips the test when that is unset, unless JOBBRIDGE_TEST_REQUIRE_POSTGRES=1
// says PostgreSQL must be tested (as CI does), when it fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "jobbridge_test_" + hex.EncodeToString(b)

	admin(t, server, "CREATE DATABASE "+name)
	t.Cleanup(func() { admin(t, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	u.Path = "/" + name
	return u.String()
}

// admin runs one statement on the server's own database.
func admin(t testing.TB, server, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test server (%s): %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
