// Package runs is the console's list of runs: live through the event
// stream, by status tab, filtered, paged from the agent as the operator
// scrolls, and rendered a screenful at a time so that 100,000 runs cost what
// one screen costs.
package runs

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/bulk"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// PageSize is how many runs one request fetches while the operator
// scrolls; FullPageSize while the list loads every run of its query (to
// sort them, or to select them all).
const (
	PageSize     = 200
	FullPageSize = 1000
)

// maxRuns is the most runs one list holds: scrolling, a sort and ctrl+a
// load pages until they reach it, then stop and say so. Without it any
// role's `s` would load every run of the query; over SSH the console runs
// inside the agent, and each session would hold all of them. It is the
// size the frame-time benchmark measures (docs/benchmarks.md).
const maxRuns = 100_000

// recountAfter is how long the counts wait, after an event the list
// cannot count by itself, before asking the agent again: events come in
// bursts, and one count follows a burst.
const recountAfter = time.Second

// Tab is a status tab of the list.
type Tab struct {
	Name string
	// Short is the name where the tabs with their counts do not fit.
	Short    string
	Statuses []api.RunStatus // none: every run
}

// Tabs are the list's status tabs, in order.
var Tabs = []Tab{
	{Name: "all", Short: "all"},
	// Queued runs are not running yet, but they are what is still to
	// happen: they sit with the active ones (and can be cancelled too).
	{Name: "active", Short: "active", Statuses: []api.RunStatus{api.StatusQueued, api.StatusRunning, api.StatusCancelling}},
	{Name: "failed", Short: "failed", Statuses: []api.RunStatus{api.StatusFailed}},
	{Name: "succeeded", Short: "ok", Statuses: []api.RunStatus{api.StatusSucceeded}},
	{Name: "cancelled", Short: "cancel", Statuses: []api.RunStatus{api.StatusCancelled}},
	{Name: "interrupted", Short: "intr", Statuses: []api.RunStatus{api.StatusInterrupted}},
	{Name: "skipped", Short: "skip", Statuses: []api.RunStatus{api.StatusSkipped}},
	// Missed fires (the dead-man's switch) are an alarm of their own.
	{Name: "missed", Short: "missed", Statuses: []api.RunStatus{api.StatusMissed}},
}

// KeyMap is the runs list's keys.
type KeyMap struct {
	NextTab, PrevTab, Cancel, Restart, RestartWith key.Binding
	Sort, Reverse, Select, SelectAll, Unselect     key.Binding
	s                                              *session.Context
}

func newKeyMap(s *session.Context) KeyMap {
	return KeyMap{
		NextTab:     key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab", "status")),
		PrevTab:     key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab", "prev status")),
		Cancel:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel")),
		Restart:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
		RestartWith: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restart with params")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Reverse:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort")),
		Select:      key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "select")),
		SelectAll:   key.NewBinding(key.WithKeys("ctrl+a"), key.WithHelp("ctrl+a", "select all")),
		Unselect:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "unselect")),
		s:           s,
	}
}

// ShortHelp is the footer's keys: actions the role may take first.
func (k KeyMap) ShortHelp() []key.Binding {
	out := []key.Binding{keys.Nav.Open}
	if k.s.CanOperate() {
		out = append(out, k.Cancel, k.Restart)
	}
	out = append(out, k.NextTab, keys.Nav.Filter, k.Sort)
	if k.s.CanOperate() {
		out = append(out, k.Select)
	}
	return out
}

// FullHelp is every key of the view, for the help screen.
func (k KeyMap) FullHelp() [][]key.Binding {
	actions := []key.Binding{keys.Nav.Open, keys.Item.Describe, keys.Item.CopyID, k.NextTab, k.PrevTab, k.Sort, k.Reverse, keys.Nav.Filter, keys.Nav.ClearFilter}
	if k.s.CanOperate() {
		actions = append(actions, k.Cancel, k.Restart, k.RestartWith, k.Select, k.SelectAll, k.Unselect)
	}
	return [][]key.Binding{actions, keys.NavHelp()}
}

