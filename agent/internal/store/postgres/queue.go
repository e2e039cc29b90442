package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunClaim starts queued runs that may start now; see store.Store. Agents
// claim at once: each takes the advisory lock of every limited job among
// the queued runs it considers (in name order, so two claims never wait
// for each other in a circle) before it counts their active runs, so the
// counts cannot go stale before its updates commit; and each update starts
// a run only if it is still queued, so no run starts twice.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]store.Run, error) {
	now := storeutil.Time(p.Now)
	if now.IsZero() {
		now = storeutil.Now()
	}
	var claimed []store.Run
	err := retryDeadlock(ctx, func() error {
		return s.tx(ctx, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, storeutil.ClaimCandidates, now, storeutil.ClaimCandidateLimit)
			cands, err := collectRuns(rows)
			if err != nil {
				return dbErr(err, "claim runs: list queued runs")
			}
			var limited []string
			for _, c := range cands {
				if p.JobLimits[c.Job] > 0 && !slices.Contains(limited, c.Job) {
					limited = append(limited, c.Job)
				}
			}
			slices.Sort(limited)
			for _, job := range limited {
				if err := lockJob(ctx, tx, job); err != nil {
					return fmt.Errorf("claim runs: %w", err)
				}
			}
			c := &storeutil.Claimer{
				Params: p,
				Active: func(job string) (n int, err error) {
					if err = tx.QueryRow(ctx, storeutil.JobActiveQuery, job).Scan(&n); err != nil {
						return 0, dbErr(err, "claim runs: count active runs of job %q", job)
					}
					return n, nil
				},
				RuleBusy: func(rule, id string) (bool, error) {
					var n int
					if err := tx.QueryRow(ctx, storeutil.RuleBusyQuery, rule, id).Scan(&n); err != nil {
						return false, dbErr(err, "claim runs: look up earlier runs of rule %q", rule)
					}
					return n > 0, nil
				},
			}
			claimed, err = c.Claim(cands, func(id string) (store.Run, bool, error) {
				run, err := scanRun(tx.QueryRow(ctx, storeutil.ClaimUpdate, id, p.Node, now))
				if errors.Is(err, pgx.ErrNoRows) {
					return run, false, nil
				}
				if err != nil {
					return run, false, dbErr(err, "claim run %s", id)
				}
				return run, true, nil
			})
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}
