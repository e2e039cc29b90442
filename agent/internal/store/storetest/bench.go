package storetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// BenchRunCreateFinish measures what every delivered fire costs the store:
// one RunCreate with a new event id, then one RunFinish, from 8 goroutines
// at once, as a busy agent would.
func BenchRunCreateFinish(b *testing.B, s store.Store) {
	const goroutines = 8
	b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			r, created, err := s.RunCreate(b.Context(), store.RunCreateParams{Run: store.Run{
				Rule: fmt.Sprint("rule-", n%16), Job: "demo", Trigger: api.TriggerSchedule,
				EventID: fmt.Sprint("bench-", n), Parameters: map[string]string{"duration": "1s"},
			}})
			if err != nil || !created {
				b.Errorf("create run: created=%v err=%v", created, err)
				return
			}
			if _, err := s.RunFinish(b.Context(), store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded}); err != nil {
				b.Errorf("finish run: %v", err)
				return
			}
		}
	})
}

// BenchRunCountByStatus measures the count the console's status tabs ask
// for (GET /runs/counts) on a store holding 100,000 runs, which seed
// writes (each store's own SQL, then what the database would have done by
// itself since, such as PostgreSQL's autovacuum): runs of 500 rules, one
// a second back from now, a tenth of them failed. Each case is one
// grouped query: every run, one rule's, one job's (all of them), the last
// hour's.
func BenchRunCountByStatus(b *testing.B, s store.Store, seed ...string) {
	for _, q := range seed {
		if _, err := s.Exec(b.Context(), q); err != nil {
			b.Fatalf("seed 100,000 runs: %v", err)
		}
	}
	for _, c := range []struct {
		name string
		f    store.RunFilter
		want int64
	}{
		{"all", store.RunFilter{}, 100_000},
		{"rule", store.RunFilter{Rule: "rule-7"}, 200},
		{"job", store.RunFilter{Job: "demo"}, 100_000},
		{"since-1h", store.RunFilter{Since: time.Now().Add(-time.Hour)}, 3_550},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				counts, err := s.RunCountByStatus(b.Context(), c.f)
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for _, v := range counts {
					n += v
				}
				if n < c.want-50 || n > c.want+50 {
					b.Fatalf("counted %d runs, want about %d", n, c.want)
				}
			}
		})
	} // :run by the 8 characters the console shows: no index, every id is
	// read (none matches here), the worst case.
	b.Run("run-id-suffix", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.RunList(b.Context(), store.RunFilter{IDSuffix: "0000beef", Limit: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
