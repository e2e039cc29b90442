package eventbridge

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// These tests run the real SDK client against fakeAWS and assert the exact
// EventBridge calls the backend makes and the fields it sends.

func wantOps(t *testing.T, f *ebtest.Fake, want ...string) {
	t.Helper()
	if got := f.Ops(); !slices.Equal(got, want) {
		t.Fatalf("EventBridge calls:\n got  %v\n want %v", got, want)
	}
}

// field reads a dotted path (a.b.0.c) of a recorded JSON body.
func field(body map[string]any, path string) any {
	var cur any = body
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func wantFields(t *testing.T, c ebtest.Call, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := field(c.Body, path)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s: %s = %s, want %s", c.Op, path, gj, wj)
		}
	}
}

func TestSetupCreatesConnectionAndDestination(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w, err := h.b.setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "CreateConnection", "DescribeApiDestination", "CreateApiDestination")
	conn := h.f.CallsOf("CreateConnection")[0]
	wantFields(t, conn, map[string]any{
		"Name":              "jb-test-connection",
		"AuthorizationType": "API_KEY",
		"AuthParameters.ApiKeyAuthParameters.ApiKeyName":  "X-Aws-Event-Bridge-Api-Key",
		"AuthParameters.ApiKeyAuthParameters.ApiKeyValue": testKey,
	})
	connARN := h.f.Connection("jb-test-connection")["ConnectionArn"]
	wantFields(t, h.f.CallsOf("CreateApiDestination")[0], map[string]any{
		"Name":                         "jb-test-destination",
		"ConnectionArn":                connARN,
		"InvocationEndpoint":           "https://jobs.example.com/webhook/run",
		"HttpMethod":                   "POST",
		"InvocationRateLimitPerSecond": 300,
	})
	if !strings.Contains(w.destinationARN, ":api-destination/jb-test-destination/") {
		t.Errorf("setup returned %q, want the destination's ARN", w.destinationARN)
	}
	// The key itself never reaches the state file.
	b, _ := os.ReadFile(h.state)
	if strings.Contains(string(b), testKey) || !strings.Contains(string(b), authHash("X-Aws-Event-Bridge-Api-Key", testKey)) {
		t.Errorf("state file should hold the key's hash, not the key:\n%s", b)
	}
}

func TestRestartWithSameSettingsMakesNoWrites(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.st.put(rule("nightly", "cron(0 2 * * ? *)", true))
	h.st.put(rule("paused", "rate(5 minutes)", false))
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.f.RuleNames(); !slices.Equal(got, []string{"jb-test-nightly", "jb-test-paused"}) {
		t.Fatalf("rules in AWS after the first reconcile: %v", got)
	}

	h.f.Reset()
	h.restart(t)
	rep, err := h.b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.f.Writes(); len(w) != 0 {
		t.Errorf("a restart with the same settings wrote to AWS: %v (all calls: %v)", w, h.f.Ops())
	}
	if rep.InStep != 2 || len(rep.Synced) != 0 {
		t.Errorf("report %+v, want both rules in step", rep)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination", "ListRules",
		"ListTargetsByRule", "ListTargetsByRule")
}

