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
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
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
	Runs, RunNow, RunWith, New, Edit, Delete, Toggle key.Binding
	s                                                *session.Context
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
	out := []key.Binding{k.Runs, keys.Item.Describe, keys.Item.CopyID, keys.Nav.Filter, keys.Nav.ClearFilter}
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

	all    []*api.Rule // by name
	list   *list.Model[*api.Rule]
	gen    int
	loaded bool
	err    error
	health healthState
}

// New returns the rules list.
func New(s *session.Context) *Model {
	l := list.New(s.Theme, list.Options[*api.Rule]{
		Key: func(r *api.Rule) string { return r.Name },
		Keep: func(r *api.Rule, f string) bool {
			return f == "" || strings.Contains(strings.ToLower(r.Name+" "+r.Job+" "+r.Schedule+" "+r.Timezone+" "+r.ScheduleText), f)
		},
		Placeholder: "name, job, schedule or zone",
	})
	return &Model{s: s, list: l, keys: KeyMap{
		Runs:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "runs")),
		RunNow:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run")),
		RunWith: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "run with params")),
		New:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Edit:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		// ctrl+d, as in k9s: d describes.
		Delete: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "delete")),
		Toggle: key.NewBinding(key.WithKeys(" ", "t"), key.WithHelp("space", "on/off")),
		s:      s,
	}}
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
}

// SetFilter shows the rules whose name, job, schedule or zone contain
// text.
func (m *Model) SetFilter(text string) { m.list.SetFilter(text) }

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

func (m *Model) sortAll() {
	sort.Slice(m.all, func(i, j int) bool { return m.all[i].Name < m.all[j].Name })
}

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
	if cmd, did := m.list.Update(msg); did != list.NotMine {
		return cmd
	}
	r, has := m.Selected()
	c := m.s.Client
	switch {
	case key.Matches(msg, m.keys.New) && m.s.CanAdmin():
		return func() tea.Msg { return session.EditRuleMsg{} }
	case !has:
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
const detailLines = 5

func (m *Model) listHeight() int { return max(1, m.h-2-detailLines) }

// zoneColumnFrom is the least width with a ZONE column; a narrower list
// shows a rule's zone after its schedule.
const zoneColumnFrom = 96

// The list's columns; ZONE only while a rule has a zone other than UTC.
const (
	colMarker = iota
	colName
	colJob
	colSchedule
	colZone
	colWords
	colNext
	colLast
	colOn
	colSync
)

var columns = []grid.Column{
	colMarker:   {Title: "", Width: 1},
	colName:     {Title: "NAME", Width: 12, Flex: 3},
	colJob:      {Title: "JOB", Width: 8, Flex: 1},
	colSchedule: {Title: "SCHEDULE", Width: 16, Flex: 2},
	colZone:     {Title: "ZONE", Width: 16, MinTotal: zoneColumnFrom},
	colWords:    {Title: "IN WORDS", Width: 20, Flex: 3, MinTotal: 130},
	colNext:     {Title: "NEXT", Width: 9},
	colLast:     {Title: "LAST RUN", Width: 10},
	colOn:       {Title: "ON", Width: 3},
	colSync:     {Title: "SYNC", Width: 7},
}

// zoned reports whether a rule has a zone other than UTC.
func zoned(r *api.Rule) bool { return r.Timezone != "" && r.Timezone != "UTC" }

// layout fits the columns to the width, with ZONE when a rule has one.
func (m *Model) layout() grid.Layout {
	cols := slices.Clone(columns)
	zone := cols[colZone].Width
	if !slices.ContainsFunc(m.all, zoned) {
		cols[colZone].MinTotal = math.MaxInt
		zone = 0
	}
	return grid.Fit(withHealth(cols, zone), m.w)
}

// View renders the title, the rules on screen and the selected rule's
// detail.
func (m *Model) View() string {
	t := m.s.Theme
	var b strings.Builder
	title := t.Title.Render("Rules") + " " + t.Muted.Render(fmt.Sprintf("%d", m.list.Len()))
	if f := m.list.FilterTitle(); f != "" {
		title += "  " + f
	}
	b.WriteString(grid.Fit1(title, m.w, false))
	b.WriteByte('\n')
	l := m.layout()
	b.WriteString(t.Column.Render(l.Header()))
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
	for r, selected := range m.list.Shown() {
		lines = append(lines, m.row(l, *r, selected, now))
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

func (m *Model) row(l grid.Layout, r api.Rule, selected bool, now time.Time) string {
	t := m.s.Theme
	next := "-"
	switch at, ok := nextFire(r, now); {
	case r.Done:
		next = "done"
	case !r.Enabled:
		next = "off"
	case ok:
		next = session.Until(now, at)
	}
	last := "never"
	if r.LastRun != nil {
		last = string(r.LastRun.Status)
	}
	if r.MissedFire != nil {
		// The dead-man's switch: a fire was expected and has not come.
		last = "MISSED"
	}
	on := "no"
	if r.Enabled {
		on = "yes"
	}
	marker := " "
	if selected {
		marker = ">"
	}
	zone, sched := r.Timezone, r.Schedule
	if zone == "" {
		zone = "UTC"
	}
	if l.Widths[colZone] == 0 && zoned(&r) {
		sched += " " + zone
	}
	cells := append([]string{marker, r.Name, r.Job, sched, zone, r.ScheduleText, next, last, on, r.Sync.State}, healthCells(r, now)...)
	if selected {
		return t.Selected.Render(l.Row(cells, nil))
	}
	return l.Row(cells, func(i int, cell string) string {
		if s, ok := m.styleHealth(i, l.Widths[i], r, cell); ok {
			return s
		}
		switch i {
		case colZone:
			if !zoned(&r) {
				return t.Muted.Render(cell)
			}
		case colNext:
			if r.Done || !r.Enabled {
				return t.Muted.Render(cell)
			}
		case colLast:
			if r.MissedFire != nil {
				return t.Failure.Bold(true).Render(cell)
			}
			if r.LastRun != nil {
				return t.Status(r.LastRun.Status).Render(cell)
			}
			return t.Muted.Render(cell)
		case colOn:
			if !r.Enabled {
				return t.Muted.Render(cell)
			}
		case colSync:
			return t.Sync(r.Sync.State).Render(cell)
		}
		return cell
	})
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
