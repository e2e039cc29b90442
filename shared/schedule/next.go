package schedule

import (
	"math/bits"
	"time"
)

// EventBridge's year field runs from 1970 to 2199; no schedule fires outside.
const (
	minYear = 1970
	maxYear = 2199
)

// cronSpec is a parsed cron() expression: a bit set per field, precomputed so
// that Next only shifts and scans bits. Bit v stands for value v.
type cronSpec struct {
	minutes, hours, months field
	day                    daySpec
	years                  yearSet
	yearItems              []item // as written, for Describe; nil for "*"
}

// field is a parsed minutes, hours or month field.
type field struct {
	items []item // as written, for Describe; nil for "*"
	bits  uint64
}

// dayKind is which rule picks the days of a month.
type dayKind uint8

const (
	daysListed         dayKind = iota // day-of-month list, or every day; set holds days 1-31
	daysOfWeek                        // day-of-week list; set holds weekdays 1-7 (1 = Sunday)
	daysBeforeLast                    // L (n = 0) or L-n: n days before the month's last day
	daysNearestWeekday                // nW: the weekday nearest day n, within the month
	daysLastWeekday                   // LW: the month's last weekday (Monday-Friday)
	daysLastWeekdayOf                 // nL in day-of-week: the last weekday n of the month
	daysNthWeekday                    // d#n: the nth weekday d of the month
)

// daySpec picks the days of a month from whichever of day-of-month and
// day-of-week is not "?".
type daySpec struct {
	kind  dayKind
	set   uint64 // daysListed, daysOfWeek
	items []item // daysListed, daysOfWeek as written, for Describe; nil for "*"
	n     int    // days before the last (L-n), the day (nW), the weekday 1-7 (nL, d#n)
	nth   int    // d#n: which occurrence, 1-5
}

// everyWeek has bits for days 1, 8, 15, 22 and 29: shifted left by k it
// marks the days of a month that share the weekday of day 1+k.
const everyWeek = 1<<1 | 1<<8 | 1<<15 | 1<<22 | 1<<29

// mask returns the days of month mo of year y that the rule picks, as bits
// 1-31. Days the month does not have are never set.
func (d *daySpec) mask(y, mo int) uint64 {
	n := daysIn(y, mo)
	valid := uint64(1)<<(n+1) - 2
	switch d.kind {
	case daysListed:
		return d.set & valid
	case daysOfWeek:
		first := weekday(y, mo, 1)
		var m uint64
		for w := range 7 {
			if d.set&(1<<(w+1)) != 0 {
				m |= everyWeek << ((w - first + 7) % 7)
			}
		}
		return m & valid
	case daysBeforeLast:
		if day := n - d.n; day >= 1 {
			return 1 << day
		}
	case daysNearestWeekday:
		if d.n <= n {
			return 1 << nearestWeekday(y, mo, d.n, n)
		}
	case daysLastWeekday:
		return 1 << nearestWeekday(y, mo, n, n)
	case daysLastWeekdayOf:
		last := weekday(y, mo, n)
		return 1 << (n - (last-(d.n-1)+7)%7)
	case daysNthWeekday:
		day := 1 + (d.n-1-weekday(y, mo, 1)+7)%7 + 7*(d.nth-1)
		if day <= n {
			return 1 << day
		}
	}
	return 0
}

// nearestWeekday is the weekday nearest to day of a month with n days,
// never leaving the month: a Saturday 1st gives Monday the 3rd, a Sunday on
// the last day gives the Friday before.
func nearestWeekday(y, mo, day, n int) int {
	switch weekday(y, mo, day) {
	case 6: // Saturday
		if day == 1 {
			return 3
		}
		return day - 1
	case 0: // Sunday
		if day == n {
			return day - 2
		}
		return day + 1
	}
	return day
}

// yearSet holds one bit per year from 1970 to 2199.
type yearSet [4]uint64

func newYearSet(items []item) yearSet {
	var s yearSet
	eachValue(&fieldDefs[fieldYear], items, func(y int) {
		i := y - minYear
		s[i/64] |= 1 << (i % 64)
	})
	return s
}

// from returns the first year in the set that is y or later.
func (s *yearSet) from(y int) (int, bool) {
	if y > maxYear {
		return 0, false
	}
	i := y - minYear
	word := s[i/64] >> (i % 64) << (i % 64)
	for w := i / 64; ; {
		if word != 0 {
			return minYear + w*64 + bits.TrailingZeros64(word), true
		}
		if w++; w == len(s) {
			return 0, false
		}
		word = s[w]
	}
}

// next returns the first time at or after the minute y-mo-d h:mi that the
// expression picks. It jumps field by field: a year not in the set is
// skipped whole, then months, days and hours, so the search is bounded by
// the 230 years of the year field and never walks minute by minute.
func (c *cronSpec) next(y, mo, d, h, mi int) (int64, bool) {
	for {
		ny, ok := c.years.from(y)
		if !ok {
			return 0, false
		}
		if ny != y {
			y, mo, d, h, mi = ny, 1, 1, 0, 0
		}
		for months := c.months.bits >> mo << mo; months != 0; months &= months - 1 {
			if m := bits.TrailingZeros64(months); m != mo {
				mo, d, h, mi = m, 1, 0, 0
			}
			for days := c.day.mask(y, mo) >> d << d; days != 0; days &= days - 1 {
				if dd := bits.TrailingZeros64(days); dd != d {
					d, h, mi = dd, 0, 0
				}
				for hours := c.hours.bits >> h << h; hours != 0; hours &= hours - 1 {
					if hh := bits.TrailingZeros64(hours); hh != h {
						h, mi = hh, 0
					}
					if mins := c.minutes.bits >> mi << mi; mins != 0 {
						return unixMinute(y, mo, d, h, bits.TrailingZeros64(mins)), true
					}
				}
			}
		}
		y, mo, d, h, mi = y+1, 1, 1, 0, 0
	}
}

// Calendar arithmetic for 1970-2199, in days since 1970-01-01.

var (
	// yearStart[i] is the day number of January 1 of year 1970+i.
	yearStart = func() (t [maxYear - minYear + 2]int64) {
		for i := 1; i < len(t); i++ {
			t[i] = t[i-1] + 365
			if isLeap(minYear + i - 1) {
				t[i]++
			}
		}
		return t
	}()
	monthDays  = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	monthStart = [13]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334} // days before month m in a common year
	// lastMinute is 2199-12-31 23:59 UTC, the last minute any schedule fires.
	lastMinute = yearStart[maxYear-minYear+1]*86400 - 60
)

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, mo int) int {
	if mo == 2 && isLeap(y) {
		return 29
	}
	return monthDays[mo]
}

func dayNumber(y, mo, d int) int64 {
	n := yearStart[y-minYear] + int64(monthStart[mo]+d-1)
	if mo > 2 && isLeap(y) {
		n++
	}
	return n
}

// weekday is 0 for Sunday through 6 for Saturday; 1970-01-01 was a Thursday.
func weekday(y, mo, d int) int { return int((dayNumber(y, mo, d) + 4) % 7) }

func unixMinute(y, mo, d, h, mi int) int64 {
	return dayNumber(y, mo, d)*86400 + int64(h*3600+mi*60)
}

// nextAfter is Next for cron(): the first picked minute strictly after sec.
func (c *cronSpec) nextAfter(sec int64) (int64, bool) {
	if sec >= lastMinute {
		return 0, false
	}
	start := int64(0) // before 1970, start at the epoch
	if sec >= 0 {
		start = sec - sec%60 + 60
	}
	t := time.Unix(start, 0).UTC()
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	return c.next(y, int(mo), d, h, mi)
}
