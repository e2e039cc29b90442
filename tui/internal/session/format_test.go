package session

import (
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 850 * time.Millisecond: "850ms", 42 * time.Second: "42s",
		187 * time.Second: "3m07s", 125 * time.Minute: "2h05m", 76 * time.Hour: "3d04h",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestShortDurationDropsZeroParts(t *testing.T) {
	for in, want := range map[string]string{
		"15m0s": "15m", "1h0m0s": "1h", "1h30m0s": "1h30m", "24h0m0s": "24h", "90s": "1m30s", "": "", "soon": "soon",
	} {
		if got := ShortDuration(in); got != want {
			t.Errorf("ShortDuration(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBarReadsWithoutColour(t *testing.T) {
	if got := Bar(50, 17); got != "[#####.....]  50%" {
		t.Errorf("Bar(50, 17) = %q", got)
	}
	if got := Bar(150, 17); got != "[##########] 100%" {
		t.Errorf("Bar(150, 17) = %q: over 100 must clamp", got)
	}
	if got := Bar(7, 5); got != "  7%" {
		t.Errorf("Bar(7, 5) = %q: too narrow for a bar, the figure alone", got)
	}
}

func TestSupersedesNeverGoesBack(t *testing.T) {
	run := func(s api.RunStatus) *api.Run { return &api.Run{Status: s} }
	for _, c := range []struct {
		prev, next api.RunStatus
		want       bool
	}{
		{api.StatusRunning, api.StatusRunning, true},
		{api.StatusRunning, api.StatusCancelling, true},
		{api.StatusCancelling, api.StatusCancelled, true},
		{api.StatusCancelling, api.StatusRunning, false},
		{api.StatusSucceeded, api.StatusRunning, false},
		{api.StatusCancelled, api.StatusCancelling, false},
		{api.StatusQueued, api.StatusRunning, true},
		{api.StatusQueued, api.StatusCancelled, true},
		{api.StatusRunning, api.StatusQueued, false},
		{api.StatusMissed, api.StatusRunning, false},
	} {
		if got := Supersedes(run(c.prev), run(c.next)); got != c.want {
			t.Errorf("Supersedes(%s, %s) = %v, want %v", c.prev, c.next, got, c.want)
		}
	}
}

func TestShortIDIsTheTailOfALongID(t *testing.T) {
	for id, want := range map[string]string{
		"run-0004-dddd4444": "dddd4444",
		"abc":               "abc",
		"12345678":          "12345678",
	} {
		if got := ShortID(id); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", id, got, want)
		}
	}
}

// Medians side by side are rounded alike: 5.001s next to 1.59s read as
// 5s and 1.59s.
func TestRunTimeRoundsAlike(t *testing.T) {
	for in, want := range map[string]string{
		"5.001s": "5s", "1.59s": "1.59s", "1.594s": "1.59s", "31s": "31s", "12.345ms": "12.3ms",
		"999.6ms": "1s", "83.456s": "1m23s", "2h5m31s": "2h6m", "": "", "n/a": "n/a",
	} {
		if got := RunTime(in); got != want {
			t.Errorf("RunTime(%q) = %q, want %q", in, got, want)
		}
	}
}
