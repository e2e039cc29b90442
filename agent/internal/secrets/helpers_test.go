package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/jobs"
)

// callJob is a job like the built-in http job: a URL and a bearer token.
type callJob struct{}

func (callJob) ID() string          { return "call" }
func (callJob) Description() string { return "calls a URL with a token" }
func (callJob) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "url", Description: "where"},
		{Name: "bearer_token", Description: "the token", Secret: true},
	}
}
func (callJob) Run(context.Context, jobs.Params) error { return nil }

func registry(t *testing.T) *jobs.Registry {
	t.Helper()
	r := jobs.NewRegistry()
	if err := r.Register(callJob{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// The secret the tests store, and a rule holding it.
const token = "tok-9f86d081884c7d659a2feaa0c55ad015"

func callRule(name string) store.Rule {
	return store.Rule{Name: name, Job: "call", Schedule: "rate(1 hour)",
		Parameters: map[string]string{"url": "https://example.com/hook", "bearer_token": token}}
}

func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// testDB is one database, SQLite or PostgreSQL, that a test opens as often
// as it likes, through the secrets layer or around it.
type testDB struct {
	kind string
	dir  string // the data dir: the SQLite file and the key file
	path string // SQLite
	url  string // PostgreSQL
}

// eachKind runs f on a fresh database of each kind.
func eachKind(t *testing.T, f func(t *testing.T, db *testDB)) {
	t.Helper()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := &testDB{kind: kind, dir: t.TempDir()}
			if kind == "postgres" {
				db.url = pgtest.NewDatabase(t)
			} else {
				db.path = filepath.Join(db.dir, "jobbridge.db")
			}
			f(t, db)
		})
	}
}

// openRaw opens the database without the secrets layer, as an older agent.
func (db *testDB) openRaw(t *testing.T) store.Store {
	t.Helper()
	var s store.Store
	var err error
	if db.kind == "postgres" {
		s, err = postgres.Open(t.Context(), db.url)
	} else {
		s, err = sqlite.Open(t.Context(), db.path)
	}
	if err != nil {
		t.Fatalf("open %s: %v", db.kind, err)
	}
	return s
}

// open opens it through the secrets layer, closed when the test ends.
func (db *testDB) open(t *testing.T, cfg secrets.Config) (store.Store, error) {
	t.Helper()
	raw := db.openRaw(t)
	s, err := secrets.Open(t.Context(), raw, cfg)
	if err != nil {
		raw.Close()
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

// agentStart opens it as a starting agent with the given key (empty: the
// key file in the data dir) and the call job, as agent.New does.
func (db *testDB) agentStart(t *testing.T, key string) (store.Store, error) {
	t.Helper()
	s, err := db.open(t, secrets.Config{Key: key, DataDir: db.dir, Agent: true})
	if err != nil {
		return nil, err
	}
	if err := secrets.UseJobs(t.Context(), s, registry(t)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// mustStart is agentStart that fails the test on an error.
func (db *testDB) mustStart(t *testing.T, key string) store.Store {
	t.Helper()
	s, err := db.agentStart(t, key)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return s
}

// storedParams reads a rule's parameters from the database itself.
func (db *testDB) storedParams(t *testing.T, rule string) map[string]string {
	t.Helper()
	var text string
	db.query(t, func(q func(string, ...any) scanner) error {
		return q(`SELECT parameters FROM rules WHERE name = $1`, rule).Scan(&text)
	})
	m := map[string]string{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("stored parameters of %s: %v", rule, err)
	}
	return m
}

// exec runs a statement on the database itself.
func (db *testDB) exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	db.query(t, func(q func(string, ...any) scanner) error {
		var one int
		return q(stmt+` RETURNING 1`, args...).Scan(&one)
	})
}

type scanner interface{ Scan(...any) error }

func (db *testDB) query(t *testing.T, f func(q func(string, ...any) scanner) error) {
	t.Helper()
	ctx := context.Background()
	var err error
	if db.kind == "postgres" {
		conn, cerr := pgx.Connect(ctx, db.url)
		if cerr != nil {
			t.Fatal(cerr)
		}
		defer conn.Close(ctx)
		err = f(func(s string, args ...any) scanner { return conn.QueryRow(ctx, s, args...) })
	} else {
		sdb, cerr := sql.Open("sqlite", db.path+"?_pragma=busy_timeout(5000)")
		if cerr != nil {
			t.Fatal(cerr)
		}
		defer sdb.Close()
		err = f(func(s string, args ...any) scanner { return sdb.QueryRowContext(ctx, s, args...) })
	}
	if err != nil {
		t.Fatalf("query the %s database: %v", db.kind, err)
	}
}

// fileHolds reports whether the SQLite database's files (the file and its
// WAL) hold b anywhere, in use or not.
func (db *testDB) fileHolds(t *testing.T, b string) bool {
	t.Helper()
	for _, p := range []string{db.path, db.path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(b)) {
			return true
		}
	}
	return false
}

// logBuffer collects a logger's output.
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

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func jsonText(m map[string]string) (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}
