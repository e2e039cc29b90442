package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Store is what the dispatcher reads and writes.
type Store interface {
	RuleGet(ctx context.Context, name string) (store.Rule, error)
	RunList(ctx context.Context, f store.RunFilter) ([]store.Run, string, error)
	AuditAppend(ctx context.Context, e store.AuditEntry) error
}

// Config configures a Dispatcher.
type Config struct {
	Store     Store
	Events    *events.Broker
	Notifiers []Notifier
	// On is what notifies when a rule does not say. Default DefaultOn:
	// failed, interrupted, timeout, recovered, missed, slow.
	On []Kind
	// FoldWindow: after a message, further outcomes of the same kind of the
	// same rule within the window are folded into one message sent when
	// the window ends. Default DefaultFoldWindow.
	FoldWindow time.Duration
	// Attempts is how often a message is tried on a channel. Default 6.
	Attempts int
	// Backoff is the wait before the first retry; it doubles. Default 2s.
	Backoff time.Duration
	// DrainTimeout bounds what Run does once its context is done: the
	// events already published, the folded outcomes and the queued
	// messages, each tried once. Default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// BaseURL gives the agent's URL for links in messages (nil or "" for
	// none); it is asked for each message, as the agent may listen only
	// after the dispatcher is built.
	BaseURL func() string
	Logger  *slog.Logger
}

// DefaultFoldWindow is Config.FoldWindow when none is given.
const DefaultFoldWindow = 10 * time.Minute

// DefaultDrainTimeout is Config.DrainTimeout when none is given.
const DefaultDrainTimeout = 5 * time.Second

// DefaultOn is what notifies when nothing is configured: all but an
// operator's cancel.
var DefaultOn = []Kind{Failed, Interrupted, Timeout, Recovered, Missed, Slow}

// Dispatcher turns run events into messages. Run it with Run.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	queues map[string]chan delivery

	// first is the subscription New takes, which Run follows first.
	first       <-chan events.Event
	cancelFirst func()

	mu     sync.Mutex
	folds  map[string]*fold // by rule + kind
	health map[string]*ChannelStatus
	drain  context.Context // set when Run drains: the deadline of the last sends
}

type delivery struct {
	msg Message
}

type fold struct {
	channels []string
	until    time.Time
	count    int // outcomes folded since the last message
	since    time.Time
	latest   Message
	timer    *time.Timer
}

