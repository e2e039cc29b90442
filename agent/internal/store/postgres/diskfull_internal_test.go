package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// A server whose disk is full (SQLSTATE 53100) is unavailable, as a full
// SQLite database is: the runner keeps a run's log and outcome to retry on
// that error alone. (A real full disk is beyond a test's reach.)
func TestADiskFullServerIsUnavailable(t *testing.T) {
	t.Parallel()
	full := &pgconn.PgError{Code: "53100", Message: `could not extend file "base/16384/16402": No space left on device`}
	err := dbErr(full, "append log of run %s", "r1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("disk full: %v, want store.ErrUnavailable", err)
	}
}
