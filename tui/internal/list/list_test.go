package list

import (
	"fmt"
	"io"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

// plain is a theme that draws no colour, so views read as text.
func plain() *theme.Theme {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return theme.New(r)
}

// names is a list of words, filtered by substring, the cursor following
// the word it is on.
func names(height int, words ...string) *Model[string] {
	m := New(plain(), Options[string]{
		Key:         func(s string) string { return s },
		Keep:        func(s, f string) bool { return strings.Contains(s, f) },
		Placeholder: "word",
	})
	m.SetHeight(height)
	m.SetItems(words)
	return m
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("row%02d", i)
	}
	return out
}

// press sends keys to m the way a terminal names them ("down", "pgdown",
// "home"; anything else is typed as runes).
func press(t *testing.T, m *Model[string], names ...string) Outcome {
	t.Helper()
	special := map[string]tea.KeyType{
		"up": tea.KeyUp, "down": tea.KeyDown, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "enter": tea.KeyEnter, "esc": tea.KeyEsc,
		"backspace": tea.KeyBackspace,
	}
	var did Outcome
	for _, n := range names {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(n)}
		if k, ok := special[n]; ok {
			msg = tea.KeyMsg{Type: k}
		}
		_, did = m.Update(msg)
	}
	return did
}

// screen is the rows on screen, the cursor's marked with ">".
func screen(m *Model[string]) string {
	var out []string
	for r, selected := range m.Shown() {
		if selected {
			r = ">" + r
		}
		out = append(out, r)
	}
	return strings.Join(out, " ")
}

func selected(t *testing.T, m *Model[string]) string {
	t.Helper()
	r, ok := m.Selected()
	if !ok {
		return "(none)"
	}
	return r
}

func TestTheCursorStaysOnARow(t *testing.T) {
	m := names(3, "a", "b", "c")
	if did := press(t, m, "up"); did != Moved || selected(t, m) != "a" {
		t.Errorf("up at the top: %v, cursor on %s; want Moved, a", did, selected(t, m))
	}
	press(t, m, "down", "down", "down", "down")
	if got := selected(t, m); got != "c" {
		t.Errorf("down past the end leaves the cursor on %s, want c", got)
	}
	press(t, m, "end")
	m.SetItems([]string{"a", "b"}) // c is gone: the cursor stays at the end
	if got := selected(t, m); got != "b" {
		t.Errorf("after the last row went, the cursor is on %s, want b", got)
	}
	m.SetItems(nil)
	if _, ok := m.Selected(); ok || m.Len() != 0 || screen(m) != "" {
		t.Errorf("an empty list has a row selected or shown: %q", screen(m))
	}
	if did := press(t, m, "down"); did != Moved {
		t.Errorf("down in an empty list: %v, want Moved", did)
	}
}

func TestTheWindowFollowsTheCursor(t *testing.T) {
	m := names(3, numbered(10)...)
	for _, c := range []struct {
		keys []string
		want string
	}{
		{nil, ">row00 row01 row02"},
		{[]string{"down", "down"}, "row00 row01 >row02"},
		{[]string{"down"}, "row01 row02 >row03"},                 // one row on, no more
		{[]string{"pgdown"}, "row04 row05 >row06"},               // a page is the height
		{[]string{"up"}, "row04 >row05 row06"},                   // inside the window: it stays
		{[]string{"up", "up"}, ">row03 row04 row05"},             // above it: it follows
		{[]string{"end"}, "row07 row08 >row09"},                  // end
		{[]string{"pgup"}, ">row06 row07 row08"},                 // up a page
		{[]string{"pgup", "pgup", "pgup"}, ">row00 row01 row02"}, // past the top
		{[]string{"G"}, "row07 row08 >row09"},                    // vi's end
		{[]string{"g"}, ">row00 row01 row02"},                    // vi's home
		{[]string{"pgdown", "pgdown", "pgdown", "pgdown"}, "row07 row08 >row09"},
		{[]string{"home"}, ">row00 row01 row02"},
		{[]string{"j", "j", "j", "k"}, "row01 >row02 row03"},
	} {
		press(t, m, c.keys...)
		if got := screen(m); got != c.want {
			t.Fatalf("after %v the screen shows %q, want %q", c.keys, got, c.want)
		}
	}
	press(t, m, "end")
	m.SetHeight(2) // the terminal shrank: the cursor is still on screen
	if got := screen(m); got != "row08 >row09" {
		t.Errorf("after shrinking to 2 rows the screen shows %q, want %q", got, "row08 >row09")
	}
	m.SetHeight(20) // taller than the list: everything, from the top
	if got := screen(m); !strings.HasPrefix(got, "row00 ") || !strings.HasSuffix(got, ">row09") {
		t.Errorf("with room for every row the screen shows %q", got)
	}
}

