// Package tui is the jobbridge console: a Bubble Tea program that talks to
// an agent over its JSON API and event stream. The root model here draws
// the header (agent, store, scheduler, sync, connection), the footer (the
// keys of the view in front), the help screen and the ":" command line, and
// routes messages to the views, one package each (runs, rundetail, rules,
// ruleform, jobs, audit).
//
//	m := tui.New(ctx, tui.Options{Client: client.New(url, token)})
//	_, err := tea.NewProgram(m, tea.WithAltScreen()).Run()
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/audit"
	"github.com/jobbridge/jobbridge/tui/internal/bulk"
	"github.com/jobbridge/jobbridge/tui/internal/describe"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/jobs"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/ruleform"
	"github.com/jobbridge/jobbridge/tui/internal/rules"
	"github.com/jobbridge/jobbridge/tui/internal/rundetail"
	"github.com/jobbridge/jobbridge/tui/internal/runs"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
	"github.com/jobbridge/jobbridge/tui/internal/tokens"
)

// view is what the root needs of a view.
type view interface {
	Init() tea.Cmd
	Reload() tea.Cmd
	Update(tea.Msg) tea.Cmd
	Events([]api.Event) tea.Cmd
	View() string
	SetSize(w, h int)
	Title() string
	// Capturing reports whether a text input has the keyboard, so that
	// q, : and ? are typed rather than obeyed.
	Capturing() bool
	Help() help.KeyMap
}

// Options configures a console.
type Options struct {
	// Client talks to the agent. Required. The console reaches it only
	// through a safe.Client, so no text from the agent is drawn raw.
	Client *client.Client
	// Renderer draws the styles: the terminal's, so colours fit it. Nil:
	// lipgloss's default renderer (stdout).
	Renderer *lipgloss.Renderer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Location is where times are shown. Default time.Local.
	Location *time.Location
	// Start is the first view as typed after ":" ("runs failed").
	// Default "runs".
	Start string
	// Backoff is the first reconnection delay (doubling to 15s). Default
	// 500ms.
	Backoff time.Duration
	// Clipboard is where y and Y write the terminal's clipboard sequence:
	// the program's output wrapped by SharedOutput, the same writer given
	// to tea.WithOutput. Nil: the console says it cannot copy.
	Clipboard io.Writer
}

// runsLimit is the most runs a runs list holds; 0 is the list's own
// limit. Tests lower it (export_test.go).
var runsLimit int

// Model is the console's root model.
type Model struct {
	ctx    context.Context
	cancel context.CancelFunc
	s      *session.Context
	stream *streamer
	w, h   int
	bodyH  int // the views' height when last given

	views map[session.View]view // the top-level views, made when first shown
	top   session.View
	stack []view // views opened over the top-level one (a run, a form)

	status    *api.Status
	maint     *api.Maintenance // from the status, then the "maintenance" events
	statusErr error
	conn      connMsg
	connAt    time.Time // when conn last changed
	wasDown   bool      // the connection failed since it was last live

	help       help.Model
	showHelp   bool
	helpTop    int // the help's first line shown, when it does not fit
	cmdline    textinput.Model
	commanding bool
	history    history // of the command line
	confirm    *session.ConfirmMsg
	note       session.NoteMsg
	noteSeq    int
	start      string
	ticks      int
}

// New returns a console for one terminal. It stops its background work
// (the event stream) when ctx is done or the operator quits.
func New(ctx context.Context, o Options) *Model {
	ctx, cancel := context.WithCancel(ctx)
	th := theme.New(o.Renderer)
	agent := safe.NewClient(o.Client)
	s := &session.Context{Client: agent, Theme: th, Now: o.Now, Location: o.Location, Clipboard: o.Clipboard, RunsLimit: runsLimit}
	in := textinput.New()
	in.Prompt = ":"
	in.Placeholder = "runs failed, rules, jobs, run ID, new, quit"
	in.ShowSuggestions = true
	in.SetSuggestions(commandSuggestions())
	in.KeyMap.NextSuggestion, in.KeyMap.PrevSuggestion = nextSuggestion, prevSuggestion
	th.Input(&in)
	m := &Model{
		ctx: ctx, cancel: cancel, s: s, stream: newStreamer(agent),
		w: 80, h: 24, views: map[session.View]view{},
		help: th.Help(), cmdline: in, start: o.Start,
		conn: connMsg{state: connConnecting},
	}
	if o.Backoff > 0 {
		m.stream.backoff = o.Backoff
	}
	if m.start == "" {
		m.start = string(session.ViewRuns)
	}
	return m
}

