package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

const key = "test-key-0123456789"

// blockJob runs until the test ends, so a 202 proves the request did not
// wait for the job.
type blockJob struct{ release chan struct{} }

func (blockJob) ID() string           { return "block" }
func (blockJob) Description() string  { return "blocks until released" }
func (blockJob) Params() []jobs.Param { return nil }
func (j blockJob) Run(ctx context.Context, _ jobs.Params) error {
	select {
	case <-j.release:
	case <-ctx.Done():
	}
	return nil
}

type fixture struct {
	url    string
	store  store.Store
	runner *runner.Runner
}

func newFixture(t *testing.T, s store.Store, webhookKey string) *fixture {
	t.Helper()
	reg := jobs.NewRegistry()
	release := make(chan struct{})
	if err := reg.Register(blockJob{release}); err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: events.NewBroker(0), Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Store: s, Firer: r, WebhookKey: webhookKey, RulePrefix: "proj-"}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	ctx := context.Background()
	for _, rule := range []store.Rule{
		{Name: "nightly", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: true},
		{Name: "paused", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: false},
	} {
		if _, err := s.RuleCreate(ctx, rule); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{url: srv.URL, store: s, runner: r}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) post(t *testing.T, key string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/webhook/run", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(api.DefaultWebhookKeyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhook/run: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func (a answer) webhook(t *testing.T) api.WebhookResponse {
	t.Helper()
	var r api.WebhookResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return r
}

func (a answer) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, api.ProblemContentType)
	}
	var p api.Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return p
}

func TestWebhookAnswers(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, key)

		t.Run("new delivery is 202 at once, repeated is 200 duplicate", func(t *testing.T) {
			began := time.Now()
			a := f.post(t, key, `{"rule":"nightly","eventId":"e-1","time":"2026-11-27T03:00:00Z"}`)
			if a.status != http.StatusAccepted {
				t.Fatalf("status %d %s, want 202", a.status, a.body)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("the webhook took %s: it must not wait for the job", d)
			}
			first := a.webhook(t)
			run, err := f.store.RunGet(context.Background(), first.RunID)
			if err != nil || run.Status != api.StatusRunning || run.EventID != "e-1" || run.TriggeredBy != "eventbridge" ||
				run.Trigger != api.TriggerSchedule || !run.ScheduledAt.Equal(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)) {
				t.Errorf("recorded run %+v (%v)", run, err)
			}
			again := f.post(t, key, `{"rule":"nightly","eventId":"e-1","time":"2026-11-27T03:00:00Z"}`)
			if again.status != http.StatusOK {
				t.Fatalf("repeat status %d %s, want 200", again.status, again.body)
			}
			if dup := again.webhook(t); dup.RunID != first.RunID || !dup.Duplicate {
				t.Errorf("repeat answered %+v, want the first run %s with duplicate", dup, first.RunID)
			}
		})

		t.Run("raw EventBridge envelope with the rule prefix", func(t *testing.T) {
			a := f.post(t, key, `{"version":"0","id":"89d1a02d-5ec7-412e-82f5-13505f849b41","detail-type":"Scheduled Event","source":"aws.events",
				"account":"123456789012","time":"2026-11-27T03:00:00Z","region":"eu-west-1",
				"resources":["arn:aws:events:eu-west-1:123456789012:rule/proj-nightly"],"detail":{}}`)
			if a.status != http.StatusAccepted {
				t.Fatalf("status %d %s, want 202", a.status, a.body)
			}
			run, _ := f.store.RunGet(context.Background(), a.webhook(t).RunID)
			if run.Rule != "nightly" || run.EventID != "89d1a02d-5ec7-412e-82f5-13505f849b41" {
				t.Errorf("run from envelope: rule %q event %q", run.Rule, run.EventID)
			}
		})

		t.Run("wrong or missing key is 401 without detail", func(t *testing.T) {
			for _, k := range []string{"", "wrong", key + "x"} {
				a := f.post(t, k, `{"rule":"nightly","eventId":"e-401"}`)
				p := a.problem(t)
				if a.status != http.StatusUnauthorized || p.Detail != "" || len(p.Errors) != 0 {
					t.Errorf("key %q: %d %s, want a bare 401", k, a.status, a.body)
				}
			}
		})

		t.Run("unknown rule 404", func(t *testing.T) {
			if a := f.post(t, key, `{"rule":"nope","eventId":"e-404"}`); a.status != http.StatusNotFound || a.problem(t).Detail != `no rule named "nope"` {
				t.Errorf("unknown rule: %d %s", a.status, a.body)
			}
		})

		t.Run("malformed bodies are 400 naming the field", func(t *testing.T) {
			cases := map[string]string{
				`not json`:           "body",
				`{"rule":"nightly"}`: "body.eventId",
				`{"eventId":"x"}`:    "body.rule",
				`{"rule":"nightly","eventId":"x","time":"yesterday"}`: "body.time",
				`{"id":"x","resources":["not-an-arn"]}`:               "body.resources[0]",
				`{"rule":"nightly","eventId":"x"} {}`:                 "body",
			}
			for body, loc := range cases {
				a := f.post(t, key, body)
				p := a.problem(t)
				if a.status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Location != loc {
					t.Errorf("body %s: %d %s, want 400 at %s", body, a.status, a.body, loc)
				}
			}
		})

		t.Run("over 64 KiB is 413", func(t *testing.T) {
			big := `{"rule":"nightly","eventId":"e-big","pad":"` + strings.Repeat("x", server.MaxWebhookBody) + `"}`
			if a := f.post(t, key, big); a.status != http.StatusRequestEntityTooLarge {
				t.Errorf("big body: %d, want 413", a.status)
			}
		})

		t.Run("concurrent duplicate deliveries make one run", func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			ids := map[string]bool{}
			for range 16 {
				wg.Go(func() {
					a := f.post(t, key, `{"rule":"nightly","eventId":"e-concurrent"}`)
					mu.Lock()
					defer mu.Unlock()
					statuses[a.status]++
					if a.status < 300 {
						ids[a.webhook(t).RunID] = true
					}
				})
			}
			wg.Wait()
			if statuses[http.StatusAccepted] != 1 || statuses[http.StatusOK] != 15 || len(ids) != 1 {
				t.Errorf("16 concurrent deliveries: statuses %v, %d run ids; want one 202, fifteen 200, one run", statuses, len(ids))
			}
		})

		t.Run("health and readiness", func(t *testing.T) {
			for _, path := range []string{"/healthz", "/readyz"} {
				resp, err := http.Get(f.url + path)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %v %v", path, resp, err)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	})
}

func TestWebhookOffWithoutKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetesting.Open(t, "sqlite"), "")
	a := f.post(t, "", `{"rule":"nightly","eventId":"e"}`)
	if a.status != http.StatusNotFound || !strings.Contains(a.problem(t).Detail, "the webhook is off") {
		t.Errorf("webhook without a key: %d %s, want 404 saying it is off", a.status, a.body)
	}
}

