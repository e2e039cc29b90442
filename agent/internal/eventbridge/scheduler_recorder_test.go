package eventbridge

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// These tests run the scheduler mode through the real SDK clients against
// the recording fake and assert the exact Scheduler and EventBridge calls.

const (
	testSchedulerRole = "arn:aws:iam::123456789012:role/jobbridge-scheduler"
	testGroup         = "jb-test" // from testPrefix "jb-test-"
	testBusARN        = "arn:aws:events:eu-west-1:123456789012:event-bus/default"
)

// schedNow is the tests' clock: what "now" is to the backend.
var schedNow = time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)

func newSchedHarness(t *testing.T, mut ...func(*Config)) *harness {
	t.Helper()
	h := newHarness(t, append([]func(*Config){func(c *Config) {
		c.Mode = ModeScheduler
		c.SchedulerRoleARN = testSchedulerRole
	}}, mut...)...)
	h.b.now = func() time.Time { return schedNow }
	return h
}

// setupSched runs the setup and forgets its calls.
func setupSched(t *testing.T, h *harness) wiring {
	t.Helper()
	w, err := h.b.setup(context.Background())
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	h.f.Reset()
	return w
}

func TestSchedulerSetupCreatesTheGroupAndTheRelayRule(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	w, err := h.b.setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "CreateConnection", "DescribeApiDestination", "CreateApiDestination",
		"DescribeEventBus", "GetScheduleGroup", "CreateScheduleGroup", "DescribeRule", "PutRule", "PutTargets")
	if w.busARN != testBusARN {
		t.Errorf("bus ARN %q, want %q", w.busARN, testBusARN)
	}
	wantFields(t, h.f.CallsOf("CreateScheduleGroup")[0], map[string]any{
		"Name": testGroup,
		"Tags": []map[string]string{
			{"Key": "jobbridge:managed", "Value": testPrefix},
			{"Key": "jobbridge:destination", "Value": "jb-test-destination"},
		},
	})
	put := h.f.CallsOf("PutRule")[0]
	wantFields(t, put, map[string]any{
		"Name":         "jb-test-scheduler-relay",
		"EventBusName": "default",
		"State":        "ENABLED",
		"Tags": []map[string]string{
			{"Key": "jobbridge:managed", "Value": testPrefix},
			{"Key": "jobbridge:destination", "Value": "jb-test-destination"},
		},
		"ScheduleExpression": nil,
	})
	var pattern map[string]any
	if err := json.Unmarshal([]byte(field(put.Body, "EventPattern").(string)), &pattern); err != nil {
		t.Fatalf("event pattern is not JSON: %v", err)
	}
	wantPattern := map[string]any{
		"account":     []any{"123456789012"}, // the scheduler role's
		"source":      []any{"jobbridge.scheduler"},
		"detail-type": []any{"jobbridge scheduled run"},
		"detail":      map[string]any{"group": []any{testGroup}},
	}
	if string(mustJSON(pattern)) != string(mustJSON(wantPattern)) {
		t.Errorf("event pattern %s, want %s: only this agent's events", mustJSON(pattern), mustJSON(wantPattern))
	}
	wantFields(t, h.f.CallsOf("PutTargets")[0], map[string]any{
		"Rule":              "jb-test-scheduler-relay",
		"EventBusName":      "default",
		"Targets.0.Id":      "jobbridge",
		"Targets.0.Arn":     w.destinationARN,
		"Targets.0.RoleArn": testRoleARN,
		"Targets.0.InputTransformer": map[string]any{
			"InputPathsMap": map[string]string{"rule": "$.detail.rule", "time": "$.detail.scheduledTime"},
			"InputTemplate": `{"rule":<rule>,"eventId":"scheduler:<rule>:<time>","time":<time>}`,
		},
		"Targets.0.RetryPolicy": map[string]int{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 24},
		"Targets.1":             nil,
	})

	// A restart with the same settings only reads.
	h.f.Reset()
	h.restart(t)
	if _, err := h.b.setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantOps(t, h.f, "DescribeConnection", "DescribeApiDestination", "DescribeEventBus",
		"GetScheduleGroup", "ListTagsForResource", "DescribeRule", "ListTargetsByRule")
}