// Session returns the context the views share (for tests).
func (m *Model) Session() *session.Context { return m.s }

type tickMsg struct{}

type statusMsg struct {
	status api.Status
	err    error
}

type noteClearMsg struct{ seq int }

func tick() tea.Cmd { return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} }) }

// Init starts the event stream, asks for the agent's status and opens the
// first view.
func (m *Model) Init() tea.Cmd {
	ctx, st := m.ctx, m.stream
	startStream := func() tea.Msg {
		go st.run(ctx)
		return nil
	}
	return tea.Batch(startStream, st.next(ctx), m.fetchStatus(), m.runCommand(m.start), tick())
}

func (m *Model) fetchStatus() tea.Cmd {
	c := m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := c.Status(ctx)
		return statusMsg{status: st, err: err}
	}
}

// current is the view in front.
func (m *Model) current() view {
	if n := len(m.stack); n > 0 {
		return m.stack[n-1]
	}
	return m.views[m.top]
}

// all is every live view: the top-level ones made so far and the stack.
func (m *Model) all() []view {
	out := make([]view, 0, len(m.views)+len(m.stack))
	for _, v := range m.views {
		out = append(out, v)
	}
	return append(out, m.stack...)
}

func (m *Model) bodyHeight() int {
	h := m.h - 2 - len(m.message()) // header, the keys' line, the message
	if m.banner() != "" {
		h--
	}
	if m.alerts() != "" {
		h--
	}
	return max(1, h)
}

func (m *Model) resize() {
	m.bodyH = m.bodyHeight()
	for _, v := range m.all() {
		v.SetSize(m.w, m.bodyHeight())
	}
	m.help.Width = m.w
	m.cmdline.Width = max(10, m.w-4)
}

