//go:build !linux

package procgroup

import (
	"context"
	"log/slog"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// BootID is known on Linux only; elsewhere no group is recorded.
func BootID() string { return "" }

// stopLeft cannot tell a recorded group from another without /proc, so it
// leaves them all.
func stopLeft(_ context.Context, left []store.RunProcess, _ time.Duration, log *slog.Logger) {
	log.Warn("cannot check the process groups a stopped agent left on this system; they are left alone", "groups", len(left))
}
