package storetest

import (
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func testRunProcess(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("SetListForget", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		on := func(node string) store.Run {
			r := newRun("r")
			r.Node = node
			return create(t, s, r)
		}
		a1, a2, b1, none := on("a"), on("a"), on("b"), on("a")
		got, err := s.RunProcessList(ctx, "")
		must(t, err, "list with none recorded")
		if got == nil || len(got) != 0 {
			t.Fatalf("list with none recorded: got %#v, want an empty, non-nil list", got)
		}

		pa1 := store.RunProcess{RunID: a1.ID, PGID: 4242, StartTime: 1<<40 + 7, BootID: "6a1f0c1e-boot", Tag: "JOBBRIDGE_PROCESS_TAG=0123abcd"}
		must(t, s.RunProcessSet(ctx, pa1), "record a1's group")
		must(t, s.RunProcessSet(ctx, store.RunProcess{RunID: a2.ID, PGID: 1}), "record a2's first group")
		pa2 := store.RunProcess{RunID: a2.ID, PGID: 77, StartTime: 9}
		must(t, s.RunProcessSet(ctx, pa2), "record a2's second group")
		pb1 := store.RunProcess{RunID: b1.ID, PGID: 5, BootID: "other"}
		must(t, s.RunProcessSet(ctx, pb1), "record b1's group")
		// A run that finished (or was marked interrupted) keeps its record:
		// what it started may still run.
		finish(t, s, a2.ID, api.StatusSucceeded)

		got, err = s.RunProcessList(ctx, "a")
		must(t, err, "list node a")
		if want := []store.RunProcess{pa1, pa2}; !reflect.DeepEqual(got, want) {
			t.Fatalf("list node a: got %+v, want %+v (by run id, the later record of a run replacing the earlier)", got, want)
		}
		got, err = s.RunProcessList(ctx, "")
		must(t, err, "list every node")
		if want := []store.RunProcess{pa1, pa2, pb1}; !reflect.DeepEqual(got, want) {
			t.Fatalf("list every node: got %+v, want %+v", got, want)
		}

		must(t, s.RunProcessForget(ctx, []string{a1.ID, none.ID, "no-such-run"}), "forget")
		must(t, s.RunProcessForget(ctx, nil), "forget nothing")
		got, err = s.RunProcessList(ctx, "")
		must(t, err, "list after forgetting")
		if want := []store.RunProcess{pa2, pb1}; !reflect.DeepEqual(got, want) {
			t.Fatalf("list after forgetting a1: got %+v, want %+v", got, want)
		}
		wantRun(t, getRun(t, s, a1.ID), a1, "a run whose process was recorded and forgotten")
	})
	t.Run("SetRefused", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		wantErr(t, s.RunProcessSet(ctx, store.RunProcess{RunID: "0190a000-0000-7000-8000-000000000000", PGID: 3}), store.ErrNotFound, "record the group of a run that does not exist")
		r := create(t, s, newRun("r"))
		if err := s.RunProcessSet(ctx, store.RunProcess{RunID: r.ID}); err == nil {
			t.Fatal("recorded a process group with no group id")
		}
	})
	t.Run("ForgetMany", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		var all []string
		for i := range 600 { // more than one statement's worth on some databases
			r := create(t, s, newRun("r"))
			must(t, s.RunProcessSet(ctx, store.RunProcess{RunID: r.ID, PGID: 100 + i}), "record a group")
			all = append(all, r.ID)
		}
		must(t, s.RunProcessForget(ctx, all), "forget them all")
		got, err := s.RunProcessList(ctx, "")
		must(t, err, "list")
		if len(got) != 0 {
			t.Fatalf("after forgetting every run's group %d remain", len(got))
		}
	})
}
