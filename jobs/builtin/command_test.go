//go:build unix

package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// shellJob builds a command job running script, failing the test if it can't.
func shellJob(t *testing.T, script string, params []jobs.Param, opts ...builtin.CommandOption) *builtin.Command {
	t.Helper()
	job, err := builtin.NewShellCommand("test-command", "runs a test script", script, params, opts...)
	if err != nil {
		t.Fatalf("NewShellCommand: %v", err)
	}
	return job
}

// waitForLine waits until the log has a line matching re and returns its
// first submatch.
func waitForLine(t *testing.T, rec *recorder, re *regexp.Regexp) string {
	t.Helper()
	var found string
	wait.For(t, 3*time.Second, func() (bool, string) {
		for _, l := range rec.Lines() {
			if m := re.FindStringSubmatch(l.msg); m != nil {
				found = m[1]
				return true, ""
			}
		}
		return false, fmt.Sprintf("no log line matching %s; log:%s", re, rec.dump())
	})
	return found
}

var (
	startedPid = regexp.MustCompile(`^command: started /bin/sh \(pid (\d+)\)$`)
	echoedPid  = regexp.MustCompile(`^pid=(\d+)$`)
)

// waitGone waits until no process has the given pid. An exited process
// counts until it is reaped, which for an orphan is init's job and can take
// a moment, hence the generous limit.
func waitGone(t *testing.T, what, pid string) {
	t.Helper()
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 1 {
		t.Fatalf("%s pid %q is not a process id", what, pid)
	}
	gone, why := wait.Poll(t, 5*time.Second, func() (bool, string) {
		err := syscall.Kill(n, 0)
		return errors.Is(err, syscall.ESRCH), fmt.Sprintf("kill 0: %v", err)
	})
	if !gone {
		_ = syscall.Kill(n, syscall.SIGKILL) // do not leak it past the test
		t.Fatalf("%s (pid %d) is still there 5s after the run returned (%s)", what, n, why)
	}
}

func TestCommandPassesParametersInTheEnvironment(t *testing.T) {
	// Not parallel: it sets the agent's own environment.
	t.Setenv("JOBBRIDGE_PARAM_STALE", "from the agent")
	t.Setenv("JOBBRIDGE_ADMIN_TOKEN", "agent-secret")
	t.Setenv("AGENT_VAR", "inherited")
	params := []jobs.Param{
		{Name: "target", Description: "where to", Required: true},
		{Name: "count", Type: jobs.TypeInt, Default: "3", Description: "how many"},
		{Name: "note", Description: "optional, not given"},
	}
	script := `printf 'target=%s count=%s extra=%s agent=%s\n' "$JOBBRIDGE_PARAM_TARGET" "$JOBBRIDGE_PARAM_COUNT" "$EXTRA" "$AGENT_VAR"
env | grep '^JOBBRIDGE_' | sort | tr '\n' ' '; echo`
	job := shellJob(t, script, params, builtin.WithEnv("EXTRA=yes"), builtin.WithPassEnv("AGENT_VAR"))
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"target": "db one; rm -rf /"})); err != nil {
		t.Fatalf("Run: %v; log:%s", err, rec.dump())
	}
	for _, want := range []string{
		"target=db one; rm -rf / count=3 extra=yes agent=inherited",
		"JOBBRIDGE_PARAM_COUNT=3 JOBBRIDGE_PARAM_TARGET=db one; rm -rf / ",
	} {
		if !rec.hasLine(slog.LevelInfo, want) {
			t.Errorf("no INFO line %q in the log:%s", want, rec.dump())
		}
	}
}

func TestCommandEnvironmentHoldsNothingOfTheAgentsButWhatIsListed(t *testing.T) {
	// Not parallel: it sets the agent's own environment.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-agent")
	t.Setenv("PGPASSWORD", "pg-secret-of-the-agent")
	t.Setenv("JOBBRIDGE_ADMIN_TOKEN", "agent-secret")
	t.Setenv("AWS_PROFILE", "backups")
	t.Setenv("LANG", "C.UTF-8")
	job := shellJob(t, `env | sort`, []jobs.Param{{Name: "target"}}, builtin.WithPassEnv("AWS_PROFILE", "UNSET_NAME"))
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"target": "x"})); err != nil {
		t.Fatalf("Run: %v; log:%s", err, rec.dump())
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "TZ": true, "AWS_PROFILE": true, "JOBBRIDGE_PARAM_TARGET": true,
		"PWD": true, "SHLVL": true, "_": true, // the shell sets these itself
		builtin.ProcessTagEnv: true, builtin.OutputFileEnv: true} // of each run, not the agent's
	var names []string
	for _, l := range rec.Lines() {
		name, _, ok := strings.Cut(l.msg, "=")
		if !ok || l.level != slog.LevelInfo || strings.HasPrefix(l.msg, "command: ") {
			continue
		}
		names = append(names, name)
		if !allowed[name] {
			t.Errorf("the program's environment holds %s, which the agent did not pass", l.msg)
		}
	}
	for _, want := range []string{"AWS_PROFILE=backups", "LANG=C.UTF-8", "JOBBRIDGE_PARAM_TARGET=x"} {
		if !rec.hasLine(slog.LevelInfo, want) {
			t.Errorf("no %q in the program's environment %v", want, names)
		}
	}
}