// Update routes a message: keys to the view in front (after the global
// keys), stream events and replies to every view. The views get their
// height again when a message took more or fewer lines at the bottom.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.relayout()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(20, msg.Width), max(6, msg.Height)
		m.resize()
		return nil
	case tea.KeyMsg:
		return m.key(msg)
	case tickMsg:
		// Each second redraws (durations tick); every 15th also refreshes
		// the header's status (sync counts change without events).
		m.ticks++
		var cmd tea.Cmd
		if m.ticks%15 == 0 && m.conn.state == connLive {
			cmd = m.fetchStatus()
		}
		m.s.Maintenance = m.maintenance() // it ends by itself at its end time
		m.relayout()
		return tea.Batch(tick(), cmd)
	case statusMsg:
		if msg.err != nil {
			m.statusErr = msg.err
			return nil
		}
		st := msg.status
		m.status, m.statusErr = &st, nil
		m.s.Role, m.s.Token = st.Role, st.Token
		m.setMaintenance(st.Maintenance)
		m.relayout()
		return nil
	case connMsg:
		return tea.Batch(m.stream.next(m.ctx), m.connChanged(msg))
	case eventsMsg:
		return tea.Batch(m.stream.next(m.ctx), m.events(msg.events))
	case session.JumpMsg:
		return m.jump(msg.View, msg.Args)
	case runMatchesMsg:
		return m.runMatches(msg)
	case session.OpenRunMsg:
		return m.push(rundetail.New(m.s, msg.ID))
	case session.DescribeMsg:
		if msg.Rule != "" {
			return m.push(describe.NewRule(m.s, msg.Rule))
		}
		return m.push(describe.NewRun(m.s, msg.Run))
	case session.RestartedMsg:
		m.setNote(session.NoteMsg{Text: "restarted as run " + session.ShortID(msg.Run.ID)})
		if !msg.Open {
			return m.clearNoteLater()
		}
		if n := len(m.stack); n > 0 {
			if _, ok := m.stack[n-1].(*rundetail.Model); ok {
				m.stack = m.stack[:n-1]
			}
		}
		return tea.Batch(m.clearNoteLater(), m.push(rundetail.New(m.s, msg.Run.ID)))
	case session.EditRuleMsg:
		mode := ruleform.Create
		if msg.Name != "" {
			mode = ruleform.Edit
		}
		return m.push(ruleform.New(m.s, mode, msg.Name, "", msg.Job))
	case session.RunWithParamsMsg:
		if msg.RestartOf != "" {
			return m.push(ruleform.New(m.s, ruleform.Restart, msg.Rule, msg.RestartOf, ""))
		}
		return m.push(ruleform.New(m.s, ruleform.Trigger, msg.Rule, "", ""))
	case session.BackMsg:
		m.pop()
		return nil
	case bulk.ReportMsg:
		return m.push(bulk.NewReport(m.s, msg))
	case session.ConfirmMsg:
		m.confirm = &msg
		return nil
	case session.NoteMsg:
		m.setNote(msg)
		return m.clearNoteLater()
	case noteClearMsg:
		if msg.seq == m.noteSeq {
			m.note = session.NoteMsg{}
		}
		return nil
	}
	var cmds []tea.Cmd
	for _, v := range m.all() {
		cmds = append(cmds, v.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) setNote(n session.NoteMsg) {
	m.note = n
	m.noteSeq++
}

func (m *Model) clearNoteLater() tea.Cmd {
	seq := m.noteSeq
	return tea.Tick(8*time.Second, func(time.Time) tea.Msg { return noteClearMsg{seq: seq} })
}

func (m *Model) connChanged(msg connMsg) tea.Cmd {
	hadBanner := m.banner() != ""
	prev := m.conn
	m.conn, m.connAt = msg, m.s.Clock()
	if msg.state == connConnecting && prev.state != connLive && prev.state != connConnecting {
		// Keep showing why the last attempt failed while retrying.
		m.conn.err, m.conn.state = prev.err, prev.state
		m.conn.retryIn = 0
	}
	var cmd tea.Cmd
	switch msg.state {
	case connDown, connRejected:
		m.wasDown = true
	case connLive:
		if m.wasDown || msg.reload {
			// Replies lost while the agent was away, or events the stream
			// could not replay: load everything again.
			cmd = m.reloadAll()
		}
		m.wasDown = false
	}
	if (m.banner() != "") != hadBanner {
		m.resize()
	}
	return cmd
}

func (m *Model) reloadAll() tea.Cmd {
	cmds := []tea.Cmd{m.fetchStatus()}
	for _, v := range m.all() {
		cmds = append(cmds, v.Reload())
	}
	return tea.Batch(cmds...)
}

func (m *Model) events(evs []api.Event) tea.Cmd {
	var cmds []tea.Cmd
	missing := false
	for _, ev := range evs {
		switch ev.Type {
		case api.EventReset:
			return m.reloadAll()
		case api.EventMaintenance:
			m.setMaintenance(ev.Maintenance)
			m.relayout()
		case api.EventRunMissed:
			missing = true
		case api.EventRunStarted, api.EventRunSkipped:
			// A fire that comes late clears its rule's alarm.
			missing = missing || m.status != nil && m.status.Missing > 0
		}
	}
	if missing {
		// How many rules miss their fires is the agent's to count.
		cmds = append(cmds, m.fetchStatus())
	}
	for _, v := range m.all() {
		cmds = append(cmds, v.Events(evs))
	}
	return tea.Batch(cmds...)
}

// push opens v over the view in front.
func (m *Model) push(v view) tea.Cmd {
	m.stack = append(m.stack, v)
	v.SetSize(m.w, m.bodyHeight())
	m.showHelp = false
	return v.Init()
}

func (m *Model) pop() {
	if n := len(m.stack); n > 0 {
		m.stack = m.stack[:n-1]
	}
}

// jump shows a top-level view with its arguments, closing what was open
// over the current one.
func (m *Model) jump(to session.View, args []string) tea.Cmd {
	m.stack, m.showHelp = nil, false
	v, made := m.views[to]
	var cmd tea.Cmd
	if !made {
		v = m.newView(to)
		if v == nil {
			return session.Note("no view " + string(to))
		}
		m.views[to] = v
		v.SetSize(m.w, m.bodyHeight())
	}
	m.top = to
	switch to {
	case session.ViewRuns:
		q, err := runs.ParseArgsAt(args, m.s.Clock(), m.s.Location)
		if err != nil {
			return func() tea.Msg { return session.NoteMsg{Text: err.Error(), Err: true} }
		}
		if made && len(args) == 0 {
			return nil // keep the list as the operator left it
		}
		return v.(*runs.Model).SetQuery(q)
	case session.ViewRules:
		v.(*rules.Model).SetFilter(strings.Join(args, " "))
	case session.ViewAudit:
		return v.(*audit.Model).SetArgs(args) // reads the trail, made or not
	case session.ViewTokens:
		// No event tells of tokens: each visit reads them again, so a
		// token created elsewhere, or just used, shows as it is.
		if made {
			return v.Reload()
		}
	}
	if !made {
		cmd = v.Init()
	}
	return cmd
}

func (m *Model) newView(to session.View) view {
	switch to {
	case session.ViewRuns:
		return runs.New(m.s)
	case session.ViewRules:
		return rules.New(m.s)
	case session.ViewJobs:
		return jobs.New(m.s)
	case session.ViewAudit:
		return audit.New(m.s)
	case session.ViewTokens:
		return tokens.New(m.s)
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

// key obeys one key message. Bubble Tea gives every rune that came in one
// read as one message: "jj" typed fast, or over an SSH link with latency,
// arrives as Runes "jj". Unless a text input has the keyboard, such a
// message is taken as its runes one after another, each going where the
// state left by the one before sends it (":q" opens the command line and
// types q into it). Pasted text goes to a text input whole, and is never
// obeyed as keys.
func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if msg.Type != tea.KeyRunes || len(msg.Runes) < 2 && !msg.Paste {
		return m.key1(msg)
	}
	if m.typing() {
		return m.key1(msg)
	}
	if msg.Paste {
		return nil
	}
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt && i == 0}
		cmds = append(cmds, m.key1(one))
		if m.typing() && i+1 < len(msg.Runes) {
			// The rest is text for the input that just took the keyboard.
			rest := tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[i+1:]}
			cmds = append(cmds, m.key1(rest))
			break
		}
	}
	return tea.Batch(cmds...)
}

