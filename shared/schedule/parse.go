package schedule

import (
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxExpressionLen is the longest ScheduleExpression EventBridge stores.
const maxExpressionLen = 256

// The six cron() fields, in the order they are written.
const (
	fieldMinutes = iota
	fieldHours
	fieldDayOfMonth
	fieldMonth
	fieldDayOfWeek
	fieldYear
)

// fieldDef is what one cron() field accepts.
type fieldDef struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i; nil when the field has none
	allowed  string   // the range as error messages show it
	wraps    bool     // a range may run past max and continue from min ("20-2")
}

var (
	monthNames   = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	weekdayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

var fieldDefs = [6]fieldDef{
	fieldMinutes:    {name: "minutes", min: 0, max: 59, allowed: "0-59", wraps: true},
	fieldHours:      {name: "hours", min: 0, max: 23, allowed: "0-23", wraps: true},
	fieldDayOfMonth: {name: "day-of-month", min: 1, max: 31, allowed: "1-31", wraps: true},
	fieldMonth:      {name: "month", min: 1, max: 12, names: monthNames, allowed: "1-12 (JAN-DEC)", wraps: true},
	fieldDayOfWeek:  {name: "day-of-week", min: 1, max: 7, names: weekdayNames, allowed: "1-7 (SUN-SAT)", wraps: true},
	// Years do not wrap: "2030-2020" is a mistake, not a range through 2199.
	fieldYear: {name: "year", min: minYear, max: maxYear, allowed: "1970-2199"},
}

// span is how many values the field has.
func (d *fieldDef) span() int { return d.max - d.min + 1 }

// item is one element of a cron() list: a value, a range, or a stepped range.
// A lone value has start == end; end < start wraps past the field's maximum.
type item struct {
	start, end int
	step       int  // 1 unless written with "/"
	stepped    bool // written with "/"
}

// values lists the item's values in the order the item walks them.
func (it item) values(d *fieldDef) []int {
	span := d.span()
	last := (it.end - it.start + span) % span // offset of end from start
	var out []int
	for off := 0; off <= last; off += it.step {
		out = append(out, d.min+(it.start-d.min+off)%span)
	}
	return out
}

// eachValue calls fn for every value of items, where nil items ("*") stand
// for every value of the field.
func eachValue(d *fieldDef, items []item, fn func(v int)) {
	if items == nil {
		items = []item{{start: d.min, end: d.max, step: 1}}
	}
	for _, it := range items {
		for _, v := range it.values(d) {
			fn(v)
		}
	}
}

// bitsOf sets bit v for every value v of the items; nil items ("*") set all.
// The year field has its own set (yearSet): it does not fit in 64 bits.
func bitsOf(d *fieldDef, items []item) uint64 {
	var b uint64
	eachValue(d, items, func(v int) { b |= 1 << v })
	return b
}

// Parse parses and validates a schedule expression: cron(Minutes Hours
// Day-of-month Month Day-of-week Year), rate(Value Unit) or
// at(yyyy-mm-ddThh:mm:ss), evaluated in UTC until given a zone with In.
// Surrounding whitespace is ignored, and fields may be separated by any run
// of spaces (but not tabs or line breaks); String gives the canonical form.
// A failure is returned as an *Error that names the field, what was found
// there and what the field allows.
func Parse(expr string) (*Schedule, error) {
	expr = strings.TrimSpace(expr)
	if n := utf8.RuneCountInString(expr); n > maxExpressionLen {
		return nil, errorf("", "", "at most 256 characters",
			"is %d characters long; EventBridge allows at most %d", n, maxExpressionLen)
	}
	// A tab or line break inside is a mistake, not a separator.
	if strings.ContainsFunc(expr, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) }) {
		return nil, errorf("", expr, "fields separated by spaces",
			"contains whitespace other than spaces; separate the fields with spaces")
	}
	s := &Schedule{start: math.MinInt64, end: math.MaxInt64}
	switch {
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		body := strings.Fields(expr[len("cron(") : len(expr)-1])
		c, err := parseCron(body)
		if err != nil {
			return nil, err
		}
		s.expr, s.cron = "cron("+strings.Join(body, " ")+")", c
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		body := strings.Fields(expr[len("rate(") : len(expr)-1])
		every, err := parseRate(body)
		if err != nil {
			return nil, err
		}
		s.expr, s.every = "rate("+strings.Join(body, " ")+")", every
	case strings.HasPrefix(expr, "at(") && strings.HasSuffix(expr, ")"):
		body := strings.TrimSpace(expr[len("at(") : len(expr)-1])
		at, err := parseAt(body)
		if err != nil {
			return nil, err
		}
		s.expr, s.isAt, s.at = "at("+body+")", true, at
	default:
		return nil, errorf("", expr, "cron(...), rate(...) or at(...)", "must be cron(...), rate(...) or at(...)")
	}
	return s, nil
}

