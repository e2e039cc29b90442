package server_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// scrape reads the metrics as Prometheus would.
func scrape(t *testing.T, m *server.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// The reliability metrics count this agent's missed, slow and retried runs
// from the events, and read the missing rules and queued runs at each
// scrape.
func TestReliabilityMetrics(t *testing.T) {
	t.Parallel()
	m := server.NewMetrics()
	body := scrape(t, m)
	for _, w := range []string{"jobbridge_rules_missing 0", "jobbridge_runs_queued 0"} {
		if !strings.Contains(body, w) {
			t.Errorf("before any source is set, metrics lack %q", w)
		}
	}
	b := events.NewBroker(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Watch(ctx, b)
	wait.For(t, 5*time.Second, func() (bool, string) { return b.Subscribers() > 0, "the metrics never subscribed" })
	missing, queued := 2, 5
	m.CountMissing(func() int { return missing })
	m.CountQueued(func() int { return queued })

	run := func(status api.RunStatus, trigger api.Trigger) *store.Run {
		return &store.Run{ID: "r", Rule: "nightly", Job: "demo", Status: status, Trigger: trigger}
	}
	b.Publish(events.Event{Type: api.EventRunMissed, Run: run(api.StatusMissed, api.TriggerSchedule)})
	b.Publish(events.Event{Type: api.EventRunMissed, Run: run(api.StatusMissed, api.TriggerSchedule), Origin: "node-b"}) // counted there
	b.Publish(events.Event{Type: api.EventRunSlow, Run: run(api.StatusRunning, api.TriggerSchedule)})
	b.Publish(events.Event{Type: api.EventRunQueued, Run: run(api.StatusQueued, api.TriggerRetry)})
	b.Publish(events.Event{Type: api.EventRunQueued, Run: run(api.StatusQueued, api.TriggerSchedule)}) // queued, not a retry
	want := []string{
		`jobbridge_runs_missed_total{job="demo"} 1`,
		`jobbridge_runs_total{job="demo",status="missed"} 1`,
		`jobbridge_runs_slow_total{job="demo"} 1`,
		`jobbridge_run_retries_total{job="demo"} 1`,
		"jobbridge_rules_missing 2",
		"jobbridge_runs_queued 5",
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		body := scrape(t, m)
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false, "metrics lack " + w + ":\n" + body
			}
		}
		return true, ""
	})
}
