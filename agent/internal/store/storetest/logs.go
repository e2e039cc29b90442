package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func testRunLog(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("AppendAndList", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := create(t, s, newRun("r"))
		must(t, s.RunLogAppend(ctx, r.ID, nil), "append no lines")
		first := []store.LogLine{
			{Time: oddTime(0), Level: "info", Message: "starting"},
			{Time: oddTime(time.Millisecond), Level: "debug", Message: "ünïcødé \"quoted\"\nsecond line"},
			{Time: oddTime(time.Second), Level: "warn", Message: ""},
		}
		must(t, s.RunLogAppend(ctx, r.ID, first), "append lines")
		must(t, s.RunLogAppend(ctx, r.ID, []store.LogLine{{Level: "error", Message: "four"}, {Level: "info", Message: "five"}}), "append more")
		lines, err := s.RunLogList(ctx, r.ID, 0, 0)
		must(t, err, "list log")
		if len(lines) != 5 {
			t.Fatalf("log has %d lines, want 5", len(lines))
		}
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has seq %d, want %d", i, l.Seq, i+1)
			}
		}
		for i, in := range first {
			want := in
			want.Seq, want.Time = int64(i+1), stored(in.Time)
			if !reflect.DeepEqual(lines[i], want) {
				t.Fatalf("line %d:\n got %+v\nwant %+v", i+1, lines[i], want)
			}
		}
		if lines[3].Message != "four" || lines[3].Time.IsZero() {
			t.Fatalf("line 4: got %+v, want message four and a default time", lines[3])
		}
		page, err := s.RunLogList(ctx, r.ID, 2, 2)
		must(t, err, "list a page of the log")
		if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
			t.Fatalf("lines after 2, limit 2: got %+v, want seq 3 and 4", page)
		}
		rest, err := s.RunLogList(ctx, r.ID, 5, 10)
		must(t, err, "list past the end")
		if len(rest) != 0 {
			t.Fatalf("lines after the last: got %d", len(rest))
		}
	})
	t.Run("LimitAllowsTheLargestPageAndOne", func(t *testing.T) {
		// The API serves pages of up to 10,000 lines and asks for one more
		// to learn whether a next page exists: the store must return it.
		t.Parallel()
		s := setup(t)
		r := create(t, s, newRun("r"))
		lines := make([]store.LogLine, 10500)
		for i := range lines {
			lines[i] = store.LogLine{Level: "info", Message: fmt.Sprint(i + 1)}
		}
		must(t, s.RunLogAppend(t.Context(), r.ID, lines), "append 10,500 lines")
		for _, c := range []struct{ limit, want int }{{10001, 10001}, {50000, 10001}, {0, 1000}} {
			got, err := s.RunLogList(t.Context(), r.ID, 0, c.limit)
			must(t, err, "list log")
			if len(got) != c.want {
				t.Errorf("limit %d: %d lines, want %d", c.limit, len(got), c.want)
			}
		}
	})
	t.Run("AppendToMissingRun", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		err := s.RunLogAppend(t.Context(), "0190d1a8-0000-7000-8000-00000000dead", []store.LogLine{{Level: "info", Message: "x"}})
		wantErr(t, err, store.ErrNotFound, "append to a missing run")
	})
	t.Run("ConcurrentAppends", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		r := create(t, s, newRun("r"))
		other := create(t, s, newRun("r"))
		const writers, batches, perBatch = 6, 10, 5
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for b := range batches {
					var batch []store.LogLine
					for i := range perBatch {
						batch = append(batch, store.LogLine{Level: "info", Message: fmt.Sprintf("%d %d", w, b*perBatch+i)})
					}
					if err := s.RunLogAppend(t.Context(), r.ID, batch); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			if err := s.RunLogAppend(t.Context(), other.ID, []store.LogLine{{Level: "info", Message: "other"}}); err != nil {
				t.Errorf("other run: %v", err)
			}
		})
		wg.Wait()
		lines, err := s.RunLogList(t.Context(), r.ID, 0, 0)
		must(t, err, "list log")
		if len(lines) != writers*batches*perBatch {
			t.Fatalf("log has %d lines, want %d", len(lines), writers*batches*perBatch)
		}
		next := make([]int, writers) // each writer's lines keep their order
		for i, l := range lines {
			var w, n int
			if _, err := fmt.Sscanf(l.Message, "%d %d", &w, &n); err != nil {
				t.Fatalf("line %d: %q: %v", i, l.Message, err)
			}
			if l.Seq != int64(i+1) || n != next[w] {
				t.Fatalf("line %d: seq %d, writer %d's line %d; want seq %d and that writer's line %d", i, l.Seq, w, n, i+1, next[w])
			}
			next[w]++
		}
		lines, err = s.RunLogList(t.Context(), other.ID, 0, 0)
		must(t, err, "list the other run's log")
		if len(lines) != 1 || lines[0].Seq != 1 {
			t.Fatalf("each run numbers its own lines from 1: got %+v", lines)
		}
	})
}
