// Package list is what the console's lists (runs, rules, jobs) share: the
// rows that pass a text filter, the cursor, the window of rows on screen
// and the keys that move in them. A view keeps what is its own: where its
// rows come from, which of them a filter keeps, its columns, how a row is
// drawn and its actions.
//
// A view gives the list its rows with SetItems whenever they change, its
// height with SetHeight, hands it each key first (Update) and draws the
// rows Shown returns. The cursor follows a row, not a position: when rows
// come, go or are filtered out, it stays on the row it was on if that row
// is still shown.
package list

import (
	"iter"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

// Options says what a list holds and how it filters.
type Options[T any] struct {
	// Key names a row, so that the cursor stays on the same row as rows
	// come and go. Nil: the cursor keeps its position.
	Key func(T) string
	// Keep reports whether a row is shown, given the filter's text
	// (trimmed, in lower case; "" when nothing is typed). A view may keep
	// rows by more than the text (the runs list's status tab). Nil: every
	// row is shown.
	Keep func(row T, filter string) bool
	// Placeholder is the hint in the empty filter input. "": the list has
	// no filter and / is not its key.
	Placeholder string
	// CharLimit is the most characters the filter takes; 0: no limit.
	CharLimit int
}

// Outcome says what Update did with a key.
type Outcome int

// What a key did.
const (
	// NotMine: the key is not the list's; the view may act on it.
	NotMine Outcome = iota
	// Moved: a key that moves the cursor (it may have stayed at an end).
	Moved
	// Filtered: the filter's text was edited.
	Filtered
	// Handled: another key of the list: the filter was opened, closed or
	// cleared.
	Handled
)

// Model is one list: its rows, filter, cursor and window.
type Model[T any] struct {
	o     Options[T]
	theme *theme.Theme

	items []T // every row, as the view gave them
	rows  []T // the items the filter keeps: what the list shows

	cursor, offset, height int
	// selected is the key of the row under the cursor. It outlives a list
	// with no rows (nothing loaded yet, or a filter that matches nothing),
	// so the cursor finds its row again when rows come back.
	selected string

	filter    textinput.Model
	filtering bool
}

// New returns an empty list, one row high until SetHeight.
func New[T any](th *theme.Theme, o Options[T]) *Model[T] {
	f := textinput.New()
	f.Prompt = "/"
	f.Placeholder = o.Placeholder
	f.CharLimit = o.CharLimit
	th.Input(&f)
	return &Model[T]{o: o, theme: th, filter: f, height: 1}
}

// SetItems replaces the rows (in the order they are shown) and filters
// them again. The list keeps items; the view calls SetItems again after
// it changes them.
func (m *Model[T]) SetItems(items []T) {
	m.items = items
	m.refilter()
}

// Forget drops the rows, as before a reload, but not which row the cursor
// was on: SetItems puts it back there if that row is among the new ones.
func (m *Model[T]) Forget() {
	m.items = nil
	clear(m.rows) // let the forgotten rows be collected
	m.rows = m.rows[:0]
}

// SetHeight sets how many rows are on screen (at least one).
func (m *Model[T]) SetHeight(h int) {
	m.height = max(1, h)
	m.clamp()
}

// CountRoom is the room a view leaves after the filter input on its
// title line, for the count of rows shown (" 100000+").
const CountRoom = 9

// SetFilterWidth sets how many cells the filter input takes while it is
// typed in, its prompt and cursor included; 0: as wide as what is typed.
// A text longer than that scrolls in the input, so that the cursor and
// what is typed around it always show: a view gives the input the room
// it has on its line, never more.
func (m *Model[T]) SetFilterWidth(w int) {
	if w > 0 {
		w = max(1, w-ansi.StringWidth(m.filter.Prompt)-1) // the cursor's cell
	}
	m.filter.Width = w
	m.filter.SetCursor(m.filter.Position()) // scrolls the text to the new width
}

// SetFilter shows the rows the filter keeps with text typed in it.
func (m *Model[T]) SetFilter(text string) {
	m.filter.SetValue(text)
	m.refilter()
}

// EditFilter gives the filter the keyboard with text typed in it, the
// cursor at its end: a view that reads terms out of the filter puts back
// the ones in force.
func (m *Model[T]) EditFilter(text string) tea.Cmd {
	m.filtering = true
	m.filter.SetValue(text)
	m.filter.CursorEnd()
	m.refilter()
	return m.filter.Focus()
}

// StopFilter takes the keyboard from the filter, keeping its text.
func (m *Model[T]) StopFilter() {
	m.filtering = false
	m.filter.Blur()
}

// Rows is the rows the filter keeps, in order; the caller must not change
// the slice.
func (m *Model[T]) Rows() []T { return m.rows }

// FilterText is what is typed in the filter.
func (m *Model[T]) FilterText() string { return m.filter.Value() }

// Filtering reports whether the filter input has the keyboard.
func (m *Model[T]) Filtering() bool { return m.filtering }

// FilterTitle is the filter for the view's title line: the input while it
// is typed in (as wide as SetFilterWidth says), then "/text" while it
// filters, "" when it does not.
func (m *Model[T]) FilterTitle() string {
	switch {
	case m.filtering:
		return m.filter.View()
	case m.filter.Value() != "":
		return m.theme.Accent.Render("/" + m.filter.Value())
	}
	return ""
}

// Len is the number of rows shown (those the filter keeps).
func (m *Model[T]) Len() int { return len(m.rows) }

// Cursor is the index of the row under the cursor among the rows shown.
func (m *Model[T]) Cursor() int { return m.cursor }

// Height is how many rows are on screen.
func (m *Model[T]) Height() int { return m.height }

// Selected returns the row under the cursor; false when no row is shown.
func (m *Model[T]) Selected() (T, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		var none T
		return none, false
	}
	return m.rows[m.cursor], true
}

