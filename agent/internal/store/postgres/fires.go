package postgres

import (
	"context"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// RunFiresBetween lists the scheduled fires recorded in [from, to); see
// store.Store.
func (s *Store) RunFiresBetween(ctx context.Context, from, to time.Time) ([]store.FireSeen, error) {
	rows, _ := s.pool.Query(ctx, `SELECT rule, scheduled_at, status FROM runs
		WHERE scheduled_at >= $1 AND scheduled_at < $2 ORDER BY scheduled_at`, from, to)
	defer rows.Close()
	var out []store.FireSeen
	for rows.Next() {
		var f store.FireSeen
		if err := rows.Scan(&f.Rule, &f.ScheduledAt, &f.Status); err != nil {
			return nil, dbErr(err, "list fires between %s and %s", from, to)
		}
		f.ScheduledAt = f.ScheduledAt.UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list fires between %s and %s", from, to)
	}
	return out, nil
}
