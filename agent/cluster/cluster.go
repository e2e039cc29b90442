package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/events"
	"github.com/jobbridge/jobbridge/agent/runner"
	"github.com/jobbridge/jobbridge/agent/store"
)

// The NOTIFY channels.
const (
	ChannelEvents = "jobbridge_events"
	ChannelCancel = "jobbridge_cancel"
)

// Config configures a Cluster.
type Config struct {
	Store   store.Store
	Cluster store.Cluster
	Events  *events.Broker
	Runner  *runner.Runner
	Node    string
	URL     func() string // the agent's base URL, for the agents table
	// Heartbeat is how often the agent says it is alive. Default 5s.
	Heartbeat time.Duration
	// Lease is how long an agent may be silent before the others take it
	// for dead and interrupt its runs. Default 30s.
	Lease time.Duration
	// RuleChanged is told about rules another agent created, changed or
	// deleted (deleted: the rule is gone from the store), so this agent's
	// scheduler backend sees them at once.
	RuleChanged func(ctx context.Context, rule store.Rule, deleted bool)
	Logger      *slog.Logger
}

// Cluster relays cancels and events between agents and watches their
// liveness. Create it with New, start it with Run.
type Cluster struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
}

// New returns a Cluster.
func New(cfg Config) *Cluster {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.URL == nil {
		cfg.URL = func() string { return "" }
	}
	return &Cluster{cfg: cfg, log: cfg.Logger, started: time.Now().UTC()}
}

// CheckNodeFree refuses to start an agent whose node name another live
// agent uses (a heartbeat within lease, 30s when 0): runs record their
// node, and two agents of one name would interrupt each other's runs.
func CheckNodeFree(ctx context.Context, cl store.Cluster, node string, lease time.Duration) error {
	if lease <= 0 {
		lease = 30 * time.Second
	}
	agents, err := cl.AgentList(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.Node == node && time.Since(a.HeartbeatAt) < lease {
			return fmt.Errorf("another agent named %q is alive (last heartbeat %s ago, at %s): give each agent its own JOBBRIDGE_NODE",
				a.Node, time.Since(a.HeartbeatAt).Round(time.Second), a.URL)
		}
	}
	return nil
}

// RemoteCancel is the runner's hook: it tells every agent to stop a run.
func (c *Cluster) RemoteCancel(ctx context.Context, runID string) error {
	return c.cfg.Cluster.Notify(ctx, ChannelCancel, runID)
}

// Run relays and watches until ctx is done, then forgets this agent.
func (c *Cluster) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.listen(ctx) })
	wg.Go(func() { c.relay(ctx) })
	wg.Go(func() { c.watch(ctx) })
	wg.Wait()
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
		case store.Reconnected:
			c.log.Warn("cluster: reconnected to PostgreSQL; events of other agents in between were missed")
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

// relay sends this agent's events to the others.
func (c *Cluster) relay(ctx context.Context) {
	for ctx.Err() == nil {
		_, ch, _, cancel := c.cfg.Events.Subscribe(0)
		c.relayFrom(ctx, ch)
		cancel()
	}
}

// relayBatchDelay is how long relayed events wait for company: one NOTIFY
// carries all the events of that time that fit, so a busy agent sends a
// few notifications a second rather than one per event.
const relayBatchDelay = 20 * time.Millisecond

func (c *Cluster) relayFrom(ctx context.Context, ch <-chan events.Event) {
	var batch []string
	size := 2
	flush := func() {
		if len(batch) == 0 {
			return
		}
		payload := "[" + strings.Join(batch, ",") + "]"
		batch, size = batch[:0], 2
		if err := c.cfg.Cluster.Notify(ctx, ChannelEvents, payload); err != nil && ctx.Err() == nil {
			c.log.Debug("cluster: relay events", "err", err)
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			flush()
		case e, ok := <-ch:
			if !ok {
				flush()
				c.log.Warn("cluster: relaying events fell behind; some were not relayed")
				return
			}
			if !e.Local() {
				continue
			}
			e.Origin = c.cfg.Node
			enc := encode(e)
			if size+len(enc)+1 > store.MaxNotifyPayload {
				flush()
			}
			if len(batch) == 0 {
				timer.Reset(relayBatchDelay)
			}
			batch = append(batch, enc)
			size += len(enc) + 1
		}
	}
}

