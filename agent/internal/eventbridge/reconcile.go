package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Reconcile makes AWS match the store: it puts every stored rule that is
// missing in EventBridge or differs there (schedule, state, description,
// target), records each rule's sync state, removes the rules of deletes not
// applied yet, and lists orphans. It reads only rules under the prefix.
// Orphans are EventBridge rule names. In scheduler mode it does the same
// with the schedules in the agent's group (see reconcileSchedules).
func (b *Backend) Reconcile(ctx context.Context) (api.SyncReport, error) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	rep := api.SyncReport{Synced: []string{}, Failed: []string{}, Deleted: []string{}, Orphans: []string{}}
	// Someone may have changed or deleted the connection or destination
	// (or the group or the relay rule).
	w, err := b.ensure(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	if b.cfg.Mode == ModeScheduler {
		return b.reconcileSchedules(ctx, w, rep)
	}
	dest := w.destinationARN
	stored, err := b.cfg.Store.RuleList(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: list stored rules: %w", err)
	}
	remote, err := b.listRules(ctx, DefaultBus)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	storedNames := make(map[string]bool, len(stored))
	for _, r := range stored {
		storedNames[r.Name] = true
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		b.reconcileRule(ctx, r, remote, dest, &rep)
	}

	var errs []error
	pending := b.state.get().PendingDeletes
	for _, name := range pending {
		_, inAWS := remote[b.AWSName(name)]
		switch {
		case storedNames[name]: // created again since: the put above stands
		case inAWS:
			if err := b.remove(ctx, DefaultBus, b.AWSName(name)); err != nil {
				b.log.Warn("eventbridge: removing the rule of a deleted rule failed", "rule", b.AWSName(name), "err", err)
				rep.Failed = append(rep.Failed, name)
				continue
			}
			rep.Deleted = append(rep.Deleted, name)
		}
		if err := b.state.removePendingDelete(name); err != nil {
			errs = append(errs, err)
		}
	}

	known := make(map[string]bool, len(stored)+len(pending))
	for name := range storedNames {
		known[b.AWSName(name)] = true
	}
	for _, name := range pending {
		known[b.AWSName(name)] = true
	}
	orphans, err := b.orphans(ctx, remote, known)
	if err != nil {
		errs = append(errs, err)
	}
	rep.Orphans = append(rep.Orphans, orphans...)
	slices.Sort(rep.Synced)
	slices.Sort(rep.Failed)
	slices.Sort(rep.Deleted)
	return rep, errors.Join(errs...)
}

// reconcileRule brings one stored rule in step and records the outcome.
func (b *Backend) reconcileRule(ctx context.Context, r store.Rule, remote map[string]types.Rule, dest string, rep *api.SyncReport) {
	if err := needsScheduler(r); err != nil {
		b.reconcileFailed(ctx, r, err, rep)
		return
	}
	awsName := b.AWSName(r.Name)
	got, exists := remote[awsName]
	why, onlyTarget := "missing in EventBridge", false
	if exists {
		why = b.ruleDiffers(got, r)
		if why == "" {
			targets, err := b.listTargets(ctx, DefaultBus, awsName)
			if err != nil {
				b.reconcileFailed(ctx, r, err, rep)
				return
			}
			why = targetDiffers(targets, b.target(r, dest))
			onlyTarget = true
		}
	}
	if why == "" {
		rep.InStep++
		arn := aws.ToString(got.Arn)
		if (r.Sync.State != StateSynced || r.Sync.ARN != arn || r.Sync.Error != "") && !b.queue.has(r.Name) {
			b.setSync(ctx, r.Name, store.Sync{State: StateSynced, ARN: arn})
		}
		return
	}
	var (
		arn string
		err error
	)
	if onlyTarget {
		// Only the target differs: put it alone.
		arn, err = aws.ToString(got.Arn), b.putTarget(ctx, r, dest)
	} else {
		arn, err = b.put(ctx, r, dest)
	}
	if err != nil {
		b.reconcileFailed(ctx, r, err, rep)
		return
	}
	b.log.Info("eventbridge: reconcile put rule", "rule", awsName, "why", why)
	rep.Synced = append(rep.Synced, r.Name)
	if !b.queue.has(r.Name) {
		b.setSync(ctx, r.Name, store.Sync{State: StateSynced, ARN: arn})
	}
}

func (b *Backend) reconcileFailed(ctx context.Context, r store.Rule, err error, rep *api.SyncReport) {
	b.log.Warn("eventbridge: reconcile could not sync rule", "rule", r.Name, "err", err)
	rep.Failed = append(rep.Failed, r.Name)
	if !b.queue.has(r.Name) {
		b.setSync(ctx, r.Name, store.Sync{State: StateError, Error: awsMessage(err), ARN: r.Sync.ARN})
	}
}

