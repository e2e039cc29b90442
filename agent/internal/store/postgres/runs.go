package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
	"github.com/jobbridge/jobbridge/shared/api"
)

// ruleLockSpace is the first key of the pg_advisory_xact_lock a RunCreate
// with SkipIfActive or QueueIfActive takes on its rule (the second is the
// name's hash), so two fires of one rule check for an active run one after
// the other.
const ruleLockSpace int32 = 0x6a62 // "jb"

// jobLockSpace is the first key of the pg_advisory_xact_lock a RunCreate
// with a JobLimit, and a RunClaim, take on a job with a limit: the agents
// count the job's active runs one after the other, so none overfills it.
const jobLockSpace int32 = 0x6a6c // "jl"

// lockJob takes the job's advisory lock to the end of tx.
func lockJob(ctx context.Context, tx pgx.Tx, job string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, jobLockSpace, job); err != nil {
		return dbErr(err, "lock job %q", job)
	}
	return nil
}

// insertRunSQL inserts one run, its columns in RunColumns' order.
var insertRunSQL = `INSERT INTO runs (` + storeutil.RunColumns + `)
	VALUES (` + storeutil.Placeholders(1, storeutil.RunColumnCount) + `)`

// insertRun inserts a prepared run in tx.
func insertRun(ctx context.Context, tx pgx.Tx, r store.Run, params string) error {
	_, err := tx.Exec(ctx, insertRunSQL,
		r.ID, r.Rule, r.Job, string(r.Status), string(r.Trigger), params, r.EventID, r.RestartOf,
		r.TriggeredBy, r.CancelledBy, r.CancelReason, r.Node, nullTime(r.ScheduledAt), r.CreatedAt,
		nullTime(r.StartedAt), nullTime(r.FinishedAt), r.Error, r.Progress.Percent, r.Progress.Message,
		r.Attempt, r.RetryOf, nullTime(r.NotBefore), r.Serial, int64(r.WarnAfter), r.ParentRun, r.ChainDepth)
	if err != nil {
		return dbErr(err, "create run %s", r.ID)
	}
	return nil
}

// scanRun reads a run's columns (storeutil.RunColumns), then into extra
// any columns that follow them.
func scanRun(row pgx.Row, extra ...any) (store.Run, error) {
	var (
		r                          store.Run
		status, trigger, params    string
		scheduled, started, finish pgtype.Timestamptz
		notBefore                  pgtype.Timestamptz
		created                    time.Time
		warnAfter                  int64
	)
	err := row.Scan(append([]any{&r.ID, &r.Rule, &r.Job, &status, &trigger, &params, &r.EventID, &r.RestartOf,
		&r.TriggeredBy, &r.CancelledBy, &r.CancelReason, &r.Node, &scheduled, &created,
		&started, &finish, &r.Error, &r.Progress.Percent, &r.Progress.Message,
		&r.Attempt, &r.RetryOf, &notBefore, &r.Serial, &warnAfter, &r.ParentRun, &r.ChainDepth}, extra...)...)
	if err != nil {
		return r, err
	}
	if r.Parameters, err = storeutil.UnmarshalParams(params); err != nil {
		return r, err
	}
	r.Status = api.RunStatus(status)
	r.Trigger = api.Trigger(trigger)
	r.ScheduledAt = fromNullTime(scheduled)
	r.CreatedAt = created.UTC()
	r.StartedAt = fromNullTime(started)
	r.FinishedAt = fromNullTime(finish)
	r.NotBefore = fromNullTime(notBefore)
	r.WarnAfter = time.Duration(warnAfter)
	return r, nil
}

func collectRuns(rows pgx.Rows) ([]store.Run, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Run, error) { return scanRun(row) })
}

