package tui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui"
)

// seedActive gives the agent a rule and n active runs of it, every other
// one running (no job behind it) and the rest queued until an hour from
// now (so the queue does not start them), and three finished runs.
func seedActive(n int) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) {
		a.AddRules(api.RuleInput{Name: "busy", Job: "demo", Schedule: "rate(1 day)"})
		var runs []api.Run
		for i := range 3 {
			at := clock.Add(-time.Duration(200+i) * time.Minute)
			runs = append(runs, api.Run{ID: runID(i, "0000done"), Rule: "busy", Job: "demo", Status: api.StatusSucceeded,
				Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: ptr(at.Add(time.Second))})
		}
		for i := range n {
			at := clock.Add(-time.Duration(n-i) * time.Minute)
			r := api.Run{ID: runID(100+i, fmt.Sprintf("%08d", i)), Rule: "busy", Job: "demo", Status: api.StatusRunning,
				Trigger: api.TriggerManual, CreatedAt: at, StartedAt: &at}
			if i%2 == 1 {
				r.Status, r.StartedAt, r.NotBefore = api.StatusQueued, nil, ptr(clock.Add(time.Hour))
			}
			runs = append(runs, r)
		}
		a.AddRuns(runs...)
	}
}

// The check: 50 runs cancelled in one action, asked first with
// the count, one request each, and the summary at the end.
func TestBulkCancelOf50Runs(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "runs", seedActive(50))
	f.waitFor(t, "live", "all 53", "operator", "busy")
	f.press("ctrl+a")
	f.waitFor(t, "53 selected")
	f.press("c")
	// The finished runs are left alone, and the question says so.
	f.waitFor(t, "Cancel 50 runs? (3 of the selected have finished: left alone)")
	f.press("y")
	f.waitFor(t, "cancelled 50 runs")
	var running, queued int
	for _, r := range f.agent.Runs() {
		switch {
		case r.Status == api.StatusSucceeded:
		case r.Status == api.StatusCancelling && r.CancelledBy == agenttest.OperatorName:
			running++ // no job behind it: it stays cancelling
		case r.Status == api.StatusCancelled && r.CancelledBy == agenttest.OperatorName:
			queued++
		default:
			t.Errorf("run %s is %s (cancelled by %q) after the bulk cancel", r.ID, r.Status, r.CancelledBy)
		}
	}
	if running != 25 || queued != 25 {
		t.Errorf("cancelled %d running and %d queued runs, want 25 and 25", running, queued)
	}
	if n := f.requests.countMatching("POST", "/cancel"); n != 50 {
		t.Errorf("the bulk cancel sent %d cancel requests, want one for each of the 50 runs", n)
	}
	screen := f.screen(t)
	if strings.Contains(screen, "selected") {
		t.Errorf("the selection outlived an action that did not fail:\n%s", screen)
	}
}

// A run that finishes between the question and the answer fails its
// cancel: the summary names it with the agent's reason, the report shows
// every failure whole, and the runs that failed stay selected.
func TestBulkCancelReportsEachFailureWhole(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "runs active", seedActive(4))
	f.waitFor(t, "live", "[active 4]", "operator")
	f.press("ctrl+a")
	f.waitFor(t, "4 selected")
	f.press("c")
	f.waitFor(t, "Cancel 4 runs? (y/N)")
	gone := runID(102, "00000002")
	f.agent.Finish(gone, api.StatusFailed, "boom")
	f.press("y")
	want := "run " + gone + " has already finished (failed)"
	f.waitFor(t, "Cancel: 1 of 4 failed", "00000002 (busy):", "cancelled 3 runs, 1 failed")
	screen := f.screen(t)
	requireGolden(t, screen)
	if !strings.Contains(strings.Join(strings.Fields(screen), " "), want) {
		t.Errorf("the report does not show the agent's reason %q whole:\n%s", want, screen)
	}
}

func TestRunsSortCyclesThroughTheColumns(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "STARTED▼", "nightly-report")
	for _, want := range []string{"DURATIO▼", "PROGRESS▼", "RULE▲", "JOB▲", "STATUS▲", "STARTED▼"} {
		f.press("s")
		f.waitFor(t, want)
	}
	f.press("s", "s", "s") // RULE▲
	f.waitFor(t, "RULE▲")
	f.press("S")
	f.waitFor(t, "RULE▼")
	screen := f.screen(t)
	ping, nightly := strings.Index(screen, "ping-partner"), strings.Index(screen, "nightly-report")
	if ping < 0 || nightly < 0 || ping > nightly {
		t.Errorf("sorted by rule, descending: ping-partner is not above nightly-report:\n%s", screen)
	}
}

