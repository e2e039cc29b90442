package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunClaim starts queued runs that may start now; see store.Store. The
// writer runs one transaction at a time, so the checks and the updates of
// one claim cannot interleave with another write.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]store.Run, error) {
	now := storeutil.Time(p.Now)
	if now.IsZero() {
		now = storeutil.Now()
	}
	var claimed []store.Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cands, err := scanRuns(tx.QueryContext(ctx, storeutil.ClaimCandidates, micros(now), storeutil.ClaimCandidateLimit))
		if err != nil {
			return dbErr(err, "claim runs: list queued runs")
		}
		c := &storeutil.Claimer{
			Params: p,
			Active: func(job string) (n int, err error) {
				if err = tx.QueryRowContext(ctx, storeutil.JobActiveQuery, job).Scan(&n); err != nil {
					return 0, dbErr(err, "claim runs: count active runs of job %q", job)
				}
				return n, nil
			},
			RuleBusy: func(rule, id string) (bool, error) {
				var n int
				if err := tx.QueryRowContext(ctx, storeutil.RuleBusyQuery, rule, id).Scan(&n); err != nil {
					return false, dbErr(err, "claim runs: look up earlier runs of rule %q", rule)
				}
				return n > 0, nil
			},
		}
		claimed, err = c.Claim(cands, func(id string) (store.Run, bool, error) {
			run, err := scanRun(tx.QueryRowContext(ctx, storeutil.ClaimUpdate, id, p.Node, micros(now)))
			if errors.Is(err, sql.ErrNoRows) {
				return run, false, nil
			}
			if err != nil {
				return run, false, dbErr(err, "claim run %s", id)
			}
			return run, true, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}
