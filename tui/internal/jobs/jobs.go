// Package jobs is the console's list of the jobs an agent offers: each
// job's description and parameters (type, required, default, choices,
// secret) and the rules that use it.
package jobs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// KeyMap is the jobs list's keys.
type KeyMap struct {
	Runs, New key.Binding
	s         *session.Context
}

// ShortHelp is the footer's keys.
func (k KeyMap) ShortHelp() []key.Binding {
	if k.s.CanAdmin() {
		return []key.Binding{k.Runs, k.New}
	}
	return []key.Binding{k.Runs}
}

// FullHelp is every key of the view.
func (k KeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp(), keys.NavHelp()} }

// Model is the jobs list.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	// list is the jobs by id. It has no filter, and its cursor keeps its
	// place, not its job, across reloads.
	list   *list.Model[api.Job]
	usedBy map[string][]string // job id -> rule names
	gen    int
	loaded bool
	err    error
}

// New returns the jobs list.
func New(s *session.Context) *Model {
	return &Model{s: s, usedBy: map[string][]string{}, list: list.New(s.Theme, list.Options[api.Job]{}), keys: KeyMap{
		Runs: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "runs")),
		New:  key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new rule with it")),
		s:    s,
	}}
}

// Title names the view.
func (m *Model) Title() string { return "Jobs" }

// Help is the view's keys.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing is false: the view has no input.
func (m *Model) Capturing() bool { return false }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.SetHeight(m.listHeight())
}

type loadedMsg struct {
	gen   int
	jobs  []api.Job
	rules []api.Rule
	err   error
}

// Init loads the jobs and the rules.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload fetches the jobs and the rules again.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	gen, c := m.gen, m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		jobs, err := c.Jobs(ctx)
		if err != nil {
			return loadedMsg{gen: gen, err: err}
		}
		rules, err := c.Rules(ctx)
		return loadedMsg{gen: gen, jobs: jobs, rules: rules, err: err}
	}
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.gen != m.gen {
			return nil
		}
		if msg.err != nil {
			m.err = msg.err
			return nil
		}
		m.err, m.loaded = nil, true
		jobs := msg.jobs
		sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
		m.usedBy = map[string][]string{}
		for _, r := range msg.rules {
			m.usedBy[r.Job] = append(m.usedBy[r.Job], r.Name)
		}
		for _, names := range m.usedBy {
			sort.Strings(names)
		}
		m.list.SetItems(jobs)
		m.list.SetHeight(m.listHeight()) // it grows with the jobs
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

// Events keeps "used by" right as rules come and go.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	for _, ev := range evs {
		switch ev.Type {
		case api.EventRuleCreated, api.EventRuleChanged, api.EventRuleDeleted:
			return m.Reload()
		}
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if _, did := m.list.Update(msg); did != list.NotMine {
		return nil
	}
	j, ok := m.list.Selected()
	switch {
	case !ok:
		return nil
	case key.Matches(msg, m.keys.Runs):
		return func() tea.Msg { return session.JumpMsg{View: session.ViewRuns, Args: []string{"job:" + j.ID}} }
	case key.Matches(msg, m.keys.New) && m.s.CanAdmin():
		m.s.Open(session.EditRuleMsg{Job: j.ID})
		return nil
	}
	return nil
}

// listHeight is the rows the list gets: up to half the view, the rest is
// the selected job's parameters.
func (m *Model) listHeight() int { return max(3, min(m.list.Len(), (m.h-2)/2)) }

var columns = []grid.Column{
	{Title: "", Width: 1},
	{Title: "ID", Width: 16, Flex: 1},
	{Title: "DESCRIPTION", Width: 30, Flex: 4},
	{Title: "PARAMS", Width: 6, Right: true},
	{Title: "RULES", Width: 5, Right: true},
}

var paramColumns = []grid.Column{
	{Title: "  PARAMETER", Width: 14, Flex: 1},
	{Title: "TYPE", Width: 8},
	{Title: "REQUIRED", Width: 8},
	{Title: "DEFAULT", Width: 10, Flex: 1},
	{Title: "CHOICES", Width: 14, Flex: 1, MinTotal: 100},
	{Title: "DESCRIPTION", Width: 16, Flex: 3},
}

// View renders the jobs on screen and the selected one's parameters.
func (m *Model) View() string {
	t := m.s.Theme
	lines := []string{t.Title.Render("Jobs") + " " + t.Muted.Render(fmt.Sprint(m.list.Len()))}
	l := grid.Fit(columns, m.w)
	lines = append(lines, t.Column.Render(l.Header()))
	switch {
	case m.err != nil:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot load jobs: "+session.Explain(m.err), m.w, false)))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case !m.loaded:
		lines = append(lines, t.Muted.Render("Loading jobs…"))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case m.list.Len() == 0:
		lines = append(lines, t.Muted.Render("This agent offers no jobs."))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	}
	var rows []string
	for j, selected := range m.list.Shown() {
		marker := " "
		if selected {
			marker = ">"
		}
		row := l.Row([]string{marker, j.ID, j.Description, fmt.Sprint(len(j.Parameters)), fmt.Sprint(len(m.usedBy[j.ID]))}, nil)
		if selected {
			row = t.Selected.Render(row)
		}
		rows = append(rows, row)
	}
	lines = append(lines, grid.PadLines(rows, m.listHeight())...)
	lines = append(lines, m.detail()...)
	return grid.Pad(strings.Join(lines, "\n"), m.h)
}

func (m *Model) detail() []string {
	t := m.s.Theme
	j, _ := m.list.Selected() // View draws the detail only when there are jobs
	rule := "── " + grid.Line(j.ID) + " "
	out := []string{t.Border.Render(rule + strings.Repeat("─", max(0, m.w-len([]rune(rule)))))}
	used := "Used by no rule."
	if names := m.usedBy[j.ID]; len(names) > 0 {
		used = "Used by " + strings.Join(names, ", ")
	}
	out = append(out, grid.Fit1(used, m.w, false))
	if j.Source != "" {
		// A job of the agent's jobs file (JOBBRIDGE_JOBS_FILE), not Go.
		out = append(out, t.Muted.Render(grid.Fit1("A "+j.Kind+" job of the jobs file, declared at "+j.Source, m.w, false)))
	}
	if len(j.Parameters) == 0 {
		return append(out, t.Muted.Render("No parameters."))
	}
	l := grid.Fit(paramColumns, m.w)
	out = append(out, t.Column.Render(l.Header()))
	for _, p := range j.Parameters {
		req := "no"
		if p.Required {
			req = "yes"
		}
		typ := p.Type
		if p.Secret {
			typ += "*"
		}
		out = append(out, l.Row([]string{"  " + p.Name, typ, req, p.Default, strings.Join(p.Choices, ","), p.Description}, nil))
	}
	for _, p := range j.Parameters {
		if p.Secret {
			out = append(out, t.Muted.Render("* secret: never shown back, masked in runs"))
			break
		}
	}
	return out
}
