package runs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// Query is what the list shows: a status tab and the agent-side filters.
type Query struct {
	Tab  int
	Rule string
	Job  string
	// Statuses, from a status: term, replace the tab's when set.
	Statuses []api.RunStatus
	// Since keeps the runs created at or after it; SinceText is the term's
	// value as typed ("1h"), for the title.
	Since     time.Time
	SinceText string
}

// statuses are the statuses the list shows; none: every one.
func (q Query) statuses() []api.RunStatus {
	if len(q.Statuses) > 0 {
		return q.Statuses
	}
	return Tabs[q.Tab].Statuses
}

// filtered reports whether the query narrows the runs beyond the tab.
func (q Query) filtered() bool {
	return q.Rule != "" || q.Job != "" || len(q.Statuses) > 0 || !q.Since.IsZero()
}

// api is the query of GET /runs for one page.
func (q Query) api(limit int, cursor string) api.RunQuery {
	return api.RunQuery{Statuses: q.statuses(), Rule: q.Rule, Job: q.Job, Since: q.Since, Limit: limit, Cursor: cursor}
}

// terms is the query's filters as typed after /, "" when there are none.
func (q Query) terms() string {
	var parts []string
	if q.Rule != "" {
		parts = append(parts, "rule:"+q.Rule)
	}
	if q.Job != "" {
		parts = append(parts, "job:"+q.Job)
	}
	if len(q.Statuses) > 0 {
		parts = append(parts, "status:"+statusList(q.Statuses))
	}
	if q.SinceText != "" {
		parts = append(parts, "since:"+q.SinceText)
	}
	return strings.Join(parts, " ")
}

func statusList(st []api.RunStatus) string {
	s := make([]string, len(st))
	for i, v := range st {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

// termNames are the terms the runs filter takes.
var termNames = []string{"rule", "job", "status", "since"}

// filter is the text typed after /, read: the terms and the free text.
type filter struct {
	q    Query // the terms given, on a zero Query
	set  map[string]bool
	text string // free text, lower case
	raw  string // free text as typed
}

// parseFilter reads a filter: rule:NAME, job:ID, status:a,b (run statuses
// or tab names), since:1h|2026-12-01 and free text. An error names the
// term that is wrong.
func parseFilter(text string, now time.Time, loc *time.Location) (filter, error) {
	t, err := list.ParseTerms(text, termNames...)
	f := filter{set: map[string]bool{}, text: strings.ToLower(t.Text), raw: t.Text}
	if err != nil {
		return f, err
	}
	for _, name := range t.Order {
		v := t.Values[name]
		f.set[name] = true
		switch name {
		case "rule":
			f.q.Rule = v
		case "job":
			f.q.Job = v
		case "status":
			st, err := parseStatuses(v)
			if err != nil {
				return f, err
			}
			f.q.Statuses = st
		case "since":
			at, err := list.ParseSince(v, now, loc)
			if err != nil {
				return f, err
			}
			f.q.Since, f.q.SinceText = at, v
		}
	}
	return f, nil
}

// parseStatuses reads "failed,cancelled": run statuses, or tab names
// (active is queued, running and cancelling).
func parseStatuses(v string) ([]api.RunStatus, error) {
	var out []api.RunStatus
	for _, s := range strings.Split(v, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if st, err := api.ParseRunStatus(s); err == nil {
			out = append(out, st)
			continue
		}
		i := tabIndex(s)
		if i <= 0 {
			return nil, fmt.Errorf("status: %q is not a run status (%s) nor active", s, statusList(api.RunStatuses))
		}
		out = append(out, Tabs[i].Statuses...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("status: needs a value (status:failed,cancelled)")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// keeps reports whether the terms being typed keep r (before enter sends
// them to the agent): rule and job by part of the name.
func (f *filter) keeps(r *api.Run) bool {
	if f.q.Rule != "" && !strings.Contains(strings.ToLower(r.Rule), strings.ToLower(f.q.Rule)) {
		return false
	}
	if f.q.Job != "" && !strings.Contains(strings.ToLower(r.Job), strings.ToLower(f.q.Job)) {
		return false
	}
	if len(f.q.Statuses) > 0 && !slices.Contains(f.q.Statuses, r.Status) {
		return false
	}
	if !f.q.Since.IsZero() && r.CreatedAt.Before(f.q.Since) {
		return false
	}
	return matchesText(r, f.text)
}

// ParseArgs reads the arguments of ":runs" at the time now: a status tab
// name (or a run status), "rule:NAME" or "rule=NAME", "job:ID",
// "status:a,b", "since:1h". Unknown words are an error.
func ParseArgs(args []string) (Query, error) { return ParseArgsAt(args, time.Now(), time.Local) }

// ParseArgsAt is ParseArgs at the time now, dates read in loc.
func ParseArgsAt(args []string, now time.Time, loc *time.Location) (Query, error) {
	var q Query
	var terms []string
	for _, a := range args {
		if i := tabIndex(a); i >= 0 {
			q.Tab = i
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if ok && slices.Contains(termNames, k) {
			a = k + ":" + v
		}
		if k, _, ok := strings.Cut(a, ":"); !ok || !slices.Contains(termNames, k) {
			return q, fmt.Errorf("runs: %q is not a status (%s), rule:NAME, job:ID, status:a,b or since:1h", a, tabNames())
		}
		terms = append(terms, a)
	}
	f, err := parseFilter(strings.Join(terms, " "), now, loc)
	if err != nil {
		return q, fmt.Errorf("runs: %w", err)
	}
	f.q.Tab = q.Tab
	return f.q, nil
}

func tabIndex(name string) int {
	name = strings.ToLower(name)
	if name == "running" || name == "cancelling" || name == "queued" {
		return 1
	}
	for i, t := range Tabs {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func tabNames() string {
	names := make([]string, len(Tabs))
	for i, t := range Tabs {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// matchesText reports whether the text filter f (in lower case) keeps r.
func matchesText(r *api.Run, f string) bool {
	if f == "" {
		return true
	}
	for _, s := range []string{r.Rule, r.Job, session.StatusText(r), string(r.Status), r.ID, string(r.Trigger)} {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}
