package tui_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
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

// A job of the agent's jobs file says so, with the line declaring it.
func TestJobsViewShowsWhereAFileJobIsDeclared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.yaml")
	file := "jobs:\n  - id: nightly-backup\n    description: Dumps the database.\n    command: [/bin/true]\n    params: [{name: target}]\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	f := setupWith(t, agenttest.Options{Scheduler: agent.SchedulerLocal, JobsFile: path}, adminToken, 200, 24, "jobs", nil)
	f.waitFor(t, "live", "nightly-backup", "Dumps the database.")
	f.press("down", "down", "down") // demo, echo, http, nightly-backup
	f.waitFor(t, "── nightly-backup", "A command job of the jobs file, declared at "+path+":2", "target")
}
