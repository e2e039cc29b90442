package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// ebJob returns at once; the EventBridge tests only need runs to start.
type ebJob struct{}

func (ebJob) ID() string                                { return "eb-demo" }
func (ebJob) Description() string                       { return "returns at once" }
func (ebJob) Params() []jobs.Param                      { return nil }
func (ebJob) Run(context.Context, jobs.Params) error    { return nil }
func registerEBJob(r *jobs.Registry, _ agent.Env) error { return r.Register(ebJob{}) }

const (
	ebKey        = "eb-webhook-key-0123456789"
	ebAdminToken = "eb-admin-token-0123456789abcdef"
)

// startEventBridgeAgent runs an agent in eventbridge mode whose AWS SDK
// reaches the recording fake through the standard environment variables,
// as a real deployment would reach AWS.
func startEventBridgeAgent(t *testing.T, fake *ebtest.Fake) (a *agent.Agent, dataDir string) {
	t.Helper()
	return startAWSAgent(t, fake, agent.SchedulerEventBridge)
}

// startAWSAgent runs an agent in eventbridge or scheduler mode against the
// recording fake.
func startAWSAgent(t *testing.T, fake *ebtest.Fake, mode string) (a *agent.Agent, dataDir string) {
	t.Helper()
	return startAWSAgentIn(t, context.Background(), fake, mode)
}

// startAWSAgentIn is startAWSAgent with the context given to agent.New
// (which may carry a clock, see agent/internal/clock).
func startAWSAgentIn(t *testing.T, newCtx context.Context, fake *ebtest.Fake, mode string) (a *agent.Agent, dataDir string) {
	t.Helper()
	t.Setenv("AWS_REGION", ebtest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", fake.URL())
	t.Setenv("AWS_ENDPOINT_URL_SCHEDULER", fake.URL())
	t.Setenv("AWS_MAX_ATTEMPTS", "1")

	cfg := agent.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Node: "test-node", AdminToken: ebAdminToken,
		Scheduler: mode,
		EventBridge: agent.EventBridgeConfig{
			APIKey:           ebKey,
			TargetRoleARN:    "arn:aws:iam::123456789012:role/jobbridge-target",
			SchedulerRoleARN: "arn:aws:iam::123456789012:role/jobbridge-scheduler",
			ConnectionName:   "jb-agent-connection",
			DestinationName:  "jb-agent-destination",
			TargetURL:        "https://jobs.example.com",
			RulePrefix:       "jb-",
		},
	}
	a, err := agent.New(newCtx, cfg, nil, registerEBJob)
	if err != nil {
		t.Fatal(err)
	}
	if a.SchedulerMode() != mode {
		t.Fatalf("scheduler mode %q, want %s", a.SchedulerMode(), mode)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop")
		}
	})
	// Let the first reconcile read the rules, so what the test saves next
	// goes through the syncer.
	list := "ListRules"
	if mode == agent.SchedulerScheduler {
		list = "ListSchedules"
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		return len(fake.CallsOf(list)) > 0, "the backend never reconciled at start"
	})
	return a, cfg.DataDir
}

func waitSync(t *testing.T, a *agent.Agent, rule string, cond func(store.Sync) bool) store.Sync {
	t.Helper()
	var sync store.Sync
	wait.For(t, 10*time.Second, func() (bool, string) {
		r, err := a.Store().RuleGet(context.Background(), rule)
		sync = r.Sync
		return err == nil && cond(r.Sync), fmt.Sprintf("rule %s: sync state %+v (err %v) never reached what the test waits for", rule, r.Sync, err)
	})
	return sync
}

