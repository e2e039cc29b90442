package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAcceptsWhatEventBridgeAccepts(t *testing.T) {
	t.Parallel()
	valid := []string{
		// Every field plain, and the forms of the EventBridge documentation.
		"cron(0 12 * * ? *)",
		"cron(15 10 ? * 6L 2022-2023)",
		"cron(0 18 ? * MON-FRI *)",
		"cron(0 8 1 * ? *)",
		"cron(0/15 * * * ? *)",
		"cron(0/10 * ? * MON-FRI *)",
		"cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)",
		// Lists, ranges, wrap-around ranges, steps.
		"cron(0,15,30,45 0-5,12 1,15 1,6,12 ? 2020,2025-2030)",
		"cron(0/30 20-2 ? * MON-FRI *)",
		"cron(0 0 ? * FRI-MON *)",
		"cron(50-10 22-3 28-3 NOV-FEB ? *)",
		"cron(1/10 8-18/2 */3 */2 ? 1970/5)",
		"cron(20-2/2 * ? * * *)",
		"cron(*/60 */24 */31 */12 ? */230)",
		"cron(* * * * ? *)",
		"cron(*,5 * * * ? *)",
		// Names in any case, numbers with leading zeros.
		"cron(0 0 ? jan-Mar mon,wEd,FRI *)",
		"cron(05 09 01 01 ? *)",
		// Day-of-month forms.
		"cron(0 0 L * ? *)",
		"cron(0 0 L-1 * ? *)",
		"cron(0 0 L-30 * ? *)",
		"cron(0 0 1W * ? *)",
		"cron(0 0 31W * ? *)",
		"cron(0 0 LW * ? *)",
		// Day-of-week forms.
		"cron(0 0 ? * L *)",
		"cron(0 0 ? * 6L *)",
		"cron(0 0 ? * FRIL *)",
		"cron(0 0 ? * TUE#5 *)",
		"cron(0 0 ? * 1#1 *)",
		// Year bounds.
		"cron(0 0 1 1 ? 1970)",
		"cron(0 0 1 1 ? 2199)",
		"cron(0 0 1 1 ? 1970-2199)",
		// Whitespace.
		"  cron(0 12 * * ? *)\n",
		"cron(0   12  *  *  ?  *)",
		"\t cron(0 12 * * ? *) \r\n",
		"cron( 0 12 * * ? * )",
		// rate().
		"rate(1 minute)",
		"rate(2 minutes)",
		"rate(1 hour)",
		"rate(12 hours)",
		"rate(1 day)",
		"rate(7 days)",
		"rate( 5   minutes )",
		"at(2027-03-14T02:30:00)",
		" at( 2027-11-07T01:30:59 ) ",
		"rate(106751 days)",
		// The longest EventBridge stores.
		cronOfLength(256),
	}
	for _, expr := range valid {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(expr)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want it accepted", expr, err)
			}
			if got, want := s.String(), canonical(expr); got != want {
				t.Errorf("String() = %q, want the canonical form %q", got, want)
			}
			again, err := Parse(s.String())
			if err != nil || again.String() != s.String() {
				t.Errorf("Parse(String()) = %v, %v; the canonical form must parse to itself", again, err)
			}
		})
	}
}

