package ruleform

import (
	"strings"
	"time"

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
	case Trigger, Restart:
		head = append(head, t.Muted.Render(grid.Fit1("Job "+m.currentJob()+": values you change apply to this run only.", m.w, false)))
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
		if f.param != nil && !paramsShown {
			paramsShown = true
			if m.mode == Create || m.mode == Edit {
				body = append(body, "", t.Title.Render("Parameters of "+grid.Line(m.currentJob()))+t.Muted.Render("  (* required)"))
			}
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
	if rest := m.w - labelWidth - m.inputWidth() - 5; f.hint != "" && rest > 8 {
		line += " " + t.Muted.Render(grid.Fit1(f.hint, rest, false))
	}
	lines := []string{line}
	indent := strings.Repeat(" ", labelWidth+3)
	if f.err != "" {
		lines = append(lines, indent+t.Failure.Render(grid.Fit1(f.err, m.w-len(indent), false)))
	}
	if f.key == keySchedule {
		lines = append(lines, m.schedulePreview(f.value(), indent)...)
	}
	return lines
}

// schedulePreview is what the schedule means: its error, or the sentence
// and the next five fire times in UTC and local time.
func (m *Model) schedulePreview(expr, indent string) []string {
	t := m.s.Theme
	width := m.w - len(indent)
	if strings.TrimSpace(expr) == "" {
		return []string{indent + t.Muted.Render(grid.Fit1("e.g. cron(0 2 * * ? *) daily at 02:00 UTC, rate(15 minutes)", width, false))}
	}
	sch, err := schedule.Parse(expr)
	if err != nil {
		return []string{indent + t.Failure.Render(grid.Fit1("✗ "+err.Error(), width, false))}
	}
	now := m.s.Clock()
	if sch.IsRate() {
		// The agent counts a rate from when the rule is saved.
		sch = sch.WithAnchor(now)
	}
	out := []string{indent + t.Success.Render(grid.Fit1("✓ "+sch.Describe(), width, false))}
	next := sch.NextN(now, 5)
	if len(next) == 0 {
		return append(out, indent+t.Warning.Render("never fires again"))
	}
	for _, at := range next {
		local := m.s.Local(at)
		text := at.Format("Mon 2006-01-02 15:04 MST")
		if local.Location() != time.UTC {
			text += "   " + local.Format("Mon 15:04 MST")
		}
		text += "   " + session.Until(now, at)
		out = append(out, indent+t.Muted.Render(grid.Fit1(text, width, false)))
	}
	return out
}
