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
	"github.com/jobbridge/jobbridge/agent/internal/maintenance"
	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/scheduler"
	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/agent/internal/watch"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/egress"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// Env is what a RegisterFunc may hand to the jobs it builds.
type Env struct {
	// DB is the agent's database: Exec runs a statement on it (the built-in
	// SQL job uses it).
	DB     Execer
	Logger *slog.Logger
	// AddNotifier adds a notification channel of the program's own, beside
	// the configured email, chat webhook and SNS; rules name it by its Name.
	AddNotifier func(Notifier)
	// Egress is the policy for jobs' network calls, from JOBBRIDGE_HTTP_ALLOW.
	Egress *egress.Policy
	// CommandEnv are the agent variables command jobs see beside PATH, HOME,
	// LANG and TZ, from JOBBRIDGE_COMMAND_ENV.
	CommandEnv []string
}

// Execer runs statements on the agent's database.
type Execer interface {
	// Exec runs query with args and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Notifier is a notification channel of a program's own (see
// Env.AddNotifier): Name identifies it in rules, the status and the audit
// trail; Notify sends one message, and an error is retried with backoff.
type Notifier = notify.Notifier

// Notification is one message a Notifier sends: what happened (Kind, one of
// the api.NotifyKind values), to which rule, job and run, and how to open it.
type Notification = notify.Message

// RegisterFunc registers the jobs an agent offers. A program that wants its
// own jobs passes its own; see the README.
type RegisterFunc func(r *jobs.Registry, env Env) error

// Agent is a running jobbridge daemon. New builds every part; Run starts
// them together and stops them together.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	mode    string
	store   store.Store
	jobs    *jobs.Registry
	events  *events.Broker
	runner  *runner.Runner
	backend Backend

	cluster   *cluster.Cluster // nil on SQLite
	service   *service.Service
	metrics   *server.Metrics
	notifiers []notify.Notifier
	notify    *notify.Dispatcher // nil when no channel is configured
	watch     *watch.Watch       // the dead-man's switch; nil when off

	adminTokenFile string // "" when the token was given
	endpoint       *endpoint
	sshAddr        guarded[net.Addr] // the SSH console's, once started
	handler        *server.Server

	ready chan struct{} // closed once Run serves and (on PostgreSQL) hears the other agents
	fatal chan error    // why the agent must stop, from the cluster

	// maintenance is the maintenance mode; its On(now) is what the run
	// queue asks before starting scheduled runs.
	maintenance *maintenance.Switch
}

// New opens the store (applying migrations), records runs a dead agent left
// running as interrupted, registers the jobs and builds every part, each
// after the parts it needs. It does not listen yet; Run does.
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
	st, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return nil, err
	}
	a, err := build(ctx, cfg, log, st, register)
	if err != nil {
		st.Close()
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
		s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, localagent.DatabaseFile))
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

