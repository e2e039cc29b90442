// Package rules is the console's list of rules: each with its job, its
// schedule and that schedule in words, the next fire time, the last run,
// whether it is enabled and its state in the scheduler backend. From here
// an operator runs a rule now (with its parameters or edited ones) and an
// admin creates, edits, enables, disables and deletes rules.
package rules

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// refreshEvery is how often the list is fetched again while nothing
// happens, so next fire times move on.
const refreshEvery = 30 * time.Second

// KeyMap is the rules list's keys.
type KeyMap struct {
	Runs, RunNow, RunWith, New, Edit, Delete, Toggle, ClearFilter key.Binding
	s                                                             *session.Context
}

// ShortHelp is the footer's keys, those the role may use.
func (k KeyMap) ShortHelp() []key.Binding {
	out := []key.Binding{k.Runs}
	if k.s.CanOperate() {
		out = append(out, k.RunNow)
	}
	if k.s.CanAdmin() {
		out = append(out, k.Toggle, k.New, k.Edit, k.Delete)
	}
	if !k.s.CanAdmin() {
		out = append(out, keys.Nav.Filter) // an admin's line is full; ? lists it
	}
	return out
}

// FullHelp is every key of the view the role may use.
func (k KeyMap) FullHelp() [][]key.Binding {
	out := []key.Binding{k.Runs, keys.Nav.Filter, k.ClearFilter}
	if k.s.CanOperate() {
		out = append(out, k.RunNow, k.RunWith)
	}
	if k.s.CanAdmin() {
		out = append(out, k.Toggle, k.New, k.Edit, k.Delete)
	}
	return [][]key.Binding{out, keys.NavHelp()}
}

// Model is the rules list.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	all       []api.Rule // by name
	rows      []int      // indexes into all that pass the filter
	filter    textinput.Model
	filtering bool

	cursor, offset int
	selected       string
	gen            int
	loaded         bool
	err            error
}

// New returns the rules list.
func New(s *session.Context) *Model {
	f := textinput.New()
	f.Prompt = "/"
	f.Placeholder = "name, job or schedule"
	s.Theme.Input(&f)
	return &Model{s: s, filter: f, keys: KeyMap{
		Runs:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "runs")),
		RunNow:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run")),
		RunWith:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "run with params")),
		New:         key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Edit:        key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		Delete:      key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		Toggle:      key.NewBinding(key.WithKeys(" ", "t"), key.WithHelp("space", "on/off")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		s:           s,
	}}
}

// Title names the view.
func (m *Model) Title() string { return "Rules" }

// Help is the view's keys for the footer and the help screen.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing reports whether the filter input has the keyboard.
func (m *Model) Capturing() bool { return m.filtering }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.clampCursor()
}

// SetFilter shows the rules whose name, job or schedule contain text.
func (m *Model) SetFilter(text string) {
	m.filter.SetValue(text)
	m.refresh()
}

type listMsg struct {
	gen   int
	rules []api.Rule
	err   error
}

type refreshMsg struct{ gen int }

// Init loads the rules and keeps them fresh.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload fetches the rules again.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	gen, c := m.gen, m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		rules, err := c.Rules(ctx)
		return listMsg{gen: gen, rules: rules, err: err}
	}
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case listMsg:
		if msg.gen != m.gen {
			return nil
		}
		gen := m.gen
		next := tea.Tick(refreshEvery, func(time.Time) tea.Msg { return refreshMsg{gen: gen} })
		if msg.err != nil {
			m.err = msg.err
			return next
		}
		m.err, m.loaded, m.all = nil, true, msg.rules
		m.sortAll()
		m.refresh()
		return next
	case refreshMsg:
		if msg.gen == m.gen {
			return m.Reload()
		}
	case triggeredMsg:
		return func() tea.Msg { return session.OpenRunMsg{ID: msg.run.ID} }
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) sortAll() {
	sort.Slice(m.all, func(i, j int) bool { return m.all[i].Name < m.all[j].Name })
}

func (m *Model) refresh() {
	f := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	m.rows = m.rows[:0]
	for i, r := range m.all {
		if f == "" || strings.Contains(strings.ToLower(r.Name+" "+r.Job+" "+r.Schedule+" "+r.ScheduleText), f) {
			m.rows = append(m.rows, i)
		}
	}
	if m.selected != "" {
		for i, idx := range m.rows {
			if m.all[idx].Name == m.selected {
				m.cursor = i
			}
		}
	}
	m.clampCursor()
}

func (m *Model) clampCursor() {
	m.cursor = max(0, min(m.cursor, len(m.rows)-1))
	if r, ok := m.Selected(); ok {
		m.selected = r.Name
	}
	m.offset = grid.Window(m.cursor, m.offset, m.listHeight(), len(m.rows))
}

// Selected returns the rule under the cursor.
func (m *Model) Selected() (api.Rule, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return api.Rule{}, false
	}
	return m.all[m.rows[m.cursor]], true
}

