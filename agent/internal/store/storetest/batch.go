package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// testBatches holds the stores to what group commit must keep: concurrent
// creations and finishes, written together, each get their own outcome, and
// a finish stores the run's last log lines and progress with it.
func testBatches(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("FinishStoresLogAndProgress", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := create(t, s, newRun("r"))
		must(t, s.RunLogAppend(ctx, r.ID, []store.LogLine{{Level: "info", Message: "one"}, {Level: "info", Message: "two"}}), "append log")
		must(t, s.RunSetProgress(ctx, r.ID, api.Progress{Percent: 10, Message: "stored before"}), "set progress")
		at := oddTime(time.Minute)
		got, err := s.RunFinish(ctx, store.RunFinishParams{
			ID: r.ID, Status: api.StatusSucceeded, FinishedAt: at,
			Log:      []store.LogLine{{Time: at, Level: "info", Message: "three"}, {Level: "warn", Message: "four"}},
			Progress: &api.Progress{Percent: 100, Message: "done"},
		})
		must(t, err, "finish with log and progress")
		if got.Progress != (api.Progress{Percent: 100, Message: "done"}) || got.Status != api.StatusSucceeded {
			t.Fatalf("RunFinish answered status %s, progress %+v; want succeeded, 100%% done", got.Status, got.Progress)
		}
		wantRun(t, getRun(t, s, r.ID), got, "run after RunFinish")
		lines, err := s.RunLogList(ctx, r.ID, 0, 0)
		must(t, err, "list log")
		var msgs []string
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has number %d; want the lines numbered 1, 2, ... in order: %+v", i, l.Seq, lines)
			}
			msgs = append(msgs, l.Level+":"+l.Message)
		}
		if fmt.Sprint(msgs) != "[info:one info:two info:three warn:four]" {
			t.Fatalf("log after a finish with lines = %v", msgs)
		}
		if !lines[2].Time.Equal(stored(at)) || lines[3].Time.IsZero() {
			t.Fatalf("line times: %v and %v; want the given time and now for a line without one", lines[2].Time, lines[3].Time)
		}

		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusFailed,
			Log: []store.LogLine{{Level: "error", Message: "late"}}, Progress: &api.Progress{Percent: 1}})
		wantErr(t, err, store.ErrConflict, "finish a finished run with lines")
		lines, err = s.RunLogList(ctx, r.ID, 0, 0)
		must(t, err, "list log")
		if len(lines) != 4 {
			t.Fatalf("a refused finish stored its lines: the log has %d lines, want 4", len(lines))
		}
		wantRun(t, getRun(t, s, r.ID), got, "run after a refused finish")

		r2 := create(t, s, newRun("r"))
		must(t, s.RunSetProgress(ctx, r2.ID, api.Progress{Percent: 40, Message: "kept"}), "set progress")
		got2 := finish(t, s, r2.ID, api.StatusFailed)
		if got2.Progress != (api.Progress{Percent: 40, Message: "kept"}) {
			t.Fatalf("a finish without progress changed it to %+v", got2.Progress)
		}
	})
	t.Run("ConcurrentCreatesAndFinishes", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		const events, manual = 60, 20 // each event delivered twice at once
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			byEvent = map[string]map[string]bool{} // event id: run ids answered
			created = map[string]string{}          // run id: event id
		)
		start := make(chan struct{})
		for i := range 2*events + manual {
			wg.Go(func() {
				<-start
				in := newRun(fmt.Sprint("rule-", i%7))
				if i < 2*events {
					in.EventID = fmt.Sprint("ev-", i/2)
				}
				r, c, err := s.RunCreate(ctx, store.RunCreateParams{Run: in})
				if err != nil {
					t.Errorf("create %d: %v", i, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if in.EventID != "" {
					if byEvent[in.EventID] == nil {
						byEvent[in.EventID] = map[string]bool{}
					}
					byEvent[in.EventID][r.ID] = true
				}
				if c {
					created[r.ID] = in.EventID
				}
			})
		}
		close(start)
		wg.Wait()
		if len(created) != events+manual {
			t.Fatalf("%d runs created; want %d (one per event, one per manual run)", len(created), events+manual)
		}
		for ev, ids := range byEvent {
			if len(ids) != 1 {
				t.Fatalf("the two deliveries of %s were answered with %d different runs", ev, len(ids))
			}
		}

		start = make(chan struct{})
		for id := range created {
			wg.Go(func() {
				<-start
				lines := []store.LogLine{{Level: "info", Message: id + " a"}, {Level: "info", Message: id + " b"}}
				got, err := s.RunFinish(ctx, store.RunFinishParams{ID: id, Status: api.StatusSucceeded, Log: lines,
					Progress: &api.Progress{Percent: 100, Message: id}})
				if err != nil {
					t.Errorf("finish %s: %v", id, err)
					return
				}
				if got.ID != id || got.Progress.Message != id || got.Status != api.StatusSucceeded {
					t.Errorf("finish %s answered run %s (%s, progress %q): another call's outcome", id, got.ID, got.Status, got.Progress.Message)
				}
			})
		}
		close(start)
		wg.Wait()
		for id := range created {
			lines, err := s.RunLogList(ctx, id, 0, 0)
			must(t, err, "list log")
			if len(lines) != 2 || lines[0].Seq != 1 || lines[1].Seq != 2 || lines[0].Message != id+" a" || lines[1].Message != id+" b" {
				t.Fatalf("run %s's log after a concurrent finish: %+v; want its own two lines, numbered 1 and 2", id, lines)
			}
			if r := getRun(t, s, id); r.Status != api.StatusSucceeded {
				t.Fatalf("run %s is %s after its finish", id, r.Status)
			}
		}
	})
	t.Run("OneRefusedCallDoesNotFailItsBatch", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		// PostgreSQL refuses a NUL in text; SQLite takes it. Either way,
		// the calls written in the same batch are not failed by it.
		const n = 40
		var wg sync.WaitGroup
		ids := make([]string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				in := newRun("r")
				if i == n/2 {
					in.Error = "bad\x00value"
					in.Status = api.StatusSkipped
				}
				r, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: in})
				if err != nil && i != n/2 {
					t.Errorf("create %d, batched with a refused one: %v", i, err)
				}
				ids[i] = r.ID
			})
		}
		close(start)
		wg.Wait()
		start = make(chan struct{})
		for i, id := range ids {
			if i == n/2 {
				continue
			}
			wg.Go(func() {
				<-start
				p := store.RunFinishParams{ID: id, Status: api.StatusSucceeded}
				if i == n/4 {
					p.Log = []store.LogLine{{Level: "info", Message: "bad\x00line"}}
				}
				if _, err := s.RunFinish(ctx, p); err != nil && i != n/4 {
					t.Errorf("finish %d, batched with a refused one: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		for i, id := range ids {
			if i == n/2 || i == n/4 {
				continue
			}
			if r := getRun(t, s, id); r.Status != api.StatusSucceeded {
				t.Fatalf("run %d is %s; want succeeded", i, r.Status)
			}
		}
	})
}
