package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

func registerSecretive(r *jobs.Registry, _ agent.Env) error { return r.Register(&secretJob{}) }

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// storedRuleParams is what the database itself holds as a rule's
// parameters: on SQLite every byte of its files, on PostgreSQL the row.
func storedRuleParams(t *testing.T, cfg agent.Config, rule string) string {
	t.Helper()
	if cfg.DatabaseURL == "" {
		var all []byte
		for _, p := range []string{"jobbridge.db", "jobbridge.db-wal"} {
			b, err := os.ReadFile(filepath.Join(cfg.DataDir, p))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return string(all)
	}
	conn, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var params string
	if err := conn.QueryRow(context.Background(), `SELECT parameters::text FROM rules WHERE name = $1`, rule).Scan(&params); err != nil {
		t.Fatal(err)
	}
	return params
}

func TestSecretParametersReachTheDatabaseEncryptedOnly(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var cfg agent.Config
			ta := startAgent(t, kind, func(c *agent.Config) { cfg = *c })
			ctx := context.Background()
			const secret = "pw-3a7bd3e2360a3d29eea436fcfb7e44c7"
			if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)", Parameters: map[string]string{"password": secret}}); err != nil {
				t.Fatal(err)
			}
			stored := storedRuleParams(t, cfg, "db")
			if strings.Contains(stored, secret) {
				t.Errorf("the database holds the plaintext secret")
			}
			if !strings.Contains(stored, secrets.Prefix) {
				t.Errorf("the database holds no encrypted value: %.200q", stored)
			}
			// The job, and the store's users, get it back in plaintext.
			run, err := ta.admin.TriggerRule(ctx, "db", nil)
			if err != nil {
				t.Fatal(err)
			}
			ta.waitRun(t, run.ID, api.StatusSucceeded)
			if got := ta.secret.last(); got["password"] != secret {
				t.Errorf("the job got password %q, want the secret", got["password"])
			}
			if r, err := ta.Store().RuleGet(ctx, "db"); err != nil || r.Parameters["password"] != secret {
				t.Errorf("Store().RuleGet: %v, %v", r.Parameters, err)
			}
		})
	}
}

func TestAnAgentWithAnotherSecretsKeyRefusesToStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.SecretsKey = randomKey()
	a, err := agent.New(ctx, cfg, nil, registerSecretive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store().RuleCreate(ctx, store.Rule{Name: "db", Job: "secretive", Schedule: "rate(1 day)", Parameters: map[string]string{"password": "pw"}}); err != nil {
		t.Fatal(err)
	}
	a.Store().Close()

	other := cfg
	other.SecretsKey = randomKey()
	_, err = agent.New(ctx, other, nil, registerSecretive)
	if !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), "the database's secret parameters are encrypted with another key (fingerprint ") ||
		!strings.Contains(err.Error(), "JOBBRIDGE_SECRETS_KEY") {
		t.Errorf("start with another key: got %v, want a refusal naming JOBBRIDGE_SECRETS_KEY", err)
	}
	none := cfg
	none.SecretsKey = ""
	_, err = agent.New(ctx, none, nil, registerSecretive)
	if !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), "this agent has no key") {
		t.Errorf("start without a key: got %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, secrets.KeyFile)); !os.IsNotExist(err) {
		t.Errorf("the start without a key made a key file (%v)", err)
	}

	a, err = agent.New(ctx, cfg, nil, registerSecretive)
	if err != nil {
		t.Fatalf("start with the right key again: %v", err)
	}
	a.Store().Close()
}

func TestABadSecretsKeyIsAConfigurationError(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SecretsKey = "c2hvcnQ="
	_, err := agent.New(context.Background(), cfg, nil, registerWait)
	if err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_SECRETS_KEY: want the base64 of 32 random bytes") {
		t.Errorf("a key of 5 bytes: got %v, want an error naming JOBBRIDGE_SECRETS_KEY", err)
	}
	_, err = agent.OpenStore(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_SECRETS_KEY") {
		t.Errorf("OpenStore with a key of 5 bytes: got %v", err)
	}
}

func TestTheKeyFileIsCreatedPrivateAndServesOpenStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	a, err := agent.New(ctx, cfg, nil, registerSecretive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store().RuleCreate(ctx, store.Rule{Name: "db", Job: "secretive", Schedule: "rate(1 day)", Parameters: map[string]string{"password": "pw-for-commands"}}); err != nil {
		t.Fatal(err)
	}
	a.Store().Close()
	info, err := os.Stat(filepath.Join(cfg.DataDir, secrets.KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v (mode %v), want 0600", err, info)
	}
	for _, f := range []string{"jobbridge.db"} {
		if info, err := os.Stat(filepath.Join(cfg.DataDir, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v (mode %v), want 0600", f, err, info)
		}
	}
	// A command such as `agent aws prune` reads rules with the same key.
	s, err := agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.RuleGet(ctx, "db"); err != nil || r.Parameters["password"] != "pw-for-commands" {
		t.Errorf("OpenStore's RuleGet: %v, %v", r.Parameters, err)
	}
}

func TestAnAgentWarnsWhenItsDataDirIsOpenToOthers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	if err := os.Chmod(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := agent.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), registerWait)
	if err != nil {
		t.Fatal(err)
	}
	a.Store().Close()
	if !strings.Contains(logs.String(), `level=WARN msg="the data dir is open to other users`) || !strings.Contains(logs.String(), "dir="+cfg.DataDir) {
		t.Errorf("a 0755 data dir: the agent's log says\n%s\nwant a warning naming the dir", logs.String())
	}

	private := testConfig(t)
	if err := os.Chmod(private.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	a, err = agent.New(context.Background(), private, slog.New(slog.NewTextHandler(&logs, nil)), registerWait)
	if err != nil {
		t.Fatal(err)
	}
	a.Store().Close()
	if strings.Contains(logs.String(), "data dir is open") {
		t.Errorf("a 0700 data dir is warned about:\n%s", logs.String())
	}
}
