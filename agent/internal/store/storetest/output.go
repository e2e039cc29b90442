package storetest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// testRunOutput holds the stores to keeping a run's output (issue 17) and
// to finding the runs a chain started from their parent.
func testRunOutput(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		// As written, byte for byte: key order, spacing and escapes are the
		// job's (the runner hands over compact JSON, but the store does not
		// re-encode), up to the largest output a run may keep.
		big := `{"z":1,"a":"` + strings.Repeat("x", api.MaxOutputBytes-len(`{"z":1,"a":""}`)) + `"}`
		for name, out := range map[string]string{
			"object": `{"z":1,"a":[true,null,2.50],"s":"caf\u00e9 \"q\" \\ \n"}`,
			"scalar": `"just a string"`,
			"64 KiB": big,
		} {
			r := create(t, s, newRun("r"))
			fin, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded, Output: json.RawMessage(out)})
			must(t, err, "finish with output "+name)
			if !bytes.Equal(fin.Output, []byte(out)) {
				t.Errorf("%s: RunFinish answered output %.80q, want %.80q", name, fin.Output, out)
			}
			if got := getRun(t, s, r.ID).Output; !bytes.Equal(got, []byte(out)) {
				t.Errorf("%s: RunGet read output %.80q (%d bytes), want %.80q (%d bytes)", name, got, len(got), out, len(out))
			}
		}
	})
	t.Run("FinishWithoutOutputKeepsNone", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		r := create(t, s, newRun("r"))
		if fin := finish(t, s, r.ID, api.StatusFailed); fin.Output != nil {
			t.Errorf("RunFinish without output answered output %q, want none", fin.Output)
		}
		if got := getRun(t, s, r.ID); got.Output != nil {
			t.Errorf("RunGet of a run finished without output read %q, want none (nil)", got.Output)
		}
		running := create(t, s, newRun("r"))
		if got := getRun(t, s, running.ID); got.Output != nil {
			t.Errorf("RunGet of a running run read output %q, want none", got.Output)
		}
	})
	t.Run("ListLeavesOutputEmpty", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		r := create(t, s, newRun("r"))
		_, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded, Output: json.RawMessage(`{"rows":3}`)})
		must(t, err, "finish with output")
		runs, _, err := s.RunList(t.Context(), store.RunFilter{})
		must(t, err, "list runs")
		if len(runs) != 1 || runs[0].ID != r.ID {
			t.Fatalf("RunList = %v, want just %s", ids(runs), r.ID)
		}
		if runs[0].Output != nil {
			t.Errorf("RunList carried the output %q; only RunGet reads it", runs[0].Output)
		}
	})
	t.Run("ListByParent", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		parent := create(t, s, newRun("nightly"))
		other := create(t, s, newRun("nightly"))
		child := func(rule, of string, depth int) store.Run {
			r := newRun(rule)
			r.Trigger, r.ParentRun, r.ChainDepth = api.TriggerChain, of, depth
			return create(t, s, r)
		}
		c1 := child("report", parent.ID, 1)
		c2 := child("cleanup", parent.ID, 1)
		child("report", other.ID, 1)
		grandchild := child("archive", c1.ID, 2)

		if got := getRun(t, s, c1.ID); got.ParentRun != parent.ID || got.ChainDepth != 1 || got.Trigger != api.TriggerChain {
			t.Errorf("chained run read back with parent %q depth %d trigger %q, want %q 1 chain", got.ParentRun, got.ChainDepth, got.Trigger, parent.ID)
		}
		cases := []struct {
			name string
			f    store.RunFilter
			want []store.Run
		}{
			{"children, newest first", store.RunFilter{Parent: parent.ID}, []store.Run{c2, c1}},
			{"not the grandchildren", store.RunFilter{Parent: c1.ID}, []store.Run{grandchild}},
			{"with another filter", store.RunFilter{Parent: parent.ID, Rule: "cleanup"}, []store.Run{c2}},
			{"a run without children", store.RunFilter{Parent: c2.ID}, nil},
			{"an unknown parent", store.RunFilter{Parent: "0190d1a8-0000-7000-8000-00000000dead"}, nil},
		}
		for _, c := range cases {
			got := listAll(t, s, c.f)
			if !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("%s: got %v, want %v", c.name, ids(got), ids(c.want))
			}
		}
		// No parent selects every run, those without a parent included.
		if all := listAll(t, s, store.RunFilter{}); len(all) != 6 {
			t.Errorf("no Parent filter listed %d runs, want all 6", len(all))
		}
	})
}
