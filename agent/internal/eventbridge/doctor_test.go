package eventbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
)

const eventBridgeTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func checkStatuses(checks []Check) map[string]CheckStatus {
	m := make(map[string]CheckStatus)
	for _, c := range checks {
		m[c.Name] = c.Status
	}
	return m
}

func findCheck(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, checks)
	return Check{}
}

func TestDoctorPassesAHealthySetup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	agentSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(agentSrv.Close)
	s := h.cfg.Settings
	s.TargetURL = agentSrv.URL
	h.restart(t, func(c *Config) { c.TargetURL = agentSrv.URL })
	if _, err := h.b.setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.f.SetRole("jobbridge-target", eventBridgeTrust)
	h.f.Reset()

	checks := Doctor(context.Background(), DoctorConfig{Settings: s, AWS: h.f.AWSConfig(), HTTPClient: agentSrv.Client()})
	for _, c := range checks {
		if c.Status != CheckPass {
			t.Errorf("%s: %s: %s (fix: %s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	if got := len(checks); got != 8 {
		t.Errorf("%d checks, want 8: %+v", got, checks)
	}
	if w := h.f.Writes(); len(w) != 0 {
		t.Errorf("the doctor wrote %v; it must only read", w)
	}
	if ops := h.f.Ops(); !slices.Equal(ops, []string{"GetCallerIdentity", "DescribeConnection", "DescribeApiDestination", "GetRole"}) {
		t.Errorf("the doctor called %v", ops)
	}
	if got := findCheck(t, checks, "AWS credentials").Detail; !strings.Contains(got, "account 123456789012") {
		t.Errorf("credentials detail %q does not name the account", got)
	}
}

func TestDoctorSaysWhatIsWrongAndWhatToDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.b.setup(ctx); err != nil {
		t.Fatal(err)
	}
	// The public URL moved and is plain HTTP, the agent has not been
	// restarted, and the role trusts only Lambda.
	s := h.cfg.Settings
	s.TargetURL = "http://127.0.0.1:1"
	h.f.SetRole("jobbridge-target", strings.ReplaceAll(eventBridgeTrust, "events.amazonaws.com", "lambda.amazonaws.com"))

	checks := Doctor(ctx, DoctorConfig{Settings: s, AWS: h.f.AWSConfig()})
	want := map[string]CheckStatus{
		"settings":            CheckPass,
		"public URL is HTTPS": CheckFail,
		"public URL answers":  CheckFail,
		"AWS region":          CheckPass,
		"AWS credentials":     CheckPass,
		"connection":          CheckPass,
		"API destination":     CheckFail,
		"target role":         CheckFail,
	}
	got := checkStatuses(checks)
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: %s, want %s", name, got[name], st)
		}
	}
	for _, c := range checks {
		if c.Status == CheckFail && c.Fix == "" {
			t.Errorf("%s failed without saying what to do", c.Name)
		}
	}
	dest := findCheck(t, checks, "API destination")
	if !strings.Contains(dest.Detail, "https://jobs.example.com/webhook/run") || !strings.Contains(dest.Detail, "want http://127.0.0.1:1/webhook/run") {
		t.Errorf("destination detail %q should show what it calls and what is wanted", dest.Detail)
	}
	if !strings.Contains(findCheck(t, checks, "target role").Fix, "agent aws policy") {
		t.Error("the target role fix should point at `agent aws policy`")
	}
}

func TestDoctorSkipsAWSChecksWithoutCredentials(t *testing.T) {
	t.Parallel()
	f := ebtest.NewFake(t)
	f.FailNext("GetCallerIdentity", ebtest.Failure{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."})
	checks := Doctor(context.Background(), DoctorConfig{Settings: testSettings(), AWS: f.AWSConfig(), HTTPClient: &http.Client{Transport: failingTransport{}}})
	got := checkStatuses(checks)
	if got["AWS credentials"] != CheckFail || got["connection"] != CheckSkip || got["API destination"] != CheckSkip || got["target role"] != CheckSkip {
		t.Errorf("statuses %v: want credentials failed and the AWS checks after it skipped", got)
	}
	if c := findCheck(t, checks, "AWS credentials"); !strings.Contains(c.Detail, "InvalidClientTokenId") {
		t.Errorf("credentials detail %q should carry AWS's answer", c.Detail)
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrHandlerTimeout
}

func TestPoliciesAreLeastPrivilege(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.DLQARN = "arn:aws:sqs:eu-west-1:123456789012:jb-dlq"
	p := BuildPolicies(s, "eu-west-1")

	b, _ := json.Marshal(p.TargetRoleTrust)
	if !trustsEventBridge(string(b)) {
		t.Errorf("the trust policy does not let EventBridge assume the role: %s", b)
	}
	// IAM authorizes a create on kind/NAME and later calls on the ARN AWS
	// made, kind/NAME/ID: both must be allowed.
	connection := []string{
		"arn:aws:events:eu-west-1:123456789012:connection/jb-test-connection",
		"arn:aws:events:eu-west-1:123456789012:connection/jb-test-connection/*",
	}
	destination := []string{
		"arn:aws:events:eu-west-1:123456789012:api-destination/jb-test-destination",
		"arn:aws:events:eu-west-1:123456789012:api-destination/jb-test-destination/*",
	}
	if got := p.TargetRolePermissions.Statement[0]; !slices.Equal(got.Action, []string{"events:InvokeApiDestination"}) ||
		!slices.Equal(got.Resource, destination) {
		t.Errorf("target role permission %+v, want %s on %v", got, "events:InvokeApiDestination", destination)
	}
	resources := map[string][]string{}
	for _, st := range p.Agent.Statement {
		for _, a := range st.Action {
			resources[a] = st.Resource
		}
	}
	for action, want := range map[string]string{
		"events:PutRule":    "arn:aws:events:eu-west-1:123456789012:rule/jb-test-*",
		"events:DeleteRule": "arn:aws:events:eu-west-1:123456789012:rule/jb-test-*",
		"events:PutTargets": "arn:aws:events:eu-west-1:123456789012:rule/jb-test-*",
		"iam:PassRole":      testRoleARN,
	} {
		if got := resources[action]; !slices.Equal(got, []string{want}) {
			t.Errorf("%s on %v, want only %s", action, got, want)
		}
	}
	for _, action := range []string{"events:CreateConnection", "events:DescribeConnection", "events:UpdateConnection"} {
		if got := resources[action]; !slices.Equal(got, connection) {
			t.Errorf("%s on %v, want %v", action, got, connection)
		}
	}
	for _, action := range []string{"events:CreateApiDestination", "events:DescribeApiDestination", "events:UpdateApiDestination"} {
		if got := resources[action]; !slices.Equal(got, destination) {
			t.Errorf("%s on %v, want %v", action, got, destination)
		}
	}
	for action, res := range resources {
		if slices.Contains(res, "*") && action != "events:ListRules" {
			t.Errorf("%s is allowed on every resource", action)
		}
	}
	if p.DLQ == nil || p.DLQ.Statement[0].Resource[0] != s.DLQARN {
		t.Errorf("no queue policy for the dead-letter queue: %+v", p.DLQ)
	}
}
