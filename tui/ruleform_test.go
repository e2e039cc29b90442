package tui_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

func TestNewRuleFormValidatesTheScheduleAsItIsTyped(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("orders-hourly")
	f.press("tab", "right", "right", "right", "tab") // job: demo -> echo -> http -> orders.increment
	f.typeText("cron(0 * * * ? *")
	f.waitFor(t, "✗ expression")
	f.typeText(")")
	f.waitFor(t, "✓ At minute 0 past every hour")
	requireGolden(t, f.screen(t))
}

func TestCreateRuleWithParameters(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("call-partner")
	f.press("tab", "right", "right", "tab") // job: demo -> echo -> http
	f.typeText("rate(10 minutes)")
	f.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab") // zone, start, end, window, description, enabled, timeout, overlap -> url
	f.press("ctrl+s")
	f.waitFor(t, "Fix the fields marked ✗ first.", "required")
	f.typeText("https://partner.example/orders")
	f.press("tab", "right", "right", "tab") // method POST, then body
	f.press("tab", "tab", "tab", "tab")     // content_type, header, expect_status -> timeout
	f.press("ctrl+a", "ctrl+k")
	f.typeText("x")
	f.waitFor(t, `"x" is not a duration`)
	f.press("backspace")
	f.typeText("45s")
	f.press("tab", "tab") // log_body -> bearer_token
	f.typeText("tok-123")
	f.press("ctrl+s")
	f.waitFor(t, "rule call-partner created")
	r, ok := f.agent.Rule("call-partner")
	if !ok {
		t.Fatal("the agent has no rule call-partner")
	}
	want := map[string]string{"url": "https://partner.example/orders", "method": "POST", "bearer_token": "tok-123", "timeout": "45s"}
	for k, v := range want {
		if r.Parameters[k] != v {
			t.Errorf("parameter %s = %q, want %q (all: %v)", k, r.Parameters[k], v, r.Parameters)
		}
	}
	if r.Job != "http" || r.Schedule != "rate(10 minutes)" || !r.Enabled {
		t.Errorf("rule saved as %+v", r)
	}
}

func TestEditKeepsASecretLeftUntouched(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	f.press("tab", "tab", "tab", "tab", "tab", "tab") // job, schedule, zone, start, end, window -> description
	f.typeText("pings the partner")
	f.press("ctrl+s")
	f.waitFor(t, "rule ping-partner saved")
	r, _ := f.agent.Rule("ping-partner")
	if r.Parameters["bearer_token"] != "s3cr3t" {
		t.Errorf("the secret became %q, want it kept", r.Parameters["bearer_token"])
	}
	if r.Description != "pings the partner" {
		t.Errorf("description = %q", r.Description)
	}
}

func TestServerErrorsShowAtTheirFields(t *testing.T) {
	// Wide enough for the agent's whole answer.
	f := setup(t, adminToken, 160, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "*Name")
	f.typeText("nightly-report") // taken
	f.press("tab", "tab")
	f.typeText("rate(1 hour)")
	f.press("ctrl+s")
	f.waitFor(t, `agent answered 409: a rule named "nightly-report" already exists`)
}

func TestRunNowWithEditedParameters(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "operator")
	f.press("R")
	f.waitFor(t, "Run nightly-report now", "duration")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("2m")
	f.press("tab", "right", "right") // fail: (default) -> true -> false ... pick true
	f.press("ctrl+s")
	f.waitFor(t, "RUNNING", "duration=2m")
	run := f.agent.Runs()[0]
	if run.Parameters["duration"] != "2m" || run.Trigger != api.TriggerManual {
		t.Errorf("the run got %v (%s)", run.Parameters, run.Trigger)
	}
}

func TestRestartWithEditedParametersKeepsSecretsMasked(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "run "+run2, seedRuns)
	f.waitFor(t, "live", "Run "+run2, "operator")
	f.press("R")
	f.waitFor(t, "Restart run bbbb2222", "(unchanged; type to replace)")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "s3cr3t") {
		t.Errorf("a secret shows:\n%s", screen)
	}
}

