package schedule

import (
	"fmt"
	"testing"
	"time"
)

// dstSchedule parses expr and evaluates it in the named zone.
func dstSchedule(t *testing.T, expr, zone string) *Schedule {
	t.Helper()
	loc, err := LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, expr).In(loc)
}

// onlyChange returns the one clock change between from and until.
func onlyChange(t *testing.T, s *Schedule, from, until string) ClockChange {
	t.Helper()
	cs := s.ClockChanges(utc(t, from), utc(t, until))
	if len(cs) != 1 {
		t.Fatalf("%s in %s: %d clock changes from %s to %s, want 1: %v", s, s.Location(), len(cs), from, until, cs)
	}
	return cs[0]
}

func dstWall(y int, mo time.Month, d, h, mi int) WallTime {
	return WallTime{Year: y, Month: mo, Day: d, Hour: h, Minute: mi}
}

func TestClockChangesAtRealTransitions(t *testing.T) {
	cases := []struct {
		name, expr, zone, from, until string
		at                            string // the instant of the change, UTC
		before, after                 time.Duration
		skipped, repeated             []WallTime
		text                          string
	}{
		{
			name: "New York spring 2027 skips 02:30", expr: "cron(30 2 * * ? *)", zone: "America/New_York",
			from: "2027-03-10 00:00", until: "2027-03-20 00:00", at: "2027-03-14 07:00",
			before: -5 * time.Hour, after: -4 * time.Hour,
			skipped: []WallTime{dstWall(2027, time.March, 14, 2, 30)},
			text:    "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York: the 02:30 fire is skipped that day.",
		},
		{
			name: "New York autumn 2027 fires 01:30 once", expr: "cron(30 1 * * ? *)", zone: "America/New_York",
			from: "2027-11-01 00:00", until: "2027-11-10 00:00", at: "2027-11-07 06:00",
			before: -4 * time.Hour, after: -5 * time.Hour,
			repeated: []WallTime{dstWall(2027, time.November, 7, 1, 30)},
			text:     "Clocks go back 1 hour on Sun 7 Nov at 02:00 America/New_York: 01:30 occurs twice and fires once.",
		},
		{
			name: "New York spring, a fire outside the gap", expr: "cron(0 9 * * ? *)", zone: "America/New_York",
			from: "2027-03-10 00:00", until: "2027-03-20 00:00", at: "2027-03-14 07:00",
			before: -5 * time.Hour, after: -4 * time.Hour,
			text: "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York; no fire is skipped, and fires keep their clock times, 1 hour earlier in UTC.",
		},
		{
			name: "Sydney spring 2027 skips four fires", expr: "cron(0/15 2 * * ? *)", zone: "Australia/Sydney",
			from: "2027-09-30 00:00", until: "2027-10-06 00:00", at: "2027-10-02 16:00",
			before: 10 * time.Hour, after: 11 * time.Hour,
			skipped: []WallTime{dstWall(2027, time.October, 3, 2, 0), dstWall(2027, time.October, 3, 2, 15), dstWall(2027, time.October, 3, 2, 30), dstWall(2027, time.October, 3, 2, 45)},
			text:    "Clocks go forward 1 hour on Sun 3 Oct at 02:00 Australia/Sydney: the 02:00, 02:15, 02:30 and 02:45 fires are skipped that day.",
		},
		{
			name: "Sydney autumn 2027 repeats a whole hour", expr: "cron(* 2 * * ? *)", zone: "Australia/Sydney",
			from: "2027-04-01 00:00", until: "2027-04-06 00:00", at: "2027-04-03 16:00",
			before: 11 * time.Hour, after: 10 * time.Hour,
			text: "Clocks go back 1 hour on Sun 4 Apr at 03:00 Australia/Sydney: the 60 fire times from 02:00 to 02:59 occur twice and fire once each.",
		},
		{
			name: "Lord Howe spring 2027 moves 30 minutes", expr: "cron(15 2 * * ? *)", zone: "Australia/Lord_Howe",
			from: "2027-09-30 00:00", until: "2027-10-06 00:00", at: "2027-10-02 15:30",
			before: 10*time.Hour + 30*time.Minute, after: 11 * time.Hour,
			skipped: []WallTime{dstWall(2027, time.October, 3, 2, 15)},
			text:    "Clocks go forward 30 minutes on Sun 3 Oct at 02:00 Australia/Lord_Howe: the 02:15 fire is skipped that day.",
		},
		{
			name: "Lord Howe autumn 2027 repeats half an hour", expr: "cron(45 1 * * ? *)", zone: "Australia/Lord_Howe",
			from: "2027-04-01 00:00", until: "2027-04-06 00:00", at: "2027-04-03 15:00",
			before: 11 * time.Hour, after: 10*time.Hour + 30*time.Minute,
			repeated: []WallTime{dstWall(2027, time.April, 4, 1, 45)},
			text:     "Clocks go back 30 minutes on Sun 4 Apr at 02:00 Australia/Lord_Howe: 01:45 occurs twice and fires once.",
		},
		{
			name: "a daily rate keeps 24 hours", expr: "rate(1 day)", zone: "America/New_York",
			from: "2027-03-10 00:00", until: "2027-03-20 00:00", at: "2027-03-14 07:00",
			before: -5 * time.Hour, after: -4 * time.Hour,
			text: "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York: rate() counts elapsed time, so no fire is skipped; later fires read 1 hour later on the clock.",
		},
		{
			name: "a rate the shift divides", expr: "rate(5 minutes)", zone: "America/New_York",
			from: "2027-11-01 00:00", until: "2027-11-10 00:00", at: "2027-11-07 06:00",
			before: -4 * time.Hour, after: -5 * time.Hour,
			text: "Clocks go back 1 hour on Sun 7 Nov at 02:00 America/New_York: rate() counts elapsed time, so no fire is repeated.",
		},
		{
			name: "an at() in the gap never fires", expr: "at(2027-03-14T02:30:00)", zone: "America/New_York",
			from: "2027-03-10 00:00", until: "2027-03-20 00:00", at: "2027-03-14 07:00",
			before: -5 * time.Hour, after: -4 * time.Hour,
			skipped: []WallTime{dstWall(2027, time.March, 14, 2, 30)},
			text:    "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York: 02:30 does not exist that day, so the rule never fires.",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := dstSchedule(t, c.expr, c.zone)
			ch := onlyChange(t, s, c.from, c.until)
			if !ch.At.Equal(utc(t, c.at)) || ch.Before != c.before || ch.After != c.after {
				t.Errorf("change at %s from %s to %s, want at %s from %s to %s", ch.At, ch.Before, ch.After, c.at, c.before, c.after)
			}
			if c.skipped != nil && fmt.Sprint(ch.Skipped) != fmt.Sprint(c.skipped) {
				t.Errorf("skipped %v, want %v", ch.Skipped, c.skipped)
			}
			if c.repeated != nil && fmt.Sprint(ch.Repeated) != fmt.Sprint(c.repeated) {
				t.Errorf("repeated %v, want %v", ch.Repeated, c.repeated)
			}
			if got := ch.String(); got != c.text {
				t.Errorf("in words:\n got %s\nwant %s", got, c.text)
			}
		})
	}
}

