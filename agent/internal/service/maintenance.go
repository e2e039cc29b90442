package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/maintenance"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// MaxMaintenanceReason is the longest reason maintenance mode may give, in
// bytes: it is shown in the console's header and in every run it skips.
const MaxMaintenanceReason = 500

// ErrMaintenance is why an operator's run is refused while maintenance is
// on and force was not given; it comes wrapped in a ConflictError.
var ErrMaintenance = errors.New("maintenance mode is on")

// Maintenance returns the maintenance mode in effect.
func (s *Service) Maintenance(ctx context.Context) (store.Maintenance, error) {
	return s.maint.Get(ctx)
}

// MaintenanceSet turns maintenance mode on or off on behalf of actor (an
// admin), and audits it ("maintenance.on", "maintenance.off"). On, it may
// end by itself at in.Until, which must be to come, and give a reason of
// plain text up to MaxMaintenanceReason bytes.
func (s *Service) MaintenanceSet(ctx context.Context, actor string, in api.Maintenance) (store.Maintenance, error) {
	now := s.now()
	verr := &ValidationError{}
	switch {
	case in.Until != nil && !in.On:
		verr.add("body.until", "is set but on is false: an end time is for turning maintenance on")
	case in.Until != nil && !in.Until.After(now):
		verr.add("body.until", "%s is not in the future: give the time maintenance ends by itself, or leave it out to end it by hand",
			in.Until.UTC().Format(time.RFC3339))
	}
	if len(in.Reason) > MaxMaintenanceReason {
		verr.add("body.reason", "is %d bytes long, at most %d", len(in.Reason), MaxMaintenanceReason)
	}
	if msg := checkText(in.Reason); msg != "" {
		verr.add("body.reason", "%s", msg)
	}
	if err := verr.orNil(); err != nil {
		return store.Maintenance{}, err
	}
	prev, err := s.maint.Get(ctx)
	if err != nil {
		return store.Maintenance{}, fmt.Errorf("read the maintenance mode: %w", err)
	}
	m := prev.Ended(now.UTC())
	if in.On {
		m = store.Maintenance{On: true, Reason: in.Reason, By: actor, Since: now.UTC(), LastFrom: m.LastFrom, LastTo: m.LastTo}
		if in.Until != nil {
			m.Until = in.Until.UTC()
		}
	}
	if err := s.maint.Set(ctx, m); err != nil {
		return store.Maintenance{}, err
	}
	if in.On {
		detail := "until turned off"
		if !m.Until.IsZero() {
			detail = "until " + m.Until.Format(time.RFC3339)
		}
		if m.Reason != "" {
			detail += "; reason: " + m.Reason
		}
		s.audit(ctx, actor, "maintenance.on", "maintenance", detail)
	} else {
		s.audit(ctx, actor, "maintenance.off", "maintenance", in.Reason)
	}
	return m, nil
}

// checkMaintenance refuses an operator's run while maintenance is on,
// unless force.
func (s *Service) checkMaintenance(ctx context.Context, force bool) error {
	if force {
		return nil
	}
	m, err := s.maint.Get(ctx)
	if err != nil {
		return err
	}
	if !m.On {
		return nil
	}
	detail := "maintenance mode is on"
	if m.Reason != "" {
		detail += " (" + m.Reason + ")"
	}
	if !m.Until.IsZero() {
		detail += " until " + m.Until.UTC().Format(time.RFC3339)
	}
	detail += `: runs do not start; send "force": true to start this one anyway`
	return &ConflictError{Detail: detail, Err: fmt.Errorf("%w: %w", ErrMaintenance, store.ErrConflict)}
}

// newMaintenance is the switch of a service configured without one: the
// mode is read from the store, evaluated on read, and nothing ends it by
// timer (the agent passes its own, which runs).
func newMaintenance(cfg Config) *maintenance.Switch {
	return maintenance.New(maintenance.Config{Store: cfg.Store, Events: cfg.Events, Logger: cfg.Logger})
}
