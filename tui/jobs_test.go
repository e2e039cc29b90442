package tui_test

import (
	"testing"
)

func TestJobsViewAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "jobs", seedRuns)
	f.waitFor(t, "live", "orders.increment", "Used by nightly-report")
	f.press("down", "down") // demo, echo, http
	f.waitFor(t, "Used by ping-partner", "bearer_token")
	requireGolden(t, f.screen(t))
}

func TestNewRuleFromAJob(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "jobs", seedRuns)
	f.waitFor(t, "live", "orders.increment", "admin")
	f.press("down", "down", "down", "n")
	f.waitFor(t, "New rule", "orders.increment", "*increment")
}

func TestHelpListsTheViewsKeysAndCommands(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("?")
	f.waitFor(t, "Keys — Rules", "Commands (after :)")
	requireGolden(t, f.screen(t))
}
