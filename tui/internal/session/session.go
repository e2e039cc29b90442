// Package session is what every view of one console shares: the agent's
// client (the safe one: every reply cleaned of terminal escapes), the theme
// of the terminal, the clock, the caller's role, the messages views send to
// the root model (open a run, go back, ask for a confirmation, show a note)
// and the actions more than one view offers (cancel or restart a run), so
// that no view imports another. One console (a local terminal or one SSH
// session) has one Context; nothing here is global.
package session

import (
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

// Context is shared by the views of one console. Views read it; only the
// root model changes Role.
type Context struct {
	// Client is the agent; its replies are safe to draw as they come.
	Client *safe.Client
	Theme  *theme.Theme
	// Now is the clock (tests fix it). Default time.Now.
	Now func() time.Time
	// Location is where local times are shown. Default time.Local.
	Location *time.Location
	// Role is what the token may do (api.RoleViewer, ...), from GET /status;
	// "" until the agent has answered, which is treated as a viewer.
	Role string
	// Token names the console's own token, from GET /status ("" until
	// known).
	Token string
	// Maintenance is the agent's maintenance mode when it is on (from GET
	// /status and the "maintenance" event), nil when it is off; only the
	// root model changes it.
	Maintenance *api.Maintenance
	// Clipboard is the terminal's output, where Copy writes its clipboard
	// sequence: the writer Bubble Tea draws on, shared so that a copy
	// never lands inside a frame (tui.SharedOutput). Nil: copying says it
	// cannot.
	Clipboard io.Writer
	// RunsLimit is the most runs a runs list holds; 0 is the list's own
	// limit (100,000). Tests lower it.
	RunsLimit int

	// opening is what Open was asked, for the root to take.
	opening []tea.Msg
}

// Open asks the root to open a view (EditRuleMsg, RunWithParamsMsg) as
// soon as the key being handled is done, before the next key: keys typed
// right after the one that opens a view ("e" then ↓ at once) go to that
// view. A command returning the message would reach the root after them,
// and they would move the list below instead. Only a key handler may
// call it: the root takes what it was asked after each key.
func (c *Context) Open(msg tea.Msg) { c.opening = append(c.opening, msg) }

// Opening returns the messages given to Open since it was last called;
// the root's to handle.
func (c *Context) Opening() []tea.Msg {
	out := c.opening
	c.opening = nil
	return out
}

// CanOperate reports whether the role may trigger, cancel and restart runs.
func (c *Context) CanOperate() bool { return c.Role == api.RoleOperator || c.Role == api.RoleAdmin }

// CanAdmin reports whether the role may create, change and delete rules.
func (c *Context) CanAdmin() bool { return c.Role == api.RoleAdmin }

// Clock returns the current time.
func (c *Context) Clock() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Local returns t in the console's location.
func (c *Context) Local(t time.Time) time.Time {
	if c.Location == nil {
		return t.Local()
	}
	return t.In(c.Location)
}

// View names a top-level view for JumpMsg.
type View string

// The views one can jump to.
const (
	ViewRuns  View = "runs"
	ViewRules View = "rules"
	ViewJobs  View = "jobs"
	ViewAudit View = "audit"
	// ViewTokens is the API tokens (admin).
	ViewTokens View = "tokens"
)

// JumpMsg asks the root to show a top-level view, replacing what is shown.
// Args are the view's arguments, as typed after ":runs" (a status, a
// filter).
type JumpMsg struct {
	View View
	Args []string
}

// OpenRunMsg asks the root to open a run's detail over the current view.
type OpenRunMsg struct{ ID string }

// DescribeMsg asks the root to open the describe view of a run (Run set)
// or a rule (Rule set) over the current view.
type DescribeMsg struct {
	Run  string
	Rule string
}

// EditRuleMsg asks the root to open the rule form: Name "" creates a rule,
// Job preselects a job for a new rule.
type EditRuleMsg struct {
	Name string
	Job  string
}

// RunWithParamsMsg asks the root to open the parameter form that triggers
// Rule now with edited parameters, or restarts RestartOf with them.
type RunWithParamsMsg struct {
	Rule      string
	RestartOf string
}

// BackMsg asks the root to close the current view and show the one below.
type BackMsg struct{}

// ConfirmMsg asks the root to ask the operator Prompt (a yes/no question)
// and run Yes when the answer is yes.
type ConfirmMsg struct {
	Prompt string
	Yes    tea.Cmd
}

// NoteMsg is a short note for the footer: the result of an action, or an
// error.
type NoteMsg struct {
	Text string
	Err  bool
}

// Note returns a command that shows a note.
func Note(text string) tea.Cmd { return func() tea.Msg { return NoteMsg{Text: text} } }

// Fail returns the NoteMsg for a failed action: what was being done and why
// it failed.
func Fail(doing string, err error) NoteMsg {
	return NoteMsg{Text: doing + ": " + Explain(err), Err: true}
}

// Explain turns an API error into a sentence for the operator.
func Explain(err error) string {
	switch client.StatusOf(err) {
	case 401:
		return "the agent rejected the token (401)"
	case 403:
		return "your token's role may not do this (403)"
	}
	return err.Error()
}

// Supersedes reports whether next is a later state of the same run than
// prev, so a view may replace prev with it. Events can carry a snapshot
// older than one already shown (a log line published with the run as it
// was when the line was written); a run never goes back from finished to
// active, from cancelling to running, or from started to queued.
func Supersedes(prev, next *api.Run) bool {
	return runRank(next.Status) >= runRank(prev.Status)
}

func runRank(s api.RunStatus) int {
	switch {
	case s == api.StatusQueued:
		return -1 // a queued run starts; a started one never queues again
	case s == api.StatusRunning:
		return 0
	case s == api.StatusCancelling:
		return 1
	case s.Terminal():
		return 2
	}
	return 0
}