func TestEventBridgeModeSyncsSavedRules(t *testing.T) {
	fake := ebtest.NewFake(t)
	a, dataDir := startEventBridgeAgent(t, fake)
	ctx := context.Background()

	created, err := a.Service().RuleCreate(ctx, "test", api.RuleInput{Name: "nightly", Job: "eb-demo", Schedule: "cron(0 2 * * ? *)"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Sync.State == "synced" {
		t.Error("RuleCreate returned a rule already synced: saving must not wait on AWS")
	}
	s := waitSync(t, a, "nightly", func(s store.Sync) bool { return s.State == "synced" })
	if s.ARN != "arn:aws:events:eu-west-1:123456789012:rule/jb-nightly" || s.Error != "" {
		t.Errorf("sync state %+v, want synced with the rule's ARN", s)
	}
	if got := fake.RuleField("jb-nightly", "ScheduleExpression"); got != "cron(0 2 * * ? *)" {
		t.Errorf("schedule in EventBridge %q", got)
	}

	// A change goes pending and then synced again, with the new schedule.
	fake.Reset()
	if _, err := a.Service().RuleReplace(ctx, "test", "nightly", api.RuleInput{Job: "eb-demo", Schedule: "cron(30 3 * * ? *)"}); err != nil {
		t.Fatal(err)
	}
	waitSync(t, a, "nightly", func(s store.Sync) bool { return s.State == "synced" && len(fake.CallsOf("PutTargets")) > 0 })
	if got := fake.RuleField("jb-nightly", "ScheduleExpression"); got != "cron(30 3 * * ? *)" {
		t.Errorf("schedule in EventBridge after the change %q", got)
	}

	// What the target would send, rendered as EventBridge's input
	// transformer does, starts a run of the rule through the webhook.
	targets := fake.Targets("jb-nightly")
	if len(targets) != 1 {
		t.Fatalf("targets %v", targets)
	}
	tmpl := targets[0]["InputTransformer"].(map[string]any)["InputTemplate"].(string)
	body := strings.NewReplacer("<id>", `"7bf73129-1428-4cd3-a780-95db273d1602"`, "<time>", `"2026-11-27T02:00:00Z"`).Replace(tmpl)
	req, _ := http.NewRequest(http.MethodPost, a.URL()+"/webhook/run", strings.NewReader(body))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", ebKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d %s to the target's input %s", resp.StatusCode, answer, body)
	}
	runs, _, err := a.Store().RunList(ctx, store.RunFilter{Rule: "nightly"})
	if err != nil || len(runs) != 1 || runs[0].EventID != "7bf73129-1428-4cd3-a780-95db273d1602" {
		t.Errorf("runs of nightly: %+v, %v; want one for the event", runs, err)
	}

	// Deleting the rule deletes it in EventBridge.
	if err := a.Service().RuleDelete(ctx, "test", "nightly"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		names := fake.RuleNames()
		return len(names) == 0, fmt.Sprintf("rules left in EventBridge after the delete: %v", names)
	})
	wait.For(t, 10*time.Second, func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(dataDir, localagent.EventBridgeStateFile))
		return err == nil && !strings.Contains(string(b), "nightly"), fmt.Sprintf("state file after the delete: %s (%v); want no pending delete", b, err)
	})
}

func TestEventBridgeModeKeepsTheRuleWhenAWSFails(t *testing.T) {
	fake := ebtest.NewFake(t)
	a, _ := startEventBridgeAgent(t, fake)
	ctx := context.Background()
	fake.FailNext("PutRule", ebtest.Failure{Status: 400, Code: "AccessDeniedException",
		Message: "User: arn:aws:iam::123456789012:user/agent is not authorized to perform: events:PutRule"})

	if _, err := a.Service().RuleCreate(ctx, "test", api.RuleInput{Name: "denied", Job: "eb-demo", Schedule: "rate(1 hour)"}); err != nil {
		t.Fatalf("saving a rule failed because AWS did: %v", err)
	}
	s := waitSync(t, a, "denied", func(s store.Sync) bool { return s.State == "error" })
	if want := "AccessDeniedException: User: arn:aws:iam::123456789012:user/agent is not authorized to perform: events:PutRule"; s.Error != want {
		t.Errorf("sync error %q, want AWS's %q", s.Error, want)
	}
	r, err := a.Store().RuleGet(ctx, "denied")
	if err != nil || r.Schedule != "rate(1 hour)" {
		t.Errorf("the rule is not stored as saved: %+v, %v", r, err)
	}

	// Once AWS allows it, an on-demand reconcile (POST /api/v1/sync) puts it.
	rep, err := client.New(a.URL(), ebAdminToken).Sync(ctx)
	if err != nil {
		t.Fatalf("POST /api/v1/sync: %v", err)
	}
	if fmt.Sprint(rep.Synced) != "[denied]" || len(rep.Failed) != 0 || rep.Deleted == nil || rep.Orphans == nil {
		t.Errorf("reconcile report %+v, want denied synced and no list null", rep)
	}
	waitSync(t, a, "denied", func(s store.Sync) bool { return s.State == "synced" && s.Error == "" })
}