func TestKeyOrHeaderChangeUpdatesTheConnectionOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	connARN := h.f.Connection("jb-test-connection")["ConnectionArn"]

	h.f.Reset()
	h.restart(t, func(c *Config) { c.APIKey = "a-new-key-after-rotation" })
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "UpdateConnection", "DescribeApiDestination")
	wantFields(t, h.f.CallsOf("UpdateConnection")[0], map[string]any{
		"Name":              "jb-test-connection",
		"AuthorizationType": "API_KEY",
		"AuthParameters.ApiKeyAuthParameters.ApiKeyName":  "X-Aws-Event-Bridge-Api-Key",
		"AuthParameters.ApiKeyAuthParameters.ApiKeyValue": "a-new-key-after-rotation",
	})
	if got := h.f.Connection("jb-test-connection")["ConnectionArn"]; got != connARN {
		t.Errorf("the connection was replaced (%v), want it updated in place (%v)", got, connARN)
	}

	// The new key is remembered: the next start writes nothing.
	h.f.Reset()
	h.restart(t, func(c *Config) { c.APIKey = "a-new-key-after-rotation" })
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination")

	// A new header name is a change too, even with the same key.
	h.f.Reset()
	h.restart(t, func(c *Config) { c.APIKey = "a-new-key-after-rotation"; c.AuthHeader = "X-Jobbridge-Key" })
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "UpdateConnection", "DescribeApiDestination")
	wantFields(t, h.f.CallsOf("UpdateConnection")[0], map[string]any{"AuthParameters.ApiKeyAuthParameters.ApiKeyName": "X-Jobbridge-Key"})
}

func TestConnectionChangedInTheConsoleIsSetBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	for field, value := range map[string]any{
		"AuthParameters":  map[string]any{"ApiKeyAuthParameters": map[string]any{"ApiKeyName": "X-Other"}},
		"ConnectionState": "DEAUTHORIZED",
	} {
		h.f.SetConnectionField("jb-test-connection", field, value)
		h.f.Reset()
		h.restart(t)
		if _, err := h.b.setup(ctx); err != nil {
			t.Fatal(err)
		}
		wantOps(t, h.f, "DescribeConnection", "UpdateConnection", "DescribeApiDestination")
	}
}

func TestConnectionMadeElsewhereGetsTheKeyOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	// A fresh data dir (no state file): the agent cannot know which key the
	// connection has, so it sets it once.
	h.f.Reset()
	h.restart(t, func(c *Config) { c.StatePath = c.StatePath + ".fresh" })
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "UpdateConnection", "DescribeApiDestination")
}

func TestEndpointChangeUpdatesTheDestination(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	destARN := h.f.Destination("jb-test-destination")["ApiDestinationArn"]
	connARN := h.f.Connection("jb-test-connection")["ConnectionArn"]

	h.f.Reset()
	h.restart(t, func(c *Config) { c.TargetURL = "https://new-tunnel.example.net/agent" })
	w, err := h.b.setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination", "UpdateApiDestination")
	wantFields(t, h.f.CallsOf("UpdateApiDestination")[0], map[string]any{
		"Name":                         "jb-test-destination",
		"ConnectionArn":                connARN,
		"InvocationEndpoint":           "https://new-tunnel.example.net/agent/webhook/run",
		"HttpMethod":                   "POST",
		"InvocationRateLimitPerSecond": 300,
	})
	if w.destinationARN != destARN {
		t.Errorf("destination ARN %q, want the same destination %q", w.destinationARN, destARN)
	}

	// A new rate limit is a change too.
	h.f.Reset()
	h.restart(t, func(c *Config) { c.TargetURL = "https://new-tunnel.example.net/agent"; c.InvocationRate = 5 })
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination", "UpdateApiDestination")
	wantFields(t, h.f.CallsOf("UpdateApiDestination")[0], map[string]any{"InvocationRateLimitPerSecond": 5})
}

// processNow does what the worker does next, at once: it takes name off
// the queue (where RuleChanged or RuleDeleted put it) and applies it.
func processNow(t *testing.T, h *harness, name string) {
	t.Helper()
	now := h.b.now()
	h.b.queue.add(name, now) // a no-op when RuleChanged queued it
	got, attempts, _, ok := h.b.queue.next(now.Add(time.Hour))
	if !ok || got != name {
		t.Fatalf("queue gave %q (ok %v), want %q", got, ok, name)
	}
	h.b.process(context.Background(), name, attempts)
}

