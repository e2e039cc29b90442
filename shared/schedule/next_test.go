package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// utc parses "2006-01-02 15:04" (or with seconds) as UTC.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad test time %q", s)
	return time.Time{}
}

func formatTimes(ts []time.Time) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "\n  %s", t.Format("2006-01-02 Mon 15:04:05 MST"))
	}
	return b.String()
}

// checkNextN asserts that NextN(from, len(want)+extra) gives exactly want:
// extra > 0 also checks that nothing follows.
func checkNextN(t *testing.T, s *Schedule, from time.Time, want []string, extra int) {
	t.Helper()
	got := s.NextN(from, len(want)+extra)
	wantTimes := make([]time.Time, len(want))
	for i, w := range want {
		wantTimes[i] = utc(t, w)
	}
	ok := len(got) == len(wantTimes)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Equal(wantTimes[i]) && got[i].Location() == time.UTC
	}
	if !ok {
		t.Errorf("%s from %s:\n got:%s\nwant:%s", s, from.Format(time.RFC3339), formatTimes(got), formatTimes(wantTimes))
	}
}

func TestNextFireTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr, from string
		want             []string
		final            bool // want holds every fire time left
	}{
		{
			// The day of week applies to the day each time falls on: Friday
			// evening runs, Saturday 00:00 does not; Monday's early hours do.
			name: "wrap-around hours on weekdays",
			expr: "cron(0/30 20-2 ? * MON-FRI *)", from: "2021-04-02 12:00",
			want: []string{
				"2021-04-02 20:00", "2021-04-02 20:30", "2021-04-02 21:00", "2021-04-02 21:30",
				"2021-04-02 22:00", "2021-04-02 22:30", "2021-04-02 23:00", "2021-04-02 23:30",
				"2021-04-05 00:00", "2021-04-05 00:30", "2021-04-05 01:00", "2021-04-05 01:30",
				"2021-04-05 02:00", "2021-04-05 02:30", "2021-04-05 20:00",
			},
		},
		{
			name: "day 31 only in 31-day months",
			expr: "cron(0 0 31 * ? *)", from: "2021-01-01 00:00",
			want: []string{"2021-01-31", "2021-03-31", "2021-05-31", "2021-07-31", "2021-08-31", "2021-10-31", "2021-12-31", "2022-01-31"},
		},
		{
			name: "nearest weekday to the 15th",
			expr: "cron(0 12 15W * ? *)", from: "2021-05-01 00:00",
			want: []string{"2021-05-14 12:00", "2021-06-15 12:00", "2021-07-15 12:00", "2021-08-16 12:00"},
		},
		{
			name: "last weekday of the month",
			expr: "cron(0 0 LW * ? *)", from: "2021-04-01 00:00",
			want: []string{"2021-04-30", "2021-05-31", "2021-06-30", "2021-07-30"},
		},
		{
			name: "last Friday of the month",
			expr: "cron(0 0 ? * 6L *)", from: "2021-01-01 00:00",
			want: []string{"2021-01-29", "2021-02-26", "2021-03-26"},
		},
		{
			name: "last Friday by name",
			expr: "cron(0 0 ? * FRIL *)", from: "2021-01-01 00:00",
			want: []string{"2021-01-29", "2021-02-26", "2021-03-26"},
		},
		{
			name: "fifth Tuesday",
			expr: "cron(0 0 ? * TUE#5 *)", from: "2021-01-01 00:00",
			want: []string{"2021-03-30", "2021-06-29", "2021-08-31"},
		},
		{
			name: "first Monday",
			expr: "cron(0 9 ? * 2#1 *)", from: "2021-01-01 00:00",
			want: []string{"2021-01-04 09:00", "2021-02-01 09:00", "2021-03-01 09:00"},
		},
		{
			name: "February 29 skips to the next leap year",
			expr: "cron(0 0 29 2 ? *)", from: "2024-03-01 00:00",
			want: []string{"2028-02-29"},
		},
		{
			name: "2100 is not a leap year",
			expr: "cron(0 0 29 2 ? *)", from: "2096-03-01 00:00",
			want: []string{"2104-02-29"},
		},
		{
			name: "last day of the month",
			expr: "cron(0 0 L * ? *)", from: "2024-01-15 00:00",
			want: []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"},
		},
		{
			name: "L-3 in February",
			expr: "cron(0 0 L-3 * ? *)", from: "2021-02-01 00:00",
			want: []string{"2021-02-25", "2021-03-28", "2021-04-27"},
		},
		{
			name: "L-28 exists only in a leap February",
			expr: "cron(0 0 L-28 2 ? *)", from: "2021-01-01 00:00",
			want: []string{"2024-02-01", "2028-02-01"},
		},
		{
			name: "L-30 fires only in 31-day months",
			expr: "cron(0 0 L-30 * ? *)", from: "2021-01-15 00:00",
			want: []string{"2021-03-01", "2021-05-01", "2021-07-01", "2021-08-01"},
		},
		{
			name: "1W on a Saturday is Monday the 3rd",
			expr: "cron(0 0 1W * ? *)", from: "2021-04-15 00:00", // 2021-05-01 is a Saturday
			want: []string{"2021-05-03", "2021-06-01"},
		},
		{
			name: "1W on a Sunday is Monday the 2nd",
			expr: "cron(0 0 1W * ? *)", from: "2021-07-15 00:00", // 2021-08-01 is a Sunday
			want: []string{"2021-08-02"},
		},
		{
			name: "31W on a Sunday is Friday the 29th",
			expr: "cron(0 0 31W * ? *)", from: "2021-10-01 00:00", // 2021-10-31 is a Sunday
			want: []string{"2021-10-29", "2021-12-31"}, // and never in 30-day November
		},
		{
			name: "30W on a Saturday is Friday the 29th",
			expr: "cron(0 0 30W * ? *)", from: "2021-01-01 00:00", // 2021-01-30 is a Saturday
			want: []string{"2021-01-29", "2021-03-30"}, // none in February
		},
		{
			name: "LW when the last day is a Sunday",
			expr: "cron(0 0 LW * ? *)", from: "2021-10-01 00:00",
			want: []string{"2021-10-29"},
		},
		{
			name: "steps from a start and within a range",
			expr: "cron(1/10 8-18/5 1 1 ? 2021)", from: "2021-01-01 00:00",
			want: []string{
				"2021-01-01 08:01", "2021-01-01 08:11", "2021-01-01 08:21", "2021-01-01 08:31", "2021-01-01 08:41", "2021-01-01 08:51",
				"2021-01-01 13:01", "2021-01-01 13:11", "2021-01-01 13:21", "2021-01-01 13:31", "2021-01-01 13:41", "2021-01-01 13:51",
				"2021-01-01 18:01", "2021-01-01 18:11", "2021-01-01 18:21", "2021-01-01 18:31", "2021-01-01 18:41", "2021-01-01 18:51",
			},
		},
		{
			name: "wrap-around weekdays",
			expr: "cron(0 12 ? * FRI-MON *)", from: "2021-04-01 00:00", // a Thursday
			want: []string{"2021-04-02 12:00", "2021-04-03 12:00", "2021-04-04 12:00", "2021-04-05 12:00", "2021-04-09 12:00"},
		},
		{
			name: "wrap-around months and days",
			expr: "cron(0 0 30-2 DEC-JAN ? *)", from: "2021-01-01 00:00",
			want: []string{"2021-01-02", "2021-01-30", "2021-01-31", "2021-12-01", "2021-12-02", "2021-12-30", "2021-12-31", "2022-01-01"},
		},
		{
			name: "stepped wrap-around range",
			expr: "cron(50-10/5 0 1 1 ? 2021)", from: "2021-01-01 00:00",
			want: []string{"2021-01-01 00:05", "2021-01-01 00:10", "2021-01-01 00:50", "2021-01-01 00:55"},
		},
		{
			name: "a year list ends",
			expr: "cron(0 0 1 1 ? 2022,2024-2025)", from: "2021-06-01 00:00",
			want:  []string{"2022-01-01", "2024-01-01", "2025-01-01"},
			final: true,
		},
		{
			name: "a year range in the past",
			expr: "cron(0 0 * * ? 2000-2010)", from: "2021-01-01 00:00",
			want:  nil,
			final: true,
		},
		{
			name: "February 30 never comes",
			expr: "cron(0 0 30 2 ? *)", from: "1970-01-01 00:00",
			want:  nil,
			final: true,
		},
		{
			name: "nothing after 2199",
			expr: "cron(0 0 * * ? *)", from: "2199-12-30 12:00",
			want:  []string{"2199-12-31 00:00"},
			final: true,
		},
		{
			name: "the very last minute",
			expr: "cron(* * * * ? *)", from: "2199-12-31 23:57",
			want:  []string{"2199-12-31 23:58", "2199-12-31 23:59"},
			final: true,
		},
		{
			name: "the last year only",
			expr: "cron(0 0 ? * TUE#5 2199)", from: "2021-01-01 00:00",
			want:  []string{"2199-01-29", "2199-04-30", "2199-07-30", "2199-10-29", "2199-12-31"},
			final: true,
		},
		{
			name: "before 1970 starts at the epoch",
			expr: "cron(0 0 * * ? *)", from: "1900-06-01 00:00",
			want: []string{"1970-01-01 00:00", "1970-01-02 00:00"},
		},
		{
			name: "strictly after a fire time",
			expr: "cron(0 12 * * ? *)", from: "2021-06-01 12:00",
			want: []string{"2021-06-02 12:00"},
		},
		{
			name: "seconds past a fire time",
			expr: "cron(* * * * ? *)", from: "2021-06-01 12:00:00.5",
			want: []string{"2021-06-01 12:01"},
		},
		{
			name: "rate from the epoch",
			expr: "rate(1 day)", from: "2021-03-14 10:00",
			want: []string{"2021-03-15 00:00", "2021-03-16 00:00"},
		},
		{
			name: "rate that does not divide a day",
			expr: "rate(7 minutes)", from: "1970-01-01 00:00",
			want: []string{"1970-01-01 00:07", "1970-01-01 00:14"},
		},
		{
			name: "rate up to the end of 2199",
			expr: "rate(1 minute)", from: "2199-12-31 23:57",
			want:  []string{"2199-12-31 23:58", "2199-12-31 23:59"},
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
			checkNextN(t, mustParse(t, tt.expr), utc(t, tt.from), tt.want, extra)
		})
	}
}

