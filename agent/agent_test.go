package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// waitJob runs until cancelled.
type waitJob struct{}

func (waitJob) ID() string           { return "wait" }
func (waitJob) Description() string  { return "waits for cancellation" }
func (waitJob) Params() []jobs.Param { return nil }
func (waitJob) Run(ctx context.Context, _ jobs.Params) error {
	<-ctx.Done()
	return ctx.Err()
}

func registerWait(r *jobs.Registry, _ agent.Env) error { return r.Register(waitJob{}) }

func testConfig(t testing.TB) agent.Config {
	return agent.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Node: "test-node", Scheduler: agent.SchedulerLocal}
}

func TestConfigValidateNamesEveryBadSetting(t *testing.T) {
	t.Parallel()
	cfg := agent.Config{
		Scheduler:   "sometimes",
		DatabaseURL: "mysql://localhost/db",
		TLSCert:     "cert.pem",
		Retention:   time.Minute,
		AdminToken:  "short",
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad configuration")
	}
	for _, want := range []string{
		`JOBBRIDGE_SCHEDULER: "sometimes" is not one of auto, local, eventbridge, scheduler, off`,
		"JOBBRIDGE_DATABASE_URL: want a postgres:// URL",
		"JOBBRIDGE_TLS_CERT and JOBBRIDGE_TLS_KEY: set both",
		"JOBBRIDGE_RETENTION: 1m0s is too short",
		"JOBBRIDGE_ADMIN_TOKEN: too short",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	cluster := agent.Config{ClusterHeartbeat: 10 * time.Second, ClusterLease: 15 * time.Second, Notify: agent.NotifyConfig{SMTPTLS: "ssl"}}
	err = cluster.Validate()
	for _, want := range []string{
		"JOBBRIDGE_CLUSTER_LEASE: 15s is less than twice JOBBRIDGE_CLUSTER_HEARTBEAT (10s)",
		`JOBBRIDGE_NOTIFY_SMTP_TLS: "ssl" is not none, starttls or tls`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	negative := agent.Config{ClusterHeartbeat: -time.Second, ClusterLease: -time.Second}
	if err := negative.Validate(); err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_CLUSTER_HEARTBEAT: -1s is negative") ||
		!strings.Contains(err.Error(), "JOBBRIDGE_CLUSTER_LEASE: -1s is negative") {
		t.Errorf("negative cluster timings: %v", err)
	}
	eb := agent.Config{Scheduler: agent.SchedulerEventBridge}
	if err := eb.Validate(); err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_EB_API_KEY") {
		t.Errorf("eventbridge without settings: %v", err)
	}
}

func TestFirstStartWritesAdminTokenFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	a, err := agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.DataDir, "admin-token")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v (mode %v), want 0600", err, info)
	}
	token := readToken(t, path)
	tok, err := a.Store().TokenGetByHash(ctx, agent.HashToken(token))
	if err != nil || tok.Name != "admin" || tok.Role != store.RoleAdmin {
		t.Errorf("token in the file is not the stored admin token: %+v, %v", tok, err)
	}
	a.Store().Close()

	// A restart keeps it.
	a, err = agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	if again := readToken(t, path); again != token {
		t.Error("a restart changed the admin token")
	}
	a.Store().Close()

	// With the file gone, nobody could use the token: a restart rotates it.
	os.Remove(path)
	a, err = agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store().Close()
	fresh := readToken(t, path)
	if fresh == token {
		t.Error("the admin token was not rotated after its file was removed")
	}
	if _, err := a.Store().TokenGetByHash(ctx, agent.HashToken(token)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old admin token still works: %v", err)
	}
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestFixedAdminToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AdminToken = "fixed-admin-token-0123456789"
	a, err := agent.New(context.Background(), cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store().Close()
	if _, err := a.Store().TokenGetByHash(context.Background(), agent.HashToken(cfg.AdminToken)); err != nil {
		t.Errorf("JOBBRIDGE_ADMIN_TOKEN not stored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "admin-token")); !os.IsNotExist(err) {
		t.Errorf("a token file was written although the token was given: %v", err)
	}
}

func TestSecondAgentOnOneSQLiteFileRefuses(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a, err := agent.New(context.Background(), cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store().Close()
	_, err = agent.New(context.Background(), cfg, nil, registerWait)
	if err == nil || !strings.Contains(err.Error(), "in use by another agent") {
		t.Errorf("second agent on the same data dir: %v, want a clear refusal", err)
	}
}

func TestDuplicateJobStopsStart(t *testing.T) {
	t.Parallel()
	_, err := agent.New(context.Background(), testConfig(t), nil, func(r *jobs.Registry, _ agent.Env) error {
		return r.Register(waitJob{}, waitJob{})
	})
	if err == nil || !strings.Contains(err.Error(), `register job "wait": a job with this id is already registered`) {
		t.Errorf("duplicate job: %v", err)
	}
}

func TestRunsLeftRunningAreInterruptedAtStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "jobbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	left, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "wait", Status: api.StatusRunning, Trigger: api.TriggerManual, Node: "crashed-node"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	a, err := agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store().Close()
	run, err := a.Store().RunGet(ctx, left.ID)
	if err != nil || run.Status != api.StatusInterrupted || !strings.Contains(run.Error, "the agent stopped") {
		t.Errorf("run left running: %+v, %v; want interrupted", run, err)
	}
}

func TestRunServesThenShutsDownCleanly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.EventBridge.APIKey = "webhook-key-0123456789"
	a, err := agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "agent.url"))
	if err != nil || strings.TrimSpace(string(b)) != a.URL() {
		t.Fatalf("agent.url = %q (%v), want %q", b, err, a.URL())
	}
	if _, err := a.Store().RuleCreate(ctx, store.Rule{Name: "forever", Job: "wait", Schedule: "rate(1 day)", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, a.URL()+"/webhook/run", strings.NewReader(`{"rule":"forever","eventId":"e1"}`))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", cfg.EventBridge.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var wr api.WebhookResponse
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &wr) != nil {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want a clean stop", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	// The store is closed now; reopen it to read what was recorded.
	s, err := sqlite.Open(context.Background(), filepath.Join(cfg.DataDir, "jobbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.RunGet(context.Background(), wr.RunID)
	if err != nil || run.Status != api.StatusCancelled || run.CancelledBy != "agent test-node" {
		t.Errorf("run at shutdown: %+v, %v; want cancelled by the agent", run, err)
	}
}

func TestOldRunsArePrunedAfterTheRetention(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.Retention = 7 * 24 * time.Hour
	a, err := agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Store()
	mk := func(age time.Duration) string {
		created := time.Now().Add(-age)
		run, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "wait", Status: api.StatusRunning, Trigger: api.TriggerManual, CreatedAt: created}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunFinish(ctx, store.RunFinishParams{ID: run.ID, Status: api.StatusSucceeded, FinishedAt: created.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		return run.ID
	}
	old, recent := mk(8*24*time.Hour), mk(6*24*time.Hour)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	wait.For(t, 5*time.Second, func() (bool, string) {
		_, err := s.RunGet(ctx, old)
		return errors.Is(err, store.ErrNotFound), fmt.Sprintf("a run older than the retention is still there: %v", err)
	})
	if _, err := s.RunGet(ctx, recent); err != nil {
		t.Errorf("a run within the retention was pruned: %v", err)
	}
	cancel()
	<-done
}
