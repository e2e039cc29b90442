package sqlite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// TestRuleHealthQueriesReadTheirIndexes checks that the queries behind
// every rule answer (GET /rules lists them for all rules, often) read
// each rule's indexes from their newest end and never scan the runs: with
// 100,000 runs a scan per list would make the console's rules view slow.
func TestRuleHealthQueriesReadTheirIndexes(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	for _, q := range []struct {
		what  string
		query string
		want  []string // the indexes the plan must read, in order
	}{
		{"last finishes and run", healthSummaryQuery, []string{"runs_rule_status_finished", "runs_rule_status_finished", "runs_rule_status_finished", "runs_rule_status_finished", "runs_rule_id"}},
		{"last runs", healthLastQuery, []string{"sqlite_autoindex_runs_1"}},
		{"recent runs", fmt.Sprintf(healthRecentQuery, api.HealthWindow-1), []string{"runs_rule_ended"}},
	} {
		rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q.query, `["a","b"]`)
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
		t.Logf("%s: %s", q.what, all)
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
			if strings.HasPrefix(step, "SCAN runs") || strings.HasPrefix(step, "SCAN r ") || step == "SCAN r" {
				t.Errorf("%s: plan %q scans the runs", q.what, all)
			}
		}
	}
}
