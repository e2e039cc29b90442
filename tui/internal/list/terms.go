package list

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Terms is what is typed in a list's filter, read as terms: "rule:nightly
// status:failed,cancelled since:1h disk" is the terms rule, status and
// since, each with its value as typed, and the free text "disk".
type Terms struct {
	// Values are the terms' values by name ("rule" → "nightly"); a term
	// given twice keeps its last value.
	Values map[string]string
	// Order is the names of the terms given, in the order typed.
	Order []string
	// Text is the free words, joined by single spaces, as typed.
	Text string
}

// ParseTerms reads the filter text s with the term names a view takes
// (names: "rule", "job", ...). A word is a term when it is letters, a
// colon and a value ("rule:x"); any other word is free text ("12:00" and
// ":x" included, so that times stay searchable). A term whose name the
// view does not take, or with no value, is an error naming it.
func ParseTerms(s string, names ...string) (Terms, error) {
	t := Terms{Values: map[string]string{}}
	var free []string
	for _, w := range strings.Fields(s) {
		name, value, ok := strings.Cut(w, ":")
		if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) }) {
			free = append(free, w)
			continue
		}
		name = strings.ToLower(name)
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known {
			return t, fmt.Errorf("%s: is not a filter term here (it takes %s and free text)", name, termList(names))
		}
		if value == "" {
			return t, fmt.Errorf("%s: needs a value (%s:VALUE)", name, name)
		}
		if _, seen := t.Values[name]; !seen {
			t.Order = append(t.Order, name)
		}
		t.Values[name] = value
	}
	t.Text = strings.Join(free, " ")
	return t, nil
}

func termList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ":"
	}
	return strings.Join(out, ", ")
}

// ParseSince reads the value of a since: term, relative to now: a
// duration back from now ("90s", "30m", "1h", "2d", "1w", "1h30m") or a
// date or time ("2026-12-01" at midnight in loc, "2026-12-01T10:00", RFC
// 3339). The error names the term and the value.
func ParseSince(v string, now time.Time, loc *time.Location) (time.Time, error) {
	if d, err := parseAgo(v); err == nil {
		return now.Add(-d), nil
	}
	if loc == nil {
		loc = time.Local
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since: %q is not a duration (30m, 1h, 2d) or date (2026-12-01)", v)
}

// parseAgo reads a positive duration, with d (24h) and w (7d) as units
// too, each of which must lead ("2d12h", not "12h2d").
func parseAgo(v string) (time.Duration, error) {
	var total time.Duration
	rest := v
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, u.suffix)
		if i <= 0 {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(rest[:i], "%d", &n); err != nil || fmt.Sprint(n) != rest[:i] {
			return 0, fmt.Errorf("not a duration")
		}
		total += time.Duration(n) * u.d
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("not a positive duration")
	}
	return total, nil
}