func TestCommandLogsStdoutAsInfoAndStderrAsWarn(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `echo out1; echo err1 >&2; printf 'no newline at the end'`, nil)
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, want := range []logLine{{slog.LevelInfo, "out1"}, {slog.LevelWarn, "err1"}, {slog.LevelInfo, "no newline at the end"}} {
		if !rec.hasLine(want.level, want.msg) {
			t.Errorf("no line %q in the log:%s", want, rec.dump())
		}
	}
	if p := rec.Progresses(); len(p) == 0 || p[len(p)-1].percent != 100 {
		t.Errorf("progress = %v, want it to end at 100", p)
	}
}

func TestCommandCutsLongLines(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `head -c 20000 /dev/zero | tr '\0' a; echo; echo after`, nil)
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for _, l := range rec.Lines() {
		if !strings.HasPrefix(l.msg, "command: ") {
			got = append(got, l.msg)
		}
	}
	want := []string{strings.Repeat("a", 8192) + " [line cut at 8192 bytes]", "after"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %d output lines (lengths %v), want the long one cut at 8 KiB then %q", len(got), lengths(got), "after")
	}
}

func lengths(ss []string) []int {
	n := make([]int, len(ss))
	for i, s := range ss {
		n[i] = len(s)
	}
	return n
}

func TestCommandReportsItsExit(t *testing.T) {
	t.Parallel()
	tests := []struct{ script, want string }{
		{"exit 3", "command exited with status 3"},
		{"kill -KILL $$", "command killed by signal 9 (killed)"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			t.Parallel()
			ctx, _, _ := runContext(t)
			err := shellJob(t, tt.script, nil).Run(ctx, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Run error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCommandCancelKillsTheWholeProcessGroup(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `sleep 1000 & echo "pid=$!"; wait`, nil, builtin.WithKillGrace(3*time.Second))
	ctx, cancel, rec := runContext(t)
	done := runAsync(ctx, job, nil)
	shell := waitForLine(t, rec, startedPid)
	child := waitForLine(t, rec, echoedPid)

	cancel()
	cancelledAt := time.Now()
	err := waitErr(t, done, 6*time.Second)
	if took := time.Since(cancelledAt); took > time.Second {
		t.Errorf("Run returned %s after the cancel, want promptly: SIGTERM ends both", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want one wrapping context.Canceled", err)
	}
	if rec.hasLine(slog.LevelWarn, "SIGKILL to the process group") {
		t.Errorf("SIGKILL was needed, want SIGTERM to be enough; log:%s", rec.dump())
	}
	waitGone(t, "the shell", shell)
	waitGone(t, "the shell's background sleep", child)
	if !rec.hasLine(slog.LevelWarn, "cancelled; sending SIGTERM") {
		t.Errorf("no warning about the SIGTERM in the log:%s", rec.dump())
	}
}

func TestCommandKillsAProgramThatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	job := shellJob(t, `trap '' TERM; echo "pid=$$"; while :; do sleep 0.05; done`, nil, builtin.WithKillGrace(grace))
	ctx, cancel, rec := runContext(t)
	done := runAsync(ctx, job, nil)
	shell := waitForLine(t, rec, echoedPid) // the trap is set by now

	cancel()
	cancelledAt := time.Now()
	err := waitErr(t, done, 3*time.Second)
	if took := time.Since(cancelledAt); took < grace || took > grace+time.Second {
		t.Errorf("Run returned %s after the cancel, want just after the %s grace", took, grace)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want one wrapping context.Canceled", err)
	}
	if !rec.hasLine(slog.LevelWarn, "sent SIGKILL to the process group") {
		t.Errorf("no warning about the SIGKILL in the log:%s", rec.dump())
	}
	waitGone(t, "the shell ignoring SIGTERM", shell)
}

func TestCommandStopsWhatTheProgramLeavesBehind(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `sleep 1000 & echo "pid=$!"`, nil)
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, nil); err != nil {
		t.Errorf("Run: %v (the program itself succeeded)", err)
	}
	if !rec.hasLine(slog.LevelWarn, "left processes running in its process group") {
		t.Errorf("no warning about the leftover sleep in the log:%s", rec.dump())
	}
	waitGone(t, "the leftover sleep", waitForLine(t, rec, echoedPid))
}

func TestCommandDoesNotWaitForOutputHeldOutsideItsGroup(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("needs setsid to start a process outside the group")
	}
	// The sleep leaves the group (and leads a new one, which the loop waits
	// for), so only its hold on stdout is left.
	job := shellJob(t, `setsid sleep 30 & pid=$!
i=0; until kill -0 -$pid 2>/dev/null || [ $i -ge 300 ]; do i=$((i+1)); sleep 0.01; done
echo "pid=$pid"`, nil)
	ctx, _, rec := runContext(t)
	start := time.Now()
	if err := job.Run(ctx, nil); err != nil {
		t.Errorf("Run: %v", err)
	}
	pid, _ := strconv.Atoi(waitForLine(t, rec, echoedPid))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %s, want it to stop reading about a second after the program exited", took)
	}
	if !rec.hasLine(slog.LevelWarn, "still holds its output") {
		t.Errorf("no warning about the held output in the log:%s", rec.dump())
	}
}

func TestCommandNotStartedWhenAlreadyCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel, rec := runContext(t)
	cancel()
	err := shellJob(t, "echo should not run", nil).Run(ctx, nil)
	if !errors.Is(err, context.Canceled) || len(rec.Lines()) != 0 {
		t.Errorf("Run error = %v with log%s, want context.Canceled and nothing run", err, rec.dump())
	}
}

func TestCommandMissingProgram(t *testing.T) {
	t.Parallel()
	job, err := builtin.NewCommand("missing", "runs nothing", []string{"/nonexistent/program"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, _ := runContext(t)
	err = job.Run(ctx, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "start /nonexistent/program: ") {
		t.Errorf("Run error = %v, want it to say the program could not start", err)
	}
}

func TestNewCommandRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	sh := []string{"/bin/sh", "-c", "true"}
	tests := []struct {
		name string
		id   string
		argv []string
		ps   []jobs.Param
		opts []builtin.CommandOption
		want string
	}{
		{"bad id", "has space", sh, nil, nil, `job id "has space" is invalid`},
		{"no argv", "a", nil, nil, nil, "no program to run"},
		{"negative grace", "a", sh, nil, []builtin.CommandOption{builtin.WithKillGrace(-time.Second)}, "kill grace -1s is negative"},
		{"env without =", "a", sh, nil, []builtin.CommandOption{builtin.WithEnv("JUSTNAME")}, `environment entry "JUSTNAME" is not NAME=value`},
		{"env in param space", "a", sh, nil, []builtin.CommandOption{builtin.WithEnv("JOBBRIDGE_PARAM_X=1")}, "reserved for parameters"},
		{"names differing in case", "a", sh, []jobs.Param{{Name: "host"}, {Name: "HOST"}}, nil, `parameters "host" and "HOST" would both be passed as JOBBRIDGE_PARAM_HOST`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := builtin.NewCommand(tt.id, "d", tt.argv, tt.ps, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewCommand error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := builtin.NewShellCommand("a", "d", "  ", nil); err == nil {
		t.Error("NewShellCommand accepted an empty script")
	}
}

func TestCommandRunsInItsDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	job := shellJob(t, `pwd -P`, nil, builtin.WithDir(dir))
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want, err := exec.Command("/bin/sh", "-c", "cd \"$1\" && pwd -P", "sh", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !rec.hasLine(slog.LevelInfo, strings.TrimSpace(string(want))) {
		t.Errorf("the program did not run in %s; log:%s", dir, rec.dump())
	}
}

func TestEchoPrintsItsMessageLiterally(t *testing.T) {
	t.Parallel()
	r := jobs.NewRegistry()
	if err := builtin.Register(r, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	job, ok := r.Get("echo")
	if !ok {
		t.Fatal("echo is not registered")
	}
	for _, message := range []string{"", `$(echo injected); echo "also" '*'`} {
		ctx, _, rec := runContext(t)
		if err := job.Run(ctx, resolve(t, job, map[string]string{"message": message})); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := message
		if want == "" {
			want = "hello from jobbridge"
		}
		var printed []string
		for _, l := range rec.Lines() {
			if !strings.HasPrefix(l.msg, "command: ") {
				printed = append(printed, l.msg)
			}
		}
		if len(printed) != 1 || printed[0] != want {
			t.Errorf("message %q: printed %q, want exactly %q", message, printed, want)
		}
	}
}
