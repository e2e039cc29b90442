package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The queries of RuleHealthList. Each reads, per rule, a few entries of a
// rule's index from its newest end (runs_rule_id, and the partial indexes
// of the rule health migrations), never the rule's whole history: $1 is the names.
const (
	healthLastQuery   = `SELECT ` + storeutil.RunColumns + ` FROM runs WHERE id = ANY($1::text[])`
	healthRecentQuery = `SELECT n.name, r.id, r.status, r.started_at, r.finished_at
		FROM (SELECT DISTINCT unnest($1::text[]) AS name) n
		CROSS JOIN LATERAL (SELECT id, status, started_at, finished_at FROM runs
			WHERE rule = n.name AND status IN ` + storeutil.HealthStatusList + `
			ORDER BY id DESC LIMIT %d) r`
)

// healthSummaryQuery reads, per rule, the last finish of its runs in each
// of store.HealthStatuses (see storeutil.HealthLastFinishes; max reads
// the newest end of the index's (rule, status) range) and the id of its
// newest run.
var healthSummaryQuery = `SELECT n.name,
			` + storeutil.HealthLastFinishes(func(status string) string {
	return `SELECT max(finished_at) FROM runs WHERE rule = n.name AND status = '` + status + `'`
}) + `,
			(SELECT id FROM runs WHERE rule = n.name ORDER BY id DESC LIMIT 1)
		FROM (SELECT DISTINCT unnest($1::text[]) AS name) n`

// RuleHealthList reads how the named rules' runs have gone; see
// store.Store.
func (s *Store) RuleHealthList(ctx context.Context, names []string) (map[string]store.RuleHealth, error) {
	if len(names) == 0 {
		return map[string]store.RuleHealth{}, nil
	}
	summary := make(map[string]store.RuleHealth, len(names))
	lastIDs := make(map[string]string, len(names))
	var (
		name   string
		ends   = make([]pgtype.Timestamptz, len(store.HealthStatuses))
		lastID pgtype.Text
	)
	dest := []any{&name}
	for i := range ends {
		dest = append(dest, &ends[i])
	}
	rows, _ := s.pool.Query(ctx, healthSummaryQuery, names)
	_, err := pgx.ForEachRow(rows, append(dest, &lastID), func() error {
		last := make([]time.Time, len(ends))
		for i, e := range ends {
			last[i] = fromNullTime(e)
		}
		summary[name] = storeutil.HealthEnds(last)
		if lastID.Valid {
			lastIDs[name] = lastID.String
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "read rule health")
	}
	ids := make([]string, 0, len(lastIDs))
	for _, id := range lastIDs {
		ids = append(ids, id)
	}
	rows, _ = s.pool.Query(ctx, healthLastQuery, ids)
	last, err := collectRuns(rows)
	if err != nil {
		return nil, dbErr(err, "read rules' last runs")
	}
	recent := make(map[string][]store.HealthRun, len(names))
	var (
		id, status      string
		started, finish pgtype.Timestamptz
	)
	rows, _ = s.pool.Query(ctx, fmt.Sprintf(healthRecentQuery, api.HealthWindow), names)
	_, err = pgx.ForEachRow(rows, []any{&name, &id, &status, &started, &finish}, func() error {
		recent[name] = append(recent[name], store.HealthRun{ID: id, Status: api.RunStatus(status),
			StartedAt: fromNullTime(started), FinishedAt: fromNullTime(finish)})
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "read rules' recent runs")
	}
	return storeutil.HealthAssemble(names, summary, lastIDs, last, recent), nil
}
