// Package audit is the console's view of the agent's audit trail: who did
// what to which rule, run or token, newest first, filtered by actor,
// action and target (":audit actor:alice action:rule.update", or / with
// the same terms), and each rule change's before and after, field by
// field (secret values as the agent masked them).
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/rulefields"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// pageSize is how many entries one request brings; the next page is read
// when the cursor reaches the last entry.
const pageSize = 100

// KeyMap is the audit view's keys.
type KeyMap struct {
	Open, Back key.Binding
	detail     bool
}

// ShortHelp is the footer's keys.
func (k KeyMap) ShortHelp() []key.Binding {
	if k.detail {
		return []key.Binding{keys.Nav.Down, keys.Nav.PageDown, k.Back}
	}
	return []key.Binding{k.Open, keys.Nav.Filter}
}

// FullHelp is every key of the view.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Open, keys.Nav.Filter, keys.Nav.ClearFilter, k.Back}, keys.NavHelp()}
}

// Model is the audit view: the list, or one entry's detail over it.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	query  api.AuditQuery // what the agent is asked for (actor, action, target)
	list   *list.Model[api.AuditEntry]
	items  []api.AuditEntry
	next   string // the cursor of the page after the last one read
	more   bool   // a next page is being read
	gen    int
	loaded bool
	err    error

	detail *api.AuditEntry // the entry shown whole, nil for the list
	scroll int             // the detail's first line on screen

	prevText string // the list's text filter when / was pressed, back on esc
}

// New returns the audit view.
func New(s *session.Context) *Model {
	m := &Model{s: s, keys: KeyMap{
		Open: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "before/after")),
		Back: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}}
	m.list = list.New(s.Theme, list.Options[api.AuditEntry]{
		Key:         func(e api.AuditEntry) string { return e.ID },
		Keep:        keep,
		Placeholder: "actor:NAME action:rule.update target:NAME or text",
		CharLimit:   200,
	})
	return m
}

// ParseArgs reads the view's filter terms, as typed after ":audit" or
// "/": actor:NAME, action:NAME and target:NAME, each matched exactly;
// words without a term are returned as text, matched anywhere in an entry.
func ParseArgs(args []string) (q api.AuditQuery, text []string, err error) {
	for _, a := range args {
		k, v, ok := strings.Cut(a, ":")
		if !ok {
			text = append(text, a)
			continue
		}
		if v == "" {
			return q, nil, fmt.Errorf("“%s” names no %s: write %s:NAME", a, k, k)
		}
		switch strings.ToLower(k) {
		case "actor":
			q.Actor = v
		case "action":
			q.Action = v
		case "target":
			q.Target = v
		default:
			return q, nil, fmt.Errorf("“%s”: the audit view filters by actor:NAME, action:NAME and target:NAME", a)
		}
	}
	return q, text, nil
}

// keep is the list's filter: the terms of what is typed after / match
// exactly (ignoring case, as the filter is given in lower case), other
// words anywhere in the entry.
func keep(e api.AuditEntry, filter string) bool {
	q, words, err := ParseArgs(strings.Fields(filter))
	if err != nil {
		return true // said when the filter is applied
	}
	if q.Actor != "" && !strings.EqualFold(e.Actor, q.Actor) ||
		q.Action != "" && !strings.EqualFold(e.Action, q.Action) ||
		q.Target != "" && !strings.EqualFold(e.Target, q.Target) {
		return false
	}
	all := strings.ToLower(e.Actor + " " + e.Action + " " + e.Target + " " + e.Detail)
	for _, w := range words {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}

// SetArgs filters the view by the terms typed after ":audit" and reads
// the trail again; a word that is not a term is an error, shown as a note.
func (m *Model) SetArgs(args []string) tea.Cmd {
	q, text, err := ParseArgs(args)
	if err != nil {
		return noteErr(err.Error())
	}
	m.query = q
	m.detail = nil
	m.list.SetFilter(strings.Join(text, " "))
	return m.Reload()
}

func noteErr(text string) tea.Cmd {
	return func() tea.Msg { return session.NoteMsg{Text: text, Err: true} }
}

// Title names the view.
func (m *Model) Title() string {
	if m.detail != nil {
		return "Audit entry"
	}
	return "Audit"
}

// Help is the view's keys.
func (m *Model) Help() help.KeyMap {
	k := m.keys
	k.detail = m.detail != nil
	return k
}

// Capturing reports whether the filter input has the keyboard.
func (m *Model) Capturing() bool { return m.list.Filtering() }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.SetHeight(max(1, h-2))
	m.list.SetFilterWidth(max(10, w-len("Audit ")-list.CountRoom))
}

