package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The queries of RuleHealthList. Each reads, per rule, a few entries of a
// rule's index from its newest end (runs_rule_id, and the partial indexes
// of the rule health migrations), never the rule's whole history: $1 is the
// names as a JSON array. The recent runs are the range of the covering
// index runs_rule_ended from a rule's window-th newest entry on: read
// from the index alone, which halves the list's cost against a lookup of
// each run in the table (SQLite cannot return several columns of a
// correlated LIMIT subquery, as PostgreSQL's LATERAL does).
const (
	healthLastQuery   = `SELECT ` + storeutil.RunColumns + ` FROM runs WHERE id IN (SELECT value FROM json_each($1))`
	healthRecentQuery = `WITH n(name) AS (SELECT DISTINCT value FROM json_each($1))
		SELECT r.rule, r.id, r.status, r.started_at, r.finished_at FROM n JOIN runs r
		ON r.rule = n.name AND r.status IN ` + storeutil.HealthStatusList + ` AND r.id >= COALESCE((SELECT id FROM runs
			WHERE rule = n.name AND status IN ` + storeutil.HealthStatusList + ` ORDER BY id DESC LIMIT 1 OFFSET %d), '')`
)

// healthSummaryQuery reads, per rule, the last finish of its runs in each
// of store.HealthStatuses (see storeutil.HealthLastFinishes) and the id of
// its newest run.
var healthSummaryQuery = `WITH n(name) AS (SELECT DISTINCT value FROM json_each($1))
		SELECT n.name,
			` + storeutil.HealthLastFinishes(func(status string) string {
	return `SELECT finished_at FROM runs WHERE rule = n.name AND status IN ` + storeutil.HealthStatusList +
		` AND status = '` + status + `' ORDER BY finished_at DESC LIMIT 1`
}) + `,
			(SELECT id FROM runs WHERE rule = n.name ORDER BY id DESC LIMIT 1)
		FROM n`

// RuleHealthList reads how the named rules' runs have gone; see
// store.Store.
func (s *Store) RuleHealthList(ctx context.Context, names []string) (map[string]store.RuleHealth, error) {
	if len(names) == 0 {
		return map[string]store.RuleHealth{}, nil
	}
	js, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("read rule health: %w", err)
	}
	summary := make(map[string]store.RuleHealth, len(names))
	lastIDs := make(map[string]string, len(names))
	rows, err := s.r.QueryContext(ctx, healthSummaryQuery, string(js))
	if err != nil {
		return nil, dbErr(err, "read rule health")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name   string
			ends   = make([]sql.NullInt64, len(store.HealthStatuses))
			lastID sql.NullString
		)
		dest := []any{&name}
		for i := range ends {
			dest = append(dest, &ends[i])
		}
		if err := rows.Scan(append(dest, &lastID)...); err != nil {
			return nil, dbErr(err, "read rule health")
		}
		last := make([]time.Time, len(ends))
		for i, e := range ends {
			last[i] = fromNullMicros(e)
		}
		summary[name] = storeutil.HealthEnds(last)
		if lastID.Valid {
			lastIDs[name] = lastID.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "read rule health")
	}
	ids := make([]string, 0, len(lastIDs))
	for _, id := range lastIDs {
		ids = append(ids, id)
	}
	idsJS, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("read rule health: %w", err)
	}
	last, err := scanRuns(s.r.QueryContext(ctx, healthLastQuery, string(idsJS)))
	if err != nil {
		return nil, dbErr(err, "read rules' last runs")
	}
	recent := make(map[string][]store.HealthRun, len(names))
	rrows, err := s.r.QueryContext(ctx, fmt.Sprintf(healthRecentQuery, api.HealthWindow-1), string(js))
	if err != nil {
		return nil, dbErr(err, "read rules' recent runs")
	}
	defer rrows.Close()
	for rrows.Next() {
		var (
			rule, id, status string
			started, finish  sql.NullInt64
		)
		if err := rrows.Scan(&rule, &id, &status, &started, &finish); err != nil {
			return nil, dbErr(err, "read rules' recent runs")
		}
		recent[rule] = append(recent[rule], store.HealthRun{ID: id, Status: api.RunStatus(status),
			StartedAt: fromNullMicros(started), FinishedAt: fromNullMicros(finish)})
	}
	if err := rrows.Err(); err != nil {
		return nil, dbErr(err, "read rules' recent runs")
	}
	return storeutil.HealthAssemble(names, summary, lastIDs, last, recent), nil
}
