package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The NOTIFY channels.
const (
	ChannelEvents = "jobbridge_events"
	ChannelCancel = "jobbridge_cancel"
)

// Defaults of Config.
const (
	// DefaultHeartbeat is how often an agent says it is alive.
	DefaultHeartbeat = 5 * time.Second
	// DefaultLease is how long an agent may be silent before the others
	// take it for dead.
	DefaultLease = 30 * time.Second
)

// Config configures a Cluster.
type Config struct {
	Store   store.Store
	Cluster store.Cluster
	Events  *events.Broker
	Runner  *runner.Runner
	Node    string
	URL     func() string // the agent's base URL, for the agents table
	// Heartbeat is how often the agent says it is alive and checks that
	// it still holds its node lock. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// Lease is how long an agent may be silent before the others take it
	// for dead and interrupt its runs, and how long an agent that lost
	// touch with the database waits before it judges the others. Default
	// DefaultLease.
	Lease time.Duration
	// RuleChanged is told about rules another agent created, changed or
	// deleted (deleted: the rule is gone from the store), so this agent's
	// scheduler backend sees them at once.
	RuleChanged func(ctx context.Context, rule store.Rule, deleted bool)
	// Fatal is told, once, why this agent must stop: another agent of its
	// name took its node lock while this one was cut off. Default: the
	// error is only logged.
	Fatal  func(error)
	Logger *slog.Logger
}

// Cluster relays cancels and events between agents and watches their
// liveness. Create it with New, start it with Run.
type Cluster struct {
	cfg      Config
	log      *slog.Logger
	started  time.Time
	instance string // this run of the agent, in its relayed messages
	// ownPrefix begins every message this agent relays (see ownPrefix).
	ownPrefix string
	runs      remoteRuns

	ready     chan struct{} // closed when it first listens
	readyOnce sync.Once
	fatalOnce sync.Once
	usurped   atomic.Bool // another agent of this name holds the node lock

	mu         sync.Mutex
	listening  bool
	trustAfter time.Time // judge no other agent before this
	peers      map[string]peer
}

// New returns a Cluster.
func New(cfg Config) *Cluster {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.URL == nil {
		cfg.URL = func() string { return "" }
	}
	c := &Cluster{
		cfg: cfg, log: cfg.Logger, started: time.Now().UTC(), instance: newInstance(),
		ready: make(chan struct{}), peers: map[string]peer{},
	}
	c.ownPrefix = ownPrefix(cfg.Node, c.instance)
	return c
}

// ClaimNode takes the node lock of an agent named node (see
// store.Cluster.NodeLock), or refuses to start an agent whose name a live
// agent uses: runs record their node, and two agents of one name would
// interrupt each other's runs. The lock tells a live agent from a dead one
// at once, so an agent restarted right after a crash takes over from its
// dead self with no wait. An agent from before node locks counts as alive
// while its heartbeat is younger than lease (DefaultLease when 0).
func ClaimNode(ctx context.Context, cl store.Cluster, node string, lease time.Duration) error {
	if lease <= 0 {
		lease = DefaultLease
	}
	_, lockErr := cl.NodeLock(ctx, node)
	if lockErr != nil && !errors.Is(lockErr, store.ErrConflict) {
		return fmt.Errorf("claim the node name %q: %w", node, lockErr)
	}
	agents, err := cl.AgentList(ctx)
	if err != nil {
		return fmt.Errorf("claim the node name %q: %w", node, err)
	}
	for _, a := range agents {
		if a.Node != node {
			continue
		}
		age := time.Since(a.HeartbeatAt)
		if lockErr != nil || !a.NodeLock && age < lease {
			return fmt.Errorf("another agent named %q is alive (it holds the node's lock in PostgreSQL; last heartbeat %s ago, at %s): give each agent its own JOBBRIDGE_NODE",
				a.Node, age.Round(time.Second), a.URL)
		}
	}
	if lockErr != nil {
		return fmt.Errorf("another agent named %q is alive (it holds the node's lock in PostgreSQL, and has sent no heartbeat yet): give each agent its own JOBBRIDGE_NODE", node)
	}
	return nil
}

// RemoteCancel returns the runner's hook (runner.Config.RemoteCancel): it
// tells every agent sharing cl to stop a run. It needs no Cluster, so the
// runner is built before the Cluster that drives it.
func RemoteCancel(cl store.Cluster) func(ctx context.Context, runID string) error {
	return func(ctx context.Context, runID string) error {
		return cl.Notify(ctx, ChannelCancel, runID)
	}
}

