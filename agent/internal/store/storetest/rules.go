package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func fullRule(name string) store.Rule {
	return store.Rule{
		Name:     name,
		Job:      "demo",
		Schedule: "cron(0/5 * * * ? *)",
		Timezone: "America/New_York",
		// Dates and window are kept to the microsecond and the nanosecond.
		StartDate:      oddTime(-48 * time.Hour),
		EndDate:        oddTime(48 * time.Hour),
		FlexibleWindow: 15*time.Minute + 1,
		Enabled:        true,
		Parameters: map[string]string{
			"duration": "10s",
			"quoted":   `she said "hi" \ ünïcødé ✓`,
			"empty":    "",
			"json":     `{"nested": [1, 2]}`,
		},
		Description: "every five minutes",
		Timeout:     90*time.Second + 1,
		Overlap:     api.OverlapSkip,
		Notify:      store.NotifyPolicy{On: []string{"failed", "recovered"}, Channels: []string{"email"}},
		Policy: store.RunPolicy{
			Retry:   &store.RetryPolicy{Attempts: 3, Backoff: 10*time.Second + 1, MaxBackoff: time.Hour, Jitter: 0.25},
			CatchUp: api.CatchUpAll, CatchUpWindow: 6 * time.Hour, MaxLateness: 30 * time.Minute, WarnAfter: time.Minute + 1,
		},
		Sync:      store.Sync{State: "synced", ARN: "arn:aws:events:eu-west-1:1:rule/x", At: oddTime(time.Hour)},
		CreatedAt: oddTime(0),
		UpdatedAt: oddTime(time.Minute),
	}
}

// asStored is r with its times as the store keeps them.
func asStored(r store.Rule) store.Rule {
	r.CreatedAt, r.UpdatedAt, r.Sync.At = stored(r.CreatedAt), stored(r.UpdatedAt), stored(r.Sync.At)
	r.StartDate, r.EndDate = storedOrZero(r.StartDate), storedOrZero(r.EndDate)
	if r.Timezone == "" {
		r.Timezone = "UTC"
	}
	if r.Version == 0 {
		r.Version = 1
	}
	return r
}

func storedOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return stored(t)
}

