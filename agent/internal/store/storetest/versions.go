package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// wantStale fails unless err is a *store.StaleError for rule at current
// that matches store.ErrStale.
func wantStale(t *testing.T, err error, rule string, expected, current int64, what string) {
	t.Helper()
	var se *store.StaleError
	if !errors.Is(err, store.ErrStale) || !errors.As(err, &se) || se.Rule != rule || se.Expected != expected || se.Current != current {
		t.Fatalf("%s: got %v, want a StaleError for %q expecting %d at %d", what, err, rule, expected, current)
	}
}

func testVersions(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("CountChanges", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := fullRule("v")
		r.Version = 7 // ignored: a new rule is at 1
		got, err := s.RuleCreate(ctx, r)
		must(t, err, "create rule")
		if got.Version != 1 {
			t.Fatalf("created rule at version %d, want 1", got.Version)
		}
		r.Version = 0 // any
		r.Description = "any version"
		got, err = s.RuleUpdate(ctx, r)
		must(t, err, "update at any version")
		if got.Version != 2 {
			t.Fatalf("updated rule at version %d, want 2", got.Version)
		}
		r.Version = 2
		r.Description = "at 2"
		got, err = s.RuleUpdate(ctx, r)
		must(t, err, "update at the stored version")
		if got.Version != 3 || got.Description != "at 2" {
			t.Fatalf("updated rule: version %d %q, want 3 %q", got.Version, got.Description, "at 2")
		}
		r.Description = "stale"
		_, err = s.RuleUpdate(ctx, r)
		wantStale(t, err, "v", 2, 3, "update expecting a version the rule has left")
		got, err = s.RuleGet(ctx, "v")
		must(t, err, "get rule")
		if got.Version != 3 || got.Description != "at 2" {
			t.Fatalf("a refused update changed the rule: version %d %q", got.Version, got.Description)
		}
		must(t, s.RuleSetSync(ctx, "v", store.Sync{State: "error", Error: "x"}), "set sync")
		if got, err = s.RuleGet(ctx, "v"); err != nil || got.Version != 3 {
			t.Fatalf("RuleSetSync moved the version to %d (%v), want it left at 3", got.Version, err)
		}
		list, err := s.RuleList(ctx)
		must(t, err, "list rules")
		if len(list) != 1 || list[0].Version != 3 {
			t.Fatalf("listed rule %+v, want version 3", list)
		}

		wantStale(t, s.RuleDeleteIf(ctx, "v", 2), "v", 2, 3, "delete expecting a version the rule has left")
		if _, err := s.RuleGet(ctx, "v"); err != nil {
			t.Fatalf("a refused delete deleted the rule: %v", err)
		}
		must(t, s.RuleDeleteIf(ctx, "v", 3), "delete at the stored version")
		wantErr(t, s.RuleDeleteIf(ctx, "v", 3), store.ErrNotFound, "delete a deleted rule at a version")
		wantErr(t, s.RuleDeleteIf(ctx, "v", 0), store.ErrNotFound, "delete a deleted rule at any version")
		r.Version = 3
		_, err = s.RuleUpdate(ctx, r)
		wantErr(t, err, store.ErrNotFound, "update a deleted rule at a version")
		if errors.Is(err, store.ErrStale) {
			t.Fatalf("update of a missing rule: %v is stale, want only not found", err)
		}

		_, err = s.RuleCreate(ctx, fullRule("w"))
		must(t, err, "create rule w")
		must(t, s.RuleDeleteIf(ctx, "w", 0), "delete at any version")
	})
	t.Run("OneOfConcurrentWritersWins", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		_, err := s.RuleCreate(ctx, fullRule("race"))
		must(t, err, "create rule")
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				r := fullRule("race")
				r.Version = 1
				r.Description = string(rune('a' + i))
				_, errs[i] = s.RuleUpdate(ctx, r)
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("writers %d and %d both updated version 1", won, i)
			case err == nil:
				won = i
			default:
				wantStale(t, err, "race", 1, 2, "a writer that lost")
			}
		}
		if won < 0 {
			t.Fatalf("no writer won: %v", errs)
		}
		got, err := s.RuleGet(ctx, "race")
		must(t, err, "get rule")
		if got.Version != 2 || got.Description != string(rune('a'+won)) {
			t.Fatalf("rule after the race: version %d %q, want 2 and the winner's %q", got.Version, got.Description, string(rune('a'+won)))
		}
	})
}
