package postgres_test

import (
	"testing"

	"github.com/jobbridge/jobbridge/agent/store/postgres"
	"github.com/jobbridge/jobbridge/agent/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/store/storetest"
)

func BenchmarkRunCreateFinish(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	storetest.BenchRunCreateFinish(b, s)
}
