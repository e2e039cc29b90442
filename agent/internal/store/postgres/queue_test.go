package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Agents on one database, each with a store of its own, create runs of a
// job limited to 2 and claim queued ones at once: no run is claimed twice,
// the job never has more than 2 active runs, every run runs, and the slots
// of an agent that died (its runs swept interrupted) are not lost.
func TestRunClaimConcurrentAgentsKeepTheJobLimit(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	const agents, perAgent, limit = 4, 12, 2
	stores := make([]*postgres.Store, agents)
	for i := range stores {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	ctx := t.Context()
	check, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(check.Close)
	limits := map[string]int{"limited": limit}

	// A dead agent holds both slots: its runs were running when it died.
	for range limit {
		_, _, err := stores[0].RunCreate(ctx, store.RunCreateParams{JobLimit: limit, Run: store.Run{
			Rule: "r", Job: "limited", Trigger: api.TriggerManual, Node: "dead"}})
		if err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu      sync.Mutex
		claimed = map[string]string{} // run id -> node
		active  atomic.Int32
		maxSeen atomic.Int32
		wg      sync.WaitGroup
	)
	run := func(s *postgres.Store, node string, r store.Run) {
		mu.Lock()
		if prev, ok := claimed[r.ID]; ok {
			t.Errorf("run %s started on %s and on %s", r.ID, prev, node)
		}
		claimed[r.ID] = node
		mu.Unlock()
		n := active.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		var inDB int
		if err := check.QueryRow(ctx, `SELECT COUNT(*) FROM runs WHERE job = 'limited' AND status IN ('running', 'cancelling')`).Scan(&inDB); err != nil {
			t.Error(err)
		}
		if inDB > limit {
			t.Errorf("%d runs of the job active, limit %d", inDB, limit)
		}
		time.Sleep(5 * time.Millisecond)
		active.Add(-1)
		if _, err := s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded}); err != nil {
			t.Errorf("finish %s: %v", r.ID, err)
		}
	}
	for i, s := range stores {
		node := fmt.Sprintf("node-%d", i)
		wg.Go(func() {
			for j := range perAgent {
				r, _, err := s.RunCreate(ctx, store.RunCreateParams{JobLimit: limit, Run: store.Run{
					Rule: fmt.Sprintf("r%d", j%3), Job: "limited", Trigger: api.TriggerSchedule, Node: node}})
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				if r.Status == api.StatusRunning {
					run(s, node, r)
				}
			}
		})
		wg.Go(func() {
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				got, err := s.RunClaim(ctx, store.RunClaimParams{Node: node, JobLimits: limits})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				for _, r := range got {
					run(s, node, r)
				}
				mu.Lock()
				done := len(claimed) == agents*perAgent
				mu.Unlock()
				if done {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	// Let the others find the slots taken for a while, then sweep the
	// dead agent's runs, as a live agent does once its lock is gone.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	before := len(claimed)
	mu.Unlock()
	if before > 0 {
		t.Errorf("%d runs started while the dead agent's runs held both slots", before)
	}
	swept, err := stores[1].RunInterruptActive(ctx, "dead", "interrupted: its agent died", time.Time{})
	if err != nil || len(swept) != limit {
		t.Fatalf("sweep the dead agent's runs: %d, %v; want %d", len(swept), err, limit)
	}
	wg.Wait()
	if len(claimed) != agents*perAgent {
		t.Fatalf("%d runs started, want %d", len(claimed), agents*perAgent)
	}
	if m := maxSeen.Load(); m > limit || m < 1 {
		t.Fatalf("at most %d runs of the job ran at once, want 1..%d", m, limit)
	}
	counts, err := stores[2].RunCountByStatus(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if counts[api.StatusQueued] != 0 || counts[api.StatusSucceeded] != agents*perAgent {
		t.Fatalf("runs by status at the end: %v", counts)
	}
}