type loadedMsg struct {
	gen    int
	page   api.Page[api.AuditEntry]
	append bool
	err    error
}

// Init reads the trail.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload reads the first page of the trail again.
func (m *Model) Reload() tea.Cmd { return m.load("") }

func (m *Model) load(cursor string) tea.Cmd {
	m.gen++
	gen, c, q := m.gen, m.s.Client, m.query
	q.Limit, q.Cursor = pageSize, cursor
	m.more = cursor != ""
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		page, err := c.AuditWith(ctx, q)
		return loadedMsg{gen: gen, page: page, append: cursor != "", err: err}
	}
}

// Events reads the trail again when a rule changes (the change wrote an
// entry), unless an entry is open.
func (m *Model) Events(evs []api.Event) tea.Cmd {
	if m.detail != nil || m.more {
		return nil
	}
	for _, ev := range evs {
		switch ev.Type {
		case api.EventRuleCreated, api.EventRuleChanged, api.EventRuleDeleted:
			return m.Reload()
		}
	}
	return nil
}

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.more = false
		if msg.err != nil {
			m.err = msg.err
			return nil
		}
		m.err, m.loaded = nil, true
		if msg.append {
			m.items = append(m.items, msg.page.Items...)
		} else {
			m.items = msg.page.Items
		}
		m.next = msg.page.NextCursor
		m.list.SetItems(m.items)
	case tea.KeyMsg:
		if m.detail != nil {
			return m.detailKey(msg)
		}
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	wasFiltering := m.list.Filtering()
	switch {
	case !wasFiltering && key.Matches(msg, keys.Nav.Filter):
		// The terms in force come back into the input, to be edited.
		m.prevText = m.list.FilterText()
		text := strings.Join(append(m.terms(), strings.Fields(m.prevText)...), " ")
		if text != "" {
			text += " "
		}
		return m.list.EditFilter(text)
	case wasFiltering && key.Matches(msg, keys.Global.Back):
		// esc puts back the filter in force.
		m.list.StopFilter()
		m.list.SetFilter(m.prevText)
		return nil
	}
	cmd, did := m.list.Update(msg)
	switch {
	case did == list.Handled && wasFiltering && !m.list.Filtering() && msg.String() == "enter":
		// The terms typed go to the agent, which looks through the whole
		// trail rather than the entries read so far; terms taken out of
		// the input are no longer asked for.
		q, text, err := ParseArgs(strings.Fields(m.list.FilterText()))
		if err != nil {
			// The input stays open, to be put right.
			return tea.Batch(m.list.EditFilter(m.list.FilterText()), noteErr(err.Error()))
		}
		m.list.SetFilter(strings.Join(text, " "))
		if q == m.query {
			return cmd
		}
		m.query = q
		return m.Reload()
	case did == list.Moved:
		if m.list.Cursor() == m.list.Len()-1 && m.next != "" && !m.more {
			return m.load(m.next)
		}
		return nil
	case did != list.NotMine:
		return cmd
	case key.Matches(msg, keys.Global.Back) && (m.query != api.AuditQuery{}):
		m.query = api.AuditQuery{}
		return m.Reload()
	case key.Matches(msg, m.keys.Open):
		if e, ok := m.list.Selected(); ok {
			m.detail, m.scroll = &e, 0
		}
	}
	return nil
}

