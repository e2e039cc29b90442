package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// What an idle agent's memory and start-up read must not grow with the
// number of runs stored (BenchmarkIdleRSS in agent/cli measures it).

// TestRunProcessListReadsOnlyRunsWithAProcess checks that the query the
// agent runs at every start goes through the partial index of runs with a
// process group, for every node and for one, instead of reading the whole
// history in id order.
func TestRunProcessListReadsOnlyRunsWithAProcess(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	for _, node := range []string{"", "agent-1"} {
		rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+runProcessListQuery, node)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) == 0 || !strings.Contains(plan[0], "runs_process_node") {
			t.Errorf("RunProcessList(%q) plan: %q; want it to read runs through runs_process_node", node, plan)
		}
	}
}

// TestReadersKeepASmallPageCache checks every read-only connection's page
// cache and the writer's.
func TestReadersKeepASmallPageCache(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx := t.Context()
	n := s.r.Stats().MaxOpenConnections
	for i := range n { // held together, so each is another connection
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var size int
		if err := c.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&size); err != nil {
			t.Fatal(err)
		}
		if size != -256 {
			t.Errorf("reader %d of %d: cache_size %d, want -256 (KiB)", i+1, n, size)
		}
	}
	var size int
	if err := s.w.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != -2000 {
		t.Errorf("writer: cache_size %d, want SQLite's default -2000 (KiB)", size)
	}
}

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "jobbridge.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
