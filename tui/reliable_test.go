package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The runs of a retried series, a missed fire, a catch-up and a slow run.
var (
	retried1 = runID(1, "aaaa1111") // ping-partner, failed
	retried2 = runID(2, "bbbb2222") // its first retry, failed
	retried3 = runID(3, "cccc3333") // its second retry, queued for 12:01:30
	missed   = runID(4, "dddd4444") // nightly-report, missed
	caughtUp = runID(5, "eeee5555") // nightly-report, catch-up, succeeded
	slow     = runID(6, "ffff6666") // nightly-report, running past warnAfter
)

// missedFire is the fire of nightly-report the dead-man's switch waits for.
var missedFire = clock.Add(-8 * time.Minute)

// seedReliable gives the agent two rules with run policies and runs in the
// states of issue 16. The runs are written to the agent's store while it
// is stopped (stopped, if not nil, seeds more meanwhile), so that its
// dead-man's switch, as it starts again, finds the missed fire of
// nightly-report that no later fire followed and reports the rule
// missing. The running run, which a start would mark interrupted, is
// seeded after. It returns once the agent reports the rule missing.
func seedReliable(t *testing.T, a *agenttest.Agent, stopped func()) {
	a.AddRules(
		api.RuleInput{Name: "nightly-report", Job: "demo", Schedule: "cron(0 2 * * ? *)",
			Parameters: map[string]string{"duration": "30s"},
			RunPolicy:  api.RunPolicy{CatchUp: api.CatchUpLatest, CatchUpWindow: "2h", WarnAfter: "5m"}},
		api.RuleInput{Name: "ping-partner", Job: "http", Schedule: "cron(0/5 * * * ? *)", Overlap: api.OverlapQueue,
			Parameters: map[string]string{"url": "https://partner.example/ping"},
			RunPolicy:  api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 3, Backoff: "30s", Jitter: 0.2}, MaxLateness: "10m"}},
	)
	at := func(min int) time.Time { return clock.Add(-time.Duration(min) * time.Minute) }
	fin := func(start time.Time, d time.Duration) *time.Time { return ptr(start.Add(d)) }
	params := map[string]string{"url": "https://partner.example/ping"}
	a.Stop()
	a.AddRuns(
		api.Run{ID: retried1, Rule: "ping-partner", Job: "http", Status: api.StatusFailed, Trigger: api.TriggerSchedule,
			CreatedAt: at(40), StartedAt: ptr(at(40)), FinishedAt: fin(at(40), 2*time.Second), Error: "partner answered 503",
			Parameters: params, Attempt: 1},
		api.Run{ID: retried2, Rule: "ping-partner", Job: "http", Status: api.StatusFailed, Trigger: api.TriggerRetry,
			CreatedAt: at(35), StartedAt: ptr(at(35)), FinishedAt: fin(at(35), 2*time.Second), Error: "partner answered 503",
			Parameters: params, Attempt: 2, RetryOf: retried1},
		api.Run{ID: retried3, Rule: "ping-partner", Job: "http", Status: api.StatusQueued, Trigger: api.TriggerRetry,
			CreatedAt: at(30), Parameters: params, Attempt: 3, RetryOf: retried1, NotBefore: ptr(clock.Add(90 * time.Second))},
		api.Run{ID: missed, Rule: "nightly-report", Job: "demo", Status: api.StatusMissed, Trigger: api.TriggerSchedule,
			CreatedAt: at(6), ScheduledAt: ptr(missedFire), FinishedAt: ptr(at(6)),
			Error: "the fire of 11:52 UTC did not come within 2m"},
		api.Run{ID: caughtUp, Rule: "nightly-report", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerCatchUp,
			CreatedAt: at(20), ScheduledAt: ptr(at(600)), StartedAt: ptr(at(20)), FinishedAt: fin(at(20), 31*time.Second),
			Progress: api.Progress{Percent: 100}, Parameters: map[string]string{"duration": "30s"}},
	)
	if stopped != nil {
		stopped()
	}
	a.Resume()
	a.AddRuns(
		api.Run{ID: slow, Rule: "nightly-report", Job: "demo", Status: api.StatusRunning, Trigger: api.TriggerManual,
			CreatedAt: at(9), StartedAt: ptr(at(9)), Progress: api.Progress{Percent: 20, Message: "step 2 of 10"},
			Parameters: map[string]string{"duration": "30m"}, Slow: true},
	)
	c := a.Client(adminToken)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatalf("agent status: %v", err)
		}
		if st.Missing == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent reports %d rules missing, want nightly-report's missed fire of %s", st.Missing, missedFire)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reliable seeds as seedReliable.
