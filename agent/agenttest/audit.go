package agenttest

import (
	"context"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// AddAudit writes audit entries to the store as they are given: ids
// (which order the trail: give them increasing, oldest first), times,
// actors, actions, targets, details and the before and after of rule
// changes (give secrets masked, as the agent records them). An entry
// without an id gets a new one, without a time the time now.
func (a *Agent) AddAudit(entries ...api.AuditEntry) {
	a.t.Helper()
	a.withStore(func(ctx context.Context, s store.Store) error {
		for _, e := range entries {
			err := s.AuditAppend(ctx, store.AuditEntry{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action,
				Target: e.Target, Detail: e.Detail, Before: e.Before, After: e.After})
			if err != nil {
				return err
			}
		}
		return nil
	})
}