// build builds the agent's parts on its open store, in the order they
// need each other: runner, scheduler backend, cluster, notifications, then
// marks the runs a stopped agent left, then service and HTTP handler.
func build(ctx context.Context, cfg Config, log *slog.Logger, st store.Store, register RegisterFunc) (*Agent, error) {
	a := &Agent{
		cfg: cfg, log: log, store: st, events: events.NewBroker(0),
		endpoint: &endpoint{tls: cfg.TLSCert != ""},
		ready:    make(chan struct{}), fatal: make(chan error, 1),
	}
	// Several agents may share a PostgreSQL database: take this one's
	// node name (its lock, held as long as the store is open) before
	// touching runs recorded under it.
	shared, _ := st.(store.Cluster) // nil on SQLite
	if shared != nil {
		if err := cluster.ClaimNode(ctx, shared, cfg.Node, cfg.ClusterLease); err != nil {
			return nil, err
		}
	}

	a.jobs = jobs.NewRegistry()
	var own []notify.Notifier
	env := Env{DB: st, Logger: log, AddNotifier: func(n notify.Notifier) { own = append(own, n) }}
	// Both were checked by Validate.
	env.Egress, _ = egress.Parse(cfg.HTTPAllow)
	env.CommandEnv, _ = cfg.commandEnv()
	if register != nil {
		if err := register(a.jobs, env); err != nil {
			return nil, fmt.Errorf("register jobs: %w", err)
		}
	}
	if err := registerJobsFile(cfg.JobsFile, a.jobs, env); err != nil {
		return nil, err
	}
	if err := checkJobLimits(cfg.JobLimits, a.jobs); err != nil {
		return nil, err
	}
	configured, err := cfg.Notify.notifiers(ctx)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	a.notifiers = append(configured, own...)
	if a.adminTokenFile, err = ensureAdminToken(ctx, st, cfg); err != nil {
		return nil, err
	}

	mc := maintenance.Config{Store: st, Events: a.events, Logger: log, Now: clock.From(ctx)}
	if shared != nil {
		mc.Leader = shared.Leader // one agent records the end of maintenance
	}
	a.maintenance = maintenance.New(mc)
	rc := runner.Config{
		Store: st, Jobs: a.jobs, Events: a.events, Node: cfg.Node,
		Logger: log, MaxLogLines: cfg.MaxLogLines, Secrets: a.ownSecrets(),
		Maintenance: a.maintenance.Active,
		// While maintenance is on, queued runs wait, but an operator's
		// forced run or restart that had to queue still starts.
		Paused:    func() bool { return a.maintenance.On(clock.From(ctx)()) },
		JobLimits: cfg.JobLimits,
		Now:       clock.From(ctx),
	}
	if shared != nil {
		rc.RemoteCancel = cluster.RemoteCancel(shared)
	}
	if a.runner, err = runner.New(rc); err != nil {
		return nil, err
	}
	a.warnUnknownJobs(ctx)
	if a.backend, err = newBackend(ctx, cfg, log, st, shared, a.runner); err != nil {
		return nil, err
	}
	a.mode = a.backend.Mode()
	if shared != nil {
		a.cluster = cluster.New(cluster.Config{
			Store: st, Cluster: shared, Events: a.events, Runner: a.runner, Node: cfg.Node,
			URL: a.endpoint.URL, Logger: log, Heartbeat: cfg.ClusterHeartbeat, Lease: cfg.ClusterLease,
			Fatal:       fatalTo(a.fatal),
			RuleChanged: ruleChangedTo(a.backend),
		})
	}
	if len(a.notifiers) > 0 {
		kinds, _ := cfg.Notify.kinds() // checked by Validate
		base := a.endpoint.URL
		if u := strings.TrimRight(cfg.EventBridge.TargetURL, "/"); u != "" {
			base = func() string { return u }
		}
		a.notify = notify.New(notify.Config{
			Store: st, Events: a.events, Notifiers: a.notifiers, On: kinds,
			FoldWindow: cfg.Notify.FoldWindow, BaseURL: base, Logger: log,
		})
	}
	// After the dispatcher listens, so that the runs it marks are notified;
	// before anything runs.
	if err := a.interruptLeftRuns(ctx); err != nil {
		return nil, err
	}
	a.service = service.New(service.Config{
		Store: st, Jobs: a.jobs, Runner: a.runner, Events: a.events, Backend: a.backend,
		RulePrefix: cfg.EventBridge.RulePrefix, Logger: log,
		NotifyChannels: channelNames(a.notifiers),
		CheckRule:      checkRuleFor(a.mode),
		Maintenance:    a.maintenance,
		Now:            clock.From(ctx),
	})
	a.metrics = server.NewMetrics()
	a.metrics.CountQueued(queuedRuns(st))
	a.metrics.WatchRules(st, cfg.MetricsRuleSeries)
	if grace, on := cfg.missedGrace(); on && a.mode != SchedulerOff {
		a.watch = watch.New(watch.Config{
			Store: st, Events: a.events, Mode: a.mode, Grace: grace, Node: cfg.Node, Logger: log, Now: clock.From(ctx),
		})
		a.metrics.CountMissing(a.watch.Missing)
	}
	sc := server.Config{
		Store: st, Firer: a.runner, Logger: log,
		WebhookKey: cfg.EventBridge.APIKey, WebhookHeader: cfg.EventBridge.AuthHeader,
		RulePrefix: cfg.EventBridge.RulePrefix,
		Service:    a.service, Jobs: a.jobs, Events: a.events,
		Version: Version(), Node: cfg.Node, SchedulerMode: a.mode, Metrics: a.metrics,
		Notifications:      notificationStatus(a.notify),
		MaxConnsPerAddress: cfg.MaxConnsPerAddress,
		Now:                clock.From(ctx),
	}
	if rec, ok := a.backend.(server.Reconciler); ok {
		sc.Reconciler = rec
	}
	if a.watch != nil {
		sc.Missed = a.watch
	}
	sc.URL = a.endpoint.URL
	if a.cluster != nil {
		sc.Agents = a.cluster.Agents
		sc.Ready = a.cluster.Listening // an agent deaf to the others would miss their events and cancels
	}
	sc.TrustedProxies, _ = server.ParseTrustedProxies(cfg.TrustedProxies) // checked by Validate
	a.handler = server.New(sc)

	// The registered jobs say which rule parameters are secret: the store
	// encrypts those from now on, and now those an older agent left plain.
	if err := secrets.UseJobs(ctx, st, a.jobs); err != nil {
		return nil, err
	}
	return a, nil
}

