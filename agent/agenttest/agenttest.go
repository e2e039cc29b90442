// Package agenttest runs a real jobbridge agent inside a test, as
// net/http/httptest runs an HTTP server: the same code as the agent
// binary, on 127.0.0.1, with SQLite in a temporary directory, stopped when
// the test ends. Tests of clients (the console, scripts) and of a
// program's own jobs talk to it over the real API, so they cannot drift
// from what the agent does.
//
//	func TestReportJob(t *testing.T) {
//		a := agenttest.Start(t, agenttest.Options{
//			Jobs: func(r *jobs.Registry, env agent.Env) error { return r.Register(newReportJob()) },
//		})
//		a.AddRules(api.RuleInput{Name: "nightly", Job: "report", Schedule: "cron(0 2 * * ? *)"})
//		run, err := a.Client(agenttest.AdminToken).TriggerRule(context.Background(), "nightly", nil)
//		if err != nil {
//			t.Fatal(err)
//		}
//		if got := a.WaitFinished(run.ID); got.Status != api.StatusSucceeded {
//			t.Errorf("the run %s: %s", got.Status, got.Error)
//		}
//	}
//
// Besides the API, an Agent seeds what a test needs to show: rules, and
// runs with fixed identities, timestamps and states, written to the
// agent's store. A run seeded as running has no job behind it; the test
// moves it on with Progress, Log and Finish, which store the change and
// publish it on the agent's event stream as the runner does.
//
// With Options.Now the agent computes derived times (the next fire times
// of rules) from that clock, and its local scheduler, whose clock stands
// still, fires nothing: screens drawn from it do not depend on the day.
package agenttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/clock"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Tokens the agent accepts, one per role. The admin token is the agent's
// own (JOBBRIDGE_ADMIN_TOKEN); the others exist with Options.RoleTokens.
const (
	AdminToken    = "agenttest-admin-token-0123456789abcdef"
	OperatorToken = "agenttest-operator-token-0123456789abcdef"
	ViewerToken   = "agenttest-viewer-token-0123456789abcdef"
)

// Names of the tokens, as runs record who triggered or cancelled them.
const (
	AdminName    = agent.AdminTokenName
	OperatorName = "operator"
	ViewerName   = "viewer"
)

// Node is the agent's node name, recorded in the runs it starts.
const Node = "agenttest"

// Options say what agent to start. The zero value is an agent with the
// built-in jobs, an admin token and no scheduler.
type Options struct {
	// Scheduler is agent.SchedulerOff (the default: nothing fires on its
	// own) or agent.SchedulerLocal (rules fire on their schedules, unless
	// Now is set).
	Scheduler string
	// Now is the agent's clock for derived times; nil is time.Now. What
	// the agent records itself still carries the real time: the runs it
	// starts, and the creation of rules, which anchors rate() schedules
	// (give a screen that must not change cron() schedules).
	Now func() time.Time
	// Jobs registers the test's own jobs beside the built-in ones (demo,
	// echo, http and orders.increment).
	Jobs agent.RegisterFunc
	// RoleTokens also creates OperatorToken and ViewerToken.
	RoleTokens bool
	// EventBridge runs the agent in eventbridge mode (Scheduler is then
	// ignored) against a stand-in for AWS EventBridge served in the test's
	// process, which the agent's AWS SDK reaches through its standard
	// environment variables: Start sets them with t.Setenv, so the test
	// may not be parallel. FailEventBridge makes the stand-in refuse calls.
	EventBridge bool
	// Logger receives the agent's own log; nil discards it.
	Logger *slog.Logger
	// JobsFile is the agent's jobs file (JOBBRIDGE_JOBS_FILE); "" for none.
	JobsFile string
	// Configure changes the agent's configuration last, for what no
	// option covers: notification channels (a channel that fails), or a
	// PostgreSQL database shared with other agents (see PostgresDatabase;
	// give each agent its own Node).
	Configure func(c *agent.Config)
}

// PostgresDatabase returns the URL of an empty PostgreSQL database of the
// test's own, dropped when the test ends, for agents to share (set
// agent.Config.DatabaseURL with Options.Configure). It reads the server
// from JOBBRIDGE_TEST_POSTGRES_URL and skips the test when that is unset,
// unless JOBBRIDGE_TEST_REQUIRE_POSTGRES=1.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.NewDatabase(t)
}