func TestParseRejectsWithFieldAndReason(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, want string }{
		// Not an expression.
		{"", `expression: must be cron(...), rate(...) or at(...)`},
		{"   ", `expression: must be cron(...), rate(...) or at(...)`},
		{"0 12 * * ? *", `expression: must be cron(...), rate(...) or at(...)`},
		{"cron(0 12 * * ? *", `expression: must be cron(...), rate(...) or at(...)`},
		{"CRON(0 12 * * ? *)", `expression: must be cron(...), rate(...) or at(...)`},
		{"cron (0 12 * * ? *)", `expression: must be cron(...), rate(...) or at(...)`},
		{"at(2021-01-01 00:00:00)", `at: "2021-01-01 00:00:00" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)`},
		{"at(2021-02-30T00:00:00)", `at: "2021-02-30T00:00:00" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)`},
		{"at(2021-01-01T00:00)", `at: "2021-01-01T00:00" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)`},
		{"at(2021-01-01T00:00:00Z)", `at: "2021-01-01T00:00:00Z" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)`},
		{"at(2200-01-01T00:00:00)", `at: "2200-01-01T00:00:00" is outside the years 1970-2199`},
		{"at()", `at: "" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)`},
		{"cron(0 0 ? * 6L,2 *)", `day-of-week: "6L,2" uses L in a list or range; it must stand alone`},
		{"cron(0 0 ? * 2-6L *)", `day-of-week: "2-6L" uses L in a list or range; it must stand alone`},
		{cronOfLength(257), `expression: is 257 characters long; EventBridge allows at most 256`},
		{"cron(0 12\t* * ? *)", `expression: contains whitespace other than spaces; separate the fields with spaces`},
		{"cron(0 12\n* * ? *)", `expression: contains whitespace other than spaces; separate the fields with spaces`},
		{"rate(5\u00a0minutes)", `expression: contains whitespace other than spaces; separate the fields with spaces`},
		{"cron()", `expression: cron() needs 6 fields (minutes hours day-of-month month day-of-week year), found 0`},
		{"cron(0 12 * * ?)", `expression: cron() needs 6 fields (minutes hours day-of-month month day-of-week year), found 5`},
		{"cron(0 12 * * ? * *)", `expression: cron() needs 6 fields (minutes hours day-of-month month day-of-week year), found 7`},

		// Out of range, field by field.
		{"cron(60 12 * * ? *)", `minutes: "60" is out of range 0-59`},
		{"cron(0 24 * * ? *)", `hours: "24" is out of range 0-23`},
		{"cron(0 12 0 * ? *)", `day-of-month: "0" is out of range 1-31`},
		{"cron(0 12 32 * ? *)", `day-of-month: "32" is out of range 1-31`},
		{"cron(0 12 * 13 ? *)", `month: "13" is out of range 1-12 (JAN-DEC)`},
		{"cron(0 12 * 0 ? *)", `month: "0" is out of range 1-12 (JAN-DEC)`},
		{"cron(0 12 ? * 8 *)", `day-of-week: "8" is out of range 1-7 (SUN-SAT)`},
		{"cron(0 12 ? * 0 *)", `day-of-week: "0" is out of range 1-7 (SUN-SAT)`},
		{"cron(0 12 * * ? 1969)", `year: "1969" is out of range 1970-2199`},
		{"cron(0 12 * * ? 2200)", `year: "2200" is out of range 1970-2199`},
		{"cron(0 12 * * ? 99999999999999999999)", `year: "99999999999999999999" is out of range 1970-2199`},
		{"cron(0 5-25 * * ? *)", `hours: "25" is out of range 0-23`},

		// Not a number or name.
		{"cron(x 12 * * ? *)", `minutes: "x" is not a number in 0-59`},
		{"cron(-1 12 * * ? *)", `minutes: "-1" is missing a value`},
		{"cron(+1 12 * * ? *)", `minutes: "+1" is not a number in 0-59`},
		{"cron(0 12 * JANUARY ? *)", `month: "JANUARY" is not a number or name in 1-12 (JAN-DEC)`},
		{"cron(0 12 ? * SUNDAY *)", `day-of-week: "SUNDAY" is not a number or name in 1-7 (SUN-SAT)`},
		{"cron(0 12 ? JAN MON-XYZ *)", `day-of-week: "XYZ" is not a number or name in 1-7 (SUN-SAT)`},
		{"cron(0 0 ? * ſun *)", `day-of-week: "ſun" is not a number or name in 1-7 (SUN-SAT)`},
		{"cron(0 MON * * ? *)", `hours: "MON" is not a number in 0-23`},

		// Lists and ranges.
		{"cron(1,,2 12 * * ? *)", `minutes: "1,,2" has an empty list element`},
		{"cron(1, 12 * * ? *)", `minutes: "1," has an empty list element`},
		{"cron(0 1- * * ? *)", `hours: "1-" is missing a value`},
		{"cron(0 1-2-3 * * ? *)", `hours: "1-2-3" has more than one -`},
		{"cron(0 12 * * ? 2030-2020)", `year: "2030-2020" runs backwards; year ranges do not wrap around`},

		// Steps.
		{"cron(*/0 12 * * ? *)", `minutes: "*/0" step must be at least 1`},
		{"cron(0/0 12 * * ? *)", `minutes: "0/0" step must be at least 1`},
		{"cron(*/61 12 * * ? *)", `minutes: "*/61" step must be at most 60`},
		{"cron(0 */25 * * ? *)", `hours: "*/25" step must be at most 24`},
		{"cron(0 12 * */13 ? *)", `month: "*/13" step must be at most 12`},
		{"cron(*/x 12 * * ? *)", `minutes: "*/x" step must be a whole number`},
		{"cron(5/ 12 * * ? *)", `minutes: "5/" is missing the step after "/"`},
		{"cron(/5 12 * * ? *)", `minutes: "/5" is missing a value`},
		{"cron(1/2/3 12 * * ? *)", `minutes: "1/2/3" has more than one /`},
		{"cron(0 12 ? * MON/2 *)", `day-of-week: "MON/2" has a step; steps are not allowed in day-of-week`},
		{"cron(0 12 ? * */2 *)", `day-of-week: "*/2" has a step; steps are not allowed in day-of-week`},

		// "?" and the day fields.
		{"cron(0 12 * * * *)", `day-of-month and day-of-week: one of them must be "?"`},
		{"cron(0 12 1 * MON *)", `day-of-month and day-of-week: one of them must be "?"`},
		{"cron(0 12 L * 6L *)", `day-of-month and day-of-week: one of them must be "?"`},
		{"cron(0 12 ? * ? *)", `day-of-month and day-of-week: only one of them may be "?"`},
		{"cron(? 12 * * ? *)", `minutes: "?" is not allowed here; "?" is only for day-of-month or day-of-week`},
		{"cron(0 12 * ? ? *)", `month: "?" is not allowed here; "?" is only for day-of-month or day-of-week`},
		{"cron(0 12 * * ? ?)", `year: "?" is not allowed here; "?" is only for day-of-month or day-of-week`},
		{"cron(0 12 ?,1 * ? *)", `day-of-month: "?,1" mixes "?" with other values; "?" must stand alone`},
		{"cron(0 12 ? * ?,MON *)", `day-of-week: "?,MON" mixes "?" with other values; "?" must stand alone`},

		// L, W and # where they do not belong.
		{"cron(L 12 * * ? *)", `minutes: "L" is not allowed here; L is only for day-of-month and day-of-week`},
		{"cron(0 5L * * ? *)", `hours: "5L" is not allowed here; L is only for day-of-month and day-of-week`},
		{"cron(0 12 * L ? *)", `month: "L" is not allowed here; L is only for day-of-month and day-of-week`},
		{"cron(0 5W * * ? *)", `hours: "5W" is not allowed here; W is only for day-of-month`},
		{"cron(0 12 ? * 5W *)", `day-of-week: "5W" is not allowed here; W is only for day-of-month`},
		{"cron(0 12 * * ? LW)", `year: "LW" is not allowed here; W is only for day-of-month`},
		{"cron(0 12 1#2 * ? *)", `day-of-month: "1#2" is not allowed here; # is only for day-of-week`},
		{"cron(1#2 12 * * ? *)", `minutes: "1#2" is not allowed here; # is only for day-of-week`},

		// Day-of-month L, L-n, W, LW.
		{"cron(0 12 L-0 * ? *)", `day-of-month: "L-0" offset must be 1-30`},
		{"cron(0 12 L-31 * ? *)", `day-of-month: "L-31" offset must be 1-30`},
		{"cron(0 12 L-x * ? *)", `day-of-month: "L-x" offset must be 1-30`},
		{"cron(0 12 L- * ? *)", `day-of-month: "L-" offset must be 1-30`},
		{"cron(0 12 0W * ? *)", `day-of-month: "0W" is out of range 1-31`},
		{"cron(0 12 32W * ? *)", `day-of-month: "32W" is out of range 1-31`},
		{"cron(0 12 W * ? *)", `day-of-month: "W" needs a day before it, e.g. 15W or LW`},
		{"cron(0 12 1W,15 * ? *)", `day-of-month: "1W,15" uses L or W in a list, range or step; they must stand alone`},
		{"cron(0 12 1-5W * ? *)", `day-of-month: "1-5W" uses L or W in a list, range or step; they must stand alone`},
		{"cron(0 12 L,15 * ? *)", `day-of-month: "L,15" uses L or W in a list, range or step; they must stand alone`},
		{"cron(0 12 15-L * ? *)", `day-of-month: "15-L" uses L or W in a list, range or step; they must stand alone`},
		{"cron(0 12 L/2 * ? *)", `day-of-month: "L/2" uses L or W in a list, range or step; they must stand alone`},
		{"cron(0 12 lw * ? *)", `day-of-month: "lw" is not a number in 1-31`},

		// Day-of-week nL and #.
		{"cron(0 12 ? * 8L *)", `day-of-week: "8" is out of range 1-7 (SUN-SAT)`},
		{"cron(0 12 ? * 1-5L *)", `day-of-week: "1-5L" uses L in a list or range; it must stand alone`},
		{"cron(0 12 ? * MON,FRIL *)", `day-of-week: "MON,FRIL" uses L in a list or range; it must stand alone`},
		{"cron(0 12 ? * TUE#0 *)", `day-of-week: "TUE#0" occurrence must be 1-5`},
		{"cron(0 12 ? * TUE#6 *)", `day-of-week: "TUE#6" occurrence must be 1-5`},
		{"cron(0 12 ? * TUE# *)", `day-of-week: "TUE#" occurrence must be 1-5`},
		{"cron(0 12 ? * 8#1 *)", `day-of-week: "8" is out of range 1-7 (SUN-SAT)`},
		{"cron(0 12 ? * #1 *)", `day-of-week: "" is not a number or name in 1-7 (SUN-SAT)`},
		{"cron(0 12 ? * MON#1#2 *)", `day-of-week: "MON#1#2" has more than one #`},
		{"cron(0 12 ? * MON#1,FRI#1 *)", `day-of-week: "MON#1,FRI#1" uses # in a list or range; it must stand alone`},
		{"cron(0 12 ? * MON-FRI#1 *)", `day-of-week: "MON-FRI#1" uses # in a list or range; it must stand alone`},

		// rate().
		{"rate()", `rate: "" must be a value and a unit, e.g. rate(5 minutes)`},
		{"rate(5)", `rate: "5" must be a value and a unit, e.g. rate(5 minutes)`},
		{"rate(minutes)", `rate: "minutes" must be a value and a unit, e.g. rate(5 minutes)`},
		{"rate(5 minutes now)", `rate: "5 minutes now" must be a value and a unit, e.g. rate(5 minutes)`},
		{"rate(0 minutes)", `rate: "0" must be a positive whole number`},
		{"rate(-5 minutes)", `rate: "-5" must be a positive whole number`},
		{"rate(+5 minutes)", `rate: "+5" must be a positive whole number`},
		{"rate(05 minutes)", `rate: "05" must be a positive whole number`},
		{"rate(5.0 minutes)", `rate: "5.0" must be a positive whole number`},
		{"rate(x5 minutes)", `rate: "x5" must be a positive whole number`},
		{"rate(1 minutes)", `rate: "minutes" needs a value greater than 1; use "1 minute"`},
		{"rate(1 hours)", `rate: "hours" needs a value greater than 1; use "1 hour"`},
		{"rate(1 days)", `rate: "days" needs a value greater than 1; use "1 day"`},
		{"rate(5 minute)", `rate: "minute" needs the value 1; use "5 minutes"`},
		{"rate(2 day)", `rate: "day" needs the value 1; use "2 days"`},
		{"rate(30 seconds)", `rate: "seconds" is finer than EventBridge allows; the smallest unit is a minute`},
		{"rate(1 second)", `rate: "second" is finer than EventBridge allows; the smallest unit is a minute`},
		{"rate(2 weeks)", `rate: "weeks" is not a unit; use minute(s), hour(s) or day(s)`},
		{"rate(5 Minutes)", `rate: "Minutes" is not a unit; use minute(s), hour(s) or day(s)`},
		{"rate(5 minutess)", `rate: "minutess" is not a unit; use minute(s), hour(s) or day(s)`},
		{"rate(106752 days)", `rate: "106752" days is too long an interval`},
		{"rate(99999999999999999999 minutes)", `rate: "99999999999999999999" minutes is too long an interval`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) accepted it (%s), want error %q", tt.expr, s.Describe(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.expr, got, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Parse(%q) error is %T, want *Error", tt.expr, err)
			}
		})
	}
}