func TestSchedulerRelayRuleChangedInTheConsoleIsSetBack(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	h.f.SetRuleField("jb-test-scheduler-relay", "EventPattern", `{"source":["jobbridge.scheduler"]}`)
	h.f.SetTargetField("jb-test-scheduler-relay", 0, "InputTransformer", map[string]any{"InputTemplate": `{"rule":<rule>}`})
	if _, err := h.b.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := h.f.Writes(); !slices.Equal(w, []string{"PutRule", "PutTargets"}) {
		t.Errorf("writes %v, want the relay rule and its target put again", w)
	}
	if got := h.f.Rule("jb-test-scheduler-relay")["EventPattern"]; got != h.b.cfg.relayPattern() {
		t.Errorf("pattern %v after ensure", got)
	}
}

func TestSchedulerRelayOnACustomBus(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t, func(c *Config) { c.EventBus = "jobs" })
	h.f.AddEventBus("jobs")
	w := setupSched(t, h)
	if w.busARN != "arn:aws:events:eu-west-1:123456789012:event-bus/jobs" {
		t.Errorf("bus ARN %q", w.busARN)
	}
	if got := h.f.Rule("jb-test-scheduler-relay")["EventBusName"]; got != "jobs" {
		t.Errorf("relay rule on bus %v, want jobs", got)
	}
	r := rule("nightly", "cron(0 2 * * ? *)", true)
	h.st.put(r)
	processNow(t, h, "nightly")
	if got := field(h.f.Schedule(testGroup, "nightly"), "Target.Arn"); got != w.busARN {
		t.Errorf("schedule target %v, want the bus %s", got, w.busARN)
	}
}

func TestSchedulerCreateUpdateInPlaceNoOpAndDelete(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	ctx := context.Background()

	r := rule("nightly-report", "cron(0 2 * * ? *)", true)
	r.Description = "the nightly report"
	r.Timezone = "Europe/Paris"
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	if s := h.st.sync("nightly-report"); s.State != StatePending {
		t.Fatalf("after RuleChanged the sync state is %+v, want pending", s)
	}
	if len(h.f.Ops()) != 0 {
		t.Fatalf("RuleChanged called AWS itself: %v", h.f.Ops())
	}
	processNow(t, h, "nightly-report")
	wantOps(t, h.f, "GetSchedule", "CreateSchedule")
	wantFields(t, h.f.CallsOf("CreateSchedule")[0], map[string]any{
		"Name":                       "nightly-report",
		"GroupName":                  testGroup,
		"ScheduleExpression":         "cron(0 2 * * ? *)",
		"ScheduleExpressionTimezone": "Europe/Paris",
		"Description":                "the nightly report",
		"State":                      "ENABLED",
		"FlexibleTimeWindow":         map[string]string{"Mode": "OFF"},
		"ActionAfterCompletion":      "NONE",
		"StartDate":                  nil,
		"EndDate":                    nil,
		"Target": map[string]any{
			"Arn":                   testBusARN,
			"RoleArn":               testSchedulerRole,
			"EventBridgeParameters": map[string]string{"DetailType": "jobbridge scheduled run", "Source": "jobbridge.scheduler"},
			"Input":                 `{"rule":"jb-test-nightly-report","group":"jb-test","scheduledTime":"<aws.scheduler.scheduled-time>"}`,
			"RetryPolicy":           map[string]int{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 24},
		},
	})
	s := h.st.sync("nightly-report")
	if s.State != StateSynced || s.ARN != "arn:aws:scheduler:eu-west-1:123456789012:schedule/jb-test/nightly-report" || s.Error != "" {
		t.Errorf("sync state %+v, want synced with the schedule's ARN", s)
	}

	// Nothing changed: one read, no write.
	h.f.Reset()
	h.b.RuleChanged(ctx, r)
	processNow(t, h, "nightly-report")
	wantOps(t, h.f, "GetSchedule")

	// Changed and disabled: updated in place, every field sent again
	// (UpdateSchedule replaces them all).
	h.f.Reset()
	changed := r
	changed.Schedule, changed.Enabled = "cron(15 3 * * ? *)", false
	h.st.put(changed)
	h.b.RuleChanged(ctx, changed)
	processNow(t, h, "nightly-report")
	wantOps(t, h.f, "GetSchedule", "UpdateSchedule")
	wantFields(t, h.f.CallsOf("UpdateSchedule")[0], map[string]any{
		"Name":                       "nightly-report",
		"GroupName":                  testGroup,
		"ScheduleExpression":         "cron(15 3 * * ? *)",
		"ScheduleExpressionTimezone": "Europe/Paris",
		"State":                      "DISABLED",
		"Description":                "the nightly report",
		"FlexibleTimeWindow":         map[string]string{"Mode": "OFF"},
		"ActionAfterCompletion":      "NONE",
		"Target.Arn":                 testBusARN,
		"Target.Input":               `{"rule":"jb-test-nightly-report","group":"jb-test","scheduledTime":"<aws.scheduler.scheduled-time>"}`,
	})
	if got := h.f.Schedule(testGroup, "nightly-report")["State"]; got != "DISABLED" {
		t.Errorf("schedule in AWS is %v, want DISABLED", got)
	}
	if s := h.st.sync("nightly-report"); s.State != StateSynced {
		t.Errorf("sync state %+v, want synced", s)
	}

	// Deleted: the schedule goes, and the delete is remembered until then.
	h.f.Reset()
	h.st.del("nightly-report")
	h.b.RuleDeleted(ctx, changed)
	if got := h.b.state.get().PendingDeletes; !slices.Equal(got, []string{"nightly-report"}) {
		t.Fatalf("pending deletes %v, want [nightly-report]", got)
	}
	processNow(t, h, "nightly-report")
	wantOps(t, h.f, "DeleteSchedule")
	wantFields(t, h.f.CallsOf("DeleteSchedule")[0], map[string]any{"Name": "nightly-report", "GroupName": testGroup})
	if got := h.f.ScheduleNames(testGroup); len(got) != 0 {
		t.Errorf("schedules left: %v", got)
	}
	if got := h.b.state.get().PendingDeletes; len(got) != 0 {
		t.Errorf("pending deletes after the delete: %v", got)
	}
}

