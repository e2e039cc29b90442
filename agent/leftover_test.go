//go:build linux

package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/procgroup"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// binaryAgent is the agent binary of testdata/leftoveragent, running.
type binaryAgent struct {
	cmd *exec.Cmd
	log *lockedBuffer
	api *client.Client
}

// buildLeftoverAgent builds testdata/leftoveragent into a temporary dir.
// Under -short the test that needs it is skipped: building and killing real
// agents takes longer than the rest of the package's tests.
func buildLeftoverAgent(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds, runs and kills an agent binary; skipped under -short")
	}
	bin := filepath.Join(t.TempDir(), "agent")
	build := exec.Command("go", "build", "-o", bin, "./testdata/leftoveragent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	return bin
}

// startBinaryAgent runs bin on dataDir (SQLite) and waits until it listens.
func startBinaryAgent(t *testing.T, bin, dataDir string) *binaryAgent {
	t.Helper()
	os.Remove(filepath.Join(dataDir, "agent.url"))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"JOBBRIDGE_DATA_DIR="+dataDir,
		"JOBBRIDGE_LISTEN=127.0.0.1:0",
		"JOBBRIDGE_DATABASE_URL=",
		"JOBBRIDGE_ADMIN_TOKEN="+adminToken,
		"JOBBRIDGE_SCHEDULER=off",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &binaryAgent{cmd: cmd, log: &lockedBuffer{}}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			a.log.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "jobbridge agent listening") {
				once.Do(func() { close(listening) })
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not start within 30s:\n%s", a.log)
	}
	url, err := os.ReadFile(filepath.Join(dataDir, "agent.url"))
	if err != nil {
		t.Fatalf("the agent listens but wrote no agent.url: %v", err)
	}
	a.api = client.New(strings.TrimSpace(string(url)), adminToken)
	return a
}

// waitLogLine waits until the run's log has a line matching re and returns
// its first submatch.
func (a *binaryAgent) waitLogLine(t *testing.T, runID string, re *regexp.Regexp) string {
	t.Helper()
	var found string
	wait.For(t, 30*time.Second, func() (bool, string) {
		lines, err := a.api.RunLog(context.Background(), runID, 0, 1000)
		if err != nil {
			t.Fatalf("run log: %v", err)
		}
		for _, l := range lines {
			if m := re.FindStringSubmatch(l.Message); m != nil {
				found = m[1]
				return true, ""
			}
		}
		return false, fmt.Sprintf("run %s logged nothing matching %s; agent log:\n%s", runID, re, a.log)
	})
	return found
}

// processRuns reports whether pid is a process that runs (an exited one
// that waits to be reaped does not).
func processRuns(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return f[0] != "Z" && f[0] != "X"
}

// waitProcessGone waits up to 15s for pid to stop running.
func waitProcessGone(t *testing.T, pid int) bool {
	gone, _ := wait.Poll(t, 15*time.Second, func() (bool, string) { return !processRuns(pid), "" })
	return gone
}

