package tui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

func TestRunsViewAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin", "[all 4]")
	requireGolden(t, f.screen(t))
}

func TestRunsFollowTheEventStream(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.agent.Progress(run4, 70, "step 7 of 10")
	started := runID(5, "eeee5555")
	f.agent.StartRun(api.Run{ID: started, Rule: "ping-partner", Job: "http", Trigger: api.TriggerManual, CreatedAt: clock,
		StartedAt: ptr(clock), TriggeredBy: "admin", Parameters: map[string]string{"url": "https://partner.example/ping"}})
	f.agent.Finish(run4, api.StatusFailed, "boom")
	f.waitFor(t, "70%", "failed", "[all 5]")
	screen := f.screen(t)
	requireGolden(t, screen)
	if !strings.Contains(screen, "   ping-partner   http      running") {
		t.Errorf("the run started by the stream (%s) is not at the top:\n%s", started, screen)
	}
}

func TestRunsStatusJumpAndTabs(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.press(":")
	f.typeText("runs failed")
	f.press("enter")
	f.waitFor(t, "[failed 1]", "Runs 1")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "succeeded   ") || strings.Contains(screen, "running     ") {
		t.Errorf(":runs failed shows runs that did not fail:\n%s", screen)
	}
}

func TestRunsTextFilter(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.press("/")
	f.typeText("cancel")
	f.press("enter")
	f.waitFor(t, "/cancel")
	screen := f.screen(t)
	contains(t, screen, "cancelled")
	if strings.Contains(screen, "nightly-report") {
		t.Errorf("the filter /cancel still shows nightly-report:\n%s", screen)
	}
}

func TestRunDetailShowsMaskedParametersAndFollowsTheLog(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.press("down", "down", "enter") // the failed ping-partner run
	f.waitFor(t, "Run "+run2, "partner answered 503")
	f.press("esc", "up", "up", "enter") // back, then the running one
	f.waitFor(t, "Run "+run4)
	f.agent.Log(run4, "info", "fetching rows")
	f.agent.Log(run4, "warn", "slow page\x1b[31m red")
	f.waitFor(t, "fetching rows", "slow page")
	requireGolden(t, f.screen(t))
}

func TestRunDetailOfAFailedRunMasksSecrets(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run2, seedRuns)
	// The header and the keys show once the status is read: the golden has them.
	f.waitFor(t, "live", "partner answered 503", "token=********", "No log lines yet.", "scheduler local · admin", "r restart")
	screen := f.screen(t)
	if strings.Contains(screen, "s3cr3t") {
		t.Errorf("a secret shows:\n%s", screen)
	}
	requireGolden(t, screen)
}

func TestCancelAsksFirstThenCancels(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("c")
	f.waitFor(t, "Cancel run dddd4444 of nightly-report? (y/N)")
	f.press("n")
	f.waitFor(t, "not done")
	if r := f.agent.Run(run4); r.Status != api.StatusRunning {
		t.Fatalf("answering n cancelled the run: %s", r.Status)
	}
	f.press("c")
	f.waitFor(t, "(y/N)")
	f.press("y")
	// No job runs behind the seeded run, so it stays cancelling: the
	// agent's answer until a job returns.
	f.waitFor(t, "cancelling  ")
	if r := f.agent.Run(run4); r.Status != api.StatusCancelling || r.CancelledBy != agenttest.OperatorName {
		t.Fatalf("after y the run is %s (cancelled by %q), want cancelling by %s", r.Status, r.CancelledBy, agenttest.OperatorName)
	}
}

func TestRestartFromTheDetailOpensTheNewRun(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("down", "down", "enter")
	f.waitFor(t, "Run "+run2)
	f.press("r")
	f.waitFor(t, "restarted as run", "Restart of bbbb2222")
	runs := f.agent.Runs()
	if runs[0].RestartOf != run2 || runs[0].Trigger != api.TriggerRestart {
		t.Fatalf("newest run %+v is not a restart of run-0002", runs[0])
	}
}

func TestViewerSeesNoActions(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "viewer (read-only)", "[all 4]")
	f.press("c")
	f.press("r")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "c cancel") || strings.Contains(screen, "r restart") {
		t.Errorf("a viewer is offered cancel or restart:\n%s", screen)
	}
	if f.requests.count("POST /api/v1/runs/"+run4+"/cancel") != 0 {
		t.Errorf("a viewer's c sent a cancel")
	}
}

func TestRejectedTokenSaysSo(t *testing.T) {
	f := setup(t, "wrong-token", 80, 24, "", seedRuns)
	f.waitFor(t, "token rejected", "Token rejected (401)", "Cannot load runs")
	requireGolden(t, f.screen(t))
}

