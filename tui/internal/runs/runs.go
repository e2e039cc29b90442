// Package runs is the console's list of runs: live through the event
// stream, by status tab, filtered, paged from the agent as the operator
// scrolls, and rendered a screenful at a time so that 100,000 runs cost what
// one screen costs.
package runs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// PageSize is how many runs one request fetches.
const PageSize = 200

// Tab is a status tab of the list.
type Tab struct {
	Name     string
	Statuses []api.RunStatus // none: every run
}

// Tabs are the list's status tabs, in order.
var Tabs = []Tab{
	{Name: "all"},
	// Queued runs are not running yet, but they are what is still to
	// happen: they sit with the active ones (and can be cancelled too).
	{Name: "active", Statuses: []api.RunStatus{api.StatusQueued, api.StatusRunning, api.StatusCancelling}},
	{Name: "failed", Statuses: []api.RunStatus{api.StatusFailed}},
	{Name: "succeeded", Statuses: []api.RunStatus{api.StatusSucceeded}},
	{Name: "cancelled", Statuses: []api.RunStatus{api.StatusCancelled}},
	{Name: "interrupted", Statuses: []api.RunStatus{api.StatusInterrupted}},
	{Name: "skipped", Statuses: []api.RunStatus{api.StatusSkipped}},
	// Missed fires (the dead-man's switch) are an alarm of their own.
	{Name: "missed", Statuses: []api.RunStatus{api.StatusMissed}},
}

// KeyMap is the runs list's keys.
type KeyMap struct {
	NextTab, PrevTab, Cancel, Restart, RestartWith key.Binding
	s                                              *session.Context
}

func newKeyMap(s *session.Context) KeyMap {
	return KeyMap{
		NextTab:     key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab", "status")),
		PrevTab:     key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab", "prev status")),
		Cancel:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel")),
		Restart:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
		RestartWith: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restart with params")),
		s:           s,
	}
}

// ShortHelp is the footer's keys: actions the role may take first.
func (k KeyMap) ShortHelp() []key.Binding {
	out := []key.Binding{keys.Nav.Open}
	if k.s.CanOperate() {
		out = append(out, k.Cancel, k.Restart)
	}
	return append(out, k.NextTab, keys.Nav.Filter)
}

// FullHelp is every key of the view, for the help screen.
func (k KeyMap) FullHelp() [][]key.Binding {
	actions := []key.Binding{keys.Nav.Open, keys.Item.Describe, keys.Item.CopyID, k.NextTab, k.PrevTab, keys.Nav.Filter, keys.Nav.ClearFilter}
	if k.s.CanOperate() {
		actions = append(actions, k.Cancel, k.Restart, k.RestartWith)
	}
	return [][]key.Binding{actions, keys.NavHelp()}
}

// Query is what the list shows: a status tab and the agent-side filters.
type Query struct {
	Tab  int
	Rule string
	Job  string
}

// Model is the runs list.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	q Query

	all  []*api.Run // loaded runs matching q, newest first
	byID map[string]*api.Run
	// list shows the runs of all that match q and the text filter, and
	// keeps the cursor on its run across reloads.
	list *list.Model[*api.Run]
	// dirty says the list must be filtered again: a run was added or
	// changed status.
	dirty bool

	gen        int    // bumped when q changes; replies of older ones are dropped
	next       string // cursor of the next page; "" when all are loaded
	loading    bool
	loaded     bool
	err        error
	emptyPages int // pages in a row that added nothing visible
}

// New returns the runs list.
func New(s *session.Context) *Model {
	m := &Model{s: s, keys: newKeyMap(s), byID: map[string]*api.Run{}}
	m.list = list.New(s.Theme, list.Options[*api.Run]{
		Key:         func(r *api.Run) string { return r.ID },
		Keep:        func(r *api.Run, text string) bool { return m.matchesQuery(r) && matchesText(r, text) },
		Placeholder: "rule, job, status or id",
		CharLimit:   100,
	})
	return m
}

// Title names the view.
func (m *Model) Title() string { return "Runs" }

// Help is the view's keys for the footer and the help screen.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing reports whether the filter input has the keyboard.
func (m *Model) Capturing() bool { return m.list.Filtering() }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.SetHeight(m.bodyHeight())
	m.list.SetFilterWidth(max(10, w-20))
}

