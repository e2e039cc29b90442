package sqlite

import (
	"context"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// AuditAppend records an entry; ID defaults to a new UUIDv7, Time to now.
func (s *Store) AuditAppend(ctx context.Context, e store.AuditEntry) error {
	e, err := storeutil.PrepareAudit(e)
	if err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO audit (`+storeutil.AuditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, micros(e.Time), e.Actor, e.Action, e.Target, e.Detail, string(e.Before), string(e.After))
	if err != nil {
		return dbErr(err, "append audit entry %s %s", e.Action, e.Target)
	}
	return nil
}

// AuditList lists entries newest first; see store.Store.
func (s *Store) AuditList(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, string, error) {
	limit := storeutil.Limit(f.Limit)
	q, args := storeutil.AuditListQuery(f, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", dbErr(err, "list audit entries")
	}
	defer rows.Close()
	entries := []store.AuditEntry{}
	for rows.Next() {
		var (
			e             store.AuditEntry
			us            int64
			before, after string
		)
		if err := rows.Scan(&e.ID, &us, &e.Actor, &e.Action, &e.Target, &e.Detail, &before, &after); err != nil {
			return nil, "", dbErr(err, "list audit entries")
		}
		e.Time = fromMicros(us)
		e.Before, e.After = storeutil.RawJSON(before), storeutil.RawJSON(after)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr(err, "list audit entries")
	}
	entries, next := storeutil.Page(entries, limit, func(e store.AuditEntry) string { return e.ID })
	return entries, next, nil
}
