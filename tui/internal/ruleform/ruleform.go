// Package ruleform is the console's form for a rule: create or edit one
// (job picker; schedule, time zone completed from the system's zones,
// start and end dates and flexible window, all checked as they are typed,
// with the next five fire times in the rule's zone, UTC and local time, the
// sentence the schedule means and what a near clock change does to it;
// inputs for the job's parameters built from their metadata; enabled,
// timeout, overlap; the run policy: retries, catch-up, lateness, warnAfter),
// and the shorter form that runs a rule now, or restarts a run, with edited
// parameters.
package ruleform

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/schedule"
	"github.com/jobbridge/jobbridge/tui/internal/rulefields"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// Mode is what the form does when saved.
type Mode int

// The form's modes.
const (
	Create  Mode = iota // a new rule
	Edit                // replace a rule
	Trigger             // run a rule now with these parameters
	Restart             // restart a run with these parameters
)

// KeyMap is the form's keys.
type KeyMap struct {
	Next, Prev, Pick, Save, Cancel key.Binding
	// Reload, Overwrite and KeepEditing answer a conflict.
	Reload, Overwrite, KeepEditing key.Binding
	// Complete takes the time zone offered for what is typed; NextMatch
	// and PrevMatch offer another.
	Complete, NextMatch, PrevMatch key.Binding
	// completing is set while the focused field offers completions: the
	// footer shows their keys then.
	completing bool
	// conflicted is set while the form shows a conflict: the footer
	// shows its answers then.
	conflicted bool
}

// ShortHelp is the footer's keys.
func (k KeyMap) ShortHelp() []key.Binding {
	if k.conflicted {
		return []key.Binding{k.Reload, k.Overwrite, k.KeepEditing}
	}
	if k.completing {
		return []key.Binding{k.Complete, k.NextMatch, k.Save, k.Cancel}
	}
	return []key.Binding{k.Next, k.Pick, k.Save, k.Cancel}
}

// FullHelp is every key of the form.
func (k KeyMap) FullHelp() [][]key.Binding {
	next := k.NextMatch
	next.SetHelp("ctrl+n", "next zone")
	return [][]key.Binding{{k.Next, k.Prev, k.Pick, k.Save, k.Cancel}, {k.Complete, next, k.PrevMatch}, {k.Reload, k.Overwrite, k.KeepEditing}}
}

var keyMap = KeyMap{
	Next:   key.NewBinding(key.WithKeys("tab", "down", "enter"), key.WithHelp("tab/↓", "next")),
	Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous")),
	Pick:   key.NewBinding(key.WithKeys("left", "right", " "), key.WithHelp("←/→", "pick")),
	Save:   key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
	Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),

	Complete:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete zone")),
	NextMatch: key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("ctrl+n/p", "other zones")),
	PrevMatch: key.NewBinding(key.WithKeys("ctrl+p"), key.WithHelp("ctrl+p", "previous zone")),

	Reload:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reload theirs")),
	Overwrite:   key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "save mine over theirs")),
	KeepEditing: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "keep editing")),
}

// Model is the form.
type Model struct {
	s    *session.Context
	mode Mode
	w, h int

	rule      string // the rule edited or run; "" for a new one
	restartOf string // the run restarted
	preJob    string // the job to preselect for a new rule

	jobs     []api.Job
	original api.Rule
	// base is the version a save expects the rule at (If-Match): the one
	// loaded, or theirs once the operator chose to overwrite it.
	base    int64
	run     api.Run
	loaded  bool
	loadErr error

	fields  []*field
	focus   int
	offset  int
	formErr string
	saving  bool

	// conflict is set while the form shows that someone else saved the
	// rule since it was loaded, and asks what to do.
	conflict *conflict

	// early are the keys typed while the form loads, obeyed in order once
	// it has: "e" then ↓↓↓ typed at once moves three fields down, however
	// long the agent takes to answer.
	early []tea.KeyMsg
}

// maxEarly bounds the keys kept while the form loads; more are dropped
// (nobody types that far ahead of a form they cannot see).
const maxEarly = 256