func TestErrorFieldsSayWhereWhatAndWhatIsAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr                  string
		field, found, allowed string
	}{
		{"cron(0 12 ? * 8 *)", "day-of-week", "8", "1-7 (SUN-SAT)"},
		{"cron(*/0 12 * * ? *)", "minutes", "*/0", "a step of 1 or more"},
		{"cron(0 12 * 13 ? *)", "month", "13", "1-12 (JAN-DEC)"},
		{"cron(0 12 * * * *)", "day-of-month and day-of-week", "* *", `"?" in exactly one of them`},
		{"rate(1 minutes)", "rate", "minutes", "minute, minutes, hour, hours, day or days"},
		{"every 5 minutes", "", "every 5 minutes", "cron(...), rate(...) or at(...)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error = %v (%T), want an *Error", tt.expr, err, err)
			}
			if e.Field != tt.field || e.Found != tt.found || e.Allowed != tt.allowed {
				t.Errorf("Parse(%q) = Error{Field: %q, Found: %q, Allowed: %q}, want {%q, %q, %q}",
					tt.expr, e.Field, e.Found, e.Allowed, tt.field, tt.found, tt.allowed)
			}
		})
	}
}

func TestRateAndCronAccessors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		isRate   bool
		interval time.Duration
	}{
		{"rate(1 minute)", true, time.Minute},
		{"rate(90 minutes)", true, 90 * time.Minute},
		{"rate(1 hour)", true, time.Hour},
		{"rate(36 hours)", true, 36 * time.Hour},
		{"rate(1 day)", true, 24 * time.Hour},
		{"rate(14 days)", true, 14 * 24 * time.Hour},
		{"cron(0 12 * * ? *)", false, 0},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.expr)
		if s.IsRate() != tt.isRate || s.Interval() != tt.interval {
			t.Errorf("%s: IsRate() = %v, Interval() = %v; want %v, %v",
				tt.expr, s.IsRate(), s.Interval(), tt.isRate, tt.interval)
		}
	}
}

func mustParse(t testing.TB, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

// cronOfLength returns a valid cron() expression of exactly n characters
// (n >= 18): a long minutes list.
func cronOfLength(n int) string {
	s := "cron(" + strings.Repeat("0,", (n-17)/2) + "0 0 ? * * *)"
	if len(s) < n {
		s = "cron(00" + s[len("cron(0"):]
	}
	return s
}

// canonical is what String should give for expr: trimmed, one space
// between the fields, none inside the parentheses' edges.
func canonical(expr string) string {
	expr = strings.TrimSpace(expr)
	open := strings.Index(expr, "(")
	return expr[:open+1] + strings.Join(strings.Fields(expr[open+1:len(expr)-1]), " ") + ")"
}
