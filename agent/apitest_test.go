package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// secretJob records the parameters it ran with, so a test can tell that
// the real secret reached the job while every answer masked it.
type secretJob struct {
	mu   sync.Mutex
	seen []jobs.Params
}

func (*secretJob) ID() string          { return "secretive" }
func (*secretJob) Description() string { return "uses a password" }
func (*secretJob) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "password", Secret: true, Required: true, Description: "the password"},
		{Name: "count", Type: jobs.TypeInt, Default: "1", Description: "how many"},
		{Name: "mode", Type: jobs.TypeEnum, Choices: []string{"fast", "safe"}, Default: "safe", Description: "how"},
		{Name: "pin", Type: jobs.TypeInt, Secret: true, Description: "a secret that is not a string"},
	}
}

func (j *secretJob) Run(ctx context.Context, p jobs.Params) error {
	j.mu.Lock()
	j.seen = append(j.seen, p)
	j.mu.Unlock()
	jobs.Logger(ctx).Info("connecting", "user", "app")
	return nil
}

func (j *secretJob) last() jobs.Params {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.seen) == 0 {
		return nil
	}
	return j.seen[len(j.seen)-1]
}

// leakyScript is a careless command job: it prints its secret parameter
// and its whole environment.
const leakyScript = `printf 'the token is %s\n' "$JOBBRIDGE_PARAM_TOKEN"; env
printf '{"token": "%s", "%s": "as a key"}' "$JOBBRIDGE_PARAM_TOKEN" "$JOBBRIDGE_PARAM_TOKEN" > "$JOBBRIDGE_OUTPUT_FILE"`

// outputScript is the output command job: it writes its output parameter
// to its output file, or an object of size bytes, and exits with exit.
const outputScript = `if [ "$JOBBRIDGE_PARAM_SIZE" -gt 0 ]; then
	{ printf '{"fill":"'; head -c $((JOBBRIDGE_PARAM_SIZE - 11)) /dev/zero | tr '\0' a; printf '"}'; } > "$JOBBRIDGE_OUTPUT_FILE"
else
	printf '%s' "$JOBBRIDGE_PARAM_OUTPUT" > "$JOBBRIDGE_OUTPUT_FILE"
fi
exit "$JOBBRIDGE_PARAM_EXIT"`

// lockedBuffer collects the agent's own log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testAgent is a running agent on loopback with an admin client.
type testAgent struct {
	*agent.Agent
	admin  *client.Client
	token  string
	log    *lockedBuffer
	secret *secretJob
	stop   func() // shuts the agent down (also done when the test ends)
}

const adminToken = "test-admin-token-0123456789abcdef"

// startAgent runs a full agent on the given store kind ("sqlite" or
// "postgres") until the test ends.
func startAgent(t testing.TB, kind string, tweak ...func(*agent.Config)) *testAgent {
	t.Helper()
	return startAgentIn(t, context.Background(), kind, tweak...)
}

// startAgentIn is startAgent with the context given to agent.New (which
// may carry a clock, see agent/internal/clock).
func startAgentIn(t testing.TB, newCtx context.Context, kind string, tweak ...func(*agent.Config)) *testAgent {
	t.Helper()
	cfg := testConfig(t)
	cfg.AdminToken = adminToken
	cfg.EventBridge.APIKey = "webhook-key-0123456789"
	if kind == "postgres" {
		cfg.DatabaseURL = pgtest.NewDatabase(t)
	}
	for _, f := range tweak {
		f(&cfg)
	}
	logs := &lockedBuffer{}
	sj := &secretJob{}
	a, err := agent.New(newCtx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		func(r *jobs.Registry, env agent.Env) error {
			if err := builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv}); err != nil {
				return err
			}
			leaky, err := builtin.NewShellCommand("leaky", "prints its secret and its environment", leakyScript,
				[]jobs.Param{{Name: "token", Secret: true, Required: true}}, builtin.WithPassEnv(env.CommandEnv...))
			if err != nil {
				return err
			}
			output, err := builtin.NewShellCommand("output", "writes the output it is given", outputScript, []jobs.Param{
				{Name: "output", Description: "what to write to the output file"},
				{Name: "size", Type: jobs.TypeInt, Default: "0", Description: "write instead an object of this many bytes"},
				{Name: "exit", Type: jobs.TypeInt, Default: "0", Description: "the program's exit status"},
				{Name: "token", Secret: true},
			})
			if err != nil {
				return err
			}
			return r.Register(sj, leaky, output)
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("agent did not stop")
			}
		})
	}
	t.Cleanup(stop)
	// Ready: serving and, on PostgreSQL, hearing the other agents, so that
	// a test misses none of their events.
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("the agent stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent was not ready after 20s")
	}
	hc := &http.Client{}
	if cfg.TLSCert != "" {
		hc = nil // the TLS test makes its own client
	}
	ta := &testAgent{Agent: a, token: adminToken, log: logs, secret: sj, stop: stop}
	if hc != nil {
		ta.admin = client.New(a.URL(), adminToken, client.WithHTTPClient(hc))
	}
	return ta
}

// eachStore runs f on a fresh agent of every store kind.
func eachStore(t *testing.T, f func(t *testing.T, ta *testAgent)) {
	t.Helper()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, startAgent(t, kind))
		})
	}
}

// tokenClient creates a token of role and returns a client using it.
func (ta *testAgent) tokenClient(t *testing.T, name, role string) *client.Client {
	t.Helper()
	nt, err := ta.admin.CreateToken(context.Background(), api.TokenInput{Name: name, Role: role})
	if err != nil {
		t.Fatalf("create %s token: %v", role, err)
	}
	return client.New(ta.URL(), nt.Secret)
}

// waitRun polls until the run is in one of want.
func (ta *testAgent) waitRun(t *testing.T, id string, want ...api.RunStatus) api.Run {
	t.Helper()
	var r api.Run
	wait.For(t, 10*time.Second, func() (bool, string) {
		var err error
		if r, err = ta.admin.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return slices.Contains(want, r.Status), fmt.Sprintf("run %s is %s (%q), want %v", id, r.Status, r.Error, want)
	})
	return r
}

func wantStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	if got := client.StatusOf(err); got != status {
		t.Errorf("%s: got %v (status %d), want %d", what, err, got, status)
	}
}

// wantDetail checks the problem's detail, the sentence clients show.
func wantDetail(t *testing.T, err error, detail string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Detail != detail {
		t.Errorf("got %v, want the detail %q", err, detail)
	}
}

func problemLocations(err error) []string {
	var locs []string
	if e, ok := err.(*client.Error); ok {
		for _, d := range e.Problem.Errors {
			locs = append(locs, d.Location)
		}
	}
	return locs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
