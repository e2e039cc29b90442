package burst

import (
	"context"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// pollEvery is how often the harness asks the agent how far the burst has
// got. It asks GET /api/v1/status, whose run counts cost the agent little,
// and reads the runs themselves (GET /api/v1/runs, a page of 1,000 at a
// time) once, at the end, so that watching does not weigh on the burst.
const pollEvery = time.Second

// listPage is the page size of GET /api/v1/runs (its maximum).
const listPage = 1000

// waitRuns waits until the store holds at least want runs and none is
// active, or, after settleAfter, until none is active and no run has been
// added since the previous look (some rules will not have their run), or
// until timeout has passed. It reports whether it timed out.
func (b *bench) waitRuns(ctx context.Context, want int, settleAfter time.Time, timeout time.Duration) (timedOut bool, err error) {
	deadline := time.Now().Add(timeout)
	nextNote := time.Now().Add(30 * time.Second)
	last := int64(-1)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		st, err := b.status(ctx)
		if err != nil {
			return false, err
		}
		var total, active int64
		for status, n := range st.Runs {
			total += n
			if status.Active() {
				active += n
			}
		}
		switch {
		case active == 0 && total >= int64(want):
			return false, nil
		case active == 0 && total == last && time.Now().After(settleAfter):
			return false, nil
		case time.Now().After(deadline):
			b.progress("gave up waiting after %s: %d runs, %d of them still active", timeout, total, active)
			return true, nil
		}
		if time.Now().After(nextNote) {
			b.progress("still waiting: %d runs, %d of them active (giving up in %s)", total, active, time.Until(deadline).Round(time.Second))
			nextNote = nextNote.Add(30 * time.Second)
		}
		last = total
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

func (b *bench) status(ctx context.Context) (api.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
	defer cancel()
	st, err := b.api.Status(ctx)
	if err != nil {
		return st, fmt.Errorf("read the agent's status: %w", err)
	}
	return st, nil
}

// listRuns reads every run of the burst's job, page by page.
func (b *bench) listRuns(ctx context.Context) ([]api.Run, error) {
	var runs []api.Run
	q := api.RunQuery{Job: b.cfg.Job, Trigger: api.TriggerSchedule, Limit: listPage}
	for {
		cctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
		page, err := b.api.Runs(cctx, q)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list the runs: %w", err)
		}
		runs = append(runs, page.Items...)
		if page.NextCursor == "" {
			return runs, nil
		}
		q.Cursor = page.NextCursor
	}
}

// collect waits for the runs (see waitRuns), reads them back and records
// what became of them relative to origin: the minute (local) or the first
// delivery (eventbridge).
func (b *bench) collect(ctx context.Context, names []string, origin, settleAfter time.Time) ([]api.Run, error) {
	waitStart := time.Now()
	timedOut, err := b.waitRuns(ctx, len(names), settleAfter, b.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	runs, err := b.listRuns(ctx)
	if err != nil {
		return nil, err
	}
	b.rep.Runs = runFigures(names, runs, origin)
	b.rep.Runs.TimedOut = timedOut
	b.rep.Runs.WaitedSeconds = seconds(time.Since(waitStart))
	return runs, nil
}
