package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
)

// The alert line sits under the header while the agent is in maintenance
// mode or rules miss their fires (the dead-man's switch): both change what
// an operator may expect of every view, so they show wherever one is.

// maintenance is the agent's maintenance mode when it is on now: off, or
// past its end time (it ends by itself then, and the next status says so),
// it is nil.
func (m *Model) maintenance() *api.Maintenance {
	mt := m.maint
	if mt == nil || !mt.On {
		return nil
	}
	if mt.Until != nil && !m.s.Clock().Before(*mt.Until) {
		return nil
	}
	return mt
}

// alerts is the alert line: "MAINTENANCE until 12:00 — reason · 2 rules
// missing", "" when there is nothing to say.
func (m *Model) alerts() string {
	t := m.s.Theme
	var parts []string
	if m.status != nil && m.status.Missing > 0 {
		// First: an alarm, where maintenance is a known state.
		text := strconv.Itoa(m.status.Missing) + " rules missing"
		if m.status.Missing == 1 {
			text = "1 rule missing"
		}
		parts = append(parts, t.Failure.Bold(true).Render("✗ "+text))
	}
	if mt := m.maintenance(); mt != nil {
		text := "MAINTENANCE"
		if mt.Until != nil {
			text += " until " + m.clockText(*mt.Until)
		}
		if mt.Reason != "" {
			text += " — " + grid.Line(mt.Reason)
		}
		if mt.By != "" {
			text += " (" + grid.Line(mt.By) + ")"
		}
		parts = append(parts, t.Warning.Bold(true).Render("⏸ "+text))
	}
	return strings.Join(parts, t.Muted.Render(" · "))
}

// clockText is a local time, with its date when it is not today.
func (m *Model) clockText(at time.Time) string {
	now, local := m.s.Local(m.s.Clock()), m.s.Local(at)
	if y, mo, d := local.Date(); y == now.Year() && mo == now.Month() && d == now.Day() {
		return local.Format("15:04")
	}
	return local.Format("Jan 02 15:04")
}

// setMaintenance records the maintenance mode the agent reports (nil or
// off: none), for the header and for the views' actions.
func (m *Model) setMaintenance(mt *api.Maintenance) {
	m.maint = mt
	m.s.Maintenance = m.maintenance()
}

// relayout gives the views their height again when the lines above them
// changed (a banner or the alert line came or went).
func (m *Model) relayout() {
	if h := m.bodyHeight(); h != m.bodyH {
		m.resize()
	}
}
