// Package rundetail is the console's view of one run: what started it, its
// parameters (secrets masked as the agent gives them), progress, error,
// where it sits in a chain (the run that started it, the runs it started),
// and below them either its log, which follows live from the event
// stream, or its output (o switches).
package rundetail

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// logPage is how many log lines one request fetches.
const logPage = 1000

// fillRetry and maxFillTries bound how long a gap in the log is fetched
// again before the lines after it are shown anyway.
const (
	fillRetry    = 300 * time.Millisecond
	maxFillTries = 10
)

// KeyMap is the run detail's keys.
type KeyMap struct {
	Cancel, Restart, RestartWith, Follow key.Binding
	// PrevAttempt and NextAttempt show the run's other attempts (a
	// run and its retries).
	PrevAttempt, NextAttempt key.Binding
	// Output switches between the log and the run's output.
	Output key.Binding
	// Parent opens the run whose chain started this one; Chained (1 to
	// 9) the runs this one's chains started, as the Chained line numbers
	// them.
	Parent, Chained key.Binding
	// The log pane's: Search (/) and NextMatch, PrevMatch (n, N) between
	// its matches, Wrap long lines (w), Times shown or not (t), Problem
	// goes to the next warning or error (e).
	Search, NextMatch, PrevMatch, Wrap, Times, Problem key.Binding

	s          *session.Context
	active     func() bool // the run may still be cancelled
	series     func() bool // the run has other attempts
	hasOutput  func() bool
	hasParent  func() bool
	hasChained func() bool
}

// ShortHelp is the footer's keys: cancel only while the run is active.
func (k KeyMap) ShortHelp() []key.Binding {
	var out []key.Binding
	if k.s.CanOperate() && k.active() {
		out = append(out, k.Cancel)
	}
	if k.series() {
		out = append(out, k.PrevAttempt)
	}
	if k.hasOutput() {
		out = append(out, k.Output)
	}
	if k.hasParent() {
		out = append(out, k.Parent)
	}
	if k.hasChained() {
		out = append(out, k.Chained)
	}
	if k.s.CanOperate() {
		out = append(out, k.Restart, k.RestartWith)
	}
	if k.active() {
		out = append(out, k.Follow) // a run that ended writes no more
	}
	return out
}

// FullHelp is every key of the view.
func (k KeyMap) FullHelp() [][]key.Binding {
	out := k.ShortHelp()
	if k.series() {
		out = append(out, k.NextAttempt)
	}
	out = append(out, keys.Item.Describe, keys.Item.CopyID)
	return [][]key.Binding{out, k.searchHelp(), keys.NavHelp()}
}

// Model is one run's detail.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	id  string
	run *api.Run
	err error
	// attempts is the run's series as last loaded: kept while another
	// attempt of it loads, so [ and ] go on working meanwhile.
	attempts []api.RunSummary

	lines     []api.LogLine
	logLoaded bool
	logErr    error
	// pending are lines from the stream not yet in lines: before the log
	// loaded, or past a gap.
	pending   map[int64]api.LogLine
	filling   bool // a log fetch is under way
	fillTries int
	offset    int  // first log line on screen
	follow    bool // keep the newest line on screen

	// showOutput shows the run's output instead of its log, from line
	// outOffset.
	showOutput bool
	outOffset  int
	out        outputView

	parent  *api.Run     // the run whose chain started this one, once loaded
	chained []chainedRun // the runs this one's chains started, oldest first

	pane logPane // search, wrap, timestamps, warnings and errors
}

// New returns the detail of run id; Init loads it.
func New(s *session.Context, id string) *Model {
	m := &Model{
		s: s, id: id, follow: true, pending: map[int64]api.LogLine{},
		keys: KeyMap{
			Cancel:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel")),
			Restart:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
			RestartWith: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restart with params")),
			Follow:      key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow log")),
			PrevAttempt: key.NewBinding(key.WithKeys("["), key.WithHelp("[/]", "attempts")),
			NextAttempt: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next attempt")),
			Output:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "output/log")),
			Parent:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "parent run")),
			Chained: key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"),
				key.WithHelp("1-9", "chained run")),
			Search:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search log")),
			NextMatch: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
			PrevMatch: key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match")),
			Wrap:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wrap lines")),
			Times:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timestamps")),
			Problem:   key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "next warning/error")),
			s:         s,
		},
		pane: newLogPane(s),
	}
	// A queued run can be cancelled too: it then never starts.
	m.keys.active = func() bool { return m.run != nil && (m.run.Status.Active() || m.run.Status.Waiting()) }
	m.keys.series = func() bool { return len(m.attempts) > 1 }
	m.keys.hasOutput = func() bool { return m.run != nil && len(m.run.Output) > 0 }
	m.keys.hasParent = func() bool { return m.run != nil && m.run.ParentRun != "" }
	m.keys.hasChained = func() bool { return len(m.chained) > 0 }
	return m
}

