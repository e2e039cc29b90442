package rundetail

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// The log pane's ways of reading a log: a search (/, then n and N from
// match to match), long lines wrapped or cut (w), timestamps shown or not
// (t), and the warnings and errors one after another (e). Each works on the
// lines loaded, page after page, and on those the stream adds.

// logPane is the state of the log pane's reading aids.
type logPane struct {
	input     textinput.Model
	searching bool   // the search input has the keyboard
	query     string // the search confirmed ("" for none)
	matches   []int  // indexes in lines of the lines that hold query
	scanned   int    // lines looked at for query so far
	match     int    // the current match, an index in matches (-1: none yet)

	wrap      bool // wrap long lines instead of cutting them
	noTimes   bool // hide the timestamps
	problem   int  // the line e last went to, -1 for none
	problemOf int  // which warning or error that was (1-based)
}

func newLogPane(s *session.Context) logPane {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "search the log"
	in.CharLimit = 200
	s.Theme.Input(&in)
	return logPane{input: in, match: -1, problem: -1}
}

// forget drops what was found in lines that are being replaced (a reload,
// another attempt): the query stays, and is looked for in the new lines.
func (p *logPane) forget() {
	p.matches, p.scanned, p.match = nil, 0, -1
	p.problem, p.problemOf = -1, 0
}

// scan looks for the query in the lines not looked at yet.
func (m *Model) scan() {
	p := &m.pane
	if p.query == "" {
		p.scanned = len(m.lines)
		return
	}
	q := strings.ToLower(p.query)
	for i := p.scanned; i < len(m.lines); i++ {
		if strings.Contains(strings.ToLower(m.lines[i].Message), q) {
			p.matches = append(p.matches, i)
		}
	}
	p.scanned = len(m.lines)
}

// isProblem reports whether a line is a warning or an error.
func isProblem(l api.LogLine) bool {
	switch strings.ToUpper(l.Level) {
	case "WARN", "WARNING", "ERROR":
		return true
	}
	return false
}

// paneKey handles the log pane's own keys, reporting whether it did.
func (m *Model) paneKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	p := &m.pane
	if p.searching {
		switch msg.Type {
		case tea.KeyEnter:
			p.searching = false
			p.input.Blur()
			return m.search(strings.TrimSpace(p.input.Value())), true
		case tea.KeyEsc:
			p.searching = false
			p.input.Blur()
			p.input.SetValue(p.query)
			return nil, true
		}
		var cmd tea.Cmd
		p.input, cmd = p.input.Update(msg)
		return cmd, true
	}
	switch {
	case key.Matches(msg, m.keys.Search):
		p.searching = true
		p.input.SetValue("")
		return p.input.Focus(), true
	case key.Matches(msg, m.keys.NextMatch):
		return m.nextMatch(1), true
	case key.Matches(msg, m.keys.PrevMatch):
		return m.nextMatch(-1), true
	case key.Matches(msg, m.keys.Wrap):
		p.wrap = !p.wrap
		m.clamp()
		return nil, true
	case key.Matches(msg, m.keys.Times):
		p.noTimes = !p.noTimes
		m.clamp()
		return nil, true
	case key.Matches(msg, m.keys.Problem):
		return m.nextProblem(), true
	}
	return nil, false
}

// search sets the query and goes to its first match on screen or after
// it (the first of all when none is).
func (m *Model) search(q string) tea.Cmd {
	p := &m.pane
	p.query = q
	p.forgetMatches()
	if q == "" {
		return nil
	}
	m.scan()
	if len(p.matches) == 0 {
		return session.Note("no line of the log holds “" + q + "”")
	}
	p.match = 0
	for i, at := range p.matches {
		if at >= m.offset {
			p.match = i
			break
		}
	}
	m.show(p.matches[p.match])
	return nil
}

func (p *logPane) forgetMatches() { p.matches, p.scanned, p.match = nil, 0, -1 }

