package schedule

import (
	"math"
	"strings"
	"testing"
	"time"
)

// The expected instants in this file are worked out by hand from each
// zone's published rules for 2027, not from the package:
//
//	America/New_York   EST -5, EDT -4: 14 Mar 02:00 -> 03:00 (07:00Z), 7 Nov 02:00 -> 01:00 (06:00Z)
//	Australia/Sydney   AEST +10, AEDT +11: 4 Apr 03:00 -> 02:00 (3 Apr 16:00Z), 3 Oct 02:00 -> 03:00 (2 Oct 16:00Z)
//	Australia/Adelaide ACST +9:30, ACDT +10:30: the same local times (3 Apr 16:30Z, 2 Oct 16:30Z)
//	Australia/Lord_Howe +10:30, +11 in summer, a 30-minute shift: 4 Apr 02:00 -> 01:30 (3 Apr 15:00Z),
//	                   3 Oct 02:00 -> 02:30 (2 Oct 15:30Z)
//	America/Santiago   -4, -3 in summer: 4 Apr 00:00 -> 3 Apr 23:00 (03:00Z), 5 Sep 00:00 -> 01:00 (04:00Z)
//	Asia/Kolkata       +5:30, Asia/Kathmandu +5:45, no daylight saving time

// zone loads a zone with LoadLocation or stops the test.
func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func TestNextInZoneAtTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, expr, from string
		want                   []string
		final                  bool // want holds every fire time left
	}{
		// New York, spring: 02:00-02:59 does not exist on 14 March.
		{
			name: "New York spring: a daily time in the skipped hour has no fire that day",
			zone: "America/New_York", expr: "cron(30 2 * * ? *)", from: "2027-03-13 00:00",
			want: []string{"2027-03-13 07:30", "2027-03-15 06:30", "2027-03-16 06:30"},
		},
		{
			name: "New York spring: the hour before the gap is still standard time",
			zone: "America/New_York", expr: "cron(30 1 * * ? *)", from: "2027-03-13 00:00",
			want: []string{"2027-03-13 06:30", "2027-03-14 06:30", "2027-03-15 05:30"},
		},
		{
			name: "New York spring: every 15 minutes during 01:00-03:59 fires 8 times, not 12",
			zone: "America/New_York", expr: "cron(0/15 1-3 * * ? *)", from: "2027-03-14 05:00",
			want: []string{
				"2027-03-14 06:00", "2027-03-14 06:15", "2027-03-14 06:30", "2027-03-14 06:45", // 01:xx EST
				"2027-03-14 07:00", "2027-03-14 07:15", "2027-03-14 07:30", "2027-03-14 07:45", // 03:xx EDT
				"2027-03-15 05:00", // 01:00 EDT the next day
			},
		},
		{
			name: "New York spring: hourly crosses the gap with no fire for 02:00",
			zone: "America/New_York", expr: "cron(0 * * * ? *)", from: "2027-03-14 05:00",
			want: []string{"2027-03-14 06:00", "2027-03-14 07:00", "2027-03-14 08:00"}, // 01:00 EST, 03:00 EDT, 04:00 EDT
		},
		{
			name: "New York spring: every minute jumps from 01:59 EST to 03:00 EDT",
			zone: "America/New_York", expr: "cron(* * * * ? *)", from: "2027-03-14 06:58",
			want: []string{"2027-03-14 06:59", "2027-03-14 07:00", "2027-03-14 07:01"},
		},

		// New York, autumn: 01:00-01:59 happens twice on 7 November.
		{
			name: "New York autumn: a daily time in the repeated hour fires once, the first time",
			zone: "America/New_York", expr: "cron(30 1 * * ? *)", from: "2027-11-06 00:00",
			want: []string{"2027-11-06 05:30", "2027-11-07 05:30", "2027-11-08 06:30"},
		},
		{
			name: "New York autumn: every 15 minutes during 01:00-03:59 skips the second pass",
			zone: "America/New_York", expr: "cron(0/15 1-3 * * ? *)", from: "2027-11-07 04:00",
			want: []string{
				"2027-11-07 05:00", "2027-11-07 05:15", "2027-11-07 05:30", "2027-11-07 05:45", // 01:xx EDT
				"2027-11-07 07:00", "2027-11-07 07:15", "2027-11-07 07:30", "2027-11-07 07:45", // 02:xx EST
				"2027-11-07 08:00", "2027-11-07 08:15", "2027-11-07 08:30", "2027-11-07 08:45", // 03:xx EST
				"2027-11-08 06:00", // 01:00 EST the next day
			},
		},
		{
			name: "New York autumn: hourly fires for 01:00 once",
			zone: "America/New_York", expr: "cron(0 * * * ? *)", from: "2027-11-07 04:00",
			want: []string{"2027-11-07 05:00", "2027-11-07 07:00", "2027-11-07 08:00"}, // 01:00 EDT, 02:00 EST, 03:00 EST
		},
		{
			name: "New York autumn: every minute goes from 01:59 EDT to 02:00 EST",
			zone: "America/New_York", expr: "cron(* * * * ? *)", from: "2027-11-07 05:58",
			want: []string{"2027-11-07 05:59", "2027-11-07 07:00", "2027-11-07 07:01"},
		},
		{
			name: "New York autumn: 02:00 EST is the first 02:00",
			zone: "America/New_York", expr: "cron(0 2 * * ? *)", from: "2027-11-06 00:00",
			want: []string{"2027-11-06 06:00", "2027-11-07 07:00", "2027-11-08 07:00"},
		},

		// After inside the second pass of the repeated hour (01:00-01:59 EST,
		// 06:00-06:59Z): its wall times fired in the first pass already.
		{
			name: "after at the start of the second pass",
			zone: "America/New_York", expr: "cron(0/15 * * * ? *)", from: "2027-11-07 06:00",
			want: []string{"2027-11-07 07:00", "2027-11-07 07:15"},
		},
		{
			name: "after inside the second pass",
			zone: "America/New_York", expr: "cron(0/15 * * * ? *)", from: "2027-11-07 06:20:30",
			want: []string{"2027-11-07 07:00"},
		},
		{
			name: "after inside the second pass, before the repeated time's second showing",
			zone: "America/New_York", expr: "cron(30 1 * * ? *)", from: "2027-11-07 06:10",
			want: []string{"2027-11-08 06:30"},
		},
		{
			name: "after at the last second of the first pass",
			zone: "America/New_York", expr: "cron(* * * * ? *)", from: "2027-11-07 05:59:59",
			want: []string{"2027-11-07 07:00"},
		},

		// Southern hemisphere: summer time from October to April.
		{
			name: "Sydney April: the repeated 02:30 fires once, in summer time",
			zone: "Australia/Sydney", expr: "cron(30 2 * * ? *)", from: "2027-04-02 00:00",
			want: []string{"2027-04-02 15:30", "2027-04-03 15:30", "2027-04-04 16:30"},
		},
		{
			name: "Sydney October: 02:30 does not exist on 3 October",
			zone: "Australia/Sydney", expr: "cron(30 2 * * ? *)", from: "2027-10-01 00:00",
			want: []string{"2027-10-01 16:30", "2027-10-03 15:30", "2027-10-04 15:30"},
		},
		{
			name: "Sydney: a weekday schedule over the April change",
			zone: "Australia/Sydney", expr: "cron(0 9 ? * MON-FRI *)", from: "2027-04-01 00:00", // Thursday
			want: []string{"2027-04-01 22:00", "2027-04-04 23:00", "2027-04-05 23:00"}, // Fri 09:00 AEDT, Mon and Tue 09:00 AEST
		},
		{
			name: "Santiago September: midnight does not exist on 5 September",
			zone: "America/Santiago", expr: "cron(0 0 * * ? *)", from: "2027-09-04 00:00",
			want: []string{"2027-09-04 04:00", "2027-09-06 03:00", "2027-09-07 03:00"},
		},
		{
			name: "Santiago September: 00:30 is skipped too",
			zone: "America/Santiago", expr: "cron(30 0 * * ? *)", from: "2027-09-04 00:00",
			want: []string{"2027-09-04 04:30", "2027-09-06 03:30"},
		},
		{
			name: "Santiago April: 23:30 on 3 April fires once, in summer time",
			zone: "America/Santiago", expr: "cron(30 23 * * ? *)", from: "2027-04-03 00:00",
			want: []string{"2027-04-03 02:30", "2027-04-04 02:30", "2027-04-05 03:30"},
		},

		// Zones 30 and 45 minutes off the hour.
		{
			name: "Kolkata is 5:30 ahead",
			zone: "Asia/Kolkata", expr: "cron(0 9 * * ? *)", from: "2027-03-14 00:00",
			want: []string{"2027-03-14 03:30", "2027-03-15 03:30"},
		},
		{
			name: "Kolkata: a day's first hour falls on the previous UTC day",
			zone: "Asia/Kolkata", expr: "cron(15 0 1 * ? *)", from: "2027-01-01 00:00",
			want: []string{"2027-01-31 18:45", "2027-02-28 18:45"},
		},
		{
			name: "Kathmandu is 5:45 ahead",
			zone: "Asia/Kathmandu", expr: "cron(0/20 * * * ? *)", from: "2027-01-01 00:00", // 05:45 there
			want: []string{"2027-01-01 00:15", "2027-01-01 00:35", "2027-01-01 00:55"},
		},
		{
			name: "Adelaide October: 02:30 does not exist",
			zone: "Australia/Adelaide", expr: "cron(30 2 * * ? *)", from: "2027-10-01 00:00",
			want: []string{"2027-10-01 17:00", "2027-10-03 16:00"},
		},
		{
			name: "Adelaide April: the repeated 02:30 fires once, at +10:30",
			zone: "Australia/Adelaide", expr: "cron(30 2 * * ? *)", from: "2027-04-02 00:00",
			want: []string{"2027-04-02 16:00", "2027-04-03 16:00", "2027-04-04 17:00"},
		},
		{
			name: "Lord Howe October: 02:00-02:29 does not exist, 02:45 does",
			zone: "Australia/Lord_Howe", expr: "cron(15,45 2 * * ? *)", from: "2027-10-01 00:00",
			want: []string{"2027-10-01 15:45", "2027-10-01 16:15", "2027-10-02 15:45", "2027-10-03 15:15"},
		},
		{
			name: "Lord Howe October: every 20 minutes loses 02:00 and 02:20",
			zone: "Australia/Lord_Howe", expr: "cron(0/20 * * * ? *)", from: "2027-10-02 15:00", // 01:30 +10:30
			want: []string{"2027-10-02 15:10", "2027-10-02 15:40", "2027-10-02 16:00"}, // 01:40, 02:40 +11, 03:00
		},
		{
			name: "Lord Howe April: 01:30-01:59 is repeated; 01:45 fires at +11",
			zone: "Australia/Lord_Howe", expr: "cron(45 1 * * ? *)", from: "2027-04-02 00:00",
			want: []string{"2027-04-02 14:45", "2027-04-03 14:45", "2027-04-04 15:15"},
		},
		{
			name: "Lord Howe April: every 20 minutes skips the half-hour second pass",
			zone: "Australia/Lord_Howe", expr: "cron(0/20 * * * ? *)", from: "2027-04-03 14:30", // 01:30 +11
			want: []string{"2027-04-03 14:40", "2027-04-03 15:30", "2027-04-03 15:50"}, // 01:40 +11, 02:00 and 02:20 +10:30
		},

		// Year bounds are wall years in the zone.
		{
			name: "New Year in Sydney is the previous day in UTC",
			zone: "Australia/Sydney", expr: "cron(0 0 1 1 ? 2028)", from: "2027-01-01 00:00",
			want:  []string{"2027-12-31 13:00"},
			final: true,
		},
		{
			name: "the last minute of 2199 in New York is in 2200 in UTC",
			zone: "America/New_York", expr: "cron(59 23 31 12 ? *)", from: "2199-12-31 00:00",
			want:  []string{"2200-01-01 04:59"},
			final: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra := 0
			if tt.final {
				extra = 1
			}
			s := mustParse(t, tt.expr).In(zone(t, tt.zone))
			checkNextN(t, s, utc(t, tt.from), tt.want, extra)
		})
	}
}