func TestTheFilterNarrowsAndKeepsTheSelection(t *testing.T) {
	m := names(5, "alpha", "beta", "gamma", "delta", "epsilon")
	press(t, m, "down", "down", "down") // delta
	if did := press(t, m, "/"); did != Handled || !m.Filtering() {
		t.Fatalf("/ gave %v, filtering %v; want Handled, true", did, m.Filtering())
	}
	if did := press(t, m, "t"); did != Filtered {
		t.Errorf("typing in the filter gave %v, want Filtered", did)
	}
	if got := screen(m); got != "beta >delta" {
		t.Errorf("filter t shows %q, want %q: the cursor stays on delta", got, "beta >delta")
	}
	press(t, m, "x") // nothing matches "tx"
	if m.Len() != 0 || selected(t, m) != "(none)" {
		t.Errorf("filter tx shows %q", screen(m))
	}
	press(t, m, "backspace") // back to "t": the cursor finds delta again
	if got := screen(m); got != "beta >delta" {
		t.Errorf("after backspace the screen shows %q, want %q", got, "beta >delta")
	}
	press(t, m, "backspace", "m") // "m": gamma only; delta is filtered out
	if got := screen(m); got != ">gamma" {
		t.Errorf("filter m shows %q, want %q", got, ">gamma")
	}
	if did := press(t, m, "enter"); did != Handled || m.Filtering() || m.FilterText() != "m" {
		t.Errorf("enter gave %v, filtering %v, text %q; want Handled, false, m", did, m.Filtering(), m.FilterText())
	}
	if got := m.FilterTitle(); got != "/m" {
		t.Errorf("the title shows the filter as %q, want /m", got)
	}
	if did := press(t, m, "esc"); did != Handled || m.FilterText() != "" {
		t.Errorf("esc with a filter gave %v, text %q; want Handled and no filter", did, m.FilterText())
	}
	if got := screen(m); got != "alpha beta >gamma delta epsilon" {
		t.Errorf("without the filter the screen shows %q", got)
	}
	if did := press(t, m, "esc"); did != NotMine {
		t.Errorf("esc with no filter gave %v, want NotMine: it is the view's", did)
	}
}

func TestEscWhileTypingDropsTheFilter(t *testing.T) {
	m := names(5, "alpha", "beta")
	press(t, m, "/", "b")
	if !strings.Contains(m.FilterTitle(), "b") {
		t.Errorf("while typing the title shows %q, want the input with b", m.FilterTitle())
	}
	if did := press(t, m, "esc"); did != Handled || m.Filtering() || m.FilterText() != "" || m.Len() != 2 {
		t.Errorf("esc while typing: %v, filtering %v, text %q, %d rows", did, m.Filtering(), m.FilterText(), m.Len())
	}
	if got := m.FilterTitle(); got != "" {
		t.Errorf("with no filter the title shows %q", got)
	}
}

func TestWhileTypingEveryKeyIsText(t *testing.T) {
	m := names(5, "gig", "jig", "kg")
	press(t, m, "/", "j", "g")
	if m.FilterText() != "jg" {
		t.Errorf("typing j and g gives the filter %q, want jg: they do not move", m.FilterText())
	}
}

func TestTheFilterTextIsTrimmedAndLowerCase(t *testing.T) {
	var seen string
	m := New(plain(), Options[string]{
		Keep:        func(s, f string) bool { seen = f; return strings.Contains(s, f) },
		Placeholder: "word",
	})
	m.SetItems([]string{"nightly"})
	m.SetFilter("  NIGHT ")
	if seen != "night" || m.Len() != 1 {
		t.Errorf("Keep got %q and kept %d rows, want %q and 1", seen, m.Len(), "night")
	}
}

func TestOtherKeysAreTheViews(t *testing.T) {
	m := names(5, "a", "b")
	for _, k := range []string{"r", "enter", "c", ":"} {
		if did := press(t, m, k); did != NotMine {
			t.Errorf("%q gave %v, want NotMine", k, did)
		}
	}
	noFilter := New(plain(), Options[string]{})
	noFilter.SetItems([]string{"a"})
	if _, did := noFilter.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/")}); did != NotMine || noFilter.Filtering() {
		t.Errorf("/ in a list with no filter gave %v, filtering %v", did, noFilter.Filtering())
	}
}

func TestWithoutAKeyTheCursorKeepsItsPlace(t *testing.T) {
	m := New(plain(), Options[string]{})
	m.SetHeight(5)
	m.SetItems([]string{"a", "b", "c"})
	m.Update(tea.KeyMsg{Type: tea.KeyDown})
	m.SetItems([]string{"x", "a", "b", "c"})
	if got, _ := m.Selected(); got != "a" {
		t.Errorf("the cursor is on %s, want a: the second row, where it was", got)
	}
}

func TestForgetKeepsTheCursorsRowForTheReload(t *testing.T) {
	m := names(5, "a", "b", "c")
	press(t, m, "down", "down") // c
	m.Forget()
	if m.Len() != 0 || selected(t, m) != "(none)" {
		t.Fatalf("after Forget the list shows %q", screen(m))
	}
	m.SetHeight(4) // a resize while reloading
	m.SetItems([]string{"new", "a", "b", "c"})
	if got := selected(t, m); got != "c" {
		t.Errorf("after the reload the cursor is on %s, want c", got)
	}
}
