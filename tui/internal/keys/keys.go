// Package keys holds the key bindings every view shares: moving in a list,
// and the global keys of the root model. Each view adds its own actions in
// its own KeyMap, which implements help.KeyMap so the footer shows the keys
// of the view in front.
package keys

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Global are the keys the root model handles whatever view is shown.
var Global = struct {
	Quit, ForceQuit, Help, Command, Back key.Binding
}{
	Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	Command:   key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "jump")),
	Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
}

// Nav are the keys that move in a list.
var Nav = struct {
	Up, Down, PageUp, PageDown, Top, Bottom, Open, Filter key.Binding
}{
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
	Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
	Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
	Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
}

// NavHelp is the list keys for the full help.
func NavHelp() []key.Binding {
	return []key.Binding{Nav.Up, Nav.Down, Nav.PageUp, Nav.PageDown, Nav.Top, Nav.Bottom}
}

// GlobalHelp is the global keys for the full help.
func GlobalHelp() []key.Binding {
	return []key.Binding{Global.Command, Nav.Filter, Global.Back, Global.Help, Global.Quit}
}

// Move returns where the cursor goes for a list key: page is the number of
// rows on screen, n the number of rows. ok is false for any other key.
func Move(msg tea.KeyMsg, cursor, page, n int) (next int, ok bool) {
	switch {
	case key.Matches(msg, Nav.Up):
		next = cursor - 1
	case key.Matches(msg, Nav.Down):
		next = cursor + 1
	case key.Matches(msg, Nav.PageUp):
		next = cursor - max(1, page)
	case key.Matches(msg, Nav.PageDown):
		next = cursor + max(1, page)
	case key.Matches(msg, Nav.Top):
		next = 0
	case key.Matches(msg, Nav.Bottom):
		next = n - 1
	default:
		return cursor, false
	}
	return max(0, min(next, n-1)), true
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
