//go:build linux

package procgroup_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/procgroup"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// group is a process group as a command job leaves it: a shell leading
// it, and a sleep the shell started in the background.
type group struct {
	leader     *exec.Cmd
	grandchild int
	rec        store.RunProcess // as the runner records it
}

// startGroup starts script (which prints the pid of what it starts in the
// background first) in a group of its own with tag in its environment.
func startGroup(t *testing.T, tag, script string) *group {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), tag}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the background pid: %v", err)
	}
	gc, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("background pid %q: %v", line, err)
	}
	return &group{leader: cmd, grandchild: gc, rec: store.RunProcess{
		RunID: "run-" + strconv.Itoa(pgid), PGID: pgid, StartTime: startTime(t, pgid), BootID: procgroup.BootID(), Tag: tag,
	}}
}

// killLeader does what the parent-death signal does when the agent dies.
func (g *group) killLeader(t *testing.T) {
	t.Helper()
	if err := g.leader.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = g.leader.Wait()
}

const sleeper = `sleep 300 & echo $!; exec sleep 300`

func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// running reports whether pid runs (an unreaped zombie does not).
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return f[0] != "Z" && f[0] != "X"
}

func waitStopped(t *testing.T, what string, pid int) {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) { return !running(pid), fmt.Sprintf("%s (pid %d) still runs", what, pid) })
}

// logBuffer collects what StopLeft logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func tag(t *testing.T) string {
	return "JOBBRIDGE_PROCESS_TAG=" + strings.ReplaceAll(t.Name(), "/", "-")
}

func TestStopLeftStopsAGroupWhoseLeaderHasGone(t *testing.T) {
	t.Parallel()
	g := startGroup(t, tag(t), sleeper)
	g.killLeader(t)
	if !running(g.grandchild) {
		t.Fatal("the background sleep died with its leader; the test needs it alive")
	}
	log, buf := newLog()
	procgroup.StopLeft(context.Background(), []store.RunProcess{g.rec}, 5*time.Second, log)
	waitStopped(t, "the background sleep of a group whose leader has gone", g.grandchild)
	want := `msg="stopped the process group left running by a stopped agent" run=` + g.rec.RunID + " pgid=" + strconv.Itoa(g.rec.PGID) + " signal=SIGTERM"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, buf)
	}
}

func TestStopLeftStopsAGroupWhoseLeaderRuns(t *testing.T) {
	t.Parallel()
	g := startGroup(t, tag(t), sleeper)
	log, buf := newLog()
	procgroup.StopLeft(context.Background(), []store.RunProcess{g.rec}, 5*time.Second, log)
	waitStopped(t, "the background sleep", g.grandchild)
	_ = g.leader.Wait()
	if !strings.Contains(buf.String(), "signal=SIGTERM") {
		t.Errorf("log does not say the group was stopped by SIGTERM:\n%s", buf)
	}
}

func TestStopLeftKillsAGroupThatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	// An ignored signal stays ignored in what the shell starts.
	g := startGroup(t, tag(t), `trap '' TERM; sleep 300 & echo $!; exec sleep 300`)
	g.killLeader(t)
	log, buf := newLog()
	procgroup.StopLeft(context.Background(), []store.RunProcess{g.rec}, 100*time.Millisecond, log)
	waitStopped(t, "the background sleep ignoring SIGTERM", g.grandchild)
	if !strings.Contains(buf.String(), "signal=SIGKILL") {
		t.Errorf("log does not say the group needed SIGKILL:\n%s", buf)
	}
}

// A group id is a process id, and those are reused: a group that cannot be
// proven the recorded one is left alone.
func TestStopLeftLeavesOtherGroupsAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		killLeader bool
		change     func(*store.RunProcess)
		logged     string
	}{
		{"a leader that started at another time", false,
			func(p *store.RunProcess) { p.StartTime-- }, "its leader is another process than the one recorded"},
		{"no process carrying the tag once the leader has gone", true,
			func(p *store.RunProcess) { p.Tag = "JOBBRIDGE_PROCESS_TAG=another-run" }, "no process of it carries the run's tag"},
		{"no tag recorded", true,
			func(p *store.RunProcess) { p.Tag = "" }, "no start time or tag"},
		{"a process older than the recorded leader", true,
			func(p *store.RunProcess) { p.StartTime += 1000 }, "older than the recorded leader"},
		{"a group recorded in another boot", false,
			func(p *store.RunProcess) { p.BootID = "another-boot" }, "before the machine last booted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGroup(t, tag(t), sleeper)
			if tc.killLeader {
				g.killLeader(t)
			}
			rec := g.rec
			tc.change(&rec)
			log, buf := newLog()
			procgroup.StopLeft(context.Background(), []store.RunProcess{rec}, 100*time.Millisecond, log)
			if !running(g.grandchild) {
				t.Errorf("StopLeft stopped a group it could not prove the recorded one")
			}
			if !tc.killLeader && !running(g.leader.Process.Pid) {
				t.Errorf("StopLeft stopped the leader of a group it could not prove the recorded one")
			}
			if !strings.Contains(buf.String(), tc.logged) {
				t.Errorf("log does not say %q:\n%s", tc.logged, buf)
			}
		})
	}
}

func TestStopLeftSaysNothingOfGroupsThatHaveGone(t *testing.T) {
	t.Parallel()
	g := startGroup(t, tag(t), `echo 0`)
	_ = g.leader.Wait()
	log, buf := newLog()
	procgroup.StopLeft(context.Background(), []store.RunProcess{g.rec}, time.Second, log)
	if strings.Contains(buf.String(), "level=WARN") || strings.Contains(buf.String(), "level=INFO") {
		t.Errorf("log about a group that has gone:\n%s", buf)
	}
}