func TestNextRateWithAnchor(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "rate(90 minutes)")
	// The anchor is truncated to the minute: 00:00:30 counts as 00:00.
	anchored := s.WithAnchor(utc(t, "2021-01-01 00:00:30"))
	tests := []struct {
		name, from string
		want       []string
	}{
		{"before the anchor: the first fire is anchor + interval", "2020-06-01 00:00", []string{"2021-01-01 01:30", "2021-01-01 03:00"}},
		{"at the anchor", "2021-01-01 00:00", []string{"2021-01-01 01:30"}},
		{"between fires", "2021-01-01 02:00", []string{"2021-01-01 03:00", "2021-01-01 04:30"}},
		{"exactly on a fire time: strictly after", "2021-01-01 03:00", []string{"2021-01-01 04:30"}},
		{"just after a fire time", "2021-01-01 03:00:00.001", []string{"2021-01-01 04:30"}},
		{"days later, on a fire time", "2021-01-03 00:00", []string{"2021-01-03 01:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNextN(t, anchored, utc(t, tt.from), tt.want, 0)
		})
	}
	if s.String() != anchored.String() || s.Interval() != anchored.Interval() {
		t.Errorf("WithAnchor changed the expression: %s %v, want %s %v", anchored, anchored.Interval(), s, s.Interval())
	}
	// The original is not changed: it still counts from the epoch.
	checkNextN(t, s, utc(t, "2021-01-01 00:00"), []string{"2021-01-01 01:30"}, 0)
	// Before 1970 the anchor is truncated down too, not towards zero.
	early := mustParse(t, "rate(1 minute)").WithAnchor(utc(t, "1969-12-31 23:58:30"))
	checkNextN(t, early, utc(t, "1969-12-31 23:58:40"), []string{"1969-12-31 23:59", "1970-01-01 00:00"}, 0)
	// An anchor in 2199 leaves nothing to fire.
	late := s.WithAnchor(utc(t, "2199-12-31 23:00"))
	checkNextN(t, late, utc(t, "2021-01-01 00:00"), nil, 1)
}

