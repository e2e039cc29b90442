// Package bulk runs one action on the rows an operator selected in a list
// (cancel 50 runs, disable 12 rules): through the API one row at a time,
// a few at once at most, with a progress line while it goes and a summary
// at the end that names each failure; the failures whole are in a report
// the console opens over the list.
package bulk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// Parallel is how many requests of one bulk action are in flight at most.
const Parallel = 4

// timeout bounds one request.
const timeout = 15 * time.Second

// Action is what to do to each row.
type Action struct {
	// Verb, Doing and Done name the action: "cancel", "cancelling",
	// "cancelled".
	Verb, Doing, Done string
	// Noun is one row's kind, "run" or "rule"; the plural adds an s.
	Noun string
	// Do acts on one row, by its id.
	Do func(ctx context.Context, id string) error
}

// Item is one row to act on: its id and how the summary names it.
type Item struct{ ID, Label string }

// Failure is a row the action failed on, and why.
type Failure struct {
	Item Item
	Err  string
}

// Runner runs one bulk action at a time for a view.
type Runner struct {
	a       Action
	items   []Item
	next    int // items started
	done    int // items answered
	failed  []Failure
	running bool
}

// stepMsg is the answer of one batch of requests, for the runner that
// asked.
type stepMsg struct {
	r      *Runner
	failed []Failure
	n      int
}

// Running reports whether an action is under way.
func (r *Runner) Running() bool { return r.running }

// Progress is the progress line while an action runs ("cancelling
// 12/50…"), "" when none does.
func (r *Runner) Progress() string {
	if !r.running {
		return ""
	}
	return fmt.Sprintf("%s %d/%d…", r.a.Doing, r.done, len(r.items))
}

// Confirm asks whether to do a to items (prompt "Cancel 50 runs?" and
// more, after it, when given) and starts it on yes. No items: a note says
// there is nothing to do.
func (r *Runner) Confirm(a Action, items []Item, more string) tea.Cmd {
	if len(items) == 0 {
		return session.Note("nothing to " + a.Verb)
	}
	prompt := fmt.Sprintf("%s %s?", strings.ToUpper(a.Verb[:1])+a.Verb[1:], Count(len(items), a.Noun))
	if more != "" {
		prompt += " " + more
	}
	start := func() tea.Msg { return startMsg{r: r, a: a, items: items} }
	return func() tea.Msg { return session.ConfirmMsg{Prompt: prompt, Yes: start} }
}

type startMsg struct {
	r     *Runner
	a     Action
	items []Item
}

// Count is n things: "1 run", "50 runs".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Update takes the runner's messages: it returns the next batch to run
// (or, at the end, the summary) and whether the action has just ended.
// Messages of other runners are not its own: (nil, false).
func (r *Runner) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case startMsg:
		if msg.r != r {
			return nil, false
		}
		if r.running {
			return session.Note("a bulk " + r.a.Verb + " is still running: " + r.Progress()), false
		}
		*r = Runner{a: msg.a, items: msg.items, running: true}
		return r.step(), false
	case stepMsg:
		if msg.r != r || !r.running {
			return nil, false
		}
		r.done += msg.n
		r.failed = append(r.failed, msg.failed...)
		if r.next < len(r.items) {
			return r.step(), false
		}
		r.running = false
		return r.summary(), true
	}
	return nil, false
}

// step runs the next few items at once.
func (r *Runner) step() tea.Cmd {
	end := min(len(r.items), r.next+Parallel)
	batch := r.items[r.next:end]
	r.next = end
	do := r.a.Do
	return func() tea.Msg {
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			failed []Failure
		)
		for _, it := range batch {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				if err := do(ctx, it.ID); err != nil {
					mu.Lock()
					failed = append(failed, Failure{Item: it, Err: session.Explain(err)})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// In the order of the items, whichever answered first.
		order := map[string]int{}
		for i, it := range batch {
			order[it.ID] = i
		}
		slices.SortFunc(failed, func(a, b Failure) int { return order[a.Item.ID] - order[b.Item.ID] })
		return stepMsg{r: r, failed: failed, n: len(batch)}
	}
}

// Failed is the rows the last action failed on.
func (r *Runner) Failed() []Failure { return r.failed }

// Summary is the line that ends an action: "cancelled 48, 2 failed:
// 0192ab…: run has already finished" (the first failure named, the rest
// in the report).
func (r *Runner) Summary() string {
	ok := len(r.items) - len(r.failed)
	text := fmt.Sprintf("%s %s", r.a.Done, Count(ok, r.a.Noun))
	if len(r.failed) == 0 {
		return text
	}
	f := r.failed[0]
	text += fmt.Sprintf(", %d failed: %s: %s", len(r.failed), f.Item.Label, f.Err)
	return text
}

// summary notes the summary and, when some failed, opens the report of
// every failure whole.
func (r *Runner) summary() tea.Cmd {
	note := session.NoteMsg{Text: r.Summary(), Err: len(r.failed) > 0}
	cmds := []tea.Cmd{func() tea.Msg { return note }}
	if len(r.failed) > 0 {
		rep := ReportMsg{Title: fmt.Sprintf("%s: %d of %d failed", strings.ToUpper(r.a.Verb[:1])+r.a.Verb[1:],
			len(r.failed), len(r.items)), Summary: r.Summary(), Failures: append([]Failure(nil), r.failed...)}
		cmds = append(cmds, func() tea.Msg { return rep })
	}
	return tea.Sequence(cmds...)
}
