package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

func TestRulesViewAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "ping-partner", "At 02:00 UTC", "store sqlite")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "s3cr3t") {
		t.Errorf("a secret parameter shows:\n%s", screen)
	}
}

func TestRulesViewWide(t *testing.T) {
	f := setup(t, adminToken, 140, 20, "rules", seedRuns)
	f.waitFor(t, "live", "admin", "nightly-report", "IN WORDS")
	requireGolden(t, f.screen(t))
}

func TestMinusDisablesAndPlusEnables(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("-")
	// The agent answers, then its event updates the row.
	f.waitFor(t, "rule nightly-report disabled", "At 02:00 UTC · disabled")
	if r, _ := f.agent.Rule("nightly-report"); r.Enabled {
		t.Fatal("- did not disable the rule")
	}
	f.press("+")
	f.waitFor(t, "rule nightly-report enabled")
	if r, _ := f.agent.Rule("nightly-report"); !r.Enabled {
		t.Fatal("+ did not enable the rule again")
	}
}

func TestDeleteAsksFirst(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("down", "ctrl+d")
	f.waitFor(t, "Delete rule ping-partner? Its runs stay in the history. (y/N)")
	f.press("y")
	f.waitFor(t, "rule ping-partner deleted", "Rules 1")
	if _, ok := f.agent.Rule("ping-partner"); ok {
		t.Fatal("the rule is still there")
	}
	screen := f.screen(t)
	if strings.Contains(screen, "ping-partner   ") {
		t.Errorf("the deleted rule is still listed:\n%s", screen)
	}
}

func TestRunNowOpensTheNewRun(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("r")
	f.goingAnyway(t, "nightly-report") // its seeded run dddd4444 is running
	// The demo job runs for real: its first log line and its progress show
	// (a screen line drawn once is only seen by the wait that reads it,
	// so one wait looks for all).
	f.waitFor(t, "RUNNING", "Trigger manual by "+agenttest.OperatorName, "demo: starting", "step 1/10")
	runs := f.agent.Runs()
	if runs[0].Rule != "nightly-report" || runs[0].Trigger != api.TriggerManual {
		t.Fatalf("newest run is %+v, want a manual run of nightly-report", runs[0])
	}
}

func TestEnterShowsTheRulesRuns(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "viewer")
	f.press("down", "enter")
	f.waitFor(t, "rule:ping-partner")
	screen := f.screen(t)
	if strings.Contains(screen, "nightly-report demo") {
		t.Errorf("the runs of ping-partner include nightly-report's:\n%s", screen)
	}
	if strings.Contains(screen, " r run now") || strings.Contains(screen, "n new") {
		t.Errorf("a viewer is offered actions:\n%s", screen)
	}
}

func TestEventBridgeSyncShowsInTheHeaderAndTheRule(t *testing.T) {
	f := setupWith(t, agenttest.Options{EventBridge: true}, adminToken, 100, 24, "rules", func(a *agenttest.Agent) {
		seedRuns(a)
		waitSync(t, a, "synced", "nightly-report", "ping-partner")
		a.FailEventBridge("PutRule", "AccessDeniedException", "not authorized to perform events:PutRule")
		a.AddRules(api.RuleInput{Name: "billing", Job: "demo", Schedule: "cron(0 6 ? * MON *)"})
		waitSync(t, a, "error", "billing")
	})
	f.waitFor(t, "live", "admin", "billing", "2 synced 1 error", "sync error: AccessDeniedException")
	requireGolden(t, f.screen(t))
}

// waitSync waits until each of the rules is in the sync state.
func waitSync(t *testing.T, a *agenttest.Agent, state string, rules ...string) {
	t.Helper()
	c := a.Client(agenttest.AdminToken)
	for _, name := range rules {
		var r api.Rule
		for deadline := time.Now().Add(10 * time.Second); r.Sync.State != state; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("rule %s is %+v after 10s, want sync state %s", name, r.Sync, state)
			}
			var err error
			if r, err = c.Rule(context.Background(), name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// seedZones gives the agent rules in zones, with dates and windows, and
// rules that are done.
func seedZones(a *agenttest.Agent) {
	end := clock.Add(-24 * time.Hour)
	start := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	a.AddRules(
		api.RuleInput{Name: "billing-utc", Job: "demo", Schedule: "cron(0 6 ? * MON *)"},
		api.RuleInput{Name: "ny-open", Job: "demo", Schedule: "cron(30 9 ? * MON-FRI *)", Timezone: "America/New_York", FlexibleWindow: "10m"},
		api.RuleInput{Name: "sydney-sync", Job: "demo", Schedule: "rate(1 day)", Timezone: "Australia/Sydney", StartDate: &start},
		api.RuleInput{Name: "launch-once", Job: "demo", Schedule: "at(2025-03-01T09:00:00)", Timezone: "Europe/Paris"},
		api.RuleInput{Name: "old-campaign", Job: "demo", Schedule: "cron(0 8 * * ? *)", EndDate: &end},
	)
}

func TestRulesListShowsZonesAndDoneRules(t *testing.T) {
	f := setup(t, adminToken, 100, 20, "rules", seedZones)
	f.waitFor(t, "live", "admin", "ZONE", "launch-once", "sydney-sync")
	f.press("down", "down") // billing-utc, launch-once, ny-open
	f.waitFor(t, "At 09:30 America/New_York, Monday through Friday · next", "starts within 10m of each fire")
	screen := f.screen(t)
	requireGolden(t, screen)
	for _, row := range []struct{ name, want string }{
		{"billing-utc", "UTC"}, {"ny-open", "America/New_York"}, {"sydney-sync", "Australia/Sydney"},
		{"launch-once", "done"}, {"old-campaign", "done"},
	} {
		if !rowShows(screen, row.name, row.want) {
			t.Errorf("the row of %s does not show %q:\n%s", row.name, row.want, screen)
		}
	}
}

func TestRulesListDetailOfADoneRuleSaysSo(t *testing.T) {
	f := setup(t, adminToken, 100, 20, "rules", seedZones)
	f.waitFor(t, "live", "launch-once")
	f.press("down") // billing-utc, launch-once
	f.waitFor(t, "Once, on 2025-03-01 at 09:00 Europe/Paris · done: never fires again")
	f.press("down", "down") // ny-open, old-campaign
	f.waitFor(t, "At 08:00 UTC · done: never fires again · until 2025-03-13 12:00")
	f.press("down") // sydney-sync
	f.waitFor(t, "Every day (Australia/Sydney) · next Tue Apr 01 01:00 CET (in 17d) · from 2025-04-01 11:00")
}

func TestRulesListHasNoZoneColumnWhileEveryRuleIsInUTC(t *testing.T) {
	f := setup(t, adminToken, 100, 20, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	if screen := f.screen(t); strings.Contains(screen, "ZONE") {
		t.Errorf("a ZONE column with only UTC rules:\n%s", screen)
	}
}

// rowShows reports whether the list row of rule shows text.
func rowShows(screen, rule, text string) bool {
	for line := range strings.SplitSeq(screen, "\n") {
		if strings.Contains(line, " "+rule+" ") && strings.Contains(line, text) {
			return true
		}
	}
	return false
}
