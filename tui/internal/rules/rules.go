// Package rules is the console's list of rules: each with its job, its
// schedule (and its zone when not UTC) and that schedule in words, the next
// fire time (or done, when none is left), the last run (MISSED while the
// dead-man's switch waits for a fire), whether it is enabled, its state in
// the scheduler backend and, in its detail, its run policy. From here
// an operator runs a rule now (with its parameters or edited ones) and an
// admin creates, edits, enables, disables and deletes rules.
package rules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
	"github.com/jobbridge/jobbridge/tui/internal/bulk"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// refreshEvery is how often the list is fetched again while nothing
// happens, so next fire times move on.
const refreshEvery = 30 * time.Second

// KeyMap is the rules list's keys.
type KeyMap struct {
	Runs, RunNow, RunWith, New, Edit, Delete, Enable, Disable key.Binding
	Sort, Reverse, Select, SelectAll, Unselect                key.Binding
	s                                                         *session.Context
}

// ShortHelp is the footer's keys, those the role may use.
func (k KeyMap) ShortHelp() []key.Binding {
	out := []key.Binding{k.Runs}
	if k.s.CanOperate() {
		out = append(out, k.RunNow)
	}
	if k.s.CanAdmin() {
		out = append(out, k.Enable, k.Disable, k.New, k.Edit, k.Delete, k.Select)
	}
	if !k.s.CanAdmin() {
		out = append(out, keys.Nav.Filter, k.Sort) // an admin's line is full; ? lists them
	}
	return out
}

// FullHelp is every key of the view the role may use.
func (k KeyMap) FullHelp() [][]key.Binding {
	out := []key.Binding{k.Runs, keys.Item.Describe, keys.Item.CopyID, keys.Nav.Filter, keys.Nav.ClearFilter, k.Sort, k.Reverse}
	if k.s.CanOperate() {
		out = append(out, k.RunNow, k.RunWith)
	}
	if k.s.CanAdmin() {
		out = append(out, k.Enable, k.Disable, k.New, k.Edit, k.Delete, k.Select, k.SelectAll, k.Unselect)
	}
	return [][]key.Binding{out, keys.NavHelp()}
}

// Model is the rules list.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	all    []*api.Rule // in the order of sort
	list   *list.Model[*api.Rule]
	sort   Sort
	gen    int
	loaded bool
	err    error

	// The filter: its text, what it reads as, and what is wrong with it.
	ftext string
	f     filter
	ferr  error

	sel    map[string]bool // selected rules, by name
	bulk   bulk.Runner
	health healthState
}

// New returns the rules list.
func New(s *session.Context) *Model {
	m := &Model{s: s, sort: DefaultSort, sel: map[string]bool{}, keys: KeyMap{
		Runs:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "runs")),
		RunNow:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run")),
		RunWith:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "run with params")),
		New:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Edit:      key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		Delete:    key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "delete")),
		Enable:    key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "enable")),
		Disable:   key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "disable")),
		Sort:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Reverse:   key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort")),
		Select:    key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "select")),
		SelectAll: key.NewBinding(key.WithKeys("ctrl+a"), key.WithHelp("ctrl+a", "select all")),
		Unselect:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "unselect")),
		s:         s,
	}}
	m.list = list.New(s.Theme, list.Options[*api.Rule]{
		Key:         func(r *api.Rule) string { return r.Name },
		Keep:        func(r *api.Rule, text string) bool { return m.typedAs(text).keeps(r) },
		Placeholder: "rule:NAME job:ID status:enabled|disabled|failing or text",
		CharLimit:   200,
	})
	return m
}

// typedAs is the filter whose text is key (trimmed, in lower case: what
// the list hands Keep, so that the input's text is read once a change, not
// once a row); a term that is wrong leaves the last good reading in
// force.
func (m *Model) typedAs(key string) filter {
	if key != m.ftext || !m.f.parsed {
		m.ftext = key
		f, err := parseFilter(m.list.FilterText())
		m.ferr = err
		if err == nil || !m.f.parsed {
			m.f = f
		}
	}
	return m.f
}

// Title names the view.
func (m *Model) Title() string { return "Rules" }

// Help is the view's keys for the footer and the help screen.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing reports whether the filter input has the keyboard.
func (m *Model) Capturing() bool { return m.list.Filtering() }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.SetHeight(m.listHeight())
	m.list.SetFilterWidth(max(10, w-len("Rules ")-list.CountRoom))
}

