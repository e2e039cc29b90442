package watch

import (
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

// matchSlack is how long after an expected fire time (and its flexible
// window) a delivery's fire time may be and still count for it: EventBridge
// records its event's time, which may be a few seconds past the minute.
const matchSlack = time.Minute

// awsSettle is how long after a rule's change the AWS backends may take to
// fire it as changed: no fire is expected within it.
const awsSettle = time.Minute

// entry is a rule the watch follows and the fire it expects next.
type entry struct {
	rule  store.Rule
	sched *schedule.Schedule
	// interval: rate() in AWS without a start date, whose fire times are
	// known only to an interval (see the package doc).
	interval bool
	every    time.Duration
	// grid is where the intervals start from: the rule's change, so that
	// every agent checks the same intervals (and records a miss once).
	grid time.Time
	exp  expectation
	// seen is the latest fire time of a run of the rule the watch has
	// seen (missed runs aside), to settle interval expectations.
	seen time.Time
}

// expectation is a fire the watch waits for: a run of the rule with
// from <= ScheduledAt < to must exist by deadline. ok is false when the
// rule never fires again.
type expectation struct {
	ok       bool
	from, to time.Time
	deadline time.Time
}

// newEntry builds the entry of an enabled rule; aws says rate() fire times
// are AWS's, known only to an interval.
func newEntry(r store.Rule, aws bool) (*entry, error) {
	anchor := r.CreatedAt
	if aws {
		anchor = r.UpdatedAt // the agent's best guess of when AWS got it
	}
	sched, err := r.FireSchedule(anchor)
	if err != nil {
		return nil, err
	}
	e := &entry{rule: r, sched: sched}
	e.interval = aws && sched.IsRate() && r.StartDate.IsZero()
	e.every = sched.Interval()
	e.grid = ceilMinute(r.UpdatedAt.Add(awsSettle))
	return e, nil
}

// first is the first expectation after since.
func (e *entry) first(since time.Time, grace time.Duration) expectation {
	if e.interval {
		start := e.grid
		if since.After(start) {
			k := (since.Sub(start) + e.every - 1) / e.every
			start = start.Add(k * e.every)
		}
		return e.window(start, grace)
	}
	return e.fireAfter(since, grace)
}

// next is the expectation after x.
func (e *entry) next(x expectation, grace time.Duration) expectation {
	if e.interval {
		return e.window(x.from.Add(e.every), grace)
	}
	return e.fireAfter(x.from, grace)
}

// fireAfter expects the first fire time after t.
func (e *entry) fireAfter(t time.Time, grace time.Duration) expectation {
	f, ok := e.sched.Next(t)
	if !ok {
		return expectation{}
	}
	window := e.rule.FlexibleWindow
	x := expectation{ok: true, from: f, to: f.Add(window + matchSlack), deadline: f.Add(window + grace)}
	if n, ok := e.sched.Next(f); ok && n.Before(x.to) {
		x.to = n // the next fire's delivery is not this one's
	}
	return x
}

// window expects some fire in the interval starting at start.
func (e *entry) window(start time.Time, grace time.Duration) expectation {
	if e.sched.Done(start) {
		return expectation{}
	}
	slack := min(matchSlack, e.every/2)
	return expectation{
		ok: true, from: start, to: start.Add(e.every + slack),
		deadline: start.Add(e.every + e.rule.FlexibleWindow + grace),
	}
}

// sameRule reports whether a and b expect the same fires: same schedule,
// dates, window, anchors and enabled state, unchanged since.
func sameRule(a, b store.Rule) bool {
	return a.Schedule == b.Schedule && a.Timezone == b.Timezone && a.StartDate.Equal(b.StartDate) &&
		a.EndDate.Equal(b.EndDate) && a.FlexibleWindow == b.FlexibleWindow && a.Enabled == b.Enabled &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func ceilMinute(t time.Time) time.Time {
	c := t.Truncate(time.Minute)
	if c.Before(t) {
		c = c.Add(time.Minute)
	}
	return c
}
