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

// seedHealth gives the agent rules with histories: backup fails twice in
// its last 20 runs, flaky fails every other run, etl never ran.
func seedHealth(a *agenttest.Agent) {
	a.AddRules(
		api.RuleInput{Name: "backup", Job: "demo", Schedule: "cron(0 1 * * ? *)"},
		api.RuleInput{Name: "etl", Job: "demo", Schedule: "cron(30 * * * ? *)"},
		api.RuleInput{Name: "flaky", Job: "demo", Schedule: "cron(0/15 * * * ? *)"},
	)
	n := 10
	run := func(rule string, status api.RunStatus, ago, took time.Duration) api.Run {
		n++
		start := clock.Add(-ago)
		return api.Run{ID: runID(n, fmt.Sprintf("%08x", n)), Rule: rule, Job: "demo", Status: status, Trigger: api.TriggerSchedule,
			CreatedAt: start, StartedAt: ptr(start), FinishedAt: ptr(start.Add(took))}
	}
	var runs []api.Run
	for i := range 25 {
		st := api.StatusSucceeded
		if i == 9 || i == 17 {
			st = api.StatusFailed
		}
		runs = append(runs, run("backup", st, time.Duration(25-i)*24*time.Hour+3*time.Hour, time.Duration(40+i)*time.Second))
	}
	for i := range 8 {
		st := []api.RunStatus{api.StatusFailed, api.StatusSucceeded}[i%2]
		if i == 5 {
			st = api.StatusInterrupted
		}
		runs = append(runs, run("flaky", st, time.Duration(8-i)*15*time.Minute, time.Duration(i+1)*time.Second))
	}
	a.AddRuns(runs...)
}

// At 80 columns the list has no health columns: the selected rule's
// health is in words under the list.
func TestRulesHealthAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedHealth)
	f.waitFor(t, "live", "admin", "backup", "flaky", "Health: ")
	screen := f.screen(t)
	requireGolden(t, screen)
	contains(t, screen, "Health: ▁▁▁▁█▁▁▁▁▁▁▁█▁▁▁▁▁▁▁ 90% of 20 ok · median 54.5s · last ok 26h ago")
}

// At 160 columns every health column shows whole: last success, the
// success rate, the median and the sparkline of the last 20 runs.
func TestRulesHealthWide(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "rules", seedHealth)
	f.waitFor(t, "live", "admin", "backup", "LAST OK", "MEDIAN", "RECENT", "14m ago")
	screen := f.screen(t)
	requireGolden(t, screen)
	contains(t, screen, "26h ago", "90%", "54.5s", "▁▁▁▁█▁▁▁▁▁▁▁█▁▁▁▁▁▁▁", "38%", "4.5s", "█▁█▁█▄█▁", "never")
}

// A run that ends moves its rule's health without a refetch of the list:
// the console asks the agent for that rule alone.
func TestRulesHealthFollowsRunFinishes(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "rules", seedHealth)
	f.waitFor(t, "live", "backup", "RECENT", "90%")
	id := runID(99, "eeee5555")
	start := clock.Add(-time.Minute)
	f.agent.StartRun(api.Run{ID: id, Rule: "backup", Job: "demo", Status: api.StatusRunning, Trigger: api.TriggerManual,
		CreatedAt: start, StartedAt: ptr(start)})
	f.agent.Finish(id, api.StatusFailed, "disk full")
	// The oldest of the 20 (a success) goes out, a failure comes in.
	f.waitFor(t, "85%", "▁▁▁█▁▁▁▁▁▁▁█▁▁▁▁▁▁▁█")
}

// After an edit the rule keeps its last run: the edit's rule.changed
// event, which replaces the row, carries it. It used to show "never"
// until the next fetch of the list.
func TestEditedRuleKeepsItsLastRun(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "running", "At 02:00 UTC")
	in := api.RuleInput{Name: "nightly-report", Job: "demo", Schedule: "cron(0 3 * * ? *)", Parameters: map[string]string{"duration": "30s"}}
	if _, err := f.agent.Client(adminToken).ReplaceRule(context.Background(), "nightly-report", in); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "At 03:00 UTC")
	screen := f.screen(t)
	if !strings.Contains(screen, "At 03:00 UTC") {
		t.Fatalf("the edit did not reach the list:\n%s", screen)
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.HasPrefix(line, "> nightly-report ") && !strings.Contains(line, "running") {
			t.Errorf("the edited rule's row lost its last run: %q", line)
		}
	}
	if strings.Contains(screen, "Never run") {
		t.Errorf("the edited rule shows never run:\n%s", screen)
	}
}
