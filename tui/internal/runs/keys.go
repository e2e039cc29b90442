package runs

import (
	"context"
	"fmt"
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/bulk"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if m.list.Filtering() {
		return m.filterKey(msg)
	}
	if key.Matches(msg, m.keys.Unselect) && len(m.sel) > 0 {
		clear(m.sel)
		m.selectAll = false
		m.full = m.sort != DefaultSort
		return nil
	}
	if key.Matches(msg, keys.Nav.Filter) {
		// The terms in force come back into the input, to be edited.
		m.prevText = m.list.FilterText()
		text := m.q.terms()
		if m.prevText != "" {
			text = join(text, m.prevText)
		}
		if text != "" {
			text += " "
		}
		return m.list.EditFilter(text)
	}
	switch cmd, did := m.list.Update(msg); did {
	case list.Moved:
		if key.Matches(msg, keys.Nav.Down, keys.Nav.Bottom, keys.Nav.PageDown) {
			m.emptyPages = 0
		}
		return m.maybeMore()
	case list.Handled, list.Filtered:
		return cmd
	}
	run, has := m.Selected()
	operate := m.s.CanOperate()
	switch {
	case key.Matches(msg, keys.Nav.ClearFilter) && m.q.filtered():
		// The text filter is clear (the list clears it first): clear the
		// agent-side ones.
		return m.SetQuery(Query{Tab: m.q.Tab})
	case key.Matches(msg, m.keys.NextTab):
		return m.SetQuery(Query{Tab: (m.q.Tab + 1) % len(Tabs), Rule: m.q.Rule, Job: m.q.Job, Since: m.q.Since, SinceText: m.q.SinceText})
	case key.Matches(msg, m.keys.PrevTab):
		return m.SetQuery(Query{Tab: (m.q.Tab + len(Tabs) - 1) % len(Tabs), Rule: m.q.Rule, Job: m.q.Job, Since: m.q.Since, SinceText: m.q.SinceText})
	case key.Matches(msg, m.keys.Sort):
		return m.SetSort(m.sort.next(m.w))
	case key.Matches(msg, m.keys.Reverse):
		return m.SetSort(Sort{Col: m.sort.Col, Desc: !m.sort.Desc})
	case key.Matches(msg, keys.Nav.Open) && has:
		return func() tea.Msg { return session.OpenRunMsg{ID: run.ID} }
	case key.Matches(msg, keys.Item.Describe) && has:
		return func() tea.Msg { return session.DescribeMsg{Run: run.ID} }
	case key.Matches(msg, keys.Item.CopyID) && has:
		return m.s.Copy("run "+session.ShortID(run.ID), run.ID)
	case key.Matches(msg, m.keys.Select) && has && operate:
		if m.sel[run.ID] {
			delete(m.sel, run.ID)
		} else {
			m.sel[run.ID] = true
		}
		m.list.Update(tea.KeyMsg{Type: tea.KeyDown})
		return m.maybeMore()
	case key.Matches(msg, m.keys.SelectAll) && operate:
		return m.SelectAll()
	case (key.Matches(msg, m.keys.Cancel) || key.Matches(msg, m.keys.Restart)) && operate && m.selectAll:
		// ctrl+a is still loading the runs it selects.
		return session.Note(fmt.Sprintf("still selecting (%d loaded): wait for every run of the filter", len(m.all)))
	case key.Matches(msg, m.keys.Cancel) && operate && len(m.sel) > 0:
		return m.bulkCancel()
	case key.Matches(msg, m.keys.Restart) && operate && len(m.sel) > 0:
		return m.bulkRestart()
	case key.Matches(msg, m.keys.Cancel) && has && operate:
		return m.s.ConfirmCancel(run)
	case key.Matches(msg, m.keys.Restart) && has && operate:
		return m.s.UnlessGoing(run.Rule, "restart "+session.ShortID(run.ID), m.s.Restart(run.ID, nil, false))
	case key.Matches(msg, m.keys.RestartWith) && has && operate:
		m.s.Open(session.RunWithParamsMsg{Rule: run.Rule, RestartOf: run.ID})
		return nil
	}
	return nil
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// filterKey is a key while the filter has the keyboard: enter sends its
// terms to the agent (or says which is wrong), esc puts back the filter
// in force.
func (m *Model) filterKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		return m.submitFilter()
	case tea.KeyEsc:
		m.list.StopFilter()
		m.list.SetFilter(m.prevText)
		m.ferr = nil
		return nil
	}
	cmd, did := m.list.Update(msg)
	if did == list.Filtered {
		m.emptyPages = 0
		m.typed()
		return tea.Batch(cmd, m.maybeMore())
	}
	return cmd
}

