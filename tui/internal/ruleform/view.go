package ruleform

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/jobbridge/jobbridge/shared/schedule"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// labelWidth is the width of the labels' column.
const labelWidth = 14

// View renders the form, scrolled so the focused field shows.
func (m *Model) View() string {
	t := m.s.Theme
	head := []string{t.Title.Render(grid.Line(m.Title()))}
	switch {
	case m.loadErr != nil:
		head = append(head, t.Failure.Render("Cannot load the form: "+session.Explain(m.loadErr)))
		return grid.Pad(strings.Join(head, "\n"), m.h)
	case !m.loaded:
		head = append(head, t.Muted.Render("Loading…"))
		return grid.Pad(strings.Join(head, "\n"), m.h)
	}
	switch m.mode {
	case Trigger:
		head = append(head, t.Muted.Render(grid.Fit1("Job "+m.currentJob()+" · the rule's values over the job's defaults · changes: this run only", m.w, false)))
	case Restart:
		head = append(head, t.Muted.Render(grid.Fit1("Job "+m.currentJob()+" · the restarted run's values · changes: the new run only", m.w, false)))
	}
	if m.conflict != nil {
		lines := append(head, "")
		room := m.h - len(lines)
		if m.saving {
			room--
		}
		body := m.conflictLines(room)
		if m.saving {
			body = append(body, t.Muted.Render("Saving…"))
		}
		lines = append(lines, body...)
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	}
	var foot []string
	if m.formErr != "" {
		foot = append(foot, t.Failure.Render(grid.Fit1(m.formErr, m.w, false)))
	}
	if m.saving {
		foot = append(foot, t.Muted.Render("Saving…"))
	}

	var body []string
	focusFrom, focusTo := 0, 0
	paramsShown := false
	for i, f := range m.fields {
		if f.key == keyRetries && !paramsShown && m.currentJob() != "" {
			paramsShown = true
			body = append(body, "", t.Muted.Render("Job "+grid.Line(m.currentJob())+" takes no parameters."))
		}
		if f.param != nil && !paramsShown {
			paramsShown = true
			if m.mode == Create || m.mode == Edit {
				body = append(body, "", t.Title.Render("Parameters of "+grid.Line(m.currentJob()))+t.Muted.Render("  (* required)"))
			}
		}
		if f.key == keyRetries {
			body = append(body, "", t.Title.Render("Run policy")+t.Muted.Render("  (retries, missed fires, lateness, slow runs)"))
		}
		if f.key == keyOnSuccess {
			body = append(body, "", t.Title.Render("Chains")+t.Muted.Render("  (rules a run starts when it ends: rule key=value; rule2)"))
		}
		if i == m.focus {
			focusFrom = len(body)
		}
		body = append(body, m.fieldLines(f, i == m.focus)...)
		if i == m.focus {
			focusTo = len(body)
		}
	}
	if !paramsShown && m.currentJob() != "" {
		body = append(body, "", t.Muted.Render("Job "+grid.Line(m.currentJob())+" takes no parameters."))
	}

	room := max(1, m.h-len(head)-len(foot)-1)
	if focusTo-m.offset > room {
		m.offset = focusTo - room
	}
	if focusFrom < m.offset {
		m.offset = focusFrom
	}
	m.offset = max(0, min(m.offset, len(body)-room))
	end := min(len(body), m.offset+room)
	lines := append(head, "")
	lines = append(lines, body[m.offset:end]...)
	lines = grid.PadLines(lines, m.h-len(foot))
	lines = append(lines, foot...)
	return strings.Join(lines, "\n")
}