// Events applies rule changes, and run changes to each rule's last run.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	changed := false
	for _, ev := range evs {
		switch {
		case (ev.Type == api.EventRuleCreated || ev.Type == api.EventRuleChanged) && ev.Rule != nil:
			m.upsert(*ev.Rule)
			changed = true
		case ev.Type == api.EventRuleDeleted:
			for i, r := range m.all {
				if r.Name == ev.RuleName {
					m.all = append(m.all[:i], m.all[i+1:]...)
					changed = true
					break
				}
			}
		case ev.Run != nil && ev.Type != api.EventRunLog:
			for i := range m.all {
				r := &m.all[i]
				if r.Name != ev.Run.Rule {
					continue
				}
				last := r.LastRun
				if last == nil || last.ID < ev.Run.ID ||
					last.ID == ev.Run.ID && session.Supersedes(&api.Run{Status: last.Status}, ev.Run) {
					r.LastRun = &api.RunSummary{ID: ev.Run.ID, Status: ev.Run.Status, CreatedAt: ev.Run.CreatedAt, FinishedAt: ev.Run.FinishedAt}
				}
			}
		}
	}
	if changed {
		m.sortAll()
		m.refresh()
	}
	return nil
}

func (m *Model) upsert(r api.Rule) {
	for i := range m.all {
		if m.all[i].Name == r.Name {
			m.all[i] = r
			return
		}
	}
	m.all = append(m.all, r)
}

type triggeredMsg struct{ run api.Run }

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if m.filtering {
		switch msg.String() {
		case "enter":
			m.filtering = false
			m.filter.Blur()
			return nil
		case "esc":
			m.filtering = false
			m.filter.Blur()
			m.SetFilter("")
			return nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.refresh()
		return cmd
	}
	if next, ok := keys.Move(msg, m.cursor, m.listHeight(), len(m.rows)); ok {
		m.cursor = next
		m.clampCursor()
		return nil
	}
	r, has := m.Selected()
	c := m.s.Client
	switch {
	case key.Matches(msg, keys.Nav.Filter):
		m.filtering = true
		return m.filter.Focus()
	case key.Matches(msg, m.keys.ClearFilter) && m.filter.Value() != "":
		m.SetFilter("")
	case key.Matches(msg, m.keys.New) && m.s.CanAdmin():
		return func() tea.Msg { return session.EditRuleMsg{} }
	case !has:
		return nil
	case key.Matches(msg, m.keys.Runs):
		return func() tea.Msg { return session.JumpMsg{View: session.ViewRuns, Args: []string{"rule:" + r.Name}} }
	case key.Matches(msg, m.keys.RunNow) && m.s.CanOperate():
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			run, err := c.TriggerRule(ctx, r.Name, nil)
			if err != nil {
				return session.Fail("run "+r.Name+" now", err)
			}
			return triggeredMsg{run: run}
		}
	case key.Matches(msg, m.keys.RunWith) && m.s.CanOperate():
		return func() tea.Msg { return session.RunWithParamsMsg{Rule: r.Name} }
	case key.Matches(msg, m.keys.Edit) && m.s.CanAdmin():
		return func() tea.Msg { return session.EditRuleMsg{Name: r.Name} }
	case key.Matches(msg, m.keys.Toggle) && m.s.CanAdmin():
		on := !r.Enabled
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			verb := map[bool]string{true: "enabled", false: "disabled"}[on]
			if _, err := c.SetRuleEnabled(ctx, r.Name, on); err != nil {
				return session.Fail("set "+r.Name+" "+verb, err)
			}
			return session.NoteMsg{Text: "rule " + r.Name + " " + verb}
		}
	case key.Matches(msg, m.keys.Delete) && m.s.CanAdmin():
		yes := func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := c.DeleteRule(ctx, r.Name); err != nil {
				return session.Fail("delete rule "+r.Name, err)
			}
			return session.NoteMsg{Text: "rule " + r.Name + " deleted"}
		}
		return func() tea.Msg {
			return session.ConfirmMsg{Prompt: fmt.Sprintf("Delete rule %s? Its runs stay in the history.", r.Name), Yes: yes}
		}
	}
	return nil
}

// detailLines is the height of the pane under the list.
const detailLines = 4

func (m *Model) listHeight() int { return max(1, m.h-2-detailLines) }

var columns = []grid.Column{
	{Title: "", Width: 1},
	{Title: "NAME", Width: 12, Flex: 3},
	{Title: "JOB", Width: 8, Flex: 1},
	{Title: "SCHEDULE", Width: 16, Flex: 2},
	{Title: "IN WORDS", Width: 20, Flex: 3, MinTotal: 130},
	{Title: "NEXT", Width: 9},
	{Title: "LAST RUN", Width: 10},
	{Title: "ON", Width: 3},
	{Title: "SYNC", Width: 7},
}

