package runs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

func (m *Model) bodyHeight() int { return max(1, m.h-3) }

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
	b.WriteString(t.Column.Render(l.HeaderSorted(m.sort.Col, m.sort.Desc)))
	switch {
	case m.err != nil && m.list.Len() == 0:
		b.WriteString("\n" + t.Failure.Render(grid.Fit1("Cannot load runs: "+session.Explain(m.err), m.w, false)))
	case !m.loaded && m.list.Len() == 0:
		b.WriteString("\n" + t.Muted.Render("Loading runs…"))
	case m.list.Len() == 0:
		b.WriteString("\n" + t.Muted.Render(m.emptyText()))
	}
	now := m.s.Clock()
	for r, cursor := range m.list.Shown() {
		b.WriteByte('\n')
		b.WriteString(m.row(l, r, cursor, now))
	}
	return grid.Pad(b.String(), m.h)
}

func (m *Model) emptyText() string {
	switch {
	case m.list.FilterText() != "" && m.next != "" && !m.capped:
		return "No run matches in the runs loaded so far; scroll down (j) to search older ones."
	case m.list.FilterText() != "":
		return "No run matches the filter."
	case m.q.Tab != 0 || m.q.filtered():
		return "No runs here."
	}
	return "No runs yet. Trigger a rule (:rules, then r) to start one."
}

// Number is n for a title: 1234, then 12.3k, 123k.
func Number(n int64) string {
	switch {
	case n < 10_000:
		return strconv.FormatInt(n, 10)
	case n < 100_000:
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// capText says the list stopped loading at its limit: which runs it
// holds, of how many, and what to do.
func (m *Model) capText() string {
	done := "showing"
	if m.sort != DefaultSort {
		done = "sorted"
	}
	text := done + " the newest " + thousands(int64(len(m.all)))
	if n, ok := m.total(); ok && n > int64(len(m.all)) {
		text += " of " + thousands(n)
	}
	return text + ": narrow the filter"
}

// thousands is n with its thousands separated: 240,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// total is how many runs the query selects, by the counts; false until
// they are known.
func (m *Model) total() (int64, bool) {
	if m.counts == nil {
		return 0, false
	}
	var n int64
	st := m.q.statuses()
	for s, c := range m.counts {
		if len(st) == 0 || containsStatus(st, s) {
			n += c
		}
	}
	return n, true
}

func containsStatus(st []api.RunStatus, s api.RunStatus) bool {
	for _, v := range st {
		if v == s {
			return true
		}
	}
	return false
}

// titleLine is the view's name, its filters, how many runs are shown, the
// selection and what runs in the background, then the status tabs with
// their counts on a line of their own.
func (m *Model) titleLine() string {
	t := m.s.Theme
	count := strconv.Itoa(m.list.Len())
	if m.more() {
		count += "+"
	}
	if m.list.Filtering() {
		// The input has the line after the name (SetSize gives it the
		// room), the terms in force being in it; a wrong term is named
		// on the tabs' line until it is put right.
		second := m.tabs(false)
		if m.ferr != nil {
			second = t.Failure.Render(m.ferr.Error())
		}
		title := t.Title.Render("Runs") + " " + m.list.FilterTitle() + " " + t.Muted.Render(count)
		return grid.Fit1(title, m.w, false) + "\n" + grid.Fit1(second, m.w, false)
	}
	parts := []string{t.Title.Render("Runs")}
	if terms := m.q.terms(); terms != "" {
		parts = append(parts, t.Accent.Render(terms))
	}
	if f := m.list.FilterTitle(); f != "" {
		parts = append(parts, f)
	}
	if len(m.sel) > 0 {
		// Two bare numbers side by side read as one: say which is which.
		parts = append(parts, t.Muted.Render(count+" shown ·")+" "+t.Accent.Render(fmt.Sprintf("%d selected", len(m.sel))))
	} else {
		parts = append(parts, t.Muted.Render(count))
	}
	if p := m.bulk.Progress(); p != "" {
		parts = append(parts, t.Warning.Render(p))
	}
	switch {
	case m.sorting:
		parts = append(parts, t.Warning.Render(fmt.Sprintf("sorting %d…", len(m.all))))
	case m.capped:
		parts = append(parts, t.Warning.Render(m.capText()))
	case m.full && m.next != "":
		doing := "sorting"
		if m.selectAll {
			doing = "selecting"
		}
		text := fmt.Sprintf("%s %d", doing, len(m.all))
		if n, ok := m.total(); ok {
			text += " of " + strconv.FormatInt(n, 10)
		}
		parts = append(parts, t.Warning.Render(text+"…"))
	case m.loading && m.loaded:
		parts = append(parts, t.Muted.Render("loading…"))
	}
	return grid.Fit1(strings.Join(parts, " "), m.w, false) + "\n" + grid.Fit1(m.tabs(false), m.w, false)
}

// tabs is the line of status tabs, each with its count once known; short
// names when the long ones do not fit. The agent counts the filter's
// terms, not its free text, which only the loaded runs are matched
// against: with free text the tabs show no counts rather than ones that
// would not add up to the rows.
func (m *Model) tabs(short bool) string {
	t := m.s.Theme
	tabs := make([]string, len(Tabs))
	counted := m.counts != nil && m.list.FilterText() == ""
	for i, tab := range Tabs {
		name := tab.Name
		if short {
			name = tab.Short
		}
		if counted {
			var n int64
			for s, c := range m.counts {
				if len(tab.Statuses) == 0 || containsStatus(tab.Statuses, s) {
					n += c
				}
			}
			name += " " + Number(n)
		}
		if i == m.q.Tab && len(m.q.Statuses) == 0 {
			tabs[i] = t.TabOn.Render("[" + name + "]")
		} else {
			tabs[i] = t.TabOff.Render(name)
		}
	}
	line := strings.Join(tabs, " ")
	if !short && ansi.StringWidth(line) > m.w {
		return m.tabs(true)
	}
	return line
}

func (m *Model) row(l grid.Layout, r *api.Run, cursor bool, now time.Time) string {
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
		progress = session.Bar(r.Progress.Percent, l.Widths[colProgress])
	}
	marker := " "
	if cursor {
		marker = ">"
	}
	if m.sel[r.ID] {
		marker += "✓"
	}
	cells := []string{marker, session.ShortID(r.ID), r.Rule, r.Job, session.TriggerText(r), session.StatusText(r),
		session.Stamp(m.s.Local(now), m.s.Local(start)), dur, progress}
	if cursor {
		// One style for the whole line: a cell's own colour would end
		// the highlight where it resets.
		return t.Selected.Render(l.Row(cells, nil))
	}
	return l.Row(cells, func(i int, cell string) string {
		switch i {
		case colMarker:
			if strings.TrimSpace(cell) == "" {
				return cell
			}
			return t.Accent.Render(cell)
		case colStatus:
			if r.Slow && r.Status == api.StatusRunning {
				return t.Warning.Bold(true).Render(cell)
			}
			return t.Status(r.Status).Render(cell)
		case colProgress:
			if r.Status.Active() {
				return t.Running.Render(cell)
			}
			return t.Muted.Render(cell)
		}
		return cell
	})
}
