package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
)

// TestRuleHealthQueriesCanReadTheirIndexes checks that the queries behind
// every rule answer can read each rule's partial indexes from their newest
// end (what the planner picks on a real history; here sequential scans are
// turned off, as an empty table would invite one), so GET /rules costs a
// few index reads a rule, however many runs a rule has.
func TestRuleHealthQueriesCanReadTheirIndexes(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"summary": {"runs_rule_status_finished", "runs_rule_id"},
		"recent":  {"runs_rule_ended"},
	} {
		rows, err := conn.Query(t.Context(), `EXPLAIN `+postgres.HealthQueries[name], []string{"a", "b"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		for _, idx := range want {
			if !strings.Contains(all, idx) {
				t.Errorf("%s: the plan does not read %s:\n%s", name, idx, all)
			}
		}
		if strings.Contains(all, "Seq Scan on runs") || !strings.Contains(all, "Scan Backward using") {
			t.Errorf("%s: the plan scans the runs or does not read an index from its newest end:\n%s", name, all)
		}
	}
}