func TestCreateRulePutsRuleAndTarget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.DLQARN = "arn:aws:sqs:eu-west-1:123456789012:jobbridge-dlq" })
	ctx := context.Background()
	w, err := h.b.setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.f.Reset()
	r := rule("nightly-report", "cron(0 2 * * ? *)", true)
	r.Description = "the nightly report"
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	if s := h.st.sync("nightly-report"); s.State != StatePending {
		t.Fatalf("after RuleChanged the sync state is %+v, want pending", s)
	}
	if len(h.f.Ops()) != 0 {
		t.Fatalf("RuleChanged called AWS itself: %v", h.f.Ops())
	}
	processNow(t, h, "nightly-report")

	wantOps(t, h.f, "PutRule", "PutTargets")
	wantFields(t, h.f.CallsOf("PutRule")[0], map[string]any{
		"Name":               "jb-test-nightly-report",
		"EventBusName":       "default",
		"ScheduleExpression": "cron(0 2 * * ? *)",
		"State":              "ENABLED",
		"Description":        "the nightly report",
		"Tags": []map[string]string{
			{"Key": "jobbridge:managed", "Value": testPrefix},
			{"Key": "jobbridge:destination", "Value": "jb-test-destination"},
		},
	})
	wantFields(t, h.f.CallsOf("PutTargets")[0], map[string]any{
		"Rule":                       "jb-test-nightly-report",
		"EventBusName":               "default",
		"Targets.0.Id":               "jobbridge",
		"Targets.0.Arn":              w.destinationARN,
		"Targets.0.RoleArn":          testRoleARN,
		"Targets.0.InputTransformer": map[string]any{"InputPathsMap": map[string]string{"id": "$.id", "time": "$.time"}, "InputTemplate": `{"rule":"jb-test-nightly-report","eventId":<id>,"time":<time>}`},
		"Targets.0.RetryPolicy":      map[string]int{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 24},
		"Targets.0.DeadLetterConfig": map[string]string{"Arn": "arn:aws:sqs:eu-west-1:123456789012:jobbridge-dlq"},
		"Targets.1":                  nil,
	})
	s := h.st.sync("nightly-report")
	if s.State != StateSynced || s.ARN != "arn:aws:events:eu-west-1:123456789012:rule/jb-test-nightly-report" || s.Error != "" || s.At.IsZero() {
		t.Errorf("sync state %+v, want synced with the rule's ARN", s)
	}
}

func TestUpdateAndDisableReplaceTheRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	h.st.put(rule("hourly", "rate(1 hour)", true))
	processNow(t, h, "hourly")
	h.f.Reset()

	changed := rule("hourly", "cron(15 * * * ? *)", false)
	h.st.put(changed)
	h.b.RuleChanged(ctx, changed)
	processNow(t, h, "hourly")
	wantOps(t, h.f, "PutRule", "PutTargets")
	wantFields(t, h.f.CallsOf("PutRule")[0], map[string]any{
		"Name":               "jb-test-hourly",
		"ScheduleExpression": "cron(15 * * * ? *)",
		"State":              "DISABLED",
		"Description":        "jobbridge: runs job demo",
	})
	if got := h.f.RuleField("jb-test-hourly", "State"); got != "DISABLED" {
		t.Errorf("rule in AWS is %s, want DISABLED", got)
	}
	if s := h.st.sync("hourly"); s.State != StateSynced {
		t.Errorf("sync state %+v, want synced", s)
	}
}

func TestDeleteRemovesTargetsThenRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	r := rule("old", "rate(1 day)", true)
	h.st.put(r)
	processNow(t, h, "old")
	h.f.Reset()

	h.st.del("old")
	h.b.RuleDeleted(ctx, r)
	if got := h.b.state.get().PendingDeletes; !slices.Equal(got, []string{"old"}) {
		t.Fatalf("pending deletes in the state file: %v, want [old]", got)
	}
	processNow(t, h, "old")
	wantOps(t, h.f, "ListTargetsByRule", "RemoveTargets", "DeleteRule")
	wantFields(t, h.f.CallsOf("RemoveTargets")[0], map[string]any{"Rule": "jb-test-old", "EventBusName": "default", "Ids": []string{"jobbridge"}})
	wantFields(t, h.f.CallsOf("DeleteRule")[0], map[string]any{"Name": "jb-test-old", "EventBusName": "default"})
	if got := h.f.RuleNames(); len(got) != 0 {
		t.Errorf("rules left in AWS: %v", got)
	}
	if got := h.b.state.get().PendingDeletes; len(got) != 0 {
		t.Errorf("pending deletes after the delete: %v", got)
	}
}

func TestDeleteSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	r := rule("gone", "rate(1 day)", true)
	h.st.put(r)
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// Deleted, and the agent stops before the worker gets to it.
	h.st.del("gone")
	h.b.RuleDeleted(ctx, r)

	h.restart(t)
	h.run(t)
	waitFor(t, "the restarted agent to delete jb-test-gone", func() bool { return len(h.f.RuleNames()) == 0 })
	waitFor(t, "the pending delete to be forgotten", func() bool { return len(h.b.state.get().PendingDeletes) == 0 })
}

func TestPartialTargetFailureEndsInErrorWithAWSMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	h.f.Reset()
	h.f.FailNext("PutTargets", ebtest.Failure{Entries: []map[string]any{{
		"TargetId": "jobbridge", "ErrorCode": "ValidationException",
		"ErrorMessage": "RoleArn is required for target arn:aws:events:eu-west-1:123456789012:api-destination/x.",
	}}})
	r := rule("broken", "rate(1 hour)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	processNow(t, h, "broken")
	wantOps(t, h.f, "PutRule", "PutTargets")
	s := h.st.sync("broken")
	want := "PutTargets failed for 1 target(s): target jobbridge: ValidationException: RoleArn is required"
	if s.State != StateError || !strings.Contains(s.Error, want) {
		t.Errorf("sync state %+v, want error saying %q", s, want)
	}
	if h.b.queue.has("broken") {
		t.Error("a failure that would fail the same way again was queued for a retry")
	}
	if _, err := h.st.RuleGet(ctx, "broken"); err != nil {
		t.Errorf("the rule is gone from the store after the AWS failure: %v", err)
	}
}

func TestTransientTargetFailureIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	h.f.Reset()
	h.f.FailNext("PutTargets", ebtest.Failure{Entries: []map[string]any{{
		"TargetId": "jobbridge", "ErrorCode": "ConcurrentModificationException", "ErrorMessage": "Concurrent modification on rule.",
	}}})
	r := rule("busy", "rate(1 hour)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	h.run(t)
	waitFor(t, "busy synced", func() bool { return h.st.sync("busy").State == StateSynced })
	if got := h.f.CallsOf("PutTargets"); len(got) != 2 {
		t.Errorf("PutTargets called %d times, want 2 (one failed entry, one retry)", len(got))
	}
}

func TestThrottlingBacksOffLongerEachTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // RetryBase 5ms, ThrottleBase 80ms
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	throttle := ebtest.Failure{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	h.f.FailNext("PutRule", throttle, throttle)
	h.runSettled(t)
	r := rule("popular", "rate(1 minute)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	waitFor(t, "a throttled attempt recorded as pending with AWS's message", func() bool {
		s := h.st.sync("popular")
		return s.State == StatePending && strings.Contains(s.Error, "ThrottlingException: Rate exceeded")
	})
	waitFor(t, "popular synced", func() bool { return h.st.sync("popular").State == StateSynced })

	puts := h.f.CallsOf("PutRule")
	if len(puts) != 3 {
		t.Fatalf("PutRule called %d times, want 3 (two throttled)", len(puts))
	}
	if gap := puts[1].At.Sub(puts[0].At); gap < 80*time.Millisecond {
		t.Errorf("first retry after %v, want at least the throttle backoff 80ms", gap)
	}
	if gap := puts[2].At.Sub(puts[1].At); gap < 160*time.Millisecond {
		t.Errorf("second retry after %v, want at least twice the throttle backoff (160ms)", gap)
	}
}

func TestServerErrorsRetryThenGiveUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxAttempts = 3 })
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	internal := ebtest.Failure{Status: 500, Code: "InternalException", Message: "internal error"}
	h.f.FailNext("PutRule", internal, internal, internal)
	h.runSettled(t)
	r := rule("unlucky", "rate(1 minute)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	waitFor(t, "unlucky in error", func() bool { return h.st.sync("unlucky").State == StateError })
	if got := len(h.f.CallsOf("PutRule")); got != 3 {
		t.Errorf("PutRule called %d times, want MaxAttempts = 3", got)
	}
	if s := h.st.sync("unlucky"); s.Error != "InternalException: internal error" {
		t.Errorf("sync error %q, want AWS's code and message", s.Error)
	}
}

func TestAWSRejectionEndsInErrorAndKeepsTheRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	h.f.Reset()
	h.f.FailNext("PutRule", ebtest.Failure{Code: "ValidationException", Message: "Parameter ScheduleExpression is not valid."})
	r := rule("odd", "cron(0 0 31 2 ? *)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	processNow(t, h, "odd")
	wantOps(t, h.f, "PutRule")
	if s := h.st.sync("odd"); s.State != StateError || s.Error != "ValidationException: Parameter ScheduleExpression is not valid." {
		t.Errorf("sync state %+v, want error with AWS's message", s)
	}
}

