package tui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/agenttest"
)

// seedLongLog gives run1 a log of n lines, "line 1" to "line n".
func seedLongLog(n int) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) {
		seedRuns(a)
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = fmt.Sprintf("line %d", i+1)
		}
		a.LogLines(run1, "info", msgs...)
	}
}

// A log of 5,000 lines is read page after page (the agent answers 1,000 a
// page with a nextCursor): it shows whole, from its first line to its last.
func TestALongLogShowsWhole(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run1, seedLongLog(5000))
	f.waitFor(t, "line 5000")
	f.press("g")
	f.waitFor(t, "line 1 of 5000")
	screen := f.screen(t)
	contains(t, screen, " line 1\n", " line 2\n")
	if got := f.requests.count("GET /api/v1/runs/" + run1 + "/log"); got != 5 {
		t.Errorf("the log took %d requests, want 5 pages of 1,000", got)
	}
	if strings.Contains(screen, "line 5000") {
		t.Errorf("g did not go to the top:\n%s", screen)
	}
}
