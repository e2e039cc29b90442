package schedule_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/shared/schedule"
)

// Parse accepts exactly what EventBridge accepts; Describe puts the
// expression into words, as the console shows it.
func ExampleParse() {
	s, err := schedule.Parse("cron(15 10 ? * 6L *)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Describe())
	// Output:
	// At 10:15 UTC on the last Friday of the month
}

// An expression EventBridge would refuse is an *Error that names the field
// at fault and what it allows.
func ExampleParse_invalid() {
	_, err := schedule.Parse("cron(0 12 * * MON *)")
	fmt.Println(err)
	var perr *schedule.Error
	if errors.As(err, &perr) {
		fmt.Printf("field %q\n", perr.Field)
	}
	// Output:
	// day-of-month and day-of-week: one of them must be "?"
	// field "day-of-month and day-of-week"
}

// NextN gives the fire times strictly after a moment, in UTC: the times
// the local scheduler fires a rule, and EventBridge too.
func ExampleSchedule_NextN() {
	s, err := schedule.Parse("cron(0/30 20-2 ? * MON-FRI *)")
	if err != nil {
		fmt.Println(err)
		return
	}
	from := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) // a Friday
	for _, t := range s.NextN(from, 6) {
		fmt.Println(t.Format("Mon 2006-01-02 15:04"))
	}
	// Output:
	// Fri 2026-11-27 00:30
	// Fri 2026-11-27 01:00
	// Fri 2026-11-27 01:30
	// Fri 2026-11-27 02:00
	// Fri 2026-11-27 02:30
	// Fri 2026-11-27 20:00
}

// A schedule that can never fire again says so.
func ExampleSchedule_Next() {
	s, err := schedule.Parse("cron(0 0 1 1 ? 2020)")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println("fires again:", ok)
	// Output:
	// fires again: false
}

// A rate() fires every interval from its anchor (the agent anchors a rule's
// rate at the rule's creation).
func ExampleSchedule_WithAnchor() {
	s, err := schedule.Parse("rate(90 minutes)")
	if err != nil {
		fmt.Println(err)
		return
	}
	created := time.Date(2026, 11, 27, 9, 10, 42, 0, time.UTC)
	s = s.WithAnchor(created)
	fmt.Println(s.Interval(), s.Describe())
	for _, t := range s.NextN(created, 3) {
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 1h30m0s Every 90 minutes
	// 2026-11-27T10:40:00Z
	// 2026-11-27T12:10:00Z
	// 2026-11-27T13:40:00Z
}

// In evaluates cron() as wall times in a zone, with EventBridge
// Scheduler's rule for daylight saving time: on 14 March 2027 New York's
// clocks skip 02:00-02:59, so 02:30 does not fire that day.
func ExampleSchedule_In() {
	s, err := schedule.Parse("cron(30 2 * * ? *)")
	if err != nil {
		fmt.Println(err)
		return
	}
	ny, err := schedule.LoadLocation("America/New_York")
	if err != nil {
		fmt.Println(err)
		return
	}
	s = s.In(ny)
	fmt.Println(s.Describe())
	for _, t := range s.NextN(time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC), 3) {
		fmt.Println(t.Format(time.RFC3339), "=", t.In(ny).Format("Mon 02 Jan 15:04 MST"))
	}
	// Output:
	// At 02:30 America/New_York
	// 2027-03-13T07:30:00Z = Sat 13 Mar 02:30 EST
	// 2027-03-15T06:30:00Z = Mon 15 Mar 02:30 EDT
	// 2027-03-16T06:30:00Z = Tue 16 Mar 02:30 EDT
}
