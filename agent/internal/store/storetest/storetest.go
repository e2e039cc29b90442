// Package storetest is the conformance suite of store.Store: every
// implementation runs Exercise from its own tests, so SQLite and PostgreSQL
// are held to the same behaviour, down to the errors and the times.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Exercise runs the whole suite. open must return a fresh, empty, migrated
// store for each call; Exercise closes it when the test ends (before the
// cleanups open registered, so open may drop the database in one).
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	setup := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		return s
	}
	groups := []struct {
		name string
		run  func(*testing.T, func(*testing.T) store.Store)
	}{
		{"Basics", testBasics},
		{"Rules", testRules},
		{"Versions", testVersions},
		{"Runs", testRuns},
		{"RunCreate", testRunCreate},
		{"RunList", testRunList},
		{"RunOutput", testRunOutput},
		{"RunTransitions", testRunTransitions},
		{"Batches", testBatches},
		{"RunLog", testRunLog},
		{"RunProcess", testRunProcess},
		{"Queue", testQueue},
		{"Chains", testChains},
		{"RuleHealth", testRuleHealth},
		{"Tokens", testTokens},
		{"Audit", testAudit},
		{"SecretsSupport", testSecretsSupport},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, setup)
		})
	}
}

// wantErr fails unless err is target (through any wrapping).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, target)
	}
}

// must fails the test on an error.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// stored is t as the stores keep it: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// oddTime is a time in a zone other than UTC with nanoseconds, which a
// store must turn into stored(oddTime).
func oddTime(offset time.Duration) time.Time {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	return time.Date(2024, 2, 29, 23, 59, 58, 123456789, zone).Add(offset)
}

// newRun is a manual run of job "demo" for rule.
func newRun(rule string) store.Run {
	return store.Run{Rule: rule, Job: "demo", Trigger: api.TriggerManual, Parameters: map[string]string{"duration": "1s"}}
}

// create records a run and fails the test if it was not created.
func create(t *testing.T, s store.Store, r store.Run) store.Run {
	t.Helper()
	got, created, err := s.RunCreate(t.Context(), store.RunCreateParams{Run: r})
	must(t, err, "create run")
	if !created {
		t.Fatalf("create run: created = false for a new run")
	}
	return got
}

// finish moves a run to a final state.
func finish(t *testing.T, s store.Store, id string, status api.RunStatus) store.Run {
	t.Helper()
	r, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: id, Status: status})
	must(t, err, "finish run "+id)
	return r
}

func ids(runs []store.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func testBasics(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("KindAndPing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if k := s.Kind(); k != "sqlite" && k != "postgres" {
			t.Errorf("Kind() = %q, want sqlite or postgres", k)
		}
		must(t, s.Ping(t.Context()), "ping")
	})
	t.Run("ExecDemoOrders", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		n, err := s.Exec(ctx, `UPDATE demo_orders SET some_column = some_column + $1 WHERE name = $2`, 5, "bravo")
		must(t, err, "increment bravo")
		if n != 1 {
			t.Fatalf("increment bravo: %d rows affected, want 1", n)
		}
		// Only a row holding the expected value matches, so this reads it back.
		n, err = s.Exec(ctx, `UPDATE demo_orders SET some_column = some_column + $1 WHERE name = $2 AND some_column = $3`,
			1, "bravo", 5)
		must(t, err, "check bravo")
		if n != 1 {
			t.Fatalf("bravo's some_column is not 5 after adding 5 to the seeded 0")
		}
		n, err = s.Exec(ctx, `UPDATE demo_orders SET some_column = some_column + 1 WHERE some_column = $1`, 0)
		must(t, err, "increment the others")
		if n != 2 {
			t.Fatalf("alpha and charlie: %d rows at 0, want 2", n)
		}
		if _, err := s.Exec(ctx, `UPDATE no_such_table SET x = 1`); err == nil {
			t.Fatalf("exec on a missing table: no error")
		}
	})
}
