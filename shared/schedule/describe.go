package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Describe returns a short English sentence for the console, for example
// "At 10:15 UTC on the last Friday of the month", "Every 5 minutes" or
// "Every 30 minutes between 20:00 and 02:59 UTC, Monday through Friday".
// Clock times are named with the schedule's zone ("At 09:00
// Europe/Paris"); an at() reads "Once, on 2027-03-14 at 09:30 Europe/Paris".
// Start and end dates are not described: the console shows them apart.
func (s *Schedule) Describe() string {
	zone := s.Location().String()
	switch {
	case s.every > 0:
		return describeRate(s.every)
	case s.isAt:
		t := time.Unix(s.at, 0).UTC()
		clock := t.Format("15:04")
		if t.Second() != 0 {
			clock = t.Format("15:04:05")
		}
		return "Once, on " + t.Format("2006-01-02") + " at " + clock + " " + zone
	}
	c := &s.cron
	return c.describeTime(zone) + c.day.describe() + describeMonths(c.months.items) + describeYears(c.yearItems)
}

func describeRate(every time.Duration) string {
	n, unit := every/time.Minute, "minute"
	switch {
	case every%(24*time.Hour) == 0:
		n, unit = every/(24*time.Hour), "day"
	case every%time.Hour == 0:
		n, unit = every/time.Hour, "hour"
	}
	if n == 1 {
		return "Every " + unit
	}
	return fmt.Sprintf("Every %d %ss", n, unit)
}

// describeTime covers the minutes and hours fields: a list of clock times
// when there are few, else how often in the hour and during which hours.
func (c *cronSpec) describeTime(zone string) string {
	minD, hourD := &fieldDefs[fieldMinutes], &fieldDefs[fieldHours]
	mins, hourVals := sortedValues(minD, c.minutes.items), sortedValues(hourD, c.hours.items)
	hours := runs(hourVals, hourD, true)
	if len(mins) == 1 && len(hourVals) <= 6 {
		var times []string
		for _, r := range hours {
			for _, h := range r.values(hourD) {
				times = append(times, fmt.Sprintf("%02d:%02d", h, mins[0]))
			}
		}
		return "At " + joinAnd(times) + " " + zone
	}

	var minute string
	at := false // the minutes are listed ("At minutes 0 and 30"), not a frequency
	switch items := c.minutes.items; {
	case len(mins) == minD.span():
		minute = "Every minute"
	case len(items) == 1 && len(mins) > 1:
		minute = frequency(items[0], minD)
	default:
		at = true
		words := runWords(runs(mins, minD, false), minD, strconv.Itoa)
		minute = "At minute " + words[0]
		if len(mins) > 1 {
			minute = "At minutes " + joinAnd(words)
		}
	}

	switch items := c.hours.items; {
	case items == nil:
		if at {
			if zone != "UTC" {
				// Minutes past the hour are the zone's: in a zone off UTC
				// by a part of an hour (Asia/Kolkata), they are not UTC's.
				return minute + " past every hour, " + zone + " time"
			}
			return minute + " past every hour"
		}
		return minute
	case len(items) == 1 && items[0].step > 1:
		it := items[0]
		vals := it.values(hourD)
		return fmt.Sprintf("%s in every %s hour from %02d:00 through %02d:59 %s",
			minute, ordinal(it.step), it.start, vals[len(vals)-1], zone)
	}
	if at {
		minute += " past every hour"
	}
	if len(hours) == 1 {
		return fmt.Sprintf("%s between %02d:00 and %02d:59 %s", minute, hours[0].first, hours[0].last, zone)
	}
	windows := make([]string, len(hours))
	for i, r := range hours {
		windows[i] = fmt.Sprintf("%02d:00-%02d:59", r.first, r.last)
	}
	return minute + " during " + joinAnd(windows) + " " + zone
}

// frequency describes a minutes range or step: "Every 5 minutes",
// "Every 10 minutes from minute 1 through 51", "Every minute from minute 10
// through 20".
func frequency(it item, d *fieldDef) string {
	vals := it.values(d)
	last := vals[len(vals)-1]
	if it.step == 1 {
		if it.start == d.min && last == d.max {
			return "Every minute"
		}
		return fmt.Sprintf("Every minute from minute %d through %d", it.start, last)
	}
	// Evenly spaced across the hour boundary too: 0/5 is every 5 minutes, 0/7
	// is not (56, then 0).
	if it.start == d.min && last+it.step == d.max+1 {
		return fmt.Sprintf("Every %d minutes", it.step)
	}
	return fmt.Sprintf("Every %d minutes from minute %d through %d", it.step, it.start, last)
}