// parseAt parses the yyyy-mm-ddThh:mm:ss of at() into wall seconds (Unix
// seconds as if the wall time were UTC).
func parseAt(body string) (int64, *Error) {
	const layout = "2006-01-02T15:04:05"
	t, err := time.Parse(layout, body)
	if err != nil || len(body) != len(layout) {
		return 0, errorf("at", body, "yyyy-mm-ddThh:mm:ss",
			"%q is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)", body)
	}
	if y := t.Year(); y < minYear || y > maxYear {
		return 0, errorf("at", body, "years 1970-2199", "%q is outside the years 1970-2199", body)
	}
	return t.Unix(), nil
}

// parseCron parses the fields between "cron(" and ")".
func parseCron(parts []string) (cronSpec, *Error) {
	var c cronSpec
	if len(parts) != 6 {
		return c, errorf("", strings.Join(parts, " "), "6 fields",
			"cron() needs 6 fields (minutes hours day-of-month month day-of-week year), found %d", len(parts))
	}
	var err *Error
	if c.minutes, err = parseField(fieldMinutes, parts[0]); err != nil {
		return c, err
	}
	if c.hours, err = parseField(fieldHours, parts[1]); err != nil {
		return c, err
	}
	dom, err := parseDayOfMonth(parts[2])
	if err != nil {
		return c, err
	}
	if c.months, err = parseField(fieldMonth, parts[3]); err != nil {
		return c, err
	}
	dow, err := parseDayOfWeek(parts[4])
	if err != nil {
		return c, err
	}
	yearItems, err := parseList(&fieldDefs[fieldYear], parts[5])
	if err != nil {
		return c, err
	}
	c.years, c.yearItems = newYearSet(yearItems), yearItems

	// EventBridge takes the day from exactly one of the two day fields; the
	// other must be "?".
	const both = "day-of-month and day-of-week"
	switch domQ, dowQ := parts[2] == "?", parts[4] == "?"; {
	case domQ && dowQ:
		return c, errorf(both, "? ?", `"?" in exactly one of them`, `only one of them may be "?"`)
	case !domQ && !dowQ:
		return c, errorf(both, parts[2]+" "+parts[4], `"?" in exactly one of them`, `one of them must be "?"`)
	case domQ:
		c.day = dow
	default:
		c.day = dom
	}
	return c, nil
}

// parseField parses minutes, hours or month into its bit set.
func parseField(index int, text string) (field, *Error) {
	d := &fieldDefs[index]
	items, err := parseList(d, text)
	if err != nil {
		return field{}, err
	}
	return field{items: items, bits: bitsOf(d, items)}, nil
}

// parseDayOfMonth parses the day-of-month field, with its forms L, L-n, nW
// and LW. "?" parses as every day; parseCron decides which field counts.
func parseDayOfMonth(text string) (daySpec, *Error) {
	d := &fieldDefs[fieldDayOfMonth]
	switch {
	case text == "?":
		return daySpec{kind: daysListed, set: bitsOf(d, nil)}, nil
	case text == "L":
		return daySpec{kind: daysBeforeLast}, nil
	case text == "LW":
		return daySpec{kind: daysLastWeekday}, nil
	case strings.HasPrefix(text, "L-"):
		n, ok := parseNumber(text[2:])
		if !ok || n < 1 || n > 30 {
			return daySpec{}, errorf(d.name, text, "L-1 to L-30", "%q offset must be 1-30", text)
		}
		return daySpec{kind: daysBeforeLast, n: n}, nil
	case text == "W":
		return daySpec{}, errorf(d.name, text, "nW (n in 1-31) or LW", `"W" needs a day before it, e.g. 15W or LW`)
	case strings.HasSuffix(text, "W") && isDigits(text[:len(text)-1]):
		n, _ := parseNumber(text[:len(text)-1])
		if n < d.min || n > d.max {
			return daySpec{}, errorf(d.name, text, "nW with n in 1-31", "%q is out of range 1-31", text)
		}
		return daySpec{kind: daysNearestWeekday, n: n}, nil
	case strings.ContainsAny(text, "LW"):
		return daySpec{}, errorf(d.name, text, "L, L-n, nW or LW on its own",
			"%q uses L or W in a list, range or step; they must stand alone", text)
	}
	items, err := parseList(d, text)
	if err != nil {
		return daySpec{}, err
	}
	return daySpec{kind: daysListed, items: items, set: bitsOf(d, items)}, nil
}

