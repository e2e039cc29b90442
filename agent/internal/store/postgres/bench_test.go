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