// rate() counts 24-hour periods whatever the zone does: over a change the
// wall time of its fires moves by the hour instead.
func TestRateInZoneIsFixedPeriods(t *testing.T) {
	t.Parallel()
	ny := zone(t, "America/New_York")
	for _, tt := range []struct {
		name, expr, start, from string
		want                    []string
	}{
		{"days across spring", "rate(1 day)", "2027-03-13 12:00", "2027-03-13 00:00",
			[]string{"2027-03-13 12:00", "2027-03-14 12:00", "2027-03-15 12:00"}},
		{"days across autumn", "rate(1 day)", "2027-11-06 12:00", "2027-11-06 00:00",
			[]string{"2027-11-06 12:00", "2027-11-07 12:00", "2027-11-08 12:00"}},
		{"hours across autumn", "rate(1 hour)", "2027-11-07 04:30", "2027-11-07 04:30",
			[]string{"2027-11-07 05:30", "2027-11-07 06:30", "2027-11-07 07:30"}},
		{"7 days across spring", "rate(7 days)", "2027-03-10 17:00", "2027-03-10 17:00",
			[]string{"2027-03-17 17:00", "2027-03-24 17:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr).In(ny).Between(utc(t, tt.start), time.Time{})
			checkNextN(t, s, utc(t, tt.from), tt.want, 0)
		})
	}
	// Without a start, rate() counts from its anchor, and the zone changes
	// nothing.
	utcRate := mustParse(t, "rate(1 day)")
	from := utc(t, "2027-03-13 00:00")
	if got, want := utcRate.In(ny).NextN(from, 3), utcRate.NextN(from, 3); formatTimes(got) != formatTimes(want) {
		t.Errorf("rate(1 day) in New York:%s\nwant, as in UTC:%s", formatTimes(got), formatTimes(want))
	}
}

func TestAtInZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, expr, from string
		want                   []string // the one fire, or none
	}{
		{"UTC", "UTC", "at(2027-06-01T09:30:00)", "2027-01-01 00:00", []string{"2027-06-01 09:30"}},
		{"New York in summer", "America/New_York", "at(2027-06-01T09:30:00)", "2027-01-01 00:00", []string{"2027-06-01 13:30"}},
		{"New York in winter", "America/New_York", "at(2027-12-01T09:30:00)", "2027-01-01 00:00", []string{"2027-12-01 14:30"}},
		{"in the skipped hour it never fires", "America/New_York", "at(2027-03-14T02:30:00)", "2027-01-01 00:00", nil},
		{"in the repeated hour it fires the first time", "America/New_York", "at(2027-11-07T01:30:00)", "2027-01-01 00:00", []string{"2027-11-07 05:30"}},
		{"in the repeated hour, not again in the second pass", "America/New_York", "at(2027-11-07T01:30:00)", "2027-11-07 05:30", nil},
		{"from within the second pass", "America/New_York", "at(2027-11-07T01:45:00)", "2027-11-07 06:10", nil},
		{"with seconds", "America/New_York", "at(2027-11-07T01:30:59)", "2027-11-07 05:30:58", []string{"2027-11-07 05:30:59"}},
		{"with seconds, just after", "America/New_York", "at(2027-11-07T01:30:59)", "2027-11-07 05:30:59", nil},
		{"with seconds in Kolkata", "Asia/Kolkata", "at(2027-06-01T09:30:15)", "2027-06-01 00:00", []string{"2027-06-01 04:00:15"}},
		{"in Lord Howe's skipped half hour", "Australia/Lord_Howe", "at(2027-10-03T02:15:00)", "2027-01-01 00:00", nil},
		{"in Lord Howe's repeated half hour", "Australia/Lord_Howe", "at(2027-04-04T01:45:00)", "2027-01-01 00:00", []string{"2027-04-03 14:45"}},
		{"Santiago's missing midnight", "America/Santiago", "at(2027-09-05T00:00:00)", "2027-01-01 00:00", nil},
		{"in the past", "Asia/Kathmandu", "at(2021-06-01T09:30:00)", "2027-01-01 00:00", nil},
		{"the first moment allowed, before 1970 in UTC", "Asia/Kolkata", "at(1970-01-01T00:00:00)", "1969-01-01 00:00", []string{"1969-12-31 18:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.expr).In(zone(t, tt.zone))
			if !s.IsAt() || s.IsRate() {
				t.Fatalf("%s: IsAt = %v, IsRate = %v", s, s.IsAt(), s.IsRate())
			}
			from := utc(t, tt.from)
			checkNextN(t, s, from, tt.want, 1)
			if done := s.Done(from); done != (len(tt.want) == 0) {
				t.Errorf("%s in %s: Done(%s) = %v, want %v", s, tt.zone, tt.from, done, len(tt.want) == 0)
			}
			if len(tt.want) == 1 {
				fire := utc(t, tt.want[0])
				if !s.Done(fire) || s.Done(fire.Add(-time.Nanosecond)) {
					t.Errorf("%s: Done should turn true exactly at %v", s, fire)
				}
			}
		})
	}
}

