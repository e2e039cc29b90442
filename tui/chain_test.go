package tui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A chain: nightly-backup's run recorded an output and its chains started
// a report and a cleanup.
var (
	chainParent  = runID(1, "a0a0a0a0") // nightly-backup, succeeded, with output
	chainReport  = runID(2, "b1b1b1b1") // report, chained, succeeded
	chainCleanup = runID(3, "c2c2c2c2") // cleanup, chained, running
	longOutput   = runID(4, "d3d3d3d3") // nightly-backup, an output of many lines
)

// chainOutput is the parent's output as the agent keeps it: compact, keys
// in its order. A job wrote an escape and a C1 control into it, which the
// console must show, not send.
const chainOutput = `{"files":["db.sql.gz","media.tar.gz"],"note":"\u001b]0;pwned\u0007 done` + "\u009b" + `2J","rows":1200,"target":{"bucket":"s3://backups","prefix":"2025/03/14/"}}`

func seedChain(a *agenttest.Agent) {
	a.AddRules(
		api.RuleInput{Name: "nightly-backup", Job: "demo", Schedule: "cron(0 2 * * ? *)", Parameters: map[string]string{"duration": "30s"}},
		api.RuleInput{Name: "report", Job: "demo", Schedule: "cron(0 3 * * ? *)"},
		api.RuleInput{Name: "cleanup", Job: "demo", Schedule: "cron(0 4 * * ? *)"},
	)
	at := func(min int) time.Time { return clock.Add(-time.Duration(min) * time.Minute) }
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 40 {
		fmt.Fprintf(&many, `"key%02d":%d,`, i, i)
	}
	many.WriteString(`"last":"the end"}`)
	a.AddRuns(
		api.Run{ID: chainParent, Rule: "nightly-backup", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerSchedule,
			CreatedAt: at(30), StartedAt: ptr(at(30)), FinishedAt: ptr(at(29)), Progress: api.Progress{Percent: 100},
			Parameters: map[string]string{"duration": "30s"}, Output: json.RawMessage(chainOutput)},
		api.Run{ID: chainReport, Rule: "report", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerChain,
			CreatedAt: at(29), StartedAt: ptr(at(29)), FinishedAt: ptr(at(28)), ParentRun: chainParent,
			Output: json.RawMessage(`{"pages":3}`)},
		api.Run{ID: chainCleanup, Rule: "cleanup", Job: "demo", Status: api.StatusRunning, Trigger: api.TriggerChain,
			CreatedAt: at(28), StartedAt: ptr(at(28)), ParentRun: chainParent},
		api.Run{ID: longOutput, Rule: "nightly-backup", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerManual,
			CreatedAt: at(10), StartedAt: ptr(at(10)), FinishedAt: ptr(at(9)), Output: json.RawMessage(many.String())},
	)
}

// noRawEscapes fails if the screen holds what the terminal would obey.
func noRawEscapes(t *testing.T, screen string) {
	t.Helper()
	if strings.ContainsAny(screen, "\x1b\x07\u009b") {
		t.Errorf("the job's output reached the terminal raw:\n%q", screen)
	}
}

func TestRunDetailShowsTheOutputAndTheChainedRunsAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+chainParent, seedChain)
	f.waitFor(t, "live", "Chained 1 report b1b1b1b1 succeeded · 2 cleanup c2c2c2c2 running", "o output/log", "scheduler local · admin")
	f.press("o")
	f.waitFor(t, "── Output (all; o for the log)", `"bucket": "s3://backups",`)
	screen := f.screen(t)
	noRawEscapes(t, screen)
	contains(t, screen, `\u001b]0;pwned\u0007 done\u009b2J`)
	requireGolden(t, screen)
}

func TestRunDetailShowsWhatStartedAChainedRunWide(t *testing.T) {
	f := setup(t, adminToken, 140, 24, "run "+chainReport, seedChain)
	f.waitFor(t, "live", "Trigger chain of a0a0a0a0", "Started by run a0a0a0a0 (rule nightly-backup, succeeded)", "p parent run",
		"Log (o for the output)", "scheduler local · admin")
	requireGolden(t, f.screen(t))
}

func TestRunDetailScrollsALongOutput(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+longOutput, seedChain)
	f.waitFor(t, "o for the output")
	f.press("o")
	f.waitFor(t, "Output (lines 1-", `"key00": 0,`)
	f.press("G")
	f.waitFor(t, `"last": "the end"`, "of 43; o for the log")
	f.press("g")
	f.waitFor(t, "Output (lines 1-")
	f.press("o")
	f.waitFor(t, "Log (o for the output)")
}

func TestRunDetailMovesAlongTheChain(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+chainParent, seedChain)
	f.waitFor(t, "Chained 1 report b1b1b1b1 succeeded · 2 cleanup c2c2c2c2 running")
	f.press("2")
	f.waitFor(t, "Run "+chainCleanup, "Started by run a0a0a0a0 (rule nightly-backup, succeeded)")
	f.press("p")
	f.waitFor(t, "Run "+chainParent, "Chained 1 report")
	f.press("1")
	f.waitFor(t, "Run "+chainReport, "Trigger chain of a0a0a0a0")
	f.press("esc", "esc")
	f.waitFor(t, "Run "+chainCleanup)
}

func TestRunDetailFollowsTheChainAndTheOutputLive(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+chainParent, seedChain)
	f.waitFor(t, "2 cleanup c2c2c2c2 running")
	// The running chained run ends, and another starts.
	f.agent.Finish(chainCleanup, api.StatusSucceeded, "")
	f.waitFor(t, "2 cleanup c2c2c2c2 succeeded")
	f.agent.PublishRun(api.EventRunStarted, api.Run{ID: runID(5, "e4e4e4e4"), Rule: "report", Job: "demo", Status: api.StatusRunning,
		Trigger: api.TriggerChain, ParentRun: chainParent, CreatedAt: clock}, nil)
	f.waitFor(t, "3 report", "running")

	// A run's output arrives with its run.finished event.
	f = setup(t, adminToken, 80, 24, "run "+chainCleanup, seedChain)
	f.waitFor(t, "RUNNING", "Started by run a0a0a0a0")
	f.agent.PublishRun(api.EventRunFinished, api.Run{ID: chainCleanup, Rule: "cleanup", Job: "demo", Status: api.StatusSucceeded,
		Trigger: api.TriggerChain, ParentRun: chainParent, CreatedAt: clock, FinishedAt: ptr(clock),
		Output: json.RawMessage(`{"removed":17}`)}, nil)
	f.waitFor(t, "SUCCEEDED", "o for the output")
	f.press("o")
	f.waitFor(t, `"removed": 17`)
}
