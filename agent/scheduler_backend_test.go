package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// renderTransformer renders an EventBridge input transformer for an event
// as EventBridge documents it: each <var> takes the value at its path;
// outside a JSON string a string value is written quoted, inside one it
// is written bare ("myStatus": "<instance> is in state <status>").
func renderTransformer(t *testing.T, transformer map[string]any, event map[string]any) string {
	t.Helper()
	values := map[string]string{}
	for name, path := range transformer["InputPathsMap"].(map[string]any) {
		var cur any = event
		for _, key := range strings.Split(strings.TrimPrefix(path.(string), "$."), ".") {
			cur = cur.(map[string]any)[key]
		}
		s, ok := cur.(string)
		if !ok {
			t.Fatalf("path %s of the event is %v, not a string", path, cur)
		}
		values[name] = s
	}
	tmpl := transformer["InputTemplate"].(string)
	var out strings.Builder
	inString := false
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c == '<' {
			if end := strings.IndexByte(tmpl[i:], '>'); end > 0 {
				if v, ok := values[tmpl[i+1:i+end]]; ok {
					if inString {
						out.WriteString(v)
					} else {
						q, _ := json.Marshal(v)
						out.Write(q)
					}
					i += end
					continue
				}
			}
		}
		if c == '"' && (i == 0 || tmpl[i-1] != '\\') {
			inString = !inString
		}
		out.WriteByte(c)
	}
	return out.String()
}

func TestSchedulerModeCreatesSchedulesAndRunsAFireOnce(t *testing.T) {
	fake := ebtest.NewFake(t)
	a, _ := startAWSAgent(t, fake, agent.SchedulerScheduler)
	ctx := context.Background()

	if _, err := a.Service().RuleCreate(ctx, "test", api.RuleInput{Name: "nightly", Job: "eb-demo", Schedule: "cron(0 2 * * ? *)"}); err != nil {
		t.Fatal(err)
	}
	s := waitSync(t, a, "nightly", func(s store.Sync) bool { return s.State == "synced" })
	if s.ARN != "arn:aws:scheduler:eu-west-1:123456789012:schedule/jb/nightly" || s.Error != "" {
		t.Errorf("sync state %+v, want synced with the schedule's ARN (group jb, from the prefix jb-)", s)
	}
	sched := fake.Schedule("jb", "nightly")
	if sched["ScheduleExpression"] != "cron(0 2 * * ? *)" || sched["ScheduleExpressionTimezone"] != "UTC" {
		t.Errorf("schedule in AWS: %v", sched)
	}
	if fake.Rule("jb-nightly") != nil {
		t.Error("the scheduler backend made an EventBridge rule for the rule")
	}

	// The event the schedule puts on the bus when it fires (Scheduler
	// replaces the context attribute), through the relay rule's input
	// transformer as EventBridge renders it, is a delivery that runs the
	// rule; sent again (a retry anywhere along the chain) it does not.
	target := sched["Target"].(map[string]any)
	detail := map[string]any{}
	input := strings.ReplaceAll(target["Input"].(string), "<aws.scheduler.scheduled-time>", "2026-11-27T02:00:00Z")
	if err := json.Unmarshal([]byte(input), &detail); err != nil {
		t.Fatalf("schedule input %q is not JSON: %v", input, err)
	}
	event := map[string]any{"id": "first-attempt", "source": "jobbridge.scheduler", "detail": detail}
	relay := fake.Targets("jb-scheduler-relay")
	if len(relay) != 1 {
		t.Fatalf("relay rule targets %v", relay)
	}
	body := renderTransformer(t, relay[0]["InputTransformer"].(map[string]any), event)
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, a.URL()+"/webhook/run", strings.NewReader(body))
		req.Header.Set("X-Aws-Event-Bridge-Api-Key", ebKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	if status, answer := post(); status != http.StatusAccepted {
		t.Fatalf("webhook answered %d %s to the relay's body %s", status, answer, body)
	}
	event["id"] = "a-retry-with-another-event-id"
	if status, answer := post(); status != http.StatusOK || !strings.Contains(answer, `"duplicate":true`) {
		t.Errorf("the same fire again: %d %s, want 200 duplicate", status, answer)
	}
	runs, _, err := a.Store().RunList(ctx, store.RunFilter{Rule: "nightly"})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs of nightly: %+v, %v; want exactly one", runs, err)
	}
	if runs[0].EventID != "scheduler:jb-nightly:2026-11-27T02:00:00Z" || !runs[0].ScheduledAt.Equal(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("run %+v: want the event id from the rule and the scheduled time, and that time", runs[0])
	}

	// Deleting the rule deletes its schedule.
	if err := a.Service().RuleDelete(ctx, "test", "nightly"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		names := fake.ScheduleNames("jb")
		return len(names) == 0, fmt.Sprintf("schedules left after the delete: %v", names)
	})
}

func TestSchedulerModeNeedsItsRole(t *testing.T) {
	t.Parallel()
	cfg := agent.Config{DataDir: t.TempDir(), Scheduler: agent.SchedulerScheduler, EventBridge: agent.EventBridgeConfig{
		APIKey: ebKey, TargetRoleARN: "arn:aws:iam::123456789012:role/r", ConnectionName: "c", DestinationName: "d",
		TargetURL: "https://jobs.example.com", EventBus: "orders",
	}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN is required by the scheduler backend") {
		t.Errorf("Validate without a scheduler role: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "default event bus") {
		t.Errorf("the scheduler backend may use another bus, but Validate says %v", err)
	}
	cfg.EventBridge.SchedulerRoleARN = "arn:aws:iam::123456789012:role/jobbridge-scheduler"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with every setting: %v", err)
	}
}