func TestBetween(t *testing.T) {
	t.Parallel()
	noon := mustParse(t, "cron(0 12 * * ? *)")
	tests := []struct {
		name       string
		s          *Schedule
		start, end string // "" leaves that side open
		from       string
		want       []string
		final      bool
	}{
		{
			name: "no fire before the start or after the end; the end on a fire time is included",
			s:    noon, start: "2027-06-10 12:00", end: "2027-06-13 12:00", from: "2027-06-01 00:00",
			want: []string{"2027-06-10 12:00", "2027-06-11 12:00", "2027-06-12 12:00", "2027-06-13 12:00"}, final: true,
		},
		{
			name: "a start with a sub-second part is after the fire time at its second",
			s:    noon, start: "2027-06-10 12:00:00.5", end: "", from: "2027-06-01 00:00",
			want: []string{"2027-06-11 12:00"},
		},
		{
			name: "an end with a sub-second part includes the fire time at its second",
			s:    noon, start: "", end: "2027-06-10 12:00:00.5", from: "2027-06-09 00:00",
			want: []string{"2027-06-09 12:00", "2027-06-10 12:00"}, final: true,
		},
		{
			name: "an end one second before a fire time excludes it",
			s:    noon, start: "", end: "2027-06-10 11:59:59", from: "2027-06-09 00:00",
			want: []string{"2027-06-09 12:00"}, final: true,
		},
		{
			name: "from after the start: the start changes nothing",
			s:    noon, start: "2027-06-10 00:00", end: "", from: "2027-06-20 12:00",
			want: []string{"2027-06-21 12:00"},
		},
		{
			name: "from after the end: nothing",
			s:    noon, start: "2027-06-10 00:00", end: "2027-06-13 00:00", from: "2027-06-13 00:00",
			want: nil, final: true,
		},
		{
			name: "open on both sides is the plain schedule",
			s:    noon, start: "", end: "", from: "2027-06-09 13:00",
			want: []string{"2027-06-10 12:00"},
		},
		{
			name: "rate counts from the start, rounded up to the minute",
			s:    mustParse(t, "rate(1 hour)"), start: "2027-06-10 12:34:56", end: "", from: "2027-06-01 00:00",
			want: []string{"2027-06-10 12:35", "2027-06-10 13:35", "2027-06-10 14:35"},
		},
		{
			name: "rate with a start on a whole minute fires at the start",
			s:    mustParse(t, "rate(5 minutes)"), start: "2027-06-10 12:31", end: "", from: "2027-06-01 00:00",
			want: []string{"2027-06-10 12:31", "2027-06-10 12:36"},
		},
		{
			name: "rate with a start with a sub-second part",
			s:    mustParse(t, "rate(5 minutes)"), start: "2027-06-10 12:31:00.25", end: "", from: "2027-06-01 00:00",
			want: []string{"2027-06-10 12:32", "2027-06-10 12:37"},
		},
		{
			name: "rate from long after the start keeps the start's phase",
			s:    mustParse(t, "rate(1 hour)"), start: "2027-06-10 12:34:56", end: "", from: "2027-06-12 15:00",
			want: []string{"2027-06-12 15:35"},
		},
		{
			name: "rate stops at the end, included",
			s:    mustParse(t, "rate(2 hours)"), start: "2027-06-10 12:00", end: "2027-06-10 16:00", from: "2027-06-10 12:00",
			want: []string{"2027-06-10 14:00", "2027-06-10 16:00"}, final: true,
		},
		{
			name: "rate replaces an earlier anchor with the start",
			s:    mustParse(t, "rate(1 hour)").WithAnchor(utc(t, "2020-01-01 00:10")), start: "2027-06-10 12:20", end: "", from: "2027-06-01 00:00",
			want: []string{"2027-06-10 12:20", "2027-06-10 13:20"},
		},
		{
			name: "a zone and dates together",
			s:    noon.In(zone(t, "America/New_York")), start: "2027-11-06 00:00", end: "2027-11-08 17:00", from: "2027-01-01 00:00",
			want: []string{"2027-11-06 16:00", "2027-11-07 17:00", "2027-11-08 17:00"}, final: true,
		},
		{
			name: "at() ignores the dates",
			s:    mustParse(t, "at(2027-06-01T09:30:00)"), start: "2028-01-01 00:00", end: "2028-02-01 00:00", from: "2027-01-01 00:00",
			want: []string{"2027-06-01 09:30"}, final: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var start, end time.Time
			if tt.start != "" {
				start = utc(t, tt.start)
			}
			if tt.end != "" {
				end = utc(t, tt.end)
			}
			extra := 0
			if tt.final {
				extra = 1
			}
			s := tt.s.Between(start, end)
			checkNextN(t, s, utc(t, tt.from), tt.want, extra)
			if s.String() != tt.s.String() || s.Location() != tt.s.Location() {
				t.Errorf("Between changed the expression or zone: %s %v, want %s %v", s, s.Location(), tt.s, tt.s.Location())
			}
		})
	}
	// Between returns a copy: the original keeps firing as before.
	bounded := noon.Between(utc(t, "2030-01-01"), utc(t, "2030-01-02"))
	checkNextN(t, noon, utc(t, "2027-06-01 00:00"), []string{"2027-06-01 12:00"}, 0)
	if got := bounded.Start(); !got.Equal(utc(t, "2030-01-01")) || got.Location() != time.UTC {
		t.Errorf("Start() = %v, want 2030-01-01 UTC", got)
	}
	if got := bounded.End(); !got.Equal(utc(t, "2030-01-02")) {
		t.Errorf("End() = %v, want 2030-01-02", got)
	}
	if !noon.Start().IsZero() || !noon.End().IsZero() {
		t.Errorf("an open schedule has Start %v and End %v, want zero times", noon.Start(), noon.End())
	}
}