func TestSchedulerMapsZoneDatesAndWindow(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t, func(c *Config) { c.DLQARN = "arn:aws:sqs:eu-west-1:123456789012:jobbridge-dlq" })
	setupSched(t, h)
	epoch := func(t time.Time) float64 { return float64(t.Unix()) }

	start := schedNow.Add(48 * time.Hour)
	end := schedNow.Add(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		rule   func(r *store.Rule)
		fields map[string]any
	}{
		{"zone-window-dates", func(r *store.Rule) {
			r.Schedule, r.Timezone = "cron(30 2 * * ? *)", "America/New_York"
			r.StartDate, r.EndDate, r.FlexibleWindow = start, end, 15*time.Minute
		}, map[string]any{
			"ScheduleExpressionTimezone": "America/New_York",
			"StartDate":                  epoch(start),
			"EndDate":                    epoch(end),
			"FlexibleTimeWindow":         map[string]any{"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
			"Target.DeadLetterConfig":    map[string]string{"Arn": "arn:aws:sqs:eu-west-1:123456789012:jobbridge-dlq"},
		}},
		{"window-in-whole-minutes", func(r *store.Rule) {
			r.Schedule, r.FlexibleWindow = "rate(1 hour)", 90*time.Second
		}, map[string]any{
			"ScheduleExpressionTimezone": "UTC",
			"FlexibleTimeWindow":         map[string]any{"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1},
		}},
		// AWS refuses a start more than 5 minutes ago: a cron rule whose
		// start has passed sends none, a rate rule the next fire time on
		// its start's grid (started 2h30m ago every hour: in 30 minutes).
		{"cron-start-passed", func(r *store.Rule) {
			r.Schedule, r.StartDate = "cron(0 * * * ? *)", schedNow.Add(-150*time.Minute)
		}, map[string]any{"StartDate": nil}},
		{"rate-start-passed", func(r *store.Rule) {
			r.Schedule, r.StartDate = "rate(1 hour)", schedNow.Add(-150*time.Minute)
		}, map[string]any{"StartDate": epoch(schedNow.Add(30 * time.Minute))}},
		{"one-time", func(r *store.Rule) {
			r.Schedule, r.Timezone = "at(2027-03-14T02:30:00)", "America/New_York"
		}, map[string]any{
			"ScheduleExpression":         "at(2027-03-14T02:30:00)",
			"ScheduleExpressionTimezone": "America/New_York",
			"ActionAfterCompletion":      "DELETE",
		}},
	} {
		r := rule(tc.name, "", true)
		tc.rule(&r)
		h.st.put(r)
		h.f.Reset()
		processNow(t, h, tc.name)
		calls := h.f.CallsOf("CreateSchedule")
		if len(calls) != 1 {
			t.Fatalf("%s: calls %v, want one CreateSchedule", tc.name, h.f.Ops())
		}
		t.Run(tc.name, func(t *testing.T) { wantFields(t, calls[0], tc.fields) })

		// What was sent is in step: the next sync only reads.
		h.f.Reset()
		processNow(t, h, tc.name)
		if w := h.f.Writes(); len(w) != 0 {
			t.Errorf("%s: a second sync wrote %v; what AWS has should be in step", tc.name, w)
		}
	}
}

func TestSchedulerStartDateOnTheGridIsInStep(t *testing.T) {
	t.Parallel()
	start := schedNow.Add(-150 * time.Minute)
	r := rule("hourly", "rate(1 hour)", true)
	r.StartDate = start
	at := func(d time.Duration) *time.Time { t := start.Add(d); return &t }
	for _, tc := range []struct {
		got  *time.Time
		want bool
	}{
		{at(0), true},                   // the start itself, sent before it passed
		{at(3 * time.Hour), true},       // the next fire time, sent after
		{at(time.Hour), true},           // an earlier one on the grid
		{at(4 * time.Hour), false},      // later than the next fire: one would be skipped
		{at(3*time.Hour + 1), true},     // AWS keeps whole seconds
		{at(3*time.Hour + 90e9), false}, // off the grid
		{nil, false},
	} {
		if got := startInStep(tc.got, r, schedNow); got != tc.want {
			t.Errorf("start %v: in step %v, want %v", tc.got, got, tc.want)
		}
	}
	cron := rule("nightly", "cron(0 2 * * ? *)", true)
	cron.StartDate = start
	if !startInStep(nil, cron, schedNow) || !startInStep(at(0), cron, schedNow) || startInStep(at(5*time.Hour), cron, schedNow) {
		t.Error("a cron rule whose start passed: none or a past start is in step, a future one is not")
	}
}

func TestSchedulerOneTimeRuleIsDoneOnceAWSDeletedIt(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	ctx := context.Background()
	r := rule("launch", "at(2027-03-14T09:00:00)", true)
	r.Timezone = "Europe/Paris"
	h.st.put(r)
	processNow(t, h, "launch")
	arn := h.st.sync("launch").ARN
	if arn == "" || h.f.Schedule(testGroup, "launch") == nil {
		t.Fatalf("the at() schedule was not created: %v", h.f.Ops())
	}

	// The time comes (09:00 in Paris is 08:00 UTC), the schedule fires and
	// AWS deletes it (ActionAfterCompletion DELETE).
	h.b.now = func() time.Time { return time.Date(2027, 3, 14, 8, 0, 0, 0, time.UTC) }
	h.f.DropSchedule(testGroup, "launch")
	h.f.Reset()
	rep, err := h.b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.f.Writes(); len(w) != 0 {
		t.Errorf("reconcile wrote %v for a one-time rule that has run; it must not make it run again", w)
	}
	if rep.InStep != 1 || len(rep.Synced) != 0 || len(rep.Failed) != 0 {
		t.Errorf("report %+v, want the done rule in step", rep)
	}
	if s := h.st.sync("launch"); s.State != StateSynced || s.ARN != arn {
		t.Errorf("sync state %+v, want synced with the ARN it had", s)
	}
	// A change to it (say, its description) does not make it again either.
	h.f.Reset()
	r.Description = "launched"
	h.st.put(r)
	h.b.RuleChanged(ctx, r)
	processNow(t, h, "launch")
	wantOps(t, h.f, "GetSchedule")
	if s := h.st.sync("launch"); s.State != StateSynced {
		t.Errorf("sync state %+v, want synced", s)
	}

	// A minute before its time it would have been made.
	h.b.now = func() time.Time { return time.Date(2027, 3, 14, 7, 59, 0, 0, time.UTC) }
	h.f.Reset()
	processNow(t, h, "launch")
	wantOps(t, h.f, "GetSchedule", "CreateSchedule")
}

func TestSchedulerRuleWhoseEndPassedIsNotMadeAgain(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	r := rule("campaign", "rate(1 day)", true)
	r.EndDate = schedNow.Add(-time.Hour)
	h.st.put(r)
	processNow(t, h, "campaign")
	wantOps(t, h.f, "GetSchedule")
	if s := h.st.sync("campaign"); s.State != StateSynced {
		t.Errorf("sync state %+v, want synced (done)", s)
	}
}

func TestSchedulerReconcileCorrectsDriftAndListsOrphans(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	ctx := context.Background()
	for _, r := range []store.Rule{
		rule("a-deleted-in-aws", "rate(1 hour)", true),
		rule("b-expression-changed", "cron(0 6 * * ? *)", true),
		rule("c-disabled-in-aws", "rate(2 hours)", true),
		rule("d-input-changed", "rate(3 hours)", true),
		rule("e-in-step", "rate(4 hours)", false),
	} {
		h.st.put(r)
	}
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// Drift made by hand in the console.
	h.f.DropSchedule(testGroup, "a-deleted-in-aws")
	h.f.SetScheduleField(testGroup, "b-expression-changed", "ScheduleExpression", "cron(0 7 * * ? *)")
	h.f.SetScheduleField(testGroup, "c-disabled-in-aws", "State", "DISABLED")
	tgt := h.f.Schedule(testGroup, "d-input-changed")["Target"].(map[string]any)
	tgt["Input"] = `{"rule":"someone-else"}`
	h.f.SetScheduleField(testGroup, "d-input-changed", "Target", tgt)
	// A schedule in the group no stored rule has, one in another group, an
	// EventBridge rule the eventbridge backend left (tagged as this agent's),
	// and one under the prefix someone else made.
	h.f.PutForeignSchedule(testGroup, "orphan", "rate(1 day)")
	h.f.PutForeignSchedule("billing", "nightly", "rate(1 day)")
	ours := map[string]string{TagManaged: testPrefix, TagDestination: "jb-test-destination"}
	h.f.PutForeignRule("jb-test-e-in-step", "rate(4 hours)", ours)
	h.f.PutForeignRule("jb-test-handmade", "rate(1 day)", nil)

	h.f.Reset()
	rep, err := h.b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a-deleted-in-aws", "b-expression-changed", "c-disabled-in-aws", "d-input-changed"}; !slices.Equal(rep.Synced, want) {
		t.Errorf("synced %v, want %v", rep.Synced, want)
	}
	if rep.InStep != 1 || len(rep.Failed) != 0 {
		t.Errorf("report %+v, want one rule in step and none failed", rep)
	}
	if want := []string{"jb-test/orphan", "jb-test-e-in-step"}; !slices.Equal(rep.Orphans, want) {
		t.Errorf("orphans %v, want %v", rep.Orphans, want)
	}
	if w := h.f.Writes(); !slices.Equal(w, []string{"CreateSchedule", "UpdateSchedule", "UpdateSchedule", "UpdateSchedule"}) {
		t.Errorf("reconcile wrote %v, want one create and three updates", w)
	}
	if got := h.f.Schedule(testGroup, "b-expression-changed")["ScheduleExpression"]; got != "cron(0 6 * * ? *)" {
		t.Errorf("expression in AWS %v, want the stored one", got)
	}
	if got := h.f.Schedule(testGroup, "c-disabled-in-aws")["State"]; got != "ENABLED" {
		t.Errorf("state in AWS %v, want ENABLED", got)
	}
	for _, c := range h.f.CallsOf("") {
		if strings.Contains(string(mustJSON(c.Body)), "billing") {
			t.Errorf("%s touched another group: %v", c.Op, c.Body)
		}
	}

	// Prune deletes the orphans and nothing else.
	h.f.Reset()
	deleted, err := h.b.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"jb-test/orphan", "jb-test-e-in-step"}; !slices.Equal(deleted, want) {
		t.Errorf("prune deleted %v, want %v", deleted, want)
	}
	if w := h.f.Writes(); !slices.Equal(w, []string{"DeleteSchedule", "DeleteRule"}) {
		t.Errorf("prune wrote %v", w)
	}
	if got := h.f.ScheduleNames(testGroup); len(got) != 5 || slices.Contains(got, "orphan") {
		t.Errorf("schedules after prune: %v", got)
	}
	if h.f.Schedule("billing", "nightly") == nil || h.f.Rule("jb-test-handmade") == nil || h.f.Rule("jb-test-scheduler-relay") == nil {
		t.Error("prune deleted something that is not this agent's orphan")
	}
}

