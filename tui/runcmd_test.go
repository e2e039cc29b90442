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
		f.waitFor(t, "live", "nightly-report")
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