func TestDone(t *testing.T) {
	t.Parallel()
	ny := zone(t, "America/New_York")
	ended := mustParse(t, "cron(0 12 * * ? *)").In(ny).Between(time.Time{}, utc(t, "2027-06-10 16:00"))
	tests := []struct {
		name string
		s    *Schedule
		now  string
		want bool
	}{
		{"before the last fire before the end", ended, "2027-06-10 15:59:59", false},
		{"at the last fire", ended, "2027-06-10 16:00", true},
		{"long after the end", ended, "2030-01-01 00:00", true},
		{"a year range that has ended", mustParse(t, "cron(0 0 1 1 ? 2025-2026)").In(ny), "2026-01-01 05:00", true},
		{"in the last year of a range", mustParse(t, "cron(0 0 1 1 ? 2025-2026)").In(ny), "2026-01-01 04:59", false},
		{"a day that never comes", mustParse(t, "cron(0 0 30 2 ? *)").In(ny), "1970-01-01 00:00", true},
		{"an open cron", mustParse(t, "cron(0 12 * * ? *)").In(ny), "2199-12-31 16:59", false},
		{"an open cron after its last fire in 2199", mustParse(t, "cron(0 12 * * ? *)").In(ny), "2199-12-31 17:00", true},
		{"an at() in the skipped hour is done from the start", mustParse(t, "at(2027-03-14T02:30:00)").In(ny), "1970-01-01 00:00", true},
		{"rate with an end", mustParse(t, "rate(1 hour)").Between(time.Time{}, utc(t, "2027-06-10 12:30")), "2027-06-10 12:00", true},
	}
	for _, tt := range tests {
		if got := tt.s.Done(utc(t, tt.now)); got != tt.want {
			t.Errorf("%s: %s Done(%s) = %v, want %v", tt.name, tt.s, tt.now, got, tt.want)
		}
	}
}