// ChannelStatus is how a channel has fared.
type ChannelStatus struct {
	Channel     string    `json:"channel"`
	Healthy     bool      `json:"healthy"`
	Sent        int       `json:"sent"`
	Failed      int       `json:"failed"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	LastSentAt  time.Time `json:"lastSentAt,omitzero"`
}

// queueSize bounds each channel's backlog; beyond it messages are dropped
// (and logged) rather than grow memory while a channel is down.
const queueSize = 1000

// New returns a dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.On == nil {
		cfg.On = DefaultOn
	}
	if cfg.FoldWindow <= 0 {
		cfg.FoldWindow = DefaultFoldWindow
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 6
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	d := &Dispatcher{
		cfg: cfg, log: cfg.Logger,
		queues: make(map[string]chan delivery),
		folds:  make(map[string]*fold),
		health: make(map[string]*ChannelStatus),
	}
	for _, n := range cfg.Notifiers {
		d.queues[n.Name()] = make(chan delivery, queueSize)
		d.health[n.Name()] = &ChannelStatus{Channel: n.Name(), Healthy: true}
	}
	// Listen from now on, not from Run: what happens between (the runs a
	// stopped agent left, marked interrupted as the agent starts) is
	// notified too.
	_, d.first, _, d.cancelFirst = cfg.Events.Subscribe(0)
	return d
}

// Channels names the configured channels.
func (d *Dispatcher) Channels() []string {
	var out []string
	for _, n := range d.cfg.Notifiers {
		out = append(out, n.Name())
	}
	return out
}

// Status reports each channel's health: unhealthy after a message that
// could not be sent at all, until one goes through.
func (d *Dispatcher) Status() []ChannelStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ChannelStatus, 0, len(d.health))
	for _, n := range d.cfg.Notifiers {
		out = append(out, *d.health[n.Name()])
	}
	return out
}

// Run follows the events and sends messages until ctx is done. Then it
// drains, for DrainTimeout at most: it handles the events already
// published (the runs a stopping agent records interrupted, when its
// dispatcher stops after its runner), sends what is folded, and tries each
// message still queued once.
func (d *Dispatcher) Run(ctx context.Context) {
	senders, stopSenders := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSenders()
	var wg sync.WaitGroup
	for _, n := range d.cfg.Notifiers {
		wg.Go(func() { d.sender(senders, n) })
	}
	ch, cancel := d.first, d.cancelFirst
	for ctx.Err() == nil {
		if ch == nil {
			_, ch, _, cancel = d.cfg.Events.Subscribe(0)
		}
		d.follow(ctx, ch)
		if ctx.Err() != nil {
			break
		}
		cancel()
		ch = nil
		d.log.Warn("notifications fell behind the event stream; some outcomes may not be notified")
	}
	drain, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.DrainTimeout)
	defer cancelDrain()
	if ch != nil {
		d.drainEvents(drain, ch)
		cancel()
	}
	d.mu.Lock()
	var folded []pendingFold
	for key, f := range d.folds {
		f.timer.Stop()
		if f.count > 0 {
			m := f.latest
			m.Count, m.Since = f.count, f.since
			folded = append(folded, pendingFold{m, f.channels})
		}
		delete(d.folds, key)
	}
	d.drain = drain
	d.mu.Unlock()
	for _, p := range folded {
		d.enqueue(p.msg, p.channels)
	}
	stopSenders()
	wg.Wait()
}

type pendingFold struct {
	msg      Message
	channels []string
}

// drainEvents handles the events ch already holds, without waiting for
// more.
func (d *Dispatcher) drainEvents(ctx context.Context, ch <-chan events.Event) {
	for ctx.Err() == nil {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			d.take(ctx, e)
		default:
			return
		}
	}
}

func (d *Dispatcher) follow(ctx context.Context, ch <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			d.take(ctx, e)
		}
	}
}

// take handles a finished, missed or slow run's event. Each agent notifies
// about its own runs (and those it finds left by a dead agent, and the
// misses it records), not about others' relayed to it.
func (d *Dispatcher) take(ctx context.Context, e events.Event) {
	if e.Run == nil || !e.Local() {
		return
	}
	switch e.Type {
	case api.EventRunFinished:
		kind := kindOf(*e.Run, e.Cause)
		if e.Retry != nil && (kind == Failed || kind == Timeout) {
			// Its retry is queued: the series has not failed yet. The
			// last attempt's failure, or a success, says how it ended.
			return
		}
		d.handle(ctx, *e.Run, kind, e.Time)
	case api.EventRunMissed:
		d.handle(ctx, *e.Run, Missed, e.Time)
	case api.EventRunSlow:
		d.handle(ctx, *e.Run, Slow, e.Time)
	}
}

// kindOf says what a finished run is, for notifications; "" for nothing.
// cause is why the run's context was cancelled (see events.Event.Cause).
func kindOf(r store.Run, cause error) Kind {
	switch r.Status {
	case api.StatusFailed:
		if errors.Is(cause, runner.ErrTimeout) {
			return Timeout
		}
		return Failed
	case api.StatusCancelled:
		if errors.Is(cause, runner.ErrShutdown) {
			return "" // the agent stopping is not news
		}
		return Cancelled
	case api.StatusInterrupted:
		return Interrupted
	case api.StatusSucceeded:
		return Recovered // if the run before failed; see handle
	}
	return ""
}

// handle decides whether a run's outcome of kind, at the time given,
// notifies, and how.
func (d *Dispatcher) handle(ctx context.Context, r store.Run, kind Kind, at time.Time) {
	if kind == "" {
		return
	}
	if kind == Recovered && !d.previousFailed(ctx, r) {
		return
	}
	on, channels := d.cfg.On, []string(nil)
	if r.Rule != "" {
		if rule, err := d.cfg.Store.RuleGet(ctx, r.Rule); err == nil {
			if p := rule.Notify; len(p.On) > 0 {
				on = nil
				for _, k := range p.On {
					on = append(on, Kind(k))
				}
			}
			channels = rule.Notify.Channels
		}
	}
	if !slices.Contains(on, kind) {
		return
	}
	m := Message{
		Kind: kind, Rule: r.Rule, Job: r.Job, RunID: r.ID, Status: r.Status,
		Error: firstLines(r.Error, 10), Started: r.StartedAt, Finished: r.FinishedAt, Node: r.Node, Count: 1,
		Console: "go run ./cmd/tui, then :runs and /" + r.ID,
		Attempt: max(r.Attempt, 1), FirstRun: r.RetryOf,
	}
	switch kind {
	case Missed:
		m.Scheduled = r.ScheduledAt
	case Slow:
		m.Running, m.WarnAfter = at.Sub(r.StartedAt), r.WarnAfter
	}
	if d.cfg.BaseURL != nil {
		if base := d.cfg.BaseURL(); base != "" {
			m.Link = base + "/api/v1/runs/" + r.ID
		}
	}
	if kind == Recovered {
		d.flushFolds(r.Rule, channels) // say how bad it got before saying it is over
		d.enqueue(m, channels)
		return
	}
	d.foldOrSend(m, channels)
}

// previousFailed reports whether the rule's run before r ended badly; for
// a retry, the run before its series (the failures of the series itself
// were not notified: their retries were queued).
func (d *Dispatcher) previousFailed(ctx context.Context, r store.Run) bool {
	if r.Rule == "" {
		return false
	}
	before := r.ID
	if r.RetryOf != "" {
		before = r.RetryOf
	}
	runs, _, err := d.cfg.Store.RunList(ctx, store.RunFilter{
		Rule: r.Rule, Cursor: before, Limit: 1,
		Statuses: []api.RunStatus{api.StatusSucceeded, api.StatusFailed, api.StatusInterrupted, api.StatusCancelled},
	})
	if err != nil || len(runs) == 0 {
		return false
	}
	// Read back from the store, the run has no cause: a timeout counts as
	// failed, and a shutdown's cancel as a cancel, which is all this needs.
	prev := runs[0]
	switch kindOf(prev, nil) {
	case Interrupted:
		return true
	case Failed, Timeout:
		return !d.retried(ctx, prev)
	}
	return false
}

// retried reports whether a later attempt of r's series exists: r's
// failure was not notified then, its retry was queued.
func (d *Dispatcher) retried(ctx context.Context, r store.Run) bool {
	first := r.RetryOf
	if first == "" {
		first = r.ID
	}
	runs, _, err := d.cfg.Store.RunList(ctx, store.RunFilter{Series: first, Limit: 1})
	return err == nil && len(runs) == 1 && max(runs[0].Attempt, 1) > max(r.Attempt, 1)
}

// foldOrSend sends the first outcome of a kind at once and folds the ones
// that follow within the window into one message at its end.
func (d *Dispatcher) foldOrSend(m Message, channels []string) {
	key := m.Rule + "\x00" + string(m.Kind)
	now := time.Now()
	d.mu.Lock()
	f := d.folds[key]
	if f != nil && now.Before(f.until) {
		if f.count == 0 {
			f.since = m.Finished
		}
		f.count++
		f.latest = m
		d.mu.Unlock()
		return
	}
	if f != nil {
		f.timer.Stop()
	}
	f = &fold{channels: channels, until: now.Add(d.cfg.FoldWindow)}
	f.timer = time.AfterFunc(d.cfg.FoldWindow, func() { d.windowEnded(key, channels) })
	d.folds[key] = f
	d.mu.Unlock()
	d.enqueue(m, channels)
}

// windowEnded sends what was folded, if anything, and opens a new window
// for it (a storm that goes on gives one message per window).
func (d *Dispatcher) windowEnded(key string, channels []string) {
	d.mu.Lock()
	f := d.folds[key]
	if f == nil {
		d.mu.Unlock()
		return
	}
	if f.count == 0 {
		delete(d.folds, key)
		d.mu.Unlock()
		return
	}
	m := f.latest
	m.Count, m.Since = f.count, f.since
	f.count = 0
	f.until = time.Now().Add(d.cfg.FoldWindow)
	f.timer = time.AfterFunc(d.cfg.FoldWindow, func() { d.windowEnded(key, channels) })
	d.mu.Unlock()
	d.enqueue(m, channels)
}

// flushFolds sends at once what is folded for a rule.
func (d *Dispatcher) flushFolds(rule string, channels []string) {
	d.mu.Lock()
	var pending []Message
	for key, f := range d.folds {
		if !strings.HasPrefix(key, rule+"\x00") {
			continue
		}
		f.timer.Stop()
		if f.count > 0 {
			m := f.latest
			m.Count, m.Since = f.count, f.since
			pending = append(pending, m)
		}
		delete(d.folds, key)
	}
	d.mu.Unlock()
	for _, m := range pending {
		d.enqueue(m, channels)
	}
}

// enqueue puts m on the queue of each channel chosen (all when none).
func (d *Dispatcher) enqueue(m Message, channels []string) {
	for _, n := range d.cfg.Notifiers {
		if len(channels) > 0 && !slices.Contains(channels, n.Name()) {
			continue
		}
		select {
		case d.queues[n.Name()] <- delivery{msg: m}:
		default:
			d.log.Error("notification queue full; message dropped", "channel", n.Name(), "rule", m.Rule, "run", m.RunID)
		}
	}
}

// sender sends a channel's messages in order, retrying each with backoff,
// and records every outcome in the audit trail.
func (d *Dispatcher) sender(ctx context.Context, n Notifier) {
	q := d.queues[n.Name()]
	for {
		select {
		case <-ctx.Done():
			d.drainQueue(n, q, nil)
			return
		case dl := <-q:
			if ctx.Err() != nil {
				d.drainQueue(n, q, &dl)
				return
			}
			err := d.send(ctx, n, dl.msg)
			if ctx.Err() != nil {
				// Cut short by the stop: it gets its one try with the rest.
				d.drainQueue(n, q, &dl)
				return
			}
			d.record(ctx, n.Name(), dl.msg, err)
		}
	}
}

// drainQueue tries first (when not nil) and each message left on a
// channel's queue once, by the drain's deadline, as Run ends.
func (d *Dispatcher) drainQueue(n Notifier, q chan delivery, first *delivery) {
	d.mu.Lock()
	ctx := d.drain
	d.mu.Unlock()
	if ctx == nil {
		return
	}
	for ctx.Err() == nil {
		var dl delivery
		if first != nil {
			dl, first = *first, nil
		} else {
			select {
			case dl = <-q:
			default:
				return
			}
		}
		sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err := scrub(n, n.Notify(sendCtx, dl.msg))
		cancel()
		if err != nil {
			d.log.Warn("notification not sent as the agent stopped", "channel", n.Name(), "rule", dl.msg.Rule, "run", dl.msg.RunID, "err", err)
		}
		d.record(ctx, n.Name(), dl.msg, err)
	}
}

// send tries a message on a channel up to Attempts times, waiting Backoff
// and twice as long after each failure (at most 5 minutes); each failure is
// logged and shown in the channel's status at once.
func (d *Dispatcher) send(ctx context.Context, n Notifier, m Message) error {
	policy := retry.Policy{
		Backoff:  retry.Backoff{First: d.cfg.Backoff, Max: 5 * time.Minute},
		Attempts: d.cfg.Attempts,
	}
	attempts := 0
	err := retry.Do(ctx, policy, func(ctx context.Context) error {
		attempts++
		sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err := scrub(n, n.Notify(sendCtx, m)) // to the log, the status and the audit trail
		if err != nil {
			d.log.Warn("notification not sent; will retry", "channel", n.Name(), "rule", m.Rule, "run", m.RunID, "attempt", attempts, "err", err)
			d.noteError(n.Name(), err) // shown while it retries; unhealthy once it gives up
		}
		return err
	})
	return err
}

// noteError shows a failed attempt's error in the channel's status at once.
func (d *Dispatcher) noteError(channel string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health[channel]
	h.LastError, h.LastErrorAt = err.Error(), time.Now().UTC()
}

func (d *Dispatcher) record(ctx context.Context, channel string, m Message, err error) {
	now := time.Now().UTC()
	d.mu.Lock()
	h := d.health[channel]
	if err == nil {
		h.Healthy, h.LastSentAt = true, now
		h.Sent++
	} else {
		h.Healthy, h.LastError, h.LastErrorAt = false, err.Error(), now
		h.Failed++
	}
	d.mu.Unlock()
	entry := store.AuditEntry{Actor: "notify", Action: "notify.sent", Target: m.RunID, Detail: fmt.Sprintf("%s: %s", channel, m.Subject())}
	if err != nil {
		entry.Action, entry.Detail = "notify.failed", fmt.Sprintf("%s: %s: %v", channel, m.Subject(), err)
		d.log.Error("notification failed", "channel", channel, "rule", m.Rule, "run", m.RunID, "err", err)
	}
	if aerr := d.cfg.Store.AuditAppend(ctx, entry); aerr != nil && !errors.Is(aerr, context.Canceled) {
		d.log.Warn("record notification outcome", "err", aerr)
	}
}