// New returns the form. For Create, job preselects a job (may be "").
// For Edit and Trigger, rule names the rule; for Restart, restartOf names
// the run (rule is its rule).
func New(s *session.Context, mode Mode, rule, restartOf, job string) *Model {
	return &Model{s: s, mode: mode, rule: rule, restartOf: restartOf, preJob: job}
}

// Title names the view.
func (m *Model) Title() string {
	switch m.mode {
	case Edit:
		return "Edit rule " + m.rule
	case Trigger:
		return "Run " + m.rule + " now"
	case Restart:
		return "Restart run " + session.ShortID(m.restartOf)
	}
	return "New rule"
}

// Help is the form's keys.
func (m *Model) Help() help.KeyMap {
	k := keyMap
	if m.focus < len(m.fields) {
		k.completing = m.fields[m.focus].complete != nil
	}
	k.conflicted = m.conflict != nil
	return k
}

// Capturing is true: the form's inputs take every key (q types a q).
func (m *Model) Capturing() bool { return true }

// SetSize gives the form its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	for _, f := range m.fields {
		f.input.Width = m.inputWidth()
	}
}

func (m *Model) inputWidth() int { return max(10, min(32, m.w-labelWidth-4)) }

type loadedMsg struct {
	form *Model
	jobs []api.Job
	rule api.Rule
	run  api.Run
	err  error
}

// Init loads the jobs, and the rule or the run the form starts from.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload loads what the form needs, unless it is already filled in (the
// operator's typing is not thrown away on a reconnection).
func (m *Model) Reload() tea.Cmd {
	if m.loaded {
		return nil
	}
	c, mode, name, runID, form := m.s.Client, m.mode, m.rule, m.restartOf, m
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out := loadedMsg{form: form}
		out.jobs, out.err = c.Jobs(ctx)
		if out.err != nil {
			return out
		}
		switch mode {
		case Edit, Trigger:
			out.rule, out.err = c.Rule(ctx, name)
		case Restart:
			out.run, out.err = c.Run(ctx, runID)
		}
		return out
	}
}

// Events does nothing: the form edits a copy until it is saved.
func (m *Model) Events([]api.Event) tea.Cmd { return nil }

type savedMsg struct {
	form  *Model
	rule  api.Rule
	run   api.Run
	err   error
	force bool // it was sent with force
}

// Update handles the form's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.form != m {
			return nil
		}
		if msg.err != nil {
			// What was typed was meant for a form that did not come.
			m.loadErr, m.early = msg.err, nil
			return nil
		}
		m.loadErr, m.loaded = nil, true
		m.jobs, m.original, m.run = msg.jobs, msg.rule, msg.run
		m.base = msg.rule.Version
		sort.Slice(m.jobs, func(i, j int) bool { return m.jobs[i].ID < m.jobs[j].ID })
		m.build()
		cmds := []tea.Cmd{m.focusField(0)}
		early := m.early
		m.early = nil
		for _, k := range early {
			cmds = append(cmds, m.key(k))
		}
		return tea.Batch(cmds...)
	case savedMsg:
		if msg.form != m {
			return nil
		}
		return m.saved(msg)
	case conflictMsg:
		if msg.form != m {
			return nil
		}
		return m.conflictLoaded(msg)
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

// build makes the fields from what was loaded.
func (m *Model) build() { m.buildFrom(m.original) }