func TestInKeepsTheOriginal(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "cron(0 12 * * ? *)")
	ny := zone(t, "America/New_York")
	z := s.In(ny)
	if s.Location() != time.UTC || z.Location() != ny {
		t.Errorf("Location: original %v, copy %v; want UTC and New York", s.Location(), z.Location())
	}
	if back := z.In(time.UTC); back.Location() != time.UTC {
		t.Errorf("In(time.UTC).Location() = %v", back.Location())
	}
	if back := z.In(nil); back.Location() != time.UTC {
		t.Errorf("In(nil).Location() = %v, want UTC", back.Location())
	}
	from := utc(t, "2027-06-01 00:00")
	checkNextN(t, s, from, []string{"2027-06-01 12:00"}, 0)
	checkNextN(t, z, from, []string{"2027-06-01 16:00"}, 0)
	checkNextN(t, z.In(nil), from, []string{"2027-06-01 12:00"}, 0)
	// A fixed zone that is not time.UTC takes the zone path and agrees.
	checkNextN(t, s.In(time.FixedZone("plus-two", 2*3600)), from, []string{"2027-06-01 10:00"}, 0)
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "UTC"} {
		loc, err := LoadLocation(name)
		if err != nil || loc != time.UTC {
			t.Errorf("LoadLocation(%q) = %v, %v; want time.UTC", name, loc, err)
		}
	}
	for _, tt := range []struct{ name, want string }{
		{"Local", `time zone "Local" depends on the machine; name the zone, such as Europe/Paris`},
		// These load from a machine's zone database, but mean the machine's
		// own zone, or are not zones, or are missing where the agent runs
		// on the zone data built into it.
		{"localtime", `time zone "localtime" depends on the machine; name the zone, such as Europe/Paris`},
		{"posixrules", `"posixrules" is a file of this machine's zone database, not a time zone`},
		{"posix/America/New_York", `"posix/America/New_York" is a file of this machine's zone database, not a time zone`},
		{"right/America/New_York", `"right/America/New_York" is a file of this machine's zone database, not a time zone`},
		{"Mars/Olympus", `"Mars/Olympus" is not a time zone in the IANA database (such as America/New_York or Europe/Paris)`},
		{"../../etc/passwd", `"../../etc/passwd" is not a time zone`},
		{"Europe/Paris ", `"Europe/Paris " is not a time zone`},
		{"utc ", `"utc " is not a time zone`},
	} {
		loc, err := LoadLocation(tt.name)
		if err == nil || loc != nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("LoadLocation(%q) = %v, %v; want an error starting %q", tt.name, loc, err, tt.want)
		}
	}
	a, b := zone(t, "America/New_York"), zone(t, "America/New_York")
	if a != b {
		t.Errorf("LoadLocation loaded America/New_York twice: %p, %p; want the cached zone", a, b)
	}
	if a.String() != "America/New_York" {
		t.Errorf("LoadLocation(America/New_York).String() = %q", a.String())
	}
	if sydney := zone(t, "Australia/Sydney"); sydney == a {
		t.Error("two names gave the same zone")
	}
}

