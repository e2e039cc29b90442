package burst

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/localagent"
)

// How long the agent gets to start (PostgreSQL migrations included) and to
// stop after SIGTERM before it is killed.
const (
	startTimeout = time.Minute
	stopTimeout  = 30 * time.Second
)

// agentSpec is how to start the agent under test.
type agentSpec struct {
	exe         string
	dir         string // the temporary directory: data dir and log go here
	scheduler   string // local or off
	databaseURL string // empty: SQLite in the data dir
	adminToken  string
	webhookKey  string
}

// agentProc is the agent under test, running as a child process.
type agentProc struct {
	cmd        *exec.Cmd
	url        string
	adminToken string
	webhookKey string
	logPath    string
	exited     chan struct{} // closed when the process has exited
	waitErr    error         // why it exited, once exited is closed
}

// childEnv is the agent's environment: the caller's without its own
// JOBBRIDGE_* and AWS_* variables (so no setting of the caller's agent, and
// no AWS account, reaches the one measured), then the settings given.
func childEnv(environ []string, settings map[string]string) []string {
	var env []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "JOBBRIDGE_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}

// startAgent starts the agent on a free loopback port with a data dir in
// spec.dir and waits until it is ready. Its stdout and stderr go to
// agent.log beside the data dir.
func startAgent(ctx context.Context, spec agentSpec) (*agentProc, error) {
	dataDir := filepath.Join(spec.dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	logPath := filepath.Join(spec.dir, "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	settings := map[string]string{
		"JOBBRIDGE_DATA_DIR":       dataDir,
		"JOBBRIDGE_LISTEN":         "127.0.0.1:0",
		"JOBBRIDGE_ADMIN_TOKEN":    spec.adminToken,
		"JOBBRIDGE_EB_API_KEY":     spec.webhookKey,
		"JOBBRIDGE_SCHEDULER":      spec.scheduler,
		"JOBBRIDGE_SHUTDOWN_GRACE": "10s",
		// Given, so that the agent does not write a key file and warn
		// that agents sharing the database need it.
		"JOBBRIDGE_SECRETS_KEY": secretsKey(),
	}
	if spec.databaseURL != "" {
		settings["JOBBRIDGE_DATABASE_URL"] = spec.databaseURL
	}
	cmd := exec.Command(spec.exe)
	cmd.Env = childEnv(os.Environ(), settings)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the agent %s: %w", spec.exe, err)
	}
	p := &agentProc{cmd: cmd, adminToken: spec.adminToken, webhookKey: spec.webhookKey, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, filepath.Join(dataDir, localagent.URLFile)); err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		_ = p.stop(sctx)
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	return p, nil
}

// secretsKey is a random JOBBRIDGE_SECRETS_KEY: 32 bytes, base64.
func secretsKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (p *agentProc) pid() int { return p.cmd.Process.Pid }

// waitReady waits for the agent to write its address and answer /readyz.
func (p *agentProc) waitReady(ctx context.Context, urlFile string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("it exited (%v) before it was ready; the end of its log:\n%s", p.waitErr, logTail(p.logPath, 15))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("it was not ready within %s; the end of its log:\n%s", startTimeout, logTail(p.logPath, 15))
			}
			return ctx.Err()
		case <-tick.C:
		}
		if p.url == "" {
			b, err := os.ReadFile(urlFile)
			if err != nil {
				continue
			}
			p.url = strings.TrimSpace(string(b))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// stop asks the agent to stop (SIGTERM), and kills it if it has not within
// stopTimeout or by ctx's end. An agent that exits with an error, or has to
// be killed, is an error: its figures may not be whole.
func (p *agentProc) stop(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.exitError("before it was stopped")
	default:
	}
	_ = terminate(p.cmd.Process)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.exitError("on SIGTERM")
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("the agent did not stop within %s of SIGTERM and was killed; see %s", stopTimeout, p.logPath)
}

func (p *agentProc) exitError(when string) error {
	if p.waitErr == nil {
		return nil
	}
	return fmt.Errorf("the agent exited %s with %v; the end of its log:\n%s", when, p.waitErr, logTail(p.logPath, 15))
}

// logTail is the last n lines of the log at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
