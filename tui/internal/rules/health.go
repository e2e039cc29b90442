package rules

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// sparkCell is one run's cell in a sparkline: low for a success, full for
// a failure, half for a run cancelled or interrupted.
func sparkCell(s api.RunStatus) string {
	switch s {
	case api.StatusSucceeded:
		return "▁"
	case api.StatusFailed:
		return "█"
	}
	return "▄"
}

// sparkline draws the last w of recent (oldest first), one cell each,
// with style (nil: none) applied to each cell.
func sparkline(recent []api.RunStatus, w int, style func(api.RunStatus, string) string) string {
	if len(recent) > w {
		recent = recent[len(recent)-w:]
	}
	var b strings.Builder
	for _, s := range recent {
		c := sparkCell(s)
		if style != nil {
			c = style(s, c)
		}
		b.WriteString(c)
	}
	return b.String()
}

// recentCell is r's sparkline fitted right in w cells, each run's cell
// in its status's colour.
func (m *Model) recentCell(r *api.Rule, w int) string {
	n := min(w, len(r.Health.Recent))
	return strings.Repeat(" ", w-n) + sparkline(r.Health.Recent, w, m.styledCell)
}

// styledCell is a sparkline cell in its status's colour. The few there
// are are rendered once: a frame draws twenty a row, and rendering each
// anew cost a 500-rule list at 160 columns three quarters of its frame.
func (m *Model) styledCell(s api.RunStatus, cell string) string {
	if c, ok := m.health.cells[s]; ok {
		return c
	}
	if m.health.cells == nil {
		m.health.cells = map[api.RunStatus]string{}
	}
	c := m.s.Theme.Status(s).Render(cell)
	m.health.cells[s] = c
	return c
}

// healthLine is the selected rule's health in words, for the pane under
// the list (where a narrow terminal, which has no health columns, shows
// it).
func (m *Model) healthLine(r api.Rule, now time.Time) string {
	h := r.Health
	if len(h.Recent) == 0 && h.LastSuccess == nil && h.LastFailure == nil {
		return "Health: no run has ended yet"
	}
	out := "Health: " + sparkline(h.Recent, api.HealthWindow, m.styledCell)
	if len(h.Recent) > 0 {
		out += fmt.Sprintf(" %d%% of %d ok", int(math.Round(h.SuccessRate*100)), len(h.Recent))
	}
	if h.MedianDuration != "" {
		out += " · median " + session.RunTime(h.MedianDuration)
	}
	ok := "never"
	if h.LastSuccess != nil {
		ok = session.Ago(now, *h.LastSuccess)
	}
	out += " · last ok " + ok
	if h.LastFailure != nil {
		out += " · last failure " + session.Ago(now, *h.LastFailure)
	}
	return out
}

// healthRefetchAfter is how long after a run of a rule ends its health is
// fetched again: the finishes of that time share one fetch.
const healthRefetchAfter = 500 * time.Millisecond

// healthRefetchAll is how many rules with ended runs make one fetch of
// the whole list rather than one of each.
const healthRefetchAll = 8

// healthState is what keeps the rules' health up to date between list
// fetches: the rules whose runs ended since the last health fetch.
type healthState struct {
	dirty   map[string]bool
	pending bool // a fetch is on its way
	// cells are the sparkline's cells by status, in colour (styledCell).
	cells map[api.RunStatus]string
}

type healthTickMsg struct{}

type healthMsg struct {
	rules []api.Rule
	err   error
}

// healthEvents marks the rules whose runs ended in evs, and asks for their
// health a moment later: a rule's health (its median above all) is the
// agent's to work out, and a fetch of a few rules is cheap.
func (m *Model) healthEvents(evs []api.Event) tea.Cmd {
	for _, ev := range evs {
		if ev.Type != api.EventRunFinished || ev.Run == nil {
			continue
		}
		if m.health.dirty == nil {
			m.health.dirty = map[string]bool{}
		}
		m.health.dirty[ev.Run.Rule] = true
	}
	if len(m.health.dirty) == 0 || m.health.pending {
		return nil
	}
	m.health.pending = true
	return tea.Tick(healthRefetchAfter, func(time.Time) tea.Msg { return healthTickMsg{} })
}

// fetchHealth fetches the marked rules (all of them when there are many).
func (m *Model) fetchHealth() tea.Cmd {
	names := make([]string, 0, len(m.health.dirty))
	for n := range m.health.dirty {
		names = append(names, n)
	}
	m.health.dirty = nil
	c := m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if len(names) > healthRefetchAll {
			rules, err := c.Rules(ctx)
			return healthMsg{rules: rules, err: err}
		}
		var out []api.Rule
		for _, n := range names {
			r, err := c.Rule(ctx, n)
			if err != nil {
				continue // deleted meanwhile, or the agent is away: the next list fetch has it
			}
			out = append(out, r)
		}
		return healthMsg{rules: out}
	}
}

// updateHealth handles the health messages; ok is false for others.
func (m *Model) updateHealth(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case healthTickMsg:
		return m.fetchHealth(), true
	case healthMsg:
		m.health.pending = false
		if msg.err == nil {
			for i := range msg.rules {
				m.setHealth(msg.rules[i])
			}
		}
		// Runs that ended while this fetch was on its way.
		return m.healthEvents(nil), true
	}
	return nil, false
}

// setHealth puts a fetched rule's last run and health in its row.
func (m *Model) setHealth(r api.Rule) {
	for _, have := range m.all {
		if have.Name == r.Name {
			if r.LastRun != nil && (have.LastRun == nil || have.LastRun.ID <= r.LastRun.ID) {
				have.LastRun = r.LastRun
			}
			have.Health = r.Health
			return
		}
	}
}

// keepHealth keeps in r (a rule from an event) the last run and health of
// the row it replaces when r lacks them: an agent that could not read
// them sends health.recent null.
func keepHealth(r *api.Rule, had *api.Rule) {
	if r.Health.Recent == nil {
		r.Health = had.Health
		if r.LastRun == nil {
			r.LastRun = had.LastRun
		}
	}
}