func TestWindowOffset(t *testing.T) {
	t.Parallel()
	fire := utc(t, "2027-06-01 12:00")
	for _, window := range []time.Duration{time.Second, time.Minute, 90*time.Second + 500*time.Millisecond, 15 * time.Minute, 24 * time.Hour} {
		for i := range 200 {
			at := fire.Add(time.Duration(i) * time.Minute)
			off := WindowOffset("nightly-backup", at, window)
			if off < 0 || off >= window || off%time.Second != 0 {
				t.Fatalf("WindowOffset(%v, window %v) = %v: want whole seconds in [0, %v)", at, window, off, window)
			}
			if again := WindowOffset("nightly-backup", at, window); again != off {
				t.Fatalf("WindowOffset(%v, window %v) gave %v, then %v", at, window, off, again)
			}
		}
	}
	for _, window := range []time.Duration{0, 999 * time.Millisecond, -time.Second, -15 * time.Minute, time.Duration(-1 << 63)} {
		if off := WindowOffset("nightly-backup", fire, window); off != 0 {
			t.Errorf("WindowOffset(window %v) = %v, want 0: no window", window, off)
		}
	}

	// The offset depends on the fire time, not on its zone or monotonic
	// reading: every agent computes the same.
	ny := zone(t, "America/New_York")
	if a, b := WindowOffset("k", fire, time.Hour), WindowOffset("k", fire.In(ny), time.Hour); a != b {
		t.Errorf("the same instant in another zone gave %v and %v", a, b)
	}
	now := time.Now()
	if a, b := WindowOffset("k", now, time.Hour), WindowOffset("k", now.Round(0).In(ny), time.Hour); a != b {
		t.Errorf("the same instant without its monotonic reading gave %v and %v", a, b)
	}

	// Spread: the offsets of many fire times cover the window evenly, for a
	// key and for another key, and two keys mostly disagree.
	const n, window, buckets = 1000, 15 * time.Minute, 15
	for _, step := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
		var count [2][buckets]int
		distinct := [2]map[time.Duration]bool{{}, {}}
		same := 0
		for i := range n {
			at := fire.Add(time.Duration(i) * step)
			a, b := WindowOffset("nightly-backup", at, window), WindowOffset("hourly-report", at, window)
			for k, off := range []time.Duration{a, b} {
				count[k][off*buckets/window]++
				distinct[k][off] = true
			}
			if a == b {
				same++
			}
		}
		for k := range 2 {
			// 1000 draws from 900 seconds give about 600 distinct ones, and
			// each minute of the window about 67 of them.
			if len(distinct[k]) < 500 {
				t.Errorf("fire times every %v: only %d distinct offsets of %d", step, len(distinct[k]), n)
			}
			for b, c := range count[k] {
				if c < 35 || c > 105 {
					t.Errorf("fire times every %v: minute %d of the window got %d of %d offsets: %v", step, b, c, n, count[k])
					break
				}
			}
		}
		if same > 10 {
			t.Errorf("fire times every %v: two keys gave the same offset %d times of %d", step, same, n)
		}
	}
}