// Model is the runs list.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	q    Query
	sort Sort

	all  []*api.Run // loaded runs matching q, in the order of sort
	byID map[string]*api.Run
	// list shows the runs of all that match q and the text filter, and
	// keeps the cursor on its run across reloads.
	list *list.Model[*api.Run]
	// dirty says the list must be filtered again: a run was added or
	// changed status.
	dirty bool

	gen        int      // bumped when q changes; replies of older ones are dropped
	next       string   // cursor of the next page; "" when all are loaded
	oldest     *api.Run // the oldest run the pages brought
	loading    bool
	loaded     bool
	err        error
	emptyPages int // pages in a row that added nothing visible
	// limit is the most runs all holds (maxRuns; a test lowers it);
	// capped says it holds that many and the query has more, which it
	// no longer loads.
	limit  int
	capped bool
	// full loads every page of q, not only those the cursor nears: a
	// sort other than the agent's needs every run, and so does selectAll,
	// which selects the runs that match as their pages come.
	full, selectAll bool

	counts    api.RunCounts // of q's rule, job and since; nil until known
	countsErr error
	recount   bool                     // a recount is on its way
	seen      map[string]api.RunStatus // last status of runs known from events only

	// The filter being typed: its text, what it reads as, and what is
	// wrong with it. prevText is the free text before / was pressed, put
	// back by esc.
	ftext    string
	f        filter
	ferr     error
	prevText string

	sel  map[string]bool // selected runs, by id
	bulk bulk.Runner

	// sorting says a sort runs in the background (sortGen names the
	// latest); added are the runs that came meanwhile, which it has not
	// seen, and replaced the new copies of runs that changed meanwhile
	// (by id), which take the place of those it sorted.
	sorting  bool
	sortGen  int
	added    []*api.Run
	replaced map[string]*api.Run
}

// New returns the runs list.
func New(s *session.Context) *Model {
	m := &Model{s: s, keys: newKeyMap(s), byID: map[string]*api.Run{}, sort: DefaultSort,
		sel: map[string]bool{}, seen: map[string]api.RunStatus{}, limit: maxRuns}
	if s.RunsLimit > 0 {
		m.limit = s.RunsLimit
	}
	m.list = list.New(s.Theme, list.Options[*api.Run]{
		Key:         func(r *api.Run) string { return r.ID },
		Keep:        func(r *api.Run, text string) bool { return m.matchesQuery(r) && m.typedAs(text).keeps(r) },
		Placeholder: "rule:NAME job:ID status:a,b since:1h or text",
		CharLimit:   200,
	})
	return m
}

// keep reports whether the list shows r: it matches the query and the
// filter (while it is typed, the terms in it as well).
func (m *Model) keep(r *api.Run) bool {
	return m.matchesQuery(r) && m.typedAs(strings.ToLower(strings.TrimSpace(m.list.FilterText()))).keeps(r)
}

// typed is the filter as typed, read again when its text changes.
func (m *Model) typed() *filter {
	return m.typedAs(strings.ToLower(strings.TrimSpace(m.list.FilterText())))
}

// typedAs is the filter whose text is key (trimmed, in lower case: what
// the list hands Keep, so that a frame reads the input's text once, not
// once a row), read once per change; a term that is wrong leaves the
// last good reading in force.
func (m *Model) typedAs(key string) *filter {
	if key != m.ftext || m.f.set == nil {
		m.ftext = key
		f, err := parseFilter(m.list.FilterText(), m.s.Clock(), m.s.Location)
		m.ferr = err
		if err == nil || m.f.set == nil {
			m.f = f
		}
	}
	return &m.f
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
	m.list.SetFilterWidth(max(10, w-len("Runs ")-list.CountRoom))
}

// Query returns what the list shows.
func (m *Model) Query() Query { return m.q }

// SetQuery changes what the list shows and reloads it; the selection goes.
func (m *Model) SetQuery(q Query) tea.Cmd {
	m.q = q
	clear(m.sel)
	return m.Reload()
}

// Sort returns the list's order.
func (m *Model) Sort() Sort { return m.sort }

// Init loads the first page.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload forgets what is loaded and fetches the first page and the counts
// again, keeping the cursor on the same run when it is still there.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	m.all, m.byID, m.oldest = nil, map[string]*api.Run{}, nil
	m.list.Forget()
	m.next, m.loaded, m.err, m.emptyPages, m.capped = "", false, nil, 0, false
	m.loading, m.full, m.selectAll = false, m.sort != DefaultSort, false
	m.counts, m.countsErr, m.recount = nil, nil, false
	m.sorting, m.added, m.replaced = false, nil, nil
	clear(m.seen)
	return tea.Batch(m.fetch(""), m.fetchCounts())
}

type pageMsg struct {
	gen    int
	cursor string
	page   api.Page[api.Run]
	err    error
}

type countsMsg struct {
	gen    int
	counts api.RunCounts
	err    error
}

type recountMsg struct{ gen int }

func (m *Model) fetch(cursor string) tea.Cmd {
	if m.loading {
		return nil
	}
	m.loading = true
	size := PageSize
	if m.full {
		size = FullPageSize
	}
	gen, c, q := m.gen, m.s.Client, m.q.api(size, cursor)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		p, err := c.Runs(ctx, q)
		return pageMsg{gen: gen, cursor: cursor, page: p, err: err}
	}
}

