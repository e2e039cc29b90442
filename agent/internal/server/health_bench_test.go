package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// The seed of BenchmarkListRules: 100,000 runs over 500 rules, one in 7
// failed and one in 11 a skipped fire, the rest succeeded.
const (
	benchRules = 500
	benchRuns  = 100_000
)

var seedRunsSQL = map[string]string{
	"sqlite": `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 99999)
		INSERT INTO runs (id, rule, job, status, created_at, started_at, finished_at)
		SELECT printf('%012d', i), printf('rule-%03d', i % 500), 'demo',
			CASE WHEN i % 7 = 0 THEN 'failed' WHEN i % 11 = 0 THEN 'skipped' ELSE 'succeeded' END,
			1700000000000000 + i * 1000000, 1700000000000000 + i * 1000000, 1700000000000000 + i * 1000000 + (i % 30) * 1000000
		FROM c`,
	"postgres": `INSERT INTO runs (id, rule, job, status, created_at, started_at, finished_at)
		SELECT lpad(i::text, 12, '0'), 'rule-' || lpad((i % 500)::text, 3, '0'), 'demo',
			CASE WHEN i % 7 = 0 THEN 'failed' WHEN i % 11 = 0 THEN 'skipped' ELSE 'succeeded' END,
			to_timestamp(1700000000 + i), to_timestamp(1700000000 + i), to_timestamp(1700000000 + i + i % 30)
		FROM generate_series(0, 99999) AS i`,
}

// BenchmarkListRules is GET /rules, with every rule's last run and health,
// over real HTTP with 500 rules and 100,000 runs: the console fetches it
// every 30 s and on every reconnect.
func BenchmarkListRules(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			st := storetesting.Open(b, kind)
			reg := jobs.NewRegistry()
			if err := reg.Register(builtin.NewDemo()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range benchRules {
				if _, err := st.RuleCreate(ctx, store.Rule{Name: fmt.Sprintf("rule-%03d", i), Job: "demo", Schedule: "rate(1 hour)", Enabled: true}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := st.Exec(ctx, seedRunsSQL[kind]); err != nil {
				b.Fatalf("seed %d runs: %v", benchRuns, err)
			}
			if kind == "postgres" {
				if _, err := st.Exec(ctx, `ANALYZE runs`); err != nil {
					b.Fatal(err)
				}
			}
			svc := service.New(service.Config{Store: st, Jobs: reg})
			token, _, err := svc.TokenCreate(ctx, "bench", "viewer", "viewer")
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(server.New(server.Config{Store: st, Service: svc, Jobs: reg, SchedulerMode: "local"}))
			b.Cleanup(srv.Close)
			get := func() int {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/rules", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				n, _ := io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET /rules: status %d", resp.StatusCode)
				}
				return int(n)
			}
			size := get()
			b.ReportMetric(float64(size), "bytes/op")
			b.ResetTimer()
			for b.Loop() {
				get()
			}
		})
	}
}
