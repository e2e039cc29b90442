package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/clock"
	"github.com/jobbridge/jobbridge/agent/internal/cluster"
	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/scheduler"
	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/egress"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Env is what a RegisterFunc may hand to the jobs it builds.
type Env struct {
	// Store is the agent's database; its Exec runs statements on it (the
	// built-in SQL job uses it).
	Store  store.Store
	Logger *slog.Logger
	// AddNotifier adds a notification channel of the program's own, beside
	// the configured email, chat webhook and SNS; rules name it by its Name.
	AddNotifier func(notify.Notifier)
	// Egress is the policy for jobs' network calls, from JOBBRIDGE_HTTP_ALLOW.
	Egress *egress.Policy
	// CommandEnv are the agent variables command jobs see beside PATH, HOME,
	// LANG and TZ, from JOBBRIDGE_COMMAND_ENV.
	CommandEnv []string
}

// RegisterFunc registers the jobs an agent offers. A program that wants its
// own jobs passes its own; see the README.
type RegisterFunc func(r *jobs.Registry, env Env) error

// Agent is a running jobbridge daemon.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	mode    string
	store   store.Store
	jobs    *jobs.Registry
	events  *events.Broker
	runner  *runner.Runner
	backend Backend

	shared    store.Cluster    // nil on SQLite
	cluster   *cluster.Cluster // nil on SQLite
	service   *service.Service
	metrics   *server.Metrics
	notifiers []notify.Notifier
	notify    *notify.Dispatcher // nil when no channel is configured

	adminTokenFile string // "" when the token was given
	listener       net.Listener
	sshAddr        sshAddr // the SSH console's, once started
	handler        *server.Server

	ready chan struct{} // closed once Run serves and (on PostgreSQL) hears the other agents
	fatal chan error    // why the agent must stop, from the cluster
}

// New opens the store (applying migrations), records runs a dead agent left
// running as interrupted, registers the jobs and prepares every part. It
// does not listen yet; Run does.
func New(ctx context.Context, cfg Config, log *slog.Logger, register RegisterFunc) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	a := &Agent{cfg: cfg, log: log, events: events.NewBroker(0), ready: make(chan struct{}), fatal: make(chan error, 1)}
	var err error
	if a.store, err = openStore(ctx, cfg, log, true); err != nil {
		return nil, err
	}
	if err := a.init(ctx, register); err != nil {
		a.store.Close()
		return nil, err
	}
	// The registered jobs say which rule parameters are secret: the store
	// encrypts those from now on, and now those an older agent left plain.
	if err := secrets.UseJobs(ctx, a.store, a.jobs); err != nil {
		a.store.Close()
		return nil, err
	}
	return a, nil
}

// OpenStore opens (and migrates) the store cfg names, for commands that
// work on the database without running the agent. On SQLite it fails with
// a *sqlite.InUseError while an agent runs on the file. Rules come and go
// with their secret parameters in plaintext, as from the agent's store: the
// first rule read or written needs the agent's secrets key (cfg.SecretsKey
// or the data dir's key file); tokens need none.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	return openStore(ctx, cfg, nil, false)
}

