package postgres_test

import (
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/storetest"
)

func BenchmarkRunCreateFinish(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	storetest.BenchRunCreateFinish(b, s)
}

func BenchmarkRunCountByStatus(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	storetest.BenchRunCountByStatus(b, s, `INSERT INTO runs (id, rule, job, status, trigger, created_at)
		SELECT 'bench-' || lpad(i::text, 9, '0'), 'rule-' || (i % 500), 'demo',
			CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 'schedule', now() - make_interval(secs => i)
		FROM generate_series(1, 100000) i`, `VACUUM ANALYZE runs`)
}