// fieldLines renders one field: label, input, hint, then its error and,
// for the schedule, what it means.
func (m *Model) fieldLines(f *field, focused bool) []string {
	t := m.s.Theme
	marker := "  "
	label := t.Label
	if focused {
		marker = t.Accent.Render("> ")
		label = t.Accent.Bold(true)
	}
	var value string
	if f.kind == kindChoice {
		name := ""
		if len(f.names) > 0 {
			name = f.names[f.choice]
		}
		if focused {
			value = t.Accent.Render("◀ ") + t.Bold.Render(name) + t.Accent.Render(" ▶")
		} else {
			value = "  " + name
		}
		value = grid.Fit1(value, m.inputWidth()+1, false)
	} else {
		value = grid.Fit1(f.input.View(), m.inputWidth()+1, false)
	}
	status := " "
	if f.err != "" {
		status = t.Failure.Render("✗")
	}
	line := marker + label.Render(grid.Fit1(f.label, labelWidth, false)) + status + value
	hint := f.hint
	if o := f.origin(); o != "" {
		// Where the run's value comes from, first: the rest is cut first.
		hint = o + " · " + hint
	}
	if rest := m.w - labelWidth - m.inputWidth() - 5; hint != "" && rest > 8 {
		line += " " + t.Muted.Render(grid.Fit1(hint, rest, false))
	}
	lines := []string{line}
	indent := strings.Repeat(" ", labelWidth+3)
	width := m.w - len(indent)
	if f.err != "" {
		for _, l := range grid.Wrap(f.err, width) {
			lines = append(lines, indent+t.Failure.Render(l))
		}
	}
	if focused && f.help != "" && f.err == "" {
		lines = append(lines, indent+t.Muted.Render(grid.Fit1(f.help, width, false)))
	}
	if focused && f.run && f.err == "" {
		lines = append(lines, indent+t.Muted.Render(grid.Fit1(runValueHelp(f), width, false)))
	}
	if focused && f.complete != nil && f.completion() != "" {
		lines = append(lines, indent+m.matchesLine(f, width))
	}
	// The preview follows the last of the fields it depends on.
	if f.key == keyWindow || f.key == keySchedule && m.field(keyWindow) == nil {
		lines = append(lines, m.schedulePreview(indent)...)
	}
	return lines
}

// matchesLine offers the completions of a field: the one Tab takes, and
// as many others as fit, from one that keeps it on screen.
func (m *Model) matchesLine(f *field, width int) string {
	t := m.s.Theme
	const lead = "tab: "
	room := width - len(lead)
	more := func(n int) string { return fmt.Sprintf(" +%d", n) }
	cells := func(from, to int) int { // width of matches[from:to]
		n := 0
		for _, s := range f.matches[from:to] {
			n += len(s) + 2
		}
		return n
	}
	start := 0
	for start < f.pick && cells(start, f.pick+1)+len(more(len(f.matches))) > room {
		start++
	}
	end := f.pick + 1
	for end < len(f.matches) && cells(start, end+1)+len(more(len(f.matches)-end-1)) <= room {
		end++
	}
	var b strings.Builder
	b.WriteString(t.Muted.Render(lead))
	for i := start; i < end; i++ {
		if i == f.pick {
			b.WriteString(t.Accent.Bold(true).Render(f.matches[i]))
		} else {
			b.WriteString(t.Muted.Render(f.matches[i]))
		}
		b.WriteString("  ")
	}
	if n := len(f.matches) - (end - start); n > 0 {
		b.WriteString(t.Muted.Render(fmt.Sprintf("+%d", n)))
	}
	return grid.Fit1(b.String(), width, false)
}

// schedulePreview is what the schedule means with the rule's zone, dates
// and window: its error, or the sentence and the next five fire times in
// the zone, UTC and local time, and what a clock change near them does.
func (m *Model) schedulePreview(indent string) []string {
	t := m.s.Theme
	width := m.w - len(indent)
	line := func(style lipgloss.Style, s string) []string {
		var out []string
		for _, l := range grid.Wrap(s, width) {
			out = append(out, indent+style.Render(l))
		}
		return out
	}
	expr := ""
	if f := m.field(keySchedule); f != nil {
		expr = f.value()
	}
	if expr == "" {
		return line(t.Muted, "e.g. cron(0 2 * * ? *) daily at 02:00, rate(15 minutes), at(2027-03-14T09:30:00)")
	}
	sch, err := schedule.Parse(expr)
	if err != nil {
		return line(t.Failure, "✗ "+err.Error())
	}
	loc := time.UTC
	if f := m.field(keyTimezone); f != nil {
		if loc, err = schedule.LoadLocation(f.value()); err != nil {
			return line(t.Warning, "Fire times show once the time zone is valid.")
		}
	}
	start, okStart := m.date(keyStartDate)
	end, okEnd := m.date(keyEndDate)
	if !okStart || !okEnd {
		return line(t.Warning, "Fire times show once the dates are valid.")
	}
	now := m.s.Clock()
	sch = sch.In(loc)
	if sch.IsRate() {
		// The agent counts a rate from its start date, or else: the local
		// scheduler from the rule's creation, AWS from the save.
		anchor := now
		if m.original.Sync.State == "local" && !m.original.CreatedAt.IsZero() {
			anchor = m.original.CreatedAt
		}
		sch = sch.WithAnchor(anchor)
	}
	sch = sch.Between(start, end)
	out := line(t.Success, "✓ "+sch.Describe()+dates(start, end, loc))
	if f := m.field(keyWindow); f != nil && f.value() != "" && f.err == "" {
		out = append(out, line(t.Muted, "Each run starts within "+f.value()+" after its fire time.")...)
	}
	next := sch.NextN(now, 5)
	if len(next) == 0 {
		return append(out, line(t.Warning, doneReason(sch, now))...)
	}
	for _, at := range next {
		out = append(out, indent+t.Muted.Render(grid.Fit1(m.fireTime(at, loc, now), width, false)))
	}
	for _, c := range nearChanges(sch, now, next[len(next)-1]) {
		out = append(out, line(t.Warning, c.String())...)
	}
	return out
}