// newRuleForm opens the new-rule form and moves to the time-zone field,
// after typing the name and the schedule.
func newRuleForm(t *testing.T, f *fixture, name, schedule string) {
	t.Helper()
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText(name)
	f.press("tab", "tab") // job demo -> schedule
	f.typeText(schedule)
	f.press("tab") // -> time zone, whose completion keys the footer shows
	f.waitFor(t, "A city or area, e.g. America/New_York", "tab complete zone  ctrl+n/p other zones")
}

func TestTimeZoneCompletesWhatIsTyped(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "ny-morning", "cron(0 9 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("america/new_y")
	// A prefix that completes is not yet wrong: no frame says so.
	if seen := f.waitSeen(t, "tab: America/New_York"); strings.Contains(seen, "is not a time zone") {
		t.Errorf("a zone being typed is marked wrong while it completes:\n%s", seen)
	}
	f.press("tab")
	f.waitFor(t, "Time zone      America/New_York", "✓ At 09:00 America/New_York", "EDT  Fri 13:00 UTC  Fri 14:00 CET")
	// A zone is accepted once: tab then moves on, as in any field.
	f.press("tab")
	f.waitFor(t, "RFC 3339 (2027-03-14T09:30:00-04:00), or 2027-03-14 09:30 in the rule's time zone.")
	screen := f.screen(t)
	if strings.Contains(screen, "✗") {
		t.Errorf("a completed zone is marked wrong:\n%s", screen)
	}
}

func TestTimeZoneCompletionOffersOthersByPartOfTheName(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "paris-noon", "cron(0 12 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("paris")
	f.waitFor(t, "tab: Europe/Paris")
	f.press("tab")
	f.waitFor(t, "Time zone      Europe/Paris", "✓ At 12:00 Europe/Paris")
}

func TestTimeZoneCompletionCyclesThroughMatches(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/America/North_Dakota/New_Salem"); err != nil || os.Getenv("ZONEINFO") != "" {
		t.Skip("needs the system's zone database in /usr/share/zoneinfo")
	}
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "nd-noon", "cron(0 12 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("new")
	f.waitFor(t, "tab: America/New_York  America/North_Dakota/New_Salem")
	f.press("ctrl+n", "tab")
	f.waitFor(t, "Time zone      America/North_Dakota/New_Salem", "✓ At 12:00 America/North_Dakota/New_Salem")
}

func TestUnknownTimeZoneIsMarkedWithTheReason(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "on-mars", "cron(0 9 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("Mars/Olympus_Mons")
	f.waitFor(t, `"Mars/Olympus_Mons" is not a time zone in the IANA database`, "Fire times show once the time zone is valid.")
	f.press("ctrl+s")
	f.waitFor(t, "Fix the fields marked ✗ first.")
	if f.requests.count("POST /rules") != 0 {
		t.Error("a rule with an unknown zone was sent to the agent")
	}
}

func TestDatesAndWindowAreCheckedInTheRulesZone(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "ny-dates", "cron(30 2 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("America/New_York")
	f.press("tab")
	f.typeText("2027-03-14 02:30")
	f.waitFor(t, "2027-03-14 02:30 does not exist in America/New_York: the clocks skip it")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("2027-03-15 00:00")
	f.press("tab")
	f.typeText("2027-03-01T00:00:00Z")
	f.waitFor(t, "must be after the start date")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("2027-04-01T00:00:00Z")
	f.press("tab")
	f.typeText("30s")
	f.waitFor(t, `"30s" is outside 1m to 24h; leave it empty for none`)
	f.press("backspace", "backspace", "backspace")
	f.typeText("15m")
	f.waitFor(t, "Each run starts within 15m after its fire time.", "Mon 2027-03-15 02:30 EDT")
}