// Shown yields the rows on screen, in order, each with whether the cursor
// is on it.
func (m *Model[T]) Shown() iter.Seq2[T, bool] {
	return func(yield func(T, bool) bool) {
		end := min(len(m.rows), m.offset+m.height)
		for i := m.offset; i < end; i++ {
			if !yield(m.rows[i], i == m.cursor) {
				return
			}
		}
	}
}

// Update handles a key: while the filter has the keyboard every key is
// typed into it (enter keeps the filter, esc clears it); otherwise the
// keys that move (keys.Nav), / to filter and esc to clear the filter.
func (m *Model[T]) Update(msg tea.KeyMsg) (tea.Cmd, Outcome) {
	if m.filtering {
		switch msg.String() {
		case "enter":
			m.filtering = false
			m.filter.Blur()
			return nil, Handled
		case "esc":
			m.filtering = false
			m.filter.Blur()
			m.SetFilter("")
			return nil, Handled
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.refilter()
		return cmd, Filtered
	}
	if next, ok := move(msg, m.cursor, m.height, len(m.rows)); ok {
		m.cursor = next
		m.clamp()
		return nil, Moved
	}
	if m.o.Placeholder == "" {
		return nil, NotMine
	}
	switch {
	case key.Matches(msg, keys.Nav.Filter):
		m.filtering = true
		return m.filter.Focus(), Handled
	case key.Matches(msg, keys.Nav.ClearFilter) && m.filter.Value() != "":
		m.SetFilter("")
		return nil, Handled
	}
	return nil, NotMine
}

// refilter recomputes the rows shown and puts the cursor back on its row.
func (m *Model[T]) refilter() {
	text := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	clear(m.rows)
	m.rows = m.rows[:0]
	for _, it := range m.items {
		if m.o.Keep == nil || m.o.Keep(it, text) {
			m.rows = append(m.rows, it)
		}
	}
	if m.o.Key != nil && m.selected != "" {
		// The row is most often where it was: look there first, then
		// through them all.
		if m.cursor >= len(m.rows) || m.o.Key(m.rows[m.cursor]) != m.selected {
			for i, r := range m.rows {
				if m.o.Key(r) == m.selected {
					m.cursor = i
					break
				}
			}
		}
	}
	m.clamp()
}

// clamp keeps the cursor on a row and on screen.
func (m *Model[T]) clamp() {
	m.cursor = max(0, min(m.cursor, len(m.rows)-1))
	if len(m.rows) > 0 && m.o.Key != nil {
		m.selected = m.o.Key(m.rows[m.cursor])
	}
	m.offset = window(m.cursor, m.offset, m.height, len(m.rows))
}

// move returns where the cursor goes for a key that moves in a list: page
// is the number of rows on screen, n the number of rows. ok is false for
// any other key.
func move(msg tea.KeyMsg, cursor, page, n int) (next int, ok bool) {
	switch {
	case key.Matches(msg, keys.Nav.Up):
		next = cursor - 1
	case key.Matches(msg, keys.Nav.Down):
		next = cursor + 1
	case key.Matches(msg, keys.Nav.PageUp):
		next = cursor - max(1, page)
	case key.Matches(msg, keys.Nav.PageDown):
		next = cursor + max(1, page)
	case key.Matches(msg, keys.Nav.Top):
		next = 0
	case key.Matches(msg, keys.Nav.Bottom):
		next = n - 1
	default:
		return cursor, false
	}
	return max(0, min(next, n-1)), true
}

// window returns the first row to show so that cursor is on screen, given
// the previous first row, the number of rows that fit and the number of
// rows: it moves no more than it must.
func window(cursor, offset, height, n int) int {
	if height <= 0 || n <= height {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+height {
		offset = cursor - height + 1
	}
	return max(0, min(offset, n-height))
}
