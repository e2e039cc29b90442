package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/burst"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
)

// runBurst runs `agent bench burst ARGS... --json` with the real binary,
// which starts itself again as the agent under test, and returns its
// report. It fails the test unless the harness measured (exit 0).
func runBurst(t *testing.T, timeout time.Duration, args ...string) burst.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary(t), append([]string{"bench", "burst", "--json"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("agent bench burst %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	var rep burst.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, out.String())
	}
	return rep
}

// checkBurstRuns checks what every burst must give: each rule's run
// finished once.
func checkBurstRuns(t *testing.T, rep burst.Report, rules int) {
	t.Helper()
	r := rep.Runs
	if rep.Rules != rules || r.Runs != rules || r.Finished != rules || !r.AllFinished || r.TimedOut ||
		r.ByStatus["succeeded"] != rules || r.Lost != 0 || r.Twice != 0 {
		t.Errorf("runs of %d rules: %+v; want each rule's run finished (succeeded) once", rules, r)
	}
	if r.LastFinishedSeconds <= 0 {
		t.Errorf("last finish %.3f s after the burst began, want a time after it", r.LastFinishedSeconds)
	}
	if len(rep.Targets) == 0 {
		t.Error("no targets reported")
	}
}

func checkEventBridgeBurst(t *testing.T, rep burst.Report, rules int) {
	t.Helper()
	checkBurstRuns(t, rep, rules)
	d := rep.EventBridge
	if rep.Mode != burst.ModeEventBridge || d == nil {
		t.Fatalf("mode %s, delivery figures %v; want eventbridge's", rep.Mode, d)
	}
	if d.Duplicates < 1 || d.Deliveries != rules+d.Duplicates || d.Undelivered != 0 {
		t.Errorf("deliveries %d (%d duplicates), undelivered %d; want one per rule and the duplicates, all answered 2xx",
			d.Deliveries, d.Duplicates, d.Undelivered)
	}
	if d.AnsweredAsDuplicate < d.Duplicates || d.AnsweredNewTwice != 0 || !d.SameRun || d.Answers["200"] != d.AnsweredAsDuplicate {
		t.Errorf("%d duplicates, %d answered as such, %d events answered new twice (same run %t), answers %v; want every repeat answered 200 duplicate with its first run",
			d.Duplicates, d.AnsweredAsDuplicate, d.AnsweredNewTwice, d.SameRun, d.Answers)
	}
	if d.P50Ms <= 0 || d.MaxMs < d.P99Ms {
		t.Errorf("latency p50 %.2f p99 %.2f max %.2f ms: not measured", d.P50Ms, d.P99Ms, d.MaxMs)
	}
}

func TestBenchBurstEventBridgeOnSQLite(t *testing.T) {
	t.Parallel()
	rep := runBurst(t, 3*time.Minute, "--mode", "eventbridge", "--rules", "300", "--rate", "600", "--duplicates", "5%")
	if rep.Store != "sqlite" {
		t.Errorf("store %q, want sqlite", rep.Store)
	}
	checkEventBridgeBurst(t, rep, 300)
}

func TestBenchBurstEventBridgeOnPostgres(t *testing.T) {
	t.Parallel()
	server := pgtest.ServerURL(t)
	rep := runBurst(t, 3*time.Minute, "--mode", "eventbridge", "--rules", "300", "--rate", "600", "--duplicates", "5%", "--postgres", server)
	if rep.Store != "postgres" || !strings.HasPrefix(rep.Database, "jobbridge_burst_") {
		t.Errorf("store %q, database %q; want postgres, a scratch database", rep.Store, rep.Database)
	}
	checkEventBridgeBurst(t, rep, 300)

	// The scratch database is gone.
	db, err := postgres.CreateScratchDatabase(t.Context(), server, "jobbridge_probe_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	gone := strings.Replace(db.URL, db.Name, rep.Database, 1)
	if s, err := postgres.Open(t.Context(), gone); !errors.Is(err, store.ErrUnavailable) {
		if s != nil {
			s.Close()
		}
		t.Errorf("opening the burst's database %s after it: %v, want it dropped", rep.Database, err)
	}
}

// TestBenchBurstLocal waits for the next minute that the rules can be made
// before, up to a minute and a half: it runs alongside the others.
func TestBenchBurstLocal(t *testing.T) {
	t.Parallel()
	rep := runBurst(t, 4*time.Minute, "--rules", "40")
	checkBurstRuns(t, rep, 40)
	l := rep.Local
	if rep.Mode != burst.ModeLocal || l == nil {
		t.Fatalf("mode %s, local figures %v; want local's", rep.Mode, l)
	}
	if l.Minute.Second() != 0 || l.CreatedBeforeSeconds < 3 {
		t.Errorf("minute %s, rules created %.1f s before it; want a whole minute, at least 3 s after the rules", l.Minute, l.CreatedBeforeSeconds)
	}
	if l.Started != 40 || l.FirstStartMs < 0 || l.FirstStartMs > l.P50StartMs || l.P99StartMs > l.LastStartMs || l.LastStartMs > 30_000 {
		t.Errorf("starts %+v; want 40 started in order, at or after the minute, within 30 s", l)
	}
}

func TestBenchBurstBadFlagOfTheBinary(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(agentBinary(t), "bench", "burst", "--mode", "eventbridge", "--rate", "-5")
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), "--rate must be 1-10000") {
		t.Errorf("bench burst --rate -5: %v, stderr %q; want exit 2 naming --rate", err, errOut.String())
	}
}
