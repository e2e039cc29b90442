package schedule

import (
	"testing"
	"time"
)

// BenchmarkNext times one Next call from 2024-03-01 00:00 UTC for common
// expressions and for the rarest ones, whose next fire time is years away
// or never comes; then in zones, from that date and from around changes of
// offset.
//
//	go test -run '^$' -bench . -benchmem ./shared/schedule
func BenchmarkNext(b *testing.B) {
	from := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct{ name, expr string }{
		{"common/every-5-minutes", "cron(0/5 * * * ? *)"},
		{"common/noon-daily", "cron(0 12 * * ? *)"},
		{"common/weekday-nights", "cron(0/30 20-2 ? * MON-FRI *)"},
		{"common/first-of-month", "cron(0 8 1 * ? *)"},
		{"common/last-friday", "cron(15 10 ? * 6L *)"},
		{"common/nearest-weekday", "cron(0 12 15W * ? *)"},
		{"common/rate-5-minutes", "rate(5 minutes)"},
		{"rare/feb-29", "cron(0 0 29 2 ? *)"},
		{"rare/fifth-tuesday-2199", "cron(0 0 ? * TUE#5 2199)"},
		{"rare/last-minute-2199", "cron(59 23 31 12 ? 2199)"},
		{"rare/never-feb-30", "cron(0 0 30 2 ? *)"},
		{"rare/never-31st-short-months", "cron(0 0 31 APR,JUN,SEP,NOV ? *)"},
	}
	for _, c := range cases {
		s := mustParse(b, c.expr)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Next(from)
			}
		})
	}

	// In zones: common expressions from the same date, and from just before
	// a change of offset, where the search crosses a skipped or repeated
	// hour (2027: New York 14 March 07:00Z and 7 November 06:00Z, Berlin 28
	// March and 31 October 01:00Z).
	zoneCases := []struct{ name, zone, expr, from string }{
		{"New_York/every-5-minutes", "America/New_York", "cron(0/5 * * * ? *)", ""},
		{"New_York/noon-daily", "America/New_York", "cron(0 12 * * ? *)", ""},
		{"New_York/weekday-nights", "America/New_York", "cron(0/30 20-2 ? * MON-FRI *)", ""},
		{"New_York/last-friday", "America/New_York", "cron(15 10 ? * 6L *)", ""},
		{"New_York/every-5-minutes/before-spring", "America/New_York", "cron(0/5 * * * ? *)", "2027-03-14 06:59"},
		{"New_York/every-minute/before-spring", "America/New_York", "cron(* * * * ? *)", "2027-03-14 06:59"},
		{"New_York/hourly/before-spring", "America/New_York", "cron(30 * * * ? *)", "2027-03-14 06:31"},
		{"New_York/skipped-daily/before-spring", "America/New_York", "cron(30 2 * * ? *)", "2027-03-14 06:59"},
		{"New_York/every-5-minutes/before-autumn", "America/New_York", "cron(0/5 * * * ? *)", "2027-11-07 05:59"},
		{"New_York/every-5-minutes/second-pass", "America/New_York", "cron(0/5 * * * ? *)", "2027-11-07 06:00"},
		{"New_York/every-minute/second-pass", "America/New_York", "cron(* * * * ? *)", "2027-11-07 06:00"},
		{"Berlin/every-5-minutes", "Europe/Berlin", "cron(0/5 * * * ? *)", ""},
		{"Berlin/noon-daily", "Europe/Berlin", "cron(0 12 * * ? *)", ""},
		{"Berlin/weekday-nights", "Europe/Berlin", "cron(0/30 20-2 ? * MON-FRI *)", ""},
		{"Berlin/last-friday", "Europe/Berlin", "cron(15 10 ? * 6L *)", ""},
		{"Berlin/every-5-minutes/before-spring", "Europe/Berlin", "cron(0/5 * * * ? *)", "2027-03-28 00:59"},
		{"Berlin/every-minute/before-spring", "Europe/Berlin", "cron(* * * * ? *)", "2027-03-28 00:59"},
		{"Berlin/every-5-minutes/second-pass", "Europe/Berlin", "cron(0/5 * * * ? *)", "2027-10-31 01:00"},
		{"Kolkata/every-5-minutes", "Asia/Kolkata", "cron(0/5 * * * ? *)", ""},
		{"Kolkata/noon-daily", "Asia/Kolkata", "cron(0 12 * * ? *)", ""},
		{"Kolkata/weekday-nights", "Asia/Kolkata", "cron(0/30 20-2 ? * MON-FRI *)", ""},
		{"Kolkata/last-friday", "Asia/Kolkata", "cron(15 10 ? * 6L *)", ""},
		{"New_York/at", "America/New_York", "at(2027-11-07T01:30:00)", ""},
	}
	for _, c := range zoneCases {
		s := mustParse(b, c.expr).In(zone(b, c.zone))
		at := from
		if c.from != "" {
			at = utc(b, c.from)
		}
		b.Run("zone/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Next(at)
			}
		})
	}
}

// BenchmarkParse times parsing, which precomputes the bit sets Next uses.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("cron(0/30 20-2 ? JAN-MAR,NOV MON-FRI 2024-2030)"); err != nil {
			b.Fatal(err)
		}
	}
}