func TestEventBridgeModeNeedsTheDefaultBus(t *testing.T) {
	t.Parallel()
	cfg := agent.Config{DataDir: t.TempDir(), Scheduler: agent.SchedulerAuto, EventBridge: agent.EventBridgeConfig{
		APIKey: ebKey, TargetRoleARN: "arn:aws:iam::123456789012:role/r", ConnectionName: "c", DestinationName: "d",
		TargetURL: "https://jobs.example.com", EventBus: "orders",
	}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "scheduled rules only fire on the default event bus") {
		t.Errorf("Validate with bus orders: %v", err)
	}
}

func TestEventBridgeModeRefusesNamesAndKeysAWSWould(t *testing.T) {
	t.Parallel()
	const key = "eb-webhook-key:0123456789"
	cfg := agent.Config{DataDir: t.TempDir(), Scheduler: agent.SchedulerEventBridge, EventBridge: agent.EventBridgeConfig{
		APIKey: key, TargetRoleARN: "arn:aws:iam::123456789012:role/r", ConnectionName: "my connection", DestinationName: "my/destination",
		AuthHeader: "X-Key:", TargetURL: "https://jobs.example.com",
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted names, a header and a key EventBridge refuses")
	}
	for _, want := range []string{
		`JOBBRIDGE_EB_CONNECTION_NAME: "my connection"`,
		`JOBBRIDGE_EB_DESTINATION_NAME: "my/destination"`,
		`JOBBRIDGE_EB_AUTH_HEADER: "X-Key:" is not an HTTP header name`,
		"JOBBRIDGE_EB_API_KEY: contains ':'",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("Validate shows the API key: %v", err)
	}
}

func TestEventBridgeModeAnswersASavedRuleIsPending(t *testing.T) {
	fake := ebtest.NewFake(t)
	a, _ := startEventBridgeAgent(t, fake)
	ctx := context.Background()
	// AWS throttles, so the rule stays pending while the test looks.
	throttled := ebtest.Failure{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	fake.FailNext("PutRule", throttled, throttled, throttled)
	admin := client.New(a.URL(), ebAdminToken)

	created, err := admin.CreateRule(ctx, api.RuleInput{Name: "fresh", Job: "eb-demo", Schedule: "rate(1 hour)"})
	if err != nil {
		t.Fatalf("POST /api/v1/rules: %v", err)
	}
	if created.Sync.State != "pending" {
		t.Errorf("POST /api/v1/rules answered sync %+v, want pending: EventBridge does not have the rule yet", created.Sync)
	}
	replaced, err := admin.ReplaceRule(ctx, "fresh", api.RuleInput{Job: "eb-demo", Schedule: "rate(2 hours)"})
	if err != nil {
		t.Fatalf("PUT /api/v1/rules/fresh: %v", err)
	}
	if replaced.Sync.State != "pending" {
		t.Errorf("PUT /api/v1/rules/fresh answered sync %+v, want pending", replaced.Sync)
	}
	if got, err := admin.Rule(ctx, "fresh"); err != nil || got.Sync.State != "pending" {
		t.Errorf("GET /api/v1/rules/fresh: sync %+v (%v), want pending", got.Sync, err)
	}
}
