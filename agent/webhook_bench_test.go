package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// BenchmarkWebhook measures the webhook as an agent is deployed: the whole
// agent (its store; on PostgreSQL the cluster relay, which sends every
// run's changes to the other agents through NOTIFY; the notification
// dispatcher), over HTTP on loopback, with the built-in demo job at
// steps=1 and duration=0s (it logs three lines and reports progress
// twice), from 8 keep-alive connections. An op is one delivery; the clock
// stops once every run is recorded finished, and runs/s and the
// deliveries' p99 are reported.
//
// What it leaves out: the load is made in the benchmark's own process,
// beside the agent, which shares its CPU and its garbage collector with
// it. ../shared/bench/compare (the agent binary under a load generator of
// its own, next to River and pgbench) and `agent bench burst` measure the
// agent as a process of its own.
func BenchmarkWebhook(b *testing.B) {
	for _, kind := range storetesting.Kinds {
		b.Run(kind, func(b *testing.B) {
			ta := startAgent(b, kind)
			if _, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "bench", Job: "demo", Schedule: "rate(1 day)",
				Parameters: map[string]string{"duration": "0s", "steps": "1"}}); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var (
				seq atomic.Int64
				mu  sync.Mutex
				lat []time.Duration
			)
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 connections
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					began := time.Now()
					if err := benchDeliver(client, ta.URL(), fmt.Sprint("bench-", seq.Add(1))); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(began))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			var finished int64
			wait.For(b, 5*time.Minute, func() (bool, string) {
				counts, err := ta.Store().RunCountByStatus(context.Background(), store.RunFilter{})
				if err != nil {
					b.Fatal(err)
				}
				finished = counts[api.StatusSucceeded]
				active := counts[api.StatusRunning] + counts[api.StatusCancelling]
				return active == 0, fmt.Sprintf("%d runs still active", active)
			})
			b.StopTimer()
			if finished < int64(b.N) {
				b.Errorf("%d deliveries but %d runs succeeded", b.N, finished)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			if len(lat) > 0 {
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

func benchDeliver(client *http.Client, url, eventID string) error {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhook/run", strings.NewReader(`{"rule":"bench","eventId":"`+eventID+`"}`))
	req.Header.Set(api.DefaultWebhookKeyHeader, "webhook-key-0123456789")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	// Drain the body so the connection is reused, as a real client's is.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("delivery %s: status %d", eventID, resp.StatusCode)
	}
	return nil
}
