package tui_test

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Runes that come in one read ("jj" typed fast, or over a slow SSH link)
// are keys one after another, as if sent one by one.
func TestRunesInOneMessageAreEachAKey(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "jobs", seedRuns)
	f.waitFor(t, "live", "orders.increment", "Used by nightly-report")
	f.press("jj") // demo, echo, http
	f.waitFor(t, "Used by ping-partner", "bearer_token")
}

// A key that gives a text input the keyboard sends the rest of its message
// there: ":jobs" in one read runs the command.
func TestRunesAfterColonAreTyped(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press(":jobs", "enter")
	f.waitFor(t, "orders.increment", "Used by nightly-report")
}

// Pasted text is never obeyed as keys: "q" pasted does not quit, and the
// console still answers the keys that follow.
func TestPasteIsNotKeys(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "jobs", seedRuns)
	f.waitFor(t, "live", "orders.increment", "Used by nightly-report")
	f.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jq"), Paste: true})
	f.press("j", "j") // demo, echo, http: the paste moved nothing
	f.waitFor(t, "Used by ping-partner", "bearer_token")
}

// A help longer than the screen scrolls: its end is reachable, and says
// where it is.
func TestHelpScrollsWhenItDoesNotFit(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("?")
	f.waitFor(t, "Keys — Rules", "lines 1-20 of")
	f.press("G")
	f.waitFor(t, "esc or ? closes this help", "leave the console")
}
