package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/maintenance"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// While maintenance is on, the scheduler's fires are recorded skipped with
// its reason, and it ends by itself at its end time: the switch records it
// off and audits the end, and the next fire runs.
func TestFiresDuringMaintenanceAreSkipped(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		sw := maintenance.New(maintenance.Config{Store: s})
		e := newCatchUpEnv(t, s, func(c *runner.Config) { c.Maintenance = sw.Active })
		e.hourly(t, "", 0)
		until := time.Now().Add(2*time.Hour + 30*time.Minute)
		if err := sw.Set(ctx, store.Maintenance{On: true, Until: until, Reason: "database upgrade", By: "admin"}); err != nil {
			t.Fatal(err)
		}
		swCtx, stopSwitch := context.WithCancel(ctx)
		defer stopSwitch()
		go sw.Run(swCtx)
		stop := e.scheduler(nil)
		time.Sleep(3*time.Hour + 30*time.Minute)
		stop()
		stopSwitch()

		runs, _, err := s.RunList(ctx, store.RunFilter{Rule: "hourly", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(runs) - 1; i >= 0; i-- {
			r := runs[i]
			got = append(got, r.ScheduledAt.Format("15:04")+" "+string(r.Status)+" "+r.Error)
		}
		want := []string{
			"01:00 skipped skipped: maintenance: database upgrade",
			"02:00 skipped skipped: maintenance: database upgrade",
			"03:00 succeeded ",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if m, err := s.MaintenanceGet(ctx); err != nil || m.On {
			t.Errorf("stored mode after its end time: %+v (%v), want off", m, err)
		}
		entries, _, err := s.AuditList(ctx, store.AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "maintenance.end" || entries[0].Actor != "system" ||
			entries[0].Time.Sub(until).Abs() > time.Second {
			t.Errorf("audit %+v, want one maintenance.end by system at %s", entries, until)
		}
		if on, _ := sw.Active(ctx); on {
			t.Error("the switch still says on")
		}
	})
}
