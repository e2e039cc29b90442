package schedule

import (
	"fmt"
	"strings"
	"time"
)

// ClockChange is a change of a zone's offset from UTC (daylight saving time
// starting or ending, or the zone changing its standard time) and what it
// does to a schedule's fires, so the console can say it in words.
type ClockChange struct {
	// At is the instant the offset changes, in UTC.
	At time.Time
	// Zone is the schedule's zone.
	Zone *time.Location
	// Before and After are the zone's offsets east of UTC just before and
	// from At, and BeforeName and AfterName their abbreviations.
	Before, After         time.Duration
	BeforeName, AfterName string
	// Skipped are the fire times the clock jumps over when it goes forward:
	// they do not happen.
	Skipped []WallTime
	// Repeated are the fire times the clock shows twice when it goes back:
	// each fires once, the first time.
	Repeated []WallTime
	// Interval is the schedule's rate() interval, 0 for cron() and at(): a
	// rate counts elapsed time, so nothing is skipped or repeated and its
	// fires move on the clock instead.
	Interval time.Duration
	// OneTime is set for an at() schedule, which never fires when its time
	// is skipped.
	OneTime bool
}

// WallTime is a reading of a zone's clock, a date and a time of day. A
// clock change may skip it or show it twice, so it need not name exactly
// one instant.
type WallTime struct {
	Year                 int
	Month                time.Month
	Day                  int
	Hour, Minute, Second int
}

// String is the time of day, "02:30", with the seconds when there are any.
func (w WallTime) String() string {
	if w.Second != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", w.Hour, w.Minute, w.Second)
	}
	return fmt.Sprintf("%02d:%02d", w.Hour, w.Minute)
}