// fetchCounts asks how many runs of the query's rule, job and since each
// status has, for the tabs.
func (m *Model) fetchCounts() tea.Cmd {
	gen, c, q := m.gen, m.s.Client, m.q.api(0, "")
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		counts, err := c.RunCounts(ctx, q)
		return countsMsg{gen: gen, counts: counts, err: err}
	}
}

// recountLater counts again in a moment, once for a burst of events.
func (m *Model) recountLater() tea.Cmd {
	if m.recount {
		return nil
	}
	m.recount = true
	gen := m.gen
	return tea.Tick(recountAfter, func(time.Time) tea.Msg { return recountMsg{gen: gen} })
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if cmd, done := m.bulk.Update(msg); cmd != nil || done {
		if done {
			m.bulkDone()
			return tea.Batch(cmd, m.recountLater())
		}
		return cmd
	}
	switch msg := msg.(type) {
	case pageMsg:
		return m.gotPage(msg)
	case sortedMsg:
		m.gotSorted(msg)
	case countsMsg:
		if msg.gen == m.gen {
			m.counts, m.countsErr = msg.counts, msg.err
		}
	case recountMsg:
		if msg.gen == m.gen {
			m.recount = false
			return m.fetchCounts()
		}
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
	fresh := make([]*api.Run, 0, len(msg.page.Items))
	cut := false // the page holds more than the list may
	for i := range msg.page.Items {
		r := &msg.page.Items[i]
		_, known := m.byID[r.ID] // the stream brought it first
		if !known && len(m.all)+len(fresh) >= m.limit {
			cut = true
			break
		}
		if m.oldest == nil || newer(m.oldest, r) {
			m.oldest = r
		}
		if known {
			continue
		}
		m.byID[r.ID] = r
		fresh = append(fresh, r)
		if m.selectAll && m.keep(r) {
			m.sel[r.ID] = true
		}
	}
	// Pages come by id; within one, creation times may differ a little
	// from that order. A page costs its own sort and one pass.
	m.all = m.sort.merge(m.all, fresh, m.s.Clock())
	if m.sorting {
		m.added = append(m.added, fresh...)
	}
	m.refresh()
	if m.list.Len() == before {
		m.emptyPages++
	} else {
		m.emptyPages = 0
	}
	if len(m.all) >= m.limit && (cut || m.next != "") {
		m.capped = true
	}
	var note tea.Cmd
	if m.selectAll && m.capped {
		note = session.Note(m.selectedCapNote())
	}
	if !m.more() || m.capped {
		m.selectAll = false
	}
	return tea.Batch(note, m.maybeMore())
}

// more reports whether the query has runs the list has not loaded.
func (m *Model) more() bool { return m.next != "" || m.capped }

// maybeMore fetches the next page: every one while the list loads them
// all, else when the cursor nears the end of what is loaded; a text
// filter that matches nothing stops it after a few pages.
func (m *Model) maybeMore() tea.Cmd {
	if m.next == "" || m.loading || m.capped {
		return nil
	}
	if m.full {
		return m.fetch(m.next)
	}
	if m.emptyPages >= 5 {
		return nil
	}
	if m.list.Cursor() >= m.list.Len()-m.bodyHeight() {
		return m.fetch(m.next)
	}
	return nil
}

func (m *Model) matchesQuery(r *api.Run) bool {
	if st := m.q.statuses(); len(st) > 0 {
		found := false
		for _, s := range st {
			found = found || s == r.Status
		}
		if !found {
			return false
		}
	}
	return m.matchesCounts(r)
}

// matchesCounts reports whether r is among the runs the counts count:
// those of the query whatever their status.
func (m *Model) matchesCounts(r *api.Run) bool {
	return (m.q.Rule == "" || r.Rule == m.q.Rule) && (m.q.Job == "" || r.Job == m.q.Job) &&
		(m.q.Since.IsZero() || !r.CreatedAt.Before(m.q.Since))
}

// refresh filters the loaded runs again; the cursor stays on its run.
func (m *Model) refresh() {
	m.list.SetItems(m.all)
	m.dirty = false
}

// Events applies run events: a known run is updated in place (moved when
// the list is sorted by what changed), a new one that belongs in the list
// is inserted where it sorts; the counts follow.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	var cmds []tea.Cmd
	now := m.s.Clock()
	for _, ev := range evs {
		// A log line's run is a snapshot from when the line was written:
		// it says nothing new about the run.
		if ev.Run == nil || !strings.HasPrefix(ev.Type, "run.") || ev.Type == api.EventRunLog {
			continue
		}
		cmds = append(cmds, m.count(ev))
		if r, ok := m.byID[ev.Run.ID]; ok {
			if !session.Supersedes(r, ev.Run) {
				continue
			}
			moved := r.Status != ev.Run.Status || r.Progress != ev.Run.Progress || r.FinishedAt != nil != (ev.Run.FinishedAt != nil)
			if r.Status != ev.Run.Status {
				m.dirty = true
			}
			if m.sorting {
				// The sort in the background reads r: a new copy takes
				// its place instead.
				r = m.replace(r, *ev.Run)
			} else {
				*r = *ev.Run
			}
			if moved && m.sort != DefaultSort && m.sort.Col != colRule && m.sort.Col != colJob && m.sort.Col != colID {
				m.reposition(r, now)
			}
			continue
		}
		if !m.loaded || !m.matchesQuery(ev.Run) {
			continue
		}
		r := *ev.Run
		// Older than the oldest loaded run with more pages to come: the
		// page that holds it will bring it.
		if m.more() && m.oldest != nil && newer(m.oldest, &r) {
			continue
		}
		m.insert(&r, now)
		m.byID[r.ID] = &r
		if m.sorting {
			m.added = append(m.added, &r)
		}
		if len(m.all) > m.limit {
			m.evictOldest()
		}
		m.dirty = true
	}
	if m.dirty {
		m.refresh()
	}
	return tea.Batch(cmds...)
}