func (m *Model) detailKey(msg tea.KeyMsg) tea.Cmd {
	page := max(1, m.h-2)
	switch {
	case key.Matches(msg, m.keys.Back):
		m.detail = nil
	default:
		m.scroll, _ = keys.Scroll(msg, m.scroll, page)
	}
	return nil
}

var columns = []grid.Column{
	{Title: "", Width: 1},
	{Title: "TIME", Width: 14},
	{Title: "ACTOR", Width: 10, Flex: 1},
	{Title: "ACTION", Width: 14},
	{Title: "TARGET", Width: 14, Flex: 2},
	{Title: "DETAIL", Width: 12, Flex: 4},
}

// View draws the list, or the entry open.
func (m *Model) View() string {
	if m.detail != nil {
		return m.detailView()
	}
	t := m.s.Theme
	count := fmt.Sprint(m.list.Len())
	if m.next != "" {
		count += "+"
	}
	title := t.Title.Render("Audit") + " " + t.Muted.Render(count)
	if m.list.Filtering() {
		// The input has the line after the name (SetSize gives it the
		// room), the terms in force being in it.
		title = t.Title.Render("Audit") + " " + m.list.FilterTitle() + " " + t.Muted.Render(count)
	} else {
		for _, term := range m.terms() {
			title += " " + t.Accent.Render(grid.Line(term))
		}
		if f := m.list.FilterTitle(); f != "" {
			title += "  " + f
		}
	}
	lines := []string{grid.Fit1(title, m.w, false)}
	l := grid.Fit(columns, m.w)
	lines = append(lines, t.Column.Render(l.Header()))
	switch {
	case m.err != nil:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot read the audit trail: "+session.Explain(m.err), m.w, false)))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case !m.loaded:
		lines = append(lines, t.Muted.Render("Loading the audit trail…"))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case m.list.Len() == 0:
		lines = append(lines, t.Muted.Render("No entry matches."))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	}
	for e, selected := range m.list.Shown() {
		marker := " "
		if selected {
			marker = ">"
		}
		row := l.Row([]string{marker, m.s.Local(e.Time).Format("01-02 15:04:05"), e.Actor, e.Action, shortTarget(e.Target), grid.Line(e.Detail)}, nil)
		if selected {
			row = t.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	return grid.Pad(strings.Join(lines, "\n"), m.h)
}

// shortTarget is a target as the list shows it: a run's id as the 8
// characters the console shows everywhere (its end: ids that start alike
// differ there), anything else whole. The entry's view has the id whole.
func shortTarget(target string) string {
	if isRunID(target) {
		return session.ShortID(target)
	}
	return target
}

// isRunID reports whether s has the shape of a run id, a UUID
// (0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b).
func isRunID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// terms are the filter the agent applies, as typed.
func (m *Model) terms() []string {
	var out []string
	for _, kv := range [][2]string{{"actor", m.query.Actor}, {"action", m.query.Action}, {"target", m.query.Target}} {
		if kv[1] != "" {
			out = append(out, kv[0]+":"+kv[1])
		}
	}
	return out
}

// decode reads a before or after: nil for none. What the agent sent was
// cleaned as JSON, whose escapes decode back to raw text, so the strings
// are cleaned again.
func decode(raw json.RawMessage) (*api.RuleInput, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var in api.RuleInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	in = safe.Value(in)
	return &in, nil
}

// detailLines is the entry whole: its header, then the rule before and
// after, field by field, changed fields first marked.
func (m *Model) detailLines() []string {
	t, e := m.s.Theme, m.detail
	label := func(l, v string) []string {
		var out []string
		for i, line := range grid.Wrap(grid.Line(v), max(10, m.w-10)) {
			if i == 0 {
				out = append(out, t.Label.Render(grid.Fit1(l, 9, false))+" "+line)
			} else {
				out = append(out, strings.Repeat(" ", 10)+line)
			}
		}
		if len(out) == 0 {
			out = append(out, t.Label.Render(grid.Fit1(l, 9, false)))
		}
		return out
	}
	var out []string
	out = append(out, label("Time", m.s.Local(e.Time).Format("2006-01-02 15:04:05 MST"))...)
	out = append(out, label("Actor", e.Actor)...)
	out = append(out, label("Action", e.Action)...)
	out = append(out, label("Target", e.Target)...)
	if e.Detail != "" {
		out = append(out, label("Detail", e.Detail)...)
	}
	out = append(out, "")
	before, errB := decode(e.Before)
	after, errA := decode(e.After)
	switch {
	case errB != nil || errA != nil:
		return append(out, t.Failure.Render("The rule before or after is not one the console can read."))
	case before == nil && after == nil:
		return append(out, t.Muted.Render("No rule before and after: the agent records them for changes of rules."))
	}
	changes := rulefields.Compare(before, after)
	n := len(rulefields.Changed(changes))
	what := fmt.Sprintf("%d of %d fields changed", n, len(changes))
	switch {
	case before == nil:
		what = "created"
	case after == nil:
		what = "deleted"
	}
	out = append(out, t.Title.Render("Rule before and after")+" "+t.Muted.Render("("+what+"; * changed)"))
	// The field column fits the longest name (parameters.bearer_token),
	// up to a third of the screen.
	fw := 10
	for _, c := range changes {
		fw = max(fw, len([]rune(c.Name)))
	}
	fw = min(fw, max(12, m.w/3))
	cols := []grid.Column{{Title: "", Width: 1}, {Title: "FIELD", Width: fw}, {Title: "BEFORE", Width: 12, Flex: 1}, {Title: "AFTER", Width: 12, Flex: 1}}
	l := grid.Fit(cols, m.w)
	out = append(out, t.Column.Render(l.Header()))
	// Changed fields first, then the rest, each in the rule form's order.
	for _, changed := range []bool{true, false} {
		for _, c := range changes {
			if c.Changed != changed || !changed && c.Before == "" && c.After == "" {
				continue
			}
			mark := " "
			if changed {
				mark = "*"
			}
			bw, aw := max(1, l.Widths[2]), max(1, l.Widths[3])
			bs, as := grid.Wrap(orNone(c.Before, before != nil), bw), grid.Wrap(orNone(c.After, after != nil), aw)
			for i := range max(len(bs), len(as), 1) {
				cells := []string{"", "", at(bs, i), at(as, i)}
				if i == 0 {
					cells[0], cells[1] = mark, c.Name
				}
				row := l.Row(cells, nil)
				if changed {
					row = t.Accent.Render(row)
				} else {
					row = t.Muted.Render(row)
				}
				out = append(out, row)
			}
		}
	}
	return out
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// orNone shows an empty value as such, and nothing on a side with no rule.
func orNone(s string, side bool) string {
	switch {
	case !side:
		return ""
	case s == "":
		return "(none)"
	}
	return grid.Line(s)
}

func (m *Model) detailView() string {
	t := m.s.Theme
	body := m.detailLines()
	room := max(1, m.h-1)
	m.scroll = max(0, min(m.scroll, len(body)-room))
	end := min(len(body), m.scroll+room)
	pos := ""
	if len(body) > room {
		pos = t.Muted.Render(fmt.Sprintf("  lines %d-%d of %d", m.scroll+1, end, len(body)))
	}
	lines := []string{grid.Fit1(t.Title.Render("Audit entry")+" "+t.Muted.Render(grid.Line(m.detail.Action+" "+m.detail.Target))+pos, m.w, false)}
	lines = append(lines, body[m.scroll:end]...)
	return grid.Pad(strings.Join(lines, "\n"), m.h)
}
