package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// seedRuns inserts n finished runs straight into the database: 50 rules, 10
// jobs, the seven states in turn, ids that sort by creation, one a second up
// to now (so the retention pruner keeps them).
func seedRuns(b *testing.B, ta *testAgent, n int) {
	b.Helper()
	var q string
	switch ta.Store().Kind() {
	case "sqlite":
		q = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1)
			INSERT INTO runs (id, rule, job, status, trigger, node, created_at, started_at, finished_at)
			SELECT printf('0190d1a8-0000-7000-8000-%012d', i), 'rule-' || (i % 50), 'job-' || (i % 10),
				CASE i % 7 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' WHEN 2 THEN 'cancelled' WHEN 3 THEN 'interrupted'
					WHEN 4 THEN 'skipped' WHEN 5 THEN 'succeeded' ELSE 'succeeded' END,
				'schedule', 'bench', $2 + i * 1000000, $2 + i * 1000000, $2 + i * 1000000 + 500000
			FROM seq`
	default:
		q = `INSERT INTO runs (id, rule, job, status, trigger, node, created_at, started_at, finished_at)
			SELECT '0190d1a8-0000-7000-8000-' || lpad(i::text, 12, '0'), 'rule-' || (i % 50), 'job-' || (i % 10),
				CASE i % 7 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' WHEN 2 THEN 'cancelled' WHEN 3 THEN 'interrupted'
					WHEN 4 THEN 'skipped' ELSE 'succeeded' END,
				'schedule', 'bench', to_timestamp($2::bigint + i), to_timestamp($2::bigint + i), to_timestamp($2::bigint + i) + interval '0.5 second'
			FROM generate_series(1, $1::int) AS i`
	}
	start := time.Now().Add(-time.Duration(n) * time.Second)
	startArg := any(start.UnixMicro())
	if ta.Store().Kind() == "postgres" {
		startArg = start.Unix()
	}
	began := time.Now()
	got, err := ta.Store().Exec(context.Background(), q, n, startArg)
	if err != nil || got != int64(n) {
		b.Fatalf("seed %d runs: %d, %v", n, got, err)
	}
	if ta.Store().Kind() == "postgres" {
		if _, err := ta.Store().Exec(context.Background(), `ANALYZE runs`); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d runs in %s", n, time.Since(began).Round(time.Millisecond))
}

// BenchmarkRunListMillion lists a page of 50 runs filtered by status and
// job over the API, with 1,000,000 runs in the store. Each op is one
// request; it reports the latency percentiles.
func BenchmarkRunListMillion(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			ta := startAgent(b, kind)
			seedRuns(b, ta, 1_000_000)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			get := func(query string) (time.Duration, string) {
				req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs?"+query, nil)
				req.Header.Set("Authorization", "Bearer "+ta.token)
				began := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := time.Since(began)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET /runs?%s: %d %s", query, resp.StatusCode, body)
				}
				return d, string(body)
			}
			// Pages from the newest and from deep in the history (cursors
			// spread over the million).
			queries := []string{"status=failed&job=job-3&limit=50"}
			for _, n := range []int{100_000, 500_000, 900_000} {
				queries = append(queries, fmt.Sprintf("status=failed&job=job-3&limit=50&cursor=0190d1a8-0000-7000-8000-%012d", n))
			}
			for _, q := range queries { // warm up, and check each page is full
				_, body := get(q)
				var page api.Page[api.Run]
				if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 50 || page.Items[0].Status != api.StatusFailed || page.Items[0].Job != "job-3" {
					b.Fatalf("GET /runs?%s: %d items (%v)", q, len(page.Items), err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				d, _ := get(queries[i%len(queries)])
				lat = append(lat, d)
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}

// BenchmarkCluster is the load harness of several agents on one
// PostgreSQL: it drives POST /webhook/run at a fixed rate for a fixed time,
// spreading deliveries over the agents as a load balancer would, and
// reports throughput, latency percentiles and runs lost (deliveries
// accepted that did not end in a succeeded run; must be 0). Each op is one
// whole load; run it with -benchtime 1x.
//
// JOBBRIDGE_BENCH_RATE sets the deliveries per second (default 400).
func BenchmarkCluster(b *testing.B) {
	const seconds = 5
	rate := 400
	if v, err := strconv.Atoi(os.Getenv("JOBBRIDGE_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	for _, n := range []int{1, 3} {
		for _, job := range []struct{ name, duration string }{{"noop", "0s"}, {"1s-job", "1s"}} {
			b.Run(fmt.Sprintf("agents=%d/%s", n, job.name), func(b *testing.B) {
				dbURL := pgtest.NewDatabase(b)
				var agents []*testAgent
				for i := range n {
					agents = append(agents, startAgent(b, "shared", func(c *agent.Config) {
						c.DatabaseURL, c.Node, c.Scheduler = dbURL, fmt.Sprintf("bench-%d", i), agent.SchedulerOff
					}))
				}
				if _, err := agents[0].admin.CreateRule(context.Background(), api.RuleInput{Name: "load", Job: "demo", Schedule: "rate(1 day)",
					Parameters: map[string]string{"duration": job.duration, "steps": "1"}}); err != nil {
					b.Fatal(err)
				}
				hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
				var seq atomic.Int64
				for range b.N {
					var mu sync.Mutex
					var lat []time.Duration
					var failed atomic.Int64
					var wg sync.WaitGroup
					began := time.Now()
					tick := time.NewTicker(time.Second / time.Duration(rate))
					for i := range rate * seconds {
						<-tick.C
						ta := agents[i%n]
						wg.Go(func() {
							id := seq.Add(1)
							req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/webhook/run", strings.NewReader(fmt.Sprintf(`{"rule":"load","eventId":"load-%d"}`, id)))
							req.Header.Set("X-Aws-Event-Bridge-Api-Key", "webhook-key-0123456789")
							t0 := time.Now()
							resp, err := hc.Do(req)
							if err != nil {
								failed.Add(1)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusAccepted {
								failed.Add(1)
								return
							}
							mu.Lock()
							lat = append(lat, time.Since(t0))
							mu.Unlock()
						})
					}
					tick.Stop()
					wg.Wait()
					sent := time.Since(began)
					accepted := int64(len(lat))
					// Wait for every run to end, then count what succeeded.
					var succeeded int64
					wait.Poll(b, 2*time.Minute, func() (bool, string) {
						counts, err := agents[0].Store().RunCountByStatus(context.Background(), store.RunFilter{})
						if err != nil {
							b.Fatal(err)
						}
						if counts[api.StatusRunning]+counts[api.StatusCancelling] == 0 {
							succeeded = counts[api.StatusSucceeded]
							return true, ""
						}
						return false, ""
					})
					slices.Sort(lat)
					ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
					b.ReportMetric(float64(accepted)/sent.Seconds(), "accepted/s")
					b.ReportMetric(ms(0.5), "p50-ms")
					b.ReportMetric(ms(0.99), "p99-ms")
					b.ReportMetric(float64(failed.Load()), "refused")
					b.ReportMetric(float64(accepted-succeeded), "lost")
					if _, err := agents[0].Store().Exec(context.Background(), `DELETE FROM runs`); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