// wallTime is the reading of wall seconds (Unix seconds as if the wall
// time were UTC).
func wallTime(wall int64) WallTime {
	t := time.Unix(wall, 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return WallTime{Year: y, Month: mo, Day: d, Hour: h, Minute: mi, Second: s}
}

// Forward reports whether the clock goes forward (the offset grows).
func (c ClockChange) Forward() bool { return c.After > c.Before }

// ClockChanges returns the changes of the schedule's zone's offset after
// from and up to until, in order, each with the fires it skips or repeats.
// A schedule in UTC or in a zone that keeps one offset has none. Fires
// outside the schedule's start and end dates, and repeated fires whose
// first instant is not after from, are left out.
func (s *Schedule) ClockChanges(from, until time.Time) []ClockChange {
	if s.loc == nil || !until.After(from) {
		return nil
	}
	var out []ClockChange
	for t := from; ; {
		name, before := t.In(s.loc).Zone()
		_, end := t.In(s.loc).ZoneBounds()
		if end.IsZero() || end.After(until) || !end.After(t) {
			return out
		}
		afterName, after := end.In(s.loc).Zone()
		if after != before {
			out = append(out, s.clockChange(from, end, before, after, name, afterName))
		}
		t = end
	}
}

// clockChange is the change at instant at from offset before to after
// (seconds east of UTC), with the fires it affects.
func (s *Schedule) clockChange(from, at time.Time, before, after int, beforeName, afterName string) ClockChange {
	c := ClockChange{
		At: at.UTC(), Zone: s.loc,
		Before: time.Duration(before) * time.Second, After: time.Duration(after) * time.Second,
		BeforeName: beforeName, AfterName: afterName,
		Interval: s.every, OneTime: s.isAt,
	}
	if s.every > 0 {
		return c
	}
	sec := at.Unix()
	// The wall times the clock skips, or shows twice: from the reading
	// before the change to the one after it, or back.
	lo, hi := sec+int64(before), sec+int64(after)
	if hi < lo {
		lo, hi = hi, lo
	}
	inBounds := func(instant int64) bool {
		return s.isAt || instant >= s.start && instant <= s.end
	}
	var walls []int64
	switch {
	case s.isAt:
		if s.at >= lo && s.at < hi {
			walls = append(walls, s.at)
		}
	default:
		for w := lo - 1; ; {
			next, ok := s.cron.nextAfter(w)
			if !ok || next >= hi {
				break
			}
			walls, w = append(walls, next), next
		}
	}
	for _, w := range walls {
		if c.Forward() {
			// A skipped fire has no instant; it would have been at the change.
			if inBounds(sec) {
				c.Skipped = append(c.Skipped, wallTime(w))
			}
			continue
		}
		// A repeated fire happens at its first instant, on the old offset.
		if first := w - int64(before); first > from.Unix() && inBounds(first) {
			c.Repeated = append(c.Repeated, wallTime(w))
		}
	}
	return c
}

// String says the change and what it does to the fires in words, e.g.
// "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York: the
// 02:30 fire is skipped that day."
func (c ClockChange) String() string {
	dir, shift := "forward", c.After-c.Before
	if shift < 0 {
		dir, shift = "back", -shift
	}
	wall := c.At.In(time.FixedZone(c.BeforeName, int(c.Before/time.Second)))
	var b strings.Builder
	fmt.Fprintf(&b, "Clocks go %s %s on %s at %s %s", dir, durationWords(shift), wall.Format("Mon 2 Jan"), wall.Format("15:04"), c.Zone)
	switch {
	case c.Interval > 0:
		b.WriteString(": rate() counts elapsed time, so no fire is ")
		b.WriteString(map[bool]string{true: "skipped", false: "repeated"}[c.Forward()])
		if shift%c.Interval != 0 {
			later := map[bool]string{true: "later", false: "earlier"}[c.Forward()]
			fmt.Fprintf(&b, "; later fires read %s %s on the clock", durationWords(shift), later)
		}
	case c.OneTime && len(c.Skipped) > 0:
		fmt.Fprintf(&b, ": %s does not exist that day, so the rule never fires", c.Skipped[0])
	case len(c.Skipped) == 1:
		fmt.Fprintf(&b, ": the %s fire is skipped that day", c.Skipped[0])
	case len(c.Skipped) > maxListed:
		fmt.Fprintf(&b, ": the %d fires %s are skipped that day", len(c.Skipped), span(c.Skipped))
	case len(c.Skipped) > 1:
		fmt.Fprintf(&b, ": the %s fires are skipped that day", wallList(c.Skipped))
	case len(c.Repeated) == 1:
		fmt.Fprintf(&b, ": %s occurs twice and fires once", c.Repeated[0])
	case len(c.Repeated) > maxListed:
		fmt.Fprintf(&b, ": the %d fire times %s occur twice and fire once each", len(c.Repeated), span(c.Repeated))
	case len(c.Repeated) > 1:
		fmt.Fprintf(&b, ": %s occur twice and fire once each", wallList(c.Repeated))
	default:
		utc := map[bool]string{true: "earlier", false: "later"}[c.Forward()]
		fmt.Fprintf(&b, "; no fire is %s, and fires keep their clock times, %s %s in UTC",
			map[bool]string{true: "skipped", false: "repeated"}[c.Forward()], durationWords(shift), utc)
	}
	b.WriteByte('.')
	return b.String()
}

// maxListed is how many wall times a sentence names one by one.
const maxListed = 4

// wallList names wall times: "02:00, 02:15 and 02:30".
func wallList(ws []WallTime) string {
	words := make([]string, len(ws))
	for i, w := range ws {
		words[i] = w.String()
	}
	return joinAnd(words)
}

// span names the first and last of wall times: "from 02:00 to 02:59".
func span(ws []WallTime) string { return "from " + ws[0].String() + " to " + ws[len(ws)-1].String() }

// durationWords says a clock shift: "1 hour", "30 minutes", "1 hour 30
// minutes".
func durationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return plural(m, "minute")
	case m == 0:
		return plural(h, "hour")
	}
	return plural(h, "hour") + " " + plural(m, "minute")
}