// Ready is closed once the agent hears the other agents (its LISTEN is up)
// and relays its own events: from then on no event is missed without a
// reset.
func (c *Cluster) Ready() <-chan struct{} { return c.ready }

// Listening is nil while the agent hears the other agents, and says why
// not otherwise: before its LISTEN is first up, and while it reconnects.
func (c *Cluster) Listening() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listening {
		return nil
	}
	select {
	case <-c.ready:
		return errors.New("the connection that hears the other agents (PostgreSQL LISTEN) is down; reconnecting")
	default:
		return errors.New("not yet listening to the other agents (PostgreSQL LISTEN)")
	}
}

func (c *Cluster) setListening(on bool) {
	c.mu.Lock()
	c.listening = on
	c.mu.Unlock()
	if on {
		c.readyOnce.Do(func() { close(c.ready) })
	}
}

// Run relays and watches until ctx is done, then forgets this agent.
func (c *Cluster) Run(ctx context.Context) {
	// Subscribe before listening, so that by Ready every event of this
	// agent is relayed.
	_, own, _, unsubscribe := c.cfg.Events.SubscribeBuffered(0, RelayBuffer)
	var wg sync.WaitGroup
	wg.Go(func() { c.listen(ctx) })
	wg.Go(func() { c.relay(ctx, own, unsubscribe) })
	wg.Go(func() { c.watch(ctx) })
	wg.Wait()
	if c.usurped.Load() {
		return // the agents row is the other agent's now
	}
	forget, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.cfg.Cluster.AgentDelete(forget, c.cfg.Node); err != nil {
		c.log.Warn("cluster: forget this agent", "err", err)
	}
}

// listen handles other agents' notifications.
func (c *Cluster) listen(ctx context.Context) {
	_ = c.cfg.Cluster.Listen(ctx, []string{ChannelEvents, ChannelCancel}, func(channel, payload string) {
		switch channel {
		case ChannelCancel:
			if _, err := c.cfg.Runner.CancelLocal(ctx, payload); err != nil {
				c.log.Warn("cluster: cancel for another agent", "run", payload, "err", err)
			}
		case ChannelEvents:
			c.receive(ctx, payload)
		case store.Listening:
			c.setListening(true)
		case store.Disconnected:
			c.setListening(false)
			c.log.Warn("cluster: lost the connection that hears the other agents; reconnecting")
		case store.Reconnected:
			c.log.Warn("cluster: reconnected to PostgreSQL; events of other agents in between were missed")
			c.distrust(time.Now())
			c.resetPeers()
			c.setListening(true)
			c.publishReset("")
			c.catchUpCancels(ctx)
		}
	})
}

// catchUpCancels stops local runs that were asked to stop while this agent
// could not hear it.
func (c *Cluster) catchUpCancels(ctx context.Context) {
	for _, id := range c.cfg.Runner.Active() {
		if _, err := c.cfg.Runner.CancelLocal(ctx, id); err != nil {
			c.log.Warn("cluster: catch up on cancels", "run", id, "err", err)
		}
	}
}

// publishReset tells this agent's streams that relayed events were lost.
// Its origin (the agent whose events went missing, or "cluster" when any
// may have) keeps it from being relayed in turn.
func (c *Cluster) publishReset(origin string) {
	if origin == "" {
		origin = "cluster"
	}
	c.cfg.Events.Publish(events.Event{Type: api.EventReset, Origin: origin})
}

// distrust gives every other agent a fresh lease from now: this agent lost
// touch with the database, so what it sees of the others' liveness (stale
// heartbeats, free locks) is no evidence that they died.
func (c *Cluster) distrust(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := now.Add(c.cfg.Lease); until.After(c.trustAfter) {
		c.trustAfter = until
	}
}

func (c *Cluster) trusts(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !now.Before(c.trustAfter)
}

func (c *Cluster) fatal(err error) {
	c.fatalOnce.Do(func() {
		c.log.Error("cluster: this agent must stop", "err", err)
		if c.cfg.Fatal != nil {
			c.cfg.Fatal(err)
		}
	})
}