// ID is the run shown.
func (m *Model) ID() string { return m.id }

// Title names the view.
func (m *Model) Title() string { return "Run " + session.ShortID(m.id) }

// Help is the view's keys for the footer and the help screen.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing reports whether the log search's input has the keyboard.
func (m *Model) Capturing() bool { return m.pane.searching }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.pane.input.Width = max(10, w-8)
	m.clamp()
}

type runMsg struct {
	id  string
	run api.Run
	err error
}

type logMsg struct {
	id    string
	lines []api.LogLine
	err   error
}

type fillMsg struct{ id string }

// Init loads the run and its log.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload fetches the run and its whole log again.
func (m *Model) Reload() tea.Cmd {
	c, id := m.s.Client, m.id
	m.logLoaded, m.lines, m.fillTries = false, nil, 0
	m.pane.forget()
	if m.pending == nil {
		m.pending = map[int64]api.LogLine{}
	}
	getRun := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		r, err := c.Run(ctx, id)
		return runMsg{id: id, run: r, err: err}
	}
	return tea.Batch(getRun, m.fetchLog(0))
}

// fetchLog fetches the log lines after seq.
func (m *Model) fetchLog(after int64) tea.Cmd {
	m.filling = true
	c, id := m.s.Client, m.id
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var all []api.LogLine
		q := api.LogQuery{After: after, Limit: logPage}
		for {
			page, err := c.RunLogPage(ctx, id, q)
			if err != nil {
				return logMsg{id: id, err: err}
			}
			all = append(all, page.Items...)
			if page.NextCursor == "" || len(page.Items) == 0 {
				return logMsg{id: id, lines: all}
			}
			q = api.LogQuery{Cursor: page.NextCursor, Limit: logPage}
		}
	}
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runMsg:
		if msg.id != m.id {
			return nil
		}
		if msg.err != nil {
			m.err = msg.err
			return nil
		}
		m.err = nil
		r := msg.run
		m.run = &r
		if len(r.Attempts) > 1 {
			m.attempts = r.Attempts
		}
		m.setChained(r.Chained)
		m.clamp()
		return m.loadChain(r)
	case parentMsg:
		if msg.id == m.id && msg.err == nil && m.run != nil && msg.run.ID == m.run.ParentRun {
			p := msg.run
			m.parent = &p
			m.clamp()
		}
	case chainedMsg:
		if msg.id == m.id && msg.err == nil {
			m.chainedLoaded(msg.runs)
			m.clamp()
		}
	case logMsg:
		if msg.id != m.id {
			return nil
		}
		m.filling = false
		if msg.err != nil {
			if !m.logLoaded {
				m.logErr = msg.err
			}
			return nil
		}
		m.logErr, m.logLoaded = nil, true
		for _, l := range msg.lines {
			if l.Seq > m.lastSeq() {
				m.lines = append(m.lines, l)
			}
		}
		cmd := m.drain()
		m.clamp()
		return cmd
	case fillMsg:
		if msg.id == m.id && !m.filling {
			return m.fetchLog(m.lastSeq())
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) lastSeq() int64 {
	if n := len(m.lines); n > 0 {
		return m.lines[n-1].Seq
	}
	return 0
}

// drain appends the stream's lines that now follow on. Lines past a gap
// wait: the agent publishes a line at once but stores lines in batches, so
// a line the stream brought before the view opened may not be in the
// stored log yet. The gap is fetched again a few times, then given up on.
func (m *Model) drain() tea.Cmd {
	for {
		l, ok := m.pending[m.lastSeq()+1]
		if !ok {
			break
		}
		delete(m.pending, l.Seq)
		m.lines = append(m.lines, l)
	}
	for seq := range m.pending {
		if seq <= m.lastSeq() {
			delete(m.pending, seq)
		}
	}
	if len(m.pending) == 0 {
		m.fillTries = 0
		return nil
	}
	if m.fillTries >= maxFillTries {
		rest := make([]api.LogLine, 0, len(m.pending))
		for _, l := range m.pending {
			rest = append(rest, l)
		}
		sort.Slice(rest, func(i, j int) bool { return rest[i].Seq < rest[j].Seq })
		m.lines = append(m.lines, rest...)
		m.pending = map[int64]api.LogLine{}
		m.fillTries = 0
		return nil
	}
	if m.filling {
		return nil
	}
	m.fillTries++
	if m.fillTries == 1 {
		return m.fetchLog(m.lastSeq())
	}
	id := m.id
	return tea.Tick(fillRetry, func(time.Time) tea.Msg { return fillMsg{id: id} })
}