// An agent killed outright (SIGKILL, the OOM killer) takes its command jobs'
// programs with it, and the next agent on the machine stops what those
// programs left in their process groups before it records their runs
// interrupted: otherwise the job runs on, unsupervised, and the next fire
// runs it twice.
func TestKilledAgentsCommandJobsAreStopped(t *testing.T) {
	t.Parallel()
	bin := buildLeftoverAgent(t)
	dataDir := t.TempDir()
	ctx := context.Background()

	first := startBinaryAgent(t, bin, dataDir)
	if _, err := first.api.CreateRule(ctx, api.RuleInput{Name: "spawn", Job: "spawner", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	run, err := first.api.TriggerRule(ctx, "spawn", nil)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(first.waitLogLine(t, run.ID, regexp.MustCompile(`^command: started /bin/sh \(pid (\d+)\)$`)))
	grandchild, _ := strconv.Atoi(first.waitLogLine(t, run.ID, regexp.MustCompile(`^grandchild=(\d+)$`)))
	t.Cleanup(func() { _ = syscall.Kill(-child, syscall.SIGKILL) }) // whatever happens
	if !processRuns(child) || !processRuns(grandchild) {
		t.Fatalf("the job's program (pid %d) and its child (pid %d) should run by now", child, grandchild)
	}

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if !waitProcessGone(t, child) {
		t.Fatalf("the job's program (pid %d) still runs 15s after its agent was killed, want it killed with the agent", child)
	}
	// The kernel kills only the agent's own child: what that child started
	// is the next agent's to stop.
	if !processRuns(grandchild) {
		t.Fatalf("the program's child (pid %d) died with the agent; this test needs it left behind", grandchild)
	}

	second := startBinaryAgent(t, bin, dataDir)
	if !waitProcessGone(t, grandchild) {
		t.Fatalf("the process a killed agent's job left (pid %d) still runs after the next agent started:\n%s", grandchild, second.log)
	}
	logged := second.log.String()
	for _, want := range []string{
		`msg="stopped the process group left running by a stopped agent" run=` + run.ID + ` pgid=` + strconv.Itoa(child),
		`msg="run left running by a stopped agent marked interrupted" run=` + run.ID,
	} {
		if !strings.Contains(logged, want) {
			t.Errorf("the restarted agent's log does not say %q:\n%s", want, logged)
		}
	}
	got, err := second.api.Run(ctx, run.ID)
	if err != nil || got.Status != api.StatusInterrupted {
		t.Errorf("the killed agent's run after the restart: %s (%v), want interrupted", got.Status, err)
	}
}

// startLeftGroup starts, in a process group of its own, what a command job
// of a killed agent leaves: a shell that started a sleep in the background,
// then was killed. It returns the group as the runner records it, and the
// sleep's pid.
func startLeftGroup(t *testing.T, runID string) (store.RunProcess, int) {
	t.Helper()
	tag := "JOBBRIDGE_PROCESS_TAG=" + runID
	cmd := exec.Command("/bin/sh", "-c", `sleep 300 & echo $!; exec sleep 300`)
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
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sleeper, _ := strconv.Atoi(strings.TrimSpace(line))
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pgid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.ParseUint(strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))[19], 10, 64)
	_ = cmd.Process.Kill() // as the parent-death signal does
	_ = cmd.Wait()
	return store.RunProcess{RunID: runID, PGID: pgid, StartTime: start, BootID: procgroup.BootID(), Tag: tag}, sleeper
}

// A process group is stopped only by an agent of the node that ran it: on
// SQLite the only one; on PostgreSQL, an agent of another node (perhaps on
// another machine, perhaps alive) leaves it alone.
func TestAgentStopsOnlyItsOwnNodesLeftProcesses(t *testing.T) {
	t.Parallel()
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t)
			var s store.Store
			var err error
			if kind == "postgres" {
				cfg.DatabaseURL = pgtest.NewDatabase(t)
				s, err = postgres.Open(ctx, cfg.DatabaseURL)
			} else {
				s, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "jobbridge.db"))
			}
			if err != nil {
				t.Fatal(err)
			}
			sleepers := map[string]int{}
			for _, node := range []string{cfg.Node, "another-node"} {
				r, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
					Rule: "r", Job: "spawner", Status: api.StatusRunning, Trigger: api.TriggerManual, Node: node,
				}})
				if err != nil {
					t.Fatal(err)
				}
				p, sleeper := startLeftGroup(t, r.ID)
				if err := s.RunProcessSet(ctx, p); err != nil {
					t.Fatal(err)
				}
				sleepers[node] = sleeper
			}
			s.Close()

			logs := &lockedBuffer{}
			a, err := agent.New(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), registerWait)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Store().Close()
			if !waitProcessGone(t, sleepers[cfg.Node]) {
				t.Errorf("what a run of this agent's node left (pid %d) still runs:\n%s", sleepers[cfg.Node], logs)
			}
			otherStopped := !processRuns(sleepers["another-node"])
			if want := kind == "sqlite"; otherStopped != want {
				t.Errorf("what a run of another node left was stopped: %v, want %v (%s):\n%s", otherStopped, want, kind, logs)
			}
			left, err := a.Store().RunProcessList(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"sqlite": 0, "postgres": 1}[kind]; len(left) != want {
				t.Errorf("process groups still recorded after the start: %+v, want %d", left, want)
			}
		})
	}
}