// nextMatch goes by matches forward (1) or back (-1), round from the last
// to the first and back.
func (m *Model) nextMatch(by int) tea.Cmd {
	p := &m.pane
	if p.query == "" {
		return session.Note("no search: / searches the log")
	}
	m.scan()
	n := len(p.matches)
	if n == 0 {
		return session.Note("no line of the log holds “" + p.query + "”")
	}
	var cmd tea.Cmd
	next := p.match + by
	switch {
	case p.match < 0:
		next = 0
	case next >= n:
		next, cmd = 0, session.Note("search went round: back to the first match")
	case next < 0:
		next, cmd = n-1, session.Note("search went round: on to the last match")
	}
	p.match = next
	m.show(p.matches[next])
	return cmd
}

// nextProblem goes to the next warning or error after the one e last
// went to, the first at first; after the last it says so, and the next e
// starts again from the first.
func (m *Model) nextProblem() tea.Cmd {
	p := &m.pane
	for i := p.problem + 1; i < len(m.lines); i++ {
		if isProblem(m.lines[i]) {
			if p.problem < 0 {
				p.problemOf = 0
			}
			p.problem = i
			p.problemOf++
			m.show(i)
			return nil
		}
	}
	if p.problem < 0 {
		return session.Note("no warning or error in the log")
	}
	last := p.problem
	p.problem, p.problemOf = -1, 0
	return session.Note(fmt.Sprintf("no warning or error after line %d; e again goes to the first", last+1))
}

// problems counts the warnings and errors in the log.
func (m *Model) problems() int {
	n := 0
	for _, l := range m.lines {
		if isProblem(l) {
			n++
		}
	}
	return n
}

// show scrolls the log so that line i is on screen, a third of the way
// down when it was not, and stops following.
func (m *Model) show(i int) {
	m.follow = false
	if i >= m.offset && i <= m.lastShown() {
		return
	}
	m.offset = max(0, i-m.logHeight()/3)
	m.clamp()
}

// head is what goes before a line's message: its time (unless hidden) and
// level.
func (m *Model) head(l api.LogLine) string {
	lvl := strings.ToUpper(l.Level)
	if lvl == "" {
		lvl = "INFO"
	}
	h := grid.Fit1(lvl, 5, false) + " "
	if !m.pane.noTimes {
		h = m.s.Local(l.Time).Format("15:04:05") + " " + h
	}
	return h
}

// rows renders log line i as the screen rows it takes: one, cut at the
// edge, or with wrap as many as its message needs, the rows after the
// first indented under it. Matches of the search are marked, the current
// one more than the others.
func (m *Model) rows(i int) []string {
	t := m.s.Theme
	l := m.lines[i]
	head := m.head(l)
	room := max(1, m.w-ansi.StringWidth(head))
	style := t.Muted
	switch strings.ToUpper(l.Level) {
	case "ERROR":
		style = t.Failure
	case "WARN", "WARNING":
		style = t.Warning
	}
	msg := grid.Line(l.Message)
	if !m.pane.wrap {
		return []string{style.Render(head) + m.mark(i, strings.TrimRight(grid.Fit1(msg, room, false), " "))}
	}
	parts := wrapped(msg, room)
	out := make([]string, len(parts))
	indent := strings.Repeat(" ", ansi.StringWidth(head))
	for j, part := range parts {
		if j == 0 {
			out[j] = style.Render(head) + m.mark(i, part)
		} else {
			out[j] = indent + m.mark(i, part)
		}
	}
	return out
}

// mark styles the search's matches in text, part of line i.
func (m *Model) mark(i int, text string) string {
	p := &m.pane
	q := strings.ToLower(p.query)
	if q == "" || !strings.Contains(strings.ToLower(text), q) {
		return text
	}
	style := m.s.Theme.Accent.Underline(true)
	if p.match >= 0 && p.match < len(p.matches) && p.matches[p.match] == i {
		style = m.s.Theme.Selected
	}
	// Lower-casing may change a character's length in bytes: match rune
	// by rune on the text itself.
	var b strings.Builder
	rs, qr := []rune(text), []rune(q)
	for k := 0; k < len(rs); {
		if k+len(qr) <= len(rs) && strings.ToLower(string(rs[k:k+len(qr)])) == q {
			b.WriteString(style.Render(string(rs[k : k+len(qr)])))
			k += len(qr)
			continue
		}
		b.WriteRune(rs[k])
		k++
	}
	return b.String()
}