func reliable(t *testing.T) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) { seedReliable(t, a, nil) }
}

// reliableInMaintenance seeds as seedReliable and turns maintenance mode
// on through the API, as an admin does.
func reliableInMaintenance(t *testing.T, m api.Maintenance) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) {
		seedReliable(t, a, nil)
		if _, err := a.Client(adminToken).SetMaintenance(context.Background(), m); err != nil {
			t.Fatalf("turn maintenance on: %v", err)
		}
	}
}

func TestRunsShowQueuedMissedAndSlowRunsAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", reliable(t))
	f.waitFor(t, "live", "retry at 13:01:30", "missed", "slow", "store sqlite", "[all 6]")
	requireGolden(t, f.screen(t))
}

func TestRunsShowRetriesAndCatchUpsWide(t *testing.T) {
	f := setup(t, adminToken, 140, 24, "", reliable(t))
	f.waitFor(t, "live", "retry 3", "catchup", "store sqlite", "[all 6]")
	requireGolden(t, f.screen(t))
}

func TestActiveTabHoldsQueuedRunsAndMissedHasItsOwn(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "runs queued", reliable(t))
	f.waitFor(t, "[active 2]", "Runs 2 ", "retry at 13:01:30")
	f.press("tab", "tab", "tab", "tab", "tab", "tab") // failed, succeeded, cancelled, interrupted, skipped, missed
	f.waitFor(t, "[missed 1]", "Runs 1 ")
	screen := f.screen(t)
	contains(t, screen, "nightly-report", "missed")
	if strings.Contains(screen, "ping-partner") {
		t.Errorf("the missed tab shows ping-partner's runs:\n%s", screen)
	}
}

func TestRunDetailShowsTheAttemptsAndMovesBetweenThem(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+retried3, reliable(t))
	f.waitFor(t, "live", "QUEUED", "Queued: retry at 13:01:30 (in 1m)", "Attempt 3 of 3", "[3 cccc3333 queued]", "retry of aaaa1111",
		"scheduler local · admin", "[/] attempts", "No log lines yet.")
	requireGolden(t, f.screen(t))

	f = setup(t, adminToken, 80, 24, "run "+retried3, reliable(t))
	f.waitFor(t, "Attempt 3 of 3", "admin")
	f.press("[")
	f.waitFor(t, "Run "+retried2, "Attempt 2 of 3", "[2 bbbb2222 failed]")
	f.press("[")
	f.waitFor(t, "Run "+retried1, "Attempt 1 of 3", "[1 aaaa1111 failed]")
	f.press("[") // the first: it stays
	f.press("]", "]")
	f.waitFor(t, "Run "+retried3+"  QUEUED")
}

func TestRunDetailFlagsASlowRunAndAMissedFire(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+slow, reliable(t))
	f.waitFor(t, "RUNNING SLOW", "Slow: running longer than its rule's warnAfter")
	f = setup(t, adminToken, 80, 24, "run "+missed, reliable(t))
	f.waitFor(t, "MISSED", "Error: the fire of 11:52 UTC did not come within 2m")
	f = setup(t, adminToken, 80, 24, "run "+caughtUp, reliable(t))
	f.waitFor(t, "Trigger catchup of the fire at 03:00")
}

func TestCancelAQueuedRunAsksFirst(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "runs active", reliable(t))
	f.waitFor(t, "live", "retry at 13:01:30", "operator")
	f.press("down") // the slow run, then the queued one
	f.press("c")
	f.waitFor(t, "Cancel queued run cccc3333 of ping-partner? (y/N)")
	f.press("y")
	f.waitFor(t, "cccc3333")
	deadline := time.Now().Add(5 * time.Second)
	for f.requests.count("POST /api/v1/runs/"+retried3+"/cancel") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("y did not send the cancel of the queued run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The queued run leaves the active tab once the agent has cancelled it.
	f.waitFor(t, "Runs 1 ")
	if r := f.agent.Run(retried3); r.Status != api.StatusCancelled || r.CancelledBy != agenttest.OperatorName {
		t.Errorf("the agent has the queued run %s, cancelled by %q; want cancelled by the operator", r.Status, r.CancelledBy)
	}
}