func TestAgentRestartShowsABannerThenReloads(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.agent.Stop()
	f.waitFor(t, "offline", "Agent unreachable at http://agent.test")
	// While it is away a run starts (the console cannot hear of it); the
	// agent comes back as a new process, so the stream cannot resume.
	f.agent.AddRuns(api.Run{ID: runID(5, "eeee5555"), Rule: "nightly-report", Job: "demo", Status: api.StatusSucceeded,
		Trigger: api.TriggerSchedule, CreatedAt: clock.Add(-time.Minute), StartedAt: ptr(clock.Add(-time.Minute)),
		FinishedAt: ptr(clock)})
	f.agent.Resume()
	f.waitFor(t, "live", "12:59:00")
	screen := f.screen(t)
	if strings.Contains(screen, "unreachable") {
		t.Errorf("the banner stays after the agent is back:\n%s", screen)
	}
	contains(t, screen, "12:59:00")
}

func TestResizeKeepsEveryLineInside(t *testing.T) {
	f := setup(t, adminToken, 120, 30, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "TRIGGER")
	f.tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	f.tm.Send(tea.WindowSizeMsg{Width: 60, Height: 12})
	screen := f.screen(t)
	lines := strings.Split(screen, "\n")
	if len(lines) != 12 {
		t.Errorf("the screen has %d lines at height 12", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 60 {
			t.Errorf("line %d is %d cells wide at width 60: %q", i, w, l)
		}
	}
}

// The agent publishes a log line at once but stores lines in batches: a
// line published before the detail opened, and not stored yet when the
// detail fetched the log, must still show, in order.
func TestRunDetailFillsAGapInTheLog(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	// "store sqlite" is the header's status, which the goldens show.
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.agent.LogLater(run4, "info", "first line, stored late")
	time.Sleep(200 * time.Millisecond) // the event passes while the list is in front
	f.press("enter")
	f.waitFor(t, "Run "+run4, "No log lines yet.")
	f.agent.LogLater(run4, "info", "second line")
	time.Sleep(100 * time.Millisecond)
	f.agent.FlushLogs()
	f.waitFor(t, "first line, stored late", "second line")
	screen := f.screen(t)
	first, second := strings.Index(screen, "first line"), strings.Index(screen, "second line")
	if first < 0 || second < first {
		t.Errorf("the log is not in order:\n%s", screen)
	}
}

// A log line published with the run as it was when the line was written
// must not take a finished run back to running.
func TestAStaleSnapshotDoesNotUndoAFinish(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run4, seedRuns)
	f.waitFor(t, "RUNNING")
	stale := f.agent.Run(run4)
	f.agent.Finish(run4, api.StatusCancelled, "cancelled by admin")
	f.waitFor(t, "CANCELLED")
	f.agent.PublishRun(api.EventRunLog, stale, &api.LogLine{Seq: 1, Time: clock, Level: "warn", Message: "late line"})
	f.agent.PublishRun(api.EventRunProgress, stale, nil)
	f.waitFor(t, "late line")
	screen := f.screen(t)
	contains(t, screen, "CANCELLED")
	if strings.Contains(screen, "RUNNING") {
		t.Errorf("a stale snapshot took the run back to running:\n%s", screen)
	}
}

// The list fetches a page at a time, the next one only when the cursor
// nears the end of what is loaded.
func TestRunsArePagedAsTheCursorMoves(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", func(a *agenttest.Agent) {
		runs := make([]api.Run, 1000)
		for i := range runs {
			at := clock.Add(-time.Duration(i) * time.Minute)
			runs[i] = api.Run{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", 1000-i), Rule: "bulk", Job: "demo", Status: api.StatusSucceeded,
				Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: &at}
		}
		a.AddRuns(runs...)
	})
	f.waitFor(t, "live", "Runs 200+")
	if n := f.requests.count("GET /api/v1/runs"); n != 1 {
		t.Fatalf("the first screen cost %d page requests, want 1", n)
	}
	for _, want := range []string{"Runs 400+", "Runs 600+", "Runs 800+", "Runs 1000 "} {
		f.press("G")
		f.waitFor(t, want)
	}
	f.press("G")
	screen := f.screen(t)
	contains(t, screen, ">  bulk")
	if n := f.requests.count("GET /api/v1/runs"); n != 5 {
		t.Errorf("1000 runs took %d page requests, want 5", n)
	}
}

func TestAConsoleStartedBeforeItsAgentCatchesUp(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", func(a *agenttest.Agent) {
		seedRuns(a)
		a.Stop()
	})
	f.waitFor(t, "offline", "Agent unreachable at http://agent.test: connect: connection refused")
	f.agent.Resume()
	f.waitFor(t, "live", "nightly-report", "admin")
	screen := f.screen(t)
	if strings.Contains(screen, "unreachable") || strings.Contains(screen, "Cannot load") {
		t.Errorf("the console did not recover once the agent came up:\n%s", screen)
	}
}
