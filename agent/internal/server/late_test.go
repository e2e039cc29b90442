package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A delivery whose fire time is older than the rule's maxLateness (AWS
// retries for up to a day) is recorded skipped, "late", and acknowledged so
// that AWS stops retrying; a timely one, or one of a rule without a bound,
// runs.
func TestWebhookLateDeliveryIsSkipped(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, key)
		ctx := context.Background()
		if _, err := s.RuleCreate(ctx, store.Rule{Name: "bounded", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: true,
			Policy: store.RunPolicy{MaxLateness: 10 * time.Minute}}); err != nil {
			t.Fatal(err)
		}
		deliver := func(rule, id string, at time.Time) (answer, store.Run) {
			t.Helper()
			a := f.post(t, key, fmt.Sprintf(`{"rule":%q,"eventId":%q,"time":%q}`, rule, id, at.UTC().Format(time.RFC3339)))
			if a.status != http.StatusAccepted && a.status != http.StatusOK {
				t.Fatalf("delivery %s: status %d %s, want it acknowledged", id, a.status, a.body)
			}
			run, err := s.RunGet(ctx, a.webhook(t).RunID)
			if err != nil {
				t.Fatal(err)
			}
			return a, run
		}

		a, run := deliver("bounded", "late-1", time.Now().Add(-2*time.Hour))
		if a.status != http.StatusAccepted || run.Status != api.StatusSkipped || run.Trigger != api.TriggerSchedule {
			t.Errorf("a delivery 2h late: %d, run %s %s; want 202 and a skipped scheduled run", a.status, run.Status, run.Trigger)
		}
		if !strings.HasPrefix(run.Error, "skipped: late: the delivery came 2h0m") || !strings.Contains(run.Error, "maxLateness 10m") {
			t.Errorf("late run's error = %q, want it to start %q and name the bound", run.Error, "skipped: late: the delivery came 2h0m")
		}
		if again, dup := deliver("bounded", "late-1", time.Now().Add(-2*time.Hour)); again.status != http.StatusOK || dup.ID != run.ID {
			t.Errorf("AWS's retry of the late delivery: %d run %s, want 200 with the same run %s", again.status, dup.ID, run.ID)
		}

		// With a flexible window, AWS may deliver anywhere in it: a
		// delivery 20m after its fire time, inside a 30m window, is on
		// time; one 45m after it is 15m late.
		if _, err := s.RuleCreate(ctx, store.Rule{Name: "windowed", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: true,
			FlexibleWindow: 30 * time.Minute, Policy: store.RunPolicy{MaxLateness: 10 * time.Minute}}); err != nil {
			t.Fatal(err)
		}
		if _, run := deliver("windowed", "in-window-1", time.Now().Add(-20*time.Minute)); run.Status != api.StatusRunning {
			t.Errorf("a delivery inside its flexible window: %s %q, want running", run.Status, run.Error)
		}
		if _, run := deliver("windowed", "after-window-1", time.Now().Add(-45*time.Minute)); run.Status != api.StatusSkipped ||
			!strings.HasPrefix(run.Error, "skipped: late: the delivery came 15m") || !strings.Contains(run.Error, "after the flexible window 30m0s of its fire time") {
			t.Errorf("a delivery 15m after its window: %s %q, want skipped, late by 15m after the window", run.Status, run.Error)
		}

		if _, run := deliver("bounded", "timely-1", time.Now().Add(-time.Minute)); run.Status != api.StatusRunning {
			t.Errorf("a delivery 1m late with a 10m bound: %s %q, want running", run.Status, run.Error)
		}
		if _, run := deliver("nightly", "unbounded-1", time.Now().Add(-20*time.Hour)); run.Status != api.StatusRunning {
			t.Errorf("a delivery 20h late of a rule without maxLateness: %s %q, want running", run.Status, run.Error)
		}
	})
}
