package sqlite

import (
	"context"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// RunFiresBetween lists the scheduled fires recorded in [from, to); see
// store.Store.
func (s *Store) RunFiresBetween(ctx context.Context, from, to time.Time) ([]store.FireSeen, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule, scheduled_at, status FROM runs
		WHERE scheduled_at >= $1 AND scheduled_at < $2 ORDER BY scheduled_at`, micros(from), micros(to))
	if err != nil {
		return nil, dbErr(err, "list fires between %s and %s", from, to)
	}
	defer rows.Close()
	var out []store.FireSeen
	for rows.Next() {
		var f store.FireSeen
		var at int64
		if err := rows.Scan(&f.Rule, &at, &f.Status); err != nil {
			return nil, dbErr(err, "list fires between %s and %s", from, to)
		}
		f.ScheduledAt = fromMicros(at)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list fires between %s and %s", from, to)
	}
	return out, nil
}