// typing reports whether a text input has the keyboard: the command line,
// or a view's own input (a form's field, a filter).
func (m *Model) typing() bool {
	if m.commanding {
		return true
	}
	if m.confirm != nil || m.showHelp {
		return false
	}
	cur := m.current()
	return cur != nil && cur.Capturing()
}

func (m *Model) key1(msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, keys.Global.ForceQuit) {
		return m.quit()
	}
	if key.Matches(msg, keys.Global.Redraw) {
		// Whatever has the keyboard: a screen garbled by another program
		// writing to the terminal is fixed at once, and the header and
		// the view in front ask the agent again (a view that no event
		// updates, such as the tokens, is otherwise as old as its
		// opening). A form keeps what is typed: it loads only once.
		cmds := []tea.Cmd{tea.ClearScreen, m.fetchStatus()}
		if cur := m.current(); cur != nil {
			cmds = append(cmds, cur.Reload())
		}
		return tea.Batch(cmds...)
	}
	if m.confirm != nil {
		c := m.confirm
		m.confirm = nil
		if msg.String() == "y" || msg.String() == "Y" {
			return c.Yes
		}
		m.setNote(session.NoteMsg{Text: "not done"})
		return m.clearNoteLater()
	}
	if m.commanding {
		switch msg.String() {
		case "enter":
			m.commanding = false
			text := m.cmdline.Value()
			m.history.add(strings.TrimSpace(text))
			m.cmdline.SetValue("")
			m.cmdline.Blur()
			return m.runCommand(text)
		case "esc":
			m.commanding = false
			m.history.reset()
			m.cmdline.SetValue("")
			m.cmdline.Blur()
			return nil
		case "up", "down":
			var line string
			var ok bool
			if msg.String() == "up" {
				line, ok = m.history.up(m.cmdline.Value())
			} else {
				line, ok = m.history.down()
			}
			if ok {
				m.cmdline.SetValue(line)
				m.cmdline.CursorEnd()
				// SetValue keeps the suggestions matched by what was typed
				// before: setting them again matches them to the line
				// recalled, so what shows is what enter runs.
				m.cmdline.SetSuggestions(commandSuggestions())
			}
			return nil
		}
		var cmd tea.Cmd
		m.cmdline, cmd = m.cmdline.Update(msg)
		return cmd
	}
	if m.showHelp {
		switch {
		case key.Matches(msg, keys.Global.Help, keys.Global.Back, keys.Global.Quit):
			m.showHelp = false
		default:
			m.helpTop, _ = keys.Scroll(msg, m.helpTop, m.bodyHeight()-1)
		}
		return nil
	}
	cur := m.current()
	if cur != nil && cur.Capturing() {
		cmd := cur.Update(msg)
		return tea.Batch(cmd, m.opened())
	}
	switch {
	case key.Matches(msg, keys.Global.Quit):
		return m.quit()
	case key.Matches(msg, keys.Global.Help):
		m.showHelp, m.helpTop = true, 0
		return nil
	case key.Matches(msg, keys.Global.Command):
		m.commanding = true
		m.note = session.NoteMsg{}
		return m.cmdline.Focus()
	case key.Matches(msg, keys.Global.Back) && len(m.stack) > 0:
		m.pop()
		return nil
	}
	if cur == nil {
		return nil
	}
	cmd := cur.Update(msg)
	return tea.Batch(cmd, m.opened())
}