// Agent is a real agent serving on 127.0.0.1 until the test ends.
type Agent struct {
	t    testing.TB
	opts Options
	cfg  agent.Config

	eb *ebtest.Fake // with Options.EventBridge

	mu      sync.Mutex
	running *agent.Agent // nil while stopped
	stop    func()
	held    map[string][]store.LogLine // LogLater lines not stored yet
}

// Start starts an agent and stops it when the test ends. It fails the
// test if the agent does not start.
func Start(t testing.TB, opts Options) *Agent {
	t.Helper()
	if opts.Scheduler == "" {
		opts.Scheduler = agent.SchedulerOff
	}
	a := &Agent{t: t, opts: opts, cfg: agent.Config{
		Listen:     "127.0.0.1:0",
		DataDir:    t.TempDir(),
		AdminToken: AdminToken,
		Scheduler:  opts.Scheduler,
		Node:       Node,
		// Seeded runs may be old: the agent must not prune them.
		Retention:     100 * 365 * 24 * time.Hour,
		ShutdownGrace: 5 * time.Second,
		JobsFile:      opts.JobsFile,
	}}
	if opts.EventBridge {
		a.useEventBridge(t)
	}
	if opts.Configure != nil {
		opts.Configure(&a.cfg)
	}
	t.Cleanup(a.Stop)
	a.Resume()
	return a
}

// useEventBridge points the agent at a stand-in EventBridge.
func (a *Agent) useEventBridge(t testing.TB) {
	a.eb = ebtest.NewFake(t)
	for k, v := range map[string]string{
		"AWS_REGION":                   ebtest.Region,
		"AWS_ACCESS_KEY_ID":            "AKIDAGENTTEST",
		"AWS_SECRET_ACCESS_KEY":        "agenttest",
		"AWS_SESSION_TOKEN":            "",
		"AWS_PROFILE":                  "",
		"AWS_CONFIG_FILE":              filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE":  filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED":    "true",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": a.eb.URL(),
		"AWS_MAX_ATTEMPTS":             "1",
	} {
		t.Setenv(k, v)
	}
	a.cfg.Scheduler = agent.SchedulerEventBridge
	a.cfg.EventBridge = agent.EventBridgeConfig{
		APIKey:          "agenttest-webhook-key-0123456789",
		TargetRoleARN:   "arn:aws:iam::" + ebtest.Account + ":role/jobbridge-target",
		ConnectionName:  "agenttest-connection",
		DestinationName: "agenttest-destination",
		TargetURL:       "https://jobs.example.com",
		RulePrefix:      "jb-",
	}
}

// FailEventBridge makes the stand-in EventBridge (Options.EventBridge)
// answer the next call of op ("PutRule", "PutTargets", ...) with the AWS
// error code and message, as AWS refusing it would.
func (a *Agent) FailEventBridge(op, code, message string) {
	a.t.Helper()
	if a.eb == nil {
		a.t.Fatal("agenttest: FailEventBridge needs Options.EventBridge")
	}
	a.eb.FailNext(op, ebtest.Failure{Status: 400, Code: code, Message: message})
}

