// Package storetesting opens fresh stores of every kind for the agent's
// tests, so each behaviour is checked on SQLite and on PostgreSQL.
package storetesting

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
)

// Kinds are the stores Each runs a test against.
var Kinds = []string{"sqlite", "postgres"}

// Open returns a fresh, empty store of the given kind, closed when the test
// ends. PostgreSQL skips (or fails in CI) as pgtest decides.
func Open(t testing.TB, kind string) store.Store {
	t.Helper()
	ctx := context.Background()
	var s store.Store
	var err error
	switch kind {
	case "sqlite":
		s, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobbridge.db"))
	case "postgres":
		s, err = postgres.Open(ctx, pgtest.NewDatabase(t))
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", kind, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each runs f as a parallel subtest on a fresh store of every kind.
func Each(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, Open(t, kind))
		})
	}
}