func TestDescribeInZone(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, zone, want string }{
		{"cron(0 9 * * ? *)", "Europe/Paris", "At 09:00 Europe/Paris"},
		{"cron(30 2 * * ? *)", "America/New_York", "At 02:30 America/New_York"},
		{"cron(0/30 20-2 ? * MON-FRI *)", "Asia/Kolkata", "Every 30 minutes between 20:00 and 02:59 Asia/Kolkata, Monday through Friday"},
		{"cron(0 */2 * * ? *)", "Australia/Lord_Howe", "At minute 0 in every 2nd hour from 00:00 through 22:59 Australia/Lord_Howe"},
		{"cron(15 * * * ? *)", "Asia/Kathmandu", "At minute 15 past every hour, Asia/Kathmandu time"},
		{"cron(15 * * * ? *)", "UTC", "At minute 15 past every hour"},
		{"rate(1 day)", "America/New_York", "Every day"},
		{"at(2027-03-14T09:30:00)", "UTC", "Once, on 2027-03-14 at 09:30 UTC"},
		{"at(2027-03-14T09:30:00)", "Europe/Paris", "Once, on 2027-03-14 at 09:30 Europe/Paris"},
		{"at(2027-11-07T01:30:59)", "America/New_York", "Once, on 2027-11-07 at 01:30:59 America/New_York"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.expr).In(zone(t, tt.zone)).Describe(); got != tt.want {
			t.Errorf("Describe(%s in %s)\n got: %s\nwant: %s", tt.expr, tt.zone, got, tt.want)
		}
	}
}

// Next with a zone does not allocate: the local scheduler calls it for
// every rule on every tick.
func TestNextInZoneDoesNotAllocate(t *testing.T) {
	for _, tt := range []struct{ zone, expr, from string }{
		{"America/New_York", "cron(0/5 * * * ? *)", "2027-06-01 12:00"},
		{"America/New_York", "cron(30 2 * * ? *)", "2027-03-13 12:00"}, // over the gap
		{"America/New_York", "cron(* * * * ? *)", "2027-11-07 06:10"},  // in the second pass
		{"Europe/Berlin", "cron(0 0 LW * ? *)", "2027-03-01 00:00"},
		{"Asia/Kolkata", "cron(15 10 ? * 6L *)", "2027-06-01 00:00"},
		{"Australia/Lord_Howe", "cron(0/20 * * * ? *)", "2027-10-02 15:00"},
		{"America/New_York", "at(2027-11-07T01:30:00)", "2027-01-01 00:00"},
		{"America/New_York", "rate(1 day)", "2027-03-13 00:00"},
	} {
		s := mustParse(t, tt.expr).In(zone(t, tt.zone)).Between(utc(t, "2027-01-01 00:00"), utc(t, "2028-01-01 00:00"))
		from := utc(t, tt.from)
		if n := testing.AllocsPerRun(100, func() { s.Next(from) }); n != 0 {
			t.Errorf("%s in %s: Next allocates %v times per call, want 0", tt.expr, tt.zone, n)
		}
	}
	fire := utc(t, "2027-06-01 12:00")
	if n := testing.AllocsPerRun(100, func() { WindowOffset("nightly-backup", fire, 15*time.Minute) }); n != 0 {
		t.Errorf("WindowOffset allocates %v times per call, want 0", n)
	}
}

// Next in a zone from instants far outside 1970-2199 answers at once, as it
// does in UTC: nothing after 2199, and the first fire of 1970 from before.
func TestNextInZoneFarFromTheRange(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Asia/Kolkata", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		loc := zone(t, name)
		s := mustParse(t, "cron(* * * * ? *)").In(loc)
		first, ok := s.Next(utc(t, "1969-06-01 00:00"))
		if !ok || first.Year() > 1970 {
			t.Fatalf("%s in %s: Next(1969-06-01) = %v, %v", s, name, first, ok)
		}
		for _, from := range []time.Time{time.Unix(math.MaxInt64, 0), time.Unix(math.MaxInt64-3600, 0), time.Unix(1<<62, 0), time.Unix(1<<40, 0)} {
			start := time.Now()
			if got, ok := s.Next(from); ok {
				t.Errorf("%s in %s: Next(Unix %d) = %v, want none after 2199", s, name, from.Unix(), got)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%s in %s: Next(Unix %d) took %v", s, name, from.Unix(), d)
			}
		}
		for _, from := range []time.Time{time.Unix(math.MinInt64, 0), time.Unix(math.MinInt64+3600, 0), time.Unix(-1<<62, 0), time.Unix(-1<<40, 0)} {
			if got, ok := s.Next(from); !ok || !got.Equal(first) {
				t.Errorf("%s in %s: Next(Unix %d) = %v, %v; want %v, the first minute of 1970 there", s, name, from.Unix(), got, ok, first)
			}
		}
	}
}