func TestSchedulerGroupOfAnotherAgentIsRefused(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	h.f.PutForeignGroup(testGroup, map[string]string{TagManaged: "jb-test_", TagDestination: "jb-test-destination"})
	h.f.PutForeignSchedule(testGroup, "theirs", "rate(1 day)")
	_, err := h.b.setup(context.Background())
	if !errors.Is(err, errNotOurs) || !strings.Contains(err.Error(), `schedule group "jb-test"`) || !strings.Contains(err.Error(), "JOBBRIDGE_EB_RULE_PREFIX") {
		t.Fatalf("setup with another agent's group: %v; want a refusal naming the group and the prefix setting", err)
	}
	if classify(err) != permanent {
		t.Error("a group of another agent's should not be retried as if it might pass")
	}
	for _, w := range h.f.Writes() {
		if strings.Contains(w, "Schedule") {
			t.Errorf("the agent wrote %s in another agent's group", w)
		}
	}
}

func TestSchedulerGroupKeptWhenTheDestinationIsRenamed(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	h.f.PutForeignGroup(testGroup, map[string]string{TagManaged: testPrefix, TagDestination: "the-old-destination"})
	if _, err := h.b.setup(context.Background()); err != nil {
		t.Fatalf("setup with this agent's group, tagged with the destination's old name: %v", err)
	}
	tag := h.f.CallsOf("TagResource")
	if len(tag) != 1 || h.f.GroupTags(testGroup)[TagDestination] != "jb-test-destination" {
		t.Fatalf("TagResource calls %v, group tags %v: want the destination tag set to the new name", tag, h.f.GroupTags(testGroup))
	}
	wantFields(t, tag[0], map[string]any{
		"ResourceArn": "arn:aws:scheduler:eu-west-1:123456789012:schedule-group/jb-test",
		"Tags":        []map[string]string{{"Key": "jobbridge:destination", "Value": "jb-test-destination"}},
	})
	if len(h.f.CallsOf("CreateScheduleGroup")) != 0 {
		t.Error("the group was made again")
	}
}

