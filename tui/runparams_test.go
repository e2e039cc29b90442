package tui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// flakyRule is a rule of the demo job that fails: its fail=true is the
// rule's, the job's default being false.
func flakyRule(a *agenttest.Agent) {
	a.AddRules(api.RuleInput{Name: "flaky", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"fail": "true", "duration": "10ms"}})
}

// effective is what the job sees of a run's parameter: the run's value,
// or the job's default.
func effective(t *testing.T, f *fixture, run api.Run, name string) string {
	t.Helper()
	job, err := f.agent.Client(adminToken).Job(context.Background(), run.Job)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range job.Parameters {
		if p.Name == name {
			v, err := p.Value(run.Parameters[name])
			if err != nil {
				t.Fatalf("run %s's %s: %v", run.ID, name, err)
			}
			return v
		}
	}
	t.Fatalf("job %s has no parameter %s", run.Job, name)
	return ""
}

// "Run now with parameters" shows the values the run will use, each with
// where it comes from, and the run gets what the form showed.
func TestRunNowWithParametersStartsFromTheRulesValues(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", flakyRule)
	f.waitFor(t, "live", "flaky")
	f.press("R")
	f.waitFor(t, "Run flaky now", "fail             true", "rule · bool", "From the rule (job default 10s): kept unless")
	screen := f.screen(t)
	requireGolden(t, screen)
	contains(t, screen, "duration       10ms                              rule · duration",
		"steps          10                                job default · int",
		"panic            false                           job default · bool")
	if strings.Contains(screen, "(default false)") {
		t.Errorf("the form offers the job's default where the rule sets the value:\n%s", screen)
	}

	// Saved untouched: the run is the rule's, fail=true as shown.
	f = setup(t, operatorToken, 80, 24, "rules", flakyRule)
	f.waitFor(t, "live", "flaky")
	f.press("R")
	f.waitFor(t, "Run flaky now", "fail             true")
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING", "fail=true")
	run := f.agent.WaitFinished(f.agent.Runs()[0].ID)
	for name, shown := range map[string]string{"duration": "10ms", "steps": "10", "fail": "true", "panic": "false", "ignore_cancel": "false"} {
		if got := effective(t, f, run, name); got != shown {
			t.Errorf("the run got %s=%s; the form showed %s", name, got, shown)
		}
	}
	if run.Status != api.StatusFailed {
		t.Errorf("the run %s; with the rule's fail=true it fails", run.Status)
	}

	// Changed: the field says override, and the run gets it.
	f = setup(t, operatorToken, 80, 24, "rules", flakyRule)
	f.waitFor(t, "live", "flaky")
	f.press("R")
	f.waitFor(t, "Run flaky now", "fail             true")
	f.press("down", "down", "right")
	f.waitFor(t, "◀ false ▶", "override · bool", "Changed: sent as an override for this run only.")
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING", "fail=false")
	run = f.agent.WaitFinished(f.agent.Runs()[0].ID)
	if got := effective(t, f, run, "fail"); got != "false" || run.Status != api.StatusSucceeded {
		t.Errorf("the run got fail=%s and %s; want the override false, succeeded", got, run.Status)
	}
	if run.Parameters["duration"] != "10ms" {
		t.Errorf("the run got duration=%q; want the rule's 10ms", run.Parameters["duration"])
	}
}

// A rule's boolean written another way the agent reads (1) shows as what
// the run gets, not as the job's default; the old form showed "(default
// false)" and the run got fail=true.
func TestRunNowShowsABooleanAsTheAgentReadsIt(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", func(a *agenttest.Agent) {
		a.AddRules(api.RuleInput{Name: "flaky", Job: "demo", Schedule: "rate(1 day)",
			Parameters: map[string]string{"fail": "1", "duration": "10ms"}})
	})
	f.waitFor(t, "live", "flaky")
	f.press("R")
	f.waitFor(t, "Run flaky now", "fail             true                            rule · bool")
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING")
	run := f.agent.WaitFinished(f.agent.Runs()[0].ID)
	if got := effective(t, f, run, "fail"); run.Status != api.StatusFailed || (got != "1" && got != "true") {
		t.Errorf("the run got fail=%s and %s; the form showed true", got, run.Status)
	}
}

// "Restart with parameters" starts from the restarted run's values.
func TestRestartWithParametersStartsFromTheRunsValues(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", flakyRule)
	f.waitFor(t, "live", "flaky")
	first, err := f.agent.Client(operatorToken).TriggerRuleWith(context.Background(), "flaky",
		api.RunParams{Parameters: map[string]string{"steps": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	first = f.agent.WaitFinished(first.ID)
	f.press(":")
	f.typeText("run " + first.ID)
	f.press("enter")
	f.waitFor(t, "Run "+first.ID)
	f.press("R")
	f.waitFor(t, "Restart run "+first.ID[len(first.ID)-8:], "steps          2                                 run · int",
		"fail             true                            run · bool")
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING")
	var restarted api.Run
	for _, r := range f.agent.Runs() {
		if r.RestartOf == first.ID {
			restarted = f.agent.WaitFinished(r.ID)
		}
	}
	if restarted.ID == "" {
		t.Fatalf("no restart of %s among %v", first.ID, f.agent.Runs())
	}
	if effective(t, f, restarted, "steps") != "2" || effective(t, f, restarted, "fail") != "true" {
		t.Errorf("the restart got %v; the form showed steps=2 fail=true", restarted.Parameters)
	}
}
