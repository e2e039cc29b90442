package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/clock"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// jumpClock is real time plus an offset the test moves forward: the agent
// sleeps through fire times as a suspended machine would.
type jumpClock struct{ off atomic.Int64 }

func (c *jumpClock) now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// jumpTo moves the clock so that it shows t now.
func (c *jumpClock) jumpTo(t time.Time) { c.off.Store(int64(time.Until(t))) }

// The dead-man's switch end to end: a fire the local scheduler did not
// make (the agent slept through it) is recorded missed, shown on the rule
// and in the status, counted in /metrics and notified; a late delivery
// clears the alarm.
func TestDeadMansSwitch(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var posts []string
			chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				posts = append(posts, string(b))
				mu.Unlock()
			}))
			defer chat.Close()
			clk := &jumpClock{}
			ta := startAgentIn(t, clock.With(context.Background(), clk.now), kind, func(c *agent.Config) {
				c.MissedGrace = "1s"
				c.Notify.WebhookURL = chat.URL
			})
			ctx := context.Background()
			rule, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "every5", Job: "demo", Schedule: "cron(0/5 * * * ? *)", Parameters: map[string]string{"duration": "10ms"}})
			if err != nil {
				t.Fatal(err)
			}
			fire := rule.NextFireTimes[0]
			clk.jumpTo(fire.Add(2 * time.Minute)) // past the scheduler's tolerance: it does not fire it

			wait.For(t, 40*time.Second, func() (bool, string) {
				r, err := ta.admin.Rule(ctx, "every5")
				return err == nil && r.MissedFire != nil, fmt.Sprintf("rule every5 never missed its %s fire: %+v, %v", fire, r.MissedFire, err)
			})
			r, _ := ta.admin.Rule(ctx, "every5")
			if !r.MissedFire.Equal(fire) {
				t.Errorf("rule's missedFire %s, want %s", r.MissedFire, fire)
			}
			st, err := ta.admin.Status(ctx)
			if err != nil || st.Missing != 1 {
				t.Errorf("status missing %d (%v), want 1", st.Missing, err)
			}
			page, err := ta.admin.Runs(ctx, api.RunQuery{Statuses: []api.RunStatus{api.StatusMissed}})
			if err != nil || len(page.Items) != 1 || !page.Items[0].ScheduledAt.Equal(fire) || page.Items[0].Trigger != api.TriggerSchedule {
				t.Fatalf("missed runs: %+v (%v), want one for %s; log:\n%s", page.Items, err, fire, ta.log)
			}
			wantMetrics(t, ta, `jobbridge_runs_missed_total{job="demo"} 1`, "jobbridge_rules_missing 1")
			wait.For(t, 10*time.Second, func() (bool, string) {
				mu.Lock()
				defer mu.Unlock()
				return len(posts) == 1 && strings.Contains(posts[0], "every5 missed its fire"), fmt.Sprintf("chat posts: %q, want one saying every5 missed its fire", posts)
			})

			code, _ := ta.webhook(t, `{"rule":"every5","eventId":"late-1","time":"`+fire.Format(time.RFC3339)+`"}`)
			if code != http.StatusAccepted {
				t.Fatalf("late delivery answered %d", code)
			}
			wait.For(t, 10*time.Second, func() (bool, string) {
				r, err := ta.admin.Rule(ctx, "every5")
				return err == nil && r.MissedFire == nil, fmt.Sprintf("the late delivery did not clear the alarm: %+v, %v", r.MissedFire, err)
			})
			if st, _ := ta.admin.Status(ctx); st.Missing != 0 {
				t.Errorf("status missing %d after the late delivery, want 0", st.Missing)
			}
			wantMetrics(t, ta, "jobbridge_rules_missing 0")
		})
	}
}

func wantMetrics(t *testing.T, ta *testAgent, want ...string) {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get(ta.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				return false, "metrics lack " + w
			}
		}
		return true, ""
	})
}

// In the EventBridge backend the switch notices that AWS stopped calling:
// the test withholds a delivery, and the delivery that comes late (as
// EventBridge retries) clears the alarm.
func TestDeadMansSwitchInEventBridgeMode(t *testing.T) {
	fake := ebtest.NewFake(t)
	clk := &jumpClock{}
	a, _ := startAWSAgentIn(t, clock.With(context.Background(), clk.now), fake, agent.SchedulerEventBridge)
	ctx := context.Background()
	admin := client.New(a.URL(), ebAdminToken)
	created, err := admin.CreateRule(ctx, api.RuleInput{Name: "every5", Job: "eb-demo", Schedule: "cron(0/5 * * * ? *)"})
	if err != nil {
		t.Fatal(err)
	}
	// The first fire a minute after the change (AWS takes a moment to
	// apply it): EventBridge does not deliver it.
	fire := created.NextFireTimes[0]
	if !fire.After(created.UpdatedAt.Add(time.Minute)) {
		fire = created.NextFireTimes[1]
	}
	clk.jumpTo(fire.Add(2*time.Minute + 5*time.Second)) // past the default grace

	wait.For(t, 40*time.Second, func() (bool, string) {
		r, err := admin.Rule(ctx, "every5")
		return err == nil && r.MissedFire != nil, fmt.Sprintf("rule every5 never missed its %s fire: %+v, %v", fire, r.MissedFire, err)
	})
	page, err := admin.Runs(ctx, api.RunQuery{Statuses: []api.RunStatus{api.StatusMissed}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("missed runs: %+v (%v), want one", page.Items, err)
	}
	if m := page.Items[0]; !m.ScheduledAt.Equal(fire) || !strings.Contains(m.Error, "the connection may be deauthorized") {
		t.Errorf("missed run for %s: %s, %q; want its fire time and EventBridge's hint", fire, m.ScheduledAt, m.Error)
	}

	// EventBridge's retry: the scheduled event, its time a few seconds
	// past the fire time.
	body := fmt.Sprintf(`{"id":"late-event-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/jb-every5"],"time":%q}`,
		fire.Add(3*time.Second).Format(time.RFC3339))
	req, _ := http.NewRequest(http.MethodPost, a.URL()+"/webhook/run", strings.NewReader(body))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", ebKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("late delivery answered %d", resp.StatusCode)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		r, err := admin.Rule(ctx, "every5")
		return err == nil && r.MissedFire == nil, fmt.Sprintf("the late delivery did not clear the alarm: %+v, %v", r.MissedFire, err)
	})
}
