// Package schedule parses, validates, evaluates and describes AWS EventBridge
// schedule expressions, with EventBridge's own rules:
//
//	cron(Minutes Hours Day-of-month Month Day-of-week Year)
//	rate(Value Unit)
//
// Everything is in UTC. Parse accepts exactly what EventBridge accepts and
// says which field is wrong and why otherwise; Next gives the fire times the
// local scheduler uses, the same ones EventBridge would give; Describe puts
// an expression into words for the console.
//
// No schedule fires after 2199, the last year EventBridge's year field
// allows, so every search for the next fire time is bounded.
package schedule

import "time"

// Schedule is a parsed expression. It is immutable and safe for concurrent
// use.
type Schedule struct {
	expr string

	// rate(): every > 0, fire times are anchor + k×every for k ≥ 1.
	every  time.Duration
	anchor int64 // Unix seconds, a whole minute

	cron cronSpec // cron(), when every == 0
}

// String returns the expression as given to Parse, without surrounding
// whitespace.
func (s *Schedule) String() string { return s.expr }

// IsRate reports whether the expression is rate() rather than cron().
func (s *Schedule) IsRate() bool { return s.every > 0 }

// Interval returns the interval of a rate() expression, and 0 for cron().
func (s *Schedule) Interval() time.Duration { return s.every }

// WithAnchor returns a copy of a rate() schedule whose fire times are
// t + k×interval for k ≥ 1, t truncated to the minute. Without an anchor,
// rate() counts from the Unix epoch. A cron() schedule ignores the anchor.
func (s *Schedule) WithAnchor(t time.Time) *Schedule {
	c := *s
	a := t.Unix()
	c.anchor = a - (a%60+60)%60 // down to the minute, before 1970 too
	return &c
}

// Next returns the first fire time strictly after after, in UTC at second 0,
// and false when the schedule never fires again (a year range that has ended,
// a day that never comes such as February 30, or past 2199). It does not
// allocate.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	var sec int64
	var ok bool
	if s.every > 0 {
		sec, ok = s.nextRate(after.Unix())
	} else {
		sec, ok = s.cron.nextAfter(after.Unix())
	}
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// NextN returns up to n fire times after after, in order; fewer when the
// schedule stops firing, and none when n < 1.
func (s *Schedule) NextN(after time.Time, n int) []time.Time {
	if n < 1 {
		return nil
	}
	out := make([]time.Time, 0, min(n, 1024))
	for len(out) < n {
		t, ok := s.Next(after)
		if !ok {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}

// nextRate is Next for rate(): the first anchor + k×every (k ≥ 1) after sec.
func (s *Schedule) nextRate(sec int64) (int64, bool) {
	if sec >= lastMinute || s.anchor > lastMinute {
		return 0, false
	}
	every := int64(s.every / time.Second)
	next := s.anchor + every
	if sec >= s.anchor {
		// sec - anchor cannot overflow as unsigned: sec >= anchor.
		since := uint64(sec) - uint64(s.anchor)
		next = sec - int64(since%uint64(every)) + every
	}
	return next, next <= lastMinute
}
