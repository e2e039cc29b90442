package tui_test

import (
	"regexp"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// pasteMsg is text as Bubble Tea delivers a bracketed paste.
func pasteMsg(text string) tea.KeyMsg {
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(text), Paste: true}
}

// typed is what each input gets below: a paste, then a burst of typing
// (several runes in one message), each of which the input must insert
// whole, in order. Were q or j obeyed as keys, the console would quit or
// move.
const (
	pasted = "Pq"
	burst  = "Bj"
)

func typeBoth(f *fixture) {
	f.tm.Send(pasteMsg(pasted))
	f.tm.Send(key(burst))
}

// TestEveryTextInputTakesPasteAndBurstsWhole types a paste and a burst
// into each text input of the console: the command line, the filters of
// the runs and rules lists, and every text field of the rule form.
func TestEveryTextInputTakesPasteAndBurstsWhole(t *testing.T) {
	t.Run("command line", func(t *testing.T) {
		f := setup(t, adminToken, 80, 24, "rules", seedRuns)
		f.waitFor(t, "live", "admin", "nightly-report")
		f.press(":")
		typeBoth(f)
		f.waitFor(t, ":"+pasted+burst)
	})
	for _, view := range []string{"runs", "rules"} {
		t.Run(view+" filter", func(t *testing.T) {
			f := setup(t, adminToken, 80, 24, view, seedRuns)
			f.waitFor(t, "live", "admin", "nightly-report")
			f.press("/")
			typeBoth(f)
			f.waitFor(t, "/"+pasted+burst)
		})
	}
	t.Run("rule form", func(t *testing.T) {
		f := setup(t, adminToken, 160, 60, "rules", seedRuns)
		f.waitFor(t, "live", "admin", "nightly-report")
		f.press("n")
		f.waitFor(t, "New rule", "*Name")
		// Every field in turn (the last keeps the keys left over); a
		// choice (the job, overlap) takes no text.
		for range 40 {
			typeBoth(f)
			f.press("tab")
		}
		screen := f.screen(t)
		want := []string{"*Name", "*Schedule", "Time zone", "Start date", "End date", "Flex window", "Description", "Timeout",
			"duration", "steps", "Retries", "Backoff", "Max backoff", "Jitter", "Look back", "Max lateness", "Warn after",
			"On success", "On failure", "On finish"}
		for _, label := range want {
			// The label (> on the field with the focus), then the value
			// (✗ marks one the field refuses; the zone starts as UTC):
			// the paste and the burst whole, nothing between.
			re := regexp.MustCompile(`(?m)^>?\s+` + regexp.QuoteMeta(label) + `\s+✗?(UTC)?(` + pasted + burst + `)+\s`)
			if !re.MatchString(screen) {
				t.Errorf("the field %s does not hold %q whole:\n%s", label, pasted+burst, screen)
			}
		}
	})
}
