package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// Run creations and finishes are group-committed (storeutil.Batcher): the
// calls that arrive while a batch is being written go together in the next
// one, as one statement over arrays, so that a busy agent commits a few
// hundred times a second however many runs it starts and finishes. A
// caller still returns only once its own row is committed.

type (
	createReq struct {
		run    store.Run // prepared: id, times and status set
		params string
	}
	createRes struct {
		run     store.Run
		created bool
	}
	createCall = storeutil.Call[createReq, createRes]
	finishCall = storeutil.Call[store.RunFinishParams, store.Run]
)

// finishLinger is how long a batch of finishes waits for company: no
// client waits on a finish, and fewer commits leave the database's log
// flushes to the creations that a webhook's answer waits for.
const finishLinger = 5 * time.Millisecond

func (s *Store) initBatchers() {
	s.creates = &storeutil.Batcher[createReq, createRes]{Write: s.writeCreates}
	s.finishes = &storeutil.Batcher[store.RunFinishParams, store.Run]{Write: s.writeFinishes, Linger: finishLinger}
}

// createBatchSQL inserts a batch of runs: each with an event id only if it
// claims that id in deliveries. The claims are made in event id order, so
// that two agents' batches that share ids wait for each other in one order
// and never deadlock.
var createBatchSQL = `WITH input AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
			$14::timestamptz[], $15::timestamptz[], $16::timestamptz[], $17::text[], $18::int[], $19::text[],
			$20::int[], $21::text[], $22::timestamptz[], $23::bool[], $24::bigint[], $25::text[], $26::int[])
		AS i (` + storeutil.RunColumns + `)
	), claim AS (
		INSERT INTO deliveries (event_id, run_id, received_at)
		SELECT event_id, id, created_at FROM input WHERE event_id <> '' ORDER BY event_id
		ON CONFLICT (event_id) DO NOTHING RETURNING run_id
	)
	INSERT INTO runs (` + storeutil.RunColumns + `)
	SELECT ` + strings.Replace(storeutil.RunColumns, "parameters", "parameters::jsonb", 1) + ` FROM input
	WHERE event_id = '' OR id IN (SELECT run_id FROM claim)
	RETURNING id`

// writeCreates records a batch of new runs (store.Store.RunCreate without
// SkipIfActive). A delivery already recorded, before or by a concurrent
// writer, gets the run recorded for it; a second delivery of one event id
// in the same batch gets the outcome of the first.
func (s *Store) writeCreates(ctx context.Context, calls []*createCall) error {
	first := make(map[string]*createCall)
	var rows, dups []*createCall
	for _, c := range calls {
		if id := c.Req.run.EventID; id != "" {
			if _, seen := first[id]; seen {
				dups = append(dups, c)
				continue
			}
			first[id] = c
		}
		rows = append(rows, c)
	}
	n := len(rows)
	var (
		ids, rules, jobNames, statuses, triggers, params = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		eventIDs, restartOf, triggeredBy, cancelledBy    = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		cancelReasons, nodes, errs, progressMessages     = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scheduled, created, started, finished            = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		progress                                         = make([]int32, n)
		attempts                                         = make([]int32, n)
		retryOf                                          = make([]string, n)
		notBefore                                        = make([]pgtype.Timestamptz, n)
		serial                                           = make([]bool, n)
		warnAfter                                        = make([]int64, n)
		parentRun                                        = make([]string, n)
		chainDepth                                       = make([]int32, n)
	)
	for i, c := range rows {
		r := c.Req.run
		ids[i], rules[i], jobNames[i], statuses[i], triggers[i], params[i] = r.ID, r.Rule, r.Job, string(r.Status), string(r.Trigger), c.Req.params
		eventIDs[i], restartOf[i], triggeredBy[i], cancelledBy[i] = r.EventID, r.RestartOf, r.TriggeredBy, r.CancelledBy
		cancelReasons[i], nodes[i], errs[i], progressMessages[i] = r.CancelReason, r.Node, r.Error, r.Progress.Message
		scheduled[i], created[i], started[i], finished[i] = timestamptz(r.ScheduledAt), timestamptz(r.CreatedAt), timestamptz(r.StartedAt), timestamptz(r.FinishedAt)
		progress[i] = int32(r.Progress.Percent)
		attempts[i], retryOf[i], notBefore[i], serial[i], warnAfter[i] = int32(r.Attempt), r.RetryOf, timestamptz(r.NotBefore), r.Serial, int64(r.WarnAfter)
		parentRun[i], chainDepth[i] = r.ParentRun, int32(r.ChainDepth)
	}
	inserted := make(map[string]bool, n)
	err := retryDeadlock(ctx, func() error {
		clear(inserted)
		got, _ := s.pool.Query(ctx, createBatchSQL, ids, rules, jobNames, statuses, triggers, params,
			eventIDs, restartOf, triggeredBy, cancelledBy, cancelReasons, nodes, scheduled,
			created, started, finished, errs, progress, progressMessages,
			attempts, retryOf, notBefore, serial, warnAfter, parentRun, chainDepth)
		var id string
		_, err := pgx.ForEachRow(got, []any{&id}, func() error {
			inserted[id] = true
			return nil
		})
		return err
	})
	if err != nil {
		err = dbErr(err, "create %d run(s)", n)
		if len(calls) > 1 && !errors.Is(err, store.ErrUnavailable) {
			storeutil.OneByOne(ctx, calls, s.writeCreates)
			return nil
		}
		return err
	}
	var delivered []string // event ids recorded before
	for _, c := range rows {
		if inserted[c.Req.run.ID] {
			c.Set(createRes{run: c.Req.run, created: true}, nil)
		} else {
			delivered = append(delivered, c.Req.run.EventID)
		}
	}
	if len(delivered) > 0 {
		got, _ := s.pool.Query(ctx, `SELECT `+storeutil.RunColumns+` FROM runs
			WHERE id IN (SELECT run_id FROM deliveries WHERE event_id = ANY($1))`, delivered)
		earlier, err := collectRuns(got)
		if err != nil {
			return dbErr(err, "create run: read the runs of %d delivered event(s)", len(delivered))
		}
		for _, r := range earlier {
			if c := first[r.EventID]; c != nil && !inserted[c.Req.run.ID] {
				c.Set(createRes{run: r}, nil)
			}
		}
		for _, id := range delivered {
			if c := first[id]; !c.IsSet() {
				c.Set(createRes{}, fmt.Errorf("create run: the run of delivered event %q: %w", id, store.ErrNotFound))
			}
		}
	}
	for _, c := range dups {
		f := first[c.Req.run.EventID]
		c.Set(createRes{run: f.Res.run}, f.Err)
	}
	return nil
}

