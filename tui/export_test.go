package tui

import "github.com/jobbridge/jobbridge/shared/api"

// Publish hands events to m as if its event stream had brought them: for
// events a test cannot have the agent publish.
func Publish(m *Model, evs ...api.Event) {
	for _, ev := range evs {
		m.stream.out <- eventMsg{ev: ev}
	}
}