// RunCreate records a new run; see store.Store. A delivery claims its event
// id in deliveries with INSERT ... ON CONFLICT DO NOTHING: a concurrent
// duplicate waits on that row until the first transaction ends, then inserts
// nothing and reads back the first run. Runs without an overlap check are
// group-committed (see writeCreates); SkipIfActive serializes the fires of
// one rule with an advisory lock held to the end of its own transaction.
func (s *Store) RunCreate(ctx context.Context, p store.RunCreateParams) (store.Run, bool, error) {
	r, err := storeutil.PrepareRun(p.Run)
	if err != nil {
		return store.Run{}, false, err
	}
	params, err := storeutil.MarshalParams(r.Parameters)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run of job %q: %w", r.Job, err)
	}
	checks := r.Status == api.StatusRunning && (p.SkipIfActive || p.QueueIfActive || p.JobLimit > 0)
	if !checks {
		res, err := s.creates.Do(ctx, createReq{run: r, params: params})
		return res.run, res.created, err
	}
	duplicate := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if r.EventID != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO deliveries (event_id, run_id, received_at) VALUES ($1, $2, $3)
				ON CONFLICT (event_id) DO NOTHING`, r.EventID, r.ID, r.CreatedAt)
			if err != nil {
				return dbErr(err, "create run %s: record delivery %q", r.ID, r.EventID)
			}
			if tag.RowsAffected() == 0 {
				duplicate = true
				return nil
			}
		}
		if p.SkipIfActive || p.QueueIfActive {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, ruleLockSpace, r.Rule); err != nil {
				return dbErr(err, "create run: lock rule %q", r.Rule)
			}
		}
		if p.SkipIfActive {
			var active string
			err := tx.QueryRow(ctx, `SELECT id FROM runs WHERE rule = $1 AND status IN `+
				storeutil.ActiveStatuses+` ORDER BY id LIMIT 1`, r.Rule).Scan(&active)
			switch {
			case err == nil:
				storeutil.Skip(&r, active)
			case !errors.Is(err, pgx.ErrNoRows):
				return dbErr(err, "create run: look up active runs of rule %q", r.Rule)
			}
		}
		if p.QueueIfActive && r.Status == api.StatusRunning {
			var n int
			err := tx.QueryRow(ctx, storeutil.RuleUnfinishedQuery, r.Rule).Scan(&n)
			if err != nil {
				return dbErr(err, "create run: look up unfinished runs of rule %q", r.Rule)
			}
			if n > 0 {
				storeutil.Queue(&r, true)
			}
		}
		if p.JobLimit > 0 && r.Status == api.StatusRunning {
			if err := lockJob(ctx, tx, r.Job); err != nil {
				return fmt.Errorf("create run: %w", err)
			}
			var active, waiting int
			err := tx.QueryRow(ctx, `SELECT
				(SELECT COUNT(*) FROM runs WHERE job = $1 AND status IN `+storeutil.ActiveStatuses+`),
				(SELECT COUNT(*) FROM runs WHERE job = $1 AND status = 'queued' AND (not_before IS NULL OR not_before <= $2))`,
				r.Job, r.CreatedAt).Scan(&active, &waiting)
			if err != nil {
				return dbErr(err, "create run: count active runs of job %q", r.Job)
			}
			if active >= p.JobLimit || waiting > 0 {
				storeutil.Queue(&r, p.QueueIfActive)
			}
		}
		return insertRun(ctx, tx, r, params)
	})
	if err != nil {
		return store.Run{}, false, err
	}
	if !duplicate {
		return r, true, nil
	}
	first, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+storeutil.RunColumns+` FROM runs
		WHERE id = (SELECT run_id FROM deliveries WHERE event_id = $1)`, r.EventID))
	if err != nil {
		return store.Run{}, false, dbErr(err, "create run: read the run of delivered event %q", r.EventID)
	}
	return first, false, nil
}

// RunGet returns the run with the given id, or ErrNotFound.
func (s *Store) RunGet(ctx context.Context, id string) (store.Run, error) {
	var output string
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+storeutil.RunColumns+`, output FROM runs WHERE id = $1`, id), &output)
	if err != nil {
		return store.Run{}, dbErr(err, "get run %s", id)
	}
	if output != "" {
		r.Output = json.RawMessage(output)
	}
	return r, nil
}

// RunList lists runs newest first; see store.Store.
func (s *Store) RunList(ctx context.Context, f store.RunFilter) ([]store.Run, string, error) {
	limit := storeutil.Limit(f.Limit)
	q, args := storeutil.RunListQuery(f, limit, func(t time.Time) any { return t })
	rows, _ := s.pool.Query(ctx, q, args...)
	runs, err := collectRuns(rows)
	if err != nil {
		return nil, "", dbErr(err, "list runs")
	}
	runs, next := storeutil.Page(runs, limit, func(r store.Run) string { return r.ID })
	return runs, next, nil
}

// RunSetCancelling moves a running run to cancelling, and finishes a queued
// one cancelled; a run already cancelling is returned as it is. ErrConflict
// if it has finished.
func (s *Store) RunSetCancelling(ctx context.Context, id, by, reason string) (store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `UPDATE runs SET
			status = CASE status WHEN 'queued' THEN 'cancelled' ELSE 'cancelling' END,
			finished_at = CASE status WHEN 'queued' THEN $4 ELSE finished_at END,
			error = CASE status WHEN 'queued' THEN $5 ELSE error END,
			cancelled_by = $2, cancel_reason = $3
		WHERE id = $1 AND status IN ('running', 'queued') RETURNING `+storeutil.RunColumns,
		id, by, reason, storeutil.Now(), storeutil.CancelQueuedError(by, reason)))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Run{}, dbErr(err, "cancel run %s", id)
	}
	r, err = s.RunGet(ctx, id)
	switch {
	case err != nil:
		return store.Run{}, fmt.Errorf("cancel run: %w", err)
	case r.Status == api.StatusCancelling:
		return r, nil
	}
	return store.Run{}, fmt.Errorf("cancel run %s: it has finished (%s): %w", id, r.Status, store.ErrConflict)
}

// RunSetProgress records progress on an active run, or one presumed
// interrupted; ErrConflict if the run has finished, ErrNotFound if there
// is none.
func (s *Store) RunSetProgress(ctx context.Context, id string, p api.Progress) error {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET progress_percent = $2, progress_message = $3
		WHERE id = $1 AND (status IN `+storeutil.ActiveStatuses+` OR interrupt_presumed)`, id, p.Percent, p.Message)
	if err := affectedOne(tag, err, "set progress of run %s", id); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.notActive(ctx, id, "set progress of run %s", id)
}