// parseDayOfWeek parses the day-of-week field, with its forms nL and d#n.
// "?" parses as every day; parseCron decides which field counts.
func parseDayOfWeek(text string) (daySpec, *Error) {
	d := &fieldDefs[fieldDayOfWeek]
	switch {
	case text == "?":
		return daySpec{kind: daysListed, set: bitsOf(&fieldDefs[fieldDayOfMonth], nil)}, nil
	case text == "L":
		// On its own, L is the last day of the week: Saturday.
		items := []item{{start: 7, end: 7, step: 1}}
		return daySpec{kind: daysOfWeek, items: items, set: bitsOf(d, items)}, nil
	case strings.Contains(text, "/"):
		return daySpec{}, errorf(d.name, text, d.allowed+" without steps",
			"%q has a step; steps are not allowed in day-of-week", text)
	case strings.Contains(text, "#"):
		if strings.ContainsAny(text, ",-") {
			return daySpec{}, errorf(d.name, text, "d#n on its own", "%q uses # in a list or range; it must stand alone", text)
		}
		if strings.Count(text, "#") > 1 {
			return daySpec{}, errorf(d.name, text, "d#n with one #", "%q has more than one #", text)
		}
		day, nth, _ := strings.Cut(text, "#")
		weekday, err := parseValue(d, day)
		if err != nil {
			return daySpec{}, err
		}
		n, ok := parseNumber(nth)
		if !ok || n < 1 || n > 5 {
			return daySpec{}, errorf(d.name, text, "d#n with n in 1-5", "%q occurrence must be 1-5", text)
		}
		return daySpec{kind: daysNthWeekday, n: weekday, nth: n}, nil
	case strings.Contains(text, "L") && strings.ContainsAny(text, ",-"):
		// "6L,2" or "2-6L": L must stand alone, wherever in the list it is.
		return daySpec{}, errorf(d.name, text, "nL on its own", "%q uses L in a list or range; it must stand alone", text)
	case len(text) > 1 && strings.HasSuffix(text, "L"):
		if strings.ContainsAny(text, ",-") {
			return daySpec{}, errorf(d.name, text, "nL on its own", "%q uses L in a list or range; it must stand alone", text)
		}
		weekday, err := parseValue(d, text[:len(text)-1])
		if err != nil {
			return daySpec{}, err
		}
		return daySpec{kind: daysLastWeekdayOf, n: weekday}, nil
	}
	items, err := parseList(d, text)
	if err != nil {
		return daySpec{}, err
	}
	if items == nil { // "*": every day, whichever weekday
		return daySpec{kind: daysListed, set: bitsOf(&fieldDefs[fieldDayOfMonth], nil)}, nil
	}
	return daySpec{kind: daysOfWeek, items: items, set: bitsOf(d, items)}, nil
}

