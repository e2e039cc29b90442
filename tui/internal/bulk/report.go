package bulk

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// ReportMsg asks the root to open the report of a bulk action's failures
// over the list.
type ReportMsg struct {
	Title, Summary string
	Failures       []Failure
}

// Report shows a bulk action's failures whole: each row's name and the
// agent's reason, wrapped to the width, scrolled with the list keys.
type Report struct {
	s      *session.Context
	msg    ReportMsg
	w, h   int
	offset int
}

// NewReport returns the report of msg.
func NewReport(s *session.Context, msg ReportMsg) *Report { return &Report{s: s, msg: msg} }

// Init does nothing: the report has all it shows.
func (r *Report) Init() tea.Cmd { return nil }

// Reload does nothing: the failures are what they were.
func (r *Report) Reload() tea.Cmd { return nil }

// Events are not the report's.
func (r *Report) Events([]api.Event) tea.Cmd { return nil }

// Title names the view.
func (r *Report) Title() string { return "Bulk action" }

// Capturing is false: the report has no input.
func (r *Report) Capturing() bool { return false }

// SetSize gives the view its width and height.
func (r *Report) SetSize(w, h int) { r.w, r.h = w, h }

type reportKeys struct{}

func (reportKeys) ShortHelp() []key.Binding {
	return []key.Binding{keys.Nav.Down, keys.Nav.Up} // the root adds esc
}
func (reportKeys) FullHelp() [][]key.Binding { return [][]key.Binding{keys.NavHelp()} }

// Help is the view's keys.
func (r *Report) Help() help.KeyMap { return reportKeys{} }

// lines is the report wrapped to the width.
func (r *Report) lines() []string {
	t := r.s.Theme
	out := []string{t.Title.Render(grid.Line(r.msg.Title))}
	for _, l := range grid.Wrap(r.msg.Summary, max(10, r.w)) {
		out = append(out, t.Muted.Render(l))
	}
	out = append(out, "")
	for _, f := range r.msg.Failures {
		text := grid.Wrap(f.Item.Label+": "+f.Err, max(10, r.w-2))
		for i, l := range text {
			if i == 0 {
				out = append(out, t.Failure.Render("✗ "+l))
			} else {
				out = append(out, "  "+l)
			}
		}
	}
	return out
}

// Update scrolls.
func (r *Report) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	n := len(r.lines())
	switch {
	case key.Matches(k, keys.Nav.Down):
		r.offset++
	case key.Matches(k, keys.Nav.Up):
		r.offset--
	case key.Matches(k, keys.Nav.PageDown):
		r.offset += max(1, r.h-1)
	case key.Matches(k, keys.Nav.PageUp):
		r.offset -= max(1, r.h-1)
	case key.Matches(k, keys.Nav.Top):
		r.offset = 0
	case key.Matches(k, keys.Nav.Bottom):
		r.offset = n
	}
	r.offset = max(0, min(r.offset, n-r.h))
	return nil
}

// View draws the lines on screen.
func (r *Report) View() string {
	lines := r.lines()
	if r.offset < len(lines) {
		lines = lines[r.offset:]
	}
	return strings.Join(grid.PadLines(lines, r.h), "\n")
}
