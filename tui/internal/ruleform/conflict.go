package ruleform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/rulefields"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// conflict is a save refused because the rule changed since the form
// loaded it: the rule as it is now, who changed it and when (from the
// audit trail, when it says), the fields you or they changed since the
// form loaded (three ways: the rule as loaded, the form, theirs), and
// what overwrite saves: theirs with your changes.
type conflict struct {
	theirs api.Rule
	who    string    // "someone" when the audit trail does not say
	at     time.Time // zero when unknown
	edits  []rulefields.Edit
	merged api.RuleInput
}

type conflictMsg struct {
	form   *Model
	theirs api.Rule
	last   *api.AuditEntry // the rule's last change, if the trail has it
	err    error
}

// loadConflict reads the rule as it is now and its last change.
func (m *Model) loadConflict() tea.Cmd {
	c, name, form := m.s.Client, m.rule, m
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out := conflictMsg{form: form}
		out.theirs, out.err = c.Rule(ctx, name)
		if out.err != nil {
			return out
		}
		// Who saved it: the newest change of the rule in the trail.
		page, err := c.AuditWith(ctx, api.AuditQuery{Target: name, Limit: 20})
		if err == nil {
			for _, e := range page.Items {
				if strings.HasPrefix(e.Action, "rule.") && e.Action != "rule.trigger" {
					out.last = &e
					break
				}
			}
		}
		return out
	}
}

func (m *Model) conflictLoaded(msg conflictMsg) tea.Cmd {
	if msg.err != nil {
		m.formErr = "Someone else changed " + m.rule + " since you opened it, and it cannot be read now: " + session.Explain(msg.err)
		return nil
	}
	base := rulefields.FromRule(m.original)
	mine := m.input()
	mine.Name = m.rule
	theirs := rulefields.FromRule(msg.theirs)
	c := &conflict{theirs: msg.theirs, who: "someone",
		edits: rulefields.Diff3(base, mine, theirs), merged: rulefields.Merge(base, mine, theirs)}
	if e := msg.last; e != nil {
		c.who, c.at = e.Actor, e.Time
	}
	// A secret typed into the form is shown as new, never as typed (the
	// agent's values are masked already).
	for i, e := range c.edits {
		if f := m.field(e.Name); f != nil && f.param != nil && f.param.Secret && e.Yours != "" && e.Yours != api.MaskedValue {
			c.edits[i].Yours = "(new value)"
		}
	}
	m.conflict = c
	m.formErr = ""
	return nil
}

// conflictKey answers a conflict: reload drops the form's edits for the
// rule as it is now; overwrite saves the form's edits over it, keeping
// their changes to every other field; esc goes back to the form (whose
// next save meets the same conflict).
func (m *Model) conflictKey(msg tea.KeyMsg) tea.Cmd {
	c := m.conflict
	switch {
	case key.Matches(msg, keyMap.Reload):
		m.conflict = nil
		m.original, m.base = c.theirs, c.theirs.Version
		m.fields, m.offset = nil, 0
		m.build()
		m.formErr = ""
		return tea.Batch(m.focusField(0), session.Note(fmt.Sprintf("loaded %s as %s saved it (version %d)", m.rule, c.who, c.theirs.Version)))
	case key.Matches(msg, keyMap.Overwrite):
		// The form now stands on their version with the operator's edits
		// over it: what is saved, and what a save refused for a field and
		// fixed after saves, without asking again.
		focused := ""
		if m.focus < len(m.fields) {
			focused = m.fields[m.focus].key
		}
		m.original, m.base = c.theirs, c.theirs.Version
		m.fields, m.offset = nil, 0
		m.buildFrom(withInput(c.theirs, c.merged))
		m.focus = m.index(focused)
		m.saving = true
		return m.send(false)
	case key.Matches(msg, keyMap.KeepEditing):
		m.conflict = nil
		m.formErr = fmt.Sprintf("Not saved: %s changed %s meanwhile. ctrl+s shows the conflict again.", c.who, m.rule)
		return nil
	}
	return nil
}