// Sorting by another column than the agent's needs every run: the list
// loads the rest of them, in pages of a thousand, and sorts them in.
func TestRunsSortLoadsEveryRun(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", func(a *agenttest.Agent) {
		runs := make([]api.Run, 1500)
		for i := range runs {
			at := clock.Add(-time.Duration(i) * time.Minute)
			rule := "mid"
			if i == len(runs)-1 {
				rule = "aardvark" // the oldest run: on no page but the last
			}
			runs[i] = api.Run{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", len(runs)-i), Rule: rule, Job: "demo",
				Status: api.StatusSucceeded, Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: &at}
		}
		a.AddRuns(runs...)
	})
	f.waitFor(t, "live", "Runs 200+", "all 1500")
	f.press("s", "s", "s") // DURATION, PROGRESS, RULE
	f.waitFor(t, "RULE▲", "Runs 1500 ")
	f.press("g")
	screen := f.screen(t)
	contains(t, screen, ">  aardvark")
	if n := f.requests.count("GET /api/v1/runs"); n != 3 {
		t.Errorf("1500 runs took %d page requests, want 3 (200, then 1000 and 300)", n)
	}
}

func TestRunsFilterTerms(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	f.press("/")
	f.typeText("status:failed,cancelled")
	f.press("enter")
	f.waitFor(t, "Runs status:cancelled,failed 2")
	f.press("/")
	// The terms in force come back into the input to be edited.
	f.waitFor(t, "/status:cancelled,failed")
	f.press("ctrl+u")
	f.typeText("since:1h nightly")
	f.press("enter")
	f.waitFor(t, "Runs since:1h /nightly 1")
	screen := f.screen(t)
	contains(t, screen, "12:58:00")
	if strings.Contains(screen, "03:00:00") {
		t.Errorf("since:1h shows the run of 10 hours ago:\n%s", screen)
	}
	if n := f.requests.count("GET /api/v1/runs/counts"); n < 3 {
		t.Errorf("the counts were asked %d times, want once for each filter", n)
	}
}

func TestRunsFilterSaysWhichTermIsWrong(t *testing.T) {
	for _, c := range []struct{ typed, note string }{
		{"since:banana", `since: "banana" is not a duration (30m, 1h, 2d) or date (2026-12-01)`},
		{"status:bogus", `status: "bogus" is not a run status`},
		{"owner:me", `owner: is not a filter term here (it takes rule:, job:, status:, since: and free text)`},
		{"rule:", `rule: needs a value (rule:VALUE)`},
	} {
		t.Run(c.typed, func(t *testing.T) {
			f := setup(t, adminToken, 160, 24, "", seedRuns)
			f.waitFor(t, "live", "nightly-report")
			f.press("/")
			f.typeText(c.typed)
			f.press("enter")
			f.waitFor(t, c.note)
			// The input keeps the keyboard: what is typed goes into it.
			f.typeText(" x")
			f.waitFor(t, "/"+c.typed+" x")
		})
	}
	t.Run(":runs", func(t *testing.T) {
		f := setup(t, adminToken, 160, 24, "", seedRuns)
		f.waitFor(t, "live", "nightly-report")
		f.press(":")
		f.typeText("runs failed since:banana")
		f.press("enter")
		f.waitFor(t, `runs: since: "banana" is not a duration (30m, 1h, 2d) or date (2026-12-01)`)
	})
}

func TestRunsCommandTakesTheTerms(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs failed rule:ping-partner since:2h", seedRuns)
	f.waitFor(t, "live", "Runs rule:ping-partner since:2h 1", "[failed 1]")
	screen := f.screen(t)
	contains(t, screen, "ping-partner", "failed")
}

