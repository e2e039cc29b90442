package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
)

// runConsole starts the console binary against a real agent in a terminal
// with env and the given background, and waits for its first screen. CI is
// emptied because termenv takes a set CI for "not a terminal" and drops
// colour, and CI sets it.
func runConsole(t *testing.T, bin string, background string, env ...string) *terminal {
	t.Helper()
	a := agenttest.Start(t, agenttest.Options{RoleTokens: true})
	cmd := exec.Command(bin, "--agent", a.URL(), "--token", agenttest.OperatorToken)
	cmd.Env = append(os.Environ(), append([]string{"TERM=xterm-256color", "COLORTERM=truecolor", "NO_COLOR=", "CI="}, env...)...)
	term := startTerminalWith(t, cmd, 80, 24, background)
	term.waitFor(10*time.Second, "operator", "live", "No runs yet")
	term.send("q")
	if code := term.wait(5 * time.Second); code != 0 {
		t.Fatalf("the console exited %d", code)
	}
	return term
}

// The accent colour (the view's title) in each variant, as true-colour
// SGR parameters: #0550ae on light backgrounds, #58a6ff on dark ones.
const (
	accentLight = "38;2;5;80;174"
	accentDark  = "38;2;88;166;255"
)

func TestColoursFollowTheTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t, t.TempDir(), "./cmd/tui", "tui")

	t.Run("dark background", func(t *testing.T) {
		raw := runConsole(t, bin, "1c1c/1c1c/1c1c").rawText()
		if !strings.Contains(raw, accentDark) || strings.Contains(raw, accentLight) {
			t.Errorf("on a dark terminal the console does not use the dark variant of its colours")
		}
	})
	t.Run("light background", func(t *testing.T) {
		raw := runConsole(t, bin, "ffff/ffff/ffff").rawText()
		if !strings.Contains(raw, accentLight) || strings.Contains(raw, accentDark) {
			t.Errorf("on a light terminal the console does not use the light variant of its colours")
		}
	})
	t.Run("NO_COLOR", func(t *testing.T) {
		raw := runConsole(t, bin, "1c1c/1c1c/1c1c", "NO_COLOR=1").rawText()
		for _, sgr := range []string{"[38;", "[48;", "[1m", "[7m"} {
			if strings.Contains(raw, sgr) {
				t.Errorf("with NO_COLOR the console still writes %q", sgr)
			}
		}
	})
}
