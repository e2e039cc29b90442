package ruleform

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/textinput"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// kind is how a field is edited.
type kind int

const (
	kindText   kind = iota // typed
	kindChoice             // one of a few values, picked with ←/→
)

// Field keys of the rule's own fields; a parameter's is paramKey(name).
const (
	keyName        = "name"
	keyJob         = "job"
	keySchedule    = "schedule"
	keyDescription = "description"
	keyEnabled     = "enabled"
	keyTimeout     = "timeout"
	keyOverlap     = "overlap"
	// The agent's names for them too, so its 400s land on these fields.
	keyTimezone  = "timezone"
	keyStartDate = "startDate"
	keyEndDate   = "endDate"
	keyWindow    = "flexibleWindow"
	// The run policy's, as the agent names them in its 400s (body.retry.attempts).
	keyRetries       = "retry.attempts"
	keyBackoff       = "retry.backoff"
	keyMaxBackoff    = "retry.maxBackoff"
	keyJitter        = "retry.jitter"
	keyCatchUp       = "catchUp"
	keyCatchUpWindow = "catchUpWindow"
	keyMaxLateness   = "maxLateness"
	keyWarnAfter     = "warnAfter"
)

func paramKey(name string) string { return "parameters." + name }

// field is one input of the form.
type field struct {
	key   string
	label string
	hint  string // what the field takes, shown after it
	help  string // more about it, shown under it while it has the focus
	kind  kind

	input textinput.Model

	choices []string // values; "" is "the default"
	names   []string // what each choice shows
	choice  int

	param *api.Param // for a parameter field
	// kept is set for a secret the agent holds: left empty, it keeps its
	// value (sent back masked, which the agent reads as "unchanged").
	kept bool
	// run is set for a parameter of a run now or a restart: source says
	// where its first value, initial, comes from (see origin).
	run     bool
	source  string
	initial string
	err     string

	// complete is set for a field that offers completions (the time
	// zone): matches are those of what is typed, pick the one Tab takes.
	complete func(typed string) []string
	matches  []string
	pick     int
}

// textLimit is how many characters a text field takes as it is typed.
const textLimit = 512

func newText(s *session.Context, key, label, value, hint string) *field {
	return newTextLimit(s, key, label, value, hint, textLimit)
}

// newTextLimit is a text field that takes limit characters as typed, and
// more if its value (what the agent has) is longer: a field that cut what
// it was given would change it on the next save.
func newTextLimit(s *session.Context, key, label, value, hint string, limit int) *field {
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = max(limit, utf8.RuneCountInString(value))
	in.SetValue(value)
	s.Theme.Input(&in)
	return &field{key: key, label: label, hint: hint, kind: kindText, input: in}
}

func newChoice(key, label string, values, names []string, value, hint string) *field {
	f := &field{key: key, label: label, hint: hint, kind: kindChoice, choices: values, names: names}
	for i, v := range values {
		if v == value {
			f.choice = i
		}
	}
	return f
}

// value is what the field holds.
func (f *field) value() string {
	if f.kind == kindChoice {
		if len(f.choices) == 0 {
			return ""
		}
		return f.choices[f.choice]
	}
	return strings.TrimSpace(f.input.Value())
}

