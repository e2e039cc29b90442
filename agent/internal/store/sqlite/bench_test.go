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
