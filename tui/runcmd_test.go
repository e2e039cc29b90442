package tui_test

import (
	"testing"
)

func (f *fixture) command(text string) {
	f.press(":")
	f.typeText(text)
	f.press("enter")
}

// :run takes the 8 characters the console shows (the end of an id) or
// the start of an id, when one run has it.
func TestRunCommandOpensARunByPartOfItsID(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	f.command("run BBBB2222")
	f.waitFor(t, "Run "+run2, "partner answered 503")
	f.press("esc")
	f.command("run " + run4[:33])
	f.waitFor(t, "Run "+run4)
}

// An id part several runs share lists them, to open one; esc on it comes
// back to the list.
func TestRunCommandListsTheRunsAPartMatches(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 45}} {
		f := setup(t, adminToken, size[0], size[1], "runs", seedRuns)
		f.waitFor(t, "live", "admin", "nightly-report")
		f.command("run 00000000-0000")
		f.waitFor(t, "Runs whose id starts or ends with 00000000-0000: 4", run1)
		if size[0] == 80 {
			requireGolden(t, f.screen(t))
			continue
		}
		f.press("down", "enter")
		f.waitFor(t, "Run "+run3, "CANCELLED")
		f.press("esc")
		f.waitFor(t, "> "+run3)
		t.Run("wide", func(t *testing.T) { requireGolden(t, f.screen(t)) })
	}
}

// What cannot be part of an id, or matches nothing, says so.
func TestRunCommandSaysWhatIsWrongWithTheID(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	f.command("run nightly")
	f.waitFor(t, `“nightly” is not part of a run id: 'n' cannot be in a run id (0-9, a-f, -)`)
	f.command("run 1234abcd")
	f.waitFor(t, "no run id starts or ends with “1234abcd”")
	f.command("run")
	f.waitFor(t, ":run takes a run id, or its first or last characters")
	if n := f.requests.count("GET /runs/nightly"); n != 0 {
		t.Errorf("the console asked for run %q %d times", "nightly", n)
	}
}

// r on a rule with a run going asks first, naming the run; on a rule with
// none it starts at once as before.
func TestRunNowAsksWhenTheRuleHasARunGoing(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("r") // nightly-report: run dddd4444 is running
	f.waitFor(t, "nightly-report: run dddd4444 is running; run it now anyway? (y/N)")
	f.press("n")
	f.waitFor(t, "not done")
	if n := f.requests.count("POST /api/v1/rules/nightly-report/trigger"); n != 0 {
		t.Errorf("run now was sent %d times though the operator said no", n)
	}
	f.press("r")
	f.waitFor(t, "run it now anyway? (y/N)")
	f.press("y")
	f.waitFor(t, "RUNNING")
	if n := f.requests.count("POST /api/v1/rules/nightly-report/trigger"); n != 1 {
		t.Errorf("run now was sent %d times after yes, want 1", n)
	}
	f.press("esc")
	f.press("down", "r") // ping-partner: nothing going
	f.waitFor(t, "Run ")
	if n := f.requests.count("POST /api/v1/rules/ping-partner/trigger"); n != 1 {
		t.Errorf("run now of a rule with nothing going was sent %d times, want 1 at once", n)
	}
}

// r on a run restarts at once unless its rule has a run going.
func TestRestartAsksWhenTheRuleHasARunGoing(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "runs", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("G", "r") // run1, nightly-report: run4 is running
	f.waitFor(t, "nightly-report: run dddd4444 is running; restart aaaa1111 anyway? (y/N)")
	f.press("y")
	f.waitFor(t, "restarted as run")
	f.press("g", "down", "down") // run2, ping-partner: none going
	f.press("r")
	f.waitFor(t, "restarted as run")
	if n := f.requests.count("POST /api/v1/runs/" + run2 + "/restart"); n != 1 {
		t.Errorf("the restart of %s was sent %d times, want 1 at once", run2, n)
	}
}

// goingAnyway answers yes to r's question about rule's run going.
func (f *fixture) goingAnyway(t *testing.T, rule string) {
	t.Helper()
	f.waitFor(t, rule+": run ", "anyway? (y/N)")
	f.press("y")
}
