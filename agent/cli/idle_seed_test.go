package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// idleRules are the rules of the idle benchmark's agent: one per built-in
// job and a second demo, none due while it is measured (a rate() counts
// from the rule's creation).
var idleRules = []store.Rule{
	{Name: "nightly-report", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "2s", "steps": "4"}},
	{Name: "health-check", Job: "http", Schedule: "rate(6 hours)", Parameters: map[string]string{"url": "https://status.example.com/health", "method": "GET"}},
	{Name: "say-hello", Job: "echo", Schedule: "rate(12 hours)", Parameters: map[string]string{"message": "hello from the idle benchmark"}},
	{Name: "orders-increment", Job: "orders.increment", Schedule: "rate(1 day)", Parameters: map[string]string{"increment": "1", "name": "alpha"}},
	{Name: "weekly-cleanup", Job: "demo", Schedule: "rate(7 days)", Parameters: map[string]string{"duration": "1s", "steps": "1"}},
}

// seedWindow is how far back the seeded runs go: well within the default
// retention (30 days), so the agent's prune keeps them all.
const seedWindow = 20 * 24 * time.Hour

// seedHistory creates idleRules and n finished runs of them straight in
// the database, spread evenly over seedWindow up to an hour ago: ids in
// the UUIDv7 form of their creation time; 85% succeeded, 8% failed, 2%
// cancelled, 2% interrupted, 3% skipped; nine in ten fired by the
// scheduler (with their delivery record), one in ten by an operator; one
// in ten with three log lines. Each table is filled by one statement.
func seedHistory(b *testing.B, st store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for _, r := range idleRules {
		r.Enabled, r.CreatedAt, r.UpdatedAt = true, now, now
		if _, err := st.RuleCreate(ctx, r); err != nil {
			b.Fatalf("seed rule %s: %v", r.Name, err)
		}
	}
	if n == 0 {
		return
	}
	began := time.Now()
	end := now.Add(-time.Hour)
	step := seedWindow.Microseconds() / int64(n)
	pg := st.Kind() == "postgres"
	got, err := st.Exec(ctx, seedRunsSQL(pg), n, end.Add(-seedWindow).UnixMicro(), step)
	if err != nil || got != int64(n) {
		b.Fatalf("seed %d runs: %d, %v", n, got, err)
	}
	for _, q := range seedLogsAndDeliveriesSQL(pg) {
		if _, err := st.Exec(ctx, q); err != nil {
			b.Fatalf("seed: %s: %v", q, err)
		}
	}
	if pg {
		if _, err := st.Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d runs in %s", n, time.Since(began).Round(time.Millisecond))
}

// seedRunsSQL inserts $1 runs, the i-th created at $2 + i*$3 microseconds
// since the epoch.
func seedRunsSQL(pg bool) string {
	var rule, job, params strings.Builder
	for i, r := range idleRules {
		p, _ := json.Marshal(r.Parameters)
		fmt.Fprintf(&rule, " WHEN %d THEN '%s'", i, r.Name)
		fmt.Fprintf(&job, " WHEN %d THEN '%s'", i, r.Job)
		fmt.Fprintf(&params, " WHEN %d THEN '%s'", i, p)
	}
	k := len(idleRules)
	// The dialects differ in the series, ids, times and JSON only.
	series := `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1),
		r AS (SELECT i, $2 + i * $3 AS t, i % 100 AS s, ` +
		fmt.Sprintf(`CASE i %% %d%s END AS rule, CASE i %% %d%s END AS job, CASE i %% %d%s END AS params`, k, &rule, k, &job, k, &params) +
		` FROM seq)`
	id := `printf('%08x-%04x-7%03x-8%03x-%012x', (t / 1000) >> 16, (t / 1000) & 65535, i & 4095, (i >> 12) & 4095, i)`
	ts := func(expr string) string { return expr }
	fired := `strftime('%Y-%m-%dT%H:%M:%SZ', t / 1000000, 'unixepoch')`
	jsonParams := `params`
	if pg {
		series = `WITH r AS (SELECT i, $2::bigint + i * $3::bigint AS t, i % 100 AS s, ` +
			fmt.Sprintf(`CASE i %% %d%s END AS rule, CASE i %% %d%s END AS job, CASE i %% %d%s END AS params`, k, &rule, k, &job, k, &params) +
			` FROM generate_series(1, $1::int) AS i)`
		hex := func(expr string, width int) string { return fmt.Sprintf(`lpad(to_hex(%s), %d, '0')`, expr, width) }
		id = hex(`(t / 1000) >> 16`, 8) + ` || '-' || ` + hex(`(t / 1000) & 65535`, 4) + ` || '-7' || ` + hex(`i & 4095`, 3) +
			` || '-8' || ` + hex(`(i >> 12) & 4095`, 3) + ` || '-' || ` + hex(`i`, 12)
		ts = func(expr string) string { return `to_timestamp((` + expr + `) / 1000000.0)` }
		fired = `to_char(to_timestamp(t / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`
		jsonParams = `params::jsonb`
	}
	return series + `
		INSERT INTO runs (id, rule, job, status, trigger, parameters, event_id, triggered_by, cancelled_by, cancel_reason,
			node, scheduled_at, created_at, started_at, finished_at, error, progress_percent, progress_message, log_seq)
		SELECT ` + id + `, rule, job,
			CASE WHEN s < 85 THEN 'succeeded' WHEN s < 93 THEN 'failed' WHEN s < 95 THEN 'cancelled'
				WHEN s < 97 THEN 'interrupted' ELSE 'skipped' END,
			CASE WHEN i % 10 = 0 THEN 'manual' ELSE 'schedule' END,
			` + jsonParams + `,
			CASE WHEN i % 10 = 0 THEN '' ELSE 'local:' || rule || ':' || ` + fired + ` END,
			CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'scheduler' END,
			CASE WHEN s BETWEEN 93 AND 94 THEN 'admin' ELSE '' END,
			CASE WHEN s BETWEEN 93 AND 94 THEN 'stuck on a lock' ELSE '' END,
			'agent-1',
			CASE WHEN i % 10 = 0 THEN NULL ELSE ` + ts(`t`) + ` END,
			` + ts(`t`) + `,
			CASE WHEN s >= 97 THEN NULL ELSE ` + ts(`t + 20000`) + ` END,
			CASE WHEN s >= 97 THEN ` + ts(`t`) + ` ELSE ` + ts(`t + 2000000`) + ` END,
			CASE WHEN s < 85 THEN '' WHEN s < 93 THEN 'job failed: exit status 1'
				WHEN s < 95 THEN 'cancelled: stuck on a lock'
				WHEN s < 97 THEN 'interrupted: the agent stopped while the job was running'
				ELSE 'skipped: an earlier run of the rule is still active' END,
			CASE WHEN s < 85 THEN 100 WHEN s < 97 THEN 50 ELSE 0 END,
			CASE WHEN s < 85 THEN 'done' WHEN s < 97 THEN 'step 2 of 4' ELSE '' END,
			CASE WHEN i % 10 = 1 THEN 3 ELSE 0 END
		FROM r`
}

// seedLogsAndDeliveriesSQL gives the seeded runs their log lines (three
// for a run whose log_seq says 3) and a delivery record for each event id.
func seedLogsAndDeliveriesSQL(pg bool) []string {
	at := `created_at + n * 500000`
	if pg {
		at = `created_at + n * interval '0.5 second'`
	}
	return []string{
		`INSERT INTO run_logs (run_id, seq, time, level, message)
			SELECT id, n, ` + at + `, CASE n WHEN 3 THEN 'warn' ELSE 'info' END,
				'step ' || n || ' of 3: 120 records processed, 3 skipped'
			FROM runs, (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS l
			WHERE log_seq = 3`,
		`INSERT INTO deliveries (event_id, run_id, received_at) SELECT event_id, id, created_at FROM runs WHERE event_id <> ''`,
	}
}
