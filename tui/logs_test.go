package tui_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

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

// seedMixedLog gives run1 a log of 60 lines: some mention a timeout, three
// are warnings or errors, and two are longer than any screen is wide.
func seedMixedLog(a *agenttest.Agent) {
	seedRuns(a)
	for i := 1; i <= 60; i++ {
		level, msg := "info", fmt.Sprintf("line %d: copying batch %d", i, i)
		switch {
		case i%7 == 0:
			msg = fmt.Sprintf("line %d: partner Timeout after 30s, retrying", i)
		case i == 20 || i == 45:
			msg = fmt.Sprintf("line %d: %s", i, strings.Repeat("a long line that goes on and on ", 8)+"END")
		}
		switch i {
		case 12, 50:
			level = "warn"
		case 33:
			level = "error"
		}
		a.LogLines(run1, level, msg)
	}
}

// Search: / takes the text (whole, as one key message of several runes),
// enter goes to the first match on screen or after it, n and N go from
// match to match round the ends, and the pane says which match it is.
func TestLogSearchGoesFromMatchToMatchAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run1, seedMixedLog)
	f.waitFor(t, "live", "line 60: copying batch 60", "admin")
	f.press("g", "/")
	f.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("timeout")})
	f.waitFor(t, "/timeout")
	f.press("enter")
	f.waitFor(t, "match 1 of 8")
	f.press("n", "n")
	f.waitFor(t, "match 3 of 8")
	f.press("N")
	f.waitFor(t, "match 2 of 8")
	f.press("N", "N")
	f.waitFor(t, "match 8 of 8", "search went round")
	f.press("n", "n", "n", "n")
	f.waitFor(t, "match 4 of 8")
	screen := f.screen(t)
	contains(t, screen, "line 28: partner Timeout")
	requireGolden(t, screen)
}

// The same at 160×45, with a search that matches nothing, then one that
// does, and the keys in the help.
func TestLogSearchWide(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "run "+run1, seedMixedLog)
	f.waitFor(t, "live", "line 60: copying batch 60", "admin")
	f.press("/")
	f.typeText("nothing like this")
	f.press("enter")
	f.waitFor(t, "no line of the log holds “nothing like this”", "no match for “nothing like this”")
	f.press("/")
	f.typeText("BATCH 4")
	f.press("enter")
	// Following, the screen ends at line 60: the first match on it is
	// the second of the log.
	f.waitFor(t, "match 2 of 8 for “BATCH 4”")
	screen := f.screen(t)
	contains(t, screen, "line 40: copying batch 40")
	requireGolden(t, screen)
}

// w wraps long lines under their first row and t hides the timestamps; e
// goes from warning to error to warning, then says there is no other.
func TestLogWrapTimestampsAndProblemsAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run1, seedMixedLog)
	f.waitFor(t, "live", "line 60: copying batch 60", "admin")
	f.press("e")
	f.waitFor(t, "warning/error 1 of 3")
	f.press("e")
	f.waitFor(t, "warning/error 2 of 3")
	f.press("e", "e")
	f.waitFor(t, "no warning or error after line 50; e again goes to the first")
	f.press("e")
	f.waitFor(t, "warning/error 1 of 3")
	f.press("w", "t")
	f.waitFor(t, "wrap; no times")
	f.press("j", "j", "j", "j", "j", "j")
	f.waitFor(t, "line 14 of 60")
	screen := f.screen(t)
	contains(t, screen, "INFO  line 20: a long line", "END")
	if strings.Contains(screen, "13:00:00") {
		t.Errorf("t did not hide the timestamps:\n%s", screen)
	}
	requireGolden(t, screen)
}

func TestLogWrapWide(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "run "+run1, seedMixedLog)
	f.waitFor(t, "live", "line 60: copying batch 60", "admin")
	f.press("w")
	f.waitFor(t, "; wrap)")
	f.press("/")
	f.typeText("long line")
	f.press("enter")
	// Line 45, the second match, is on screen already.
	f.waitFor(t, "match 2 of 2")
	screen := f.screen(t)
	contains(t, screen, "END")
	requireGolden(t, screen)
}

// Follow goes on working with the reading aids: after a search the log
// stops following; f follows again and a new line shows.
func TestLogFollowAfterASearch(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run4, func(a *agenttest.Agent) {
		seedRuns(a)
		msgs := make([]string, 1500)
		for i := range msgs {
			msgs[i] = fmt.Sprintf("row %d", i+1)
		}
		a.LogLines(run4, "info", msgs...)
	})
	f.waitFor(t, "row 1500")
	f.press("/")
	f.typeText("row 3")
	f.press("enter")
	f.waitFor(t, "match 1 of 111")
	f.press("f")
	f.waitFor(t, "Log (follow; match 1 of 111")
	f.agent.Log(run4, "info", "row 1501 and row 3 again")
	f.waitFor(t, "row 1501 and row 3 again", "Log (follow; match 1 of 112")
}

// A run's help lists / once, as the log's search: the global / filter is
// not the view's.
func TestRunHelpListsSlashOnce(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+run1, seedRuns)
	f.waitFor(t, "live", "Run 00000000-0000-7000-8000-0001aaaa1111")
	f.press("?")
	f.waitFor(t, "Keys", "search")
	screen := f.screen(t)
	if n := regexp.MustCompile(`(?m)(^|\s)/\s+\S`).FindAllString(screen, -1); len(n) != 1 {
		t.Errorf("the help lists / %d times, want once:\n%s", len(n), screen)
	}
}