// fireTime is one fire time in the rule's zone, then in UTC and in the
// viewer's local time where they differ, then how far off it is.
func (m *Model) fireTime(at time.Time, loc *time.Location, now time.Time) string {
	zoned, local := at.In(loc), m.s.Local(at)
	text := zoned.Format("Mon 2006-01-02 15:04 MST")
	if loc != time.UTC {
		text += "  " + at.UTC().Format("Mon 15:04 MST")
	}
	if !sameClock(local, zoned) && !sameClock(local, at.UTC()) {
		text += "  " + local.Format("Mon 15:04 MST")
	}
	return text + "  " + session.Until(now, at)
}

// sameClock reports whether two readings of one instant look the same:
// same offset, same abbreviation.
func sameClock(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return an == bn && ao == bo
}

// dates says the start and end dates, in the rule's zone.
func dates(start, end time.Time, loc *time.Location) string {
	const layout = "2006-01-02 15:04 MST"
	switch {
	case !start.IsZero() && !end.IsZero():
		return ", from " + start.In(loc).Format(layout) + " to " + end.In(loc).Format(layout)
	case !start.IsZero():
		return ", from " + start.In(loc).Format(layout)
	case !end.IsZero():
		return ", until " + end.In(loc).Format(layout)
	}
	return ""
}

// doneReason says why a schedule has no fire left.
func doneReason(sch *schedule.Schedule, now time.Time) string {
	switch {
	case sch.IsAt() && sch.Done(time.Time{}):
		return "Done: never fires, its time does not exist in " + sch.Location().String() + " (the clocks skip it)."
	case sch.IsAt():
		return "Done: its time has passed; it never fires again."
	case !sch.End().IsZero() && sch.End().Before(now):
		return "Done: the end date has passed; it never fires again."
	}
	return "Done: it never fires again."
}

// nearChanges are the clock changes worth a word: those in the next two
// weeks, and later ones up to the last fire shown that skip or repeat a
// fire. At most two.
func nearChanges(sch *schedule.Schedule, now, last time.Time) []schedule.ClockChange {
	until := now.Add(clockChangeHorizon)
	if last.After(until) {
		until = last
	}
	var out []schedule.ClockChange
	for _, c := range sch.ClockChanges(now, until) {
		if c.At.After(now.Add(clockChangeHorizon)) && len(c.Skipped) == 0 && len(c.Repeated) == 0 {
			continue
		}
		out = append(out, c)
		if len(out) == 2 {
			break
		}
	}
	return out
}

// clockChangeHorizon is how far ahead a clock change is always mentioned.
const clockChangeHorizon = 14 * 24 * time.Hour

// runValueHelp says, under a run's focused parameter, where its value
// comes from and what leaving it alone does.
func runValueHelp(f *field) string {
	def := ""
	if f.param.Default != "" && !f.param.Secret {
		def = " (job default " + f.param.Default + ")"
	}
	switch f.origin() {
	case fromOverride:
		return "Changed: sent as an override for this run only."
	case fromRule:
		return "From the rule" + def + ": kept unless changed."
	case fromRun:
		return "From the restarted run" + def + ": kept unless changed."
	case fromDefault:
		return "The job's default: kept unless changed."
	}
	return "Not set: the job runs without it."
}
