package eventbridge

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// memStore is the part of the store the backend uses, in memory.
type memStore struct {
	mu    sync.Mutex
	rules map[string]store.Rule
	syncs map[string][]string // rule → every sync state written, in order
}

func newMemStore() *memStore {
	return &memStore{rules: make(map[string]store.Rule), syncs: make(map[string][]string)}
}

func (m *memStore) RuleGet(_ context.Context, name string) (store.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rules[name]
	if !ok {
		return store.Rule{}, fmt.Errorf("get rule %q: %w", name, store.ErrNotFound)
	}
	return r, nil
}

func (m *memStore) RuleList(context.Context) ([]store.Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Rule
	for _, r := range m.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b store.Rule) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return out, nil
}

func (m *memStore) RuleSetSync(_ context.Context, name string, s store.Sync) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rules[name]
	if !ok {
		return fmt.Errorf("set sync of rule %q: %w", name, store.ErrNotFound)
	}
	r.Sync = s
	m.rules[name] = r
	m.syncs[name] = append(m.syncs[name], s.State)
	return nil
}

func (m *memStore) put(r store.Rule) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.rules[r.Name]; ok {
		r.Sync = old.Sync
	}
	m.rules[r.Name] = r
}

func (m *memStore) del(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rules, name)
}

func (m *memStore) sync(name string) store.Sync {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rules[name].Sync
}

const (
	testPrefix  = "jb-test-"
	testRoleARN = "arn:aws:iam::123456789012:role/jobbridge-target"
	testKey     = "0a1b2c3d-key-for-tests"
)

func testSettings() Settings {
	return Settings{
		APIKey:          testKey,
		TargetRoleARN:   testRoleARN,
		ConnectionName:  "jb-test-connection",
		DestinationName: "jb-test-destination",
		TargetURL:       "https://jobs.example.com/",
		RulePrefix:      testPrefix,
	}
}

// harness is a backend against a fake AWS, with its store and state file.
type harness struct {
	f     *ebtest.Fake
	st    *memStore
	cfg   Config
	b     *Backend
	state string
}

func newHarness(t *testing.T, mut ...func(*Config)) *harness {
	t.Helper()
	f := ebtest.NewFake(t)
	h := &harness{f: f, st: newMemStore(), state: filepath.Join(t.TempDir(), "eventbridge-state.json")}
	h.cfg = Config{
		Settings:     testSettings(),
		AWS:          f.AWSConfig(),
		Store:        h.st,
		StatePath:    h.state,
		RetryBase:    5 * time.Millisecond,
		ThrottleBase: 80 * time.Millisecond,
		RetryMax:     2 * time.Second,
	}
	for _, m := range mut {
		m(&h.cfg)
	}
	h.b = h.restart(t)
	return h
}

// restart builds a new backend on the same fake, store and state file, as
// an agent restart would.
func (h *harness) restart(t *testing.T, mut ...func(*Config)) *Backend {
	t.Helper()
	cfg := h.cfg
	for _, m := range mut {
		m(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.b = b
	return b
}

// run runs the backend until the test ends.
func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b := h.b
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func rule(name, schedule string, enabled bool) store.Rule {
	return store.Rule{Name: name, Job: "demo", Schedule: schedule, Enabled: enabled}
}

// runSettled runs the backend and waits until its first reconcile has
// listed the rules, so what the test does next goes through the worker.
func (h *harness) runSettled(t *testing.T) {
	t.Helper()
	h.run(t)
	waitFor(t, "the first reconcile", func() bool { return len(h.f.CallsOf("ListRules")) > 0 })
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) { return cond(), "waiting for " + what })
}
