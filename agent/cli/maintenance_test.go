package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/client"
)

func TestMaintenanceCommandsOnTheDatabase(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}
	if code, out, errOut := runCLI(t, env, "maintenance", "status"); code != 0 || out != "maintenance is off\n" {
		t.Fatalf("status: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut := runCLI(t, env, "maintenance", "on", "--for", "2h", "--reason", "database upgrade")
	if code != 0 || !strings.HasPrefix(out, "maintenance is on since ") || !strings.Contains(out, "(by cli) until ") ||
		!strings.HasSuffix(out, ": database upgrade\n") {
		t.Fatalf("on: exit %d, %q %q", code, out, errOut)
	}
	if code, status, _ := runCLI(t, env, "maintenance", "status"); code != 0 || status != out {
		t.Errorf("status after on: exit %d, %q, want %q", code, status, out)
	}
	// Bad input is a usage error (exit 2) naming what is wrong.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--until", "2001-01-01T00:00:00Z"}, "body.until: 2001-01-01T00:00:00Z is not in the future"},
		{[]string{"--until", "tomorrow"}, `--until "tomorrow" is not an RFC 3339 time`},
		{[]string{"--for", "1h", "--until", "2099-01-01T00:00:00Z"}, "give --until or --for, not both"},
		{[]string{"--reason", "a\tb"}, "body.reason: contains control characters"},
	} {
		code, _, errOut := runCLI(t, env, append([]string{"maintenance", "on"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("on %v: exit %d, %q; want exit 2 saying %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, out, _ := runCLI(t, env, "maintenance", "off"); code != 0 || out != "maintenance is off\n" {
		t.Errorf("off: exit %d, %q", code, out)
	}
}

func TestMaintenanceCommandsThroughARunningAgent(t *testing.T) {
	t.Parallel()
	dir, url := runLocalAgent(t)

	env := map[string]string{"JOBBRIDGE_DATA_DIR": dir}
	if code, out, errOut := runCLI(t, env, "maintenance", "on", "--reason", "upgrade"); code != 0 || !strings.Contains(out, "(by admin) until turned off: upgrade") {
		t.Fatalf("on while the agent holds the database: exit %d, %q %q", code, out, errOut)
	}
	_, token, _ := runCLI(t, env, "token", "create", "--name", "reader", "--role", "viewer")
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	m, err := client.New(url, lastLine(token)).Maintenance(cctx)
	if err != nil || !m.On || m.Reason != "upgrade" {
		t.Errorf("the agent says %+v, %v; want on, upgrade", m, err)
	}
}
