package scheduler_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/scheduler"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

// shifted is a scheduler clock that reads the bubble's virtual clock moved
// to start at start, so a test can live through a given day.
func shifted(start time.Time) func() time.Time {
	offset := time.Until(start)
	return func() time.Time { return time.Now().Add(offset) }
}

// firesByRule runs the scheduler over rules from from for d of virtual
// time and returns each rule's fire times (the runs' scheduled times) and
// the moments they fired, in UTC.
func firesByRule(t *testing.T, from time.Time, d time.Duration, rules ...store.Rule) (at, when map[string][]time.Time) {
	t.Helper()
	at, when = map[string][]time.Time{}, map[string][]time.Time{}
	synctest.Test(t, func(t *testing.T) {
		now := shifted(from)
		f := &fakeFirer{}
		stop := start(scheduler.New(scheduler.Config{Store: &fakeStore{rules: rules}, Firer: f, Now: now}))
		time.Sleep(d)
		stop()
		offset := time.Until(now())
		for _, fr := range f.take() {
			at[fr.params.Rule] = append(at[fr.params.Rule], fr.params.At.UTC())
			when[fr.params.Rule] = append(when[fr.params.Rule], fr.when.Add(offset).UTC())
		}
	})
	return at, when
}

func TestLocalFiresAcrossDaylightSavingTime(t *testing.T) {
	ny := func(name, expr string, created time.Time) store.Rule {
		return store.Rule{Name: name, Schedule: expr, Timezone: "America/New_York", Enabled: true, CreatedAt: created}
	}
	t.Run("spring forward", func(t *testing.T) {
		from := rfc("2027-03-12T12:00:00Z")
		at, when := firesByRule(t, from, 4*24*time.Hour+time.Minute,
			ny("gap", "cron(30 2 * * ? *)", from),
			ny("half-hourly", "cron(0/30 1-3 14 3 ? 2027)", from),
			ny("daily-rate", "rate(1 day)", from),
		)
		// 02:30 does not exist on 14 March 2027 in New York: no fire that day.
		wantTimes(t, "gap", at["gap"], "2027-03-13T07:30:00Z", "2027-03-15T06:30:00Z", "2027-03-16T06:30:00Z")
		// 01:00, 01:30 EST, then 03:00, 03:30 EDT: the skipped hour has none.
		wantTimes(t, "half-hourly", at["half-hourly"], "2027-03-14T06:00:00Z", "2027-03-14T06:30:00Z", "2027-03-14T07:00:00Z", "2027-03-14T07:30:00Z")
		// rate() in days is 24 hours, whatever the clocks do.
		wantTimes(t, "daily-rate", at["daily-rate"], "2027-03-13T12:00:00Z", "2027-03-14T12:00:00Z", "2027-03-15T12:00:00Z", "2027-03-16T12:00:00Z")
		for rule, times := range at {
			if !slices.EqualFunc(times, when[rule], time.Time.Equal) {
				t.Errorf("%s fired at %v for fire times %v, want each on time", rule, when[rule], times)
			}
		}
	})
	t.Run("fall back", func(t *testing.T) {
		from := rfc("2027-11-06T00:00:00Z")
		at, _ := firesByRule(t, from, 3*24*time.Hour,
			ny("repeat", "cron(30 1 * * ? *)", from),
			ny("quarter", "cron(0/15 1 7 11 ? 2027)", from),
		)
		// 01:30 happens twice on 7 November 2027: it fires once, the first
		// time (EDT, 05:30Z), not again an hour later.
		wantTimes(t, "repeat", at["repeat"], "2027-11-06T05:30:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z")
		// The repeated hour fires in its first pass only.
		wantTimes(t, "quarter", at["quarter"], "2027-11-07T05:00:00Z", "2027-11-07T05:15:00Z", "2027-11-07T05:30:00Z", "2027-11-07T05:45:00Z")
	})
}