// interruptLeftRuns records the runs a dead agent left running as
// interrupted. On SQLite this agent is the only one (the file is locked),
// so every active run was left by a dead agent; on PostgreSQL only our own
// node's.
func (a *Agent) interruptLeftRuns(ctx context.Context) error {
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
		a.events.Publish(events.Event{Type: api.EventRunFinished, RuleName: r.Rule, Run: &r})
	}
	return nil
}

// fatalTo hands the cluster's reason to stop to Run, once.
func fatalTo(fatal chan<- error) func(error) {
	return func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}
}

// ruleChangedTo tells the scheduler backend about rules another agent
// changed.
func ruleChangedTo(b Backend) func(context.Context, store.Rule, bool) {
	return func(ctx context.Context, r store.Rule, deleted bool) {
		if deleted {
			b.RuleDeleted(ctx, r)
		} else {
			b.RuleChanged(ctx, r)
		}
	}
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

// notificationStatus reports each channel's health, for GET /status; nil
// when no channel is configured.
func notificationStatus(d *notify.Dispatcher) func() []api.ChannelStatus {
	if d == nil {
		return nil
	}
	return func() []api.ChannelStatus {
		var out []api.ChannelStatus
		for _, st := range d.Status() {
			out = append(out, api.ChannelStatus{
				Channel: st.Channel, Healthy: st.Healthy, Sent: st.Sent, Failed: st.Failed,
				LastError: st.LastError, LastErrorAt: timePtr(st.LastErrorAt), LastSentAt: timePtr(st.LastSentAt),
			})
		}
		return out
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// The four accessors below return parts whose types are internal: they
// serve agent/agenttest and the agent's own tests, not other programs, which
// reach a running agent through its API (shared/client).

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

// SchedulerMode says which backend fires rules: local, eventbridge,
// scheduler or off.
func (a *Agent) SchedulerMode() string { return a.mode }

// newBackend builds the scheduler backend the configuration asks for.
// shared is nil on SQLite; on PostgreSQL only the leader among the agents
// fires rules or writes to AWS.
func newBackend(ctx context.Context, cfg Config, log *slog.Logger, st store.Store, shared store.Cluster, firer *runner.Runner) (Backend, error) {
	var leader func(context.Context) (bool, error)
	if shared != nil {
		leader = shared.Leader
	}
	switch cfg.schedulerMode() {
	case SchedulerLocal:
		return scheduler.New(scheduler.Config{Store: st, Firer: firer, Logger: log, Leader: leader, Now: clock.From(ctx)}), nil
	case SchedulerEventBridge, SchedulerScheduler:
		b, err := newEventBridge(ctx, cfg, st, log, leader)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return offBackend{}, nil
}

// Listen binds the HTTP address (Run does it if not done yet) and writes
// it to the data dir, where a console started by the same user finds it.
func (a *Agent) Listen() error {
	if a.endpoint.listener() != nil {
		return nil
	}
	l, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.endpoint.set(l)
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, localagent.URLFile), []byte(a.URL()+"\n"), 0o600); err != nil {
		l.Close()
		a.endpoint.set(nil)
		return fmt.Errorf("write the agent's address file: %w", err)
	}
	return nil
}

// URL is the base URL the agent serves, once it listens.
func (a *Agent) URL() string { return a.endpoint.URL() }

// endpoint is where the agent serves HTTP: Listen sets it while the parts
// that put it in what they write (the agents table, notifications) may read
// it.
type endpoint struct {
	tls bool
	l   guarded[net.Listener]
}

func (e *endpoint) set(l net.Listener) { e.l.set(l) }

func (e *endpoint) listener() net.Listener { return e.l.get() }

// URL is the endpoint's base URL; "" before Listen.
func (e *endpoint) URL() string {
	l := e.listener()
	if l == nil {
		return ""
	}
	scheme := "http"
	if e.tls {
		scheme = "https"
	}
	return scheme + "://" + l.Addr().String()
}

// stopServingTime bounds how long a shutdown waits for the SSH console's
// sessions and the HTTP requests in flight before it closes them.
const stopServingTime = 5 * time.Second

// Run starts every part and serves until ctx is done (or the HTTP server
// fails, or the cluster says this agent must stop), then stops the parts
// in the reverse order under one shutdown deadline: it stops the SSH
// console and then takes no more webhook or API calls, stops the
// scheduler and the cluster relay, cancels running jobs and gives them the
// shutdown grace period to return (recording the rest as interrupted),
// lets the notifications send what those outcomes and earlier ones left,
// and closes the store.
func (a *Agent) Run(ctx context.Context) error {
	// Run is the agent's one life: when it cannot start, it gives back
	// what New took (the store, and with it the database's lock).
	if err := a.Listen(); err != nil {
		a.closeStore()
		return err
	}
	startSSH, err := a.prepareSSH()
	if err != nil {
		a.endpoint.listener().Close()
		os.Remove(filepath.Join(a.cfg.DataDir, localagent.URLFile)) // it names a port no one serves
		a.closeStore()
		return err
	}
	// The parts in start order; each one's stop undoes its start.
	stopHTTP, serveErr := a.startHTTP()
	// The notifications stop after the runner, so that the runs it records
	// interrupted as the agent stops are notified too.
	started := []stopper{a.startNotify(), a.stopRunner, a.startBackground(), stopHTTP, startSSH()}
	a.announce()
	stopping := make(chan struct{})
	go a.becomeReady(stopping)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		if runErr != nil {
			runErr = fmt.Errorf("serve HTTP: %w", runErr)
		}
	case runErr = <-a.fatal:
	}
	close(stopping)

	// One deadline for the whole shutdown: the SSH console's sessions, the
	// HTTP requests in flight and the background parts get stopServingTime
	// each, the jobs the grace period.
	a.log.Info("shutting down", "grace", a.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*stopServingTime+a.cfg.ShutdownGrace)
	defer cancel()
	errs := []error{runErr}
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i](shutCtx); err != nil {
			errs = append(errs, err)
		}
	}
	a.closeStore()
	a.log.Info("stopped")
	return errors.Join(errs...)
}

