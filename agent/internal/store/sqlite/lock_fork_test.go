//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
)

// A child process this one starts holds a copy of every descriptor, the
// lock file's included, from fork until exec closes it; the lock is held as
// long as any copy is open. An Open right after a Close, while other
// goroutines start processes (the agent's command jobs, a CLI's tests), must
// not take that instant for another agent.
func TestReopenWhileChildProcessesStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobbridge.db")
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_ = exec.Command("true").Run()
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	for i := range 100 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("open %d after a close: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
