package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/client"
)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestTokenCommandsOnTheDatabase(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}
	code, out, errOut := runCLI(t, env, "token", "create", "--name", "ci", "--role", "operator")
	if code != 0 || !strings.HasPrefix(lastLine(out), "jb_") {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "token", "list")
	if code != 0 || !strings.Contains(out, "ci") || !strings.Contains(out, "operator") || strings.Contains(out, "jb_") {
		t.Errorf("token list: exit %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, env, "token", "create", "--name", "ci", "--role", "viewer")
	if code != 1 || !strings.Contains(errOut, "exists already") {
		t.Errorf("duplicate token: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, env, "token", "create", "--name", "x", "--role", "root")
	if code != 2 || !strings.Contains(errOut, `"root" is not a role (want viewer, operator or admin)`) {
		t.Errorf("bad role: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, env, "token", "create", "--role", "viewer")
	if code != 2 || !strings.Contains(errOut, "needs --name and --role") {
		t.Errorf("no name: exit %d, %q", code, errOut)
	}
	if code, out, _ = runCLI(t, env, "token", "revoke", "ci"); code != 0 || !strings.Contains(out, `revoked token "ci"`) {
		t.Errorf("revoke: exit %d %q", code, out)
	}
	code, _, errOut = runCLI(t, env, "token", "revoke", "ci")
	if code != 1 || !strings.Contains(errOut, "no such token") {
		t.Errorf("revoke twice: exit %d, %q", code, errOut)
	}
}

func TestTokenCommandsThroughARunningAgent(t *testing.T) {
	t.Parallel()
	dir, url := runLocalAgent(t)

	env := map[string]string{"JOBBRIDGE_DATA_DIR": dir}
	code, out, errOut := runCLI(t, env, "token", "create", "--name", "script", "--role", "viewer")
	if code != 0 {
		t.Fatalf("token create while the agent holds the database: exit %d, %q", code, errOut)
	}
	c := client.New(url, lastLine(out))
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	st, err := c.Status(cctx)
	if err != nil || st.Role != "viewer" {
		t.Errorf("the new token against the agent: %+v %v", st, err)
	}
	if code, out, _ := runCLI(t, env, "token", "list"); code != 0 || !strings.Contains(out, "script") {
		t.Errorf("token list through the agent: exit %d\n%s", code, out)
	}
}