// newParamField builds the input of one job parameter from its metadata:
// a picker for enums and booleans, a masked input for secrets, a typed
// input otherwise. value is the current value ("" for none; api.MaskedValue
// for a secret the agent keeps). For a run (run now, restart) the value is
// the one the run would use, so a picker offers "(default)" only when
// there is no value at all: a run's parameters are overrides, and leaving
// one out keeps the rule's value, not the job's default.
func newParamField(s *session.Context, p api.Param, value string, run bool) *field {
	label := p.Name
	if p.Required {
		label = "*" + label
	}
	hint := p.Type
	if hint == "" {
		hint = api.ParamString
	}
	if p.Default != "" && !p.Secret {
		hint += ", default " + p.Default
	}
	if p.Description != "" {
		hint += ": " + p.Description
	}
	var f *field
	switch {
	case p.Type == api.ParamEnum || p.Type == api.ParamBool:
		values := p.Choices
		if p.Type == api.ParamBool {
			values = []string{"true", "false"}
		}
		if p.Type == api.ParamBool {
			// The agent takes 1, TRUE, f...: show what it would read.
			if b, err := strconv.ParseBool(value); err == nil {
				value = strconv.FormatBool(b)
			}
		}
		if value != "" && !slices.Contains(values, value) {
			// Shown as it is rather than as a default it is not.
			values = append(values[:len(values):len(values)], value)
		}
		names := append([]string(nil), values...)
		if (!p.Required || p.Default != "") && !(run && value != "") {
			def := "(default)"
			if p.Default != "" {
				def = "(default " + p.Default + ")"
			}
			values = append([]string{""}, values...)
			names = append([]string{def}, names...)
		}
		f = newChoice(paramKey(p.Name), label, values, names, value, hint)
	case p.Secret:
		f = newText(s, paramKey(p.Name), label, "", hint)
		f.input.EchoMode = textinput.EchoPassword
		f.input.EchoCharacter = '*'
		if value == api.MaskedValue {
			f.kept = true
			f.input.Placeholder = "(unchanged; type to replace)"
		} else {
			f.input.SetValue(value)
		}
	default:
		f = newText(s, paramKey(p.Name), label, value, hint)
		if p.Default != "" {
			f.input.Placeholder = p.Default
		}
	}
	f.param = &p
	return f
}

// Where a run's parameter value comes from (run now, restart).
const (
	fromRule     = "rule"
	fromRun      = "run"
	fromDefault  = "job default"
	fromOverride = "override"
	fromNone     = "unset"
)

// newRunParamField is the input of one parameter of a run now (from
// "rule") or a restart (from "run"): it starts from the value the run
// would use, base's over the job's default, and remembers where that
// comes from and what it was, so that only what the operator changes is
// sent, as an override.
func newRunParamField(s *session.Context, p api.Param, base map[string]string, from string) *field {
	value, source := base[p.Name], from
	switch {
	case value == api.MaskedValue && from == fromRun:
		source = fromRule // runs keep secrets masked: a restart takes the rule's
	case value != "":
	case p.Default != "":
		value, source = p.Default, fromDefault // a secret's comes masked
	default:
		source = fromNone
	}
	f := newParamField(s, p, value, true)
	f.run, f.source, f.initial = true, source, f.value()
	if f.kept && source == fromDefault {
		f.input.Placeholder = "(job default; type to replace)"
	}
	return f
}

// origin says where the value of a run's parameter comes from now: where
// it started from, or the operator's override once changed.
func (f *field) origin() string {
	if !f.run {
		return ""
	}
	if f.changed() {
		return fromOverride
	}
	return f.source
}

// changed reports whether the operator changed a run's parameter: typed a
// secret, or made any other value differ from the one the run would use.
func (f *field) changed() bool {
	if f.param != nil && f.param.Secret && f.kept {
		return f.value() != ""
	}
	return f.value() != f.initial
}

// suggest refreshes the completions of what is typed.
func (f *field) suggest() {
	if f.complete == nil {
		return
	}
	prev := ""
	if f.pick < len(f.matches) {
		prev = f.matches[f.pick]
	}
	f.matches, f.pick = f.complete(f.input.Value()), 0
	for i, m := range f.matches {
		if m == prev {
			f.pick = i
		}
	}
}

// completion is what Tab would put in the field, "" when nothing or what
// is already there.
func (f *field) completion() string {
	if f.pick >= len(f.matches) || f.matches[f.pick] == f.input.Value() {
		return ""
	}
	return f.matches[f.pick]
}