// describe covers whichever day field picks the days.
func (d *daySpec) describe() string {
	switch d.kind {
	case daysListed:
		if d.items == nil {
			return ""
		}
		def := &fieldDefs[fieldDayOfMonth]
		vals := sortedValues(def, d.items)
		if it := d.items[0]; len(d.items) == 1 && it.step > 1 && len(vals) > 6 {
			walk := it.values(def)
			return fmt.Sprintf(" on every %s day of the month from day %d through %d",
				ordinal(it.step), it.start, walk[len(walk)-1])
		}
		words := runWords(runs(vals, def, false), def, strconv.Itoa)
		if len(vals) == 1 {
			return " on day " + words[0] + " of the month"
		}
		return " on days " + joinAnd(words) + " of the month"
	case daysOfWeek:
		def := &fieldDefs[fieldDayOfWeek]
		rs := runs(sortedValues(def, d.items), def, true)
		words := runWords(rs, def, weekdayName)
		if len(rs) == 1 && rs[0].len(def) >= 3 {
			return ", " + words[0] // ", Monday through Friday"
		}
		return " on " + joinAnd(words)
	case daysBeforeLast:
		if d.n == 0 {
			return " on the last day of the month"
		}
		return " on the " + ordinal(d.n+1) + "-to-last day of the month"
	case daysNearestWeekday:
		return fmt.Sprintf(" on the weekday nearest day %d of the month", d.n)
	case daysLastWeekday:
		return " on the last weekday of the month"
	case daysLastWeekdayOf:
		return " on the last " + weekdayName(d.n) + " of the month"
	case daysNthWeekday:
		nth := [...]string{"", "first", "second", "third", "fourth", "fifth"}[d.nth]
		return " on the " + nth + " " + weekdayName(d.n) + " of the month"
	}
	return ""
}

func describeMonths(items []item) string {
	if items == nil {
		return ""
	}
	d := &fieldDefs[fieldMonth]
	monthName := func(m int) string { return time.Month(m).String() }
	return ", only in " + joinAnd(runWords(runs(sortedValues(d, items), d, true), d, monthName))
}

func describeYears(items []item) string {
	if items == nil {
		return ""
	}
	d := &fieldDefs[fieldYear]
	vals := sortedValues(d, items)
	if it := items[0]; len(items) == 1 && it.step > 1 && len(vals) > 6 {
		return fmt.Sprintf(", every %s year from %d through %d", ordinal(it.step), it.start, vals[len(vals)-1])
	}
	return ", in " + joinAnd(runWords(runs(vals, d, false), d, strconv.Itoa))
}

func weekdayName(w int) string { return time.Weekday(w - 1).String() }

// sortedValues returns the distinct values of items, ascending; nil items
// ("*") give every value of the field.
func sortedValues(d *fieldDef, items []item) []int {
	seen := make([]bool, d.span())
	eachValue(d, items, func(v int) { seen[v-d.min] = true })
	var out []int
	for i, ok := range seen {
		if ok {
			out = append(out, d.min+i)
		}
	}
	return out
}

// run is consecutive values first..last; last < first wraps past the
// field's maximum (hours 22..1, Friday..Monday).
type run struct{ first, last int }

func (r run) len(d *fieldDef) int { return (r.last-r.first+d.span())%d.span() + 1 }

func (r run) values(d *fieldDef) []int {
	return item{start: r.first, end: r.last, step: 1}.values(d)
}

// runs groups ascending values into runs of consecutive values. For a
// cyclic field (hours, months, weekdays) a run ending at the maximum joins
// one starting at the minimum.
func runs(vals []int, d *fieldDef, cyclic bool) []run {
	var rs []run
	for _, v := range vals {
		if n := len(rs); n > 0 && rs[n-1].last == v-1 {
			rs[n-1].last = v
			continue
		}
		rs = append(rs, run{v, v})
	}
	if n := len(rs); cyclic && n > 1 && rs[0].first == d.min && rs[n-1].last == d.max {
		rs[n-1].last = rs[0].last
		rs = rs[1:]
	}
	return rs
}

// runWords names runs: a run of three or more as "X through Y", shorter
// ones value by value.
func runWords(rs []run, d *fieldDef, name func(int) string) []string {
	var words []string
	for _, r := range rs {
		if r.len(d) >= 3 {
			words = append(words, name(r.first)+" through "+name(r.last))
			continue
		}
		for _, v := range r.values(d) {
			words = append(words, name(v))
		}
	}
	return words
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
