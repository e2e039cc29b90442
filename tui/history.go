package tui

import "github.com/charmbracelet/bubbles/key"

// history is the ":" commands typed this session, oldest first, walked
// with up and down as in a shell: what was being typed is kept while
// walking, and comes back below the newest.
type history struct {
	lines []string
	pos   int    // the line shown; len(lines): the one being typed
	draft string // what was being typed when walking began
}

// add records a command run (not an empty one, nor one repeating the
// last), and starts the next walk below the newest.
func (h *history) add(line string) {
	if line != "" && (len(h.lines) == 0 || h.lines[len(h.lines)-1] != line) {
		h.lines = append(h.lines, line)
	}
	h.reset()
}

// reset starts a walk below the newest, with nothing typed.
func (h *history) reset() { h.pos, h.draft = len(h.lines), "" }

// up is the command before the one shown, typed being what is in the line
// now; ok is false at the oldest.
func (h *history) up(typed string) (string, bool) {
	if h.pos == 0 {
		return "", false
	}
	if h.pos == len(h.lines) {
		h.draft = typed
	}
	h.pos--
	return h.lines[h.pos], true
}

// down is the command after the one shown, or what was being typed below
// the newest; ok is false when not walking.
func (h *history) down() (string, bool) {
	if h.pos >= len(h.lines) {
		return "", false
	}
	h.pos++
	if h.pos == len(h.lines) {
		return h.draft, true
	}
	return h.lines[h.pos], true
}

// The command line's suggestions move with ctrl+n and ctrl+p only: up
// and down walk the history.
var (
	nextSuggestion = key.NewBinding(key.WithKeys("ctrl+n"))
	prevSuggestion = key.NewBinding(key.WithKeys("ctrl+p"))
)
