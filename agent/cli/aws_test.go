package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// awsEnv points the AWS SDK at the fake through its standard environment
// variables. It sets process variables, so tests using it are not parallel.
func awsEnv(t *testing.T, fake *ebtest.Fake) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_REGION": ebtest.Region, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE":             filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_ENDPOINT_URL":            fake.URL(), // EventBridge, STS and IAM
	} {
		t.Setenv(k, v)
	}
}

func ebEnv(dataDir string) map[string]string {
	return map[string]string{
		"JOBBRIDGE_DATA_DIR":            dataDir,
		"JOBBRIDGE_EB_API_KEY":          "cli-test-key-0123456789",
		"JOBBRIDGE_EB_TARGET_ROLE_ARN":  "arn:aws:iam::123456789012:role/jb-target",
		"JOBBRIDGE_EB_CONNECTION_NAME":  "jb-cli-connection",
		"JOBBRIDGE_EB_DESTINATION_NAME": "jb-cli-destination",
		"JOBBRIDGE_EB_TARGET_URL":       "http://127.0.0.1:1",
		"JOBBRIDGE_EB_RULE_PREFIX":      "jbcli-",
	}
}

func TestAWSPolicyPrintsTheDocuments(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, ebEnv(t.TempDir()), "aws", "policy", "--json", "--eb-rule-prefix", "billing-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p eventbridge.Policies
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got := p.TargetRoleTrust.Statement[0].Principal["Service"]; got != "events.amazonaws.com" {
		t.Errorf("trust principal %q", got)
	}
	var sawRules, sawPass bool
	for _, st := range p.Agent.Statement {
		if slices.Contains(st.Action, "events:PutRule") {
			sawRules = strings.HasSuffix(st.Resource[0], ":rule/billing-*")
		}
		if slices.Contains(st.Action, "iam:PassRole") {
			sawPass = slices.Equal(st.Resource, []string{"arn:aws:iam::123456789012:role/jb-target"})
		}
	}
	if !sawRules || !sawPass {
		t.Errorf("agent policy does not scope rules to the --eb-rule-prefix flag and PassRole to the role:\n%s", out)
	}

	code, out, _ = runCLI(t, ebEnv(t.TempDir()), "aws", "policy")
	if code != 0 || !strings.Contains(out, "# 1. Target role: trust policy") || !strings.Contains(out, "events:InvokeApiDestination") {
		t.Errorf("text output: exit %d\n%s", code, out)
	}
}

