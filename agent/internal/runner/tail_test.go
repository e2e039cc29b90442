package runner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// callCounter is a real store that counts the writes of a run's log,
// progress and finish.
type callCounter struct {
	store.Store
	appends, progress, finishes atomic.Int64
	finishLines                 atomic.Int64
}

func (c *callCounter) RunLogAppend(ctx context.Context, id string, lines []store.LogLine) error {
	c.appends.Add(1)
	return c.Store.RunLogAppend(ctx, id, lines)
}

func (c *callCounter) RunSetProgress(ctx context.Context, id string, p api.Progress) error {
	c.progress.Add(1)
	return c.Store.RunSetProgress(ctx, id, p)
}

func (c *callCounter) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	c.finishes.Add(1)
	c.finishLines.Add(int64(len(p.Log)))
	return c.Store.RunFinish(ctx, p)
}

// A run that ends before its log is due to be flushed costs one write for
// its log, progress and outcome together: the finish carries them.
func TestAShortRunsLogIsWrittenWithItsFinish(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		c := &callCounter{Store: s}
		reg := jobs.NewRegistry()
		if err := reg.Register(funcJob{id: "short", run: func(ctx context.Context, p jobs.Params) error {
			for i := range 3 {
				jobs.Logger(ctx).Info(fmt.Sprint("line ", i+1))
				jobs.Progress(ctx, (i+1)*33, fmt.Sprint("step ", i+1))
			}
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
		b := events.NewBroker(0)
		r, err := runner.New(runner.Config{Store: c, Jobs: reg, Events: b, Node: "node-1", LogFlushInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
		e := &env{store: s, runner: r, events: b}
		rule := e.rule(t, store.Rule{Name: "r1", Job: "short"})
		run := start(t, e, rule)
		fin := e.waitStatus(t, run.ID, api.StatusSucceeded)
		lines := e.logLines(t, run.ID)
		if len(lines) != 3 || lines[0].Message != "line 1" || lines[2].Message != "line 3" || lines[2].Seq != 3 {
			t.Fatalf("log = %+v, want the three lines, numbered 1 to 3", lines)
		}
		if fin.Progress != (api.Progress{Percent: 99, Message: "step 3"}) {
			t.Fatalf("progress = %+v, want the last report", fin.Progress)
		}
		if a, p, f, l := c.appends.Load(), c.progress.Load(), c.finishes.Load(), c.finishLines.Load(); a != 0 || p != 0 || f != 1 || l != 3 {
			t.Fatalf("writes: %d log appends, %d progress, %d finishes carrying %d lines; want 0, 0, 1 carrying 3", a, p, f, l)
		}
	})
}

// What a job says that a database cannot store as text (a NUL byte, bytes
// that are not UTF-8) is recorded with U+FFFD in their place, on both
// stores: refused, it would fail the run's finish, and the finishes
// batched with it.
func TestUnstorableTextIsRecordedCleaned(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0, funcJob{id: "raw", run: func(ctx context.Context, p jobs.Params) error {
			jobs.Logger(ctx).Info("nul:\x00 bad:\xff end")
			jobs.Progress(ctx, 50, "half\x00way")
			return fmt.Errorf("failed with \x00 in it")
		}})
		run := start(t, e, e.rule(t, store.Rule{Name: "r1", Job: "raw"}))
		fin := e.waitStatus(t, run.ID, api.StatusFailed)
		if fin.Error != "failed with \uFFFD in it" || fin.Progress.Message != "half\uFFFDway" {
			t.Fatalf("recorded error %q, progress %q; want the NUL replaced", fin.Error, fin.Progress.Message)
		}
		lines := e.logLines(t, run.ID)
		if len(lines) != 1 || lines[0].Message != "nul:\uFFFD bad:\uFFFD end" {
			t.Fatalf("log = %+v; want the line with U+FFFD for the NUL and the bad byte", lines)
		}
	})
}

// slowFinish is a store whose first finish of each run times out, as a
// database too busy to answer within the store call's timeout does.
type slowFinish struct {
	store.Store
	mu    sync.Mutex
	tried map[string]bool
}

func (s *slowFinish) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	s.mu.Lock()
	first := !s.tried[p.ID]
	s.tried[p.ID] = true
	s.mu.Unlock()
	if first {
		return store.Run{}, fmt.Errorf("finish run %s: %w", p.ID, context.DeadlineExceeded)
	}
	return s.Store.RunFinish(ctx, p)
}

// A finish that times out is tried again: the run is recorded finished,
// with its log, rather than left running for the agent's life (seen in a
// burst of 10,000 runs on a loaded machine).
func TestAFinishThatTimesOutIsTriedAgain(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, &slowFinish{Store: s, tried: map[string]bool{}}, 0, funcJob{id: "quick", run: func(ctx context.Context, p jobs.Params) error {
			jobs.Logger(ctx).Info("done quickly")
			return nil
		}})
		run := start(t, e, e.rule(t, store.Rule{Name: "r1", Job: "quick"}))
		e.waitStatus(t, run.ID, api.StatusSucceeded)
		if lines := e.logLines(t, run.ID); len(lines) != 1 || lines[0].Message != "done quickly" {
			t.Fatalf("log = %+v, want the run's line", lines)
		}
	})
}

// lostReply is a store whose first finish of each run is committed but
// whose answer is lost (a timeout after the commit, a broken connection).
type lostReply struct {
	store.Store
	mu    sync.Mutex
	tried map[string]bool
}

func (s *lostReply) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	s.mu.Lock()
	first := !s.tried[p.ID]
	s.tried[p.ID] = true
	s.mu.Unlock()
	run, err := s.Store.RunFinish(ctx, p)
	if first && err == nil {
		return store.Run{}, fmt.Errorf("finish run %s: %w", p.ID, context.DeadlineExceeded)
	}
	return run, err
}

// A finish whose answer was lost after its commit is tried again, finds the
// run finished (a conflict) and still publishes run.finished: without it
// the console never sees the run end and a failure is not notified.
func TestAFinishWhoseAnswerWasLostIsStillPublished(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, &lostReply{Store: s, tried: map[string]bool{}}, 0, funcJob{id: "fails", run: func(ctx context.Context, p jobs.Params) error {
			return errors.New("it broke")
		}})
		_, evs, _, cancel := e.events.Subscribe(0)
		defer cancel()
		run := start(t, e, e.rule(t, store.Rule{Name: "r1", Job: "fails"}))
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev := <-evs:
				if ev.Type == api.EventRunFinished && ev.Run != nil && ev.Run.ID == run.ID {
					if ev.Run.Status != api.StatusFailed || ev.Run.Error != "it broke" {
						t.Fatalf("run.finished carries %s %q, want failed %q", ev.Run.Status, ev.Run.Error, "it broke")
					}
					return
				}
			case <-timeout:
				t.Fatalf("no run.finished for run %s after its finish's answer was lost; stored: %s", run.ID, e.waitStatus(t, run.ID, api.StatusFailed).Status)
			}
		}
	})
}