func TestLocalFiresAtOnceAndWithinDates(t *testing.T) {
	from := rfc("2027-06-01T00:00:00Z")
	at, _ := firesByRule(t, from, 3*time.Hour,
		store.Rule{Name: "once", Schedule: "at(2027-06-01T02:30:00)", Timezone: "Europe/Paris", Enabled: true, CreatedAt: from},
		store.Rule{Name: "past", Schedule: "at(2027-05-31T23:00:00)", Timezone: "UTC", Enabled: true, CreatedAt: from},
		store.Rule{Name: "dated", Schedule: "cron(0/20 * * * ? *)", Enabled: true, CreatedAt: from,
			StartDate: rfc("2027-06-01T00:50:00Z"), EndDate: rfc("2027-06-01T01:40:00Z")},
		store.Rule{Name: "rate-from-start", Schedule: "rate(45 minutes)", Enabled: true, CreatedAt: from,
			StartDate: rfc("2027-06-01T00:10:00Z")},
	)
	// 02:30 in Paris (CEST, +2) is 00:30Z; it fires once.
	wantTimes(t, "once", at["once"], "2027-06-01T00:30:00Z")
	wantTimes(t, "past", at["past"])
	// Nothing before the start or after the end; the end itself fires.
	wantTimes(t, "dated", at["dated"], "2027-06-01T01:00:00Z", "2027-06-01T01:20:00Z", "2027-06-01T01:40:00Z")
	// rate() counts from the start date, which fires.
	wantTimes(t, "rate-from-start", at["rate-from-start"], "2027-06-01T00:10:00Z", "2027-06-01T00:55:00Z", "2027-06-01T01:40:00Z", "2027-06-01T02:25:00Z")
}

func TestLocalFiresWithinTheFlexibleWindow(t *testing.T) {
	from := rfc("2027-06-01T00:00:00Z")
	rule := store.Rule{Name: "flex", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: from, FlexibleWindow: 15 * time.Minute}
	at, when := firesByRule(t, from, 6*time.Hour, rule)
	// The rule was created at 00:00: that fire time is not after it.
	wantTimes(t, "flex", at["flex"], "2027-06-01T01:00:00Z", "2027-06-01T02:00:00Z", "2027-06-01T03:00:00Z",
		"2027-06-01T04:00:00Z", "2027-06-01T05:00:00Z")
	offsets := map[time.Duration]bool{}
	for i, fire := range at["flex"] {
		got := when["flex"][i].Sub(fire)
		want := schedule.WindowOffset("flex", fire, 15*time.Minute)
		if got != want || got < 0 || got >= 15*time.Minute {
			t.Errorf("fire time %s fired %s after it, want %s (the rule's offset, within the 15m window)", fire, got, want)
		}
		offsets[got] = true
	}
	if len(offsets) < 3 {
		t.Errorf("offsets %v: want them to vary from one fire time to the next", offsets)
	}

	// A restart in the middle of a window fires the pending fire at the
	// same moment, not at the restart nor a second time.
	fire := rfc("2027-06-01T03:00:00Z")
	offset := schedule.WindowOffset("flex", fire, 15*time.Minute)
	if offset < time.Minute {
		t.Skipf("the offset of %s is %s: too early to restart inside the window", fire, offset)
	}
	restart := fire.Add(offset / 2)
	at, when = firesByRule(t, restart, offset, rule)
	wantTimes(t, "flex after a restart", at["flex"], "2027-06-01T03:00:00Z")
	if len(when["flex"]) == 1 && !when["flex"][0].Equal(fire.Add(offset)) {
		t.Errorf("after a restart it fired at %s, want %s", when["flex"][0], fire.Add(offset))
	}
}

func wantTimes(t *testing.T, rule string, got []time.Time, want ...string) {
	t.Helper()
	var w []time.Time
	for _, s := range want {
		w = append(w, rfc(s))
	}
	if !slices.EqualFunc(got, w, time.Time.Equal) {
		t.Errorf("%s fired for %v, want %v", rule, got, w)
	}
}

func TestLocalWindowNeverFiresATimeFromBeforeTheRule(t *testing.T) {
	// Created at 00:30 with a 1h window: the 00:00 fire time came before
	// the rule and must not fire, though its window is still open.
	created := rfc("2027-06-01T00:30:00Z")
	rule := store.Rule{Name: "late-born", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: created, FlexibleWindow: time.Hour}
	if off := schedule.WindowOffset(rule.Name, rfc("2027-06-01T00:00:00Z"), time.Hour); off <= 30*time.Minute {
		t.Fatalf("the 00:00 offset is %s: the test needs one past the creation at 00:30", off)
	}
	at, _ := firesByRule(t, created, 89*time.Minute, rule)
	// Till 01:59: 01:00 fires (within its window); 00:00 does not.
	wantTimes(t, "late-born", at["late-born"], "2027-06-01T01:00:00Z")
}
