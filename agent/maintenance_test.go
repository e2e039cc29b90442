package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Maintenance mode through the API: who may read and set it, what a bad
// request gets, the audit trail and the event, deliveries skipped while it
// is on, manual runs refused unless forced.
func TestMaintenanceMode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		viewer := ta.tokenClient(t, "watcher", "viewer")
		operator := ta.tokenClient(t, "ops", "operator")
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "echo", Schedule: "cron(0 3 * * ? *)"}); err != nil {
			t.Fatal(err)
		}
		before, err := ta.admin.TriggerRule(ctx, "nightly", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, before.ID, api.StatusSucceeded)

		if m, err := viewer.Maintenance(ctx); err != nil || m.On {
			t.Fatalf("a viewer reads %+v, %v; want off", m, err)
		}
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		_, err = operator.SetMaintenance(ctx, api.Maintenance{On: true, Until: &until, Reason: "upgrade"})
		wantStatus(t, err, http.StatusForbidden, "an operator turning maintenance on")

		t.Run("bad input is 400 naming the field", func(t *testing.T) {
			past := time.Now().Add(-time.Minute)
			for _, tc := range []struct {
				in    api.Maintenance
				field string
			}{
				{api.Maintenance{On: true, Until: &past}, "body.until"},                      // an end time already passed
				{api.Maintenance{On: false, Until: &until}, "body.until"},                    // an end time for turning it off
				{api.Maintenance{On: true, Reason: strings.Repeat("x", 501)}, "body.reason"}, // over 500 bytes
				{api.Maintenance{On: true, Reason: "red \x1b[31malert"}, "body.reason"},      // an escape code
				{api.Maintenance{On: true, Reason: "two\nlines"}, "body.reason"},             // a line break
			} {
				_, err := ta.admin.SetMaintenance(ctx, tc.in)
				wantStatus(t, err, http.StatusBadRequest, "maintenance "+tc.field)
				if locs := problemLocations(err); !contains(locs, tc.field) {
					t.Errorf("%+v: problem names %v, want %s", tc.in, locs, tc.field)
				}
			}
			// Malformed JSON values are refused by the schema, naming the field.
			for body, field := range map[string]string{
				`{"on":true,"until":"tomorrow"}`: "body.until",
				`{"on":"yes"}`:                   "body.on",
			} {
				req, _ := http.NewRequest(http.MethodPut, ta.URL()+"/api/v1/maintenance", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var p api.Problem
				_ = json.NewDecoder(resp.Body).Decode(&p)
				resp.Body.Close()
				var locs []string
				for _, e := range p.Errors {
					locs = append(locs, e.Location)
				}
				if resp.StatusCode != http.StatusBadRequest || !contains(locs, field) {
					t.Errorf("PUT %s: %d naming %v, want 400 naming %s", body, resp.StatusCode, locs, field)
				}
			}
			if m, _ := ta.admin.Maintenance(ctx); m.On {
				t.Error("a refused request turned maintenance on")
			}
		})

		// A viewer's event stream tells of the change.
		streamCtx, stopStream := context.WithCancel(ctx)
		defer stopStream()
		opened, heard := make(chan struct{}), make(chan api.Event, 1)
		go func() {
			_ = viewer.StreamOpened(streamCtx, "", func() { close(opened) }, func(e api.Event) error {
				if e.Type == api.EventMaintenance {
					heard <- e
					return errors.New("heard it")
				}
				return nil
			})
		}()
		select {
		case <-opened:
		case <-time.After(10 * time.Second):
			t.Fatal("the event stream did not open")
		}
		m, err := ta.admin.SetMaintenance(ctx, api.Maintenance{On: true, Until: &until, Reason: "database upgrade"})
		if err != nil || !m.On || m.Until == nil || !m.Until.Equal(until) || m.Reason != "database upgrade" || m.By != "admin" || m.Since == nil {
			t.Fatalf("admin turning maintenance on: %+v, %v", m, err)
		}
		select {
		case e := <-heard:
			if e.Maintenance == nil || !e.Maintenance.On || e.Maintenance.Reason != "database upgrade" {
				t.Errorf("maintenance event carries %+v, want it on with its reason", e.Maintenance)
			}
		case <-time.After(10 * time.Second):
			t.Error("no maintenance event in the stream")
		}
		if got, err := viewer.Maintenance(ctx); err != nil || !got.On || got.Reason != "database upgrade" {
			t.Errorf("a viewer reads %+v, %v; want it on", got, err)
		}
		if st, err := viewer.Status(ctx); err != nil || st.Maintenance == nil || !st.Maintenance.On {
			t.Errorf("status shows maintenance %+v (%v), want on", st.Maintenance, err)
		}

		// A delivery is acknowledged and recorded skipped.
		code, body := deliver(t, ta, "nightly", "during-maintenance")
		var wr api.WebhookResponse
		_ = json.Unmarshal([]byte(body), &wr)
		if code != http.StatusAccepted {
			t.Fatalf("delivery during maintenance: %d %s, want 202", code, body)
		}
		if r := ta.waitRun(t, wr.RunID, api.StatusSkipped); r.Error != "skipped: maintenance: database upgrade" {
			t.Errorf("skipped run's error %q", r.Error)
		}

		// A manual run and a restart are refused, and start when forced.
		_, err = operator.TriggerRule(ctx, "nightly", nil)
		wantStatus(t, err, http.StatusConflict, "trigger during maintenance")
		wantDetail(t, err, `maintenance mode is on (database upgrade) until `+until.Format(time.RFC3339)+`: runs do not start; send "force": true to start this one anyway`)
		if got := client.ProblemTypeOf(err); got != api.ProblemMaintenance {
			t.Errorf("trigger during maintenance: problem type %q, want %q", got, api.ProblemMaintenance)
		}
		_, err = operator.RestartRun(ctx, before.ID, nil)
		wantStatus(t, err, http.StatusConflict, "restart during maintenance")
		if got := client.ProblemTypeOf(err); got != api.ProblemMaintenance {
			t.Errorf("restart during maintenance: problem type %q, want %q", got, api.ProblemMaintenance)
		}
		forced, err := operator.TriggerRuleWith(ctx, "nightly", api.RunParams{Force: true})
		if err != nil {
			t.Fatalf("forced trigger: %v", err)
		}
		ta.waitRun(t, forced.ID, api.StatusSucceeded)
		again, err := operator.RestartRunWith(ctx, before.ID, api.RunParams{Force: true})
		if err != nil {
			t.Fatalf("forced restart: %v", err)
		}
		ta.waitRun(t, again.ID, api.StatusSucceeded)

		if m, err := ta.admin.SetMaintenance(ctx, api.Maintenance{On: false}); err != nil || m.On {
			t.Fatalf("admin turning maintenance off: %+v, %v", m, err)
		}
		if _, err := operator.TriggerRule(ctx, "nightly", nil); err != nil {
			t.Errorf("trigger after maintenance: %v", err)
		}
		audit, err := ta.admin.Audit(ctx, 20, "")
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit.Items {
			if strings.HasPrefix(e.Action, "maintenance.") {
				actions = append(actions, e.Actor+" "+e.Action+" "+e.Detail)
			}
		}
		want := []string{"admin maintenance.off ", "admin maintenance.on until " + until.Format(time.RFC3339) + "; reason: database upgrade"}
		if strings.Join(actions, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
		}
	})
}

