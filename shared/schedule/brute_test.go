package schedule

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file reads cron() expressions a second time, independently of the
// package: each field is checked against a time on its own, by the plainest
// logic that states the rule (is v within this range, walking up and wrapping;
// is this day the last Friday because a week later is next month). It shares
// nothing with parse.go or next.go, so that the two can check each other.

// brute is a cron() expression as six field texts. It expects an expression
// Parse accepted.
type brute struct {
	minute, hour, dom, month, dow, year string

	// Membership of the plain list fields, worked out once with inList so
	// that walking minute by minute stays cheap.
	minuteOK [60]bool
	hourOK   [24]bool
}

func newBrute(expr string) *brute {
	f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(expr), "cron("), ")"))
	b := &brute{minute: f[0], hour: f[1], dom: f[2], month: f[3], dow: f[4], year: f[5]}
	for v := range 60 {
		b.minuteOK[v] = inList(b.minute, v, 0, 59, nil)
	}
	for v := range 24 {
		b.hourOK[v] = inList(b.hour, v, 0, 23, nil)
	}
	return b
}

var (
	bruteMonths   = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	bruteWeekdays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// matches reports whether the expression fires at t (UTC, second 0).
func (b *brute) matches(t time.Time) bool {
	return t.Second() == 0 && t.Nanosecond() == 0 && b.dayMatches(t) && b.minuteOK[t.Minute()] && b.hourOK[t.Hour()]
}

// dayMatches checks year, month and whichever day field is not "?".
func (b *brute) dayMatches(t time.Time) bool {
	y, m, d := t.Date()
	if y < 1970 || y > 2199 || !inList(b.year, y, 1970, 2199, nil) || !inList(b.month, int(m), 1, 12, bruteMonths) {
		return false
	}
	lastDay := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	isWeekday := func(day int) bool {
		wd := time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Weekday()
		return wd != time.Saturday && wd != time.Sunday
	}
	if b.dom != "?" {
		switch f := b.dom; {
		case f == "L":
			return d == lastDay
		case f == "LW":
			last := lastDay
			for !isWeekday(last) {
				last--
			}
			return d == last
		case strings.HasPrefix(f, "L-"):
			return d == lastDay-atoi(f[2:])
		case strings.HasSuffix(f, "W"):
			// The weekday closest to day n without leaving the month.
			n := atoi(strings.TrimSuffix(f, "W"))
			if n > lastDay {
				return false
			}
			for dist := 0; dist <= 3; dist++ {
				for _, c := range []int{n - dist, n + dist} {
					if c >= 1 && c <= lastDay && isWeekday(c) {
						return d == c
					}
				}
			}
			panic("no weekday within 3 days of " + f)
		default:
			return inList(f, d, 1, 31, nil)
		}
	}
	wd := int(t.Weekday()) + 1 // 1 = Sunday
	switch f := b.dow; {
	case f == "L":
		return wd == 7
	case strings.Contains(f, "#"):
		day, nth, _ := strings.Cut(f, "#")
		// The nth such weekday: n-1 of them came before, one a week.
		return wd == value(day, bruteWeekdays) && (d-1)/7+1 == atoi(nth)
	case strings.HasSuffix(f, "L"):
		// The last such weekday: a week later is next month.
		return wd == value(strings.TrimSuffix(f, "L"), bruteWeekdays) && d+7 > lastDay
	default:
		return inList(f, wd, 1, 7, bruteWeekdays)
	}
}

// inList reports whether v (in lo..hi) is in a list field such as
// "1,5-10,*/3,20-2,MON".
func inList(text string, v, lo, hi int, names []string) bool {
	if text == "*" || text == "?" {
		return true
	}
	for _, e := range strings.Split(text, ",") {
		base, stepText, stepped := strings.Cut(e, "/")
		step := 1
		if stepped {
			step = atoi(stepText)
		}
		var from, to int
		switch x, y, isRange := strings.Cut(base, "-"); {
		case base == "*":
			from, to = lo, hi
		case isRange:
			from, to = value(x, names), value(y, names)
		case stepped:
			from, to = value(base, names), hi
		default:
			from, to = value(base, names), value(base, names)
		}
		// Walk up from "from", wrapping after hi: v is in when it comes no
		// later than "to" does and lands on a step.
		size := hi - lo + 1
		dist := ((v-from)%size + size) % size
		length := ((to-from)%size + size) % size
		if dist <= length && dist%step == 0 {
			return true
		}
	}
	return false
}

// value reads a number or, when names is given, a name: names[0] is 1.
func value(s string, names []string) int {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i + 1
		}
	}
	return atoi(s)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic("brute: not a number: " + s)
	}
	return n
}

