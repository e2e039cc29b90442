package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// reconcileSchedules is Reconcile in scheduler mode: it lists the schedules
// in the agent's group, creates or updates every stored rule's that is
// missing or differs (a rule that can fire no more is left alone: see
// finished), deletes those of deletes not applied yet, and lists orphans:
// schedules in the group that no stored rule has, and the EventBridge rules
// the eventbridge backend left under the prefix.
func (b *Backend) reconcileSchedules(ctx context.Context, w wiring, rep api.SyncReport) (api.SyncReport, error) {
	stored, err := b.cfg.Store.RuleList(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: list stored rules: %w", err)
	}
	remote, err := b.listSchedules(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	known := make(map[string]bool, len(stored))
	for _, r := range stored {
		known[r.Name] = true
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		b.reconcileSchedule(ctx, r, remote, w, &rep)
	}

	var errs []error
	pending := b.state.get().PendingDeletes
	for _, name := range pending {
		_, inAWS := remote[name]
		switch {
		case known[name]: // created again since: the sync above stands
		case inAWS:
			if err := b.deleteSchedule(ctx, name); err != nil {
				b.log.Warn("eventbridge: deleting the schedule of a deleted rule failed", "schedule", b.resourceName(name), "err", err)
				rep.Failed = append(rep.Failed, name)
				continue
			}
			rep.Deleted = append(rep.Deleted, name)
		}
		if err := b.state.removePendingDelete(name); err != nil {
			errs = append(errs, err)
		}
		known[name] = true
	}

	orphans, err := b.scheduleOrphans(ctx, remote, known)
	if err != nil {
		errs = append(errs, err)
	}
	rep.Orphans = append(rep.Orphans, b.orphanNames(orphans)...)
	slices.Sort(rep.Synced)
	slices.Sort(rep.Failed)
	slices.Sort(rep.Deleted)
	return rep, errors.Join(errs...)
}

// reconcileSchedule brings one stored rule's schedule in step and records
// the outcome.
func (b *Backend) reconcileSchedule(ctx context.Context, r store.Rule, remote map[string]schedtypes.ScheduleSummary, w wiring, rep *api.SyncReport) {
	_, listed := remote[r.Name]
	arn, why, err := b.syncSchedule(ctx, r, w, listed)
	if err != nil {
		b.reconcileFailed(ctx, r, err, rep)
		return
	}
	if why == "" {
		rep.InStep++
	} else {
		b.log.Info("eventbridge: reconcile put schedule", "schedule", b.resourceName(r.Name), "why", why)
		rep.Synced = append(rep.Synced, r.Name)
	}
	if (r.Sync.State != StateSynced || r.Sync.ARN != arn || r.Sync.Error != "") && !b.queue.has(r.Name) {
		b.setSync(ctx, r.Name, store.Sync{State: StateSynced, ARN: arn})
	}
}

// scheduleOrphans returns, in scheduler mode, the schedules in remote that
// are not known, then the EventBridge rules the eventbridge backend left.
func (b *Backend) scheduleOrphans(ctx context.Context, remote map[string]schedtypes.ScheduleSummary, known map[string]bool) ([]orphan, error) {
	var found []orphan
	for _, name := range slices.Sorted(maps.Keys(remote)) {
		if !known[name] {
			found = append(found, orphan{schedule: true, name: name})
		}
	}
	left, err := b.rulesLeft(ctx)
	return append(found, left...), err
}

// rulesLeft lists, in scheduler mode, the EventBridge rules under the
// prefix on the default bus that carry this agent's tags: what the
// eventbridge backend left, which would fire the rules a second time. The
// relay rule is not one of them.
func (b *Backend) rulesLeft(ctx context.Context) ([]orphan, error) {
	remote, err := b.listRules(ctx, DefaultBus)
	if err != nil {
		return nil, err
	}
	relay := map[string]bool{}
	if b.cfg.EventBus == DefaultBus {
		relay[b.cfg.RelayRuleName()] = true
	}
	names, err := b.orphans(ctx, remote, relay)
	var found []orphan
	for _, n := range names {
		found = append(found, orphan{name: n, bus: DefaultBus})
	}
	return found, err
}

// schedulesLeft lists, in eventbridge mode, the schedules the scheduler
// backend left in the agent's group (all of them: this mode uses none),
// when the group is this agent's. Only Orphans and Prune look, so the
// eventbridge backend's own policy needs no Scheduler permission; without
// one they say so and find none.
func (b *Backend) schedulesLeft(ctx context.Context) ([]orphan, error) {
	group := b.cfg.ScheduleGroup()
	denied := func(err error) bool {
		if !isAccessDenied(err) {
			return false
		}
		b.log.Warn("eventbridge: cannot look for schedules the scheduler backend left: no permission; if it ran with this prefix, allow what `agent aws policy --scheduler scheduler` grants on the group and prune again",
			"group", group, "err", awsMessage(err))
		return true
	}
	out, err := b.sched.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(group)})
	switch {
	case isNotFound(err) || denied(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get schedule group %q: %w", group, err)
	}
	_, err = groupOurs(ctx, b.sched, b.cfg.Settings, group, aws.ToString(out.Arn))
	switch {
	case errors.Is(err, errNotOurs) || denied(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	remote, err := b.listSchedules(ctx)
	if err != nil {
		if denied(err) {
			return nil, nil
		}
		return nil, err
	}
	var found []orphan
	for _, name := range slices.Sorted(maps.Keys(remote)) {
		found = append(found, orphan{schedule: true, name: name})
	}
	return found, nil
}