func TestReconcileCorrectsDriftAndListsOrphans(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	for _, r := range []store.Rule{
		rule("a-deleted-in-aws", "rate(1 hour)", true),
		rule("b-schedule-changed", "cron(0 6 * * ? *)", true),
		rule("c-disabled-in-aws", "rate(2 hours)", true),
		rule("d-target-changed", "rate(3 hours)", true),
		rule("e-in-step", "rate(4 hours)", false),
	} {
		h.st.put(r)
	}
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// Drift made by hand in the console.
	h.f.DropRule("jb-test-a-deleted-in-aws")
	h.f.SetRuleField("jb-test-b-schedule-changed", "ScheduleExpression", "cron(0 7 * * ? *)")
	h.f.SetRuleField("jb-test-c-disabled-in-aws", "State", "DISABLED")
	h.f.SetTargetField("jb-test-d-target-changed", 0, "RoleArn", "arn:aws:iam::123456789012:role/someone-else")
	// An orphan of ours, a rule under the prefix someone else made, one
	// of another agent sharing the prefix's account, and one outside it.
	ours := map[string]string{TagManaged: testPrefix, TagDestination: "jb-test-destination"}
	h.f.PutForeignRule("jb-test-orphan", "rate(1 day)", ours)
	h.f.PutForeignRule("jb-test-handmade", "rate(1 day)", nil)
	h.f.PutForeignRule("jb-test-other-agent", "rate(1 day)", map[string]string{TagManaged: testPrefix, TagDestination: "other-destination"})
	h.f.PutForeignRule("billing-nightly", "rate(1 day)", map[string]string{TagManaged: "billing-", TagDestination: "jb-test-destination"})

	h.f.Reset()
	rep, err := h.b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a-deleted-in-aws", "b-schedule-changed", "c-disabled-in-aws", "d-target-changed"}; !slices.Equal(rep.Synced, want) {
		t.Errorf("synced %v, want %v", rep.Synced, want)
	}
	if rep.InStep != 1 || len(rep.Failed) != 0 {
		t.Errorf("report %+v, want one rule in step and none failed", rep)
	}
	if want := []string{"jb-test-orphan"}; !slices.Equal(rep.Orphans, want) {
		t.Errorf("orphans %v, want %v", rep.Orphans, want)
	}
	wantOps(t, h.f,
		"DescribeConnection", "DescribeApiDestination",
		"ListRules", "ListRules", "ListRules", "ListRules", // 8 rules under the prefix, pages of 2
		"PutRule", "PutTargets", // a: recreated
		"PutRule", "PutTargets", // b: schedule
		"PutRule", "PutTargets", // c: state
		"ListTargetsByRule", "PutTargets", // d: target only
		"ListTargetsByRule",                                                 // e: in step
		"ListTagsForResource", "ListTagsForResource", "ListTagsForResource", // handmade, orphan, other-agent
	)
	if got := h.f.RuleField("jb-test-b-schedule-changed", "ScheduleExpression"); got != "cron(0 7 * * ? *)" && got != "cron(0 6 * * ? *)" {
		t.Errorf("schedule %q", got)
	} else if got != "cron(0 6 * * ? *)" {
		t.Errorf("schedule in AWS %q, want the stored cron(0 6 * * ? *)", got)
	}
	if got := h.f.RuleField("jb-test-c-disabled-in-aws", "State"); got != "ENABLED" {
		t.Errorf("state in AWS %q, want ENABLED", got)
	}
	for _, c := range h.f.CallsOf("") {
		if strings.Contains(string(mustJSON(c.Body)), "billing-") {
			t.Errorf("%s touched a rule outside the prefix: %v", c.Op, c.Body)
		}
	}

	// Prune deletes the orphan and nothing else.
	h.f.Reset()
	deleted, err := h.b.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{"jb-test-orphan"}) {
		t.Errorf("prune deleted %v, want [jb-test-orphan]", deleted)
	}
	if w := h.f.Writes(); !slices.Equal(w, []string{"DeleteRule"}) {
		t.Errorf("prune wrote %v, want only DeleteRule of the orphan (it has no targets)", w)
	}
	want := []string{"billing-nightly", "jb-test-a-deleted-in-aws", "jb-test-b-schedule-changed", "jb-test-c-disabled-in-aws",
		"jb-test-d-target-changed", "jb-test-e-in-step", "jb-test-handmade", "jb-test-other-agent"}
	if got := h.f.RuleNames(); !slices.Equal(got, want) {
		t.Errorf("rules after prune:\n got  %v\n want %v", got, want)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestRunSyncsRulesChangedBeforeAndAfterStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// Stored before the switch to eventbridge: the first reconcile puts it.
	h.st.put(rule("existing", "rate(1 hour)", true))
	h.run(t)
	waitFor(t, "existing synced", func() bool { return h.st.sync("existing").State == StateSynced })

	r := rule("fresh", "rate(10 minutes)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	waitFor(t, "fresh synced", func() bool { return h.st.sync("fresh").State == StateSynced })
	if got := h.f.RuleNames(); !slices.Equal(got, []string{"jb-test-existing", "jb-test-fresh"}) {
		t.Errorf("rules in AWS: %v", got)
	}
}

func TestSettingsValidateNamesEveryProblem(t *testing.T) {
	t.Parallel()
	err := Settings{EventBus: "orders", TargetURL: "ftp://x", RulePrefix: "bad prefix!", DLQARN: "queue", InvocationRate: -1}.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad settings")
	}
	for _, want := range []string{
		"JOBBRIDGE_EB_API_KEY is required",
		"JOBBRIDGE_EB_TARGET_ROLE_ARN is required",
		"JOBBRIDGE_EB_CONNECTION_NAME is required",
		"JOBBRIDGE_EB_DESTINATION_NAME is required",
		`JOBBRIDGE_EB_EVENT_BUS: "orders": scheduled rules only fire on the default event bus`,
		`JOBBRIDGE_EB_TARGET_URL: "ftp://x" is not an absolute http(s) URL`,
		"JOBBRIDGE_EB_RULE_PREFIX",
		"JOBBRIDGE_EB_DLQ_ARN",
		"JOBBRIDGE_EB_INVOCATION_RATE",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if err := testSettings().Validate(); err != nil {
		t.Errorf("good settings rejected: %v", err)
	}
}

func TestReconcileRecreatesADeletedDestinationAndRepointsTargets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.st.put(rule("steady", "rate(1 hour)", true))
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	old := h.f.Destination("jb-test-destination")["ApiDestinationArn"]
	h.f.DropAPIDestination("jb-test-destination")

	h.f.Reset()
	rep, err := h.b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination", "CreateApiDestination", "ListRules",
		"ListTargetsByRule", "PutTargets")
	fresh := h.f.Destination("jb-test-destination")["ApiDestinationArn"]
	if fresh == old {
		t.Fatal("the fake gave the new destination the old ARN")
	}
	wantFields(t, h.f.CallsOf("PutTargets")[0], map[string]any{"Targets.0.Arn": fresh})
	if !slices.Equal(rep.Synced, []string{"steady"}) {
		t.Errorf("report %+v, want steady synced", rep)
	}
}

