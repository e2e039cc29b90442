package ruleform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/rulefields"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// conflict is a save refused because the rule changed since the form
// loaded it: the rule as it is now, who changed it and when (from the
// audit trail, when it says), and the fields in which the form differs.
type conflict struct {
	theirs  api.Rule
	who     string    // "someone" when the audit trail does not say
	at      time.Time // zero when unknown
	changes []rulefields.Change
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
	mine := m.input()
	mine.Name = m.rule
	theirs := rulefields.FromRule(msg.theirs)
	c := &conflict{theirs: msg.theirs, who: "someone", changes: rulefields.Changed(rulefields.Compare(&mine, &theirs))}
	if e := msg.last; e != nil {
		c.who, c.at = e.Actor, e.Time
	}
	m.conflict = c
	m.formErr = ""
	return nil
}

// conflictKey answers a conflict: reload drops the form's edits for the
// rule as it is now, overwrite saves the form over it, esc goes back to
// the form (whose next save meets the same conflict).
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
		// The form now stands over their version: a save refused for a
		// field and fixed after goes over it too, without asking again.
		m.saving, m.base = true, c.theirs.Version
		return m.send(false)
	case key.Matches(msg, keyMap.KeepEditing):
		m.conflict = nil
		m.formErr = fmt.Sprintf("Not saved: %s changed %s meanwhile. ctrl+s shows the conflict again.", c.who, m.rule)
		return nil
	}
	return nil
}

// conflictLines draws the conflict: who changed the rule and when, the
// fields that differ (yours and theirs, side by side) and the answers.
func (m *Model) conflictLines() []string {
	t, c := m.s.Theme, m.conflict
	when := ""
	if !c.at.IsZero() {
		when = " at " + m.s.Local(c.at).Format("2006-01-02 15:04:05")
	}
	out := []string{
		t.Failure.Render(grid.Fit1(fmt.Sprintf("✗ Conflict: %s changed %s%s, since you opened it.", c.who, m.rule, when), m.w, false)),
		t.Muted.Render(grid.Fit1(fmt.Sprintf("You started from version %d; it is at version %d now.", m.original.Version, c.theirs.Version), m.w, false)),
		"",
	}
	if len(c.changes) == 0 {
		out = append(out, grid.Fit1("Your form and their version say the same: overwrite saves it as it is.", m.w, false))
	} else {
		cols := []grid.Column{{Title: "FIELD", Width: 14, Flex: 1}, {Title: "YOURS", Width: 16, Flex: 3}, {Title: "THEIRS", Width: 16, Flex: 3}}
		l := grid.Fit(cols, m.w)
		out = append(out, t.Column.Render(l.Header()))
		for _, ch := range c.changes {
			out = append(out, l.Row([]string{ch.Name, orNone(ch.Before), orNone(ch.After)}, nil))
		}
	}
	out = append(out, "",
		t.Accent.Render("r")+" reload theirs, dropping your edits  "+
			t.Accent.Render("o")+" overwrite theirs with yours  "+
			t.Accent.Render("esc")+" keep editing")
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