// finishColumns are the run's columns as the finish's UPDATE returns them.
var finishColumns = "r." + strings.ReplaceAll(storeutil.RunColumns, ", ", ", r.")

// finishBatchSQL finishes a batch of runs, each only if it is active (or
// presumed interrupted), with its progress and its log lines, numbered
// after the lines stored before.
var finishBatchSQL = `WITH f AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::bool[], $8::int[], $9::text[], $10::bigint[], $16::text[])
		AS f (id, status, error, finished_at, cancelled_by, cancel_reason, has_progress, progress_percent, progress_message, lines, output)
	), done AS (
		UPDATE runs r SET status = f.status, error = f.error, finished_at = f.finished_at,
			cancelled_by = CASE WHEN r.cancelled_by = '' THEN f.cancelled_by ELSE r.cancelled_by END,
			cancel_reason = CASE WHEN r.cancelled_by = '' THEN f.cancel_reason ELSE r.cancel_reason END,
			interrupt_presumed = FALSE,
			progress_percent = CASE WHEN f.has_progress THEN f.progress_percent ELSE r.progress_percent END,
			progress_message = CASE WHEN f.has_progress THEN f.progress_message ELSE r.progress_message END,
			log_seq = r.log_seq + f.lines,
			output = CASE WHEN f.output <> '' THEN f.output ELSE r.output END
		FROM f WHERE r.id = f.id AND (r.status IN ` + storeutil.ActiveStatuses + ` OR r.interrupt_presumed)
		RETURNING ` + finishColumns + `, r.log_seq - f.lines AS log_base
	), logged AS (
		INSERT INTO run_logs (run_id, seq, time, level, message)
		SELECT l.run_id, d.log_base + l.n, l.time, l.level, l.message
		FROM unnest($11::text[], $12::bigint[], $13::timestamptz[], $14::text[], $15::text[]) AS l (run_id, n, time, level, message)
		JOIN done d ON d.id = l.run_id
	)
	SELECT ` + storeutil.RunColumns + ` FROM done`

