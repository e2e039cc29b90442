package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/api"
)

func TestConfigNamesBadEgressAndCommandEnvSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  agent.Config
		want string
	}{
		{agent.Config{HTTPAllow: "10.0.0.1/8"}, "JOBBRIDGE_HTTP_ALLOW: "},
		{agent.Config{HTTPAllow: "http://intranet/"}, "JOBBRIDGE_HTTP_ALLOW: "},
		{agent.Config{CommandEnv: "AWS_PROFILE, 1BAD"}, `JOBBRIDGE_COMMAND_ENV: "1BAD" is not a variable name`},
		{agent.Config{CommandEnv: "JOBBRIDGE_ADMIN_TOKEN"}, "JOBBRIDGE_COMMAND_ENV: JOBBRIDGE_ADMIN_TOKEN is one of the agent's own settings"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
	ok := agent.Config{HTTPAllow: "10.0.0.0/8, intranet.example.com", CommandEnv: "AWS_PROFILE, SSL_CERT_FILE"}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate of good egress and command env settings: %v", err)
	}
}

// The agent hands the http job its policy: by default a loopback address
// is refused, when the rule is saved if it is written as an address, when
// it is dialled if it is a name, the run failing with the policy named;
// JOBBRIDGE_HTTP_ALLOW opens it.
func TestTheAgentsHTTPJobFollowsJOBBRIDGE_HTTP_ALLOW(t *testing.T) {
	t.Parallel()
	target := newListener(t)
	for _, c := range []struct {
		allow string
		want  api.RunStatus
	}{{"", api.StatusFailed}, {"127.0.0.1", api.StatusSucceeded}} {
		ta := startAgent(t, "sqlite", func(cfg *agent.Config) { cfg.HTTPAllow = c.allow })
		// By name, so that the refusal is the dialer's, not the rule's check.
		url := strings.Replace(target.URL, "127.0.0.1", "localhost", 1)
		run, err := ta.admin.TriggerRule(context.Background(), mustRule(t, ta, "ping", url), nil)
		if err != nil {
			t.Fatalf("JOBBRIDGE_HTTP_ALLOW=%q: trigger: %v", c.allow, err)
		}
		fin := ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed)
		if fin.Status != c.want {
			t.Errorf("JOBBRIDGE_HTTP_ALLOW=%q: run %s (%q), want %s", c.allow, fin.Status, fin.Error, c.want)
		}
		if c.want == api.StatusFailed && !strings.Contains(fin.Error, "JOBBRIDGE_HTTP_ALLOW") {
			t.Errorf("the refused run's error does not name the policy's setting: %q", fin.Error)
		}
	}
	ta := startAgent(t, "sqlite")
	_, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "literal", Job: "http", Schedule: "rate(1 day)", Parameters: map[string]string{"url": target.URL}})
	wantStatus(t, err, 400, "a rule calling a loopback address")
	if err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_HTTP_ALLOW") {
		t.Errorf("the refusal does not name the policy's setting: %v", err)
	}
	if n := len(target.got()); n != 1 {
		t.Errorf("the loopback server got %d requests, want 1 (only where it was allowed)", n)
	}
}

func mustRule(t *testing.T, ta *testAgent, name, url string) string {
	t.Helper()
	if _, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: name, Job: "http", Schedule: "rate(1 day)", Parameters: map[string]string{"url": url}}); err != nil {
		t.Fatal(err)
	}
	return name
}