func TestHeaderShowsMaintenanceAndMissingRules(t *testing.T) {
	// The agent's API refuses a reason with an escape: it is written to
	// the store, as another agent or an older version may have left it.
	f := setup(t, adminToken, 80, 24, "rules", func(a *agenttest.Agent) {
		seedReliable(t, a, func() {
			a.SeedMaintenance(api.Maintenance{On: true, Until: ptr(clock.Add(time.Hour)), Reason: "db upgrade\x1b[31m",
				By: agenttest.AdminName, Since: ptr(clock)})
		})
	})
	// The reason's escape is shown, not obeyed, as everything from the agent.
	f.waitFor(t, "live", `MAINTENANCE until 14:00 — db upgrade\x1b[31m (admin)`, "1 rule missing", "MISSED since 12:52")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "\x1b[31m") {
		t.Errorf("the agent's reason is drawn raw:\n%q", screen)
	}
}

func TestRulesShowThePolicyAndAMissedFireWide(t *testing.T) {
	f := setup(t, adminToken, 140, 20, "rules", reliable(t))
	f.waitFor(t, "live", "admin", "MISSED since 12:52", "catch up latest 2h · slow after 5m")
	requireGolden(t, f.screen(t))

	f = setup(t, adminToken, 140, 20, "rules", reliable(t))
	f.waitFor(t, "live", "MISSED since 12:52")
	f.press("down")
	f.waitFor(t, "queues overlapping fires · retry 3× from 30s (max 1h, jitter 0.2) · late after 10m")
}

func TestMaintenanceEventsChangeTheHeader(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report", "store sqlite")
	// An admin turns maintenance on and off: the agent announces each.
	admin := f.agent.Client(adminToken)
	if _, err := admin.SetMaintenance(context.Background(), api.Maintenance{On: true, Reason: "move to new racks"}); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "MAINTENANCE — move to new racks (admin)")
	if _, err := admin.SetMaintenance(context.Background(), api.Maintenance{On: false}); err != nil {
		t.Fatal(err)
	}
	// Events come in order: once the next one shows, the end of
	// maintenance has been read.
	f.agent.Progress(run4, 70, "step 7 of 10")
	f.waitFor(t, " 70%")
	screen := f.screen(t)
	if strings.Contains(screen, "MAINTENANCE") {
		t.Errorf("maintenance still shows after it ended:\n%s", screen)
	}
	if n := len(strings.Split(screen, "\n")); n != 24 {
		t.Errorf("the screen has %d lines after the alert line went, want 24", n)
	}
}

func TestRunNowDuringMaintenanceOffersToForce(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", reliableInMaintenance(t, api.Maintenance{On: true, Reason: "db upgrade"}))
	f.waitFor(t, "live", "MAINTENANCE", "operator", "MISSED since 12:52")
	f.press("r")
	f.goingAnyway(t, "nightly-report")
	f.waitFor(t, "Run nightly-report anyway (force)? maintenance mode is on (db upgrade)", "(y/N)")
	f.press("n")
	f.waitFor(t, "not done")
	if got := f.requests.forced(); got != 0 {
		t.Fatalf("answering n sent %d forced runs", got)
	}
	f.press("r")
	f.goingAnyway(t, "nightly-report")
	f.waitFor(t, "anyway (force)?")
	f.press("y")
	f.waitFor(t, "Trigger manual by operator")
	if got := f.requests.forced(); got != 1 {
		t.Errorf("answering y sent %d forced runs, want 1", got)
	}
	runs := f.agent.Runs()
	if runs[0].Rule != "nightly-report" || runs[0].Trigger != api.TriggerManual {
		t.Errorf("the newest run is %+v, want the forced manual run of nightly-report", runs[0])
	}
}