// buildFrom makes the fields of a rule's form from r (of an edit: the
// rule loaded, or the operator's edits over someone else's version).
func (m *Model) buildFrom(r api.Rule) {
	s := m.s
	var fs []*field
	switch m.mode {
	case Create, Edit:
		if m.mode == Create {
			r = api.Rule{Job: m.preJob, Enabled: true, Overlap: api.OverlapAllow, Timezone: "UTC"}
			if r.Job == "" && len(m.jobs) > 0 {
				r.Job = m.jobs[0].ID
			}
		}
		if m.mode == Create {
			fs = append(fs, newText(s, keyName, "*Name", "", api.RuleNameHint()))
		}
		ids, names := []string{}, []string{}
		for _, j := range m.jobs {
			ids, names = append(ids, j.ID), append(names, j.ID)
		}
		if _, ok := m.job(r.Job); !ok && r.Job != "" {
			ids, names = append(ids, r.Job), append(names, r.Job+" (not on this agent)")
		}
		fs = append(fs,
			newChoice(keyJob, "*Job", ids, names, r.Job, ""),
			newText(s, keySchedule, "*Schedule", r.Schedule, "cron(m h dom mon dow year), rate(n unit) or at(yyyy-mm-ddThh:mm:ss)"),
			newZoneField(s, r.Timezone),
			newDateField(s, keyStartDate, "Start date", r.StartDate, r.Timezone),
			newDateField(s, keyEndDate, "End date", r.EndDate, r.Timezone),
			newWindowField(s, r.FlexibleWindow),
			newText(s, keyDescription, "Description", r.Description, ""),
			newChoice(keyEnabled, "Enabled", []string{"true", "false"}, []string{"yes", "no"}, fmt.Sprint(r.Enabled), ""),
			newText(s, keyTimeout, "Timeout", r.Timeout, "Go duration; empty for none"),
			newChoice(keyOverlap, "Overlap", []string{"allow", "skip", "queue"},
				[]string{"allow (run alongside)", "skip (if one is running)", "queue (start after it)"}, string(orAllow(r.Overlap)), ""),
		)
		fs = append(fs, policyFields(s, r.RunPolicy)...)
		fs = append(fs, chainFields(s, r.Chains)...)
		m.fields = fs
		m.rebuildParams(r.Parameters)
	case Trigger:
		m.runParams(m.original.Parameters, fromRule)
	case Restart:
		m.runParams(m.run.Parameters, fromRun)
	}
	// Fields are checked as they are left or typed in, and all on save:
	// a fresh form does not open full of complaints.
}

// policyFields are the inputs of a rule's run policy: retries, catch-up,
// lateness bound and slow-run warning.
func policyFields(s *session.Context, p api.RunPolicy) []*field {
	var retries, jitter string
	r := p.Retry
	if r == nil {
		r = &api.RetryPolicy{}
	} else {
		retries = strconv.Itoa(r.Attempts)
		if r.Jitter != 0 {
			jitter = strconv.FormatFloat(r.Jitter, 'f', -1, 64)
		}
	}
	catchUp := p.CatchUp
	if catchUp == "" {
		catchUp = api.CatchUpNone
	}
	short := session.ShortDuration
	fs := []*field{
		newText(s, keyRetries, "Retries", retries, "after a failure; empty for none"),
		newText(s, keyBackoff, "Backoff", short(r.Backoff), "first retry's delay, doubling; 30s"),
		newText(s, keyMaxBackoff, "Max backoff", short(r.MaxBackoff), "longest delay; 1h"),
		newText(s, keyJitter, "Jitter", jitter, "0 to 1: part of a delay drawn at random"),
		newChoice(keyCatchUp, "Catch up", []string{"none", "latest", "all"},
			[]string{"none (missed fires)", "latest (of the missed)", "all (oldest first)"}, string(catchUp), ""),
		newText(s, keyCatchUpWindow, "Look back", short(p.CatchUpWindow), "catch up fires this recent; 1h"),
		newText(s, keyMaxLateness, "Max lateness", short(p.MaxLateness), "older deliveries are skipped"),
		newText(s, keyWarnAfter, "Warn after", short(p.WarnAfter), "a run this long is slow"),
	}
	fs[0].help = "Failed and timed-out runs are run again, each retry its own run; empty for no retries."
	fs[1].help = "Delay before the first retry; each next one waits twice as long, up to Max backoff."
	fs[3].help = "0 waits the delay exactly; 1 waits anywhere from 0 to the delay."
	fs[4].help = "Fires missed while no agent ran the local scheduler: run none, the latest, or all."
	fs[6].help = "EventBridge retries for up to a day: a delivery later than this is recorded skipped (late)."
	fs[7].help = "A run still going this long notifies once (slow) and is flagged; the timeout still ends it."
	return fs
}