// check validates a field on its own and records why it is wrong.
func (f *field) check() {
	f.err = ""
	v := f.value()
	switch {
	case f.param != nil:
		// Left empty, a secret the agent keeps stays, and a default is
		// the agent's to apply (a secret's comes masked).
		if v == "" && (f.kept || f.param.Default != "") {
			return
		}
		// The agent's own check, so both refuse the same values.
		switch _, err := f.param.Value(v); {
		case errors.Is(err, api.ErrParamRequired):
			f.err = "required"
		case err != nil:
			f.err = err.Error()
		}
	case f.key == keyName && v == "":
		f.err = "required"
	case f.key == keyName:
		// The agent's own rule, so both accept and refuse the same names
		// with the same words.
		if err := api.ValidRuleName(v); err != nil {
			f.err = err.Error()
		}
	case f.key == keyTimeout && v != "":
		d, err := time.ParseDuration(v)
		if err != nil {
			f.err = fmt.Sprintf("%q is not a duration (e.g. 30s, 10m, 1h30m)", v)
		} else if d <= 0 {
			f.err = "must be positive"
		}
	case f.key == keyRetries && v != "":
		if _, err := strconv.Atoi(v); err != nil {
			f.err = fmt.Sprintf("%q is not a whole number (the retries after the first run); empty for none", v)
		}
	case f.key == keyJitter && v != "":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			f.err = fmt.Sprintf("%q is not a number from 0 to 1", v)
		}
	case policyDuration(f.key) && v != "":
		// The bounds are the agent's to say (its 400 lands here).
		if _, err := time.ParseDuration(v); err != nil {
			f.err = fmt.Sprintf("%q is not a duration (e.g. 30s, 10m, 2h); leave it empty for none", v)
		}
	case f.key == keyTimezone:
		if _, err := schedule.LoadLocation(v); err != nil {
			f.err = err.Error()
		}
	case f.key == keyWindow && v != "":
		f.err = checkWindow(v)
	case chainKey(f.key):
		if _, err := parseSteps(v); err != nil {
			f.err = err.Error()
		}
	}
}

// The flexible window's bounds, as EventBridge Scheduler's.
const (
	minWindow = time.Minute
	maxWindow = 24 * time.Hour
)

// checkWindow says what is wrong with a flexible window, "" if nothing,
// in the agent's words.
func checkWindow(v string) string {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a duration (e.g. 15m, 2h); leave it empty for none", v)
	case d < minWindow || d > maxWindow:
		return fmt.Sprintf("%q is outside 1m to 24h; leave it empty for none", v)
	case d%time.Minute != 0:
		return fmt.Sprintf("%q is not a whole number of minutes, which EventBridge Scheduler counts it in", v)
	}
	return ""
}

// dateLayouts are the shorter ways to write a date, read in the rule's
// zone.
var dateLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}

// parseDate reads a start or end date: RFC 3339, or a date and time
// without an offset, in loc. A wall time the clock skips in loc is
// refused: it names no instant. Empty is no date (the zero time).
func parseDate(v string, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range dateLayouts {
		wall, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		// The wall time's instant by the schedule package's rule, as the
		// agent reads an at(): a time the clocks show twice is the first.
		at, err := schedule.Parse("at(" + wall.Format("2006-01-02T15:04:05") + ")")
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", v, err)
		}
		t, ok := at.In(loc).Next(time.Time{})
		if !ok {
			return time.Time{}, fmt.Errorf("%s does not exist in %s: the clocks skip it", v, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date: write RFC 3339 (2027-03-14T09:30:00-04:00) or 2027-03-14 09:30 in the rule's zone", v)
}

// policyKey reports whether key is one of the run policy's fields.
func policyKey(key string) bool {
	switch key {
	case keyRetries, keyJitter, keyCatchUp:
		return true
	}
	return policyDuration(key)
}

// policyDuration reports whether key is one of the run policy's durations.
func policyDuration(key string) bool {
	switch key {
	case keyBackoff, keyMaxBackoff, keyCatchUpWindow, keyMaxLateness, keyWarnAfter:
		return true
	}
	return false
}