func TestRuleFormSendsTheRunPolicy(t *testing.T) {
	f := setup(t, adminToken, 80, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("orders-policy")
	f.press("tab", "right", "right", "right", "tab") // job: demo -> echo -> http -> orders.increment
	f.typeText("rate(1 hour)")
	f.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab") // zone, start, end, window, description, enabled, timeout -> overlap
	f.press("right", "right")                                       // allow -> skip -> queue
	f.press("tab")                                                  // -> increment
	f.typeText("1")
	f.press("tab", "tab") // name -> retries
	f.typeText("3")
	f.press("tab")
	f.typeText("45s")
	f.press("tab")
	f.typeText("10m")
	f.press("tab")
	f.typeText("0.5")
	f.press("tab", "right", "tab") // catch up: none -> latest, then look back
	f.typeText("2h")
	f.press("tab")
	f.typeText("15m")
	f.press("tab")
	f.typeText("5m")
	f.press("ctrl+s")
	f.waitFor(t, "rule orders-policy created")
	r, err := f.agent.Client(adminToken).Rule(context.Background(), "orders-policy")
	if err != nil {
		t.Fatal(err)
	}
	want := api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 3, Backoff: "45s", MaxBackoff: "10m", Jitter: 0.5},
		CatchUp: api.CatchUpLatest, CatchUpWindow: "2h", MaxLateness: "15m", WarnAfter: "5m"}
	if r.Retry == nil || *r.Retry != *want.Retry || r.CatchUp != want.CatchUp || r.CatchUpWindow != want.CatchUpWindow ||
		r.MaxLateness != want.MaxLateness || r.WarnAfter != want.WarnAfter || r.Overlap != api.OverlapQueue {
		t.Errorf("the rule was saved with overlap %s and policy %+v (retry %+v), want queue and %+v (retry %+v)",
			r.Overlap, r.RunPolicy, r.Retry, want, want.Retry)
	}
}

func TestRuleFormShowsThePolicyErrorsOfTheAgentAtTheirFields(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("orders-policy")
	f.press("tab", "right", "right", "right", "tab")
	f.typeText("rate(1 hour)")
	f.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab") // -> increment
	f.typeText("1")
	f.press("tab", "tab") // -> retries
	// More retries than the agent allows, and a look-back without a
	// catch-up: both are the agent's to refuse, at their fields.
	f.typeText("500")
	f.press("tab", "tab", "tab", "tab", "tab")
	f.typeText("2h")
	f.press("ctrl+s")
	f.waitFor(t, "The agent refused: see the fields marked ✗.", "500 is outside 1 to 100")
	requireGolden(t, f.screen(t))

	f = setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("n")
	f.waitFor(t, "New rule", "*Name")
	f.typeText("orders-policy")
	f.press("tab", "right", "right", "right", "tab")
	f.typeText("rate(1 hour)")
	f.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab")
	f.typeText("1")
	f.press("tab", "tab", "tab", "tab", "tab", "tab", "tab") // -> look back
	f.typeText("2h")
	f.press("ctrl+s")
	f.waitFor(t, "The agent refused", "is set but catchUp is none")
}

func TestRuleFormChecksThePolicyAsItIsTyped(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("down", "e") // ping-partner: job http, many parameters; its policy is at the end
	f.waitFor(t, "Edit rule ping-partner", "*url")
	for range 40 {
		f.press("tab")
	}
	f.waitFor(t, "> On finish") // the chains come last
	f.press("shift+tab", "shift+tab", "shift+tab")
	f.waitFor(t, "> Warn after")
	f.typeText("soon")
	f.press("shift+tab")
	f.waitFor(t, `"soon" is not a duration`)
}

