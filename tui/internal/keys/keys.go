// Package keys holds the key bindings every view shares: moving in a list,
// and the global keys of the root model. Each view adds its own actions in
// its own KeyMap, which implements help.KeyMap so the footer shows the keys
// of the view in front.
package keys

import (
	"math"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Global are the keys the root model handles whatever view is shown.
var Global = struct {
	Quit, ForceQuit, Help, Command, Back, Redraw key.Binding
}{
	Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	Command:   key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "jump")),
	Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	Redraw:    key.NewBinding(key.WithKeys("ctrl+l"), key.WithHelp("ctrl+l", "redraw, refresh")),
}

// Nav are the keys of a list: moving in it, opening a row, filtering.
var Nav = struct {
	Up, Down, PageUp, PageDown, Top, Bottom, Open, Filter, ClearFilter key.Binding
}{
	Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	PageUp:      key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
	PageDown:    key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
	Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
	Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	Open:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
	Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
	ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
}

// NavHelp is the list keys for the full help.
func NavHelp() []key.Binding {
	return []key.Binding{Nav.Up, Nav.Down, Nav.PageUp, Nav.PageDown, Nav.Top, Nav.Bottom}
}

// GlobalHelp is the global keys for the full help.
func GlobalHelp() []key.Binding {
	return []key.Binding{Global.Command, Nav.Filter, Global.Back, Global.Help, Global.Redraw, Global.Quit}
}

// Enabled returns the bindings that are enabled, for a help view.
func Enabled(bs ...key.Binding) []key.Binding {
	out := make([]key.Binding, 0, len(bs))
	for _, b := range bs {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return out
}

// Scroll is where the list keys take a text scrolled to line offset, page
// lines a page: up, down, a page either way, the top, or the bottom (a
// large offset, for the caller to clamp). ok is false for any other key.
func Scroll(msg tea.KeyMsg, offset, page int) (next int, ok bool) {
	page = max(1, page)
	switch {
	case key.Matches(msg, Nav.Up):
		return offset - 1, true
	case key.Matches(msg, Nav.Down):
		return offset + 1, true
	case key.Matches(msg, Nav.PageUp):
		return offset - page, true
	case key.Matches(msg, Nav.PageDown):
		return offset + page, true
	case key.Matches(msg, Nav.Top):
		return 0, true
	case key.Matches(msg, Nav.Bottom):
		return math.MaxInt / 2, true
	}
	return offset, false
}