// writeFinishes records a batch of finishes (store.Store.RunFinish). A run
// finished twice in one batch has the second tried on its own after.
func (s *Store) writeFinishes(ctx context.Context, calls []*finishCall) error {
	seen := make(map[string]bool, len(calls))
	var rows, again []*finishCall
	for _, c := range calls {
		if seen[c.Req.ID] {
			again = append(again, c)
			continue
		}
		seen[c.Req.ID] = true
		rows = append(rows, c)
	}
	n := len(rows)
	finishes := make([]store.RunFinishParams, n)
	for i, c := range rows {
		finishes[i] = c.Req
	}
	args := finishArgs(finishes)
	finishedRuns := make(map[string]store.Run, n)
	err := retryDeadlock(ctx, func() error {
		clear(finishedRuns)
		got, _ := s.pool.Query(ctx, finishBatchSQL, args...)
		runs, err := collectRuns(got)
		for _, r := range runs {
			finishedRuns[r.ID] = r
		}
		return err
	})
	if err != nil {
		err = dbErr(err, "finish %d run(s)", n)
		if len(calls) > 1 && !errors.Is(err, store.ErrUnavailable) {
			storeutil.OneByOne(ctx, calls, s.writeFinishes)
			return nil
		}
		return err
	}
	for _, c := range rows {
		if r, ok := finishedRuns[c.Req.ID]; ok {
			r.Output = c.Req.Output
			c.Set(r, nil)
		} else {
			c.Set(store.Run{}, s.notActive(ctx, c.Req.ID, "finish run %s", c.Req.ID))
		}
	}
	if len(again) > 0 {
		return s.writeFinishes(ctx, again)
	}
	return nil
}

// finishThen records a finish with the runs that may follow it (a retry,
// or the runs its rule's chains start) in one transaction, outside the
// batches: they are rare.
func (s *Store) finishThen(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	var (
		run      store.Run
		finished bool
	)
	err := retryDeadlock(ctx, func() error {
		return s.tx(ctx, func(tx pgx.Tx) error {
			got, _ := tx.Query(ctx, finishBatchSQL, finishArgs([]store.RunFinishParams{p})...)
			runs, err := collectRuns(got)
			if err != nil {
				return err
			}
			if finished = len(runs) == 1; !finished {
				return nil
			}
			run = runs[0]
			for _, next := range storeutil.FollowingRuns(p, run) {
				params, err := storeutil.MarshalParams(next.Parameters)
				if err != nil {
					return fmt.Errorf("the run after it: %w", err)
				}
				if err := insertRun(ctx, tx, next, params); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return store.Run{}, dbErr(err, "finish run %s", p.ID)
	}
	if !finished {
		return store.Run{}, s.notActive(ctx, p.ID, "finish run %s", p.ID)
	}
	run.Output = p.Output
	return run, nil
}

// finishArgs are finishBatchSQL's arguments for the finishes.
func finishArgs(rows []store.RunFinishParams) []any {
	n := len(rows)
	var (
		ids, statuses, errs, cancelledBy, cancelReasons, progressMessages = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		finished                                                          = make([]time.Time, n)
		hasProgress                                                       = make([]bool, n)
		progress                                                          = make([]int32, n)
		lineCounts                                                        = make([]int64, n)
		outputs                                                           = make([]string, n)
		lineRuns, lineLevels, lineMessages                                []string
		lineNumbers                                                       []int64
		lineTimes                                                         []time.Time
	)
	now := storeutil.Now()
	for i, p := range rows {
		ids[i], statuses[i], errs[i], cancelledBy[i], cancelReasons[i] = p.ID, string(p.Status), p.Error, p.CancelledBy, p.CancelReason
		finished[i] = p.FinishedAt
		if p.Progress != nil {
			hasProgress[i], progress[i], progressMessages[i] = true, int32(p.Progress.Percent), p.Progress.Message
		}
		lineCounts[i] = int64(len(p.Log))
		outputs[i] = string(p.Output)
		for j, l := range p.Log {
			t := storeutil.Time(l.Time)
			if t.IsZero() {
				t = now
			}
			lineRuns, lineNumbers, lineTimes = append(lineRuns, p.ID), append(lineNumbers, int64(j+1)), append(lineTimes, t)
			lineLevels, lineMessages = append(lineLevels, l.Level), append(lineMessages, l.Message)
		}
	}
	return []any{ids, statuses, errs, finished, cancelledBy, cancelReasons,
		hasProgress, progress, progressMessages, lineCounts,
		lineRuns, lineNumbers, lineTimes, lineLevels, lineMessages, outputs}
}

// retryDeadlock runs a batch's statement, again if PostgreSQL broke a
// deadlock by aborting it (a batch can meet an agent's sweep of the runs
// of a dead one on the same rows, in another order).
func retryDeadlock(ctx context.Context, fn func() error) error {
	var err error
	for try := 0; try < 3; try++ {
		if err = fn(); !isDeadlock(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func isDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// timestamptz is a time as a timestamptz array element: NULL when zero.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}
