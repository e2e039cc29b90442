package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(context.Background(), args, &out, &errb, getenv, nil)
	return code, out.String(), errb.String()
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JOBBRIDGE_SCHEDULER": "from-env", "JOBBRIDGE_DATA_DIR": t.TempDir()}
	code, _, stderr := runCLI(t, env)
	if code != 1 || !strings.Contains(stderr, `JOBBRIDGE_SCHEDULER: "from-env" is not one of auto, local, eventbridge, scheduler, off`) {
		t.Errorf("env scheduler: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "serve", "--scheduler", "from-flag")
	if code != 1 || !strings.Contains(stderr, `"from-flag"`) || strings.Contains(stderr, "from-env") {
		t.Errorf("flag scheduler: exit %d, stderr %q", code, stderr)
	}
}

func TestBadSettingValuesExit2NamingTheSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"JOBBRIDGE_RETENTION": "forever"}, nil, `--retention (JOBBRIDGE_RETENTION): "forever" is not a duration`},
		{nil, []string{"--max-log-lines", "lots"}, `--max-log-lines (JOBBRIDGE_MAX_LOG_LINES): "lots" is not an integer`},
		{nil, []string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{nil, []string{"serve", "extra"}, `unknown command "extra"`},
		{nil, []string{"bogus"}, `unknown command "bogus"`},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.env, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and %q", tt.env, tt.args, code, stderr, tt.want)
		}
	}
}

func TestHelpHidesSecretValues(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JOBBRIDGE_EB_API_KEY": "very-secret-key", "JOBBRIDGE_DATABASE_URL": "postgres://u:pw@h/db"}
	code, stdout, _ := runCLI(t, env, "--help")
	if code != 0 || !strings.Contains(stdout, "JOBBRIDGE_EB_API_KEY") {
		t.Fatalf("--help: exit %d\n%s", code, stdout)
	}
	if strings.Contains(stdout, "very-secret-key") || strings.Contains(stdout, "pw@h") {
		t.Errorf("--help shows a secret from the environment:\n%s", stdout)
	}
}

// A command that only groups others (cron, token, aws, bench) refuses a
// subcommand it does not have, exit 2 naming it, and prints its help when
// given none.
func TestGroupCommandsRefuseUnknownSubcommands(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"cron", "token", "aws", "bench"} {
		code, _, stderr := runCLI(t, nil, group, "bogus")
		want := `unknown command "bogus" for "agent ` + group + `"`
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("agent %s bogus: exit %d, stderr %q; want 2 and %q", group, code, stderr, want)
		}
		code, stdout, _ := runCLI(t, nil, group)
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("agent %s: exit %d, stdout %q; want its help", group, code, stdout)
		}
	}
}

// runLocalAgent runs an agent on a data dir of its own, as an operator's
// machine does, until the test ends, and returns the dir (the commands
// reach the agent there) and the agent's URL.
func runLocalAgent(t *testing.T) (dir, url string) {
	t.Helper()
	dir = t.TempDir()
	a, err := agent.New(context.Background(), agent.Config{DataDir: dir, Listen: "127.0.0.1:0", Scheduler: agent.SchedulerOff}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-a.Ready()
	return dir, a.URL()
}
