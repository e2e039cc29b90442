// Package describe is the console's describe view of one run or one rule:
// every field the agent answers, whole. Long values (an error, a
// parameter, a chain, a notification target, the run policy) wrap at the
// screen's edge instead of being cut; times show in the console's zone
// and in UTC; the list keys scroll. v switches to the raw JSON, indented,
// as the agent answered it (secrets masked as the agent masks them). y
// copies the run's id or the rule's name, Y the JSON, through the
// terminal's clipboard sequence.
//
// The fields come from the agent's JSON, not from the console's idea of a
// run or a rule, so a field the agent adds shows without a change here.
// Everything drawn is cleaned (package safe): the JSON by safe.JSON, each
// string in it by safe.Text after it is decoded.
package describe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// KeyMap is the describe view's keys.
type KeyMap struct {
	Raw, CopyID, CopyJSON key.Binding
}

// ShortHelp is the footer's keys.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Raw, k.CopyID, k.CopyJSON, keys.Nav.Down}
}

// FullHelp is every key of the view.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Raw, k.CopyID, k.CopyJSON}, keys.NavHelp()}
}

// Model is the describe view of one run or one rule.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	// run is the run's id, or rule the rule's name: which one is shown.
	run, rule string

	doc     json.RawMessage // the agent's answer, cleaned by safe.JSON
	err     error           // the last fetch failed (doc is kept)
	gen     int             // bumped per fetch; older answers are dropped
	loading bool
	again   bool // an event came while loading: fetch once more after

	raw    bool // show the JSON
	offset int  // first line on screen
}

// NewRun returns the describe view of the run id; Init loads it.
func NewRun(s *session.Context, id string) *Model { return newModel(s, id, "") }

// NewRule returns the describe view of the rule called name.
func NewRule(s *session.Context, name string) *Model { return newModel(s, "", name) }

func newModel(s *session.Context, run, rule string) *Model {
	return &Model{s: s, run: run, rule: rule, keys: KeyMap{
		Raw:      key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "raw JSON")),
		CopyID:   keys.Item.CopyID,
		CopyJSON: key.NewBinding(key.WithKeys("Y"), key.WithHelp("Y", "copy JSON")),
	}}
}

// Title names the view.
func (m *Model) Title() string {
	if m.rule != "" {
		return "Describe rule " + m.rule
	}
	return "Describe run " + session.ShortID(m.run)
}

// Help is the view's keys for the footer and the help screen.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing is false: the view has no text input.
func (m *Model) Capturing() bool { return false }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.clamp()
}

type docMsg struct {
	gen int
	doc json.RawMessage
	err error
}

// Init loads the run or the rule.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload fetches the run or the rule again.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	m.loading, m.again = true, false
	gen, c, run, rule := m.gen, m.s.Client, m.run, m.rule
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var doc json.RawMessage
		var err error
		if rule != "" {
			doc, err = c.RuleJSON(ctx, rule)
		} else {
			doc, err = c.RunJSON(ctx, run)
		}
		return docMsg{gen: gen, doc: doc, err: err}
	}
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case docMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.loading = false
		if msg.err != nil {
			m.err = msg.err
		} else {
			m.err, m.doc = nil, msg.doc
		}
		m.clamp()
		if m.again {
			return m.Reload()
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

// Events fetches the run or the rule again when the stream says it
// changed (a log line does not change a run); while a fetch is under way,
// once more after it.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	changed := false
	for _, ev := range evs {
		switch {
		case m.run != "" && ev.Run != nil && ev.Run.ID == m.run && ev.Type != api.EventRunLog:
			changed = true
		case m.rule != "" && ev.Rule != nil && ev.Rule.Name == m.rule,
			m.rule != "" && ev.RuleName == m.rule:
			changed = true
		}
	}
	switch {
	case !changed:
		return nil
	case m.loading:
		m.again = true
		return nil
	}
	return m.Reload()
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	page := m.bodyHeight()
	if next, ok := keys.Scroll(msg, m.offset, page); ok {
		m.offset = next
		m.clamp()
		return nil
	}
	switch {
	case key.Matches(msg, m.keys.Raw):
		m.raw, m.offset = !m.raw, 0
		// The footer offers the other mode.
		if m.raw {
			m.keys.Raw.SetHelp("v", "fields")
		} else {
			m.keys.Raw.SetHelp("v", "raw JSON")
		}
	case key.Matches(msg, m.keys.CopyID):
		if m.rule != "" {
			return m.s.Copy("rule "+m.rule, m.rule)
		}
		return m.s.Copy("run "+session.ShortID(m.run), m.run)
	case key.Matches(msg, m.keys.CopyJSON):
		if m.doc == nil {
			return session.Note("nothing to copy yet")
		}
		what := "run " + session.ShortID(m.run) + " as JSON"
		if m.rule != "" {
			what = "rule " + m.rule + " as JSON"
		}
		return m.s.Copy(what, string(indent(m.doc)))
	}
	m.clamp()
	return nil
}