// wrapped breaks a message into rows of room cells, at spaces where it
// can (a word longer than a row is broken).
func wrapped(msg string, room int) []string {
	if ansi.StringWidth(msg) <= room {
		return []string{msg}
	}
	return strings.Split(ansi.Wrap(msg, room, ""), "\n")
}

// rowCount is how many screen rows line i takes.
func (m *Model) rowCount(i int) int {
	if !m.pane.wrap {
		return 1
	}
	room := max(1, m.w-ansi.StringWidth(m.head(m.lines[i])))
	return len(wrapped(grid.Line(m.lines[i].Message), room))
}

// bottom is the first line shown when the log's end is at the bottom of
// the pane.
func (m *Model) bottom() int {
	h := m.logHeight()
	if !m.pane.wrap {
		return max(0, len(m.lines)-h)
	}
	rows := 0
	for i := len(m.lines) - 1; i >= 0; i-- {
		rows += m.rowCount(i)
		if rows > h {
			return i + 1
		}
	}
	return 0
}

// lastShown is the last line on screen, whole or in part.
func (m *Model) lastShown() int {
	h := m.logHeight()
	rows := 0
	for i := m.offset; i < len(m.lines); i++ {
		rows += m.rowCount(i)
		if rows >= h {
			return i
		}
	}
	return len(m.lines) - 1
}

// logPane renders the log's rule and the lines on screen, h rows in all.
func (m *Model) logPane(h int) []string {
	t := m.s.Theme
	out := []string{m.paneRule(m.paneTitle())}
	if m.pane.searching {
		out[0] = m.paneRuleWith(m.pane.input.View())
	}
	switch {
	case m.logErr != nil:
		out = append(out, t.Failure.Render("Cannot load the log: "+session.Explain(m.logErr)))
	case !m.logLoaded:
		out = append(out, t.Muted.Render("Loading the log…"))
	case len(m.lines) == 0:
		out = append(out, t.Muted.Render("No log lines yet."))
	}
	for i := m.offset; i < len(m.lines) && len(out) < h; i++ {
		for _, r := range m.rows(i) {
			if len(out) == h {
				break
			}
			out = append(out, r)
		}
	}
	return out
}

// paneTitle says where the log pane is and how it reads.
func (m *Model) paneTitle() string {
	p := &m.pane
	// A run that ended writes no more: its log is not followed, whatever
	// f says, and f is not offered.
	live := m.keys.active()
	var state string
	switch {
	case m.follow && live:
		state = "follow"
	case live:
		state = fmt.Sprintf("line %d of %d, f to follow", m.offset+1, len(m.lines))
	case len(m.lines) == 0:
		// The pane says there are none.
	default:
		state = fmt.Sprintf("line %d of %d", m.offset+1, len(m.lines))
	}
	var parts []string
	if p.query != "" {
		m.scan()
		switch {
		case len(p.matches) == 0:
			parts = append(parts, "no match for “"+p.query+"”")
		case p.match < 0:
			parts = append(parts, fmt.Sprintf("%d matches for “%s”", len(p.matches), p.query))
		default:
			parts = append(parts, fmt.Sprintf("match %d of %d for “%s”", p.match+1, len(p.matches), p.query))
		}
	}
	if p.problem >= 0 {
		parts = append(parts, fmt.Sprintf("warning/error %d of %d", p.problemOf, m.problems()))
	}
	if p.wrap {
		parts = append(parts, "wrap")
	}
	if p.noTimes {
		parts = append(parts, "no times")
	}
	if m.keys.hasOutput() {
		parts = append(parts, "o for the output")
	}
	if state != "" {
		parts = append([]string{state}, parts...)
	}
	if len(parts) == 0 {
		return "Log"
	}
	return "Log (" + strings.Join(parts, "; ") + ")"
}

// paneRuleWith is a pane rule around a text drawn already (the search
// input).
func (m *Model) paneRuleWith(drawn string) string {
	b := m.s.Theme.Border
	lead := b.Render("── ") + drawn + " "
	return lead + b.Render(strings.Repeat("─", max(0, m.w-ansi.StringWidth(lead))))
}

// searchHelp is the log pane's keys for the full help.
func (k KeyMap) searchHelp() []key.Binding {
	return []key.Binding{k.Search, k.NextMatch, k.PrevMatch, k.Wrap, k.Times, k.Problem}
}