// replace puts a copy of next where old is, leaving old as it was.
func (m *Model) replace(old *api.Run, next api.Run) *api.Run {
	r := &next
	if i := slices.Index(m.all, old); i >= 0 {
		m.all[i] = r
	}
	m.byID[r.ID] = r
	m.replaced[r.ID] = r
	m.dirty = true // the list's rows hold old
	return r
}

// evictOldest drops the oldest run the list holds, which a new run
// pushed beyond the limit: the list keeps the newest runs.
func (m *Model) evictOldest() {
	var oldest, next *api.Run // the oldest and the one after it
	at := -1
	if n := len(m.all); m.sort == DefaultSort && n >= 2 {
		// Newest first: the oldest is last, at no cost.
		oldest, next, at = m.all[n-1], m.all[n-2], n-1
	} else {
		for i, r := range m.all {
			switch {
			case oldest == nil || newer(oldest, r):
				oldest, next, at = r, oldest, i
			case next == nil || newer(next, r):
				next = r
			}
		}
	}
	if at < 0 {
		return
	}
	m.all = slices.Delete(m.all, at, at+1)
	delete(m.byID, oldest.ID)
	delete(m.sel, oldest.ID)
	m.seen[oldest.ID] = oldest.Status // for the counts, should it change
	m.oldest, m.capped = next, true
}

func (m *Model) insert(r *api.Run, now time.Time) {
	i := m.sort.search(m.all, r, now)
	m.all = append(m.all, nil)
	copy(m.all[i+1:], m.all[i:])
	m.all[i] = r
}

// reposition moves r, whose sort key changed, to where it sorts now.
func (m *Model) reposition(r *api.Run, now time.Time) {
	for i, have := range m.all {
		if have == r {
			m.all = append(m.all[:i], m.all[i+1:]...)
			break
		}
	}
	m.insert(r, now)
	m.dirty = true
}

// count keeps the counts in step with an event: a run the list knows
// moves from its status to the new one, a new run adds one; a run whose
// status before is unknown (it may be older than the loaded pages) has
// the agent count again a moment later.
func (m *Model) count(ev api.Event) tea.Cmd {
	if m.counts == nil || !m.matchesCounts(ev.Run) {
		return nil
	}
	r := ev.Run
	prev, known := m.seen[r.ID]
	if have, ok := m.byID[r.ID]; ok {
		prev, known = have.Status, true
	}
	if len(m.seen) > 10_000 {
		clear(m.seen) // a bound; the runs of the list still count
	}
	switch {
	case known:
		if prev != r.Status && session.Supersedes(&api.Run{Status: prev}, r) {
			m.counts[prev]--
			m.counts[r.Status]++
		}
	case ev.Type == api.EventRunQueued || ev.Type == api.EventRunSkipped || ev.Type == api.EventRunMissed:
		m.counts[r.Status]++
	default:
		// Most likely a new run that started at once; but it may be an
		// older one the list has not loaded, whose status before is
		// unknown: count it now, and have the agent count again.
		m.counts[r.Status]++
		m.seen[r.ID] = r.Status
		return m.recountLater()
	}
	m.seen[r.ID] = r.Status
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

// SelectedIDs returns the ids of the selected runs.
func (m *Model) SelectedIDs() []string {
	out := make([]string, 0, len(m.sel))
	for id := range m.sel {
		out = append(out, id)
	}
	return out
}
