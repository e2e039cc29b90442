package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunLogAppend stores lines of a run in one transaction and one INSERT. The
// run's log_seq column counts the lines given so far; raising it locks the
// run's row, so concurrent appends to one run number their lines one batch
// after the other. A line without a time gets now; ErrNotFound if the run
// does not exist.
func (s *Store) RunLogAppend(ctx context.Context, runID string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var last int64
		err := tx.QueryRow(ctx, `UPDATE runs SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq`,
			runID, len(lines)).Scan(&last)
		if err != nil {
			return dbErr(err, "append log of run %s", runID)
		}
		var (
			now      = storeutil.Now()
			seqs     = make([]int64, len(lines))
			times    = make([]time.Time, len(lines))
			levels   = make([]string, len(lines))
			messages = make([]string, len(lines))
		)
		for i, l := range lines {
			seqs[i] = last - int64(len(lines)) + int64(i) + 1
			times[i] = storeutil.Time(l.Time)
			if times[i].IsZero() {
				times[i] = now
			}
			levels[i], messages[i] = l.Level, l.Message
		}
		_, err = tx.Exec(ctx, `INSERT INTO run_logs (run_id, seq, time, level, message)
			SELECT $1, seq, time, level, message
			FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[]) AS l (seq, time, level, message)`,
			runID, seqs, times, levels, messages)
		if err != nil {
			return dbErr(err, "append log of run %s", runID)
		}
		return nil
	})
}

// RunLogList returns up to limit lines (1000 if limit <= 0, at most
// 10001: the API's largest page and the line that says a next page exists)
// of a run with Seq > afterSeq, in order. A run that does not exist has no
// lines.
func (s *Store) RunLogList(ctx context.Context, runID string, afterSeq int64, limit int) ([]store.LogLine, error) {
	rows, _ := s.pool.Query(ctx, `SELECT seq, time, level, message FROM run_logs
		WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, runID, afterSeq, storeutil.LogLimit(limit))
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.LogLine, error) {
		var l store.LogLine
		err := row.Scan(&l.Seq, &l.Time, &l.Level, &l.Message)
		l.Time = l.Time.UTC()
		return l, err
	})
	if err != nil {
		return nil, dbErr(err, "list log of run %s", runID)
	}
	return lines, nil
}