// openStore opens the database cfg names behind the layer that keeps secret
// parameters encrypted. forAgent: an agent is starting (see secrets.Config).
// Both callers ran cfg.Validate, which checks the secrets key.
func openStore(ctx context.Context, cfg Config, log *slog.Logger, forAgent bool) (store.Store, error) {
	var db store.Store
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		db = s
	} else {
		s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "jobbridge.db"))
		if err != nil {
			return nil, fmt.Errorf("open SQLite store: %w", err)
		}
		db = s
	}
	s, err := secrets.Open(ctx, db, secrets.Config{Key: cfg.SecretsKey, DataDir: cfg.DataDir, Agent: forAgent, Logger: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (a *Agent) init(ctx context.Context, register RegisterFunc) error {
	// Several agents may share a PostgreSQL database: take this one's
	// node name (its lock, held as long as the store is open) before
	// touching runs recorded under it.
	if sh, ok := a.store.(store.Cluster); ok {
		a.shared = sh
		if err := cluster.ClaimNode(ctx, sh, a.cfg.Node, a.cfg.ClusterLease); err != nil {
			return err
		}
	}
	// On SQLite this agent is the only one (the file is locked), so every
	// active run was left by a dead agent; on PostgreSQL only our own node's.
	node := a.cfg.Node
	if a.store.Kind() == "sqlite" {
		node = ""
	}
	a.stopLeftProcesses(ctx, node)
	stale, err := a.store.RunInterruptActive(ctx, node, "interrupted: the agent stopped while the job was running", time.Now().UTC())
	if err != nil {
		return fmt.Errorf("mark runs left by a stopped agent: %w", err)
	}
	for _, run := range stale {
		a.log.Warn("run left running by a stopped agent marked interrupted", "run", run.ID, "rule", run.Rule, "job", run.Job)
		r := run
		a.events.Publish(events.Event{Type: events.RunFinished, RuleName: r.Rule, Run: &r})
	}

	a.jobs = jobs.NewRegistry()
	if register != nil {
		env := Env{Store: a.store, Logger: a.log, AddNotifier: func(n notify.Notifier) { a.notifiers = append(a.notifiers, n) }}
		// Both were checked by Validate.
		env.Egress, _ = egress.Parse(a.cfg.HTTPAllow)
		env.CommandEnv, _ = a.cfg.commandEnv()
		if err := register(a.jobs, env); err != nil {
			return fmt.Errorf("register jobs: %w", err)
		}
	}
	configured, err := a.cfg.Notify.notifiers(ctx)
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	a.notifiers = append(configured, a.notifiers...)
	if a.adminTokenFile, err = ensureAdminToken(ctx, a.store, a.cfg); err != nil {
		return err
	}
	rc := runner.Config{
		Store: a.store, Jobs: a.jobs, Events: a.events, Node: a.cfg.Node,
		Logger: a.log, MaxLogLines: a.cfg.MaxLogLines, Secrets: a.ownSecrets(),
	}
	if a.shared != nil {
		rc.RemoteCancel = func(ctx context.Context, id string) error { return a.cluster.RemoteCancel(ctx, id) }
	}
	a.runner, err = runner.New(rc)
	if err != nil {
		return err
	}
	if a.shared != nil {
		a.cluster = cluster.New(cluster.Config{
			Store: a.store, Cluster: a.shared, Events: a.events, Runner: a.runner, Node: a.cfg.Node,
			URL: a.URL, Logger: a.log, Heartbeat: a.cfg.ClusterHeartbeat, Lease: a.cfg.ClusterLease,
			Fatal: func(err error) {
				select {
				case a.fatal <- err:
				default:
				}
			},
			RuleChanged: func(ctx context.Context, r store.Rule, deleted bool) {
				if deleted {
					a.backend.RuleDeleted(ctx, r)
				} else {
					a.backend.RuleChanged(ctx, r)
				}
			},
		})
	}
	a.warnUnknownJobs(ctx)

	if a.backend, err = a.newBackend(ctx); err != nil {
		return err
	}
	a.mode = a.backend.Mode()
	a.service = service.New(service.Config{
		Store: a.store, Jobs: a.jobs, Runner: a.runner, Events: a.events, Backend: a.backend,
		RulePrefix: a.cfg.EventBridge.RulePrefix, Logger: a.log,
		NotifyChannels: channelNames(a.notifiers),
	})
	a.metrics = server.NewMetrics()
	var reconciler server.Reconciler
	if rc, ok := a.backend.(Reconciler); ok {
		reconciler = reconcilerFunc(func(ctx context.Context) (any, error) { return rc.Reconcile(ctx) })
	}
	proxies, _ := server.ParseTrustedProxies(a.cfg.TrustedProxies) // checked by Validate
	a.handler = server.New(server.Config{
		Store: a.store, Firer: a.runner, Logger: a.log,
		WebhookKey: a.cfg.EventBridge.APIKey, WebhookHeader: a.cfg.EventBridge.AuthHeader,
		RulePrefix: a.cfg.EventBridge.RulePrefix,
		Service:    a.service, Jobs: a.jobs, Events: a.events, Reconciler: reconciler,
		Version: Version(), Node: a.cfg.Node, SchedulerMode: a.mode, Metrics: a.metrics,
		Notifications:  a.notificationStatus,
		TrustedProxies: proxies, MaxConnsPerAddress: a.cfg.MaxConnsPerAddress,
		Ready: a.listening, Now: clock.From(ctx),
	})
	return nil
}

// listening is nil while the agent hears the other agents sharing its
// PostgreSQL (always on SQLite): an agent deaf to them would miss their
// events and cancels.
func (a *Agent) listening() error {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.Listening()
}

// Ready is closed once Run serves and, on PostgreSQL, hears the other
// agents, as /readyz answers 200 from then on: a caller that waits for it
// misses none of the other agents' events.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

func (a *Agent) warnUnknownJobs(ctx context.Context) {
	rules, err := a.store.RuleList(ctx)
	if err != nil {
		a.log.Warn("list rules", "err", err)
		return
	}
	for _, r := range rules {
		if _, ok := a.jobs.Get(r.Job); !ok {
			a.log.Warn("rule names a job this agent does not have; its runs will fail", "rule", r.Name, "job", r.Job)
		}
	}
}

func channelNames(ns []notify.Notifier) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return out
}

// notificationStatus is each channel's health, for GET /status.
func (a *Agent) notificationStatus() []api.ChannelStatus {
	if a.notify == nil {
		return nil
	}
	var out []api.ChannelStatus
	for _, st := range a.notify.Status() {
		out = append(out, api.ChannelStatus{
			Channel: st.Channel, Healthy: st.Healthy, Sent: st.Sent, Failed: st.Failed,
			LastError: st.LastError, LastErrorAt: timePtr(st.LastErrorAt), LastSentAt: timePtr(st.LastSentAt),
		})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Service returns what carries out operators' actions.
func (a *Agent) Service() *service.Service { return a.service }

// Store returns the agent's store.
func (a *Agent) Store() store.Store { return a.store }

// Runner returns the agent's runner.
func (a *Agent) Runner() *runner.Runner { return a.runner }

// Events returns the agent's event broker.
func (a *Agent) Events() *events.Broker { return a.events }

// Jobs returns the registered jobs.
func (a *Agent) Jobs() *jobs.Registry { return a.jobs }

// SchedulerMode says which backend fires rules: local, eventbridge or off.
func (a *Agent) SchedulerMode() string { return a.mode }

// newBackend builds the scheduler backend the configuration asks for.
func (a *Agent) newBackend(ctx context.Context) (Backend, error) {
	switch a.cfg.schedulerMode() {
	case SchedulerLocal:
		sc := scheduler.Config{Store: a.store, Firer: a.runner, Logger: a.log, Now: clock.From(ctx)}
		if a.shared != nil {
			sc.Leader = a.shared.Leader
		}
		return scheduler.New(sc), nil
	case SchedulerEventBridge:
		return a.newEventBridgeBackend(ctx)
	}
	return offBackend{}, nil
}

// Listen binds the HTTP address (Run does it if not done yet) and writes
// it to the data dir, where a console started by the same user finds it.
func (a *Agent) Listen() error {
	if a.listener != nil {
		return nil
	}
	l, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.listener = l
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, "agent.url"), []byte(a.URL()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the agent's address file: %w", err)
	}
	return nil
}

// URL is the base URL the agent serves, once it listens.
func (a *Agent) URL() string {
	if a.listener == nil {
		return ""
	}
	scheme := "http"
	if a.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + a.listener.Addr().String()
}

// Run serves until ctx is done, then shuts down: it stops taking webhook
// calls, stops the scheduler, cancels running jobs and waits for them up to
// the shutdown grace period, and closes the store.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return err
	}
	stopSSH, err := a.startSSH()
	if err != nil {
		a.listener.Close()
		return err
	}
	a.announce()
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: server.ReadHeaderTimeout,
		IdleTimeout:       server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ln := a.handler.Listener(a.listener) // at most MaxConnsPerAddress from one client
	srv.RegisterOnShutdown(a.handler.StopStreams)
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if a.cfg.TLSCert != "" {
			err = srv.ServeTLS(ln, a.cfg.TLSCert, a.cfg.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.backend.Run(bg); err != nil {
			a.log.Error("scheduler backend stopped", "mode", a.mode, "err", err)
		}
	})
	wg.Go(func() { a.pruneLoop(bg) })
	wg.Go(func() { a.metrics.Watch(bg, a.events) })
	if a.cluster != nil {
		wg.Go(func() { a.cluster.Run(bg) })
		go func() {
			select {
			case <-a.cluster.Ready():
				close(a.ready)
			case <-bg.Done():
			}
		}()
	} else {
		close(a.ready)
	}
	if len(a.notifiers) > 0 {
		kinds, _ := a.cfg.Notify.kinds() // checked by Validate
		base := a.cfg.EventBridge.TargetURL
		if base == "" {
			base = a.URL()
		}
		a.notify = notify.New(notify.Config{
			Store: a.store, Events: a.events, Notifiers: a.notifiers, On: kinds,
			FoldWindow: a.cfg.Notify.FoldWindow, BaseURL: strings.TrimRight(base, "/"), Logger: a.log,
		})
		wg.Go(func() { a.notify.Run(bg) })
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		if runErr != nil {
			runErr = fmt.Errorf("serve HTTP: %w", runErr)
		}
	case runErr = <-a.fatal:
	}
	a.log.Info("shutting down", "grace", a.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	stopSSH(shutCtx) // first: its sessions are clients of the HTTP server
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	cancel()
	stopBG()
	wg.Wait()
	graceCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	shutErr := a.runner.Shutdown(graceCtx)
	if shutErr != nil {
		a.log.Error("shutdown", "err", shutErr)
	}
	if err := a.store.Close(); err != nil {
		a.log.Error("close store", "err", err)
	}
	a.log.Info("stopped")
	return errors.Join(runErr, shutErr)
}

func (a *Agent) announce() {
	attrs := []any{"url", a.URL(), "store", a.store.Kind(), "scheduler", a.mode, "jobs", len(a.jobs.List()), "node", a.cfg.Node}
	if a.store.Kind() == "sqlite" {
		attrs = append(attrs, "database", filepath.Join(a.cfg.DataDir, "jobbridge.db"))
	}
	a.log.Info("jobbridge agent listening", attrs...)
	if a.adminTokenFile != "" {
		a.log.Info("admin token", "file", a.adminTokenFile)
	} else {
		a.log.Info("admin token set by JOBBRIDGE_ADMIN_TOKEN")
	}
	if a.cfg.EventBridge.APIKey == "" {
		a.log.Warn("webhook is off: set JOBBRIDGE_EB_API_KEY to let EventBridge call POST /webhook/run")
	} else {
		a.log.Info("webhook on", "path", "/webhook/run", "header", a.cfg.EventBridge.AuthHeader)
	}
}

// pruneLoop deletes finished runs older than the retention, now and hourly.
func (a *Agent) pruneLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := a.store.RunPrune(ctx, time.Now().Add(-a.cfg.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("prune run history", "err", err)
		case n > 0:
			a.log.Info("pruned run history", "runs", n, "olderThan", a.cfg.Retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
