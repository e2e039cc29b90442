package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseNext feeds Parse anything. A refusal must be an *Error; an
// accepted expression must describe itself, parse again from String, and
// give fire times that increase strictly, sit at second 0 in UTC, and match
// the brute-force reading with nothing skipped before the first.
//
//	go test -fuzz=FuzzParseNext ./shared/schedule
func FuzzParseNext(f *testing.F) {
	seeds := []struct {
		expr string
		from string
	}{
		{"cron(0/30 20-2 ? * MON-FRI *)", "2021-04-02T12:00:00Z"},
		{"cron(0 0 31 * ? *)", "2021-01-01T00:00:00Z"},
		{"cron(0 12 15W * ? *)", "2021-05-01T00:00:00Z"},
		{"cron(0 0 LW * ? *)", "2021-04-01T00:00:00Z"},
		{"cron(0 0 ? * 6L *)", "2021-01-01T00:00:00Z"},
		{"cron(0 0 ? * TUE#5 *)", "2021-01-01T00:00:00Z"},
		{"cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z"},
		{"cron(0 0 L-3 2 ? *)", "2021-01-01T00:00:00Z"},
		{"cron(0 0 1W * ? *)", "2021-04-15T00:00:00Z"},
		{"cron(0 0 31W * ? *)", "2021-10-01T00:00:00Z"},
		{"cron(1/10 8-18/2 */3 JAN-MAR,NOV ? 2020-2030)", "2019-12-31T23:59:59Z"},
		{"cron(0 0 ? * FRI-MON 2199)", "2199-12-30T00:00:00Z"},
		{"cron(* * * * ? *)", "1969-12-31T23:59:30Z"},
		{"cron(0 0 30 2 ? *)", "1970-01-01T00:00:00Z"},
		{"cron(0 0 ? * L *)", "2000-02-28T00:00:00Z"},
		{"rate(5 minutes)", "2021-04-02T12:03:17Z"},
		{"rate(1 day)", "2199-12-30T00:00:00Z"},
		{"rate(1 minutes)", "2021-01-01T00:00:00Z"},
		{"cron(0 12 ? * 8 *)", "2021-01-01T00:00:00Z"},
		{"cron(*/0 * * * ? *)", "2021-01-01T00:00:00Z"},
		{"  cron( 0  12 * * ? * )  ", "2021-01-01T00:00:00Z"},
		{"", "2021-01-01T00:00:00Z"},
	}
	for _, s := range seeds {
		from, err := time.Parse(time.RFC3339, s.from)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.expr, from.Unix())
	}
	f.Fuzz(func(t *testing.T, expr string, from int64) {
		s, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || s != nil || !strings.Contains(e.Error(), ": ") {
				t.Fatalf("Parse(%q) = %v, %v (%T): want a nil schedule and an *Error", expr, s, err, err)
			}
			return
		}
		if s.Describe() == "" {
			t.Errorf("Parse(%q).Describe() is empty", expr)
		}
		if _, err := Parse(s.String()); err != nil {
			t.Fatalf("Parse(%q) accepted it, but Parse(String() = %q) says %v", expr, s.String(), err)
		}

		after := time.Unix(from, 0)
		times := s.NextN(after, 5)
		prev := after
		for _, tm := range times {
			switch {
			case !tm.After(prev):
				t.Fatalf("%s from %d: %v does not come after %v", s, from, tm, prev)
			case tm.Location() != time.UTC || tm.Second() != 0 || tm.Nanosecond() != 0:
				t.Fatalf("%s from %d: %v is not at second 0 in UTC", s, from, tm)
			case tm.Year() < 1970 && !s.IsRate(), tm.Year() > 2199:
				t.Fatalf("%s from %d: %v is outside 1970-2199", s, from, tm)
			}
			prev = tm
		}

		if s.IsRate() {
			every := int64(s.Interval() / time.Second)
			for i, tm := range times {
				if tm.Unix()%every != 0 || tm.Unix() <= 0 {
					t.Fatalf("%s: %v is not epoch + k×%v", s, tm, s.Interval())
				}
				if i == 0 && tm.Unix()-every > max(after.Unix(), 0) {
					t.Fatalf("%s from %v: first fire %v skips %v", s, after, tm, tm.Add(-s.Interval()))
				}
			}
			return
		}

		b := newBrute(s.String())
		for _, tm := range times {
			if !b.matches(tm) {
				t.Fatalf("%s: Next gave %v, which the brute force says does not match", s, tm)
			}
		}
		// Nothing is skipped before the first: compare a day's walk, when
		// after is a time the brute force can walk from.
		if from < -1<<40 || from > 1<<40 {
			return
		}
		limit := after.Add(24 * time.Hour)
		want, wantOK := b.next(after, limit)
		got, gotOK := time.Time{}, false
		if len(times) > 0 && !times[0].After(limit) {
			got, gotOK = times[0], true
		}
		if gotOK != wantOK || !got.Equal(want) {
			t.Fatalf("%s from %v: Next = %v, %v; brute force over a day says %v, %v", s, after.UTC(), got, gotOK, want, wantOK)
		}
	})
}