// Events applies the stream: the run's changes and its new log lines.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	got := false
	for _, ev := range evs {
		if ev.Run != nil && ev.Type != api.EventRunLog {
			m.followSeries(ev.Run)
			m.followChain(ev.Run)
		}
		if ev.Run == nil || ev.Run.ID != m.id {
			continue
		}
		if ev.Type != api.EventRunLog && (m.run == nil || session.Supersedes(m.run, ev.Run)) {
			// A log line's run is a snapshot from when the line was
			// written; the other events say what the run is now. Only
			// run.finished carries the output, and no event the runs
			// chained: what is known of them stays.
			r := *ev.Run
			if r.Output == nil && m.run != nil {
				r.Output = m.run.Output
			}
			m.run = &r
		}
		if ev.Type == api.EventRunLog && ev.Log != nil && ev.Log.Seq > m.lastSeq() {
			m.pending[ev.Log.Seq] = *ev.Log
			got = true
		}
	}
	var cmd tea.Cmd
	if got && m.logLoaded {
		cmd = m.drain()
	}
	m.clamp()
	return cmd
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	logH := m.logHeight()
	if m.showOutput && m.outputKey(msg, logH) {
		return nil
	}
	if !m.showOutput {
		if cmd, ok := m.paneKey(msg); ok {
			return cmd
		}
	}
	switch {
	case key.Matches(msg, keys.Nav.Up):
		m.scroll(-1)
	case key.Matches(msg, keys.Nav.Down):
		m.scroll(1)
	case key.Matches(msg, keys.Nav.PageUp):
		m.scroll(-logH)
	case key.Matches(msg, keys.Nav.PageDown):
		m.scroll(logH)
	case key.Matches(msg, keys.Nav.Top):
		m.follow = false
		m.offset = 0
	case key.Matches(msg, keys.Nav.Bottom):
		m.follow = true
		m.clamp()
	case key.Matches(msg, m.keys.Follow):
		m.follow = !m.follow
		m.clamp()
	case key.Matches(msg, m.keys.Output) && m.keys.hasOutput():
		m.showOutput, m.outOffset = true, 0
	case key.Matches(msg, keys.Item.Describe):
		id := m.id
		return func() tea.Msg { return session.DescribeMsg{Run: id} }
	case key.Matches(msg, keys.Item.CopyID):
		return m.s.Copy("run "+session.ShortID(m.id), m.id)
	case key.Matches(msg, m.keys.Parent):
		return m.openParent()
	case key.Matches(msg, m.keys.Chained):
		return m.openChained(int(msg.String()[0] - '0'))
	case key.Matches(msg, m.keys.PrevAttempt) && m.keys.series():
		return m.showAttempt(-1)
	case key.Matches(msg, m.keys.NextAttempt) && m.keys.series():
		return m.showAttempt(1)
	case key.Matches(msg, m.keys.Cancel) && m.s.CanOperate() && m.run != nil:
		return m.s.ConfirmCancel(*m.run)
	case key.Matches(msg, m.keys.Restart) && m.s.CanOperate():
		rule := ""
		if m.run != nil {
			rule = m.run.Rule
		}
		return m.s.UnlessGoing(rule, "restart "+session.ShortID(m.id), m.s.Restart(m.id, nil, true))
	case key.Matches(msg, m.keys.RestartWith) && m.s.CanOperate() && m.run != nil:
		m.s.Open(session.RunWithParamsMsg{Rule: m.run.Rule, RestartOf: m.id})
		return nil
	}
	return nil
}

// attemptIndex is the shown run's place in its series, -1 if it is not
// in it.
func (m *Model) attemptIndex() int {
	for i, a := range m.attempts {
		if a.ID == m.id {
			return i
		}
	}
	return -1
}