// orphans returns the EventBridge rules in remote that are not known and
// carry this agent's tags, by name.
func (b *Backend) orphans(ctx context.Context, remote map[string]types.Rule, known map[string]bool) ([]string, error) {
	var orphans []string
	for _, name := range slices.Sorted(maps.Keys(remote)) {
		if known[name] || !strings.HasPrefix(name, b.cfg.RulePrefix) {
			continue
		}
		ours, err := b.taggedOurs(ctx, name, remote[name].Arn)
		if err != nil {
			return orphans, err
		}
		if ours {
			orphans = append(orphans, name)
		}
	}
	return orphans, nil
}

// taggedOurs reports whether the EventBridge rule name (of ARN arn) carries
// this agent's tags: the prefix and the API destination.
func (b *Backend) taggedOurs(ctx context.Context, name string, arn *string) (bool, error) {
	out, err := b.client.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: arn})
	if err != nil {
		return false, fmt.Errorf("list tags of rule %s: %w", name, err)
	}
	tags := make(map[string]string, len(out.Tags))
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	v, ok := tags[TagManaged]
	return ok && v == b.cfg.RulePrefix && tags[TagDestination] == b.cfg.DestinationName, nil
}

// Orphans lists what this agent made in AWS and no stored rule uses now
// (the leftovers of deletes not applied yet among them): in eventbridge mode, the EventBridge rules
// under the prefix that carry this agent's tags, and the schedules left in
// the agent's schedule group by the scheduler backend; in scheduler mode,
// the schedules in the group and the EventBridge rules the eventbridge
// backend left. With Config.Unused, all of those. Schedules are named
// GROUP/NAME, EventBridge rules by name.
func (b *Backend) Orphans(ctx context.Context) ([]string, error) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	found, err := b.findOrphans(ctx)
	return b.orphanNames(found), err
}

// orphan is something of this agent's in AWS that is not used now.
type orphan struct {
	schedule bool   // a schedule in the agent's group; else an EventBridge rule
	name     string // the schedule's name, or the EventBridge rule's
	bus      string // the EventBridge rule's bus
}

// orphanName names an orphan as reports show it: GROUP/NAME for a
// schedule, the name for an EventBridge rule.
func (b *Backend) orphanName(o orphan) string {
	if o.schedule {
		return b.cfg.ScheduleGroup() + "/" + o.name
	}
	return o.name
}

// orphanNames names orphans as reports show them.
func (b *Backend) orphanNames(found []orphan) []string {
	names := make([]string, 0, len(found))
	for _, o := range found {
		names = append(names, b.orphanName(o))
	}
	return names
}

func (b *Backend) findOrphans(ctx context.Context) ([]orphan, error) {
	stored, err := b.cfg.Store.RuleList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stored rules: %w", err)
	}
	if b.cfg.Mode == ModeScheduler {
		// Prune runs without the setup that refuses a group of another
		// agent's: every schedule in such a group would count as an orphan.
		if err := b.groupNotOthers(ctx); err != nil {
			return nil, err
		}
		remote, err := b.listSchedules(ctx)
		if err != nil {
			return nil, err
		}
		known := make(map[string]bool, len(stored))
		for _, r := range stored {
			known[r.Name] = true
		}
		return b.scheduleOrphans(ctx, remote, known)
	}
	remote, err := b.listRules(ctx, DefaultBus)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(stored))
	for _, r := range stored {
		if !b.cfg.Unused {
			known[b.AWSName(r.Name)] = true
		}
	}
	names, err := b.orphans(ctx, remote, known)
	if err != nil {
		return nil, err
	}
	var found []orphan
	for _, n := range names {
		found = append(found, orphan{name: n, bus: DefaultBus})
	}
	left, err := b.schedulesLeft(ctx)
	return append(found, left...), err
}

// Prune deletes the orphans (an EventBridge rule's targets, then the rule;
// a schedule) and returns the names it deleted. Deletes not applied yet
// count as orphans here.
func (b *Backend) Prune(ctx context.Context) ([]string, error) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	found, err := b.findOrphans(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, o := range found {
		stored := o.name
		if o.schedule {
			err = b.deleteSchedule(ctx, o.name)
		} else {
			err = b.remove(ctx, o.bus, o.name)
			stored = strings.TrimPrefix(o.name, b.cfg.RulePrefix)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, b.orphanName(o))
		// The delete of a stored rule is done once what it left is gone
		// (in this mode: a leftover of the other one is not its delete).
		if o.schedule == (b.cfg.Mode == ModeScheduler) {
			if err := b.state.removePendingDelete(stored); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return deleted, errors.Join(errs...)
}