func TestSchedulerErrorsAreRetriedOrRecorded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code  string
		retry bool
	}{
		{"ThrottlingException", true},
		{"ConflictException", true},
		{"InternalServerException", true},
		{"ValidationException", false},
		{"ServiceQuotaExceededException", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			h := newSchedHarness(t)
			setupSched(t, h)
			h.f.FailNext("CreateSchedule", ebtest.Failure{Code: tc.code, Message: "it says " + tc.code})
			r := rule("job", "rate(1 hour)", true)
			h.st.put(r)
			h.b.RuleChanged(context.Background(), r)
			processNow(t, h, "job")
			s := h.st.sync("job")
			if !strings.Contains(s.Error, tc.code+": it says "+tc.code) {
				t.Errorf("sync error %q, want AWS's code and message", s.Error)
			}
			if tc.retry != h.b.queue.has("job") || tc.retry != (s.State == StatePending) {
				t.Errorf("%s: sync %+v, queued %v; want a retry: %v", tc.code, s, h.b.queue.has("job"), tc.retry)
			}
		})
	}
}

func TestSchedulerDeleteSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	ctx := context.Background()
	r := rule("gone", "rate(1 day)", true)
	h.st.put(r)
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	h.st.del("gone")
	h.b.RuleDeleted(ctx, r)

	h.restart(t)
	h.run(t)
	waitFor(t, "the restarted agent to delete the schedule", func() bool { return len(h.f.ScheduleNames(testGroup)) == 0 })
	waitFor(t, "the pending delete to be forgotten", func() bool { return len(h.b.state.get().PendingDeletes) == 0 })
}

