package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

type noopJob struct{}

func (noopJob) ID() string                             { return "noop" }
func (noopJob) Description() string                    { return "does nothing" }
func (noopJob) Params() []jobs.Param                   { return nil }
func (noopJob) Run(context.Context, jobs.Params) error { return nil }

// benchAgent serves the webhook over real HTTP on loopback with a no-op job.
func benchAgent(b *testing.B, kind string) (url string, s store.Store, r *runner.Runner) {
	b.Helper()
	s = storetesting.Open(b, kind)
	reg := jobs.NewRegistry()
	if err := reg.Register(noopJob{}); err != nil {
		b.Fatal(err)
	}
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: events.NewBroker(0), Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.RuleCreate(context.Background(), store.Rule{Name: "bench", Job: "noop", Schedule: "rate(1 day)", Enabled: true}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Store: s, Firer: r, WebhookKey: key}))
	b.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return srv.URL, s, r
}

var eventSeq atomic.Int64

func deliver(client *http.Client, url string) (time.Duration, error) {
	body := fmt.Sprintf(`{"rule":"bench","eventId":"bench-%d"}`, eventSeq.Add(1))
	req, _ := http.NewRequest(http.MethodPost, url+"/webhook/run", strings.NewReader(body))
	req.Header.Set(api.DefaultWebhookKeyHeader, key)
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain the body so the connection is reused, as a real client's is.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return time.Since(began), nil
}

// waitFinished waits until no run is active and returns how many finished.
func waitFinished(b *testing.B, s store.Store) int64 {
	b.Helper()
	var succeeded int64
	wait.For(b, 2*time.Minute, func() (bool, string) {
		counts, err := s.RunCountByStatus(context.Background(), store.RunFilter{})
		if err != nil {
			b.Fatal(err)
		}
		succeeded = counts[api.StatusSucceeded]
		active := counts[api.StatusRunning] + counts[api.StatusCancelling]
		return active == 0, fmt.Sprintf("%d runs still active", active)
	})
	return succeeded
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// BenchmarkWebhookHandler drives POST /webhook/run from 8 concurrent
// clients with a no-op job; an op is one delivery, and the clock stops once
// every run is recorded as finished. It measures the handler, the runner
// and the store alone, and leaves out much of what a deployed agent does:
// the cluster relay of PostgreSQL, the job's log and progress, the rest of
// the agent, a load from another process. agent.BenchmarkWebhook and
// ../shared/bench/compare measure the deployed path.
func BenchmarkWebhookHandler(b *testing.B) {
	for _, kind := range storetesting.Kinds {
		b.Run(kind, func(b *testing.B) {
			url, s, _ := benchAgent(b, kind)
			client := benchClient()
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := deliver(client, url); err != nil {
						b.Error(err)
						return
					}
				}
			})
			finished := waitFinished(b, s)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			if finished < int64(b.N) {
				b.Errorf("%d deliveries but %d runs finished", b.N, finished)
			}
		})
	}
}

// BenchmarkWebhookLatency500 sends deliveries at 500 per second for 5
// seconds (each op is the whole 5-second load) and reports the latency
// percentiles.
func BenchmarkWebhookLatency500(b *testing.B) {
	const rate, seconds = 500, 5
	for _, kind := range storetesting.Kinds {
		b.Run(kind, func(b *testing.B) {
			url, s, _ := benchAgent(b, kind)
			client := benchClient()
			for range b.N {
				var mu sync.Mutex
				var lat []time.Duration
				var failed atomic.Int64
				var wg sync.WaitGroup
				tick := time.NewTicker(time.Second / rate)
				for range rate * seconds {
					<-tick.C
					wg.Go(func() {
						d, err := deliver(client, url)
						if err != nil {
							failed.Add(1)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					})
				}
				tick.Stop()
				wg.Wait()
				waitFinished(b, s)
				slices.Sort(lat)
				pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(pct(1), "max-ms")
				b.ReportMetric(float64(failed.Load()), "failed")
			}
		})
	}
}
