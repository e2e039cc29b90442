package tui_test

import (
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestNewRuleFormValidatesTheScheduleAsItIsTyped(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("orders-hourly")
	f.press("tab", "right", "right", "right", "tab") // job: demo -> echo -> http -> orders.increment
	f.typeText("cron(0 * * * ? *")
	f.waitFor(t, "✗ expression")
	f.typeText(")")
	f.waitFor(t, "✓ At minute 0 past every hour")
	requireGolden(t, f.screen(t))
}

func TestCreateRuleWithParameters(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("call-partner")
	f.press("tab", "right", "right", "tab") // job: demo -> echo -> http
	f.typeText("rate(10 minutes)")
	f.press("tab", "tab", "tab", "tab", "tab") // description, enabled, timeout, overlap -> url
	f.press("ctrl+s")
	f.waitFor(t, "Fix the fields marked ✗ first.", "required")
	f.typeText("https://partner.example/orders")
	f.press("tab", "right", "right", "tab") // method POST, then body
	f.press("tab", "tab", "tab", "tab")     // content_type, header, expect_status -> timeout
	f.press("ctrl+a", "ctrl+k")
	f.typeText("x")
	f.waitFor(t, `"x" is not a duration`)
	f.press("backspace")
	f.typeText("45s")
	f.press("tab", "tab") // log_body -> bearer_token
	f.typeText("tok-123")
	f.press("ctrl+s")
	f.waitFor(t, "rule call-partner created")
	r, ok := f.agent.Rule("call-partner")
	if !ok {
		t.Fatal("the agent has no rule call-partner")
	}
	want := map[string]string{"url": "https://partner.example/orders", "method": "POST", "bearer_token": "tok-123", "timeout": "45s"}
	for k, v := range want {
		if r.Parameters[k] != v {
			t.Errorf("parameter %s = %q, want %q (all: %v)", k, r.Parameters[k], v, r.Parameters)
		}
	}
	if r.Job != "http" || r.Schedule != "rate(10 minutes)" || !r.Enabled {
		t.Errorf("rule saved as %+v", r)
	}
}

func TestEditKeepsASecretLeftUntouched(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "(unchanged; type to replace)")
	f.press("tab", "tab") // job -> schedule -> description
	f.typeText("pings the partner")
	f.press("ctrl+s")
	f.waitFor(t, "rule ping-partner saved")
	r, _ := f.agent.Rule("ping-partner")
	if r.Parameters["bearer_token"] != "s3cr3t" {
		t.Errorf("the secret became %q, want it kept", r.Parameters["bearer_token"])
	}
	if r.Description != "pings the partner" {
		t.Errorf("description = %q", r.Description)
	}
}

func TestServerErrorsShowAtTheirFields(t *testing.T) {
	// Wide enough for the agent's whole answer.
	f := setup(t, adminToken, 160, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "*Name")
	f.typeText("nightly-report") // taken
	f.press("tab", "tab")
	f.typeText("rate(1 hour)")
	f.press("ctrl+s")
	f.waitFor(t, `agent answered 409: a rule named "nightly-report" already exists`)
}

func TestRunNowWithEditedParameters(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("R")
	f.waitFor(t, "Run nightly-report now", "duration")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("2m")
	f.press("tab", "right", "right") // fail: (default) -> true -> false ... pick true
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING", "duration=2m")
	run := f.agent.Runs()[0]
	if run.Parameters["duration"] != "2m" || run.Trigger != api.TriggerManual {
		t.Errorf("the run got %v (%s)", run.Parameters, run.Trigger)
	}
}

func TestRestartWithEditedParametersKeepsSecretsMasked(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "run "+run2, seedRuns)
	f.waitFor(t, "Run "+run2, "operator")
	f.press("R")
	f.waitFor(t, "Restart run bbbb2222", "(unchanged; type to replace)")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "s3cr3t") {
		t.Errorf("a secret shows:\n%s", screen)
	}
}