func TestAWSDoctorExitsOneAndSaysWhatToFix(t *testing.T) {
	fake := ebtest.NewFake(t)
	awsEnv(t, fake)
	code, out, errOut := runCLI(t, ebEnv(t.TempDir()), "aws", "doctor")
	if code != 1 || !strings.Contains(errOut, "checks failed") {
		t.Errorf("exit %d, stderr %q; want 1 and a count of failures", code, errOut)
	}
	for _, want := range []string{
		"PASS settings:",
		"FAIL public URL is HTTPS: http://127.0.0.1:1/webhook/run",
		"PASS AWS credentials: account 123456789012",
		"FAIL connection: jb-cli-connection does not exist",
		"     fix: start the agent with JOBBRIDGE_SCHEDULER=eventbridge",
		"FAIL target role: jb-target does not exist",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

func TestAWSPruneListsThenDeletesOrphans(t *testing.T) {
	fake := ebtest.NewFake(t)
	awsEnv(t, fake)
	dir := t.TempDir()
	env := ebEnv(dir)
	ctx := context.Background()

	// The rule the store keeps, and two it lost, put by an agent.
	cfg := agent.Config{DataDir: dir, EventBridge: agent.EventBridgeConfig{
		APIKey: env["JOBBRIDGE_EB_API_KEY"], TargetRoleARN: env["JOBBRIDGE_EB_TARGET_ROLE_ARN"],
		ConnectionName: env["JOBBRIDGE_EB_CONNECTION_NAME"], DestinationName: env["JOBBRIDGE_EB_DESTINATION_NAME"],
		TargetURL: env["JOBBRIDGE_EB_TARGET_URL"], RulePrefix: env["JOBBRIDGE_EB_RULE_PREFIX"],
	}}
	st, err := agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "lost-1", "lost-2"} {
		if _, err := st.RuleCreate(ctx, store.Rule{Name: name, Job: "demo", Schedule: "rate(1 hour)", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	b, closeStore, err := agent.OpenEventBridge(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	closeStore()
	st, err = agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.RuleDelete(ctx, "lost-1")
	st.RuleDelete(ctx, "lost-2")
	st.Close()
	fake.PutForeignRule("jbcli-handmade", "rate(1 day)", nil)

	code, out, errOut := runCLI(t, env, "aws", "prune")
	if code != 0 || out != "jbcli-lost-1\njbcli-lost-2\n" || !strings.Contains(errOut, "--yes") {
		t.Fatalf("prune without --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := fake.RuleNames(); len(got) != 4 {
		t.Fatalf("prune without --yes deleted something: %v", got)
	}

	code, out, errOut = runCLI(t, env, "aws", "prune", "--yes")
	if code != 0 || out != "deleted jbcli-lost-1\ndeleted jbcli-lost-2\n" {
		t.Fatalf("prune --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := fake.RuleNames(); !slices.Equal(got, []string{"jbcli-handmade", "jbcli-kept"}) {
		t.Errorf("rules left: %v, want the stored one and the one without the agent's tags", got)
	}
}

func schedulerEnv(dataDir string) map[string]string {
	env := ebEnv(dataDir)
	env["JOBBRIDGE_SCHEDULER"] = "scheduler"
	env["JOBBRIDGE_EB_SCHEDULER_ROLE_ARN"] = "arn:aws:iam::123456789012:role/jb-scheduler"
	return env
}

func TestAWSPolicyForTheSchedulerBackend(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, schedulerEnv(t.TempDir()), "aws", "policy", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p eventbridge.Policies
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if p.SchedulerRoleTrust == nil || p.SchedulerRoleTrust.Statement[0].Principal["Service"] != "scheduler.amazonaws.com" {
		t.Errorf("no trust policy for Scheduler:\n%s", out)
	}
	if !strings.Contains(out, `"scheduler:CreateSchedule"`) || !strings.Contains(out, "schedule/jbcli/*") {
		t.Errorf("the agent's policy does not cover its schedule group jbcli:\n%s", out)
	}

	code, out, _ = runCLI(t, schedulerEnv(t.TempDir()), "aws", "policy")
	if code != 0 || !strings.Contains(out, "# 5. Scheduler role: trust policy") || !strings.Contains(out, "events:PutEvents") {
		t.Errorf("text output: exit %d\n%s", code, out)
	}
	// The flag does what the variable does.
	code, out, _ = runCLI(t, ebEnv(t.TempDir()), "aws", "policy", "--scheduler", "scheduler", "--eb-scheduler-role-arn", "arn:aws:iam::123456789012:role/jb-scheduler")
	if code != 0 || !strings.Contains(out, "# 6. Scheduler role: permission policy") || !strings.Contains(out, "role/jb-scheduler") {
		t.Errorf("--scheduler scheduler: exit %d\n%s", code, out)
	}
	// Without --scheduler scheduler: the eventbridge backend's, no Scheduler.
	code, out, _ = runCLI(t, ebEnv(t.TempDir()), "aws", "policy")
	if code != 0 || strings.Contains(out, "scheduler:") {
		t.Errorf("the eventbridge backend's policy mentions Scheduler: exit %d\n%s", code, out)
	}
}

// TestAWSPruneAfterMovingToTheSchedulerBackend follows the README's move
// from the eventbridge backend to the scheduler backend: the agent, now in
// scheduler mode, makes the schedules; prune in that mode lists and then
// deletes the rules the eventbridge backend left, and nothing else.
func TestAWSPruneAfterMovingToTheSchedulerBackend(t *testing.T) {
	fake := ebtest.NewFake(t)
	awsEnv(t, fake)
	dir := t.TempDir()
	env := schedulerEnv(dir)
	ctx := context.Background()
	cfg := agent.Config{DataDir: dir, Scheduler: agent.SchedulerEventBridge, EventBridge: agent.EventBridgeConfig{
		APIKey: env["JOBBRIDGE_EB_API_KEY"], TargetRoleARN: env["JOBBRIDGE_EB_TARGET_ROLE_ARN"],
		SchedulerRoleARN: env["JOBBRIDGE_EB_SCHEDULER_ROLE_ARN"],
		ConnectionName:   env["JOBBRIDGE_EB_CONNECTION_NAME"], DestinationName: env["JOBBRIDGE_EB_DESTINATION_NAME"],
		TargetURL: env["JOBBRIDGE_EB_TARGET_URL"], RulePrefix: env["JOBBRIDGE_EB_RULE_PREFIX"],
	}}
	st, err := agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hourly", "nightly"} {
		if _, err := st.RuleCreate(ctx, store.Rule{Name: name, Job: "demo", Schedule: "rate(1 hour)", Timezone: "UTC", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	reconcile := func(scheduler string) {
		t.Helper()
		c := cfg
		c.Scheduler = scheduler
		b, closeStore, err := agent.OpenEventBridge(ctx, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		if _, err := b.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reconcile(agent.SchedulerEventBridge) // the eventbridge backend ran
	reconcile(agent.SchedulerScheduler)   // then the scheduler backend
	if got := fake.ScheduleNames("jbcli"); !slices.Equal(got, []string{"hourly", "nightly"}) {
		t.Fatalf("schedules %v, want one per rule", got)
	}

	code, out, errOut := runCLI(t, env, "aws", "prune")
	if code != 0 || out != "jbcli-hourly\njbcli-nightly\n" {
		t.Fatalf("prune in scheduler mode: exit %d, stdout %q, stderr %q; want the eventbridge backend's rules", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "aws", "prune", "--yes")
	if code != 0 || out != "deleted jbcli-hourly\ndeleted jbcli-nightly\n" {
		t.Fatalf("prune --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := fake.RuleNames(); !slices.Equal(got, []string{"jbcli-scheduler-relay"}) {
		t.Errorf("rules left %v, want only the relay rule", got)
	}
	if got := fake.ScheduleNames("jbcli"); len(got) != 2 {
		t.Errorf("prune touched the schedules: %v", got)
	}
}

// TestAWSPruneAfterMovingToTheLocalScheduler: with JOBBRIDGE_SCHEDULER=local
// nothing in AWS is used any more, so prune counts the EventBridge rules of
// stored rules too, and the scheduler backend's schedules and relay rule.
func TestAWSPruneAfterMovingToTheLocalScheduler(t *testing.T) {
	fake := ebtest.NewFake(t)
	awsEnv(t, fake)
	dir := t.TempDir()
	env := schedulerEnv(dir)
	ctx := context.Background()
	cfg := agent.Config{DataDir: dir, EventBridge: agent.EventBridgeConfig{
		APIKey: env["JOBBRIDGE_EB_API_KEY"], TargetRoleARN: env["JOBBRIDGE_EB_TARGET_ROLE_ARN"],
		SchedulerRoleARN: env["JOBBRIDGE_EB_SCHEDULER_ROLE_ARN"],
		ConnectionName:   env["JOBBRIDGE_EB_CONNECTION_NAME"], DestinationName: env["JOBBRIDGE_EB_DESTINATION_NAME"],
		TargetURL: env["JOBBRIDGE_EB_TARGET_URL"], RulePrefix: env["JOBBRIDGE_EB_RULE_PREFIX"],
	}}
	st, err := agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RuleCreate(ctx, store.Rule{Name: "hourly", Job: "demo", Schedule: "rate(1 hour)", Timezone: "UTC", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, scheduler := range []string{agent.SchedulerEventBridge, agent.SchedulerScheduler} {
		c := cfg
		c.Scheduler = scheduler
		b, closeStore, err := agent.OpenEventBridge(ctx, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		closeStore()
	}

	env["JOBBRIDGE_SCHEDULER"] = "local"
	code, out, errOut := runCLI(t, env, "aws", "prune", "--yes")
	want := "deleted jbcli-hourly\ndeleted jbcli-scheduler-relay\ndeleted jbcli/hourly\n"
	if code != 0 || out != want {
		t.Fatalf("prune --yes in local mode: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if got := fake.RuleNames(); len(got) != 0 {
		t.Errorf("rules left %v", got)
	}
	if got := fake.ScheduleNames("jbcli"); len(got) != 0 {
		t.Errorf("schedules left %v", got)
	}
}
