package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The tests here run the real agent binary, as an operator would.

// agentBinary builds the agent binary once per test binary, the first time
// a test needs it, and returns its path. Under -short the tests that need it
// are skipped: building takes longer than the rest of the package's tests.
func agentBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the agent binary; skipped under -short")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jobbridge-agent-bin")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "agent")
		build := exec.Command("go", "build", "-o", bin, "github.com/jobbridge/jobbridge/cmd/agent")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build the agent: %w\n%s", err, out)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type agentProc struct {
	cmd     *exec.Cmd
	url     string
	dataDir string
	stderr  *syncLog
}

// syncLog is the agent's stderr, written by a reader goroutine while the
// test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const webhookKey = "e2e-webhook-key-0123456789"

// startAgent runs the binary on a fresh port with dataDir and waits until it
// answers. Its log is kept for failure messages.
func startAgent(t testing.TB, dataDir string, env ...string) *agentProc {
	t.Helper()
	os.Remove(filepath.Join(dataDir, "agent.url"))
	cmd := exec.Command(agentBinary(t))
	cmd.Env = append(os.Environ(),
		"JOBBRIDGE_DATA_DIR="+dataDir,
		"JOBBRIDGE_LISTEN=127.0.0.1:0",
		"JOBBRIDGE_EB_API_KEY="+webhookKey,
		"JOBBRIDGE_SHUTDOWN_GRACE=5s",
		"JOBBRIDGE_DATABASE_URL=",
	)
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	log := &syncLog{}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.add(sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProc{cmd: cmd, dataDir: dataDir, stderr: log}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pw.Close()
	})
	deadline := time.After(20 * time.Second)
	for p.url == "" {
		select {
		case line := <-lines:
			if strings.Contains(line, "jobbridge agent listening") {
				b, err := os.ReadFile(filepath.Join(dataDir, "agent.url"))
				if err != nil {
					t.Fatalf("agent says it listens but wrote no agent.url: %v", err)
				}
				p.url = strings.TrimSpace(string(b))
			}
		case <-deadline:
			t.Fatalf("the agent did not start:\n%s", log.String())
		}
	}
	return p
}

// waitLog waits a few seconds for the agent to log s.
func (p *agentProc) waitLog(t *testing.T, s string) bool {
	logged, _ := wait.Poll(t, 5*time.Second, func() (bool, string) { return strings.Contains(p.stderr.String(), s), "" })
	return logged
}

func (p *agentProc) deliver(t *testing.T, rule, eventID string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.url+"/webhook/run", strings.NewReader(`{"rule":"`+rule+`","eventId":"`+eventID+`"}`))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", webhookKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", resp.StatusCode, b)
	}
	_, id, _ := strings.Cut(string(b), `"runId":"`)
	id, _, _ = strings.Cut(id, `"`)
	return id
}

func openStore(t *testing.T, dataDir string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "jobbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedRule creates a rule while no agent holds the database.
func seedRule(t *testing.T, dataDir string, r store.Rule) {
	t.Helper()
	s := openStore(t, dataDir)
	defer s.Close()
	if _, err := s.RuleCreate(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func runStatus(t *testing.T, dataDir, id string) store.Run {
	t.Helper()
	s := openStore(t, dataDir)
	defer s.Close()
	run, err := s.RunGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestQuickStartAnnouncesURLAndToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startAgent(t, dir)
	for _, want := range []string{"url=http://127.0.0.1:", "store=sqlite", "scheduler=local", "admin token", filepath.Join(dir, "admin-token")} {
		if !p.waitLog(t, want) {
			t.Errorf("start-up log does not mention %q:\n%s", want, p.stderr)
		}
	}
	resp, err := http.Get(p.url + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestSIGTERMCancelsRunsAndRecordsThem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startAgent(t, dir)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	seedRule(t, dir, store.Rule{Name: "long", Job: "demo", Schedule: "rate(1 day)", Enabled: true, Parameters: map[string]string{"duration": "10m"}})

	p = startAgent(t, dir)
	id := p.deliver(t, "long", "evt-term")
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent exited with %v after SIGTERM, want 0:\n%s", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not stop within 10s of SIGTERM:\n%s", p.stderr)
	}
	run := runStatus(t, dir, id)
	if run.Status != api.StatusCancelled || run.Error != "cancelled: the agent is shutting down" {
		t.Errorf("run after SIGTERM: %s %q, want cancelled by the shutdown", run.Status, run.Error)
	}
}

func TestKilledAgentsRunsAreInterruptedAtNextStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startAgent(t, dir) // creates the database
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	seedRule(t, dir, store.Rule{Name: "long", Job: "demo", Schedule: "rate(1 day)", Enabled: true, Parameters: map[string]string{"duration": "10m"}})

	p = startAgent(t, dir)
	id := p.deliver(t, "long", "evt-kill")
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Kill() // SIGKILL: no chance to record anything
	p.cmd.Wait()
	if run := runStatus(t, dir, id); run.Status != api.StatusRunning {
		t.Fatalf("after SIGKILL the run is %s, want still running in the store", run.Status)
	}

	p = startAgent(t, dir)
	if !p.waitLog(t, "marked interrupted") {
		t.Errorf("the restarted agent did not log the interrupted run:\n%s", p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	run := runStatus(t, dir, id)
	if run.Status != api.StatusInterrupted {
		t.Errorf("after a restart the killed agent's run is %s, want interrupted", run.Status)
	}
}

func TestCronCommandsOfTheBinary(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(agentBinary(t), args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	code, out, _ := run("cron", "next", "cron(0 0 ? * TUE#5 *)", "--from", "2021-01-01T00:00:00Z", "--count", "3", "--json")
	if code != 0 || strings.TrimSpace(out) != `["2021-03-30T00:00:00Z","2021-06-29T00:00:00Z","2021-08-31T00:00:00Z"]` {
		t.Errorf("cron next --json: exit %d, %q", code, out)
	}
	code, out, errOut := run("cron", "validate", "cron(0 0 ? * 8 *)")
	if code != 2 || out != "" || !strings.Contains(errOut, `day-of-week: "8" is out of range 1-7 (SUN-SAT)`) {
		t.Errorf("cron validate of a bad expression: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = run("cron", "next", "cron(0 0 30 2 ? *)", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" || !strings.Contains(errOut, "never") {
		t.Errorf("cron next of a never-firing expression: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

const adminToken = "e2e-admin-token-0123456789abcdef"