func TestRunDetailFollowsTheSeriesFromTheStream(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "run "+retried2, reliable(t))
	f.waitFor(t, "Attempt 2 of 3", "[2 bbbb2222 failed]", "3 cccc3333 queued")
	// The queued retry fails, and the rule's policy queues another: the
	// agent announces both on its stream (the seeded retry, queued, has no
	// job to run; its end is only announced).
	f.agent.PublishRun(api.EventRunFinished, api.Run{ID: retried3, Rule: "ping-partner", Job: "http", Status: api.StatusFailed,
		Trigger: api.TriggerRetry, Attempt: 3, RetryOf: retried1, CreatedAt: clock.Add(-30 * time.Minute),
		StartedAt: ptr(clock), FinishedAt: ptr(clock), Error: "partner answered 503"}, nil)
	next := api.Run{ID: runID(7, "abcd7777"), Rule: "ping-partner", Job: "http", Status: api.StatusQueued,
		Trigger: api.TriggerRetry, Attempt: 4, RetryOf: retried1, CreatedAt: clock, NotBefore: ptr(clock.Add(time.Minute)),
		Parameters: map[string]string{"url": "https://partner.example/ping"}}
	f.agent.AddRuns(next)
	f.agent.PublishRun(api.EventRunQueued, next, nil)
	// Four attempts do not fit 80 columns with their ids: they go.
	f.waitFor(t, "Attempt 2 of 4 1 failed · [2 failed] · 3 failed · 4 queued")
}

func TestRestartDuringMaintenanceOffersToForce(t *testing.T) {
	// The catch-up of nightly-report: its job, demo, runs in the agent
	// (ping-partner's, http, would reach out to the partner).
	f := setup(t, operatorToken, 80, 24, "run "+caughtUp, reliableInMaintenance(t, api.Maintenance{On: true, Reason: "db upgrade"}))
	f.waitFor(t, "MAINTENANCE", "operator", "Trigger catchup")
	f.press("r")
	f.goingAnyway(t, "nightly-report")
	f.waitFor(t, "Restart run eeee5555 anyway (force)? maintenance mode is on", "(y/N)")
	f.press("y")
	f.waitFor(t, "restarted as run", "Restart of eeee5555")
	if got := f.requests.forced(); got != 1 {
		t.Errorf("answering y sent %d forced restarts, want 1", got)
	}
	if runs := f.agent.Runs(); runs[0].RestartOf != caughtUp || runs[0].TriggeredBy != agenttest.OperatorName {
		t.Errorf("the newest run is %+v, want the operator's restart of %s", runs[0], caughtUp)
	}
}

func TestRunNowWithParametersDuringMaintenanceOffersToForce(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", reliableInMaintenance(t, api.Maintenance{On: true, Reason: "db upgrade"}))
	f.waitFor(t, "live", "MAINTENANCE", "operator", "MISSED since 12:52")
	f.press("R")
	f.waitFor(t, "Run nightly-report now", "duration")
	f.press("ctrl+a", "ctrl+k")
	f.typeText("2m")
	f.press("ctrl+s")
	f.waitFor(t, "Run nightly-report anyway (force)?", "(y/N)")
	f.press("y")
	f.waitFor(t, "Trigger manual by operator", "duration=2m")
	if got := f.requests.forced(); got != 1 {
		t.Errorf("answering y sent %d forced runs, want 1", got)
	}
}

// longReason is a maintenance reason longer than a line of 80 columns.
const longReason = "db upgrade to PostgreSQL 17, do not start runs by hand until the migration of the run history is checked END"

// At 80 columns a long question wraps, up to 3 lines over the body, its
// answer keys last; the maintenance reason, cut on the alert line, is
// whole under ?'s Health.
func TestLongConfirmationWrapsAt80x24(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", reliableInMaintenance(t, api.Maintenance{On: true, Reason: longReason}))
	f.waitFor(t, "live", "MAINTENANCE", "operator", "MISSED since 12:52")
	f.press("r")
	f.goingAnyway(t, "nightly-report")
	f.waitFor(t, "is checked END)", "(y/N)")
	requireGolden(t, f.screen(t))
}

func TestHelpSaysTheWholeMaintenanceReason(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "rules", reliableInMaintenance(t, api.Maintenance{On: true, Reason: longReason}))
	f.waitFor(t, "live", "MAINTENANCE", "operator", "MISSED since 12:52")
	f.press("?")
	f.waitFor(t, "Health", "checked END")
	requireGolden(t, f.screen(t))
}

// A filter's error is read whole in the note, wrapped.
func TestLongNoteWrapsAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "", seedRuns)
	f.waitFor(t, "live", "nightly-report")
	f.press("/")
	f.typeText("status:banana")
	f.press("enter")
	f.waitFor(t, "interrupted,skipped,missed")
	requireGolden(t, f.screen(t))
}