// followSeries keeps the series shown up to date from the stream: an
// attempt's new state, or a new retry of it. (Events carry no series: only
// GET /runs/{id} does.)
func (m *Model) followSeries(r *api.Run) {
	if len(m.attempts) == 0 {
		return
	}
	for i, a := range m.attempts {
		if a.ID == r.ID {
			m.attempts[i] = api.RunSummary{ID: r.ID, Status: r.Status, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
			return
		}
	}
	if r.RetryOf == m.attempts[0].ID {
		m.attempts = append(m.attempts, api.RunSummary{ID: r.ID, Status: r.Status, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt})
	}
}

// showAttempt replaces the run shown with the attempt by steps before
// (negative) or after it in its series; at either end it stays.
func (m *Model) showAttempt(by int) tea.Cmd {
	i := m.attemptIndex() + by
	if i < 0 || i >= len(m.attempts) || m.attemptIndex() < 0 {
		return nil
	}
	m.id, m.run, m.err = m.attempts[i].ID, nil, nil
	m.lines, m.pending, m.offset, m.follow, m.logErr = nil, map[int64]api.LogLine{}, 0, true, nil
	m.showOutput, m.outOffset, m.parent, m.chained = false, 0, nil, nil
	return m.Reload()
}

func (m *Model) scroll(by int) {
	m.follow = false
	m.offset += by
	m.clamp()
	if m.offset >= m.bottom() {
		m.follow = true // back at the end: follow again
	}
}

func (m *Model) clamp() {
	h := m.logHeight()
	if m.follow {
		m.offset = m.bottom()
	}
	m.offset = max(0, min(m.offset, m.bottom()))
	if m.showOutput && !m.keys.hasOutput() {
		m.showOutput = false
	}
	m.outOffset = max(0, min(m.outOffset, len(m.outputLines())-h))
}

// outputKey handles the keys of the output pane, reporting whether it
// did: the list keys scroll the output, o goes back to the log.
func (m *Model) outputKey(msg tea.KeyMsg, h int) bool {
	if next, ok := keys.Scroll(msg, m.outOffset, h); ok {
		m.outOffset = next
		m.clamp()
		return true
	}
	switch {
	case key.Matches(msg, m.keys.Output):
		m.showOutput = false
	default:
		return false
	}
	m.clamp()
	return true
}

// info renders the lines above the log.
func (m *Model) info() []string {
	t := m.s.Theme
	if m.run == nil {
		if m.err != nil {
			return []string{t.Failure.Render("Cannot load run " + m.id + ": " + session.Explain(m.err))}
		}
		return []string{t.Muted.Render("Loading run " + m.id + "…")}
	}
	r := m.run
	now := m.s.Clock()
	state := t.Status(r.Status).Bold(true).Render(strings.ToUpper(string(r.Status)))
	if r.Slow && r.Status.Active() {
		state += " " + t.Warning.Bold(true).Render("SLOW")
	}
	lines := []string{
		t.Title.Render("Run "+r.ID) + "  " + state,
		label(t.Muted.Render, "Rule", r.Rule) + "   " + label(t.Muted.Render, "Job", r.Job) + "   " +
			label(t.Muted.Render, "Trigger", triggerText(r, m.s.Local)),
	}
	when := label(t.Muted.Render, "Created", m.s.Local(r.CreatedAt).Format("2006-01-02 15:04:05"))
	if r.StartedAt != nil {
		end, verb := now, "running for"
		if r.FinishedAt != nil {
			end, verb = *r.FinishedAt, "took"
		}
		when += "   " + label(t.Muted.Render, "Duration", verb+" "+session.Duration(end.Sub(*r.StartedAt).Truncate(time.Second)))
	}
	if r.FinishedAt != nil {
		when += "   " + label(t.Muted.Render, "Finished", m.s.Local(*r.FinishedAt).Format("15:04:05"))
	}
	lines = append(lines, when)
	if wait := session.WaitText(r, m.s.Local); wait != "" {
		if r.NotBefore != nil {
			wait += " (" + session.Until(now, *r.NotBefore) + ")"
		} else {
			wait += " for the rule's earlier runs or a free slot of job " + r.Job
		}
		lines = append(lines, t.Accent.Render("Queued: "+wait))
	}
	if r.Slow && r.Status.Active() {
		lines = append(lines, t.Warning.Render("Slow: running longer than its rule's warnAfter; the timeout still ends it"))
	}
	if a := m.attemptsLine(); a != "" {
		lines = append(lines, a)
	}
	lines = append(lines, m.chainLines()...)
	var extra []string
	if r.RestartOf != "" {
		extra = append(extra, label(t.Muted.Render, "Restart of", session.ShortID(r.RestartOf)))
	}
	if r.CancelledBy != "" {
		extra = append(extra, label(t.Muted.Render, "Cancelled by", r.CancelledBy))
	}
	if r.Node != "" {
		extra = append(extra, label(t.Muted.Render, "Node", r.Node))
	}
	if len(extra) > 0 {
		lines = append(lines, strings.Join(extra, "   "))
	}
	lines = append(lines, label(t.Muted.Render, "Parameters", grid.Pairs(r.Parameters, "  ", "(none)")))
	if r.Status.Active() || r.Progress.Percent > 0 || r.Progress.Message != "" {
		bar := session.Bar(r.Progress.Percent, min(40, max(12, m.w/3)))
		lines = append(lines, label(t.Muted.Render, "Progress", t.Running.Render(bar)+" "+r.Progress.Message))
	}
	if r.Error != "" {
		lines = append(lines, t.Failure.Render("Error: "+grid.Line(r.Error)))
	}
	return lines
}

// attemptsLine is the run's series, first run and retries, the one shown
// in brackets: "Attempts 1 aaaa1111 failed · [2 bbbb2222 failed] · 3
// cccc3333 queued". "" for a run without retries.
func (m *Model) attemptsLine() string {
	t := m.s.Theme
	r := m.run
	if len(m.attempts) < 2 || m.attemptIndex() < 0 {
		return ""
	}
	line := func(ids bool) string {
		parts := make([]string, len(m.attempts))
		for i, a := range m.attempts {
			text := fmt.Sprintf("%d %s", i+1, t.Status(a.Status).Render(string(a.Status)))
			if ids {
				text = fmt.Sprintf("%d %s %s", i+1, session.ShortID(a.ID), t.Status(a.Status).Render(string(a.Status)))
			}
			if a.ID == m.id {
				text = t.Bold.Render("[") + text + t.Bold.Render("]")
			}
			parts[i] = text
		}
		return label(t.Muted.Render, fmt.Sprintf("Attempt %d of %d", max(1, r.Attempt), len(m.attempts)), strings.Join(parts, t.Muted.Render(" · ")))
	}
	// The ids go first when the line is too long: [ and ] still reach
	// each attempt.
	if l := line(true); ansi.StringWidth(l) <= m.w {
		return l
	}
	return line(false)
}

func label(muted func(...string) string, name, value string) string {
	return muted(name) + " " + value
}

func triggerText(r *api.Run, local func(time.Time) time.Time) string {
	s := string(r.Trigger)
	switch {
	case r.Trigger == api.TriggerRetry && r.RetryOf != "":
		s += " of " + session.ShortID(r.RetryOf)
	case r.Trigger == api.TriggerCatchUp && r.ScheduledAt != nil:
		s += " of the fire at " + local(*r.ScheduledAt).Format("15:04")
	case r.Trigger == api.TriggerChain && r.ParentRun != "":
		s += " of " + session.ShortID(r.ParentRun)
	}
	if r.TriggeredBy != "" {
		s += " by " + r.TriggeredBy
	}
	return s
}

// logHeight is the number of rows of the log on screen.
func (m *Model) logHeight() int { return max(1, m.h-len(m.info())-1) }

// View renders the run and the part of its log on screen.
func (m *Model) View() string {
	info := m.info()
	out := make([]string, 0, m.h)
	for _, l := range info {
		out = append(out, grid.Fit1(l, m.w, false))
	}
	if m.showOutput {
		return grid.Pad(strings.Join(append(out, m.outputPane(m.h-len(out))...), "\n"), m.h)
	}
	out = append(out, m.logPane(m.h-len(out))...)
	return grid.Pad(strings.Join(out, "\n"), m.h)
}

// paneRule is the line above the log or the output, naming it.
func (m *Model) paneRule(title string) string {
	rule := "── " + title + " "
	return m.s.Theme.Border.Render(rule + strings.Repeat("─", max(0, m.w-ansi.StringWidth(rule))))
}

// outputPane is the output's rule and its lines on screen, h in all.
func (m *Model) outputPane(h int) []string {
	lines := m.outputLines()
	body := max(1, h-1)
	end := min(len(lines), m.outOffset+body)
	where := "all"
	if len(lines) > body {
		where = fmt.Sprintf("lines %d-%d of %d", m.outOffset+1, end, len(lines))
	}
	out := []string{m.paneRule("Output (" + where + "; o for the log)")}
	for _, l := range lines[m.outOffset:end] {
		out = append(out, grid.Fit1(l, m.w, false))
	}
	return out
}