func TestRulesModePruneRemovesWhatTheSchedulerBackendLeft(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	ctx := context.Background()
	h.st.put(rule("nightly", "cron(0 2 * * ? *)", true))
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// Back to the eventbridge backend: its reconcile makes the rule, and
	// the schedule and the relay rule are left over.
	h.restart(t, func(c *Config) { c.Mode = ModeRules })
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	orphans, err := h.b.Orphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"jb-test-scheduler-relay", "jb-test/nightly"}; !slices.Equal(orphans, want) {
		t.Errorf("orphans %v, want %v", orphans, want)
	}
	deleted, err := h.b.Prune(ctx)
	if err != nil || !slices.Equal(deleted, orphans) {
		t.Errorf("prune deleted %v (%v), want %v", deleted, err, orphans)
	}
	if got := h.f.RuleNames(); !slices.Equal(got, []string{"jb-test-nightly"}) {
		t.Errorf("rules after prune %v, want only the eventbridge backend's", got)
	}
	if got := h.f.ScheduleNames(testGroup); len(got) != 0 {
		t.Errorf("schedules after prune %v", got)
	}
}

func TestRulesModePruneWorksWithoutSchedulerPermission(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.f.PutForeignRule("jb-test-orphan", "rate(1 day)", map[string]string{TagManaged: testPrefix, TagDestination: "jb-test-destination"})
	h.f.FailNext("GetScheduleGroup", ebtest.Failure{Code: "AccessDeniedException", Message: "not authorized to perform: scheduler:GetScheduleGroup"})
	deleted, err := h.b.Prune(ctx)
	if err != nil || !slices.Equal(deleted, []string{"jb-test-orphan"}) {
		t.Errorf("prune deleted %v (%v), want the orphan rule despite no Scheduler permission", deleted, err)
	}
}