// parseList parses a comma-separated list of values, ranges and steps. It
// returns nil for "*".
func parseList(d *fieldDef, text string) ([]item, *Error) {
	if text == "*" {
		return nil, nil
	}
	if strings.Contains(text, "?") {
		if d == &fieldDefs[fieldDayOfMonth] || d == &fieldDefs[fieldDayOfWeek] {
			return nil, errorf(d.name, text, `"?" on its own`, `%q mixes "?" with other values; "?" must stand alone`, text)
		}
		return nil, errorf(d.name, text, d.allowed, `%q is not allowed here; "?" is only for day-of-month or day-of-week`, text)
	}
	elems := strings.Split(text, ",")
	items := make([]item, 0, len(elems))
	for _, e := range elems {
		if e == "" {
			return nil, errorf(d.name, text, d.allowed, "%q has an empty list element", text)
		}
		it, err := parseItem(d, e)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// parseItem parses one list element: v, a-b, *, or any of those with /step.
func parseItem(d *fieldDef, e string) (item, *Error) {
	base, stepText, stepped := strings.Cut(e, "/")
	if strings.Contains(stepText, "/") {
		return item{}, errorf(d.name, e, d.allowed, "%q has more than one /", e)
	}
	it := item{start: d.min, end: d.max, step: 1, stepped: stepped}
	if base != "*" {
		lo, hi, isRange := strings.Cut(base, "-")
		if lo == "" || (isRange && hi == "") {
			return item{}, errorf(d.name, e, d.allowed, "%q is missing a value", e)
		}
		if strings.Contains(hi, "-") {
			return item{}, errorf(d.name, e, d.allowed, "%q has more than one -", e)
		}
		var err *Error
		if it.start, err = parseValue(d, lo); err != nil {
			return item{}, err
		}
		switch {
		case isRange:
			if it.end, err = parseValue(d, hi); err != nil {
				return item{}, err
			}
			if it.end < it.start && !d.wraps {
				return item{}, errorf(d.name, e, d.allowed, "%q runs backwards; %s ranges do not wrap around", e, d.name)
			}
		case !stepped:
			it.end = it.start // a lone value; "a/b" runs from a to the maximum
		}
	}
	if stepped {
		step, ok := parseNumber(stepText)
		switch {
		case stepText == "":
			return item{}, errorf(d.name, e, "a step of 1 or more", `%q is missing the step after "/"`, e)
		case !ok:
			return item{}, errorf(d.name, e, "a step of 1 or more", "%q step must be a whole number", e)
		case step < 1:
			return item{}, errorf(d.name, e, "a step of 1 or more", "%q step must be at least 1", e)
		case step > d.span():
			return item{}, errorf(d.name, e, "a step of 1 or more", "%q step must be at most %d", e, d.span())
		}
		it.step = step
	}
	return it, nil
}

// parseValue parses a number or, where the field has them, a name (any case).
func parseValue(d *fieldDef, s string) (int, *Error) {
	if n, ok := parseNumber(s); ok {
		if n < d.min || n > d.max {
			return 0, errorf(d.name, s, d.allowed, "%q is out of range %s", s, d.allowed)
		}
		return n, nil
	}
	for i, name := range d.names {
		if equalFoldASCII(s, name) {
			return d.min + i, nil
		}
	}
	if hint := misplaced(d, s); hint != "" {
		return 0, errorf(d.name, s, d.allowed, "%q is not allowed here; %s", s, hint)
	}
	if d.names != nil {
		return 0, errorf(d.name, s, d.allowed, "%q is not a number or name in %s", s, d.allowed)
	}
	return 0, errorf(d.name, s, d.allowed, "%q is not a number in %s", s, d.allowed)
}

// misplaced explains a day-field form (L, W, #) written in a field that does
// not take it, or returns "".
func misplaced(d *fieldDef, s string) string {
	dom, dow := d == &fieldDefs[fieldDayOfMonth], d == &fieldDefs[fieldDayOfWeek]
	switch {
	case strings.Contains(s, "#") && !dow:
		return "# is only for day-of-week"
	case strings.HasSuffix(s, "W") && (s == "LW" || isDigits(s[:len(s)-1])) && !dom:
		return "W is only for day-of-month"
	case strings.HasSuffix(s, "L") && (s == "L" || isDigits(s[:len(s)-1])) && !dom && !dow:
		return "L is only for day-of-month and day-of-week"
	}
	return ""
}

// equalFoldASCII compares ignoring ASCII case only: strings.EqualFold would
// also take "ſun" (long s) for SUN, which EventBridge does not.
func equalFoldASCII(s, upper string) bool {
	if len(s) != len(upper) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// parseNumber parses an unsigned decimal number. Absurdly long numbers parse
// as a large value (out of every range) rather than overflowing.
func parseNumber(s string) (int, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return 1 << 30, true
		}
	}
	return n, true
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseRate parses the value and unit between "rate(" and ")".
func parseRate(parts []string) (time.Duration, *Error) {
	const units = "minute, minutes, hour, hours, day or days"
	if len(parts) != 2 {
		body := strings.Join(parts, " ")
		return 0, errorf("rate", body, "a value and a unit",
			"%q must be a value and a unit, e.g. rate(5 minutes)", body)
	}
	value, unitText := parts[0], parts[1]
	n, ok := parseNumber(value)
	if !ok || n == 0 || value[0] == '0' {
		return 0, errorf("rate", value, "a positive whole number", "%q must be a positive whole number", value)
	}
	var unit time.Duration
	switch strings.TrimSuffix(unitText, "s") {
	case "minute":
		unit = time.Minute
	case "hour":
		unit = time.Hour
	case "day":
		unit = 24 * time.Hour
	case "second":
		return 0, errorf("rate", unitText, units, "%q is finer than EventBridge allows; the smallest unit is a minute", unitText)
	default:
		return 0, errorf("rate", unitText, units, "%q is not a unit; use minute(s), hour(s) or day(s)", unitText)
	}
	singular := strings.TrimSuffix(unitText, "s")
	switch plural := unitText != singular; {
	case plural && n == 1:
		return 0, errorf("rate", unitText, units, `%q needs a value greater than 1; use "1 %s"`, unitText, singular)
	case !plural && n > 1:
		return 0, errorf("rate", unitText, units, `%q needs the value 1; use "%d %ss"`, unitText, n, singular)
	}
	if int64(n) > math.MaxInt64/int64(unit) {
		return 0, errorf("rate", value, "a positive whole number", "%q %s is too long an interval", value, unitText)
	}
	return time.Duration(n) * unit, nil
}