// TestClockChangesAgreeWithNext checks, over a year in several zones, that
// the fires ClockChanges calls skipped are exactly those Next leaves out of
// the wall times the expression picks, and that every fire it calls
// repeated is one Next gives exactly once.
func TestClockChangesAgreeWithNext(t *testing.T) {
	from, until := utc(t, "2027-01-01 00:00"), utc(t, "2028-01-01 00:00")
	for _, zone := range []string{"America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Europe/London"} {
		for _, expr := range []string{"cron(0/10 * * * ? *)", "cron(30 1,2 ? * SUN *)"} {
			s := dstSchedule(t, expr, zone)
			changes := s.ClockChanges(from, until)
			if len(changes) != 2 {
				t.Fatalf("%s in %s: %d clock changes in 2027, want 2", expr, zone, len(changes))
			}
			fires := map[WallTime]int{}
			for at := range firesBetween(s, from, until) {
				fires[wallIn(at, s.Location())]++
			}
			// The wall times picked, as if the zone's clock were UTC's.
			picked := map[WallTime]bool{}
			asUTC := func(t time.Time) time.Time {
				_, off := t.In(s.Location()).Zone()
				return t.Add(time.Duration(off) * time.Second)
			}
			for at := range firesBetween(mustParse(t, expr), asUTC(from), asUTC(until)) {
				picked[wallIn(at, time.UTC)] = true
			}
			skipped := map[WallTime]bool{}
			affected := 0
			for _, ch := range changes {
				for _, w := range ch.Skipped {
					affected++
					skipped[w] = true
					if !picked[w] || fires[w] != 0 {
						t.Errorf("%s in %s: %s on %d-%02d-%02d is called skipped: picked %v, fires %d times", expr, zone, w, w.Year, w.Month, w.Day, picked[w], fires[w])
					}
				}
				for _, w := range ch.Repeated {
					affected++
					if fires[w] != 1 {
						t.Errorf("%s in %s: %s on %d-%02d-%02d is called repeated but fires %d times", expr, zone, w, w.Year, w.Month, w.Day, fires[w])
					}
				}
			}
			for w := range picked {
				if fires[w] == 0 && !skipped[w] {
					t.Errorf("%s in %s: %s on %d-%02d-%02d does not fire, yet is not called skipped", expr, zone, w, w.Year, w.Month, w.Day)
				}
			}
			if affected == 0 {
				t.Errorf("%s in %s: no fire is affected by the clock changes of 2027", expr, zone)
			}
		}
	}
}