// withInput is r with the fields of in: what the form shows for them.
func withInput(r api.Rule, in api.RuleInput) api.Rule {
	r.Job, r.Schedule, r.Timezone = in.Job, in.Schedule, in.Timezone
	r.StartDate, r.EndDate, r.FlexibleWindow = in.StartDate, in.EndDate, in.FlexibleWindow
	r.Enabled = in.Enabled == nil || *in.Enabled
	r.Parameters, r.Description, r.Timeout, r.Overlap = in.Parameters, in.Description, in.Timeout, in.Overlap
	r.Notify = api.NotifyPolicy{}
	if in.Notify != nil {
		r.Notify = *in.Notify
	}
	r.RunPolicy, r.Chains = in.RunPolicy, in.Chains
	return r
}

// conflictLines draws the conflict in at most height lines: who changed
// the rule and when, what each answer does, and the fields changed since
// the form loaded: who changed each (you, them, both), its value then,
// yours and theirs. Every line is wrapped, never cut; rows that do not
// fit are counted.
func (m *Model) conflictLines(height int) []string {
	t, c := m.s.Theme, m.conflict
	wrap := func(style lipgloss.Style, s string) []string {
		var out []string
		for _, l := range grid.Wrap(s, m.w) {
			out = append(out, style.Render(l))
		}
		return out
	}
	when := ""
	if !c.at.IsZero() {
		when = " at " + m.s.Local(c.at).Format("2006-01-02 15:04:05")
	}
	out := wrap(t.Failure, fmt.Sprintf("✗ Conflict: %s changed %s%s, since you opened it.", c.who, m.rule, when))
	out = append(out, wrap(t.Muted, fmt.Sprintf("You started from version %d; it is at version %d now.", m.original.Version, c.theirs.Version))...)
	out = append(out, "")

	var answers []string
	answer := func(k, what string) {
		const indent = 5
		for i, l := range grid.Wrap(what, max(10, m.w-indent)) {
			lead := strings.Repeat(" ", indent)
			if i == 0 {
				lead = t.Accent.Render(k) + strings.Repeat(" ", indent-len(k))
			}
			answers = append(answers, lead+l)
		}
	}
	answer("r", "reload theirs, dropping your edits")
	answer("o", "save your changes over theirs (their other changes are kept; a field you both changed takes yours)")
	answer("esc", "keep editing")

	if len(c.edits) == 0 {
		out = append(out, wrap(lipgloss.NewStyle(), "Neither you nor they changed a field the form shows: overwrite saves it as it is.")...)
		return append(append(out, ""), answers...)
	}
	// The field's whole name, unless that leaves the values too little.
	nameWidth := len("FIELD")
	for _, e := range c.edits {
		nameWidth = max(nameWidth, ansi.StringWidth(e.Name))
	}
	nameWidth = min(nameWidth, max(12, m.w/4))
	cols := []grid.Column{{Title: "FIELD", Width: nameWidth}, {Title: "CHANGED BY", Width: 10},
		{Title: "WAS", Width: 8, Flex: 1}, {Title: "YOURS", Width: 8, Flex: 1}, {Title: "THEIRS", Width: 8, Flex: 1}}
	l := grid.Fit(cols, m.w)
	table := []string{t.Column.Render(l.Header())}
	room := height - len(out) - len(answers) - 1
	for i, e := range c.edits {
		row := wrappedRow(l, []string{e.Name, e.By.String(), orNone(e.Base), orNone(e.Yours), orNone(e.Theirs)})
		more := 0 // the line that counts the rows left out
		if i < len(c.edits)-1 {
			more = 1
		}
		if len(table)+len(row)+more > room {
			table = append(table, t.Muted.Render(grid.Fit1(fmt.Sprintf("… %d more changed fields: a taller terminal shows them", len(c.edits)-i), m.w, false)))
			break
		}
		table = append(table, row...)
	}
	out = append(out, table...)
	return append(append(out, ""), answers...)
}

// wrappedRow is one row of l over as many lines as its longest cell
// takes, each cell wrapped to its column.
func wrappedRow(l grid.Layout, cells []string) []string {
	wrapped := make([][]string, len(cells))
	n := 1
	for i, cell := range cells {
		if l.Widths[i] > 0 {
			wrapped[i] = grid.Wrap(cell, l.Widths[i])
			n = max(n, len(wrapped[i]))
		}
	}
	out := make([]string, n)
	for j := range out {
		line := make([]string, len(cells))
		for i, w := range wrapped {
			if j < len(w) {
				line[i] = w[j]
			}
		}
		out[j] = l.Row(line, nil)
	}
	return out
}
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
