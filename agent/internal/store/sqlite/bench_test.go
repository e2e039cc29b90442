package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/agent/internal/store/storetest"
)

func BenchmarkRunCreateFinish(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	storetest.BenchRunCreateFinish(b, s)
}

func BenchmarkRunCountByStatus(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	// Times are microseconds since 1970, as the store keeps them.
	storetest.BenchRunCountByStatus(b, s, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO runs (id, rule, job, status, trigger, created_at)
		SELECT printf('bench-%09d', i), 'rule-' || (i % 500), 'demo', CASE i % 10 WHEN 0 THEN 'failed' ELSE 'succeeded' END,
			'schedule', CAST(strftime('%s', 'now') AS INTEGER) * 1000000 - i * 1000000 FROM n`)
}
