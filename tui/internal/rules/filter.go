package rules

import (
	"fmt"
	"strings"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/list"
)

// filter is the text typed after /, read: rule:NAME and job:ID (parts of
// the name), status:enabled|disabled|failing (several with commas: any
// of them) and free text (name, job, schedule or zone).
type filter struct {
	parsed   bool
	rule     string
	job      string
	statuses []string
	text     string // lower case
}

// ruleStatuses are the values of status:.
var ruleStatuses = []string{"enabled", "disabled", "failing"}

func parseFilter(text string) (filter, error) {
	f := filter{parsed: true}
	t, err := list.ParseTerms(text, "rule", "job", "status")
	if err != nil {
		if strings.HasPrefix(err.Error(), "since:") {
			err = fmt.Errorf("since: is for runs; rules take rule:, job:, status: and free text")
		}
		return f, err
	}
	f.rule = strings.ToLower(t.Values["rule"])
	f.job = strings.ToLower(t.Values["job"])
	f.text = strings.ToLower(t.Text)
	if v, ok := t.Values["status"]; ok {
		for _, s := range strings.Split(strings.ToLower(v), ",") {
			known := false
			for _, k := range ruleStatuses {
				known = known || k == s
			}
			if !known {
				return f, fmt.Errorf("status: %q is not enabled, disabled or failing", s)
			}
			f.statuses = append(f.statuses, s)
		}
	}
	return f, nil
}

// failing reports whether a rule is failing: its last run did not end
// well, or a fire it expected has not come.
func failing(r *api.Rule) bool {
	if r.MissedFire != nil {
		return true
	}
	if r.LastRun == nil {
		return false
	}
	switch r.LastRun.Status {
	case api.StatusFailed, api.StatusInterrupted, api.StatusMissed:
		return true
	}
	return false
}

func (f filter) keeps(r *api.Rule) bool {
	if f.rule != "" && !strings.Contains(strings.ToLower(r.Name), f.rule) {
		return false
	}
	if f.job != "" && !strings.Contains(strings.ToLower(r.Job), f.job) {
		return false
	}
	if len(f.statuses) > 0 {
		ok := false
		for _, s := range f.statuses {
			switch s {
			case "enabled":
				ok = ok || r.Enabled
			case "disabled":
				ok = ok || !r.Enabled
			case "failing":
				ok = ok || failing(r)
			}
		}
		if !ok {
			return false
		}
	}
	return f.text == "" || strings.Contains(strings.ToLower(r.Name+" "+r.Job+" "+r.Schedule+" "+r.Timezone+" "+r.ScheduleText), f.text)
}