func TestWithAnchorIsIgnoredByCron(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "cron(0 12 * * ? *)")
	from := utc(t, "2021-01-01 00:00")
	checkNextN(t, s.WithAnchor(utc(t, "2021-01-01 05:17")), from, []string{"2021-01-01 12:00", "2021-01-02 12:00"}, 0)
}

func TestNextReturnsUTCWhateverTheZoneOfAfter(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	s := mustParse(t, "cron(0 12 * * ? *)")
	// 2021-06-01 20:00 JST is 11:00 UTC: the next noon UTC is that day.
	got, ok := s.Next(time.Date(2021, 6, 1, 20, 0, 0, 0, tokyo))
	want := utc(t, "2021-06-01 12:00")
	if !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Next(20:00 JST) = %v, %v; want %v in UTC", got, ok, want)
	}
}

func TestNextNeverFiresAgainIsFast(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"cron(0 0 30 2 ? *)",
		"cron(0 0 31 APR,JUN,SEP,NOV ? *)",
		"cron(0 0 31W 2 ? *)",
		"cron(0 0 L-30 2 ? *)",
		"cron(0 0 * * ? 1970)",
	} {
		s := mustParse(t, expr)
		start := time.Now()
		for _, from := range []time.Time{utc(t, "1971-01-01"), utc(t, "2199-12-31 23:59"), time.Unix(1<<40, 0), time.Unix(-1<<40, 0)} {
			if got, ok := s.Next(from); ok && from.Year() > 1970 {
				t.Errorf("%s: Next(%v) = %v, want it never to fire", expr, from, got)
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: finding that it never fires took %v", expr, d)
		}
	}
}

func TestNextNCountsAndStops(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "cron(0 0 1 1 ? 2030-2032)")
	from := utc(t, "2021-01-01")
	if got := s.NextN(from, 0); len(got) != 0 {
		t.Errorf("NextN(0) = %v, want none", got)
	}
	if got := s.NextN(from, -1); len(got) != 0 {
		t.Errorf("NextN(-1) = %v, want none", got)
	}
	if got := s.NextN(from, 2); len(got) != 2 {
		t.Errorf("NextN(2) gave %d times, want 2", len(got))
	}
	checkNextN(t, s, from, []string{"2030-01-01", "2031-01-01", "2032-01-01"}, 10)
}

func TestNextDoesNotAllocate(t *testing.T) {
	from := utc(t, "2021-04-02 12:00")
	for _, expr := range []string{"cron(0/5 * * * ? *)", "cron(0 0 ? * TUE#5 *)", "cron(0 0 LW * ? *)", "cron(0 0 30 2 ? *)", "rate(5 minutes)"} {
		s := mustParse(t, expr)
		if n := testing.AllocsPerRun(100, func() { s.Next(from) }); n != 0 {
			t.Errorf("%s: Next allocates %v times per call, want 0", expr, n)
		}
	}
}