// notActive explains why a change to an active run changed nothing: the run
// has finished (ErrConflict) or does not exist (ErrNotFound).
func (s *Store) notActive(ctx context.Context, id, format string, args ...any) error {
	r, err := s.RunGet(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
	}
	return fmt.Errorf("%s: it has finished (%s): %w", fmt.Sprintf(format, args...), r.Status, store.ErrConflict)
}

// RunFinish records an active run's final state, with its last log lines
// and progress, and returns the run; a run presumed interrupted takes it
// too. ErrConflict if it has finished already. Finishes are group-committed
// (see writeFinishes).
func (s *Store) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	p, err := storeutil.PrepareFinish(p)
	if err != nil {
		return store.Run{}, err
	}
	if p.Then != nil || len(p.Chained) > 0 {
		return s.finishThen(ctx, p)
	}
	return s.finishes.Do(ctx, p)
}

// RunInterruptActive marks the active runs of node (of every node when node
// is empty) presumed interrupted, finished at the given time (now if zero).
func (s *Store) RunInterruptActive(ctx context.Context, node, reason string, at time.Time) ([]store.Run, error) {
	at = storeutil.Time(at)
	if at.IsZero() {
		at = storeutil.Now()
	}
	rows, _ := s.pool.Query(ctx, `UPDATE runs SET status = 'interrupted', error = $2, finished_at = $3, interrupt_presumed = TRUE
		WHERE status IN `+storeutil.ActiveStatuses+` AND ($1 = '' OR node = $1)
		RETURNING `+storeutil.RunColumns, node, reason, at)
	runs, err := collectRuns(rows)
	if err != nil {
		return nil, dbErr(err, "interrupt active runs of node %q", node)
	}
	return runs, nil
}

// RunCountByStatus counts runs per status; every status is in the map, with
// 0 when no run has it.
func (s *Store) RunCountByStatus(ctx context.Context, f store.RunFilter) (map[api.RunStatus]int64, error) {
	q, args := storeutil.RunCountQuery(f, func(t time.Time) any { return t })
	rows, _ := s.pool.Query(ctx, q, args...)
	counts := make(map[api.RunStatus]int64, len(api.RunStatuses))
	for _, st := range api.RunStatuses {
		counts[st] = 0
	}
	var (
		st string
		n  int64
	)
	_, err := pgx.ForEachRow(rows, []any{&st, &n}, func() error {
		counts[api.RunStatus(st)] = n
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "count runs")
	}
	return counts, nil
}

// RunPrune deletes finished runs created before the given time; their log
// lines and delivery records go with them (ON DELETE CASCADE).
func (s *Store) RunPrune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE status NOT IN `+storeutil.UnfinishedStatuses+
		` AND created_at < $1`, storeutil.Time(before))
	if err != nil {
		return 0, dbErr(err, "prune runs")
	}
	return tag.RowsAffected(), nil
}
