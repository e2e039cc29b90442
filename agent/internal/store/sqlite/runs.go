package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
	"github.com/jobbridge/jobbridge/shared/api"
)

type scanner interface{ Scan(...any) error }

// scanRun reads a run's columns (storeutil.RunColumns), then into extra
// any columns that follow them.
func scanRun(row scanner, extra ...any) (store.Run, error) {
	var (
		r                          store.Run
		status, trigger, params    string
		scheduled, started, finish sql.NullInt64
		notBefore                  sql.NullInt64
		created, warnAfter         int64
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
	r.ScheduledAt = fromNullMicros(scheduled)
	r.CreatedAt = fromMicros(created)
	r.StartedAt = fromNullMicros(started)
	r.FinishedAt = fromNullMicros(finish)
	r.NotBefore = fromNullMicros(notBefore)
	r.WarnAfter = time.Duration(warnAfter)
	return r, nil
}

func scanRuns(rows *sql.Rows, err error) ([]store.Run, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	runs := []store.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// RunCreate records a new run; see store.Store. Concurrent calls are
// group-committed: one transaction records the runs that gathered while the
// one before was being written (see writeBatch). The writer runs one
// transaction at a time, and a batch's runs one after the other, so the
// delivery check, the overlap check and the insert of one run cannot
// interleave with another's.
func (s *Store) RunCreate(ctx context.Context, p store.RunCreateParams) (store.Run, bool, error) {
	r, err := storeutil.PrepareRun(p.Run)
	if err != nil {
		return store.Run{}, false, err
	}
	params, err := storeutil.MarshalParams(r.Parameters)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run of job %q: %w", r.Job, err)
	}
	res, err := s.writes.Do(ctx, write{create: &createReq{run: r, params: params, skipIfActive: p.SkipIfActive,
		queueIfActive: p.QueueIfActive, jobLimit: p.JobLimit}})
	return res.run, res.created, err
}

// The writer is one connection: the runs' creations and finishes that
// arrive while it writes go together in its next transaction, whatever
// their kind, so that a busy agent commits a few hundred times a second.
type (
	// write is a creation or a finish.
	write struct {
		create *createReq
		finish *store.RunFinishParams
	}
	createReq struct {
		run           store.Run // prepared: id, times and status set
		params        string
		skipIfActive  bool
		queueIfActive bool
		jobLimit      int
	}
	// written is a write's outcome: the run created (or delivered before)
	// or finished.
	written struct {
		run     store.Run
		created bool
	}
	writeCall = storeutil.Call[write, written]
)

func (s *Store) initBatchers() {
	s.writes = &storeutil.Batcher[write, written]{Write: s.writeBatch}
}

// writeBatch records a batch of creations and finishes in one transaction,
// in the order they came. Outcomes are set once it has committed: if any
// statement fails, none is recorded. A finish of a run that is not active
// gets ErrConflict (or ErrNotFound) after the commit.
func (s *Store) writeBatch(ctx context.Context, calls []*writeCall) error {
	res := make([]written, len(calls))
	active := make([]bool, len(calls))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, c := range calls {
			var err error
			if c.Req.create != nil {
				res[i], err = s.createIn(ctx, tx, *c.Req.create)
			} else {
				res[i].run, active[i], err = s.finishIn(ctx, tx, *c.Req.finish)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if len(calls) > 1 && !errors.Is(err, store.ErrUnavailable) {
			storeutil.OneByOne(ctx, calls, s.writeBatch)
			return nil
		}
		return err
	}
	for i, c := range calls {
		if c.Req.finish != nil && !active[i] {
			c.Set(written{}, s.notActive(ctx, c.Req.finish.ID, "finish run %s", c.Req.finish.ID))
			continue
		}
		c.Set(res[i], nil)
	}
	return nil
}

// createIn records one run in tx, unless its event id was delivered before
// (then it returns the earlier run, created false).
func (s *Store) createIn(ctx context.Context, tx *sql.Tx, req createReq) (written, error) {
	r := req.run
	if r.EventID != "" {
		first, err := scanRun(s.hot.stmt(ctx, tx, hotDeliveredRun).QueryRowContext(ctx, r.EventID))
		if err == nil {
			return written{run: first}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return written{}, dbErr(err, "create run: look up delivery %q", r.EventID)
		}
	}
	if req.skipIfActive && r.Status == api.StatusRunning {
		var active string
		err := s.hot.stmt(ctx, tx, hotActiveRun).QueryRowContext(ctx, r.Rule).Scan(&active)
		switch {
		case err == nil:
			storeutil.Skip(&r, active)
		case !errors.Is(err, sql.ErrNoRows):
			return written{}, dbErr(err, "create run: look up active runs of rule %q", r.Rule)
		}
	}
	if req.queueIfActive && r.Status == api.StatusRunning {
		var n int
		err := s.hot.stmt(ctx, tx, hotUnfinishedOfRule).QueryRowContext(ctx, r.Rule).Scan(&n)
		if err != nil {
			return written{}, dbErr(err, "create run: look up unfinished runs of rule %q", r.Rule)
		}
		if n > 0 {
			storeutil.Queue(&r, true)
		}
	}
	if req.jobLimit > 0 && r.Status == api.StatusRunning {
		var active, waiting int
		err := s.hot.stmt(ctx, tx, hotJobLoad).QueryRowContext(ctx, r.Job, micros(r.CreatedAt)).Scan(&active, &waiting)
		if err != nil {
			return written{}, dbErr(err, "create run: count active runs of job %q", r.Job)
		}
		if active >= req.jobLimit || waiting > 0 {
			storeutil.Queue(&r, req.queueIfActive)
		}
	}
	if err := s.insertRun(ctx, tx, r, req.params); err != nil {
		return written{}, err
	}
	if r.EventID != "" {
		_, err := s.hot.stmt(ctx, tx, hotInsertDelivery).ExecContext(ctx, r.EventID, r.ID, micros(r.CreatedAt))
		if err != nil {
			return written{}, dbErr(err, "create run %s: record delivery %q", r.ID, r.EventID)
		}
	}
	return written{run: r, created: true}, nil
}

// insertRun inserts a prepared run, its parameters encoded.
func (s *Store) insertRun(ctx context.Context, tx *sql.Tx, r store.Run, params string) error {
	_, err := s.hot.stmt(ctx, tx, hotInsertRun).ExecContext(ctx,
		r.ID, r.Rule, r.Job, string(r.Status), string(r.Trigger), params, r.EventID, r.RestartOf,
		r.TriggeredBy, r.CancelledBy, r.CancelReason, r.Node, nullMicros(r.ScheduledAt), micros(r.CreatedAt),
		nullMicros(r.StartedAt), nullMicros(r.FinishedAt), r.Error, r.Progress.Percent, r.Progress.Message,
		r.Attempt, r.RetryOf, nullMicros(r.NotBefore), r.Serial, int64(r.WarnAfter), r.ParentRun, r.ChainDepth)
	if err != nil {
		return dbErr(err, "create run %s", r.ID)
	}
	return nil
}

// RunGet returns the run with the given id, or ErrNotFound.
func (s *Store) RunGet(ctx context.Context, id string) (store.Run, error) {
	var output string
	r, err := scanRun(s.reads[readRun].QueryRowContext(ctx, id), &output)
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
	q, args := storeutil.RunListQuery(f, limit, func(t time.Time) any { return micros(t) })
	runs, err := scanRuns(s.r.QueryContext(ctx, q, args...))
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
	r, err := scanRun(s.w.QueryRowContext(ctx, `UPDATE runs SET
			status = CASE status WHEN 'queued' THEN 'cancelled' ELSE 'cancelling' END,
			finished_at = CASE status WHEN 'queued' THEN $4 ELSE finished_at END,
			error = CASE status WHEN 'queued' THEN $5 ELSE error END,
			cancelled_by = $2, cancel_reason = $3
		WHERE id = $1 AND status IN ('running', 'queued') RETURNING `+storeutil.RunColumns,
		id, by, reason, micros(storeutil.Now()), storeutil.CancelQueuedError(by, reason)))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
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
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET progress_percent = $2, progress_message = $3
		WHERE id = $1 AND (status IN `+storeutil.ActiveStatuses+` OR interrupt_presumed)`, id, p.Percent, p.Message)
	if err := affectedOne(res, err, "set progress of run %s", id); !errors.Is(err, store.ErrNotFound) {
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
// with creations (see writeBatch).
func (s *Store) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	p, err := storeutil.PrepareFinish(p)
	if err != nil {
		return store.Run{}, err
	}
	res, err := s.writes.Do(ctx, write{finish: &p})
	return res.run, err
}

// finishIn finishes one run in tx, with its log lines and progress, and
// reports false if the run is not active.
func (s *Store) finishIn(ctx context.Context, tx *sql.Tx, p store.RunFinishParams) (run store.Run, active bool, err error) {
	hasProgress, percent, message := false, 0, ""
	if p.Progress != nil {
		hasProgress, percent, message = true, p.Progress.Percent, p.Progress.Message
	}
	var logSeq int64
	r, err := scanRun(s.hot.stmt(ctx, tx, hotFinish).QueryRowContext(ctx,
		p.ID, string(p.Status), p.Error, micros(p.FinishedAt), p.CancelledBy, p.CancelReason,
		hasProgress, percent, message, len(p.Log), string(p.Output)), &logSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, false, nil
	}
	if err != nil {
		return store.Run{}, false, dbErr(err, "finish run %s", p.ID)
	}
	if len(p.Log) > 0 {
		if err := s.insertLog(ctx, tx, p.ID, logSeq-int64(len(p.Log)), p.Log); err != nil {
			return store.Run{}, false, err
		}
	}
	for _, next := range storeutil.FollowingRuns(p, r) {
		params, err := storeutil.MarshalParams(next.Parameters)
		if err != nil {
			return store.Run{}, false, fmt.Errorf("finish run %s: the run after it: %w", p.ID, err)
		}
		if err := s.insertRun(ctx, tx, next, params); err != nil {
			return store.Run{}, false, err
		}
	}
	r.Output = p.Output
	return r, true, nil
}

// RunInterruptActive marks the active runs of node (of every node when node
// is empty) presumed interrupted, finished at the given time (now if zero).
func (s *Store) RunInterruptActive(ctx context.Context, node, reason string, at time.Time) ([]store.Run, error) {
	at = storeutil.Time(at)
	if at.IsZero() {
		at = storeutil.Now()
	}
	runs, err := scanRuns(s.w.QueryContext(ctx, `UPDATE runs SET status = 'interrupted', error = $2, finished_at = $3, interrupt_presumed = 1
		WHERE status IN `+storeutil.ActiveStatuses+` AND ($1 = '' OR node = $1)
		RETURNING `+storeutil.RunColumns, node, reason, micros(at)))
	if err != nil {
		return nil, dbErr(err, "interrupt active runs of node %q", node)
	}
	return runs, nil
}

// RunCountByStatus counts runs per status; every status is in the map, with
// 0 when no run has it.
func (s *Store) RunCountByStatus(ctx context.Context, f store.RunFilter) (map[api.RunStatus]int64, error) {
	q, args := storeutil.RunCountQuery(f, func(t time.Time) any { return micros(t) })
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err, "count runs")
	}
	defer rows.Close()
	counts := make(map[api.RunStatus]int64, len(api.RunStatuses))
	for _, st := range api.RunStatuses {
		counts[st] = 0
	}
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, dbErr(err, "count runs")
		}
		counts[api.RunStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "count runs")
	}
	return counts, nil
}

// RunPrune deletes finished runs created before the given time; their log
// lines and delivery records go with them (ON DELETE CASCADE).
func (s *Store) RunPrune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM runs WHERE status NOT IN `+storeutil.UnfinishedStatuses+
		` AND created_at < $1`, micros(storeutil.Time(before)))
	if err != nil {
		return 0, dbErr(err, "prune runs")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbErr(err, "prune runs")
	}
	return n, nil
}