// ctrl+a selects what the filter keeps, every one of them, loaded or not.
func TestSelectAllTakesEveryRunTheFilterKeeps(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "", func(a *agenttest.Agent) {
		runs := make([]api.Run, 700)
		for i := range runs {
			at := clock.Add(-time.Duration(i) * time.Minute)
			rule := "even"
			if i%2 == 1 {
				rule = "odd"
			}
			runs[i] = api.Run{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", len(runs)-i), Rule: rule, Job: "demo",
				Status: api.StatusSucceeded, Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: &at}
		}
		a.AddRuns(runs...)
	})
	f.waitFor(t, "live", "Runs 200+")
	f.press("/")
	f.typeText("rule:odd")
	f.press("enter")
	f.waitFor(t, "Runs rule:odd 200+", "all 350")
	f.press("ctrl+a")
	f.waitFor(t, "350 selected")
	f.press("esc")
	screen := f.screen(t)
	if strings.Contains(screen, "selected") {
		t.Errorf("esc did not clear the selection:\n%s", screen)
	}
	contains(t, screen, "rule:odd") // esc cleared the selection, not the filter
}

func TestViewerSelectsNothing(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "viewer")
	f.press("space", "ctrl+a")
	f.press("s")
	f.waitFor(t, "DURATIO▼")
	screen := f.screen(t)
	if strings.Contains(screen, "selected") || strings.Contains(screen, "✓") {
		t.Errorf("a viewer selected runs:\n%s", screen)
	}
}

// The runs list with counts on its tabs, a sort and two runs selected.
func runsSelected(t *testing.T, w, h int) string {
	f := setup(t, operatorToken, w, h, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "all 4")
	f.press("s", "s", "s") // DURATION, PROGRESS, (ID, from 100 columns), RULE
	if w >= 100 {
		f.press("s")
	}
	f.waitFor(t, "RULE▲")
	f.press("space", "down", "space")
	f.waitFor(t, "2 selected")
	return f.screen(t)
}

func TestRunsSelectionSortAndCountsAt80x24(t *testing.T) { requireGolden(t, runsSelected(t, 80, 24)) }

func TestRunsSelectionSortAndCountsAt160x45(t *testing.T) { requireGolden(t, runsSelected(t, 160, 45)) }

// The rules list sorted by its last run with one rule selected.
func rulesSelected(t *testing.T, w, h int) string {
	f := setup(t, adminToken, w, h, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "NAME▲")
	// JOB, SCHEDULE, (IN WORDS, from 130 columns), NEXT, LAST RUN.
	presses := 4
	if w >= 130 {
		presses = 5
	}
	for range presses {
		f.press("s")
	}
	f.waitFor(t, "LAST RUN▲")
	f.press("down", "space")
	f.waitFor(t, "1 selected")
	return f.screen(t)
}

func TestRulesSelectionAndSortAt80x24(t *testing.T) { requireGolden(t, rulesSelected(t, 80, 24)) }

func TestRulesSelectionAndSortAt160x45(t *testing.T) { requireGolden(t, rulesSelected(t, 160, 45)) }

func TestRulesBulkDisableEnableAndDelete(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("ctrl+a")
	f.waitFor(t, "2 selected")
	f.press("-")
	f.waitFor(t, "Disable 2 rules? (y/N)")
	f.press("y")
	f.waitFor(t, "disabled 2 rules")
	for _, name := range []string{"nightly-report", "ping-partner"} {
		if r, _ := f.agent.Rule(name); r.Enabled {
			t.Errorf("rule %s is still enabled after the bulk disable", name)
		}
	}
	f.press("/")
	f.typeText("status:disabled")
	f.press("enter")
	f.waitFor(t, "Rules 2  /status:disabled")
	f.press("space")
	f.waitFor(t, "1 selected")
	f.press("+")
	f.waitFor(t, "Enable 1 rule? (y/N)")
	f.press("y")
	f.waitFor(t, "enabled 1 rule", "Rules 1  /status:disabled")
	f.press("esc", "ctrl+a", "ctrl+d")
	f.waitFor(t, "Delete 2 rules? Their runs stay in the history. (y/N)")
	f.press("y")
	f.waitFor(t, "deleted 2 rules", "No rules yet")
	if _, ok := f.agent.Rule("ping-partner"); ok {
		t.Error("the bulk delete left ping-partner")
	}
}