func (a *Agent) closeStore() {
	if err := a.store.Close(); err != nil {
		a.log.Error("close store", "err", err)
	}
}

// becomeReady closes ready once the agent serves (Run has started every
// part) and, on PostgreSQL, hears the other agents; or never, if Run
// stops first.
func (a *Agent) becomeReady(stopping <-chan struct{}) {
	if a.cluster != nil {
		select {
		case <-a.cluster.Ready():
		case <-stopping:
			return
		}
	}
	close(a.ready)
}

// stopper stops a part of the agent that Run started, by ctx's deadline at
// the latest; an error says what the stop could not do.
type stopper func(ctx context.Context) error

// stopRunner cancels the running jobs and gives them the shutdown grace
// period to return; the runs of jobs that do not are recorded interrupted.
func (a *Agent) stopRunner(ctx context.Context) error {
	grace, cancel := context.WithTimeout(ctx, a.cfg.ShutdownGrace)
	defer cancel()
	err := a.runner.Shutdown(grace)
	if err != nil {
		a.log.Error("shutdown", "err", err)
	}
	return err
}

// startBackground starts the parts that work on their own until stopped:
// the scheduler backend, the run-history pruning, the metrics, the
// cluster relay (on PostgreSQL) and the dead-man's switch. They stop
// together when their context is cancelled; the shutdown waits
// stopServingTime for them at most.
func (a *Agent) startBackground() stopper {
	bg, stop := context.WithCancel(context.Background())
	parts := []func(context.Context){
		func(ctx context.Context) {
			if err := a.backend.Run(ctx); err != nil {
				a.log.Error("scheduler backend stopped", "mode", a.mode, "err", err)
			}
		},
		a.pruneLoop,
		a.runner.Dispatch,
		func(ctx context.Context) { a.metrics.Watch(ctx, a.events) },
		a.maintenance.Run,
	}
	if a.cluster != nil {
		parts = append(parts, a.cluster.Run)
	}
	if a.watch != nil {
		parts = append(parts, func(ctx context.Context) {
			if err := a.watch.Run(ctx); err != nil {
				a.log.Error("dead-man's switch stopped", "err", err)
			}
		})
	}
	var wg sync.WaitGroup
	for _, run := range parts {
		wg.Go(func() { run(bg) })
	}
	return func(ctx context.Context) error {
		// The parts only need to see their context end; the runner stops
		// after them, so they must not spend the jobs' grace.
		ctx, cancel := context.WithTimeout(ctx, stopServingTime)
		defer cancel()
		stop()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			// A part that does not notice its context (a program's own
			// notifier that ignores it, say) must not hold the shutdown
			// past its deadline; it is left behind.
			return fmt.Errorf("stop the scheduler and relay: %w", context.Cause(ctx))
		}
	}
}

