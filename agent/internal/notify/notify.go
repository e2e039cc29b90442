// Package notify tells people when runs fail, are cancelled or interrupted,
// time out, go on too long (slow), when a rule recovers, or when an
// expected fire does not come (missed, from the dead-man's switch). A Dispatcher follows the agent's event
// stream, decides what deserves a message (globally and per rule), folds a
// storm of failures of one rule into one message, and hands each message to
// the channels (email, a chat webhook, SNS, or a program's own Notifier) on
// queues with retries. It never delays or fails a run: it only reads events.
package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Kind is what happened to a run that may deserve a message. The kinds,
// and how a list of them is read, are api's: the agent's settings, its
// rules and its clients share them.
type Kind = api.NotifyKind

// The kinds of notification, by their short names here.
const (
	Failed      = api.NotifyFailed
	Cancelled   = api.NotifyCancelled // by an operator; never by the agent's shutdown
	Interrupted = api.NotifyInterrupted
	Timeout     = api.NotifyTimeout
	Recovered   = api.NotifyRecovered // the first success after a failure of the same rule
	Missed      = api.NotifyMissed    // an expected fire did not come (package watch)
	Slow        = api.NotifySlow      // a run went on past its rule's warnAfter
)

// None is the word that, alone in a rule's list, turns its notifications off.
const None = api.NotifyNone

// Message is one notification. Count is more than 1 for a folded message:
// Count outcomes of the same kind of the same rule, the latest described.
type Message struct {
	Kind     Kind
	Rule     string
	Job      string
	RunID    string
	Status   api.RunStatus
	Error    string // the first lines of the run's error
	Started  time.Time
	Finished time.Time
	Node     string
	Count    int
	Since    time.Time // a folded message: the first outcome folded in
	// Scheduled is the fire time a missed run expected.
	Scheduled time.Time
	// Running is how long a slow run had run when noticed, WarnAfter the
	// rule's bound it passed.
	Running, WarnAfter time.Duration
	// Attempt is the run's attempt in its series of retries (1 for a
	// first run), FirstRun the series' first run when Attempt > 1: a
	// failure notified after retries is the series' last.
	Attempt  int
	FirstRun string
	// Link opens the run: the API URL; Console says how to in the console.
	Link    string
	Console string
}

// Notifier is a channel messages go out on. A program that embeds the agent
// adds its own with agent.Env.AddNotifier.
type Notifier interface {
	// Name identifies the channel in rules, the status and the audit trail.
	Name() string
	// Notify sends one message; an error is retried with backoff. The
	// Dispatcher shows a channel's errors only through scrub, which
	// reduces a *url.Error to its scheme and host and masks signing
	// parameters and tokens.
	Notify(ctx context.Context, m Message) error
}

// Duration is how long the run ran.
func (m Message) Duration() time.Duration {
	if m.Started.IsZero() || m.Finished.IsZero() {
		return 0
	}
	return m.Finished.Sub(m.Started).Round(time.Millisecond)
}

// Subject is a one-line summary, for an email subject or a chat preview.
func (m Message) Subject() string {
	if m.Count > 1 {
		return fmt.Sprintf("[jobbridge] %s: %d runs %s since %s", m.Rule, m.Count, pastTense(m.Kind), m.Since.UTC().Format("15:04 UTC"))
	}
	switch m.Kind {
	case Recovered:
		return fmt.Sprintf("[jobbridge] %s recovered: run %s succeeded", m.Rule, short(m.RunID))
	case Missed:
		return fmt.Sprintf("[jobbridge] %s missed its fire of %s: nothing arrived", m.Rule, m.Scheduled.UTC().Format("2006-01-02 15:04 UTC"))
	case Slow:
		return fmt.Sprintf("[jobbridge] %s is slow: run %s still running after %s", m.Rule, short(m.RunID), m.Running.Round(time.Second))
	}
	if m.Attempt > 1 {
		return fmt.Sprintf("[jobbridge] %s %s after %d attempts (run %s)", m.Rule, pastTense(m.Kind), m.Attempt, short(m.RunID))
	}
	return fmt.Sprintf("[jobbridge] %s %s (run %s)", m.Rule, pastTense(m.Kind), short(m.RunID))
}

func pastTense(k Kind) string {
	switch k {
	case Timeout:
		return "timed out"
	case Recovered:
		return "recovered"
	case Slow:
		return "ran past warnAfter"
	}
	return string(k)
}

func short(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// Text is the whole message in plain text. It never includes parameters,
// so no secret can appear.
func (m Message) Text() string {
	var b strings.Builder
	fmt.Fprintln(&b, m.Subject())
	fmt.Fprintln(&b)
	if m.Count > 1 {
		fmt.Fprintf(&b, "%d runs of rule %s %s since %s; the latest:\n\n", m.Count, m.Rule, pastTense(m.Kind), m.Since.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "Rule:     %s\n", m.Rule)
	fmt.Fprintf(&b, "Job:      %s\n", m.Job)
	fmt.Fprintf(&b, "Run:      %s\n", m.RunID)
	fmt.Fprintf(&b, "Status:   %s\n", m.Status)
	if m.Attempt > 1 {
		fmt.Fprintf(&b, "Attempt:  %d (the first run: %s)\n", m.Attempt, m.FirstRun)
	}
	if !m.Scheduled.IsZero() {
		fmt.Fprintf(&b, "Fire:     %s\n", m.Scheduled.UTC().Format(time.RFC3339))
	}
	if m.Running > 0 {
		fmt.Fprintf(&b, "Running:  %s (warnAfter %s)\n", m.Running.Round(time.Second), m.WarnAfter)
	}
	if !m.Finished.IsZero() {
		fmt.Fprintf(&b, "When:     %s\n", m.Finished.UTC().Format(time.RFC3339))
	}
	if d := m.Duration(); d > 0 {
		fmt.Fprintf(&b, "Duration: %s\n", d)
	}
	if m.Node != "" {
		fmt.Fprintf(&b, "Agent:    %s\n", m.Node)
	}
	if m.Error != "" {
		fmt.Fprintf(&b, "\nError:\n%s\n", m.Error)
	}
	if m.Console != "" || m.Link != "" {
		fmt.Fprintln(&b)
	}
	if m.Console != "" {
		fmt.Fprintf(&b, "Open it: %s\n", m.Console)
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "API:     %s\n", m.Link)
	}
	return b.String()
}

// firstLines keeps the first n lines of s, marking what was cut.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + "\n[…]"
}