func TestRulesFilterTerms(t *testing.T) {
	f := setup(t, adminToken, 120, 24, "rules status:failing", func(a *agenttest.Agent) {
		seedRuns(a)
		a.Finish(run4, api.StatusFailed, "boom")
	})
	f.waitFor(t, "live", "Rules 1  /status:failing", "nightly-report")
	f.press("/", "ctrl+u")
	f.typeText("status:sleeping")
	f.press("enter")
	f.waitFor(t, `status: "sleeping" is not enabled, disabled or failing`)
	f.press("ctrl+u")
	f.typeText("since:1h")
	f.waitFor(t, "since: is for runs; rules take rule:, job:, status: and free text")
	f.press("ctrl+u")
	f.typeText("job:http")
	f.press("enter")
	f.waitFor(t, "Rules 1  /job:http")
	contains(t, f.screen(t), "ping-partner")
}

// seedFinished gives the agent a rule and n succeeded runs of it, a
// minute apart.
func seedFinished(n int) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) {
		a.AddRules(api.RuleInput{Name: "busy", Job: "demo", Schedule: "rate(1 day)"})
		runs := make([]api.Run, n)
		for i := range n {
			at := clock.Add(-time.Duration(n-i) * time.Minute)
			runs[i] = api.Run{ID: runID(i, fmt.Sprintf("%08d", i)), Rule: "busy", Job: "demo", Status: api.StatusSucceeded,
				Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: ptr(at.Add(time.Second))}
		}
		a.AddRuns(runs...)
	}
}

// Any role may sort, and a sort needs every run of the filter: a viewer's
// s loads pages only up to the list's limit, then stops and says so.
// (Over SSH every session's lists live in the agent.)
func TestASortStopsLoadingAtTheLimit(t *testing.T) {
	tui.SetRunsLimit(t, 1500)
	f := setup(t, viewerToken, 80, 24, "runs", seedFinished(2500))
	f.waitFor(t, "live", "all 2500", "viewer")
	first := f.requests.countMatching("GET", "/runs")
	f.press("s")
	f.waitFor(t, "sorted the newest 1,500 of 2,500: narrow the filter", "1500+")
	// 200 runs came first; then pages of 1,000 to the limit: two.
	time.Sleep(200 * time.Millisecond)
	if n := f.requests.countMatching("GET", "/runs") - first; n != 2 {
		t.Errorf("the sort fetched %d pages, want the 2 that reach the limit of 1,500", n)
	}
}

// The tab counts are the agent's, for the filter's terms; free text is
// matched against the loaded runs only, so with it the tabs show no counts
// that would not add up to the rows shown.
func TestTabCountsAreLeftOutWithFreeText(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "[all 4]")
	f.press("/")
	f.typeText("nightly")
	f.press("enter")
	f.waitFor(t, "[all]")
	if screen := f.screen(t); strings.Contains(screen, "all 4") || !strings.Contains(screen, "nightly-report") {
		t.Errorf("with free text the tabs still count the unfiltered runs, or the run is gone:\n%s", screen)
	}
}

// At 80 columns a long filter scrolls in its input, which has the title
// line after the view's name: the end of what is typed and the cursor
// always show (the terms in force were cut at the edge before).
func TestLongFilterShowsItsEndAt80(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs rule:ping-partner status:failed since:1h", seedRuns)
	f.waitFor(t, "live", "Runs rule:ping-partner status:failed since:1h")
	f.press("/")
	f.typeText("partner answered with a long message END")
	f.waitFor(t, "with a long message END")
	screen := f.screen(t)
	title := strings.Split(screen, "\n")[1]
	if !strings.HasPrefix(title, "Runs /") || !strings.Contains(title, "message END ") || strings.Contains(title, "…") {
		t.Errorf("the title line while filtering is %q: want the input after the name, showing the end typed and the cursor", title)
	}
}

func TestLongRulesFilterShowsItsEndAt80(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "Rules 2")
	f.press("/")
	f.typeText("job:http some very long text that does not fit on a line of eighty columns at all END")
	f.waitFor(t, "columns at all END")
	screen := f.screen(t)
	title := strings.Split(screen, "\n")[1]
	if !strings.HasPrefix(title, "Rules /") || !strings.Contains(title, "at all END ") {
		t.Errorf("the title line while filtering is %q: want the input after the name, showing the end typed and the cursor", title)
	}
}