// SetFilter shows the rules the filter text keeps (terms rule:, job:,
// status: and free text, as typed after /).
func (m *Model) SetFilter(text string) { m.list.SetFilter(text) }

// SetSort orders the list by s.
func (m *Model) SetSort(s Sort) {
	m.sort = s
	m.sortAll()
	m.list.SetItems(m.all)
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
	if cmd, ok := m.updateHealth(msg); ok {
		return cmd
	}
	if cmd, done := m.bulk.Update(msg); cmd != nil || done {
		if done {
			// Keep selected only the rules the action failed on, to try
			// again or look at.
			clear(m.sel)
			for _, f := range m.bulk.Failed() {
				m.sel[f.Item.ID] = true
			}
		}
		return cmd
	}
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
		m.err, m.loaded = nil, true
		m.all = make([]*api.Rule, len(msg.rules))
		for i := range msg.rules {
			m.all[i] = &msg.rules[i]
		}
		m.sortAll()
		m.list.SetItems(m.all)
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

func (m *Model) sortAll() { m.sort.sortRules(m.all, m.s.Clock()) }

// Selected returns the rule under the cursor.
func (m *Model) Selected() (api.Rule, bool) {
	r, ok := m.list.Selected()
	if !ok {
		return api.Rule{}, false
	}
	return *r, true
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
					delete(m.sel, r.Name)
					changed = true
					break
				}
			}
		case ev.Run != nil && ev.Type != api.EventRunLog:
			for _, r := range m.all {
				if r.Name != ev.Run.Rule {
					continue
				}
				last := r.LastRun
				if last == nil || last.ID < ev.Run.ID ||
					last.ID == ev.Run.ID && session.Supersedes(&api.Run{Status: last.Status}, ev.Run) {
					r.LastRun = &api.RunSummary{ID: ev.Run.ID, Status: ev.Run.Status, CreatedAt: ev.Run.CreatedAt, FinishedAt: ev.Run.FinishedAt}
					changed = changed || m.sort.Col == colLast
				}
			}
		}
	}
	if changed {
		m.sortAll()
		m.list.SetItems(m.all)
	}
	return m.healthEvents(evs)
}

func (m *Model) upsert(r api.Rule) {
	for _, have := range m.all {
		if have.Name == r.Name {
			keepHealth(&r, have)
			*have = r
			return
		}
	}
	m.all = append(m.all, &r)
}

type triggeredMsg struct{ run api.Run }

