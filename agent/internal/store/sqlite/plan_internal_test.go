package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// TestQueueAndSeriesQueriesReadTheirIndexes checks that the queries of
// issue 16 that run on every create, claim, run page or watch check read
// a partial index, not a rule's, a job's or the whole history: a busy rule
// has a million runs, and a full scan on each GET /runs/{id} once made the
// agent on SQLite fall minutes behind under load.
func TestQueueAndSeriesQueriesReadTheirIndexes(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	series, seriesArgs := storeutil.RunListQuery(store.RunFilter{Series: "x"}, 1000, func(t time.Time) any { return micros(t) })
	children, childrenArgs := storeutil.RunListQuery(store.RunFilter{Parent: "x"}, 1000, func(t time.Time) any { return micros(t) })
	// The console's status tabs count the runs of its filter (issue 18).
	recent, recentArgs := storeutil.RunCountQuery(store.RunFilter{Since: time.Now().Add(-time.Hour)}, func(t time.Time) any { return micros(t) })
	ruleCounts, ruleCountsArgs := storeutil.RunCountQuery(store.RunFilter{Rule: "r"}, func(t time.Time) any { return micros(t) })
	for _, q := range []struct {
		what  string
		query string
		args  []any
		want  []string // the indexes the plan must read, in order
	}{
		{"a run's series", series, seriesArgs, []string{"(id=?)", "runs_retry_of"}},
		{"a run's chained runs", children, childrenArgs, []string{"runs_parent_run"}},
		{"fires between", `SELECT rule, scheduled_at, status FROM runs WHERE scheduled_at >= $1 AND scheduled_at < $2 ORDER BY scheduled_at`, []any{1, 2}, []string{"runs_scheduled_at"}},
		{"a rule's unfinished runs", storeutil.RuleUnfinishedQuery, []any{"r"}, []string{"runs_active_rule", "runs_queued_rule"}},
		{"a rule's runs before a queued one", storeutil.RuleBusyQuery, []any{"r", "x"}, []string{"runs_active_rule", "runs_queued_rule"}},
		{"a job's active runs", storeutil.JobActiveQuery, []any{"j"}, []string{"runs_active_job"}},
		{"a job's load", hotQueries[hotJobLoad], []any{"j", 1}, []string{"runs_active_job", "runs_queued_job"}},
		{"claim candidates", storeutil.ClaimCandidates, []any{1, 2}, []string{"runs_status_id (status=?)"}},
		{"counts of the last hour", recent, recentArgs, []string{"runs_created_at (created_at>?)"}},
		{"counts of a rule", ruleCounts, ruleCountsArgs, []string{"runs_rule_id (rule=?)"}},
	} {
		rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, " | ")
		rest := all
		for _, idx := range q.want {
			i := strings.Index(rest, idx)
			if i < 0 {
				t.Errorf("%s: plan %q; want it to read %v", q.what, all, q.want)
				break
			}
			rest = rest[i+len(idx):]
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN runs") {
				t.Errorf("%s: plan %q scans the runs", q.what, all)
			}
		}
	}
}