// View renders the title, the rules on screen and the selected rule's
// detail.
func (m *Model) View() string {
	t := m.s.Theme
	var b strings.Builder
	title := t.Title.Render("Rules") + " " + t.Muted.Render(fmt.Sprintf("%d", len(m.rows)))
	if m.filtering {
		title += "  " + m.filter.View()
	} else if v := m.filter.Value(); v != "" {
		title += "  " + t.Accent.Render("/"+v)
	}
	b.WriteString(grid.Fit1(title, m.w, false))
	b.WriteByte('\n')
	l := grid.Fit(columns, m.w)
	b.WriteString(t.Column.Render(l.Header()))
	list := []string{}
	switch {
	case m.err != nil && len(m.all) == 0:
		list = append(list, t.Failure.Render(grid.Fit1("Cannot load rules: "+session.Explain(m.err), m.w, false)))
	case !m.loaded:
		list = append(list, t.Muted.Render("Loading rules…"))
	case len(m.all) == 0 && m.s.CanAdmin():
		list = append(list, t.Muted.Render("No rules yet. Press n to create one."))
	case len(m.all) == 0:
		list = append(list, t.Muted.Render("No rules yet."))
	case len(m.rows) == 0:
		list = append(list, t.Muted.Render("No rule matches the filter."))
	}
	now := m.s.Clock()
	end := min(len(m.rows), m.offset+m.listHeight())
	for i := m.offset; i < end; i++ {
		list = append(list, m.row(l, m.all[m.rows[i]], i == m.cursor, now))
	}
	b.WriteByte('\n')
	b.WriteString(grid.Pad(strings.Join(list, "\n"), m.listHeight()))
	b.WriteByte('\n')
	b.WriteString(m.detail(now))
	return grid.Pad(b.String(), m.h)
}

func nextFire(r api.Rule, now time.Time) (time.Time, bool) {
	for _, t := range r.NextFireTimes {
		if t.After(now) {
			return t, true
		}
	}
	return time.Time{}, false
}

func (m *Model) row(l grid.Layout, r api.Rule, selected bool, now time.Time) string {
	t := m.s.Theme
	next := "-"
	if at, ok := nextFire(r, now); ok && r.Enabled {
		next = session.Until(now, at)
	} else if !r.Enabled {
		next = "off"
	}
	last := "never"
	if r.LastRun != nil {
		last = string(r.LastRun.Status)
	}
	on := "no"
	if r.Enabled {
		on = "yes"
	}
	marker := " "
	if selected {
		marker = ">"
	}
	cells := []string{marker, r.Name, r.Job, r.Schedule, r.ScheduleText, next, last, on, r.Sync.State}
	if selected {
		return t.Selected.Render(l.Row(cells, nil))
	}
	return l.Row(cells, func(i int, cell string) string {
		switch i {
		case 6:
			if r.LastRun != nil {
				return t.Status(r.LastRun.Status).Render(cell)
			}
			return t.Muted.Render(cell)
		case 7:
			if !r.Enabled {
				return t.Muted.Render(cell)
			}
		case 8:
			return t.Sync(r.Sync.State).Render(cell)
		}
		return cell
	})
}

// detail is the pane under the list: the selected rule in full.
func (m *Model) detail(now time.Time) string {
	t := m.s.Theme
	r, ok := m.Selected()
	if !ok {
		return grid.Pad("", detailLines)
	}
	rule := "── " + grid.Line(r.Name) + " "
	lines := []string{t.Border.Render(rule + strings.Repeat("─", max(0, m.w-len([]rune(rule)))))}
	when := r.ScheduleText
	if !r.Enabled {
		when += " · disabled"
	} else if at, ok := nextFire(r, now); ok {
		when += " · next " + m.s.Local(at).Format("Mon Jan 02 15:04 MST") + " (" + session.Until(now, at) + ")"
	}
	lines = append(lines, grid.Fit1(when, m.w, false))
	about := "Job " + r.Job + " · " + grid.Pairs(r.Parameters, " ", "no parameters")
	if r.Timeout != "" {
		about += " · timeout " + r.Timeout
	}
	if r.Overlap == api.OverlapSkip {
		about += " · skips overlapping fires"
	}
	lines = append(lines, grid.Fit1(about, m.w, false))
	last := "Never run"
	if lr := r.LastRun; lr != nil {
		last = "Last run " + session.ShortID(lr.ID) + " " + t.Status(lr.Status).Render(string(lr.Status)) + " " + session.Ago(now, lr.CreatedAt)
	}
	sync := " · sync " + t.Sync(r.Sync.State).Render(r.Sync.State)
	if r.Sync.Error != "" {
		sync += ": " + t.Failure.Render(grid.Line(r.Sync.Error))
	}
	lines = append(lines, grid.Fit1(last+sync, m.w, false))
	return strings.Join(lines, "\n")
}
