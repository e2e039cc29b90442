package tui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

var chainedRun = runID(8, "eeee8888") // report, started by export's chain

// seedChains seeds rules whose runs chain to others: export starts
// report (with export's duration) and notify when it succeeds, alert
// when it fails; and a run of report its chain started.
func seedChains(a *agenttest.Agent) {
	quick := map[string]string{"duration": "1s"}
	a.AddRules(
		api.RuleInput{Name: "report", Job: "demo", Schedule: "cron(0 3 * * ? *)", Parameters: quick},
		api.RuleInput{Name: "notify", Job: "demo", Schedule: "cron(0 4 * * ? *)", Parameters: quick},
		api.RuleInput{Name: "alert", Job: "demo", Schedule: "cron(0 5 * * ? *)", Parameters: quick},
		api.RuleInput{Name: "export", Job: "demo", Schedule: "cron(0 2 * * ? *)", Parameters: quick, Chains: api.Chains{
			OnSuccess: []api.ChainStep{{Rule: "report", Parameters: map[string]string{"duration": "${param.duration}"}}, {Rule: "notify"}},
			OnFailure: []api.ChainStep{{Rule: "alert", Parameters: map[string]string{"fail": "false", "steps": "2"}}},
		}},
	)
	at := clock.Add(-10 * time.Minute)
	a.AddRuns(api.Run{ID: chainedRun, Rule: "report", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerChain,
		TriggeredBy: "chain:export", CreatedAt: at, StartedAt: ptr(at), FinishedAt: ptr(at.Add(time.Second)),
		Parameters: map[string]string{"duration": "1s"}})
}

func TestRulesShowTheirChainsAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedChains)
	f.waitFor(t, "live", "admin", "alert", "export")
	f.press("down") // alert -> export
	f.waitFor(t, "→ on success: report, notify · on failure: alert")
	requireGolden(t, f.screen(t))
}

func TestRulesShowTheirChainsWide(t *testing.T) {
	f := setup(t, adminToken, 140, 20, "rules", seedChains)
	f.waitFor(t, "live", "admin", "alert", "IN WORDS")
	f.press("down")
	f.waitFor(t, "→ on success: report, notify · on failure: alert")
	requireGolden(t, f.screen(t))
}

func TestRunsShowTheChainTriggerWide(t *testing.T) {
	f := setup(t, adminToken, 140, 20, "", seedChains)
	f.waitFor(t, "live", "admin", "eeee8888", "report", "chain", "[all 1]")
	requireGolden(t, f.screen(t))
}

// The rule form shows the chains as GET gives them, sends them back as
// they are, and shows the agent's refusal of a step at its field.
func TestRuleFormEditsTheChainsAndShowsTheAgentsRefusal(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedChains)
	f.waitFor(t, "live", "alert", "export")
	f.press("down", "e")
	f.waitFor(t, "Edit rule export", "*Schedule")
	for range 40 {
		f.press("tab")
	}
	f.waitFor(t, "> On finish")
	f.typeText("export")
	f.press("ctrl+s")
	f.waitFor(t, "The agent refused: see the fields marked ✗.", "step 1: the chain loops: export")
	requireGolden(t, f.screen(t))
}

func TestRuleFormSavesTheChains(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedChains)
	f.waitFor(t, "live", "alert", "export")
	f.press("down", "e")
	f.waitFor(t, "Edit rule export", "*Schedule")
	for range 40 {
		f.press("tab")
	}
	f.waitFor(t, "> On finish")
	f.typeText(`notify steps=3; report duration="2s"`)
	f.press("ctrl+s")
	f.waitFor(t, "rule export saved")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "export")
	if err != nil {
		t.Fatal(err)
	}
	want := api.Chains{
		OnSuccess: []api.ChainStep{{Rule: "report", Parameters: map[string]string{"duration": "${param.duration}"}}, {Rule: "notify"}},
		OnFailure: []api.ChainStep{{Rule: "alert", Parameters: map[string]string{"fail": "false", "steps": "2"}}},
		OnFinish:  []api.ChainStep{{Rule: "notify", Parameters: map[string]string{"steps": "3"}}, {Rule: "report", Parameters: map[string]string{"duration": "2s"}}},
	}
	if fmt.Sprint(r.Chains) != fmt.Sprint(want) {
		t.Errorf("the rule's chains after the edit: %+v, want %+v", r.Chains, want)
	}
}

func TestRuleFormChecksAChainAsItIsTyped(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedChains)
	f.waitFor(t, "live", "alert", "export")
	f.press("down", "e")
	f.waitFor(t, "Edit rule export", "*Schedule")
	for range 40 {
		f.press("tab")
	}
	f.waitFor(t, "> On finish")
	f.typeText("report day")
	f.waitFor(t, `step 1: "day" is not key=value`)
}

// A rule whose chain and parameter are longer than a field takes as typed
// is saved unchanged when something else is edited: the form cut neither.
func TestRuleFormKeepsALongChainAndParameterWhole(t *testing.T) {
	var steps []api.ChainStep
	for i := range 20 {
		steps = append(steps, api.ChainStep{Rule: "report", Parameters: map[string]string{"duration": fmt.Sprintf("%ds", 10+i), "steps": "3"}})
	}
	long := strings.Repeat("0123456789", 60) // 600 characters
	f := setup(t, adminToken, 80, 24, "rules", func(a *agenttest.Agent) {
		a.AddRules(
			api.RuleInput{Name: "report", Job: "demo", Schedule: "cron(0 3 * * ? *)"},
			api.RuleInput{Name: "export", Job: "http", Schedule: "cron(0 2 * * ? *)",
				Parameters: map[string]string{"url": "https://example.com/" + long}, Chains: api.Chains{OnSuccess: steps}},
		)
	})
	f.waitFor(t, "live", "export", "report")
	f.press("e")
	f.waitFor(t, "Edit rule export", "*Schedule")
	f.press("tab")
	f.typeText(" ") // a description: something else changes
	f.press("ctrl+s")
	f.waitFor(t, "rule export saved")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "export")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.OnSuccess) != fmt.Sprint(steps) {
		t.Errorf("the chain after the save: %d steps %v, want %d", len(r.OnSuccess), r.OnSuccess, len(steps))
	}
	if got := r.Parameters["url"]; got != "https://example.com/"+long {
		t.Errorf("the url after the save is %d characters, want %d", len(got), len("https://example.com/"+long))
	}
}