func TestSchedulerSettings(t *testing.T) {
	t.Parallel()
	s := testSettings()
	if err := s.ValidateFor(ModeScheduler); err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN is required by the scheduler backend") {
		t.Errorf("scheduler mode without a scheduler role: %v", err)
	}
	s.SchedulerRoleARN = "arn:aws:iam::123456789012:user/someone"
	if err := s.ValidateFor(ModeScheduler); err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN") || !strings.Contains(err.Error(), "is not an IAM role ARN") {
		t.Errorf("a user ARN as the scheduler role: %v", err)
	}
	s.SchedulerRoleARN = testSchedulerRole
	s.EventBus = "jobs"
	if err := s.ValidateFor(ModeScheduler); err != nil {
		t.Errorf("scheduler mode on a custom bus: %v", err)
	}
	if err := s.ValidateFor(ModeRules); err == nil || !strings.Contains(err.Error(), "only fire on the default event bus") {
		t.Errorf("rules mode on a custom bus: %v", err)
	}
	s.EventBus, s.RulePrefix = "", "default-"
	if err := s.ValidateFor(ModeScheduler); err == nil || !strings.Contains(err.Error(), `schedule group "default"`) {
		t.Errorf("a prefix that makes the default group: %v", err)
	}
	for prefix, group := range map[string]string{"jb-": "jb", "team.jobs_": "team.jobs", "": "jobbridge", "a--": "a", "x": "x"} {
		if got := (Settings{RulePrefix: prefix}).ScheduleGroup(); got != group {
			t.Errorf("prefix %q: group %q, want %q", prefix, got, group)
		}
	}
}

// Moving from the eventbridge backend, prune in scheduler mode may run
// before the agent first started in it (no group yet): it removes the old
// rules, so nothing fires twice once the schedules are made.
func TestSchedulerPruneBeforeTheFirstStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.st.put(rule("nightly", "cron(0 2 * * ? *)", true))
	if _, err := h.b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	h.restart(t, func(c *Config) { c.Mode, c.SchedulerRoleARN = ModeScheduler, testSchedulerRole })
	deleted, err := h.b.Prune(ctx)
	if err != nil || !slices.Equal(deleted, []string{"jb-test-nightly"}) {
		t.Errorf("prune deleted %v (%v), want the eventbridge backend's rule", deleted, err)
	}
	if got := h.f.RuleNames(); len(got) != 0 {
		t.Errorf("rules left %v", got)
	}
}

