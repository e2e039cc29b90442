package tui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
)

// The header is one line: the agent (its address, store, scheduler, sync
// summary), what is wrong around it (notification channels that fail,
// agents of the cluster that are down), the caller's role and, on the
// right, the connection. Maintenance mode and missing rules have the alert
// line under it (alerts.go). It is refreshed from GET /status every 15 s,
// when the connection comes back, and on ctrl+l.

// headerPart is one part of the header's left side: full is shown when
// there is room, compact when not (labels dropped); parts with a drop
// rank go, lowest rank first, when even compact does not fit.
type headerPart struct {
	full, compact string
	drop          int // 0: never dropped
}

// The drop ranks: what an operator needs least goes first.
const (
	dropURL = 1 + iota
	dropStore
	dropScheduler
)

func (m *Model) header() string {
	right := m.connText()
	room := m.w - ansi.StringWidth(right) - 1
	parts := m.headerParts()
	var left string
	for level := 0; level <= dropScheduler+1; level++ {
		left = joinHeader(m, parts, level > 0, level-1)
		if ansi.StringWidth(left) <= room {
			break
		}
	}
	if ansi.StringWidth(left) > room {
		left = ansi.Truncate(left, max(0, room), "…")
	}
	gap := m.w - ansi.StringWidth(left) - ansi.StringWidth(right)
	return left + strings.Repeat(" ", max(1, gap)) + right
}

// joinHeader draws parts, compact or not, leaving out those of drop rank
// up to dropped.
func joinHeader(m *Model, parts []headerPart, compact bool, dropped int) string {
	var shown []string
	for _, p := range parts {
		if p.drop > 0 && p.drop <= dropped {
			continue
		}
		if compact {
			shown = append(shown, p.compact)
		} else {
			shown = append(shown, p.full)
		}
	}
	return grid.Line(strings.Join(shown, m.s.Theme.Muted.Render(" · ")))
}

func (m *Model) headerParts() []headerPart {
	t := m.s.Theme
	same := func(s string, drop int) headerPart { return headerPart{full: s, compact: s, drop: drop} }
	parts := []headerPart{same(t.Header.Render("jobbridge"), 0), same(m.s.Client.BaseURL(), dropURL)}
	st := m.status
	if st == nil {
		return parts
	}
	parts = append(parts,
		headerPart{full: "store " + st.Store, compact: st.Store, drop: dropStore},
		headerPart{full: "scheduler " + st.Scheduler, compact: st.Scheduler, drop: dropScheduler})
	if (st.Scheduler != "local" && st.Scheduler != "off") || st.Sync.Synced+st.Sync.Pending+st.Sync.Error > 0 {
		sync := t.Success.Render(strconv.Itoa(st.Sync.Synced) + " synced")
		if st.Sync.Pending > 0 {
			sync += " " + t.Warning.Render(strconv.Itoa(st.Sync.Pending)+" pending")
		}
		if st.Sync.Error > 0 {
			sync += " " + t.Failure.Render(strconv.Itoa(st.Sync.Error)+" error")
		}
		parts = append(parts, headerPart{full: "sync " + sync, compact: sync})
	}
	if text, down := agentsText(st.Agents); text != "" {
		style := t.Muted
		if down {
			style = t.Warning
		}
		parts = append(parts, same(style.Render(text), 0))
	}
	if names := failingChannels(st.Notifications); len(names) > 0 {
		parts = append(parts, same(t.Failure.Render("notify ✗ "+strings.Join(names, ",")), 0))
	}
	role := st.Role
	if role == api.RoleViewer {
		return append(parts, headerPart{full: role + " (read-only)", compact: role + " (read-only)"})
	}
	return append(parts, same(role, 0))
}

// agentsText is the cluster in a few words: "3 agents" when all are up,
// "2 of 3 agents up" when not (down: true), "" for an agent alone.
func agentsText(agents []api.AgentStatus) (text string, down bool) {
	if len(agents) < 2 {
		return "", false
	}
	up := 0
	for _, a := range agents {
		if a.Alive {
			up++
		}
	}
	if up == len(agents) {
		return strconv.Itoa(len(agents)) + " agents", false
	}
	return strconv.Itoa(up) + " of " + strconv.Itoa(len(agents)) + " agents up", true
}

// failing reports whether a notification channel fails now: the agent gave
// up on a message (unhealthy), or the last attempt failed and it retries.
func failing(c api.ChannelStatus) bool {
	if !c.Healthy {
		return true
	}
	return c.LastErrorAt != nil && (c.LastSentAt == nil || c.LastErrorAt.After(*c.LastSentAt))
}

// failingChannels names the channels that fail now.
func failingChannels(cs []api.ChannelStatus) []string {
	var out []string
	for _, c := range cs {
		if failing(c) {
			out = append(out, c.Channel)
		}
	}
	return out
}

func (m *Model) connText() string {
	t := m.s.Theme
	switch m.conn.state {
	case connLive:
		return t.Success.Render("● live")
	case connDown:
		return t.Failure.Render("✗ offline")
	case connRejected:
		return t.Failure.Render("✗ token rejected")
	}
	return t.Warning.Render("○ connecting")
}

// healthLines are what the help screen says first when something around
// the agent is wrong: maintenance mode with its whole reason (the alert
// line cuts it at the edge), each failing notification channel with its
// last error, each agent of the cluster that is down; none when all is
// well.
func (m *Model) healthLines() []string {
	t := m.s.Theme
	var lines []string
	if mt := m.maintenance(); mt != nil {
		text := "maintenance mode on"
		if mt.Since != nil {
			text += " since " + m.clockText(*mt.Since)
		}
		if mt.Until != nil {
			text += " until " + m.clockText(*mt.Until)
		}
		if mt.By != "" {
			text += " (" + grid.Line(mt.By) + ")"
		}
		if mt.Reason != "" {
			text += ": " + grid.Line(mt.Reason)
		}
		lines = append(lines, t.Warning.Render(ansi.Wrap(text, max(20, m.w), " ")))
	}
	st := m.status
	if st == nil {
		return lines
	}
	for _, c := range st.Notifications {
		if !failing(c) {
			continue
		}
		state := "failing, retrying"
		if !c.Healthy {
			state = "unhealthy (gave up on a message)"
		}
		text := "notify " + c.Channel + ": " + state
		if c.LastErrorAt != nil {
			text += ", last error at " + m.clockText(*c.LastErrorAt)
		}
		if c.LastError != "" {
			text += ": " + grid.Line(c.LastError)
		}
		lines = append(lines, t.Failure.Render(ansi.Wrap(text, max(20, m.w), " ")))
	}
	for _, a := range st.Agents {
		if a.Alive {
			continue
		}
		text := "agent " + a.Node + " down"
		if !a.HeartbeatAt.IsZero() {
			text += ", last heartbeat at " + m.clockText(a.HeartbeatAt)
		}
		if a.URL != "" {
			text += " (" + a.URL + ")"
		}
		lines = append(lines, t.Warning.Render(ansi.Wrap(text, max(20, m.w), " ")))
	}
	return lines
}
