package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

func TestNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var chat []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		chat = append(chat, body["text"])
		mu.Unlock()
	}))
	defer srv.Close()
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.Notify.WebhookURL = srv.URL })
	ctx := context.Background()

	_, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "x", Job: "demo", Schedule: "rate(1 day)",
		Notify: &api.NotifyPolicy{On: []string{"failed", "exploded"}, Channels: []string{"pager"}}})
	wantStatus(t, err, http.StatusBadRequest, "bad notification policy")
	for _, loc := range []string{"body.notify.on[1]", "body.notify.channels[0]"} {
		if !contains(problemLocations(err), loc) {
			t.Errorf("problem %v lacks %s", err, loc)
		}
	}

	r, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "10ms", "fail": "true"}, Notify: &api.NotifyPolicy{Channels: []string{"webhook"}}})
	if err != nil || len(r.Notify.Channels) != 1 {
		t.Fatalf("create: %+v %v", r, err)
	}
	run, err := ta.admin.TriggerRule(ctx, "nightly", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	wait.Poll(t, 5*time.Second, func() (bool, string) {
		mu.Lock()
		got = append([]string(nil), chat...)
		mu.Unlock()
		return len(got) > 0, ""
	})
	if len(got) != 1 || !strings.HasPrefix(got[0], "[jobbridge] nightly failed (run "+run.ID[len(run.ID)-8:]+")") {
		t.Fatalf("chat got %q", got)
	}
	st, err := ta.admin.Status(ctx)
	if err != nil || len(st.Notifications) != 1 || st.Notifications[0].Channel != "webhook" || !st.Notifications[0].Healthy || st.Notifications[0].Sent != 1 {
		t.Errorf("status notifications = %+v (%v)", st.Notifications, err)
	}
}

// pager is a program's own channel, added through agent.Env.
type pager struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (*pager) Name() string { return "pager" }
func (p *pager) Notify(_ context.Context, m notify.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return nil
}

// notifyFailure starts an agent with a program's own notifier n (and
// tweak's changes to its configuration), then runs a failing rule that
// notifies only n. It returns what stops the agent and where Run's error
// arrives once it has stopped.
func notifyFailure(t *testing.T, n agent.Notifier, tweak func(*agent.Config)) (stop func(), done <-chan error) {
	t.Helper()
	stop, done, _, _ = startNotifying(t, n, tweak)
	return stop, done
}

// startNotifying is notifyFailure that also returns the agent's client and
// configuration.
func startNotifying(t *testing.T, n agent.Notifier, tweak func(*agent.Config)) (stop func(), done <-chan error, c *client.Client, cfg agent.Config) {
	t.Helper()
	cfg = testConfig(t)
	cfg.AdminToken = adminToken
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := agent.New(context.Background(), cfg, nil, func(r *jobs.Registry, env agent.Env) error {
		env.AddNotifier(n)
		return builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	c = client.New(a.URL(), adminToken)
	if _, err := c.CreateRule(context.Background(), api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "10ms", "fail": "true"}, Notify: &api.NotifyPolicy{Channels: []string{n.Name()}}}); err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := c.TriggerRule(context.Background(), "r", nil); err != nil {
		cancel()
		t.Fatal(err)
	}
	return cancel, errc, c, cfg
}

func TestAProgramsOwnNotifier(t *testing.T) {
	t.Parallel()
	pg := &pager{}
	stop, done := notifyFailure(t, pg, nil)
	defer func() { stop(); <-done }()
	wait.For(t, 5*time.Second, func() (bool, string) {
		pg.mu.Lock()
		n := len(pg.msgs)
		pg.mu.Unlock()
		return n == 1, fmt.Sprintf("the program's own notifier got %d messages, want 1", n)
	})
}

// stuckPager is a program's own channel that ignores its context: once it
// has a message it never returns until the test ends.
type stuckPager struct {
	got     chan struct{}
	release chan struct{}
}

func (*stuckPager) Name() string { return "stuck" }
func (p *stuckPager) Notify(context.Context, notify.Message) error {
	select {
	case p.got <- struct{}{}:
	default:
	}
	<-p.release
	return nil
}

// The shutdown has one deadline: a notifier that ignores its context does
// not hold the agent past it.
func TestANotifierThatIgnoresItsContextDoesNotHoldTheShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the shutdown deadline, about 10 s")
	}
	t.Parallel()
	pg := &stuckPager{got: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(pg.release)
	cancel, done, c, cfg := startNotifying(t, pg, func(c *agent.Config) { c.ShutdownGrace = 2 * time.Second })
	// A long job is running when the agent stops: the stuck notifier must
	// not spend its grace.
	if _, err := c.CreateRule(context.Background(), api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "5m"}, Notify: &api.NotifyPolicy{On: []string{"none"}}}); err != nil {
		t.Fatal(err)
	}
	long, err := c.TriggerRule(context.Background(), "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		r, err := c.Run(context.Background(), long.ID)
		return err == nil && r.Status == api.StatusRunning, fmt.Sprintf("the long run is %s (%v)", r.Status, err)
	})
	select {
	case <-pg.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier got no message")
	}
	start := time.Now()
	cancel()
	// The background parts get 5 s, then the jobs their grace.
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run returned %v, want the shutdown deadline named", err)
		}
		t.Logf("Run returned after %s", time.Since(start).Round(time.Millisecond))
		st, err := agent.OpenStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		r, err := st.RunGet(context.Background(), long.ID)
		if err != nil || r.Status != api.StatusCancelled {
			t.Errorf("the long run after the shutdown: %s (%v), want cancelled: the jobs got their grace", r.Status, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still waits for the stuck notifier 20 s after its context ended")
	}
}