// submitFilter applies the filter typed: its terms become the agent's
// query (rule, job, status, since), its free text the list's filter. A
// wrong term keeps the input open and says what is wrong.
func (m *Model) submitFilter() tea.Cmd {
	f, err := parseFilter(m.list.FilterText(), m.s.Clock(), m.s.Location)
	if err != nil {
		m.ferr = err
		return func() tea.Msg { return session.NoteMsg{Text: err.Error(), Err: true} }
	}
	m.ferr = nil
	m.list.StopFilter()
	m.list.SetFilter(f.raw)
	q := f.q
	q.Tab = m.q.Tab
	if len(q.Statuses) > 0 {
		q.Tab = 0
	}
	if q.terms() == m.q.terms() && q.Tab == m.q.Tab {
		return m.maybeMore()
	}
	return m.SetQuery(q)
}

// sortInFrame is the most runs sorted while a key waits; more are sorted
// in the background (a sort of 100,000 runs takes longer than a frame),
// the list keeping its old order until the new one is ready.
const sortInFrame = 5000

type sortedMsg struct {
	gen, sortGen int
	order        []*api.Run
}

// SetSort orders the list by s. Any order but the agent's needs every run
// of the query: the rest is loaded in the background, sorted in as it
// comes.
func (m *Model) SetSort(s Sort) tea.Cmd {
	m.sort = s
	m.full = s != DefaultSort || m.selectAll
	m.sortGen++
	if len(m.all) <= sortInFrame {
		m.sort.sortRuns(m.all, m.s.Clock())
		m.sorting, m.added, m.replaced = false, nil, nil
		m.refresh()
		return m.maybeMore()
	}
	// While it sorts, the runs it reads are not written: an event makes
	// a new copy of its run (see Events), so the sort needs no lock.
	runs, now := slices.Clone(m.all), m.s.Clock()
	m.sorting, m.added, m.replaced = true, nil, map[string]*api.Run{}
	gen, sortGen := m.gen, m.sortGen
	sorted := func() tea.Msg { return sortedMsg{gen: gen, sortGen: sortGen, order: s.order(s.keys(runs, now))} }
	return tea.Batch(sorted, m.maybeMore())
}

// gotSorted puts the runs in the order a background sort found, with the
// runs that came meanwhile sorted in. Every run shown is then the newest
// copy byID holds: the sort read the copies of its start, and the runs
// that came meanwhile (from the stream or a page) may have changed since
// they came. A run that changed meanwhile is sorted in again under what
// it is now, since its key (status, progress, duration) may have moved.
func (m *Model) gotSorted(msg sortedMsg) {
	if msg.gen != m.gen || msg.sortGen != m.sortGen {
		return // reloaded, or sorted again since
	}
	// again are the runs the sort did not place where they sort now: those
	// that came meanwhile and those that changed, each once, newest copy.
	again := make([]*api.Run, 0, len(m.added)+len(m.replaced))
	placed := make(map[string]bool, len(m.added)+len(m.replaced))
	for _, r := range m.added {
		if now, ok := m.byID[r.ID]; ok && !placed[r.ID] {
			placed[r.ID] = true
			again = append(again, now)
		}
	}
	for id := range m.replaced {
		if now, ok := m.byID[id]; ok && !placed[id] {
			placed[id] = true
			again = append(again, now)
		}
	}
	order := msg.order[:0]
	for _, r := range msg.order {
		if _, changed := m.replaced[r.ID]; changed {
			continue
		}
		if now, ok := m.byID[r.ID]; ok {
			order = append(order, now)
		}
	}
	m.all = m.sort.merge(order, again, m.s.Clock())
	m.sorting, m.added, m.replaced = false, nil, nil
	m.refresh()
}

