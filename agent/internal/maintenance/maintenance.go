// Package maintenance holds the agent's maintenance mode: while it is on,
// scheduled fires and EventBridge deliveries are recorded skipped (the
// runner asks Active), operators' runs need force (the service asks Get),
// and running runs go on. It ends by itself at its end time.
//
// The mode is stored in the database (on PostgreSQL it is the cluster's).
// Every agent keeps it in memory, trusted for TTL (2s) before it is read
// again, so the runner can ask on every fire. A change is published as a
// "maintenance" event, which the cluster relays to the other agents: they
// take it at once, and within TTL at the latest if the relay lost it.
//
// The end is evaluated on every read (a mode past its end time is off),
// and a timer at the end time records it off, audits "maintenance.end" by
// "system" and publishes the change; on PostgreSQL only the leader does,
// so that it is audited once.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Store is where the mode is kept and its automatic end audited.
type Store interface {
	MaintenanceGet(ctx context.Context) (store.Maintenance, error)
	MaintenanceSet(ctx context.Context, m store.Maintenance) error
	AuditAppend(ctx context.Context, e store.AuditEntry) error
}

// Config configures a Switch.
type Config struct {
	Store Store
	// Events receives a "maintenance" event on every change; may be nil.
	Events *events.Broker
	Logger *slog.Logger // default: discard
	// TTL is how long a read of the stored mode is trusted. Default 2s.
	TTL time.Duration
	// Resync is how often Run re-reads the mode to set its end timer even
	// when nothing asked (a change whose event was lost). Default 1 minute.
	Resync time.Duration
	// Leader, when set, says whether this agent records the automatic end
	// (several agents on PostgreSQL: one does). nil: this agent does.
	Leader func(ctx context.Context) (bool, error)
	// Now is the clock end times are compared with. Default time.Now.
	// (How old a read is, is real time.)
	Now func() time.Time
}

// Switch is the maintenance mode of one agent. Create it with New; run its
// end timer with Run.
type Switch struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	cur        store.Maintenance // as stored, last known
	readAt     time.Time         // when cur was read or set; zero: never
	refreshing bool
	// gen counts the changes made or heard: a read of the store that
	// began before one is older than it, and not taken.
	gen uint64

	changed chan struct{} // wakes Run: cur changed
}

// New returns a switch; the mode is read on first use.
func New(cfg Config) *Switch {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Switch{cfg: cfg, log: cfg.Logger, changed: make(chan struct{}, 1)}
}

// Effective is m as it is at now: off once its end time has passed.
func Effective(m store.Maintenance, now time.Time) store.Maintenance {
	if !m.On || (!m.Until.IsZero() && !now.Before(m.Until)) {
		return store.Maintenance{}
	}
	return m
}

// Get returns the mode in effect now, read from the store if the one in
// memory is older than the TTL.
func (s *Switch) Get(ctx context.Context) (store.Maintenance, error) {
	s.mu.Lock()
	fresh := !s.readAt.IsZero() && time.Since(s.readAt) < s.cfg.TTL
	cur, gen := s.cur, s.gen
	s.mu.Unlock()
	if !fresh {
		m, err := s.cfg.Store.MaintenanceGet(ctx)
		if err != nil {
			return store.Maintenance{}, fmt.Errorf("read maintenance mode: %w", err)
		}
		cur = s.read(m, gen)
	}
	return Effective(cur, s.cfg.Now()), nil
}

// On reports whether maintenance is on at now. It never waits on the
// database for long: it answers from memory, refreshed when older than
// the TTL; if the database does not answer, the last mode known stands.
// The queue's dispatcher can take it as its Paused hook.
func (s *Switch) On(now time.Time) bool {
	return Effective(s.cached(), now).On
}

// Active reports whether maintenance is on now, and its reason: the
// runner's Maintenance hook.
func (s *Switch) Active(ctx context.Context) (on bool, reason string) {
	m := Effective(s.cached(), s.cfg.Now())
	return m.On, m.Reason
}

// cached returns the mode in memory, refreshing it first when it is older
// than the TTL (one caller refreshes; the others take what is known).
func (s *Switch) cached() store.Maintenance {
	s.mu.Lock()
	stale := s.readAt.IsZero() || time.Since(s.readAt) >= s.cfg.TTL
	if !stale || s.refreshing {
		cur := s.cur
		s.mu.Unlock()
		return cur
	}
	s.refreshing = true
	gen := s.gen
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := s.cfg.Store.MaintenanceGet(ctx)
	s.mu.Lock()
	s.refreshing = false
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("maintenance: reading the mode failed; keeping the one known", "err", err)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cur
	}
	return s.read(m, gen)
}