func TestAFailingWebhookLeavesNoPartOfItsURLInTheStatusOrTheLog(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route for POST "+r.URL.Path, http.StatusInternalServerError)
	}))
	defer srv.Close()
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.Notify.WebhookURL = srv.URL + "/services/T000/B000/XXXXSECRET" })
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "10ms", "fail": "true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.admin.TriggerRule(ctx, "nightly", nil); err != nil {
		t.Fatal(err)
	}
	// The status shows a failed attempt's error while the agent retries.
	reader := ta.tokenClient(t, "reader", api.RoleViewer)
	var st api.Status
	wait.Poll(t, 10*time.Second, func() (bool, string) {
		var err error
		if st, err = reader.Status(ctx); err != nil {
			t.Fatal(err)
		}
		return len(st.Notifications) > 0 && st.Notifications[0].LastError != "", ""
	})
	if len(st.Notifications) == 0 || !strings.Contains(st.Notifications[0].LastError, "answered 500") {
		t.Fatalf("the status does not show why the notification failed: %+v", st.Notifications)
	}
	logged := ta.log.String()
	status, _ := json.Marshal(st)
	for _, secret := range []string{"/services", "T000", "B000", "XXXXSECRET"} {
		if strings.Contains(logged, secret) {
			t.Errorf("the log shows %q:\n%s", secret, logged)
		}
		if strings.Contains(string(status), secret) {
			t.Errorf("the status shows %q: %s", secret, status)
		}
	}
	if !strings.Contains(logged, "answered 500: no route for POST ********") {
		t.Errorf("the log does not tell why the notification failed:\n%s", logged)
	}
}

func TestNotifyConfigPrintsWithoutSecrets(t *testing.T) {
	t.Parallel()
	cfg := agent.Config{Notify: agent.NotifyConfig{
		SMTPAddr: "smtp.example.com:587", SMTPUsername: "jobbridge", SMTPPassword: "s3cret-pw",
		WebhookURL: "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
	}}
	shown := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
	for _, secret := range []string{"s3cret-pw", "T000", "XXXXSECRET"} {
		if strings.Contains(shown, secret) {
			t.Errorf("printing the configuration shows %q: %s", secret, shown)
		}
	}
	if !strings.Contains(shown, "smtp.example.com:587") {
		t.Errorf("printing the configuration hides what is not secret: %s", shown)
	}
}

// A run a stopped agent left running is marked interrupted as the next
// agent starts, and that outcome (notified by default) reaches the
// channels: the dispatcher listens from New on, not from Run.
func TestARunLeftByAStoppedAgentIsNotifiedInterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.AdminToken = adminToken
	s, err := agent.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RuleCreate(ctx, store.Rule{Name: "r", Job: "demo", Schedule: "rate(1 day)", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	left, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "demo", Status: api.StatusRunning, Trigger: api.TriggerManual, Node: cfg.Node}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	pg := &pager{}
	a, err := agent.New(ctx, cfg, nil, func(r *jobs.Registry, env agent.Env) error {
		env.AddNotifier(pg)
		return builtin.Register(r, builtin.Options{DB: env.DB})
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	wait.For(t, 10*time.Second, func() (bool, string) {
		pg.mu.Lock()
		defer pg.mu.Unlock()
		for _, m := range pg.msgs {
			if m.RunID == left.ID && m.Kind == api.NotifyInterrupted {
				return true, ""
			}
		}
		return false, fmt.Sprintf("the channel got %+v, want run %s interrupted", pg.msgs, left.ID)
	})
}

// A job that does not return within the shutdown grace is recorded
// interrupted as the agent stops; the notifications stop after the runner,
// so that outcome is notified rather than lost with the agent.
func TestARunInterruptedByTheShutdownIsNotified(t *testing.T) {
	t.Parallel()
	pg := &pager{}
	stop, done, c, cfg := startNotifying(t, pg, func(c *agent.Config) { c.ShutdownGrace = 300 * time.Millisecond })
	if _, err := c.CreateRule(context.Background(), api.RuleInput{Name: "stubborn", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "5m", "ignore_cancel": "true"},
		Notify:     &api.NotifyPolicy{On: []string{"interrupted"}, Channels: []string{pg.Name()}}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.TriggerRule(context.Background(), "stubborn", nil)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		r, err := c.Run(context.Background(), run.ID)
		return err == nil && r.Status == api.StatusRunning, fmt.Sprintf("the run is %s (%v)", r.Status, err)
	})
	stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop")
	}
	pg.mu.Lock()
	defer pg.mu.Unlock()
	for _, m := range pg.msgs {
		if m.RunID == run.ID && m.Kind == notify.Interrupted {
			return
		}
	}
	st, err := agent.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.RunGet(context.Background(), run.ID)
	t.Errorf("no interrupted notification for run %s (stored %s %q, %v); the notifier got %+v", run.ID, r.Status, r.Error, err, pg.msgs)
}