// runNow triggers the rule; refused because maintenance mode is on, it
// asks whether to force the run.
func (m *Model) runNow(name string, force bool) tea.Cmd {
	c := m.s.Client
	var forced tea.Cmd
	if !force {
		forced = m.runNow(name, true)
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		run, err := c.TriggerRuleWith(ctx, name, api.RunParams{Force: force})
		switch {
		case err != nil && !force && session.RefusedForMaintenance(err):
			return session.OfferForce("run "+name, err, forced)
		case err != nil:
			return session.Fail("run "+name+" now", err)
		}
		return triggeredMsg{run: run}
	}
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if m.list.Filtering() && msg.Type == tea.KeyEnter && m.ferr != nil {
		// A wrong term keeps the input open, and says what is wrong.
		err := m.ferr
		return func() tea.Msg { return session.NoteMsg{Text: err.Error(), Err: true} }
	}
	if !m.list.Filtering() && key.Matches(msg, m.keys.Unselect) && len(m.sel) > 0 {
		clear(m.sel)
		return nil
	}
	if cmd, did := m.list.Update(msg); did != list.NotMine {
		return cmd
	}
	r, has := m.Selected()
	admin := m.s.CanAdmin()
	switch {
	case key.Matches(msg, m.keys.New) && admin:
		m.s.Open(session.EditRuleMsg{})
		return nil
	case key.Matches(msg, m.keys.Sort):
		m.SetSort(m.sort.next(m.layout()))
		return nil
	case key.Matches(msg, m.keys.Reverse):
		m.SetSort(Sort{Col: m.sort.Col, Desc: !m.sort.Desc})
		return nil
	case key.Matches(msg, m.keys.SelectAll) && admin:
		for _, r := range m.list.Rows() {
			m.sel[r.Name] = true
		}
		return nil
	case key.Matches(msg, m.keys.Enable) && admin && (has || len(m.sel) > 0):
		return m.setEnabled(r, true)
	case key.Matches(msg, m.keys.Disable) && admin && (has || len(m.sel) > 0):
		return m.setEnabled(r, false)
	case key.Matches(msg, m.keys.Delete) && admin && len(m.sel) > 0:
		return m.bulkDelete()
	case !has:
		return nil
	case key.Matches(msg, m.keys.Select) && admin:
		if m.sel[r.Name] {
			delete(m.sel, r.Name)
		} else {
			m.sel[r.Name] = true
		}
		m.list.Update(tea.KeyMsg{Type: tea.KeyDown})
		return nil
	case key.Matches(msg, m.keys.Runs):
		return func() tea.Msg { return session.JumpMsg{View: session.ViewRuns, Args: []string{"rule:" + r.Name}} }
	case key.Matches(msg, keys.Item.Describe):
		return func() tea.Msg { return session.DescribeMsg{Rule: r.Name} }
	case key.Matches(msg, keys.Item.CopyID):
		return m.s.Copy("rule "+r.Name, r.Name)
	case key.Matches(msg, m.keys.RunNow) && m.s.CanOperate():
		return m.s.UnlessGoing(r.Name, "run it now", m.runNow(r.Name, false))
	case key.Matches(msg, m.keys.RunWith) && m.s.CanOperate():
		m.s.Open(session.RunWithParamsMsg{Rule: r.Name})
		return nil
	case key.Matches(msg, m.keys.Edit) && admin:
		m.s.Open(session.EditRuleMsg{Name: r.Name})
		return nil
	case key.Matches(msg, m.keys.Delete) && admin:
		c := m.s.Client
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

// setEnabled enables or disables the selected rules (asking first, with
// their count), or the rule under the cursor when none is selected.
func (m *Model) setEnabled(r api.Rule, on bool) tea.Cmd {
	c := m.s.Client
	a := bulk.Action{Verb: "enable", Doing: "enabling", Done: "enabled", Noun: "rule",
		Do: func(ctx context.Context, name string) error {
			_, err := c.SetRuleEnabled(ctx, name, on)
			return err
		}}
	if !on {
		a.Verb, a.Doing, a.Done = "disable", "disabling", "disabled"
	}
	if len(m.sel) > 0 {
		if m.bulk.Running() {
			return session.Note("wait: " + m.bulk.Progress())
		}
		return m.bulk.Confirm(a, m.selectedItems(), "")
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Do(ctx, r.Name); err != nil {
			return session.Fail(a.Verb+" "+r.Name, err)
		}
		return session.NoteMsg{Text: "rule " + r.Name + " " + a.Done}
	}
}

// bulkDelete asks to delete the selected rules, then deletes them one by
// one.
func (m *Model) bulkDelete() tea.Cmd {
	if m.bulk.Running() {
		return session.Note("wait: " + m.bulk.Progress())
	}
	c := m.s.Client
	return m.bulk.Confirm(bulk.Action{Verb: "delete", Doing: "deleting", Done: "deleted", Noun: "rule",
		Do: func(ctx context.Context, name string) error { return c.DeleteRule(ctx, name) }},
		m.selectedItems(), "Their runs stay in the history.")
}

// selectedItems are the selected rules, in the list's order.
func (m *Model) selectedItems() []bulk.Item {
	var out []bulk.Item
	for _, r := range m.all {
		if m.sel[r.Name] {
			out = append(out, bulk.Item{ID: r.Name, Label: r.Name})
		}
	}
	return out
}

// SelectedNames returns the names of the selected rules, in the list's
// order.
func (m *Model) SelectedNames() []string {
	items := m.selectedItems()
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// detailLines is the height of the pane under the list.
const detailLines = 5

func (m *Model) listHeight() int { return max(1, m.h-2-detailLines) }

// View renders the title, the rules on screen and the selected rule's
// detail.
func (m *Model) View() string {
	t := m.s.Theme
	var b strings.Builder
	count := t.Muted.Render(fmt.Sprintf("%d", m.list.Len()))
	title := t.Title.Render("Rules") + " " + count
	if m.list.Filtering() {
		// The input has the line after the name (SetSize gives it the
		// room).
		title = t.Title.Render("Rules") + " " + m.list.FilterTitle() + " " + count
	} else {
		if len(m.sel) > 0 {
			// Two bare numbers side by side read as one: say which is
			// which.
			title += t.Muted.Render(" shown ·") + " " + t.Accent.Render(fmt.Sprintf("%d selected", len(m.sel)))
		}
		if f := m.list.FilterTitle(); f != "" {
			title += "  " + f
		}
		if m.ferr != nil {
			title += "  " + t.Failure.Render(m.ferr.Error())
		}
		if p := m.bulk.Progress(); p != "" {
			title += "  " + t.Warning.Render(p)
		}
	}
	b.WriteString(grid.Fit1(title, m.w, false))
	b.WriteByte('\n')
	l := m.layout()
	if m.list.Filtering() && m.ferr != nil {
		// A wrong term is named in the columns' place until put right.
		b.WriteString(t.Failure.Render(grid.Fit1(m.ferr.Error(), m.w, false)))
	} else {
		b.WriteString(t.Column.Render(l.HeaderSorted(m.sort.Col, m.sort.Desc)))
	}
	lines := []string{}
	switch {
	case m.err != nil && len(m.all) == 0:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot load rules: "+session.Explain(m.err), m.w, false)))
	case !m.loaded:
		lines = append(lines, t.Muted.Render("Loading rules…"))
	case len(m.all) == 0 && m.s.CanAdmin():
		lines = append(lines, t.Muted.Render("No rules yet. Press n to create one."))
	case len(m.all) == 0:
		lines = append(lines, t.Muted.Render("No rules yet."))
	case m.list.Len() == 0:
		lines = append(lines, t.Muted.Render("No rule matches the filter."))
	}
	now := m.s.Clock()
	for r, cursor := range m.list.Shown() {
		lines = append(lines, m.row(l, r, cursor, now))
	}
	b.WriteByte('\n')
	b.WriteString(grid.Pad(strings.Join(lines, "\n"), m.listHeight()))
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

// location is the rule's zone, UTC when it is unknown here.
func location(r api.Rule) *time.Location {
	loc, err := schedule.LoadLocation(r.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
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
	if strings.HasPrefix(r.Schedule, "rate(") && zoned(&r) {
		when += " (" + r.Timezone + ")"
	}
	switch at, ok := nextFire(r, now); {
	case r.Done:
		when += " · done: never fires again"
	case !r.Enabled:
		when += " · disabled"
	case ok:
		when += " · next " + m.s.Local(at).Format("Mon Jan 02 15:04 MST") + " (" + session.Until(now, at) + ")"
		if r.NextFireTimesApproximate {
			when += " approximately: AWS sets the rate's phase"
		}
	}
	// Dates are wall times in the rule's zone, which the words name.
	const day = "2006-01-02 15:04"
	if r.StartDate != nil {
		when += " · from " + r.StartDate.In(location(r)).Format(day)
	}
	if r.EndDate != nil {
		when += " · until " + r.EndDate.In(location(r)).Format(day)
	}
	lines = append(lines, grid.Fit1(when, m.w, false))
	about := "Job " + r.Job + " · " + grid.Pairs(r.Parameters, " ", "no parameters")
	if r.Timeout != "" {
		about += " · timeout " + r.Timeout
	}
	switch r.Overlap {
	case api.OverlapSkip:
		about += " · skips overlapping fires"
	case api.OverlapQueue:
		about += " · queues overlapping fires"
	}
	if p := PolicyText(r.RunPolicy); p != "" {
		about += " · " + p
	}
	if r.FlexibleWindow != "" {
		about += " · starts within " + session.ShortDuration(r.FlexibleWindow) + " of each fire"
	}
	lines = append(lines, grid.Fit1(about, m.w, false))
	last := "Never run"
	if lr := r.LastRun; lr != nil {
		last = "Last run " + session.ShortID(lr.ID) + " " + t.Status(lr.Status).Render(string(lr.Status)) + " " + session.Ago(now, lr.CreatedAt)
	}
	if r.MissedFire != nil {
		last = t.Failure.Bold(true).Render("MISSED since "+m.s.Local(*r.MissedFire).Format("15:04")) + " · " + last
	}
	sync := " · sync " + t.Sync(r.Sync.State).Render(r.Sync.State)
	if r.Sync.Error != "" {
		sync += ": " + t.Failure.Render(grid.Line(r.Sync.Error))
	}
	chains := ""
	if c := ChainsText(r.Chains); c != "" {
		chains = " · " + c
	}
	lines = append(lines, grid.Fit1(last+sync+chains, m.w, false))
	lines = append(lines, grid.Fit1(m.healthLine(r, now), m.w, false))
	return strings.Join(lines, "\n")
}