// SelectAll selects every run that matches the query and the filter: those
// loaded now, and the rest as the list loads them.
func (m *Model) SelectAll() tea.Cmd {
	for _, r := range m.list.Rows() {
		m.sel[r.ID] = true
	}
	if m.capped {
		return session.Note(m.selectedCapNote())
	}
	if m.loaded && m.next == "" {
		return nil
	}
	// More to load (or the first page still on its way): select as the
	// pages come.
	m.selectAll, m.full = true, true
	return m.maybeMore()
}

// selectedCapNote says that ctrl+a selected only the runs the list holds,
// which stopped loading at its limit.
func (m *Model) selectedCapNote() string {
	text := "selected only the " + thousands(int64(len(m.sel))) + " runs loaded"
	if n, ok := m.total(); ok {
		text += " of " + thousands(n)
	}
	return text + ": the list holds the newest " + thousands(int64(m.limit)) + "; narrow the filter"
}

// selectedRuns are the selected runs the list has, in its order.
func (m *Model) selectedRuns() []*api.Run {
	out := make([]*api.Run, 0, len(m.sel))
	for _, r := range m.all {
		if m.sel[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

func label(r *api.Run) string { return session.ShortID(r.ID) + " (" + r.Rule + ")" }

// bulkCancel asks to cancel the selected runs that are active or queued,
// then cancels them one by one.
func (m *Model) bulkCancel() tea.Cmd {
	if m.bulk.Running() {
		return session.Note("wait: " + m.bulk.Progress())
	}
	var items []bulk.Item
	finished := 0
	for _, r := range m.selectedRuns() {
		if r.Status.Active() || r.Status.Waiting() {
			items = append(items, bulk.Item{ID: r.ID, Label: label(r)})
		} else {
			finished++
		}
	}
	more := ""
	if finished > 0 {
		more = fmt.Sprintf("(%d of the selected %s finished: left alone)", finished, map[bool]string{true: "has", false: "have"}[finished == 1])
	}
	c := m.s.Client
	return m.bulk.Confirm(bulk.Action{Verb: "cancel", Doing: "cancelling", Done: "cancelled", Noun: "run",
		Do: func(ctx context.Context, id string) error {
			_, err := c.CancelRun(ctx, id, "cancelled from the console")
			return err
		}}, items, more)
}

// bulkRestart asks to restart the selected runs, then restarts them one
// by one, each with its own parameters.
func (m *Model) bulkRestart() tea.Cmd {
	if m.bulk.Running() {
		return session.Note("wait: " + m.bulk.Progress())
	}
	var items []bulk.Item
	for _, r := range m.selectedRuns() {
		items = append(items, bulk.Item{ID: r.ID, Label: label(r)})
	}
	c := m.s.Client
	return m.bulk.Confirm(bulk.Action{Verb: "restart", Doing: "restarting", Done: "restarted", Noun: "run",
		Do: func(ctx context.Context, id string) error {
			_, err := c.RestartRunWith(ctx, id, api.RunParams{})
			return err
		}}, items, "")
}

// bulkDone keeps selected only the runs the action failed on, to try
// again or look at.
func (m *Model) bulkDone() {
	failed := m.bulk.Failed()
	clear(m.sel)
	for _, f := range failed {
		m.sel[f.Item.ID] = true
	}
}