func TestPreviewShowsThreeZonesAndWhatTheClockChangeDoes(t *testing.T) {
	// Four days before New York's clocks go forward in 2027.
	now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
	f := setupWith(t, agenttest.Options{Scheduler: agent.SchedulerLocal, Now: func() time.Time { return now }},
		adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "ny-night", "cron(30 2 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("America/New_York")
	f.waitFor(t, "Clocks go forward 1 hour on Sun 14 Mar at 02:00 America/New_York: the 02:30 fire is", "skipped that day.")
	requireGolden(t, f.screen(t))
}

func TestPreviewSaysWhenAnAtScheduleIsDone(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "once", "at(2024-01-01T09:00:00)")
	contains(t, f.screen(t), "✓ Once, on 2024-01-01 at 09:00 UTC", "Done: its time has passed; it never fires again.")
}

func TestSavingAZoneDatesAndAWindowReachesTheAgent(t *testing.T) {
	// Wide enough for the rule's detail on one line.
	f := setup(t, adminToken, 140, 34, "rules", seedRuns)
	newRuleForm(t, f, "paris-mornings", "cron(0 9 ? * MON-FRI *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("paris")
	f.press("tab", "tab") // complete, then on to the start date
	f.typeText("2027-01-04 00:00")
	f.press("tab")
	f.typeText("2027-06-30T18:00:00+02:00")
	f.press("tab")
	f.typeText("15m")
	f.press("ctrl+s")
	// Back in the list, the rule shows its zone (a line drawn once is seen
	// by one wait only, so one wait looks for all).
	f.waitFor(t, "rule paris-mornings created", "Rules 3", "ZONE", "paris-mornings", "Europe/Paris")

	r, err := f.agent.Client(adminToken).Rule(context.Background(), "paris-mornings")
	if err != nil {
		t.Fatal(err)
	}
	if r.Timezone != "Europe/Paris" {
		t.Errorf("timezone %q, want Europe/Paris", r.Timezone)
	}
	// The start was typed as a wall time in Paris (CET in January).
	if want := time.Date(2027, 1, 3, 23, 0, 0, 0, time.UTC); r.StartDate == nil || !r.StartDate.Equal(want) {
		t.Errorf("start date %v, want %s", r.StartDate, want)
	}
	if want := time.Date(2027, 6, 30, 16, 0, 0, 0, time.UTC); r.EndDate == nil || !r.EndDate.Equal(want) {
		t.Errorf("end date %v, want %s", r.EndDate, want)
	}
	if d, err := time.ParseDuration(r.FlexibleWindow); err != nil || d != 15*time.Minute {
		t.Errorf("flexible window %q, want 15m", r.FlexibleWindow)
	}
	if want := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC); len(r.NextFireTimes) == 0 || !r.NextFireTimes[0].Equal(want) {
		t.Errorf("next fire times %v, want the first at %s (09:00 in Paris)", r.NextFireTimes, want)
	}

	// Its detail shows its dates and window.
	f.press("down") // nightly-report, paris-mornings
	f.waitFor(t, "At 09:00 Europe/Paris, Monday through Friday · next Mon Jan 04 09:00 CET (in 660d) · from 2027-01-04 00:00 · until 2027-06-30 18:00",
		"starts within 15m of each fire")
}

func TestEditShowsTheDatesInTheRulesZone(t *testing.T) {
	f := setup(t, adminToken, 100, 34, "rules", func(a *agenttest.Agent) {
		start := time.Date(2027, 1, 3, 23, 0, 0, 0, time.UTC)
		a.AddRules(api.RuleInput{Name: "paris", Job: "demo", Schedule: "cron(0 9 * * ? *)", Timezone: "Europe/Paris",
			StartDate: &start, FlexibleWindow: "1h30m"})
	})
	f.waitFor(t, "live", "paris", "admin")
	f.press("e")
	f.waitFor(t, "Edit rule paris", "Time zone      Europe/Paris", "Start date     2027-01-04T00:00:00+01:00", "Flex window    1h30m")
	f.press("tab", "tab", "tab", "tab", "tab", "tab") // job, schedule, zone, start, end, window -> description
	f.typeText("mornings in Paris")
	f.press("ctrl+s")
	f.waitFor(t, "rule paris saved")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "paris")
	if err != nil {
		t.Fatal(err)
	}
	if r.Timezone != "Europe/Paris" || r.StartDate == nil || !r.StartDate.Equal(time.Date(2027, 1, 3, 23, 0, 0, 0, time.UTC)) || r.FlexibleWindow != "1h30m0s" {
		t.Errorf("an edit of the description changed the rule's zone, start or window: %+v", r)
	}
}

