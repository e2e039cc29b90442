//go:build linux

package builtin_test

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// startTime reads field 22 of /proc/PID/stat.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("read the stat of pid %d: %v", pid, err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatalf("start time of pid %d: %v", pid, err)
	}
	return n
}

var tagPattern = regexp.MustCompile(`^` + builtin.ProcessTagEnv + `=[0-9a-f]{32}$`)

// The agent records the program's group with the run, so that the next
// agent can stop what a killed agent left: the group, its leader's start
// time and the tag in the environment of all the group.
func TestCommandReportsItsProcessGroup(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `sleep 1000 & echo "pid=$!"; wait`, nil)
	var tags []string
	for range 2 {
		ctx, cancel, rec := runContext(t)
		done := runAsync(ctx, job, nil)
		shell, _ := strconv.Atoi(waitForLine(t, rec, startedPid))
		child, _ := strconv.Atoi(waitForLine(t, rec, echoedPid))

		procs := rec.Processes()
		if len(procs) != 1 {
			cancel()
			t.Fatalf("reported process groups: %+v, want the program's one", procs)
		}
		p := procs[0]
		if p.PGID != shell || p.StartTime != startTime(t, shell) || !tagPattern.MatchString(p.Tag) {
			t.Errorf("reported %+v, want group %d, its leader's start time %d and a %s=<32 hex digits> tag", p, shell, startTime(t, shell), builtin.ProcessTagEnv)
		}
		if !carriesTag(t, child, p.Tag) {
			t.Errorf("the program's child does not carry the tag %s in its environment", p.Tag)
		}
		tags = append(tags, p.Tag)
		cancel()
		waitErr(t, done, 10*time.Second)
	}
	if tags[0] == tags[1] {
		t.Errorf("two runs got the same tag %s, want one of their own each", tags[0])
	}
}

// carriesTag reports whether process pid has tag in its environment. The
// child may still be in execve when its pid is echoed, and then its
// /proc/PID/environ reads empty for a moment: read until it does not.
func carriesTag(t *testing.T, pid int, tag string) bool {
	t.Helper()
	var environ []byte
	wait.Poll(t, 5*time.Second, func() (bool, string) {
		var err error
		environ, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatalf("read the environment of the program's child: %v", err)
		}
		return len(environ) > 0, "its environment reads empty"
	})
	return bytes.Contains(append([]byte{0}, environ...), []byte("\x00"+tag+"\x00"))
}

// Outside the agent's runner, whose reporter records them, a reported group
// goes nowhere and the job runs as before.
func TestCommandRunsWithAReporterThatKeepsNoProcesses(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `echo hi`, nil)
	ctx, _, rec := runContext(t)
	ctx = jobs.WithReporter(ctx, plainReporter{rec})
	if err := job.Run(ctx, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !rec.hasLine(slog.LevelInfo, "hi") || len(rec.Processes()) != 0 {
		t.Errorf("log:%s\nprocesses: %+v; want hi logged, no process reported", rec.dump(), rec.Processes())
	}
}

// plainReporter hides the recorder's ProcessStarted.
type plainReporter struct{ jobs.Reporter }