// next finds the first matching minute strictly after after and no later
// than limit. It walks minute by minute, skipping only whole days whose date
// does not match (no minute of such a day can).
func (b *brute) next(after, limit time.Time) (time.Time, bool) {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	if t.Year() < 1970 {
		t = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	for !t.After(limit) && t.Year() <= 2199 {
		if !b.dayMatches(t) {
			y, m, d := t.Date()
			t = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if b.matches(t) {
			return t, true
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}, false
}

// randomCron builds a valid cron() expression that exercises lists, ranges,
// wrap-around ranges, steps, names and every day form.
func randomCron(r *rand.Rand) string {
	fields := []string{
		randomList(r, 0, 59, nil, true),
		randomList(r, 0, 23, nil, true),
		"?",
		randomList(r, 1, 12, bruteMonths, true),
		"?",
		randomYears(r),
	}
	if r.IntN(2) == 0 {
		switch r.IntN(6) {
		case 0:
			fields[2] = "L"
		case 1:
			fields[2] = "L-" + strconv.Itoa(1+r.IntN(30))
		case 2:
			fields[2] = strconv.Itoa(1+r.IntN(31)) + "W"
		case 3:
			fields[2] = "LW"
		default:
			fields[2] = randomList(r, 1, 31, nil, true)
		}
	} else {
		switch r.IntN(5) {
		case 0:
			fields[4] = randomValue(r, 1, 7, bruteWeekdays) + "L"
		case 1:
			fields[4] = randomValue(r, 1, 7, bruteWeekdays) + "#" + strconv.Itoa(1+r.IntN(5))
		case 2:
			fields[4] = "L"
		default:
			fields[4] = randomList(r, 1, 7, bruteWeekdays, false)
		}
	}
	return "cron(" + strings.Join(fields, " ") + ")"
}

func randomList(r *rand.Rand, lo, hi int, names []string, steps bool) string {
	if r.IntN(5) == 0 {
		return "*"
	}
	elems := make([]string, 1+r.IntN(3))
	for i := range elems {
		v := func() string { return randomValue(r, lo, hi, names) }
		step := func() string { return strconv.Itoa(1 + r.IntN(min(hi-lo+1, 15))) }
		switch k := r.IntN(6); {
		case k == 0 || k == 1:
			elems[i] = v()
		case k == 2:
			elems[i] = v() + "-" + v() // wraps when the second is smaller
		case k == 3 && steps:
			elems[i] = "*/" + step()
		case k == 4 && steps:
			elems[i] = v() + "/" + step()
		case k == 5 && steps:
			elems[i] = v() + "-" + v() + "/" + step()
		default:
			elems[i] = v()
		}
	}
	return strings.Join(elems, ",")
}

func randomValue(r *rand.Rand, lo, hi int, names []string) string {
	v := lo + r.IntN(hi-lo+1)
	if names != nil && r.IntN(2) == 0 {
		name := names[v-lo]
		if r.IntN(3) == 0 {
			name = strings.ToLower(name)
		}
		return name
	}
	return strconv.Itoa(v)
}

// randomYears is usually "*"; otherwise years near the random start times
// the property test uses, in ranges, lists and steps.
func randomYears(r *rand.Rand) string {
	y := func() int { return 1970 + r.IntN(230) }
	switch r.IntN(8) {
	case 0:
		a := y()
		return strconv.Itoa(a) + "-" + strconv.Itoa(min(a+r.IntN(5), 2199))
	case 1:
		return strconv.Itoa(y()) + "," + strconv.Itoa(y())
	case 2:
		return strconv.Itoa(y()) + "/" + strconv.Itoa(1+r.IntN(4))
	}
	return "*"
}

// randomTime is a time between 1969 and the end of 2199, at any second, and
// sometimes right at the ends of the range.
func randomTime(r *rand.Rand) time.Time {
	switch r.IntN(10) {
	case 0:
		return time.Date(2199, 12, 31, 23, 0, 0, 0, time.UTC).Add(-time.Duration(r.IntN(3*24*60)) * time.Minute)
	case 1:
		return time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(3*24*60)) * time.Minute)
	}
	lo := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
	return time.Unix(lo+r.Int64N(hi-lo), 0).UTC()
}

// TestNextAgreesWithBruteForce compares Next with the brute-force reading
// for many random expressions, a few consecutive fire times each, over a
// window long enough for the rare day forms (a fifth Tuesday, L-30).
func TestNextAgreesWithBruteForce(t *testing.T) {
	t.Parallel()
	const (
		expressions = 5000
		steps       = 6
		window      = 400 * 24 * time.Hour
	)
	r := rand.New(rand.NewPCG(20210402, 1))
	found := map[string]int{}
	defer func() { t.Logf("fire times compared, by day form: %v", found) }()
	for range expressions {
		expr := randomCron(r)
		s, err := Parse(expr)
		if err != nil {
			t.Fatalf("the generator made %s, which Parse refuses: %v", expr, err)
		}
		b := newBrute(expr)
		from := randomTime(r)
		for range steps {
			limit := from.Add(window)
			want, wantOK := b.next(from, limit)
			got, gotOK := s.Next(from)
			if gotOK && got.After(limit) {
				got, gotOK = time.Time{}, false // beyond the window: the brute force did not look there
			}
			if gotOK != wantOK || !got.Equal(want) {
				t.Fatalf("%s (%s)\nNext(%s) = %s, %v\nbrute force says %s, %v",
					expr, s.Describe(), from.Format(time.RFC3339), got.Format(time.RFC3339), gotOK, want.Format(time.RFC3339), wantOK)
			}
			if !wantOK {
				break
			}
			found[dayForm(b)]++
			from = want
		}
	}
}

// dayForm names the day rule of an expression, to report what the property
// test covered.
func dayForm(b *brute) string {
	f := b.dom
	if f == "?" {
		f = b.dow
		switch {
		case f == "L":
			return "dow L"
		case strings.Contains(f, "#"):
			return "#"
		case strings.HasSuffix(f, "L"):
			return "nL"
		}
		return "dow list"
	}
	switch {
	case f == "L", f == "LW":
		return f
	case strings.HasPrefix(f, "L-"):
		return "L-n"
	case strings.HasSuffix(f, "W"):
		return "nW"
	}
	return "dom list"
}

// The DST rule, read from its definition: an instant fires when its wall
// minute in the zone matches and no earlier instant showed the same wall
// minute. The walk converts each instant with time.Time.In, and looks back
// for an earlier showing over maxShift, more than any change of offset in
// the zones tested makes (checked by zoneTransitions).
const maxShift = 3 * time.Hour

// wallMinute is the wall time of t in loc, as a UTC time to match against.
func wallMinute(t time.Time, loc *time.Location) time.Time {
	w := t.In(loc)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
}

// shownBefore reports whether an instant before t (at most maxShift before)
// showed the wall time t shows.
func shownBefore(t time.Time, loc *time.Location) bool {
	wall := wallMinute(t, loc)
	for back := time.Minute; back <= maxShift; back += time.Minute {
		if wallMinute(t.Add(-back), loc).Equal(wall) {
			return true
		}
	}
	return false
}

// nextIn is next for the expression read in loc: the first instant strictly
// after after and no later than limit that fires. It walks minute by minute,
// but over a day whose date does not match it jumps to three hours before
// that day's midnight: no change of offset in the zones tested reaches that
// far, so every instant jumped over shows a wall time of that day, or one
// shown before (after the clock went back).
func (b *brute) nextIn(loc *time.Location, after, limit time.Time) (time.Time, bool) {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	for !t.After(limit) {
		wall := wallMinute(t, loc)
		if wall.Year() > 2199 {
			break
		}
		if !b.dayMatches(wall) {
			y, m, d := wall.Date()
			if left := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(wall); left > maxShift {
				t = t.Add(left - maxShift)
				continue
			}
		} else if b.matches(wall) && !shownBefore(t, loc) {
			return t, true
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}, false
}

// bruteAt is the one fire of at(wall) in loc, from the same definition: the
// first instant that shows the wall time, found by walking every minute of
// the days around it; false when no instant shows it.
func bruteAt(wall time.Time, loc *time.Location) (time.Time, bool) {
	minute := wall.Truncate(time.Minute)
	for t := minute.Add(-30 * time.Hour); t.Before(minute.Add(30 * time.Hour)); t = t.Add(time.Minute) {
		if wallMinute(t, loc).Equal(minute) {
			return t.Add(wall.Sub(minute)), true
		}
	}
	return time.Time{}, false
}

// testZones have rules that make Next work: both hemispheres, changes at
// midnight (Havana, Santiago, Nuuk), 30- and 45-minute offsets, a
// 30-minute change (Lord Howe), a 2-hour change (Troll), two changes a
// year around Ramadan (Casablanca), none at all (Kolkata, Kathmandu).
var testZones = []string{
	"America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney",
	"Australia/Adelaide", "Australia/Lord_Howe", "America/Santiago", "Pacific/Auckland",
	"Pacific/Chatham", "America/St_Johns", "America/Havana", "Antarctica/Troll",
	"Africa/Casablanca", "America/Nuuk", "Asia/Kolkata", "Asia/Kathmandu",
}

// zoneChanges is a zone and the instants its offset changes in 2024-2030.
type zoneChanges struct {
	loc     *time.Location
	changes []time.Time
}

// zoneTransitions finds the changes of every test zone with ZoneBounds, and
// checks that none moves the clock by more than the brute force looks back.
func zoneTransitions(t testing.TB) []zoneChanges {
	t.Helper()
	end := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]zoneChanges, len(testZones))
	for i, name := range testZones {
		loc := zone(t, name)
		out[i].loc = loc
		for at := time.Date(2024, 1, 1, 0, 0, 0, 0, loc); at.Before(end); {
			_, next := at.ZoneBounds()
			if !next.After(at) {
				// No end, or the end the time package makes up for a year it
				// computes from the zone's rule string, which is not always
				// after at (31 December of a leap year): step on by a day.
				at = at.Add(24 * time.Hour)
				continue
			}
			_, before := at.Zone()
			_, after := next.Zone()
			if shift := time.Duration(after-before) * time.Second; shift != 0 && next.Before(end) {
				if shift.Abs() > maxShift-time.Hour {
					t.Fatalf("%s changes its offset by %v at %v: more than the brute force handles", name, shift, next)
				}
				out[i].changes = append(out[i].changes, next)
			}
			at = next
		}
	}
	return out
}

