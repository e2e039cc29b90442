package sqlite

import (
	"context"
	"database/sql"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunLogAppend stores lines of a run in one transaction. The run's log_seq
// column counts the lines given so far, so numbering needs no scan of the
// log. A line without a time gets now; ErrNotFound if the run does not exist.
func (s *Store) RunLogAppend(ctx context.Context, runID string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		err := tx.QueryRowContext(ctx, `UPDATE runs SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq`,
			runID, len(lines)).Scan(&last)
		if err != nil {
			return dbErr(err, "append log of run %s", runID)
		}
		return s.insertLog(ctx, tx, runID, last-int64(len(lines)), lines)
	})
}

// insertLog inserts lines numbered from after+1; the run's log_seq has been
// raised past them.
func (s *Store) insertLog(ctx context.Context, tx *sql.Tx, runID string, after int64, lines []store.LogLine) error {
	stmt := s.hot.stmt(ctx, tx, hotInsertLog)
	now := storeutil.Now()
	seq := after
	for _, l := range lines {
		seq++
		t := storeutil.Time(l.Time)
		if t.IsZero() {
			t = now
		}
		if _, err := stmt.ExecContext(ctx, runID, seq, micros(t), l.Level, l.Message); err != nil {
			return dbErr(err, "append log of run %s: line %d", runID, seq)
		}
	}
	return nil
}

// RunLogList returns up to limit lines (1000 if limit <= 0, at most
// 10001: the API's largest page and the line that says a next page exists)
// of a run with Seq > afterSeq, in order. A run that does not exist has no
// lines.
func (s *Store) RunLogList(ctx context.Context, runID string, afterSeq int64, limit int) ([]store.LogLine, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, level, message FROM run_logs
		WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, runID, afterSeq, storeutil.LogLimit(limit))
	if err != nil {
		return nil, dbErr(err, "list log of run %s", runID)
	}
	defer rows.Close()
	lines := []store.LogLine{}
	for rows.Next() {
		var (
			l  store.LogLine
			us int64
		)
		if err := rows.Scan(&l.Seq, &us, &l.Level, &l.Message); err != nil {
			return nil, dbErr(err, "list log of run %s", runID)
		}
		l.Time = fromMicros(us)
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list log of run %s", runID)
	}
	return lines, nil
}
