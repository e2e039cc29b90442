package runner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// With its database down, a shutdown still ends by its deadline: the runs
// it cannot record stay as the database has them, for the next agent to
// start to mark interrupted, and nothing of the runner writes to the store
// once Shutdown has returned. Before, each run's outcome and log were
// retried for ten minutes, one run after the other.
func TestShutdownWithTheDatabaseDownEndsByItsDeadline(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	pg, err := postgres.Open(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	s := &watchedStore{Store: pg}

	politeStarted, stubbornStarted, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	polite := funcJob{id: "polite", run: func(ctx context.Context, _ jobs.Params) error {
		jobs.Logger(ctx).Info("working")
		close(politeStarted)
		<-ctx.Done()
		jobs.Logger(ctx).Info("stopping")
		jobs.Progress(ctx, 50, "stopped half way")
		return ctx.Err()
	}}
	stubborn := funcJob{id: "stubborn", run: func(context.Context, jobs.Params) error {
		close(stubbornStarted)
		<-release
		return nil
	}}
	reg := jobs.NewRegistry()
	if err := reg.Register(polite, stubborn); err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: events.NewBroker(0), Node: "node-1", LogFlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: pg, runner: r}
	p := start(t, e, e.rule(t, store.Rule{Name: "p", Job: "polite"}))
	st := start(t, e, e.rule(t, store.Rule{Name: "s", Job: "stubborn"}))
	<-politeStarted
	<-stubbornStarted
	wait.For(t, 10*time.Second, func() (bool, string) {
		return len(e.logLines(t, p.ID)) > 0, "the polite run's first log line was never stored"
	})

	srv.Stop(t)
	const grace = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	began := time.Now()
	shutdown := make(chan error, 1)
	go func() { shutdown <- r.Shutdown(ctx) }()
	select {
	case err = <-shutdown:
	case <-time.After(10 * grace):
		t.Fatalf("Shutdown with a %s deadline has not returned after %s with the database down", grace, 10*grace)
	}
	t.Logf("Shutdown returned after %s: %v", time.Since(began).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "2 run(s) could not be recorded before the deadline and are left for the next start") {
		t.Errorf("Shutdown = %v, want it to say that both runs are left for the next start", err)
	}
	writes := s.writes.Load()

	srv.Start(t)
	for _, id := range []string{p.ID, st.ID} {
		run := getWhenUp(t, pg, id)
		if run.Status != api.StatusRunning {
			t.Errorf("run %s of %s after the shutdown is %s, want it left running for the next start", id, run.Rule, run.Status)
		}
	}
	if n := s.writes.Load() - writes; n != 0 {
		t.Errorf("the runner wrote to the store %d time(s) after Shutdown returned, with the database back", n)
	}
	// What the next start does.
	swept, err := pg.RunInterruptActive(context.Background(), "node-1", "interrupted: the agent stopped while the job was running", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, run := range swept {
		ids = append(ids, run.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, sorted(p.ID, st.ID)) {
		t.Errorf("the next start marks %v interrupted, want both runs %v", ids, sorted(p.ID, st.ID))
	}
}

// getWhenUp reads a run once the database answers again.
func getWhenUp(t *testing.T, s store.Store, id string) store.Run {
	t.Helper()
	var run store.Run
	wait.For(t, 30*time.Second, func() (bool, string) {
		var err error
		run, err = s.RunGet(context.Background(), id)
		return err == nil, fmt.Sprintf("read run %s after restarting the database: %v", id, err)
	})
	return run
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