func TestOnlyTheLeaderWritesToAWS(t *testing.T) {
	t.Parallel()
	var leads atomic.Bool
	h := newHarness(t, func(c *Config) {
		c.Leader = func(context.Context) (bool, error) { return leads.Load(), nil }
		c.LeaderPoll = 10 * time.Millisecond
	})
	ctx := context.Background()
	h.run(t)
	r := rule("shared", "rate(1 hour)", true)
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	time.Sleep(100 * time.Millisecond)
	if ops := h.f.Ops(); len(ops) != 0 {
		t.Fatalf("a follower called EventBridge: %v", ops)
	}
	if s := h.st.sync("shared"); s.State != StatePending {
		t.Errorf("a follower left the rule %+v, want pending for the leader", s)
	}

	leads.Store(true) // the leader stopped; this agent takes over
	waitFor(t, "the new leader to sync the rule", func() bool { return h.st.sync("shared").State == StateSynced })
	if ops := h.f.Ops(); ops[0] != "DescribeConnection" {
		t.Errorf("the new leader did not set up first: %v", ops)
	}
}

// A stored rule that needs EventBridge Scheduler (made while the agent ran
// the local scheduler or the scheduler backend) must not become a UTC
// scheduled rule that fires at other times than it says, or past its end:
// the rules backend leaves it out and its sync state says why.
func TestRulesModeDoesNotPutARuleThatNeedsScheduler(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*store.Rule)
	}{
		{"zone", func(r *store.Rule) { r.Timezone = "Europe/Paris" }},
		{"end date", func(r *store.Rule) { r.EndDate = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }},
		{"start date", func(r *store.Rule) { r.StartDate = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }},
		{"window", func(r *store.Rule) { r.FlexibleWindow = 15 * time.Minute }},
		{"at()", func(r *store.Rule) { r.Schedule = "at(2027-06-01T09:00:00)" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := context.Background()
			if _, err := h.b.setup(ctx); err != nil {
				t.Fatal(err)
			}
			r := rule("nightly", "cron(0 2 * * ? *)", true)
			r.Timezone = "UTC"
			tc.change(&r)
			h.st.put(r)
			h.f.Reset()
			processNow(t, h, "nightly")
			if w := h.f.Writes(); len(w) != 0 {
				t.Errorf("process wrote %v for a rule EventBridge rules cannot express", w)
			}
			if s := h.st.sync("nightly"); s.State != StateError || !strings.Contains(s.Error, "JOBBRIDGE_SCHEDULER=scheduler") {
				t.Errorf("sync state %+v, want an error naming the scheduler backend", s)
			}
			h.f.Reset()
			rep, err := h.b.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w := h.f.Writes(); len(w) != 0 || !slices.Equal(rep.Failed, []string{"nightly"}) {
				t.Errorf("reconcile wrote %v, report %+v; want nothing written and the rule failed", w, rep)
			}
		})
	}
}