// Maintenance with an end time ends by itself: the mode reads off, the end
// is audited by "system" and published.
func TestMaintenanceEndsByItself(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		_, evs, _, cancel := ta.Events().Subscribe(0)
		defer cancel()
		until := time.Now().Add(1500 * time.Millisecond)
		if _, err := ta.admin.SetMaintenance(ctx, api.Maintenance{On: true, Until: &until, Reason: "short"}); err != nil {
			t.Fatal(err)
		}
		var ended events.Event
		wait.For(t, 10*time.Second, func() (bool, string) {
			for {
				select {
				case e := <-evs:
					if e.Type == api.EventMaintenance && e.Maintenance != nil && !e.Maintenance.On {
						ended = e
						return true, ""
					}
				default:
					return false, "no event says maintenance ended"
				}
			}
		})
		if ended.Time.Before(until) {
			t.Errorf("maintenance ended at %s, before its end time %s", ended.Time, until)
		}
		if m, err := ta.admin.Maintenance(ctx); err != nil || m.On {
			t.Errorf("after its end time: %+v, %v; want off", m, err)
		}
		audit, err := ta.admin.Audit(ctx, 5, "")
		if err != nil || len(audit.Items) == 0 || audit.Items[0].Action != "maintenance.end" || audit.Items[0].Actor != "system" {
			t.Errorf("latest audit entry %+v (%v), want maintenance.end by system", audit.Items, err)
		}
	})
}

// On PostgreSQL, maintenance turned on through one agent holds on the
// others within a couple of seconds: their deliveries are skipped too.
func TestMaintenanceAcrossAgents(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 2)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "echo", Schedule: "cron(0 3 * * ? *)"}); err != nil {
		t.Fatal(err)
	}
	if _, err := agents[0].admin.SetMaintenance(ctx, api.Maintenance{On: true, Reason: "cluster upgrade"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 3*time.Second, func() (bool, string) {
		m, err := agents[1].admin.Maintenance(ctx)
		return err == nil && m.On, "the other agent does not say maintenance is on"
	})
	code, body := deliver(t, agents[1], "nightly", "other-agent")
	var wr api.WebhookResponse
	_ = json.Unmarshal([]byte(body), &wr)
	if r := agents[1].waitRun(t, wr.RunID, api.StatusSkipped); code != http.StatusAccepted || r.Error != "skipped: maintenance: cluster upgrade" {
		t.Errorf("delivery to the other agent: %d, run %s %q", code, r.Status, r.Error)
	}
}
