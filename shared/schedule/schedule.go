// Package schedule parses, validates, evaluates and describes AWS EventBridge
// schedule expressions, with the rules EventBridge and EventBridge Scheduler
// share:
//
//	cron(Minutes Hours Day-of-month Month Day-of-week Year)
//	rate(Value Unit)
//	at(yyyy-mm-ddThh:mm:ss)      one fire (EventBridge Scheduler only)
//
// A parsed Schedule is evaluated in UTC unless given a zone (In), as
// EventBridge Scheduler does: cron() and at() name wall-clock times in the
// zone; when daylight saving time moves the clock forward, a fire time that
// does not exist that day is skipped, and when it moves back, a fire time
// that occurs twice fires once, the first time. rate() is a fixed interval
// (a day is 24 hours) whatever the zone does. Between bounds the fires with
// start and end dates.
//
// Parse accepts exactly what EventBridge accepts and says which field is
// wrong and why otherwise; Next gives the fire times the local scheduler
// uses, the same ones EventBridge would give; Describe puts an expression
// into words for the console.
//
// No schedule fires after 2199, the last year EventBridge's year field
// allows, so every search for the next fire time is bounded.
package schedule

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones work on machines without a zone database too
)

// Schedule is a parsed expression. It is immutable and safe for concurrent
// use.
type Schedule struct {
	expr string // canonical form

	// rate(): every > 0, fire times are anchor + k×every for k ≥ 1.
	every  time.Duration
	anchor int64 // Unix seconds, a whole minute

	// at(): isAt, the one fire's wall time in Unix seconds as if in UTC.
	isAt bool
	at   int64

	cron cronSpec // cron(), when every == 0 and !isAt

	loc        *time.Location // nil: UTC
	start, end int64          // Unix seconds: fires are in [start, end]
}

// String returns the expression in its canonical form: no surrounding
// whitespace, one space between fields. Two expressions that mean the same
// thing as written differently only in spacing have the same String.
func (s *Schedule) String() string { return s.expr }

// IsRate reports whether the expression is rate().
func (s *Schedule) IsRate() bool { return s.every > 0 }

// IsAt reports whether the expression is a one-time at().
func (s *Schedule) IsAt() bool { return s.isAt }

// Interval returns the interval of a rate() expression, and 0 otherwise.
func (s *Schedule) Interval() time.Duration { return s.every }

// Location returns the zone the schedule is evaluated in (time.UTC unless
// set with In).
func (s *Schedule) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// In returns a copy of s evaluated in loc: cron() and at() times are wall
// times there. A nil loc means UTC.
func (s *Schedule) In(loc *time.Location) *Schedule {
	c := *s
	c.loc = loc
	if loc == time.UTC {
		c.loc = nil
	}
	return &c
}

// WithAnchor returns a copy of a rate() schedule whose fire times are
// t + k×interval for k ≥ 1, t truncated to the minute. Without an anchor,
// rate() counts from the Unix epoch. Other schedules ignore the anchor.
func (s *Schedule) WithAnchor(t time.Time) *Schedule {
	c := *s
	c.anchor = floorMinute(t.Unix())
	return &c
}

// Between returns a copy of s that fires only from start to end, both
// included; a zero time leaves that side open. A rate() schedule with a
// start counts from it: its first fire is at the start (rounded up to the
// minute), replacing any anchor. A one-time at() schedule ignores both, as
// EventBridge Scheduler does.
func (s *Schedule) Between(start, end time.Time) *Schedule {
	c := *s
	c.start, c.end = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		c.start = start.Unix()
		if start.Nanosecond() != 0 {
			c.start++ // the first whole second at or after start
		}
		if c.every > 0 {
			c.anchor = floorMinute(c.start+59) - int64(c.every/time.Second)
		}
	}
	if !end.IsZero() {
		c.end = end.Unix()
	}
	return &c
}

// Start and End return the bounds set with Between (zero when open).
func (s *Schedule) Start() time.Time { return boundTime(s.start, math.MinInt64) }

// End returns the last instant the schedule may fire, zero when open.
func (s *Schedule) End() time.Time { return boundTime(s.end, math.MaxInt64) }

