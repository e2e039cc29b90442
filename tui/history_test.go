package tui_test

import (
	"strings"
	"testing"
)

// up and down in ":" walk the commands typed this session, newest first,
// and come back down to what was being typed.
func TestCommandLineHistory(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	f.command("runs failed")
	f.waitFor(t, "[failed 1]", "Runs 1")
	f.command("rules")
	f.waitFor(t, "Rules 2")
	f.command("rules") // a repeat is one entry
	f.command("  ")    // nothing is not one
	f.press(":")
	f.typeText("jo")
	f.press("ctrl+l") // redraws; what is typed stays
	f.press("up")
	f.waitFor(t, ":rules")
	f.press("up")
	f.waitFor(t, ":runs failed")
	f.press("up") // the oldest stays
	f.press("down")
	f.waitFor(t, ":rules")
	f.press("down")
	f.waitFor(t, ":jo")
	f.press("enter")
	f.waitFor(t, "Jobs 4")
	// The next walk starts at the newest again, which is now jobs.
	f.press(":", "up", "up", "up", "enter")
	f.waitFor(t, "[failed 1]", "Runs 1")
}

// A command recalled with up shows and runs as it was typed: the
// suggestion matched by what was typed before does not trail after it.
func TestCommandLineHistoryDropsTheOldSuggestion(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	f.command("rules")
	f.waitFor(t, "Rules 2")
	f.press(":")
	f.typeText("runs a") // suggests "runs active"
	f.waitFor(t, ":runs active")
	f.press("up")
	f.waitFor(t, ":rules")
	screen := f.screen(t)
	last := strings.Split(screen, "\n")
	if got := strings.TrimSpace(last[len(last)-1]); got != ":rules" {
		t.Errorf("the command line reads %q, want %q:\n%s", got, ":rules", screen)
	}
}
