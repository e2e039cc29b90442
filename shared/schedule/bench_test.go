package schedule

import (
	"testing"
	"time"
)

// BenchmarkNext times one Next call from 2024-03-01 00:00 UTC for common
// expressions and for the rarest ones, whose next fire time is years away
// or never comes.
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
