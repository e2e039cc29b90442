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
		claimed = nil
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
		for _, cand := range cands {
			if c.Done() {
				break
			}
			ok, err := c.May(cand)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			run, err := scanRun(tx.QueryRowContext(ctx, storeutil.ClaimUpdate, cand.ID, p.Node, micros(now)))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return dbErr(err, "claim run %s", cand.ID)
			}
			c.Claimed(run)
			claimed = append(claimed, run)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}
