package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// RunFiresBetween lists the scheduled fires recorded in [from, to); see
// store.Store.
func (s *Store) RunFiresBetween(ctx context.Context, from, to time.Time) ([]store.FireSeen, error) {
	return nil, errors.New("RunFiresBetween: not written yet (issue 16, in progress)")
}