// A rule changed so that it can fire no more (an end date that has passed,
// or an at() whose time has come) must not leave AWS the schedule it had:
// that one would go on firing, and the webhook runs what it is sent.
func TestSchedulerRuleChangedToFinishedLosesItsOldSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*store.Rule)
	}{
		{"end date passed", func(r *store.Rule) { r.EndDate = schedNow.Add(-time.Hour) }},
		{"at() passed", func(r *store.Rule) { r.Schedule = "at(2027-03-01T09:00:00)" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSchedHarness(t)
			setupSched(t, h)
			ctx := context.Background()
			r := rule("nightly", "cron(0 2 * * ? *)", true)
			h.st.put(r)
			processNow(t, h, "nightly")
			if h.f.Schedule(testGroup, "nightly") == nil {
				t.Fatalf("the schedule was not created: %v", h.f.Ops())
			}
			tc.change(&r)
			h.st.put(r)
			h.b.RuleChanged(ctx, r)
			h.f.Reset()
			processNow(t, h, "nightly")
			if got := h.f.Schedule(testGroup, "nightly"); got != nil {
				t.Errorf("after the change AWS still has %v (writes %v); it would keep firing the rule", got["ScheduleExpression"], h.f.Writes())
			}
			if s := h.st.sync("nightly"); s.State != StateSynced {
				t.Errorf("sync state %+v, want synced (done)", s)
			}
			// Done and gone: nothing more to write.
			h.f.Reset()
			processNow(t, h, "nightly")
			if w := h.f.Writes(); len(w) != 0 {
				t.Errorf("a second pass wrote %v", w)
			}
		})
	}
}

// Prune (and Orphans) in scheduler mode run without the agent's setup
// (`agent aws prune`): they must check the group is this agent's before
// they count its schedules as orphans, as the agent does before using it.
func TestSchedulerPruneLeavesAnotherAgentsGroupAlone(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	ctx := context.Background()
	h.f.PutForeignGroup(testGroup, map[string]string{TagManaged: "jb-test_", TagDestination: "jb-test-destination"})
	h.f.PutForeignSchedule(testGroup, "theirs", "rate(1 day)")
	orphans, err := h.b.Orphans(ctx)
	if slices.Contains(orphans, testGroup+"/theirs") {
		t.Errorf("orphans %v (%v) list another agent's schedule", orphans, err)
	}
	deleted, err := h.b.Prune(ctx)
	if h.f.Schedule(testGroup, "theirs") == nil {
		t.Fatalf("prune deleted %v (%v): another agent's schedule is gone", deleted, err)
	}
	if !errors.Is(err, errNotOurs) {
		t.Errorf("prune: %v, want it to say the group is not this agent's", err)
	}
}

// A start date centuries back (a typo such as 0026 for 2026) is more than
// a time.Duration from now: the start sent and the check of the start AWS
// has must still be on the grid, at or after now.
func TestSchedulerStartDateCenturiesBack(t *testing.T) {
	t.Parallel()
	r := rule("hourly", "rate(1 hour)", true)
	r.StartDate = time.Date(26, 3, 10, 12, 30, 0, 0, time.UTC)
	got := startFor(r, schedNow)
	want := time.Date(2027, 3, 10, 12, 30, 0, 0, time.UTC)
	if got == nil || !got.Equal(want) {
		t.Fatalf("start sent %v, want %v: the first fire time at or after now on the start's grid", got, want)
	}
	if !startInStep(got, r, schedNow) {
		t.Error("the start the agent sends is not in step: every reconcile would update the schedule")
	}
	if finished(r, schedNow) {
		t.Error("a rule with no end is finished")
	}
}

// An at() in the hour the clocks repeat fires at its first instant (02:30
// CEST, 00:30 UTC, in Paris on 31 October 2027); AWS then deletes it. In
// the hour up to its second instant (02:30 CET, 01:30 UTC) the agent must
// know it is done, or it makes it again and it runs a second time.
func TestSchedulerOneTimeRuleInTheRepeatedHourIsNotMadeAgain(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	r := rule("switch", "at(2027-10-31T02:30:00)", true)
	r.Timezone = "Europe/Paris"
	h.st.put(r)
	processNow(t, h, "switch")
	if h.f.Schedule(testGroup, "switch") == nil {
		t.Fatalf("the at() schedule was not created: %v", h.f.Ops())
	}
	h.b.now = func() time.Time { return time.Date(2027, 10, 31, 1, 0, 0, 0, time.UTC) }
	h.f.DropSchedule(testGroup, "switch")
	h.f.Reset()
	processNow(t, h, "switch")
	if w := h.f.Writes(); len(w) != 0 {
		t.Errorf("process wrote %v half an hour after the at() fired: it would run again at 02:30 CET", w)
	}
}
