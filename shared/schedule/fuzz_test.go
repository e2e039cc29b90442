package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseNext feeds Parse anything, and evaluates what it accepts in one
// of the test zones (or UTC). A refusal must be an *Error; an accepted
// expression must describe itself, parse again from String to a schedule
// that gives the same fire times, and give fire times that increase
// strictly, sit at second 0 in UTC (but for an at() written with seconds),
// fall in 1970-2199 on the zone's calendar, and match the brute-force
// reading of the DST rule with nothing skipped before the first.
//
//	go test -fuzz=FuzzParseNext ./shared/schedule
func FuzzParseNext(f *testing.F) {
	locs := make([]*time.Location, 0, 1+len(testZones))
	locs = append(locs, time.UTC)
	for _, name := range testZones {
		locs = append(locs, zone(f, name))
	}
	zoneIndex := func(name string) uint8 {
		for i, loc := range locs {
			if loc.String() == name {
				return uint8(i)
			}
		}
		f.Fatalf("%s is not a fuzzed zone", name)
		return 0
	}
	seeds := []struct {
		expr, from, zone string
	}{
		{"cron(0/30 20-2 ? * MON-FRI *)", "2021-04-02T12:00:00Z", "UTC"},
		{"cron(0 0 31 * ? *)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(0 12 15W * ? *)", "2021-05-01T00:00:00Z", "UTC"},
		{"cron(0 0 LW * ? *)", "2021-04-01T00:00:00Z", "UTC"},
		{"cron(0 0 ? * 6L *)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(0 0 ? * TUE#5 *)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", "UTC"},
		{"cron(0 0 L-3 2 ? *)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(0 0 1W * ? *)", "2021-04-15T00:00:00Z", "UTC"},
		{"cron(0 0 31W * ? *)", "2021-10-01T00:00:00Z", "UTC"},
		{"cron(1/10 8-18/2 */3 JAN-MAR,NOV ? 2020-2030)", "2019-12-31T23:59:59Z", "UTC"},
		{"cron(0 0 ? * FRI-MON 2199)", "2199-12-30T00:00:00Z", "UTC"},
		{"cron(* * * * ? *)", "1969-12-31T23:59:30Z", "UTC"},
		{"cron(0 0 30 2 ? *)", "1970-01-01T00:00:00Z", "UTC"},
		{"cron(0 0 ? * L *)", "2000-02-28T00:00:00Z", "UTC"},
		{"rate(5 minutes)", "2021-04-02T12:03:17Z", "UTC"},
		{"rate(1 day)", "2199-12-30T00:00:00Z", "UTC"},
		{"rate(1 minutes)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(0 12 ? * 8 *)", "2021-01-01T00:00:00Z", "UTC"},
		{"cron(*/0 * * * ? *)", "2021-01-01T00:00:00Z", "UTC"},
		{"  cron( 0  12 * * ? * )  ", "2021-01-01T00:00:00Z", "UTC"},
		{"", "2021-01-01T00:00:00Z", "UTC"},
		{"at(2027-06-01T09:30:15)", "2027-01-01T00:00:00Z", "UTC"},
		{"at(2027-02-30T09:30:15)", "2027-01-01T00:00:00Z", "UTC"},

		// Zones, around their changes of offset.
		{"cron(30 2 * * ? *)", "2027-03-13T00:00:00Z", "America/New_York"},
		{"cron(30 1 * * ? *)", "2027-11-06T00:00:00Z", "America/New_York"},
		{"cron(0/15 * * * ? *)", "2027-11-07T06:20:00Z", "America/New_York"},
		{"cron(* * * * ? *)", "2027-03-14T06:58:00Z", "America/New_York"},
		{"cron(0/20 * * * ? *)", "2027-10-02T15:00:00Z", "Australia/Lord_Howe"},
		{"cron(45 1 * * ? *)", "2027-04-02T00:00:00Z", "Australia/Lord_Howe"},
		{"cron(0 0 * * ? *)", "2027-09-04T00:00:00Z", "America/Santiago"},
		{"cron(0 1-3 ? * SUN *)", "2027-03-27T00:00:00Z", "Antarctica/Troll"},
		{"cron(0/5 2 ? * SUN *)", "2027-02-06T00:00:00Z", "Africa/Casablanca"},
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T00:00:00Z", "Pacific/Chatham"},
		{"cron(0 9 * * ? *)", "2027-01-01T00:00:00Z", "Asia/Kathmandu"},
		{"at(2027-03-14T02:30:00)", "2027-01-01T00:00:00Z", "America/New_York"},
		{"at(2027-11-07T01:30:59)", "2027-11-07T05:00:00Z", "America/New_York"},
		{"rate(1 day)", "2027-03-13T00:00:00Z", "Europe/Berlin"},
	}
	for _, s := range seeds {
		from, err := time.Parse(time.RFC3339, s.from)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.expr, from.Unix(), zoneIndex(s.zone))
	}
	f.Fuzz(func(t *testing.T, expr string, from int64, zi uint8) {
		loc := locs[int(zi)%len(locs)]
		parsed, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || parsed != nil || !strings.Contains(e.Error(), ": ") {
				t.Fatalf("Parse(%q) = %v, %v (%T): want a nil schedule and an *Error", expr, parsed, err, err)
			}
			return
		}
		s := parsed.In(loc)
		if s.Describe() == "" {
			t.Errorf("Parse(%q).Describe() is empty", expr)
		}
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("Parse(%q) accepted it, but Parse(String() = %q) says %v", expr, s.String(), err)
		}
		if again.String() != s.String() {
			t.Fatalf("Parse(%q).String() = %q, but parsing that gives %q", expr, s.String(), again.String())
		}

		after := time.Unix(from, 0)
		times := s.NextN(after, 5)
		if fromString := again.In(loc).NextN(after, 5); formatTimes(fromString) != formatTimes(times) {
			t.Fatalf("%s in %s from %d: the expression parsed from String fires at%s\nthe original at%s", s, loc, from, formatTimes(fromString), formatTimes(times))
		}
		prev := after
		for _, tm := range times {
			wallYear := tm.In(loc).Year()
			switch {
			case !tm.After(prev):
				t.Fatalf("%s in %s from %d: %v does not come after %v", s, loc, from, tm, prev)
			case tm.Location() != time.UTC || tm.Nanosecond() != 0 || (tm.Second() != 0 && !s.IsAt()):
				t.Fatalf("%s in %s from %d: %v is not at second 0 in UTC", s, loc, from, tm)
			case s.IsRate() && tm.Year() > 2199:
				t.Fatalf("%s from %d: %v is after 2199", s, from, tm)
			case !s.IsRate() && (wallYear < 1970 || wallYear > 2199):
				t.Fatalf("%s in %s from %d: %v is outside 1970-2199 there", s, loc, from, tm)
			}
			prev = tm
		}

		switch {
		case s.IsRate():
			// rate() is a fixed interval: the zone changes nothing.
			if inUTC := parsed.NextN(after, 5); formatTimes(inUTC) != formatTimes(times) {
				t.Fatalf("%s from %d: in %s it fires at%s\nin UTC at%s", s, from, loc, formatTimes(times), formatTimes(inUTC))
			}
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
		case s.IsAt():
			wall, err := time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(strings.TrimPrefix(s.String(), "at("), ")"))
			if err != nil {
				t.Fatalf("%s: its String does not hold a wall time: %v", s, err)
			}
			want, wantOK := bruteAt(wall, loc)
			if wantOK && !want.After(after) {
				want, wantOK = time.Time{}, false
			}
			if len(times) > 1 || (len(times) == 1) != wantOK || (wantOK && !times[0].Equal(want)) {
				t.Fatalf("%s in %s from %v: fires at%s; the brute force says %v, %v", s, loc, after.UTC(), formatTimes(times), want, wantOK)
			}
			return
		}

		b := newBrute(s.String())
		for _, tm := range times {
			if !b.matches(wallMinute(tm, loc)) || shownBefore(tm, loc) {
				t.Fatalf("%s in %s: Next gave %v, which the brute force says does not fire", s, loc, tm)
			}
		}
		// Nothing is skipped before the first: compare a day's walk, when
		// after is a time the brute force can walk from.
		if from < -1<<40 || from > 1<<40 {
			return
		}
		limit := after.Add(24 * time.Hour)
		want, wantOK := b.nextIn(loc, after, limit)
		got, gotOK := time.Time{}, false
		if len(times) > 0 && !times[0].After(limit) {
			got, gotOK = times[0], true
		}
		if gotOK != wantOK || !got.Equal(want) {
			t.Fatalf("%s in %s from %v: Next = %v, %v; brute force over a day says %v, %v", s, loc, after.UTC(), got, gotOK, want, wantOK)
		}
	})
}
