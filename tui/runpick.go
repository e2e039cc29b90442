package tui

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// :run ID opens a run by its whole id, or by a part an operator typed:
// the start of the id, or its end (the console shows the last 8
// characters). One match opens; several are listed to pick from.

// maxRunMatches is how many matches :run lists.
const maxRunMatches = 10

type runMatchesMsg struct {
	part string
	runs []api.Run
	more bool // more than maxRunMatches
	err  error
}

// findRun looks for the runs whose id starts or ends with part.
func (m *Model) findRun(arg string) tea.Cmd {
	prefix, err := api.ParseRunIDPrefix(arg)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), api.ErrRunIDPrefix.Error()+": ")
		return noteErr("“" + grid.Line(arg) + "” is not part of a run id: " + why)
	}
	if len(prefix) == api.RunIDLength {
		return func() tea.Msg { return session.OpenRunMsg{ID: prefix} }
	}
	c := m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out := runMatchesMsg{part: prefix}
		seen := map[string]bool{}
		for _, q := range []api.RunQuery{{IDSuffix: prefix, Limit: maxRunMatches + 1}, {IDPrefix: prefix, Limit: maxRunMatches + 1}} {
			page, err := c.Runs(ctx, q)
			if err != nil {
				out.err = err
				return out
			}
			for _, r := range page.Items {
				if !seen[r.ID] {
					seen[r.ID] = true
					out.runs = append(out.runs, r)
				}
			}
		}
		if len(out.runs) > maxRunMatches {
			out.runs, out.more = out.runs[:maxRunMatches], true
		}
		return out
	}
}

// runMatches opens the one run found, or lists the several.
func (m *Model) runMatches(msg runMatchesMsg) tea.Cmd {
	switch {
	case msg.err != nil:
		return func() tea.Msg { return session.Fail("find run "+msg.part, msg.err) }
	case len(msg.runs) == 0:
		return noteErr("no run id starts or ends with “" + msg.part + "”")
	case len(msg.runs) == 1:
		id := msg.runs[0].ID
		return func() tea.Msg { return session.OpenRunMsg{ID: id} }
	}
	return m.push(&runPick{s: m.s, part: msg.part, runs: msg.runs, more: msg.more})
}

// runPick lists the runs an ambiguous :run matched, to open one.
type runPick struct {
	s      *session.Context
	part   string
	runs   []api.Run
	more   bool
	cursor int
	w, h   int
}

type runPickKeys struct{ Open key.Binding }

func (k runPickKeys) ShortHelp() []key.Binding { return []key.Binding{k.Open} }
func (k runPickKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Open, keys.Nav.Up, keys.Nav.Down}}
}

var runPickKeyMap = runPickKeys{Open: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open"))}

func (p *runPick) Init() tea.Cmd              { return nil }
func (p *runPick) Reload() tea.Cmd            { return nil }
func (p *runPick) Events([]api.Event) tea.Cmd { return nil }
func (p *runPick) SetSize(w, h int)           { p.w, p.h = w, h }
func (p *runPick) Title() string              { return "Runs matching " + p.part }
func (p *runPick) Capturing() bool            { return false }
func (p *runPick) Help() help.KeyMap          { return runPickKeyMap }

func (p *runPick) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, keys.Nav.Up):
		p.cursor = max(0, p.cursor-1)
	case key.Matches(k, keys.Nav.Down):
		p.cursor = min(len(p.runs)-1, p.cursor+1)
	case key.Matches(k, runPickKeyMap.Open):
		// Over the list: esc on the run comes back to pick another.
		id := p.runs[p.cursor].ID
		return func() tea.Msg { return session.OpenRunMsg{ID: id} }
	}
	return nil
}

func (p *runPick) View() string {
	t := p.s.Theme
	head := "Runs whose id starts or ends with " + p.part + ": " + strconv.Itoa(len(p.runs))
	if p.more {
		head += " shown, more: type more of the id"
	}
	lines := []string{t.Title.Render(grid.Fit1(head, p.w, false)), ""}
	now := p.s.Local(p.s.Clock())
	for i, r := range p.runs {
		marker := "  "
		if i == p.cursor {
			marker = t.Accent.Render("> ")
		}
		created := session.Stamp(now, p.s.Local(r.CreatedAt))
		row := marker + r.ID + "  " + t.Status(r.Status).Render(grid.Fit1(session.StatusText(&r), 11, false)) +
			" " + grid.Fit1(created, 12, false) + " " + grid.Line(r.Rule)
		lines = append(lines, grid.Fit1(row, p.w, false))
	}
	return grid.Pad(strings.Join(lines, "\n"), p.h)
}
