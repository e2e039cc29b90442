package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// listAll follows cursors to the end and fails on a page over the limit.
func listAll(t *testing.T, s store.Store, f store.RunFilter) []store.Run {
	t.Helper()
	var all []store.Run
	for range 10000 {
		page, next, err := s.RunList(t.Context(), f)
		must(t, err, "list runs")
		if f.Limit > 0 && len(page) > f.Limit {
			t.Fatalf("page of %d runs over the limit of %d", len(page), f.Limit)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
	t.Fatalf("pagination does not end")
	return nil
}

func testRunList(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		mk := func(i int, rule, job, node string, trig api.Trigger) store.Run {
			return create(t, s, store.Run{Rule: rule, Job: job, Node: node, Trigger: trig,
				CreatedAt: base.Add(time.Duration(i) * time.Hour)})
		}
		r0 := mk(0, "a", "demo", "n1", api.TriggerSchedule)
		r1 := mk(1, "a", "http", "n2", api.TriggerManual)
		r2 := mk(2, "b", "demo", "n1", api.TriggerSchedule)
		r3 := mk(3, "b", "http", "n1", api.TriggerRestart)
		r4 := mk(4, "a", "demo", "n2", api.TriggerSchedule)
		finish(t, s, r1.ID, api.StatusFailed)
		finish(t, s, r2.ID, api.StatusSucceeded)
		_, err := s.RunSetCancelling(t.Context(), r3.ID, "ops", "")
		must(t, err, "cancel")

		cases := []struct {
			name string
			f    store.RunFilter
			want []store.Run
		}{
			{"all, newest first", store.RunFilter{}, []store.Run{r4, r3, r2, r1, r0}},
			{"one status", store.RunFilter{Statuses: []api.RunStatus{api.StatusRunning}}, []store.Run{r4, r0}},
			{"statuses", store.RunFilter{Statuses: []api.RunStatus{api.StatusFailed, api.StatusCancelling}}, []store.Run{r3, r1}},
			{"job", store.RunFilter{Job: "http"}, []store.Run{r3, r1}},
			{"rule", store.RunFilter{Rule: "b"}, []store.Run{r3, r2}},
			{"trigger", store.RunFilter{Trigger: api.TriggerSchedule}, []store.Run{r4, r2, r0}},
			{"node", store.RunFilter{Node: "n2"}, []store.Run{r4, r1}},
			{"since", store.RunFilter{Since: base.Add(3 * time.Hour)}, []store.Run{r4, r3}},
			{"until", store.RunFilter{Until: base.Add(time.Hour)}, []store.Run{r0}},
			{"since and until", store.RunFilter{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}, []store.Run{r2, r1}},
			{"combined", store.RunFilter{Rule: "a", Job: "demo", Statuses: []api.RunStatus{api.StatusRunning}, Node: "n1"}, []store.Run{r0}},
			{"nothing matches", store.RunFilter{Rule: "a", Job: "nope"}, nil},
			{"cursor", store.RunFilter{Cursor: r2.ID}, []store.Run{r1, r0}},
		}
		for _, c := range cases {
			got, next, err := s.RunList(t.Context(), c.f)
			must(t, err, "list runs "+c.name)
			if next != "" {
				t.Errorf("%s: nextCursor %q on the only page", c.name, next)
			}
			if !reflect.DeepEqual(ids(got), ids(c.want)) {
				t.Errorf("%s: got %v, want %v", c.name, ids(got), ids(c.want))
			}
		}
		got, _, err := s.RunList(t.Context(), store.RunFilter{Rule: "b"})
		must(t, err, "list runs")
		wantRun(t, got[0], getRun(t, s, r3.ID), "listed run equals RunGet")
	})
	t.Run("IDPrefix", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		mk := func(id string) store.Run { r := newRun("p"); r.ID = id; return create(t, s, r) }
		a := mk("0193aaaa-0000-7000-8000-000000000001")
		b := mk("0193aaab-0000-7000-8000-000000000002")
		c := mk("0193ab00-0000-7000-8000-000000000003")
		d := mk("0194aaaa-0000-7000-8000-000000000004")
		e := mk("0193aaa9-0000-7000-8000-000000000005")
		for _, tt := range []struct {
			prefix string
			want   []store.Run
		}{
			{"0193", []store.Run{c, b, a, e}},
			{"0193aa", []store.Run{b, a, e}},
			{"0193aaab", []store.Run{b}},
			{"0193aaaa-", []store.Run{a}},
			{a.ID, []store.Run{a}},
			{"0194aaaa-0000-7000-8000-0000000000040", nil},
			{"0194", []store.Run{d}},
			{"0195", nil},
			// The wildcards of LIKE are plain bytes here.
			{"0193aa%", nil},
			{"0193aa_a", nil},
			{"0193aaa" + string(rune(0x7e)), nil},
		} {
			got, _, err := s.RunList(t.Context(), store.RunFilter{IDPrefix: tt.prefix})
			must(t, err, "list runs by id prefix "+tt.prefix)
			if !reflect.DeepEqual(ids(got), ids(tt.want)) {
				t.Errorf("id prefix %q: got %v, want %v", tt.prefix, ids(got), ids(tt.want))
			}
		}
		for _, tt := range []struct {
			suffix string
			want   []store.Run
		}{
			{"00000001", []store.Run{a}},
			{"0000000002", []store.Run{b}},
			{"0", []store.Run{}},
			{"5", []store.Run{e}},
			{e.ID, []store.Run{e}},
			{"-000000000003", []store.Run{c}},
			{"00000009", nil},
			{"0000000%", nil},
		} {
			got, _, err := s.RunList(t.Context(), store.RunFilter{IDSuffix: tt.suffix})
			must(t, err, "list runs by id suffix "+tt.suffix)
			if !reflect.DeepEqual(ids(got), ids(tt.want)) {
				t.Errorf("id suffix %q: got %v, want %v", tt.suffix, ids(got), ids(tt.want))
			}
		}
		got, _, err := s.RunList(t.Context(), store.RunFilter{IDPrefix: "0193aa", Limit: 1, Cursor: b.ID})
		must(t, err, "list runs by id prefix after a cursor")
		if !reflect.DeepEqual(ids(got), []string{a.ID}) {
			t.Errorf("id prefix with a cursor: got %v, want [%s]", ids(got), a.ID)
		}
	})
	t.Run("DefaultAndMaxLimit", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		var made []store.Run
		for range 53 {
			made = append(made, create(t, s, newRun("r")))
		}
		slices.Reverse(made)
		page, next, err := s.RunList(t.Context(), store.RunFilter{})
		must(t, err, "list runs")
		if len(page) != 50 || next != page[49].ID {
			t.Fatalf("default page: %d runs, cursor %q; want 50 and the last id", len(page), next)
		}
		page, next, err = s.RunList(t.Context(), store.RunFilter{Limit: 5000})
		must(t, err, "list runs with a huge limit")
		if len(page) != 53 || next != "" {
			t.Fatalf("limit over the max: %d runs, cursor %q; want all 53 and no cursor", len(page), next)
		}
		if !reflect.DeepEqual(ids(page), ids(made)) {
			t.Fatalf("runs are not newest first")
		}
	})
	t.Run("PagesStableWhileRunsArrive", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		var want []store.Run
		for range 10 {
			want = append(want, create(t, s, newRun("r")))
		}
		slices.Reverse(want)
		f := store.RunFilter{Limit: 3}
		var got []store.Run
		arrived := 0
		for page := 0; ; page++ {
			runs, next, err := s.RunList(t.Context(), f)
			must(t, err, "list runs")
			got = append(got, runs...)
			if next == "" {
				break
			}
			if page > 10 {
				t.Fatalf("pagination does not end")
			}
			// New runs arrive between page fetches; they are newer than
			// the cursor, so the pages that follow do not shift.
			create(t, s, newRun("r"))
			create(t, s, newRun("other"))
			arrived++
			f.Cursor = next
		}
		if !reflect.DeepEqual(ids(got), ids(want)) {
			t.Fatalf("pages while runs arrive:\n got %v\nwant %v", ids(got), ids(want))
		}
		all := listAll(t, s, store.RunFilter{Limit: 4, Rule: "r"})
		if len(all) != 10+arrived {
			t.Fatalf("listing rule r in pages of 4: %d runs, want %d", len(all), 10+arrived)
		}
	})
	t.Run("ExactPagesEndWithoutCursor", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		for range 6 {
			create(t, s, newRun("r"))
		}
		_, next, err := s.RunList(t.Context(), store.RunFilter{Limit: 3})
		must(t, err, "first page")
		page, next, err := s.RunList(t.Context(), store.RunFilter{Limit: 3, Cursor: next})
		must(t, err, "second page")
		if len(page) != 3 || next != "" {
			t.Fatalf("last full page: %d runs, cursor %q; want 3 and no cursor", len(page), next)
		}
	})
}