func boundTime(sec, open int64) time.Time {
	if sec == open {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// floorMinute rounds Unix seconds down to the minute, before 1970 too.
func floorMinute(sec int64) int64 { return sec - (sec%60+60)%60 }

// Next returns the first fire time strictly after after, in UTC (at second
// 0 but for an at() written with seconds), and false when the schedule never
// fires again (an at() that has passed, an end date or a year range that has
// ended, a day that never comes such as February 30, or past 2199). It does
// not allocate.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	sec := after.Unix()
	var next int64
	var ok bool
	switch {
	case s.isAt:
		next, ok = s.nextAt(sec)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(next, 0).UTC(), true
	case s.start != math.MinInt64 && sec < s.start-1:
		sec = s.start - 1
	}
	switch {
	case s.every > 0:
		next, ok = s.nextRate(sec)
	case s.loc == nil:
		next, ok = s.cron.nextAfter(sec)
	default:
		next, ok = s.nextCronIn(sec)
	}
	if !ok || next > s.end {
		return time.Time{}, false
	}
	return time.Unix(next, 0).UTC(), true
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

// Done reports whether the schedule has no fire after now: an at() that has
// passed, an end date or a last year behind.
func (s *Schedule) Done(now time.Time) bool {
	_, ok := s.Next(now)
	return !ok
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

// nextAt is Next for at(): its instant, if it exists in the zone and is
// after sec.
func (s *Schedule) nextAt(sec int64) (int64, bool) {
	t, ok := firstInstant(s.loc, s.at)
	return t, ok && t > sec
}

// nextCronIn is Next for cron() in a zone: the first picked wall time after
// the wall time of sec whose first instant is after sec. A wall time the
// clock skips has no instant and is passed over; one the clock shows twice
// counts at its first instant only, so a fire during the repeated hour whose
// first occurrence has passed is passed over too.
func (s *Schedule) nextCronIn(sec int64) (int64, bool) {
	// No zone is a day or more off UTC: two days past 2199 every wall time
	// is past it too, and two days before 1970 every wall time is before.
	// Clamping also keeps sec + offset from overflowing.
	const margin = 2 * 86400
	switch {
	case sec > lastMinute+margin:
		return 0, false
	case sec < -margin:
		sec = -margin
	}
	wall := sec + offsetAt(s.loc, sec)
	for {
		w, ok := s.cron.nextAfter(wall)
		if !ok {
			return 0, false
		}
		t, exists := firstInstant(s.loc, w)
		if exists && t > sec {
			return t, true
		}
		// What holds for w holds for the wall times after it up to the end
		// of the change of offset w is in: all skipped, or all shown before
		// sec. Resume past them rather than try them one by one (an hour of
		// every-minute fires is 60 tries). A skipped w is at the change the
		// instant w would be at in the old offset falls just after; one
		// shown before sec is at the change sec's offset started with.
		at := sec
		if !exists {
			at = w - offsetAt(s.loc, w-86400)
		}
		wall = pastChange(s.loc, at, w)
	}
}

// pastChange returns the last wall time that the change of offset starting
// the zone period of instant at skips or shows twice, when w is one of
// them, and w otherwise. It checks the change against the offsets on either
// side of it, so a period bound the time package makes up (it may use the
// start of a year) gives w.
func pastChange(loc *time.Location, at, w int64) int64 {
	start, _ := time.Unix(at, 0).In(loc).ZoneBounds()
	if start.IsZero() {
		return w
	}
	change := start.Unix()
	before, after := offsetAt(loc, change-1), offsetAt(loc, change)
	if lo, hi := change+min(before, after), change+max(before, after); lo <= w && w < hi {
		return hi - 1
	}
	return w
}

// offsetAt is loc's offset from UTC at Unix second sec, in seconds.
func offsetAt(loc *time.Location, sec int64) int64 {
	if loc == nil {
		return 0
	}
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int64(off)
}

// firstInstant returns the earliest Unix second whose wall time in loc is
// wall (Unix seconds as if in UTC), and false when the clock skips it. The
// offsets in force a day before and a day after are the only candidates: no
// zone changes its offset twice within two days.
func firstInstant(loc *time.Location, wall int64) (int64, bool) {
	if loc == nil {
		return wall, true
	}
	first, ok := int64(0), false
	for _, probe := range [2]int64{wall - 86400, wall + 86400} {
		t := wall - offsetAt(loc, probe)
		if offsetAt(loc, t) == wall-t && (!ok || t < first) {
			first, ok = t, true
		}
	}
	return first, ok
}

// LoadLocation returns the zone named by an IANA name such as
// "America/New_York"; "" and "UTC" are UTC. Names are looked up once and
// kept. A schedule must mean the same on every machine, so names that
// depend on the machine are refused: "Local" and "localtime" (the machine's
// own zone), and the zone database's files that are not zones: "posixrules",
// and the "posix/" and "right/" copies (the latter count leap seconds, which
// moves every change of offset by tens of seconds).
func LoadLocation(name string) (*time.Location, error) {
	switch {
	case name == "" || name == "UTC":
		return time.UTC, nil
	case name == "Local" || name == "localtime":
		return nil, fmt.Errorf("time zone %q depends on the machine; name the zone, such as Europe/Paris", name)
	case name == "posixrules" || strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/"):
		return nil, fmt.Errorf("%q is a file of this machine's zone database, not a time zone; name the zone, such as America/New_York", name)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a time zone in the IANA database (such as America/New_York or Europe/Paris)", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

var zones sync.Map // name → *time.Location

// WindowOffset returns how long after a fire time at a run starts when its
// schedule has a flexible window: a point in [0, window), in whole seconds,
// chosen from key (the rule's name) and the fire time alone, so every agent
// and every restart picks the same one. It is 0 when window < 1s, negative
// windows included. It does not allocate.
func WindowOffset(key string, at time.Time, window time.Duration) time.Duration {
	if window < time.Second {
		return 0 // a negative window would turn into a huge unsigned one
	}
	secs := uint64(window / time.Second)
	// FNV-1a over the key and the fire time's Unix seconds.
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range len(key) {
		h = (h ^ uint64(key[i])) * prime
	}
	u := uint64(at.Unix())
	for range 8 {
		h = (h ^ (u & 0xff)) * prime
		u >>= 8
	}
	return time.Duration(h%secs) * time.Second
}
