package tui

import "testing"

// SetRunsLimit lowers the most runs a runs list holds, for consoles made
// until the test ends.
func SetRunsLimit(t testing.TB, n int) {
	old := runsLimit
	runsLimit = n
	t.Cleanup(func() { runsLimit = old })
}
