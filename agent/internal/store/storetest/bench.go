package storetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

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