// newZoneField is the time-zone input, completed from the system's zones.
func newZoneField(s *session.Context, zone string) *field {
	if zone == "" {
		zone = "UTC"
	}
	f := newText(s, keyTimezone, "Time zone", zone, "IANA name; tab completes")
	f.help = "A city or area, e.g. America/New_York; ctrl+n/ctrl+p for another match."
	f.complete = func(typed string) []string { return completeZone(systemZones(), typed) }
	return f
}

// newDateField is a start or end date input, shown in the rule's zone.
func newDateField(s *session.Context, key, label string, t *time.Time, zone string) *field {
	value := ""
	if t != nil {
		loc, err := schedule.LoadLocation(zone)
		if err != nil {
			loc = time.UTC
		}
		value = t.In(loc).Format(time.RFC3339)
	}
	f := newText(s, key, label, value, "RFC 3339; empty for none")
	f.help = "RFC 3339 (2027-03-14T09:30:00-04:00), or 2027-03-14 09:30 in the rule's time zone."
	return f
}

// newWindowField is the flexible window input.
func newWindowField(s *session.Context, window string) *field {
	f := newText(s, keyWindow, "Flex window", session.ShortDuration(window), "1m to 24h; empty for none")
	f.help = "Flexible window: each run starts at a point within it after its fire time."
	return f
}

func orAllow(o api.Overlap) api.Overlap {
	if o == "" {
		return api.OverlapAllow
	}
	return o
}

func (m *Model) job(id string) (api.Job, bool) {
	for _, j := range m.jobs {
		if j.ID == id {
			return j, true
		}
	}
	return api.Job{}, false
}

// currentJob is the job the parameters belong to.
func (m *Model) currentJob() string {
	switch m.mode {
	case Trigger:
		return m.original.Job
	case Restart:
		return m.run.Job
	}
	if f := m.field(keyJob); f != nil {
		return f.value()
	}
	return ""
}

// runParams makes the fields of a run now or a restart: the job's
// parameters at the values the run would use, base's (the rule's or the
// restarted run's) over the job's defaults.
func (m *Model) runParams(base map[string]string, from string) {
	m.fields = nil
	job, _ := m.job(m.currentJob())
	for _, p := range job.Parameters {
		f := newRunParamField(m.s, p, base, from)
		f.input.Width = m.inputWidth()
		m.fields = append(m.fields, f)
	}
}

// rebuildParams replaces the parameter fields with the current job's,
// keeping what was typed into parameters of the same name.
func (m *Model) rebuildParams(values map[string]string) {
	own := m.fields[:0:0]
	var policy []*field // after the parameters, which matter more to most rules
	typed := map[string]string{}
	for _, f := range m.fields {
		switch {
		case f.param == nil && (policyKey(f.key) || chainKey(f.key)):
			policy = append(policy, f)
		case f.param == nil:
			own = append(own, f)
		default:
			if v := f.value(); v != "" {
				typed[f.param.Name] = v
			}
		}
	}
	job, _ := m.job(m.currentJob())
	for _, p := range job.Parameters {
		v, ok := typed[p.Name]
		if !ok {
			v = values[p.Name]
		}
		f := newParamField(m.s, p, v, false)
		f.input.Width = m.inputWidth()
		own = append(own, f)
	}
	m.fields = append(own, policy...)
	for _, f := range m.fields {
		f.input.Width = m.inputWidth()
	}
}

func (m *Model) field(key string) *field {
	for _, f := range m.fields {
		if f.key == key {
			return f
		}
	}
	return nil
}

