package sqlite

import (
	"context"
	"errors"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// RunClaim starts queued runs that may start now; see store.Store.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]store.Run, error) {
	return nil, errors.New("RunClaim: not written yet (issue 16, in progress)")
}
