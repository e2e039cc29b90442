package rundetail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// maxChainKeys is how many chained runs the digit keys open.
const maxChainKeys = 9

// chainedRun is one run the shown run's chains started. Rule is "" until
// the runs are loaded (GET /runs/{id} gives only their ids and states).
type chainedRun struct {
	ID, Rule string
	Status   api.RunStatus
}

type parentMsg struct {
	id  string // the run shown when asked
	run api.Run
	err error
}

type chainedMsg struct {
	id   string
	runs []api.Run // newest first, as GET /runs lists them
	err  error
}

// loadChain fetches what the chain lines show beyond r: its parent's rule,
// and the rules of the runs its chains started.
func (m *Model) loadChain(r api.Run) tea.Cmd {
	c, id := m.s.Client, m.id
	var cmds []tea.Cmd
	if r.ParentRun != "" && (m.parent == nil || m.parent.ID != r.ParentRun) {
		parent := r.ParentRun
		cmds = append(cmds, func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			p, err := c.Run(ctx, parent)
			return parentMsg{id: id, run: p, err: err}
		})
	}
	if len(r.Chained) > 0 {
		cmds = append(cmds, func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			page, err := c.Runs(ctx, api.RunQuery{Parent: id, Limit: 1000})
			return chainedMsg{id: id, runs: page.Items, err: err}
		})
	}
	return tea.Batch(cmds...)
}

// setChained takes the chained runs from GET /runs/{id}, keeping the rules
// already known.
func (m *Model) setChained(summaries []api.RunSummary) {
	rules := map[string]string{}
	for _, c := range m.chained {
		rules[c.ID] = c.Rule
	}
	m.chained = m.chained[:0]
	for _, s := range summaries {
		m.chained = append(m.chained, chainedRun{ID: s.ID, Rule: rules[s.ID], Status: s.Status})
	}
}

// chainedLoaded takes the chained runs as GET /runs?parent= lists them.
func (m *Model) chainedLoaded(runs []api.Run) {
	m.chained = m.chained[:0]
	for _, r := range slices.Backward(runs) {
		m.chained = append(m.chained, chainedRun{ID: r.ID, Rule: r.Rule, Status: r.Status})
	}
}

// followChain keeps the chain lines up to date from the stream: a chained
// run's new state or a new chained run, and the parent's.
func (m *Model) followChain(r *api.Run) {
	if m.parent != nil && r.ID == m.parent.ID && session.Supersedes(m.parent, r) {
		p := *r
		m.parent = &p
	}
	// A retry of a chained run keeps its parent but is not one the chains
	// started: it is among its first attempt's.
	if r.ParentRun == "" || r.ParentRun != m.id || r.Trigger != api.TriggerChain {
		return
	}
	for i, c := range m.chained {
		if c.ID == r.ID {
			m.chained[i] = chainedRun{ID: r.ID, Rule: r.Rule, Status: r.Status}
			return
		}
	}
	m.chained = append(m.chained, chainedRun{ID: r.ID, Rule: r.Rule, Status: r.Status})
}

// chainLines say where the run sits in a chain: "Started by run 0193abcd
// (rule nightly)" for a chained run, and the runs its chains started,
// numbered for the digit keys: "Chained 1 report 0193ef01 succeeded ·
// 2 cleanup 0193ef02 running".
func (m *Model) chainLines() []string {
	t := m.s.Theme
	r := m.run
	var lines []string
	if r.ParentRun != "" {
		by := "run " + session.ShortID(r.ParentRun)
		if m.parent != nil && m.parent.ID == r.ParentRun {
			by += " (rule " + m.parent.Rule + ", " + t.Status(m.parent.Status).Render(string(m.parent.Status)) + ")"
		}
		lines = append(lines, label(t.Muted.Render, "Started by", by))
	}
	if len(m.chained) == 0 {
		return lines
	}
	line := func(ids bool) string {
		n := min(len(m.chained), maxChainKeys)
		parts := make([]string, 0, n+1)
		for i, c := range m.chained[:n] {
			text := fmt.Sprint(i + 1)
			if c.Rule != "" {
				text += " " + c.Rule
			}
			if ids || c.Rule == "" {
				text += " " + session.ShortID(c.ID)
			}
			parts = append(parts, text+" "+t.Status(c.Status).Render(string(c.Status)))
		}
		if more := len(m.chained) - n; more > 0 {
			parts = append(parts, fmt.Sprintf("and %d more", more))
		}
		return label(t.Muted.Render, "Chained", strings.Join(parts, t.Muted.Render(" · ")))
	}
	if l := line(true); ansi.StringWidth(l) <= m.w {
		return append(lines, l)
	}
	return append(lines, line(false))
}

// openChained opens the n-th (from 1) chained run.
func (m *Model) openChained(n int) tea.Cmd {
	if n < 1 || n > len(m.chained) || n > maxChainKeys {
		return nil
	}
	id := m.chained[n-1].ID
	return func() tea.Msg { return session.OpenRunMsg{ID: id} }
}

// openParent opens the run whose chain started this one.
func (m *Model) openParent() tea.Cmd {
	if m.run == nil || m.run.ParentRun == "" {
		return nil
	}
	id := m.run.ParentRun
	return func() tea.Msg { return session.OpenRunMsg{ID: id} }
}
