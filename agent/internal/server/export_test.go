package server

import "github.com/jobbridge/jobbridge/agent/internal/events"

// Observe hands e to the metrics as their event subscriber (Watch) does,
// in the caller's goroutine, so a test can tell whether it waits.
func (m *Metrics) Observe(e events.Event) { m.observe(e) }