func TestTheAgentsRefusalsShowAtTheZoneFields(t *testing.T) {
	// An at() the clocks skip: the agent says so at the schedule.
	f := setup(t, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "skipped", "at(2027-03-14T02:30:00)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("America/New_York")
	f.press("ctrl+s")
	f.waitFor(t, "The agent refused: see the fields marked ✗.", "at(2027-03-14T02:30:00) does not exist in America/New_York:")
	screen := f.screen(t)
	contains(t, screen, "> *Schedule     ✗at(2027-03-14T02:30:00)")

	// In EventBridge rules mode, a zone is refused at the zone.
	f = setupWith(t, agenttest.Options{EventBridge: true}, adminToken, 100, 34, "rules", seedRuns)
	newRuleForm(t, f, "paris", "cron(0 9 * * ? *)")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("Europe/Paris")
	f.press("ctrl+s")
	f.waitFor(t, "The agent refused: see the fields marked ✗.", `"Europe/Paris" needs EventBridge Scheduler`)
	contains(t, f.screen(t), "> Time zone     ✗Europe/Paris")
}

func TestEditPreviewCountsARateFromTheRulesCreation(t *testing.T) {
	// The local scheduler counts rate() from the rule's creation, not from
	// the moment the form is open: the preview must show the same times.
	f := setup(t, adminToken, 100, 34, "rules", func(a *agenttest.Agent) {
		a.AddRules(api.RuleInput{Name: "every7", Job: "demo", Schedule: "rate(7 minutes)"})
	})
	f.waitFor(t, "live", "every7", "admin")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "every7")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.Parse(r.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	next, ok := s.WithAnchor(r.CreatedAt).Next(fixedNow())
	fromNow, _ := s.WithAnchor(fixedNow()).Next(fixedNow())
	if !ok || next.Equal(fromNow) {
		t.Fatalf("the test needs a creation off the clock's 7-minute grid: next %s, from now %s", next, fromNow)
	}
	f.press("down", "e")
	f.waitFor(t, "Edit rule every7", next.Format("Mon 2006-01-02 15:04 MST"))
}

// Keys typed right after e, before the form has loaded (fast typing, a
// slow agent), all reach the form in order: none moves the list below it,
// none is dropped while the rule is read.
func TestKeysTypedWhileTheFormLoadsAreKept(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e", "down", "down", "down", "down", "down", "down") // job ... window -> description
	f.typeText("typed ahead")
	f.press("ctrl+s")
	f.waitFor(t, "rule ping-partner saved")
	r, _ := f.agent.Rule("ping-partner")
	if r.Description != "typed ahead" || r.Schedule != "cron(0/5 * * * ? *)" {
		t.Errorf("after e, six ↓, typing and ctrl+s at once the rule is %+v, want the description typed", r)
	}
}

// The form does not show a rule's notifications; saving an edit keeps
// them (the replace used to clear them).
func TestEditKeepsTheRulesNotifications(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", func(a *agenttest.Agent) {
		a.AddRules(api.RuleInput{Name: "alerting", Job: "demo", Schedule: "rate(1 hour)",
			Notify: &api.NotifyPolicy{On: []string{"failed", "slow"}}})
	})
	f.waitFor(t, "live", "alerting", "admin")
	f.press("e", "down", "down", "down", "down", "down", "down")
	f.typeText("pages on failure")
	f.press("ctrl+s")
	f.waitFor(t, "rule alerting saved")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "alerting")
	if err != nil || r.Description != "pages on failure" || strings.Join(r.Notify.On, ",") != "failed,slow" {
		t.Errorf("after the edit the rule is %+v, want its notifications kept", r)
	}
}