// encode packs an event into a NOTIFY payload, dropping what does not fit
// (the receiver reads the run or rule from the database instead).
func encode(e events.Event) string {
	b, _ := json.Marshal(e)
	if len(b) <= store.MaxNotifyPayload-2 {
		return string(b)
	}
	if e.Log != nil && len(e.Log.Message) > 2000 {
		l := *e.Log
		l.Message = l.Message[:2000] + " […]"
		e.Log = &l
	}
	if e.Run != nil {
		e.Run = &store.Run{ID: e.Run.ID}
	}
	if e.Rule != nil {
		e.Rule = nil
	}
	b, _ = json.Marshal(e)
	return string(b)
}

// receive publishes other agents' events on this one's broker.
func (c *Cluster) receive(ctx context.Context, payload string) {
	var batch []events.Event
	if err := json.Unmarshal([]byte(payload), &batch); err != nil {
		c.log.Warn("cluster: undecodable events", "err", err)
		return
	}
	for _, e := range batch {
		c.receiveOne(ctx, e)
	}
}

func (c *Cluster) receiveOne(ctx context.Context, e events.Event) {
	if e.Origin == c.cfg.Node || e.Origin == "" {
		return // our own, back from PostgreSQL
	}
	if e.Run != nil && e.Run.Job == "" { // trimmed: read it
		run, err := c.cfg.Store.RunGet(ctx, e.Run.ID)
		if err != nil {
			return
		}
		e.Run = &run
	}
	if e.Rule == nil && (e.Type == events.RuleCreated || e.Type == events.RuleChanged) {
		rule, err := c.cfg.Store.RuleGet(ctx, e.RuleName)
		if err != nil {
			return
		}
		e.Rule = &rule
	}
	if e.Type == events.RuleChanged || e.Type == events.RuleDeleted || e.Type == events.RuleCreated {
		c.cfg.Runner.ForgetRule(e.RuleName)
		if c.cfg.RuleChanged != nil {
			rule := store.Rule{Name: e.RuleName}
			if e.Rule != nil {
				rule = *e.Rule
			}
			c.cfg.RuleChanged(ctx, rule, e.Type == events.RuleDeleted)
		}
	}
	c.cfg.Events.Publish(e)
}

// watch writes this agent's heartbeat and interrupts the runs of agents
// whose heartbeat is older than the lease.
func (c *Cluster) watch(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		if err := c.cfg.Cluster.AgentHeartbeat(ctx, store.AgentInfo{Node: c.cfg.Node, URL: c.cfg.URL(), StartedAt: c.started, HeartbeatAt: now}); err != nil && ctx.Err() == nil {
			c.log.Warn("cluster: heartbeat", "err", err)
		}
		c.reap(ctx, now)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Cluster) reap(ctx context.Context, now time.Time) {
	agents, err := c.cfg.Cluster.AgentList(ctx)
	if err != nil {
		return
	}
	for _, a := range agents {
		if a.Node == c.cfg.Node || now.Sub(a.HeartbeatAt) < c.cfg.Lease {
			continue
		}
		reason := fmt.Sprintf("interrupted: agent %s stopped (no heartbeat since %s)", a.Node, a.HeartbeatAt.Format(time.RFC3339))
		runs, err := c.cfg.Store.RunInterruptActive(ctx, a.Node, reason, now)
		if err != nil {
			c.log.Warn("cluster: interrupt the runs of a dead agent", "agent", a.Node, "err", err)
			continue
		}
		for _, r := range runs {
			run := r
			c.log.Warn("cluster: run of a dead agent marked interrupted", "agent", a.Node, "run", run.ID, "rule", run.Rule)
			c.cfg.Events.Publish(events.Event{Type: events.RunFinished, RuleName: run.Rule, Run: &run})
		}
		if err := c.cfg.Cluster.AgentDelete(ctx, a.Node); err != nil {
			c.log.Warn("cluster: forget a dead agent", "agent", a.Node, "err", err)
		}
	}
}