func (m *Model) focusField(i int) tea.Cmd {
	if len(m.fields) == 0 {
		return nil
	}
	i = max(0, min(i, len(m.fields)-1))
	for _, f := range m.fields {
		f.input.Blur()
	}
	m.focus = i
	if f := m.fields[i]; f.kind == kindText {
		return f.input.Focus()
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if m.conflict != nil && !m.saving {
		return m.conflictKey(msg)
	}
	if key.Matches(msg, keyMap.Cancel) {
		return func() tea.Msg { return session.BackMsg{} }
	}
	if !m.loaded {
		// Kept for the form once it has loaded (esc, above, and ctrl+c,
		// at the root, are obeyed at once).
		if m.loadErr == nil && len(m.early) < maxEarly {
			m.early = append(m.early, msg)
		}
		return nil
	}
	if m.saving {
		return nil
	}
	if key.Matches(msg, keyMap.Save) {
		return m.save()
	}
	if len(m.fields) == 0 {
		if msg.String() == "enter" {
			return m.save()
		}
		return nil
	}
	f := m.fields[m.focus]
	switch {
	case msg.String() == "enter" && m.focus == len(m.fields)-1:
		return m.save()
	case key.Matches(msg, keyMap.Complete) && f.completion() != "":
		f.input.SetValue(f.completion())
		f.input.CursorEnd()
		f.suggest()
		m.typed(f)
		return nil
	case f.complete != nil && len(f.matches) > 0 && key.Matches(msg, keyMap.NextMatch, keyMap.PrevMatch):
		step := 1
		if key.Matches(msg, keyMap.PrevMatch) {
			step = len(f.matches) - 1
		}
		f.pick = (f.pick + step) % len(f.matches)
		return nil
	case key.Matches(msg, keyMap.Next):
		m.check(f)
		return m.focusField(m.focus + 1)
	case key.Matches(msg, keyMap.Prev):
		m.check(f)
		return m.focusField(m.focus - 1)
	case f.kind == kindChoice && key.Matches(msg, keyMap.Pick):
		step := 1
		if msg.String() == "left" {
			step = len(f.choices) - 1
		}
		if len(f.choices) > 0 {
			f.choice = (f.choice + step) % len(f.choices)
		}
		if f.key == keyJob {
			m.rebuildParams(m.original.Parameters)
		}
		m.check(f)
		return nil
	case f.kind == kindText:
		var cmd tea.Cmd
		f.input, cmd = f.input.Update(msg)
		f.suggest()
		m.typed(f)
		return cmd
	}
	return nil
}

// typed checks a field that changed, and the fields whose meaning it
// changes: a new zone moves dates written without an offset, a new start
// may put the end before it.
func (m *Model) typed(f *field) {
	m.check(f)
	if f.completion() != "" {
		// Not wrong yet, only unfinished: it is checked again when left.
		f.err = ""
	}
	var after []string
	switch f.key {
	case keySchedule, keyTimezone:
		after = []string{keyStartDate, keyEndDate}
	case keyStartDate:
		after = []string{keyEndDate}
	case keyRetries:
		after = []string{keyBackoff, keyMaxBackoff, keyJitter}
	}
	for _, k := range after {
		if g := m.field(k); g != nil && g.value() != "" {
			m.check(g)
		}
	}
}

// check validates a field, with what it depends on in the rest of the
// form: dates are read in the rule's zone, the end must follow the start,
// and an at() takes neither.
func (m *Model) check(f *field) {
	f.check()
	if f.err != "" {
		return
	}
	switch f.key {
	case keyBackoff, keyMaxBackoff, keyJitter:
		if f.value() != "" && m.field(keyRetries).value() == "" {
			f.err = "applies to retries only: fill in Retries, or leave this empty"
		}
	case keyStartDate, keyEndDate:
		if f.value() != "" && m.oneTime() {
			f.err = "an at() schedule fires once; it takes no " + map[string]string{keyStartDate: "start", keyEndDate: "end"}[f.key] + " date"
			return
		}
		t, err := parseDate(f.value(), m.zone())
		if err != nil {
			f.err = err.Error()
			return
		}
		if f.key == keyEndDate && !t.IsZero() {
			if start, ok := m.date(keyStartDate); ok && !start.IsZero() && !t.After(start) {
				f.err = "must be after the start date"
			}
		}
	}
}

// oneTime reports whether the schedule typed is an at().
func (m *Model) oneTime() bool {
	f := m.field(keySchedule)
	if f == nil {
		return false
	}
	sch, err := schedule.Parse(f.value())
	return err == nil && sch.IsAt()
}

// zone is the rule's zone as the form holds it, UTC while it is invalid.
func (m *Model) zone() *time.Location {
	f := m.field(keyTimezone)
	if f == nil {
		return time.UTC
	}
	loc, err := schedule.LoadLocation(f.value())
	if err != nil {
		return time.UTC
	}
	return loc
}

// date is the start or end date as the form holds it (zero for none), and
// false while it is invalid.
func (m *Model) date(key string) (time.Time, bool) {
	f := m.field(key)
	if f == nil {
		return time.Time{}, true
	}
	t, err := parseDate(f.value(), m.zone())
	return t, err == nil
}

// input is the rule as the form holds it.
func (m *Model) input() api.RuleInput {
	in := api.RuleInput{Parameters: map[string]string{}}
	for _, f := range m.fields {
		v := f.value()
		switch {
		case f.param != nil:
			if v == "" && f.kept {
				v = api.MaskedValue
			}
			if v != "" {
				in.Parameters[f.param.Name] = v
			}
		case f.key == keyName:
			in.Name = v
		case f.key == keyJob:
			in.Job = v
		case f.key == keySchedule:
			in.Schedule = v
		case f.key == keyDescription:
			in.Description = v
		case f.key == keyEnabled:
			on := v == "true"
			in.Enabled = &on
		case f.key == keyTimeout:
			in.Timeout = v
		case f.key == keyOverlap:
			in.Overlap = api.Overlap(v)
		case f.key == keyTimezone:
			in.Timezone = v
		case f.key == keyStartDate:
			if t, ok := m.date(keyStartDate); ok && !t.IsZero() {
				in.StartDate = &t
			}
		case f.key == keyEndDate:
			if t, ok := m.date(keyEndDate); ok && !t.IsZero() {
				in.EndDate = &t
			}
		case f.key == keyWindow:
			in.FlexibleWindow = v
		case f.key == keyOnSuccess:
			in.OnSuccess, _ = parseSteps(v)
		case f.key == keyOnFailure:
			in.OnFailure, _ = parseSteps(v)
		case f.key == keyOnFinish:
			in.OnFinish, _ = parseSteps(v)
		}
	}
	in.RunPolicy = m.policy()
	if m.mode == Edit {
		// The form does not show the rule's notifications: they stay as
		// loaded, rather than a save clearing them.
		in.Notify = rulefields.FromRule(m.original).Notify
	}
	return in
}

// policy is the rule's run policy as the form holds it: a retry only when
// Retries is filled in.
func (m *Model) policy() api.RunPolicy {
	var p api.RunPolicy
	value := func(key string) string {
		if f := m.field(key); f != nil {
			return f.value()
		}
		return ""
	}
	if v := value(keyRetries); v != "" {
		n, _ := strconv.Atoi(v)
		jitter, _ := strconv.ParseFloat(value(keyJitter), 64)
		p.Retry = &api.RetryPolicy{Attempts: n, Backoff: value(keyBackoff), MaxBackoff: value(keyMaxBackoff), Jitter: jitter}
	}
	if c := api.CatchUp(value(keyCatchUp)); c != api.CatchUpNone {
		p.CatchUp = c
	}
	p.CatchUpWindow = value(keyCatchUpWindow)
	p.MaxLateness = value(keyMaxLateness)
	p.WarnAfter = value(keyWarnAfter)
	return p
}

// overrides are the parameters the operator changed: what a run now or a
// restart sends. The rest the agent takes from the rule (or the restarted
// run) and the job's defaults, which is what the form showed.
func (m *Model) overrides() map[string]string {
	out := map[string]string{}
	for _, f := range m.fields {
		if f.param != nil && f.changed() {
			out[f.param.Name] = f.value()
		}
	}
	return out
}

func (m *Model) save() tea.Cmd {
	m.formErr = ""
	first := -1
	for i, f := range m.fields {
		m.check(f)
		if f.err != "" && first < 0 {
			first = i
		}
	}
	if f := m.field(keySchedule); f != nil {
		if _, err := schedule.Parse(f.value()); err != nil {
			if first < 0 {
				first = m.index(keySchedule)
			}
		}
	}
	if first >= 0 {
		m.formErr = "Fix the fields marked ✗ first."
		return m.focusField(first)
	}
	m.saving = true
	return m.send(false)
}

// send saves the form; force runs it while maintenance mode is on.
// An edit is saved only if the rule is at m.base.
func (m *Model) send(force bool) tea.Cmd {
	c, form, mode, name, runID, version := m.s.Client, m, m.mode, m.rule, m.restartOf, m.base
	in := m.input()
	params := api.RunParams{Force: force}
	if mode == Trigger || mode == Restart {
		params.Parameters = m.overrides()
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out := savedMsg{form: form, force: force}
		switch mode {
		case Create:
			out.rule, out.err = c.CreateRule(ctx, in)
		case Edit:
			// Only if the rule is still as loaded: someone else's save
			// in between is shown as a conflict, not overwritten.
			out.rule, out.err = c.ReplaceRuleIf(ctx, name, in, version)
		case Trigger:
			out.run, out.err = c.TriggerRuleWith(ctx, name, params)
		case Restart:
			out.run, out.err = c.RestartRunWith(ctx, runID, params)
		}
		return out
	}
}

func (m *Model) index(key string) int {
	for i, f := range m.fields {
		if f.key == key {
			return i
		}
	}
	return 0
}

// saved closes the form after a success, or shows the agent's objections
// at the fields they concern.
func (m *Model) saved(msg savedMsg) tea.Cmd {
	m.saving = false
	overwrote := m.conflict
	m.conflict = nil
	runs := m.mode == Trigger || m.mode == Restart
	if msg.err != nil && runs && !msg.force && session.RefusedForMaintenance(msg.err) {
		m.formErr = session.Explain(msg.err)
		doing := map[Mode]string{Trigger: "run " + m.rule, Restart: "restart run " + session.ShortID(m.restartOf)}[m.mode]
		forced := m.send(true)
		return func() tea.Msg { return session.OfferForce(doing, msg.err, forced) }
	}
	if msg.err != nil && m.mode == Edit && errors.Is(msg.err, client.ErrStale) {
		m.formErr = "Someone else saved " + m.rule + " since you opened it: loading their version…"
		return m.loadConflict()
	}
	if msg.err != nil {
		m.formErr = session.Explain(msg.err)
		var ce *client.Error
		if errors.As(msg.err, &ce) {
			first := -1
			for _, fe := range ce.Problem.Errors {
				loc, msg := strings.TrimPrefix(fe.Location, "body."), fe.Message
				if k, where, ok := chainLocation(loc); ok {
					loc = k
					if where != "" {
						msg = where + ": " + msg
					}
				}
				if i := m.index(loc); m.fields != nil && m.fields[i].key == loc {
					m.fields[i].err = msg
					if first < 0 {
						first = i
					}
				}
			}
			if first >= 0 {
				m.formErr = "The agent refused: see the fields marked ✗."
				return m.focusField(first)
			}
		}
		return nil
	}
	back := func() tea.Msg { return session.BackMsg{} }
	switch m.mode {
	case Create, Edit:
		verb := map[Mode]string{Create: "created", Edit: "saved"}[m.mode]
		if overwrote != nil {
			verb = "saved over " + overwrote.who + "'s change"
		}
		note := session.Note("rule " + msg.rule.Name + " " + verb)
		return tea.Sequence(back, note)
	}
	id := msg.run.ID
	return tea.Sequence(back, func() tea.Msg { return session.OpenRunMsg{ID: id} })
}