// Resume starts the agent again after Stop, as a new process on the same
// address and data: what it kept in its store is still there, runs left
// running are interrupted, and event ids it sent before mean nothing to it.
func (a *Agent) Resume() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running != nil {
		return
	}
	ctx := context.Background()
	if a.opts.Now != nil {
		ctx = clock.With(ctx, a.opts.Now)
	}
	listed := 0 // the stand-in EventBridge's ListRules calls so far
	if a.eb != nil {
		listed = len(a.eb.CallsOf("ListRules"))
	}
	ag, err := agent.New(ctx, a.cfg, a.opts.Logger, a.register)
	if err != nil {
		a.t.Fatalf("agenttest: start the agent: %v", err)
	}
	if a.opts.RoleTokens {
		for _, tok := range []struct {
			name, secret string
			role         store.Role
		}{{OperatorName, OperatorToken, store.RoleOperator}, {ViewerName, ViewerToken, store.RoleViewer}} {
			if err := addToken(ag.Store(), tok.name, tok.secret, tok.role, a.now()); err != nil {
				_ = ag.Store().Close()
				a.t.Fatal(err)
			}
		}
	}
	// The port of a stopped agent may take a moment to be free again.
	if ok, why := wait.Poll(a.t, 5*time.Second, func() (bool, string) {
		err := ag.Listen()
		return err == nil, fmt.Sprint(err)
	}); !ok {
		_ = ag.Store().Close()
		a.t.Fatalf("agenttest: %s", why)
	}
	a.cfg.Listen = ag.URL()[len("http://"):] // the next Resume takes the same address
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(runCtx) }()
	// fail stops the agent and waits for it (it writes in the test's temp
	// dir, which the test's cleanup removes) before failing the test.
	fail := func(format string, args ...any) {
		a.t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
		}
		a.t.Fatalf(format, args...)
	}
	select {
	case <-ag.Ready():
	case err := <-done:
		done <- err
		fail("agenttest: the agent stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		fail("agenttest: the agent was not ready after 20s")
	}
	if a.eb != nil {
		// The backend reconciles once it has set up; a rule saved before
		// that would be put twice, by the reconcile and by the save, and a
		// failure the test asked for would hit either.
		if ok, _ := wait.Poll(a.t, 10*time.Second, func() (bool, string) {
			return len(a.eb.CallsOf("ListRules")) > listed, ""
		}); !ok {
			fail("agenttest: the agent did not reconcile with EventBridge within 10s")
		}
	}
	var once sync.Once
	a.running = ag
	a.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					a.t.Errorf("agenttest: the agent stopped with: %v", err)
				}
			case <-time.After(20 * time.Second):
				a.t.Error("agenttest: the agent did not stop within 20s")
			}
		})
	}
}

// addToken creates a role token, created at the agent's clock's time (so
// that a screen listing the tokens does not depend on the day).
func addToken(s store.Store, name, secret string, role store.Role, created time.Time) error {
	err := s.TokenCreate(context.Background(), store.Token{Name: name, Role: role, Hash: service.HashToken(secret), CreatedAt: created.UTC()})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("agenttest: create the %s token: %w", role, err)
	}
	return nil
}

func (a *Agent) register(r *jobs.Registry, env agent.Env) error {
	if err := builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv}); err != nil {
		return err
	}
	if a.opts.Jobs != nil {
		return a.opts.Jobs(r, env)
	}
	return nil
}

// Stop stops the agent as a shutdown does: its connections, event
// streams included, close. Resume starts it again. The test's end stops
// it too.
func (a *Agent) Stop() {
	a.mu.Lock()
	stop := a.stop
	a.running, a.stop = nil, nil
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Addr is the agent's host:port; it stays the same across Stop and Resume.
func (a *Agent) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Listen
}

// URL is the agent's base URL.
func (a *Agent) URL() string { return "http://" + a.Addr() }

// Client returns an API client of the agent with the given token.
func (a *Agent) Client(token string) *client.Client {
	return client.New(a.URL(), token)
}

// HTTPClient returns an HTTP client that reaches the agent whatever host a
// URL names, so a test may show a fixed URL (http://agent.test) that does
// not depend on the port.
func (a *Agent) HTTPClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, a.Addr())
		},
	}}
}

// withStore calls f with the running agent's store, or, while the agent is
// stopped, with the store opened as the agent's commands open it.
func (a *Agent) withStore(f func(ctx context.Context, s store.Store) error) {
	a.t.Helper()
	ctx := context.Background()
	a.mu.Lock()
	ag := a.running
	a.mu.Unlock()
	if ag != nil {
		if err := f(ctx, ag.Store()); err != nil {
			a.t.Fatalf("agenttest: %v", err)
		}
		return
	}
	s, err := agent.OpenStore(ctx, a.cfg)
	if err != nil {
		a.t.Fatalf("agenttest: open the stopped agent's store: %v", err)
	}
	defer s.Close()
	if err := f(ctx, s); err != nil {
		a.t.Fatalf("agenttest: %v", err)
	}
}

// agent returns the running agent or fails the test.
func (a *Agent) agent() *agent.Agent {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.t.Fatal("agenttest: the agent is stopped")
	}
	return a.running
}

func (a *Agent) now() time.Time {
	if a.opts.Now != nil {
		return a.opts.Now().UTC()
	}
	return time.Now().UTC()
}