// startNotify starts the notifications. Their stop lets the dispatcher
// drain (the outcomes already published, folded and queued) for
// stopServingTime at most: a channel that hangs is left behind.
func (a *Agent) startNotify() stopper {
	if a.notify == nil {
		return func(context.Context) error { return nil }
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.notify.Run(ctx)
		close(done)
	}()
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, stopServingTime)
		defer cancel()
		stop()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("stop the notifications: %w", context.Cause(ctx))
		}
	}
}

// startHTTP serves the API and the webhook on the agent's listener. The
// channel says why serving stopped unless it was stopped.
func (a *Agent) startHTTP() (stopper, <-chan error) {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: server.ReadHeaderTimeout,
		IdleTimeout:       server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ln := a.handler.Listener(a.endpoint.listener()) // at most MaxConnsPerAddress from one client
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
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, stopServingTime)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		return nil
	}, serveErr
}

func (a *Agent) announce() {
	attrs := []any{"url", a.URL(), "store", a.store.Kind(), "scheduler", a.mode, "jobs", len(a.jobs.List()), "node", a.cfg.Node}
	if a.store.Kind() == "sqlite" {
		attrs = append(attrs, "database", filepath.Join(a.cfg.DataDir, localagent.DatabaseFile))
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

// queuedRuns counts the queued runs for /metrics, at each scrape: up to
// a page of 1,000, read on the (status, id) index.
func queuedRuns(st store.Store) func() int {
	return func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		runs, _, err := st.RunList(ctx, store.RunFilter{Statuses: []api.RunStatus{api.StatusQueued}, Limit: 1000})
		if err != nil {
			return 0
		}
		return len(runs)
	}
}