func wantRule(t *testing.T, got, want store.Rule, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testRules(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		want := asStored(fullRule("nightly"))
		got, err := s.RuleCreate(t.Context(), fullRule("nightly"))
		must(t, err, "create rule")
		wantRule(t, got, want, "RuleCreate's answer")
		got, err = s.RuleGet(t.Context(), "nightly")
		must(t, err, "get rule")
		wantRule(t, got, want, "RuleGet after create")
	})
	t.Run("CreateDefaults", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		before := time.Now().Add(-time.Second)
		_, err := s.RuleCreate(t.Context(), store.Rule{Name: "bare", Job: "demo", Schedule: "rate(1 hour)"})
		must(t, err, "create rule")
		got, err := s.RuleGet(t.Context(), "bare")
		must(t, err, "get rule")
		if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("times default to now: got created %v updated %v", got.CreatedAt, got.UpdatedAt)
		}
		if got.Parameters == nil || len(got.Parameters) != 0 || got.Enabled || !got.Sync.At.IsZero() ||
			got.Timezone != "UTC" || !got.StartDate.IsZero() || !got.EndDate.IsZero() || got.FlexibleWindow != 0 ||
			!reflect.DeepEqual(got.Policy, store.RunPolicy{}) {
			t.Errorf("empty fields read back empty: got %+v", got)
		}
	})
	t.Run("Maintenance", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		got, err := s.MaintenanceGet(t.Context())
		must(t, err, "get maintenance before any")
		if got != (store.Maintenance{}) {
			t.Fatalf("maintenance never set reads %+v, want off", got)
		}
		on := store.Maintenance{On: true, Until: oddTime(time.Hour), Reason: "db upgrade ✓", By: "alice", Since: oddTime(0)}
		must(t, s.MaintenanceSet(t.Context(), on), "set maintenance on")
		got, err = s.MaintenanceGet(t.Context())
		must(t, err, "get maintenance")
		want := on
		want.Until, want.Since = stored(on.Until), stored(on.Since)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("maintenance read back\n got %+v\nwant %+v", got, want)
		}
		must(t, s.MaintenanceSet(t.Context(), store.Maintenance{}), "set maintenance off")
		if got, err = s.MaintenanceGet(t.Context()); err != nil || got.On {
			t.Fatalf("maintenance after off: %+v, %v", got, err)
		}
	})
	t.Run("CreateTakenName", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		_, err := s.RuleCreate(t.Context(), fullRule("dup"))
		must(t, err, "create rule")
		_, err = s.RuleCreate(t.Context(), fullRule("dup"))
		wantErr(t, err, store.ErrConflict, "create a rule whose name is taken")
	})
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		_, err := s.RuleGet(t.Context(), "nope")
		wantErr(t, err, store.ErrNotFound, "get a missing rule")
		_, err = s.RuleUpdate(t.Context(), fullRule("nope"))
		wantErr(t, err, store.ErrNotFound, "update a missing rule")
		wantErr(t, s.RuleDelete(t.Context(), "nope"), store.ErrNotFound, "delete a missing rule")
		wantErr(t, s.RuleSetSync(t.Context(), "nope", store.Sync{State: "error"}), store.ErrNotFound, "set sync of a missing rule")
	})
	t.Run("ListByName", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		rules, err := s.RuleList(t.Context())
		must(t, err, "list rules of an empty store")
		if len(rules) != 0 {
			t.Fatalf("empty store lists %d rules", len(rules))
		}
		for _, n := range []string{"charlie", "alpha", "bravo"} {
			_, err := s.RuleCreate(t.Context(), fullRule(n))
			must(t, err, "create rule "+n)
		}
		rules, err = s.RuleList(t.Context())
		must(t, err, "list rules")
		var names []string
		for _, r := range rules {
			names = append(names, r.Name)
		}
		if !reflect.DeepEqual(names, []string{"alpha", "bravo", "charlie"}) {
			t.Fatalf("RuleList order: got %v, want by name", names)
		}
		wantRule(t, rules[0], asStored(fullRule("alpha")), "listed rule")
	})
	t.Run("UpdateKeepsCreatedAt", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		orig, err := s.RuleCreate(t.Context(), fullRule("r"))
		must(t, err, "create rule")
		upd := store.Rule{
			Name: "r", Job: "http", Schedule: "rate(5 minutes)", Enabled: false,
			Parameters: map[string]string{"url": "https://example.com"}, Description: "changed",
			Overlap: api.OverlapAllow, CreatedAt: oddTime(-24 * time.Hour), UpdatedAt: oddTime(2 * time.Hour),
		}
		want := asStored(upd)
		want.CreatedAt = orig.CreatedAt
		want.Version = 2
		got, err := s.RuleUpdate(t.Context(), upd)
		must(t, err, "update rule")
		wantRule(t, got, want, "RuleUpdate's answer")
		got, err = s.RuleGet(t.Context(), "r")
		must(t, err, "get rule")
		wantRule(t, got, want, "RuleGet after update")
	})
	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		_, err := s.RuleCreate(t.Context(), fullRule("gone"))
		must(t, err, "create rule")
		must(t, s.RuleDelete(t.Context(), "gone"), "delete rule")
		_, err = s.RuleGet(t.Context(), "gone")
		wantErr(t, err, store.ErrNotFound, "get a deleted rule")
	})
	t.Run("SetSync", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		orig, err := s.RuleCreate(t.Context(), fullRule("r"))
		must(t, err, "create rule")
		sy := store.Sync{State: "error", Error: "AccessDenied: no", ARN: "", At: oddTime(3 * time.Hour)}
		must(t, s.RuleSetSync(t.Context(), "r", sy), "set sync")
		got, err := s.RuleGet(t.Context(), "r")
		must(t, err, "get rule")
		want := orig
		want.Sync = store.Sync{State: "error", Error: "AccessDenied: no", At: stored(sy.At)}
		wantRule(t, got, want, "rule after RuleSetSync (UpdatedAt unchanged)")
	})
}