// opened opens the views the key just handled asked for (session.Open)
// before the next key is taken, so that keys typed right after it go to
// the view it opened.
func (m *Model) opened() tea.Cmd {
	var cmds []tea.Cmd
	for _, msg := range m.s.Opening() {
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// banner is the line shown under the header when the agent cannot be
// reached or refuses the token; "" when all is well.
func (m *Model) banner() string {
	switch m.conn.state {
	case connRejected:
		return "Token rejected (401): run the console with a valid --token or JOBBRIDGE_TOKEN"
	case connDown:
		text := "Agent unreachable at " + m.s.Client.BaseURL() + ": " + reason(m.conn.err) + "."
		if left := m.conn.retryIn - m.s.Clock().Sub(m.connAt); left > 0 {
			text += " Reconnecting in " + session.Duration(left.Round(time.Second)) + "…"
		} else {
			text += " Reconnecting…"
		}
		return text
	}
	if m.statusErr != nil && client.StatusOf(m.statusErr) == 401 {
		return "Token rejected (401): run the console with a valid --token or JOBBRIDGE_TOKEN"
	}
	return ""
}

// reason is the heart of a connection error: "connection refused" rather
// than the whole chain of what was being done.
func reason(err error) string {
	if err == nil {
		return "no answer"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// View draws the header, the banner, the view in front (or the help) and
// the footer, every line cut to the terminal's width so that nothing
// wraps and garbles the screen.
func (m *Model) View() string {
	lines := []string{m.header()}
	if b := m.banner(); b != "" {
		lines = append(lines, m.s.Theme.Banner.Render(grid.Fit1("✗ "+b, m.w, false)))
	}
	if a := m.alerts(); a != "" {
		lines = append(lines, grid.Fit1(a, m.w, false))
	}
	body := ""
	if m.showHelp {
		body = m.helpView()
	} else if cur := m.current(); cur != nil {
		body = cur.View()
	}
	lines = append(lines, grid.Pad(body, m.bodyHeight()))
	lines = append(lines, m.footer()...)
	out := strings.Split(strings.Join(lines, "\n"), "\n")
	if len(out) > m.h {
		out = out[:m.h]
	}
	for i, l := range out {
		if ansi.StringWidth(l) > m.w {
			out[i] = ansi.Truncate(l, m.w, "")
		}
	}
	return strings.Join(out, "\n")
}

// footer is the keys of the view in front, then the message: the
// command line, a confirmation, or the last note.
func (m *Model) footer() []string {
	// The global keys sit on the right and always show; the view's keys
	// get the rest of the line (cut with … when they do not fit; ? lists
	// them all).
	global := []key.Binding{keys.Global.Command, keys.Global.Help, keys.Global.Quit}
	cur := m.current()
	switch {
	case cur != nil && cur.Capturing():
		// Keys are typed into an input: only ctrl+c still quits.
		global = []key.Binding{keys.Global.ForceQuit}
	case len(m.stack) > 0:
		global = append([]key.Binding{keys.Global.Back}, global...)
	}
	right := m.help.ShortHelpView(global)
	var bindings []key.Binding
	if cur != nil && !m.showHelp {
		bindings = cur.Help().ShortHelp()
	}
	h := m.help
	h.Width = max(0, m.w-ansi.StringWidth(right)-2)
	left := h.ShortHelpView(bindings)
	helpLine := left + strings.Repeat(" ", max(1, m.w-ansi.StringWidth(left)-ansi.StringWidth(right))) + right
	out := []string{grid.Fit1(helpLine, m.w, false)}
	for _, l := range m.message() {
		out = append(out, grid.Fit1(l, m.w, false))
	}
	return out
}

// maxMessage is the most lines a note or a question takes at the bottom.
const maxMessage = 3

// message is the footer's last lines: the command line, a confirmation or
// the last note, wrapped to as many lines as it needs up to maxMessage
// (the body shrinks for them); one line, maybe blank, otherwise.
func (m *Model) message() []string {
	t := m.s.Theme
	n := max(1, min(maxMessage, m.h-5)) // a short terminal keeps a body
	var style lipgloss.Style
	var lines []string
	switch {
	case m.commanding:
		return []string{m.cmdline.View()}
	case m.confirm != nil:
		// The answer's keys always show: a question too long is cut
		// before them.
		style, lines = t.Warning.Bold(true), wrapN(grid.Line(m.confirm.Prompt), " (y/N)", m.w, n)
	case m.note.Text != "" && m.note.Err:
		style, lines = t.Failure, wrapN(grid.Line(m.note.Text), "", m.w, n)
	case m.note.Text != "":
		style, lines = t.Accent, wrapN(grid.Line(m.note.Text), "", m.w, n)
	default:
		return []string{""}
	}
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return lines
}

// wrapN wraps text, then tail, to lines of w cells, at most n of them:
// when it needs more, the last is cut with … and still ends with tail.
func wrapN(text, tail string, w, n int) []string {
	lines := strings.Split(ansi.Wrap(text+tail, w, ""), "\n")
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	lines[n-1] = ansi.Truncate(lines[n-1], max(0, w-ansi.StringWidth(tail)-1), "") + "…" + tail
	return lines
}

func (m *Model) helpView() string {
	t := m.s.Theme
	cur := m.current()
	title := "Keys"
	var groups [][]key.Binding
	if cur != nil {
		title += " — " + cur.Title()
		groups = cur.Help().FullHelp()
	}
	groups = append(groups, ownKeysOut(keys.GlobalHelp(), groups))
	hm := m.help
	hm.ShowAll = true
	var lines []string
	if health := m.healthLines(); len(health) > 0 {
		lines = append(append(lines, t.Title.Render("Health")), health...)
		lines = append(lines, "")
	}
	lines = append(lines, t.Title.Render(title), "", m.helpBlocks(hm, splitGroups(groups)), "", t.Title.Render("Commands (after :)"))
	for _, c := range commandHelp {
		lines = append(lines, "  "+t.Key.Render(grid.Fit1(c[0], 34, false))+" "+t.Muted.Render(c[1]))
	}
	lines = append(lines, "", t.Muted.Render("esc or ? closes this help"))
	lines = strings.Split(strings.Join(lines, "\n"), "\n")
	// A help longer than the screen scrolls with the list keys, its last
	// line saying where it is.
	h := m.bodyHeight()
	if len(lines) <= h || h < 2 {
		m.helpTop = 0
		return strings.Join(lines, "\n")
	}
	m.helpTop = max(0, min(m.helpTop, len(lines)-(h-1)))
	shown := lines[m.helpTop : m.helpTop+h-1]
	more := fmt.Sprintf("lines %d-%d of %d · ↑↓ pgup pgdn scroll", m.helpTop+1, m.helpTop+h-1, len(lines))
	return strings.Join(append(shown, t.Muted.Render(more)), "\n")
}

// ownKeysOut is the global keys less those the view's groups list: a
// view that takes a key for itself (/ to search a log) says what it does
// there, and the global meaning would be a second, wrong, entry.
func ownKeysOut(global []key.Binding, groups [][]key.Binding) []key.Binding {
	own := map[string]bool{}
	for _, g := range groups {
		for _, b := range g {
			if b.Enabled() {
				for _, k := range b.Keys() {
					own[k] = true
				}
			}
		}
	}
	var out []key.Binding
	for _, b := range global {
		if !slices.ContainsFunc(b.Keys(), func(k string) bool { return own[k] }) {
			out = append(out, b)
		}
	}
	return out
}

// helpBlocks draws the help's columns side by side, as many a row as the
// width holds, the rest in rows below.
func (m *Model) helpBlocks(hm help.Model, groups [][]key.Binding) string {
	hm.Width = 0 // measured whole, never cut
	var blocks []string
	var row [][]key.Binding
	for _, g := range groups {
		try := append(slices.Clone(row), g)
		if len(row) > 0 && lipgloss.Width(hm.FullHelpView(try)) > m.w {
			blocks = append(blocks, hm.FullHelpView(row))
			row = [][]key.Binding{g}
			continue
		}
		row = try
	}
	if len(row) > 0 {
		blocks = append(blocks, hm.FullHelpView(row))
	}
	return strings.Join(blocks, "\n\n")
}

// helpColumn is the most keys a column of the help holds: a view's longer
// group is split into columns side by side, so the help fits wide and
// short terminals.
const helpColumn = 9

// splitGroups splits each group longer than helpColumn into columns.
func splitGroups(groups [][]key.Binding) [][]key.Binding {
	var out [][]key.Binding
	for _, g := range groups {
		for len(g) > helpColumn {
			out = append(out, g[:helpColumn])
			g = g[helpColumn:]
		}
		out = append(out, g)
	}
	return out
}