// bodyHeight is how many lines of fields fit under the title.
func (m *Model) bodyHeight() int { return max(1, m.h-1) }

func (m *Model) clamp() {
	m.offset = max(0, min(m.offset, len(m.lines())-m.bodyHeight()))
}

// lines is the whole text of the view at its width, before scrolling.
func (m *Model) lines() []string {
	if m.doc == nil {
		return nil
	}
	if m.raw {
		return rawLines(m.doc, m.w)
	}
	return plainLines(m.s, m.doc, m.w)
}

// View renders the title and the lines on screen.
func (m *Model) View() string {
	t := m.s.Theme
	what := "Run " + m.run
	if m.rule != "" {
		what = "Rule " + m.rule
	}
	all := m.lines()
	body := m.bodyHeight()
	// The right of the title says where the screen is and what v does,
	// as much of it as fits.
	mode, toggle := "fields", " · v: raw JSON"
	if m.raw {
		mode, toggle = "raw JSON", " · v: fields"
	}
	if len(all) > body {
		mode = fmt.Sprintf("lines %d-%d of %d · ", m.offset+1, min(len(all), m.offset+body), len(all)) + mode
	}
	left := t.Title.Render(grid.Line(what))
	title := left
	for _, right := range []string{mode + toggle, mode} {
		if gap := m.w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 2 {
			title += strings.Repeat(" ", gap) + t.Muted.Render(right)
			break
		}
	}
	lines := []string{grid.Fit1(title, m.w, false)}
	switch {
	case m.err != nil && m.doc == nil:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot load it: "+session.Explain(m.err), m.w, false)))
	case m.err != nil:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot load it again (shown as it was): "+session.Explain(m.err), m.w, false)))
		body--
	case m.doc == nil:
		lines = append(lines, t.Muted.Render("Loading…"))
	}
	if m.doc != nil {
		end := min(len(all), m.offset+max(0, body))
		lines = append(lines, all[m.offset:end]...)
	}
	return grid.Pad(strings.Join(lines, "\n"), m.h)
}

// indent is doc indented by two spaces. json.Indent keeps the escapes
// safe.JSON wrote, so it stays safe to draw; a document it cannot read
// (safe.JSON makes every answer JSON, so none) is returned as it is.
func indent(doc json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return doc
	}
	return b.Bytes()
}

// rawLines is the indented JSON, each line broken at the width.
func rawLines(doc json.RawMessage, w int) []string {
	var out []string
	for _, l := range strings.Split(string(indent(doc)), "\n") {
		l = safe.Text(l) // a no-op on safe.JSON's output: a second guard
		if w > 0 && ansi.StringWidth(l) > w {
			out = append(out, strings.Split(ansi.Hardwrap(l, w, true), "\n")...)
			continue
		}
		out = append(out, l)
	}
	return out
}