func TestWebhookDuringShutdownIs503(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetesting.Open(t, "sqlite"), key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = f.runner.Shutdown(ctx)
	a := f.post(t, key, `{"rule":"nightly","eventId":"e-late"}`)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("delivery during shutdown: %d %s (Retry-After %q), want 503 with Retry-After", a.status, a.body, a.header.Get("Retry-After"))
	}
	runs, _, _ := f.store.RunList(context.Background(), store.RunFilter{})
	if len(runs) != 0 {
		t.Errorf("a delivery refused during shutdown was recorded: %+v", runs)
	}
}

// blockingFirer records nothing: it waits until the delivery's caller gives
// up, as a database too busy to answer does.
type blockingFirer struct{ entered chan struct{} }

func (f blockingFirer) Fire(ctx context.Context, p runner.FireParams) (store.Run, bool, error) {
	close(f.entered)
	<-ctx.Done()
	return store.Run{}, false, fmt.Errorf("record run of rule %q: %w", p.Rule, ctx.Err())
}

// A caller that gives up before its run is recorded is not an error of the
// agent's: EventBridge retries, and the event id makes that safe. It is
// logged as a warning, not as an error (a loaded burst logged 145 errors).
func TestWebhookCallerGivingUpIsAWarning(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	f := blockingFirer{entered: make(chan struct{})}
	srv := httptest.NewServer(server.New(server.Config{Store: storetesting.Open(t, "sqlite"), Firer: f, WebhookKey: key, Logger: logger}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/webhook/run", strings.NewReader(`{"rule":"nightly","eventId":"e-slow"}`))
	req.Header.Set(api.DefaultWebhookKeyHeader, key)
	go func() {
		<-f.entered
		cancel()
	}()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the delivery was answered %d; the client gave up first", resp.StatusCode)
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), "gave up"), "no log line yet: " + logs.String()
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("log of a caller giving up:\n%s\nwant a warning, no error", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