// Query returns what the list shows.
func (m *Model) Query() Query { return m.q }

// SetQuery changes what the list shows and reloads it.
func (m *Model) SetQuery(q Query) tea.Cmd {
	m.q = q
	return m.Reload()
}

// ParseArgs reads the arguments of ":runs": a status tab name (or a run
// status), "rule:NAME" or "rule=NAME", "job:ID". Unknown words are an error.
func ParseArgs(args []string) (Query, error) {
	var q Query
	for _, a := range args {
		k, v, ok := strings.Cut(a, ":")
		if !ok {
			k, v, ok = strings.Cut(a, "=")
		}
		switch {
		case ok && k == "rule":
			q.Rule = v
		case ok && k == "job":
			q.Job = v
		case !ok && tabIndex(a) >= 0:
			q.Tab = tabIndex(a)
		default:
			return q, fmt.Errorf("runs: %q is not a status (%s), rule:NAME or job:ID", a, tabNames())
		}
	}
	return q, nil
}

func tabIndex(name string) int {
	name = strings.ToLower(name)
	if name == "running" || name == "cancelling" || name == "queued" {
		return 1
	}
	for i, t := range Tabs {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func tabNames() string {
	names := make([]string, len(Tabs))
	for i, t := range Tabs {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// Init loads the first page.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload forgets what is loaded and fetches the first page again, keeping
// the cursor on the same run when it is still there.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	m.all, m.byID = nil, map[string]*api.Run{}
	m.list.Forget()
	m.next, m.loaded, m.err, m.emptyPages = "", false, nil, 0
	m.loading = false
	return m.fetch("")
}

type pageMsg struct {
	gen    int
	cursor string
	page   api.Page[api.Run]
	err    error
}

func (m *Model) fetch(cursor string) tea.Cmd {
	if m.loading {
		return nil
	}
	m.loading = true
	gen, c, q := m.gen, m.s.Client, api.RunQuery{
		Statuses: Tabs[m.q.Tab].Statuses, Rule: m.q.Rule, Job: m.q.Job, Limit: PageSize, Cursor: cursor,
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		p, err := c.Runs(ctx, q)
		return pageMsg{gen: gen, cursor: cursor, page: p, err: err}
	}
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		return m.gotPage(msg)
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) gotPage(msg pageMsg) tea.Cmd {
	if msg.gen != m.gen {
		return nil // the query changed since it was asked
	}
	m.loading = false
	if msg.err != nil {
		m.err = msg.err
		return nil
	}
	m.err, m.loaded, m.next = nil, true, msg.page.NextCursor
	before := m.list.Len()
	for i := range msg.page.Items {
		r := msg.page.Items[i]
		if _, ok := m.byID[r.ID]; ok {
			continue // the stream brought it first
		}
		m.all = append(m.all, &r)
		m.byID[r.ID] = &r
	}
	m.sortAll()
	m.refresh()
	if m.list.Len() == before {
		m.emptyPages++
	} else {
		m.emptyPages = 0
	}
	return m.maybeMore()
}

// maybeMore fetches the next page when the cursor nears the end of what is
// loaded; a text filter that matches nothing stops it after a few pages.
func (m *Model) maybeMore() tea.Cmd {
	if m.next == "" || m.loading || m.emptyPages >= 5 {
		return nil
	}
	if m.list.Cursor() >= m.list.Len()-m.bodyHeight() {
		return m.fetch(m.next)
	}
	return nil
}

func (m *Model) sortAll() {
	sort.SliceStable(m.all, func(i, j int) bool { return newer(m.all[i], m.all[j]) })
}

func newer(a, b *api.Run) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func (m *Model) matchesQuery(r *api.Run) bool {
	if st := Tabs[m.q.Tab].Statuses; len(st) > 0 {
		found := false
		for _, s := range st {
			found = found || s == r.Status
		}
		if !found {
			return false
		}
	}
	return (m.q.Rule == "" || r.Rule == m.q.Rule) && (m.q.Job == "" || r.Job == m.q.Job)
}

// matchesText reports whether the text filter f (in lower case) keeps r.
func matchesText(r *api.Run, f string) bool {
	if f == "" {
		return true
	}
	for _, s := range []string{r.Rule, r.Job, session.StatusText(r), string(r.Status), r.ID, string(r.Trigger)} {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}

// refresh filters the loaded runs again; the cursor stays on its run.
func (m *Model) refresh() {
	m.list.SetItems(m.all)
	m.dirty = false
}

// Events applies run events: a known run is updated in place, a new one
// that belongs in the list is inserted where it sorts.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	for _, ev := range evs {
		// A log line's run is a snapshot from when the line was written:
		// it says nothing new about the run.
		if ev.Run == nil || !strings.HasPrefix(ev.Type, "run.") || ev.Type == api.EventRunLog {
			continue
		}
		if r, ok := m.byID[ev.Run.ID]; ok {
			if !session.Supersedes(r, ev.Run) {
				continue
			}
			if r.Status != ev.Run.Status {
				m.dirty = true
			}
			*r = *ev.Run
			continue
		}
		if !m.loaded || !m.matchesQuery(ev.Run) {
			continue
		}
		r := *ev.Run
		// Older than the last loaded run with more pages to come: the
		// page that holds it will bring it.
		if m.next != "" && len(m.all) > 0 && newer(m.all[len(m.all)-1], &r) {
			continue
		}
		i := sort.Search(len(m.all), func(i int) bool { return !newer(m.all[i], &r) })
		m.all = append(m.all, nil)
		copy(m.all[i+1:], m.all[i:])
		m.all[i] = &r
		m.byID[r.ID] = &r
		m.dirty = true
	}
	if m.dirty {
		m.refresh()
	}
	return nil
}

// Selected returns the run under the cursor.
func (m *Model) Selected() (api.Run, bool) {
	r, ok := m.list.Selected()
	if !ok {
		return api.Run{}, false
	}
	return *r, true
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	switch cmd, did := m.list.Update(msg); did {
	case list.Filtered:
		m.emptyPages = 0
		return tea.Batch(cmd, m.maybeMore())
	case list.Moved:
		if key.Matches(msg, keys.Nav.Down, keys.Nav.Bottom, keys.Nav.PageDown) {
			m.emptyPages = 0
		}
		return m.maybeMore()
	case list.Handled:
		return cmd
	}
	run, has := m.Selected()
	switch {
	case key.Matches(msg, keys.Nav.ClearFilter) && (m.q.Rule != "" || m.q.Job != ""):
		// The text filter is clear (the list clears it first): clear the
		// agent-side ones.
		m.q.Rule, m.q.Job = "", ""
		return m.Reload()
	case key.Matches(msg, m.keys.NextTab):
		m.q.Tab = (m.q.Tab + 1) % len(Tabs)
		return m.Reload()
	case key.Matches(msg, m.keys.PrevTab):
		m.q.Tab = (m.q.Tab + len(Tabs) - 1) % len(Tabs)
		return m.Reload()
	case key.Matches(msg, keys.Nav.Open) && has:
		return func() tea.Msg { return session.OpenRunMsg{ID: run.ID} }
	case key.Matches(msg, keys.Item.Describe) && has:
		return func() tea.Msg { return session.DescribeMsg{Run: run.ID} }
	case key.Matches(msg, keys.Item.CopyID) && has:
		return m.s.Copy("run "+session.ShortID(run.ID), run.ID)
	case key.Matches(msg, m.keys.Cancel) && has && m.s.CanOperate():
		return m.s.ConfirmCancel(run)
	case key.Matches(msg, m.keys.Restart) && has && m.s.CanOperate():
		return m.s.UnlessGoing(run.Rule, "restart "+session.ShortID(run.ID), m.s.Restart(run.ID, nil, false))
	case key.Matches(msg, m.keys.RestartWith) && has && m.s.CanOperate():
		return func() tea.Msg { return session.RunWithParamsMsg{Rule: run.Rule, RestartOf: run.ID} }
	}
	return nil
}

func (m *Model) bodyHeight() int { return max(1, m.h-3) }

var columns = []grid.Column{
	{Title: "", Width: 1},
	{Title: "ID", Width: 8, MinTotal: 100},
	{Title: "RULE", Width: 10, Flex: 3},
	{Title: "JOB", Width: 8, Flex: 2},
	{Title: "TRIGGER", Width: 8, MinTotal: 120},
	{Title: "STATUS", Width: 11},
	{Title: "STARTED", Width: 12},
	{Title: "DURATION", Width: 8, Right: true},
	{Title: "PROGRESS", Width: 16, Flex: 1},
}

// View renders the tabs, the column titles and the rows on screen.
func (m *Model) View() string {
	if m.dirty {
		m.refresh()
	}
	t := m.s.Theme
	var b strings.Builder
	b.WriteString(m.titleLine())
	b.WriteByte('\n')
	l := grid.Fit(columns, m.w)
	b.WriteString(t.Column.Render(l.Header()))
	switch {
	case m.err != nil && m.list.Len() == 0:
		b.WriteString("\n" + t.Failure.Render(grid.Fit1("Cannot load runs: "+session.Explain(m.err), m.w, false)))
	case !m.loaded && m.list.Len() == 0:
		b.WriteString("\n" + t.Muted.Render("Loading runs…"))
	case m.list.Len() == 0:
		b.WriteString("\n" + t.Muted.Render(m.emptyText()))
	}
	now := m.s.Clock()
	for r, selected := range m.list.Shown() {
		b.WriteByte('\n')
		b.WriteString(m.row(l, r, selected, now))
	}
	return grid.Pad(b.String(), m.h)
}

func (m *Model) emptyText() string {
	switch {
	case m.list.FilterText() != "" && m.next != "":
		return "No run matches in the runs loaded so far; scroll down (j) to search older ones."
	case m.list.FilterText() != "":
		return "No run matches the filter."
	case m.q.Tab != 0 || m.q.Rule != "" || m.q.Job != "":
		return "No runs here."
	}
	return "No runs yet. Trigger a rule (:rules, then r) to start one."
}

// titleLine is the view's name, its filters and how many runs are loaded,
// then the status tabs on a line of their own.
func (m *Model) titleLine() string {
	t := m.s.Theme
	parts := []string{t.Title.Render("Runs")}
	if m.q.Rule != "" {
		parts = append(parts, t.Accent.Render("rule:"+m.q.Rule))
	}
	if m.q.Job != "" {
		parts = append(parts, t.Accent.Render("job:"+m.q.Job))
	}
	if f := m.list.FilterTitle(); f != "" {
		parts = append(parts, f)
	}
	count := fmt.Sprintf("%d", m.list.Len())
	if m.next != "" {
		count += "+"
	}
	if m.loading && m.loaded {
		count += " loading…"
	}
	parts = append(parts, t.Muted.Render(count))
	tabs := make([]string, len(Tabs))
	for i, tab := range Tabs {
		if i == m.q.Tab {
			tabs[i] = t.TabOn.Render("[" + tab.Name + "]")
		} else {
			tabs[i] = t.TabOff.Render(" " + tab.Name + " ")
		}
	}
	return grid.Fit1(strings.Join(parts, " "), m.w, false) + "\n" + grid.Fit1(strings.Join(tabs, ""), m.w, false)
}

func (m *Model) row(l grid.Layout, r *api.Run, selected bool, now time.Time) string {
	t := m.s.Theme
	start := r.CreatedAt
	if r.StartedAt != nil {
		start = *r.StartedAt
	}
	dur := ""
	switch {
	case r.FinishedAt != nil && r.StartedAt != nil:
		dur = session.Duration(r.FinishedAt.Sub(*r.StartedAt))
	case r.Status.Active():
		dur = session.Duration(now.Sub(start).Truncate(time.Second))
	}
	progress := ""
	switch {
	case r.Status.Waiting():
		progress = session.WaitText(r, m.s.Local)
	case r.Status.Active() || r.Progress.Percent > 0:
		progress = session.Bar(r.Progress.Percent, l.Widths[8])
	}
	marker := " "
	if selected {
		marker = ">"
	}
	cells := []string{marker, session.ShortID(r.ID), r.Rule, r.Job, session.TriggerText(r), session.StatusText(r),
		session.Stamp(m.s.Local(now), m.s.Local(start)), dur, progress}
	if selected {
		// One style for the whole line: a cell's own colour would end
		// the highlight where it resets.
		return t.Selected.Render(l.Row(cells, nil))
	}
	return l.Row(cells, func(i int, cell string) string {
		switch i {
		case 5:
			if r.Slow && r.Status == api.StatusRunning {
				return t.Warning.Bold(true).Render(cell)
			}
			return t.Status(r.Status).Render(cell)
		case 8:
			if r.Status.Active() {
				return t.Running.Render(cell)
			}
			return t.Muted.Render(cell)
		}
		return cell
	})
}
