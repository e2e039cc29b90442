package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestAnUnknownViewIsRefusedBeforeTheScreenOpens runs the console binary
// with views it has not: it exits 2 without drawing anything (no agent is
// even asked), and stderr names the view and lists the views there are.
func TestAnUnknownViewIsRefusedBeforeTheScreenOpens(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, t.TempDir(), "./cmd/tui", "tui")
	for _, c := range []struct {
		view string
		want []string
	}{
		{"bogus", []string{`tui: --view: no view "bogus"`, "the views are runs, rules, jobs, run, new, help"}},
		{"quit", []string{`no view "quit"`}},
		{"r", []string{`view "r" is ambiguous`, "runs, rules"}},
		{"run", []string{`view "run" takes one run id`}},
		{"runs nonsense", []string{`view "runs nonsense": runs: "nonsense" is not a status`}},
		{"jobs extra", []string{`view "jobs extra" takes no arguments`}},
	} {
		// The agent's address answers nothing: a console that got past the
		// check would fail differently, or draw its screen.
		cmd := exec.Command(bin, "--agent", "http://127.0.0.1:1", "--token", "t", "--view", c.view)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("--view %q: %v, want exit status 2", c.view, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("--view %q drew %q", c.view, stdout.String())
		}
		for _, w := range c.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("--view %q: stderr %q does not say %q", c.view, stderr.String(), w)
			}
		}
	}
}

func TestKnownViewsPassTheCheck(t *testing.T) {
	var out, errOut strings.Builder
	for _, v := range []string{"runs", "runs failed rule:x", "rul nightly", "jobs", "run 0190d1a8", "help", ""} {
		// They get past the check to look for an agent, which there is not.
		code := run([]string{"--view", v}, env(map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}), &out, &errOut)
		if code != 2 || strings.Contains(errOut.String(), "--view") {
			t.Errorf("--view %q: exit %d, stderr %q", v, code, errOut.String())
		}
		errOut.Reset()
	}
}