// read takes m, read from the store when the switch was at gen, as the
// stored mode unless a change came meanwhile; it returns the mode known.
func (s *Switch) read(m store.Maintenance, gen uint64) store.Maintenance {
	s.mu.Lock()
	if s.gen != gen {
		defer s.mu.Unlock()
		return s.cur
	}
	changed := !same(s.cur, m)
	s.cur, s.readAt = m, time.Now()
	s.mu.Unlock()
	if changed {
		s.wake()
	}
	return m
}

// remember takes m as the stored mode: it was just set here or heard of
// from another agent.
func (s *Switch) remember(m store.Maintenance) {
	s.mu.Lock()
	s.gen++
	s.cur, s.readAt = m, time.Now()
	s.mu.Unlock()
	s.wake()
}

func (s *Switch) wake() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func same(a, b store.Maintenance) bool {
	return a.On == b.On && a.Until.Equal(b.Until) && a.Reason == b.Reason && a.By == b.By && a.Since.Equal(b.Since)
}

// Set records m as the mode and publishes it. The caller (the service)
// checks and audits it.
func (s *Switch) Set(ctx context.Context, m store.Maintenance) error {
	if err := s.cfg.Store.MaintenanceSet(ctx, m); err != nil {
		return fmt.Errorf("record maintenance mode: %w", err)
	}
	s.remember(m)
	s.publish(m)
	return nil
}

func (s *Switch) publish(m store.Maintenance) {
	if s.cfg.Events == nil {
		return
	}
	s.cfg.Events.Publish(events.Event{Type: api.EventMaintenance, Maintenance: &m})
}

// Run keeps the end timer until ctx is done: at the end time it records
// the mode off. It also takes the changes other agents publish.
func (s *Switch) Run(ctx context.Context) {
	if s.cfg.Events != nil {
		_, ch, _, cancel := s.cfg.Events.Subscribe(0)
		defer cancel()
		go s.hear(ctx, ch)
	}
	s.cached() // the first read
	timer := time.NewTimer(0)
	defer timer.Stop()
	var handled time.Time // the end time last dealt with
	var retry time.Duration
	for {
		now := s.cfg.Now()
		s.mu.Lock()
		cur := s.cur
		s.mu.Unlock()
		wait := s.cfg.Resync
		if cur.On && !cur.Until.IsZero() && !cur.Until.Equal(handled) {
			wait = min(wait, max(cur.Until.Sub(now), retry))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
			timer.Stop()
			continue
		case <-timer.C:
		}
		now = s.cfg.Now()
		if cur.On && !cur.Until.IsZero() && !cur.Until.Equal(handled) && !now.Before(cur.Until) {
			retry = s.cfg.TTL
			if s.end(ctx, now) {
				handled, retry = cur.Until, 0
			}
		}
		if time.Since(s.readAtTime()) >= s.cfg.Resync {
			s.cached()
		}
	}
}

func (s *Switch) readAtTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readAt
}

// hear takes the mode from the other agents' relayed events.
func (s *Switch) hear(ctx context.Context, ch <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Type == api.EventMaintenance && !e.Local() && e.Maintenance != nil {
				s.remember(*e.Maintenance)
			}
		}
	}
}

// end records the end of a maintenance window that has passed, if it is
// still the one stored, audits it and publishes it. Only the leader does;
// the others see it off on read, and hear the leader's event. It reports
// false if it could not tell or record: Run tries again a little later.
func (s *Switch) end(ctx context.Context, now time.Time) bool {
	if s.cfg.Leader != nil {
		lead, err := s.cfg.Leader(ctx)
		if err != nil {
			return false
		}
		if !lead {
			return true
		}
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	m, err := s.cfg.Store.MaintenanceGet(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Error("maintenance: reading the mode at its end failed", "err", err)
		}
		return false
	}
	if !m.On || m.Until.IsZero() || now.Before(m.Until) {
		s.read(m, gen) // changed meanwhile
		return true
	}
	if err := s.cfg.Store.MaintenanceSet(ctx, m.Ended(m.Until)); err != nil {
		s.log.Error("maintenance: recording its end failed", "err", err)
		return false
	}
	detail := "ended at " + m.Until.UTC().Format(time.RFC3339)
	if m.Reason != "" {
		detail += "; reason: " + m.Reason
	}
	if err := s.cfg.Store.AuditAppend(ctx, store.AuditEntry{Actor: "system", Action: "maintenance.end", Target: "maintenance", Detail: detail}); err != nil {
		s.log.Error("write audit entry", "action", "maintenance.end", "err", err)
	}
	s.log.Info("maintenance mode ended at its end time", "until", m.Until, "reason", m.Reason)
	s.remember(store.Maintenance{})
	s.publish(store.Maintenance{})
	return true
}