// watch keeps this agent's node lock and heartbeat, and interrupts the
// runs of agents that died.
func (c *Cluster) watch(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		c.beat(ctx, time.Now().UTC())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat is one turn of watch.
func (c *Cluster) beat(ctx context.Context, now time.Time) {
	st, err := c.cfg.Cluster.NodeLock(ctx, c.cfg.Node)
	switch {
	case ctx.Err() != nil:
		return
	case errors.Is(err, store.ErrConflict):
		c.usurped.Store(true)
		c.fatal(fmt.Errorf("another agent named %q took this agent's node lock while this one was cut off from PostgreSQL: two agents must not share a name (set JOBBRIDGE_NODE); this one stops", c.cfg.Node))
		return
	case err != nil:
		c.log.Warn("cluster: keep this agent's node lock", "err", err)
		c.distrust(now)
		return
	case st.Renewed:
		c.log.Warn("cluster: the session holding this agent's node lock had dropped; took the lock again")
		c.distrust(now)
	}
	// A server up for less than the lease lost every session, and with
	// them the others' locks, which they may not have taken again yet.
	if st.ServerUptime < c.cfg.Lease {
		c.distrust(now.Add(-st.ServerUptime))
	}
	info := store.AgentInfo{Node: c.cfg.Node, URL: c.cfg.URL(), StartedAt: c.started, HeartbeatAt: now, NodeLock: true}
	if err := c.cfg.Cluster.AgentHeartbeat(ctx, info); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cluster: heartbeat", "err", err)
			c.distrust(now)
		}
		return
	}
	if c.trusts(now) {
		c.reap(ctx, now)
	}
}

// reap interrupts the runs of agents found dead: one that holds a node lock
// while it lives is dead once no session holds it, whatever its heartbeat
// says; any is dead once its heartbeat is older than the lease.
func (c *Cluster) reap(ctx context.Context, now time.Time) {
	agents, err := c.cfg.Cluster.AgentList(ctx)
	if err != nil {
		return
	}
	for _, a := range agents {
		if a.Node == c.cfg.Node {
			continue
		}
		var why string
		switch {
		case a.NodeLock && !a.Alive:
			why = "its session with PostgreSQL ended"
		case now.Sub(a.HeartbeatAt) >= c.cfg.Lease:
			why = "no heartbeat since " + a.HeartbeatAt.Format(time.RFC3339)
		default:
			continue
		}
		reason := fmt.Sprintf("interrupted: agent %s stopped (%s)", a.Node, why)
		runs, err := c.cfg.Store.RunInterruptActive(ctx, a.Node, reason, now)
		if err != nil {
			c.log.Warn("cluster: interrupt the runs of a dead agent", "agent", a.Node, "err", err)
			continue
		}
		for _, r := range runs {
			run := r
			c.log.Warn("cluster: run of a dead agent marked interrupted", "agent", a.Node, "why", why, "run", run.ID, "rule", run.Rule)
			c.cfg.Events.Publish(events.Event{Type: api.EventRunFinished, RuleName: run.Rule, Run: &run})
		}
		if len(runs) > 0 && c.cfg.Runner != nil {
			c.cfg.Runner.Wake() // their slots of job limits are free
		}
		if err := c.cfg.Cluster.AgentDelete(ctx, a.Node); err != nil {
			c.log.Warn("cluster: forget a dead agent", "agent", a.Node, "err", err)
		}
	}
}

// Agents lists the agents that share the store, this one included, for GET
// /status: each alive by the rule reap uses (its node lock is held, or,
// for an agent from before node locks, its heartbeat is younger than the
// lease), and Self on this agent's own entry. This agent is listed even
// before its first heartbeat is stored.
func (c *Cluster) Agents(ctx context.Context) ([]api.AgentStatus, error) {
	agents, err := c.cfg.Cluster.AgentList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the agents of the cluster: %w", err)
	}
	now := time.Now()
	out := make([]api.AgentStatus, 0, len(agents)+1)
	self := false
	for _, a := range agents {
		alive := a.Alive || !a.NodeLock && now.Sub(a.HeartbeatAt) < c.cfg.Lease
		st := api.AgentStatus{Node: a.Node, URL: a.URL, StartedAt: a.StartedAt, HeartbeatAt: a.HeartbeatAt, Alive: alive}
		if a.Node == c.cfg.Node {
			st.Self, st.Alive, self = true, true, true
		}
		out = append(out, st)
	}
	if !self {
		out = append(out, api.AgentStatus{Node: c.cfg.Node, URL: c.cfg.URL(), StartedAt: c.started, Alive: true, Self: true})
	}
	return out, nil
}
