package eventbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const schedulerTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func TestSchedulerDoctorPassesAHealthySetup(t *testing.T) {
	t.Parallel()
	agentSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(agentSrv.Close)
	h := newSchedHarness(t, func(c *Config) { c.TargetURL = agentSrv.URL })
	setupSched(t, h)
	h.f.SetRole("jobbridge-target", eventBridgeTrust)
	h.f.SetRole("jobbridge-scheduler", schedulerTrust)

	checks := Doctor(context.Background(), DoctorConfig{Settings: h.cfg.Settings, Mode: ModeScheduler, AWS: h.f.AWSConfig(), HTTPClient: agentSrv.Client()})
	for _, c := range checks {
		if c.Status != CheckPass {
			t.Errorf("%s: %s: %s (fix: %s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	if got := len(checks); got != 12 {
		t.Errorf("%d checks, want 12: %+v", got, checks)
	}
	if w := h.f.Writes(); len(w) != 0 {
		t.Errorf("the doctor wrote %v; it must only read", w)
	}
	want := []string{"GetCallerIdentity", "DescribeConnection", "DescribeApiDestination", "GetRole", "GetRole",
		"DescribeEventBus", "GetScheduleGroup", "ListTagsForResource", "DescribeRule", "ListTargetsByRule"}
	if ops := h.f.Ops(); !slices.Equal(ops, want) {
		t.Errorf("the doctor called\n %v\nwant\n %v", ops, want)
	}
}

func TestSchedulerDoctorSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	h := newSchedHarness(t)
	setupSched(t, h)
	// The scheduler role trusts EventBridge instead of Scheduler, another
	// agent took the group over, and the relay rule's pattern was widened.
	h.f.SetRole("jobbridge-target", eventBridgeTrust)
	h.f.SetRole("jobbridge-scheduler", eventBridgeTrust)
	h.f.PutForeignGroup(testGroup, map[string]string{TagManaged: "someone-else-"})
	h.f.SetRuleField("jb-test-scheduler-relay", "EventPattern", `{"source":["jobbridge.scheduler"]}`)

	checks := Doctor(context.Background(), DoctorConfig{Settings: h.cfg.Settings, Mode: ModeScheduler, AWS: h.f.AWSConfig(), HTTPClient: &http.Client{Transport: failingTransport{}}})
	got := checkStatuses(checks)
	for name, st := range map[string]CheckStatus{
		"settings": CheckPass, "connection": CheckPass, "API destination": CheckPass, "target role": CheckPass, "event bus": CheckPass,
		"scheduler role": CheckFail, "schedule group": CheckFail, "relay rule": CheckFail,
	} {
		if got[name] != st {
			t.Errorf("%s: %s, want %s", name, got[name], st)
		}
	}
	for _, c := range checks {
		if c.Status == CheckFail && c.Fix == "" {
			t.Errorf("%s failed without saying what to do", c.Name)
		}
	}
	if c := findCheck(t, checks, "scheduler role"); !strings.Contains(c.Detail, "scheduler.amazonaws.com") || !strings.Contains(c.Fix, "schedulerRoleTrust") {
		t.Errorf("scheduler role check %+v should name Scheduler's principal and the trust document to use", c)
	}
	if c := findCheck(t, checks, "schedule group"); !strings.Contains(c.Detail, "someone-else-") {
		t.Errorf("group check %+v should say whose the group is", c)
	}

	// No group yet: the agent makes it.
	h2 := newSchedHarness(t)
	checks = Doctor(context.Background(), DoctorConfig{Settings: h2.cfg.Settings, Mode: ModeScheduler, AWS: h2.f.AWSConfig(), HTTPClient: &http.Client{Transport: failingTransport{}}})
	if c := findCheck(t, checks, "schedule group"); c.Status != CheckFail || !strings.Contains(c.Fix, "JOBBRIDGE_SCHEDULER=scheduler") {
		t.Errorf("missing group check %+v", c)
	}
}

func TestSchedulerPoliciesAreLeastPrivilege(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.SchedulerRoleARN = testSchedulerRole
	s.DLQARN = "arn:aws:sqs:eu-west-1:123456789012:jb-dlq"
	p := BuildPoliciesFor(ModeScheduler, s, "eu-west-1")

	if p.SchedulerRoleTrust == nil || p.SchedulerRolePermissions == nil {
		t.Fatalf("no scheduler role policies: %+v", p)
	}
	b, _ := json.Marshal(p.SchedulerRoleTrust)
	if !trustsService(string(b), "scheduler.amazonaws.com") || trustsService(string(b), "events.amazonaws.com") {
		t.Errorf("the scheduler role's trust policy %s: want Scheduler, and only it", b)
	}
	if got := p.SchedulerRoleTrust.Statement[0].Condition["StringEquals"]["aws:SourceAccount"]; got != "123456789012" {
		t.Errorf("the scheduler role's trust is not limited to the account: %s", b)
	}
	perms := map[string][]string{}
	for _, st := range p.SchedulerRolePermissions.Statement {
		for _, a := range st.Action {
			perms[a] = st.Resource
		}
	}
	if want := map[string][]string{
		"events:PutEvents": {"arn:aws:events:eu-west-1:123456789012:event-bus/default"},
		"sqs:SendMessage":  {s.DLQARN},
	}; string(mustJSON(perms)) != string(mustJSON(want)) {
		t.Errorf("the scheduler role may %v, want %v", perms, want)
	}

	resources := map[string][]string{}
	conditions := map[string]map[string]map[string]string{}
	for _, st := range p.Agent.Statement {
		for _, a := range st.Action {
			if _, dup := resources[a]; dup && a != "iam:PassRole" && a != "iam:GetRole" {
				t.Errorf("%s is granted twice", a)
			}
			resources[a] = append(resources[a], st.Resource...)
			if a == "iam:PassRole" {
				conditions[st.Resource[0]] = st.Condition
			}
		}
	}
	for action, want := range map[string][]string{
		"scheduler:CreateSchedule":      {"arn:aws:scheduler:eu-west-1:123456789012:schedule/jb-test/*"},
		"scheduler:UpdateSchedule":      {"arn:aws:scheduler:eu-west-1:123456789012:schedule/jb-test/*"},
		"scheduler:DeleteSchedule":      {"arn:aws:scheduler:eu-west-1:123456789012:schedule/jb-test/*"},
		"scheduler:GetSchedule":         {"arn:aws:scheduler:eu-west-1:123456789012:schedule/jb-test/*"},
		"scheduler:CreateScheduleGroup": {"arn:aws:scheduler:eu-west-1:123456789012:schedule-group/jb-test"},
		"scheduler:GetScheduleGroup":    {"arn:aws:scheduler:eu-west-1:123456789012:schedule-group/jb-test"},
		"scheduler:TagResource":         {"arn:aws:scheduler:eu-west-1:123456789012:schedule-group/jb-test"},
		"events:DescribeEventBus":       {"arn:aws:events:eu-west-1:123456789012:event-bus/default"},
		"events:PutRule":                {"arn:aws:events:eu-west-1:123456789012:rule/jb-test-*"},
		"iam:PassRole":                  {testRoleARN, testSchedulerRole},
	} {
		if got := resources[action]; !slices.Equal(got, want) {
			t.Errorf("%s on %v, want only %v", action, got, want)
		}
	}
	if got := conditions[testSchedulerRole]["StringEquals"]["iam:PassedToService"]; got != "scheduler.amazonaws.com" {
		t.Errorf("the scheduler role may be passed to %q, want only scheduler.amazonaws.com", got)
	}
	if got := conditions[testRoleARN]["StringEquals"]["iam:PassedToService"]; got != "events.amazonaws.com" {
		t.Errorf("the target role may be passed to %q, want only events.amazonaws.com", got)
	}
	for action, res := range resources {
		if slices.Contains(res, "*") && action != "events:ListRules" && action != "scheduler:ListSchedules" {
			t.Errorf("%s is allowed on every resource", action)
		}
	}
	if p.DLQ == nil || p.DLQ.Statement[0].Condition["ArnLike"]["aws:SourceArn"] != "arn:aws:events:eu-west-1:123456789012:rule/jb-test-scheduler-relay" {
		t.Errorf("the queue policy should let only the relay rule send: %+v", p.DLQ)
	}

	// On a custom bus, the relay rule is there.
	s.EventBus = "jobs"
	p = BuildPoliciesFor(ModeScheduler, s, "eu-west-1")
	found := false
	for _, st := range p.Agent.Statement {
		if slices.Contains(st.Action, "events:PutRule") && slices.Equal(st.Resource, []string{"arn:aws:events:eu-west-1:123456789012:rule/jobs/jb-test-scheduler-relay"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("no grant on the relay rule on the custom bus: %+v", p.Agent.Statement)
	}
	if got := p.SchedulerRolePermissions.Statement[0].Resource; !slices.Equal(got, []string{"arn:aws:events:eu-west-1:123456789012:event-bus/jobs"}) {
		t.Errorf("PutEvents on %v, want the custom bus", got)
	}

	// The eventbridge backend's policies have no Scheduler in them.
	rules := BuildPolicies(testSettings(), "eu-west-1")
	if rules.SchedulerRoleTrust != nil || strings.Contains(string(mustJSON(rules.Agent)), "scheduler:") {
		t.Errorf("the eventbridge backend's policies grant Scheduler: %s", mustJSON(rules))
	}
}
