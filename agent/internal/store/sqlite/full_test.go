package sqlite_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A database that cannot grow (SQLITE_FULL: a full disk, here SQLite's own
// page limit) is unavailable, not broken: the runner keeps a run's log and
// outcome to retry on that error alone, and writes go through once there
// is room again.
func TestAFullDatabaseIsUnavailableUntilThereIsRoom(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer s.Close()
	ctx := t.Context()
	if _, err := s.RuleCreate(ctx, store.Rule{Name: "r", Job: "j", Schedule: "rate(1 hour)", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	run, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "j", Status: api.StatusRunning, Trigger: api.TriggerManual, Node: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "PRAGMA max_page_count = 1"); err != nil { // no fewer than it has
		t.Fatal(err)
	}
	lines := []store.LogLine{{Level: "info", Message: strings.Repeat("x", 1000)}}
	for range 1000 {
		if err = s.RunLogAppend(ctx, run.ID, lines); err != nil {
			break
		}
	}
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "full") {
		t.Fatalf("appending to a full database: %v, want store.ErrUnavailable saying it is full", err)
	}
	if _, err := s.Exec(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.RunLogAppend(ctx, run.ID, lines); err != nil {
		t.Fatalf("appending once there is room: %v", err)
	}
}