// firesBetween yields the fire times of s after from, up to until.
func firesBetween(s *Schedule, from, until time.Time) func(func(time.Time) bool) {
	return func(yield func(time.Time) bool) {
		for at, ok := s.Next(from); ok && !at.After(until); at, ok = s.Next(at) {
			if !yield(at) {
				return
			}
		}
	}
}

func wallIn(t time.Time, loc *time.Location) WallTime {
	t = t.In(loc)
	return WallTime{Year: t.Year(), Month: t.Month(), Day: t.Day(), Hour: t.Hour(), Minute: t.Minute(), Second: t.Second()}
}

func TestClockChangesComeInOrderAndOnlyWhereTheOffsetChanges(t *testing.T) {
	s := dstSchedule(t, "cron(0 12 * * ? *)", "America/New_York")
	cs := s.ClockChanges(utc(t, "2027-01-01 00:00"), utc(t, "2029-01-01 00:00"))
	var got []string
	for _, c := range cs {
		got = append(got, c.At.Format(time.RFC3339))
	}
	want := "[2027-03-14T07:00:00Z 2027-11-07T06:00:00Z 2028-03-12T07:00:00Z 2028-11-05T06:00:00Z]"
	if fmt.Sprint(got) != want {
		t.Errorf("changes at %v, want %s", got, want)
	}
	for _, zone := range []string{"UTC", "Asia/Tokyo", "Etc/GMT+5"} {
		if cs := dstSchedule(t, "cron(0 12 * * ? *)", zone).ClockChanges(utc(t, "2027-01-01 00:00"), utc(t, "2028-01-01 00:00")); len(cs) != 0 {
			t.Errorf("%s keeps one offset, yet has clock changes %v", zone, cs)
		}
	}
	if cs := s.ClockChanges(utc(t, "2027-03-20 00:00"), utc(t, "2027-03-10 00:00")); len(cs) != 0 {
		t.Errorf("an empty range has clock changes %v", cs)
	}
}

func TestClockChangesLeaveOutFiresOutsideTheDatesAndBeforeFrom(t *testing.T) {
	// Starting after the gap, the skipped 02:30 would not have fired anyway.
	s := dstSchedule(t, "cron(30 2 * * ? *)", "America/New_York").Between(utc(t, "2027-03-15 00:00"), time.Time{})
	if ch := onlyChange(t, s, "2027-03-10 00:00", "2027-03-20 00:00"); len(ch.Skipped) != 0 {
		t.Errorf("a fire before the start date is called skipped: %v", ch.Skipped)
	}
	// From 01:45 EDT, the first 01:30 has passed: nothing repeats ahead.
	s = dstSchedule(t, "cron(30 1 * * ? *)", "America/New_York")
	if ch := onlyChange(t, s, "2027-11-07 05:45", "2027-11-10 00:00"); len(ch.Repeated) != 0 {
		t.Errorf("a fire that has already happened is called repeated: %v", ch.Repeated)
	}
}
