package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// PolicyText is a rule's run policy in a few words: "retry 3× from 30s
// (max 1h, jitter 0.2) · catch up latest 1h · late after 10m · slow after
// 5m"; "" for none.
func PolicyText(p api.RunPolicy) string {
	short := session.ShortDuration
	var parts []string
	if r := p.Retry; r != nil {
		text := fmt.Sprintf("retry %d×", r.Attempts)
		if r.Backoff != "" {
			text += " from " + short(r.Backoff)
		}
		var more []string
		if r.MaxBackoff != "" {
			more = append(more, "max "+short(r.MaxBackoff))
		}
		if r.Jitter != 0 {
			more = append(more, "jitter "+strconv.FormatFloat(r.Jitter, 'f', -1, 64))
		}
		if len(more) > 0 {
			text += " (" + strings.Join(more, ", ") + ")"
		}
		parts = append(parts, text)
	}
	if p.CatchUp != "" && p.CatchUp != api.CatchUpNone {
		text := "catch up " + string(p.CatchUp)
		if p.CatchUpWindow != "" {
			text += " " + short(p.CatchUpWindow)
		}
		parts = append(parts, text)
	}
	if p.MaxLateness != "" {
		parts = append(parts, "late after "+short(p.MaxLateness))
	}
	if p.WarnAfter != "" {
		parts = append(parts, "slow after "+short(p.WarnAfter))
	}
	return strings.Join(parts, " · ")
}

// ChainsText is a rule's chains in a few words: "→ on success: report,
// notify · on failure: alert"; "" for none.
func ChainsText(c api.Chains) string {
	var parts []string
	for _, l := range []struct {
		name  string
		steps []api.ChainStep
	}{{"on success", c.OnSuccess}, {"on failure", c.OnFailure}, {"on finish", c.OnFinish}} {
		if len(l.steps) == 0 {
			continue
		}
		names := make([]string, len(l.steps))
		for i, s := range l.steps {
			names[i] = s.Rule
		}
		parts = append(parts, l.name+": "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "→ " + strings.Join(parts, " · ")
}