// randomZonedCron is randomCron made likelier to fire near a change whose
// new wall time is at hour h: often the hours around h, every day.
func randomZonedCron(r *rand.Rand, h int) string {
	f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(randomCron(r), "cron("), ")"))
	if r.IntN(3) > 0 {
		f[1] = [...]string{
			strconv.Itoa(h),
			strconv.Itoa((h+23)%24) + "-" + strconv.Itoa((h+1)%24),
			strconv.Itoa((h+22)%24) + "-" + strconv.Itoa((h+2)%24) + "/" + strconv.Itoa(1+r.IntN(2)),
			"*",
		}[r.IntN(4)]
	}
	if r.IntN(2) == 0 {
		f[2], f[4] = "*", "?"
	}
	if r.IntN(2) == 0 {
		f[5] = "*"
	}
	return "cron(" + strings.Join(f, " ") + ")"
}

// TestNextInZoneAgreesWithBruteForce compares Next with the brute-force
// reading of the DST rule for random expressions in random zones, from
// random instants around the zones' changes in 2024-2030, and at() for
// random wall times around them.
func TestNextInZoneAgreesWithBruteForce(t *testing.T) {
	t.Parallel()
	expressions, steps := 1500, 5
	if testing.Short() {
		expressions = 300
	}
	const window = 4 * 24 * time.Hour
	byZone := zoneTransitions(t)
	r := rand.New(rand.NewPCG(20270314, 20271107))
	near := 0 // fire times compared within 3 hours of a change
	for range expressions {
		z := byZone[r.IntN(len(byZone))]
		// A change, or for a zone without any a time in 2024-2030.
		change := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(7*365*24)) * time.Hour)
		if len(z.changes) > 0 {
			change = z.changes[r.IntN(len(z.changes))]
		}
		from := change.Add(time.Duration(r.Int64N(int64(36*time.Hour))) - 30*time.Hour).Add(time.Duration(r.IntN(60)) * time.Second)

		if r.IntN(8) == 0 {
			// at(): a wall time around the change, with seconds sometimes.
			wall := wallMinute(change, z.loc).Add(time.Duration(r.IntN(6*60)-3*60) * time.Minute)
			if r.IntN(3) == 0 {
				wall = wall.Add(time.Duration(r.IntN(60)) * time.Second)
			}
			expr := "at(" + wall.Format("2006-01-02T15:04:05") + ")"
			s := mustParse(t, expr).In(z.loc)
			want, wantOK := bruteAt(wall, z.loc)
			if wantOK && !want.After(from) {
				want, wantOK = time.Time{}, false
			}
			if got, gotOK := s.Next(from); gotOK != wantOK || !got.Equal(want) {
				t.Fatalf("%s in %s\nNext(%s) = %s, %v\nbrute force says %s, %v",
					expr, z.loc, from.UTC().Format(time.RFC3339), got.Format(time.RFC3339), gotOK, want.Format(time.RFC3339), wantOK)
			}
			continue
		}

		expr := randomZonedCron(r, change.In(z.loc).Hour())
		s := mustParse(t, expr).In(z.loc)
		b := newBrute(expr)
		for range steps {
			limit := from.Add(window)
			want, wantOK := b.nextIn(z.loc, from, limit)
			got, gotOK := s.Next(from)
			if gotOK && got.After(limit) {
				got, gotOK = time.Time{}, false // beyond the window: the brute force did not look there
			}
			if gotOK != wantOK || !got.Equal(want) {
				t.Fatalf("%s in %s (%s)\nNext(%s) = %s, %v\nbrute force says %s, %v",
					expr, z.loc, s.Describe(), from.UTC().Format(time.RFC3339), got.Format(time.RFC3339), gotOK, want.Format(time.RFC3339), wantOK)
			}
			if !wantOK {
				break
			}
			if want.Sub(change).Abs() <= 3*time.Hour {
				near++
			}
			from = want
		}
	}
	t.Logf("fire times compared within 3 hours of a change of offset: %d", near)
	if near < expressions/4 {
		t.Errorf("only %d fire times compared near a change; the test does not test what it says", near)
	}
}
