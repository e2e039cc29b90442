package eventbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// errNotOurs is a schedule group of the agent's name that this agent did
// not make: it is never used, whatever the retries.
var errNotOurs = errors.New("not this agent's")

// describeBus returns the ARN of the configured event bus, which the
// schedules name as their target.
func (b *Backend) describeBus(ctx context.Context) (string, error) {
	out, err := b.client.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(b.cfg.EventBus)})
	if err != nil {
		return "", fmt.Errorf("describe event bus %q: %w", b.cfg.EventBus, err)
	}
	return aws.ToString(out.Arn), nil
}

// groupTags are the tags of the agent's schedule group: schedules cannot be
// tagged, so the group's tags mark everything in it as this agent's.
func (b *Backend) groupTags() []schedtypes.Tag {
	return []schedtypes.Tag{
		{Key: aws.String(TagManaged), Value: aws.String(b.cfg.RulePrefix)},
		{Key: aws.String(TagDestination), Value: aws.String(b.cfg.DestinationName)},
	}
}

// ensureGroup makes sure the agent's schedule group exists and is this
// agent's: created (tagged) when missing, refused when another prefix's tag
// (or none) marks it. Its destination tag is set when it differs (the API
// destination was renamed).
func (b *Backend) ensureGroup(ctx context.Context) error {
	group := b.cfg.ScheduleGroup()
	out, err := b.sched.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(group)})
	if isNotFound(err) {
		created, cerr := b.sched.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{
			Name: aws.String(group),
			Tags: b.groupTags(),
		})
		if cerr == nil {
			b.log.Info("eventbridge: created the schedule group", "group", group, "arn", aws.ToString(created.ScheduleGroupArn))
			return nil
		}
		if !isConflict(cerr) {
			return fmt.Errorf("create schedule group %q: %w", group, cerr)
		}
		// Made meanwhile (another agent starting): check it as found.
		out, err = b.sched.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(group)})
	}
	if err != nil {
		return fmt.Errorf("get schedule group %q: %w", group, err)
	}
	if out.State != "" && out.State != schedtypes.ScheduleGroupStateActive {
		return fmt.Errorf("schedule group %q is %s, not ACTIVE", group, out.State)
	}
	arn := aws.ToString(out.Arn)
	tags, err := groupOurs(ctx, b.sched, b.cfg.Settings, group, arn)
	if err != nil || tags[TagDestination] == b.cfg.DestinationName {
		return err
	}
	retag := []schedtypes.Tag{{Key: aws.String(TagDestination), Value: aws.String(b.cfg.DestinationName)}}
	if _, err := b.sched.TagResource(ctx, &scheduler.TagResourceInput{ResourceArn: aws.String(arn), Tags: retag}); err != nil {
		return fmt.Errorf("tag schedule group %q with its destination: %w", group, err)
	}
	b.log.Info("eventbridge: tagged the schedule group with its API destination", "group", group, "destination", b.cfg.DestinationName)
	return nil
}

// groupNotOthers fails (with errNotOurs) when the agent's schedule group
// exists and is not this agent's; a missing group is fine.
func (b *Backend) groupNotOthers(ctx context.Context) error {
	group := b.cfg.ScheduleGroup()
	out, err := b.sched.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(group)})
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("get schedule group %q: %w", group, err)
	}
	_, err = groupOurs(ctx, b.sched, b.cfg.Settings, group, aws.ToString(out.Arn))
	return err
}

// groupOurs returns the tags of the group (of ARN arn), or fails with
// errNotOurs unless they mark it as the group of an agent with the prefix
// of s. (The destination tag is not asked for: an agent whose destination
// was renamed keeps its group.)
func groupOurs(ctx context.Context, client *scheduler.Client, s Settings, group, arn string) (map[string]string, error) {
	tags, err := client.ListTagsForResource(ctx, &scheduler.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("list tags of schedule group %q: %w", group, err)
	}
	got := make(map[string]string, len(tags.Tags))
	for _, t := range tags.Tags {
		got[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if v, ok := got[TagManaged]; !ok || v != s.RulePrefix {
		return nil, fmt.Errorf("schedule group %q is %w (its tag %s is %q; this agent's prefix is %q): choose another JOBBRIDGE_EB_RULE_PREFIX",
			group, errNotOurs, TagManaged, got[TagManaged], s.RulePrefix)
	}
	return got, nil
}

// relayPattern is the relay rule's event pattern: the events this agent's
// schedules put, and no others. Scheduler puts them as the account of its
// role, so an event another account puts on the bus (a bus policy may let
// it) never starts a run, whatever its source and detail say.
func (s Settings) relayPattern() string {
	pattern := map[string]any{
		"source":      []string{EventSource},
		"detail-type": []string{EventDetailType},
		"detail":      map[string]any{"group": []string{s.ScheduleGroup()}},
	}
	if account := roleAccount(s.SchedulerRoleARN); account != "" {
		pattern["account"] = []string{account}
	}
	p, _ := json.Marshal(pattern)
	return string(p)
}

// roleAccount is the account of an IAM role ARN
// (arn:PARTITION:iam::ACCOUNT:role/NAME), "" when it is not one.
func roleAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return ""
	}
	return parts[4]
}

// RelayInputTemplate is what the relay rule sends to the webhook. EventBridge
// substitutes a placeholder inside a quoted string with the bare value, so
// the event id is "scheduler:RULE:SCHEDULED-TIME": the same for every
// retry of one fire, by Scheduler or by EventBridge, and the webhook runs a
// fire once.
const RelayInputTemplate = `{"rule":<rule>,"eventId":"scheduler:<rule>:<time>","time":<time>}`

// relayTarget is the relay rule's one target: the API destination, with
// the schedule's detail made into the webhook's body.
func (b *Backend) relayTarget(destinationARN string) types.Target {
	return b.apiTarget(destinationARN, &types.InputTransformer{
		InputPathsMap: map[string]string{"rule": "$.detail.rule", "time": "$.detail.scheduledTime"},
		InputTemplate: aws.String(RelayInputTemplate),
	})
}

const relayDescription = "jobbridge: takes the agent's schedules' events to its webhook"

func (b *Backend) putRelayInput() *eventbridge.PutRuleInput {
	return &eventbridge.PutRuleInput{
		Name:         aws.String(b.cfg.RelayRuleName()),
		EventBusName: aws.String(b.cfg.EventBus),
		EventPattern: aws.String(b.cfg.relayPattern()),
		State:        types.RuleStateEnabled,
		Description:  aws.String(relayDescription),
		Tags: []types.Tag{
			{Key: aws.String(TagManaged), Value: aws.String(b.cfg.RulePrefix)},
			{Key: aws.String(TagDestination), Value: aws.String(b.cfg.DestinationName)},
		},
	}
}

// ensureRelay makes the relay rule match this agent's events and call the
// API destination; it writes only what is missing or differs.
func (b *Backend) ensureRelay(ctx context.Context, destinationARN string) error {
	name, bus := b.cfg.RelayRuleName(), b.cfg.EventBus
	got, err := b.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)})
	why := ""
	switch {
	case isNotFound(err):
		why = "missing"
	case err != nil:
		return fmt.Errorf("describe relay rule %s: %w", name, err)
	case !samePattern(aws.ToString(got.EventPattern), b.cfg.relayPattern()):
		why = "its event pattern differs"
	case aws.ToString(got.ScheduleExpression) != "":
		why = "it has a schedule"
	case got.State != types.RuleStateEnabled:
		why = fmt.Sprintf("it is %s", got.State)
	case aws.ToString(got.Description) != relayDescription:
		why = "its description differs"
	}
	if why != "" {
		if _, err := b.client.PutRule(ctx, b.putRelayInput()); err != nil {
			return fmt.Errorf("put relay rule %s (%s): %w", name, why, err)
		}
		b.log.Info("eventbridge: put the relay rule", "rule", name, "bus", bus, "why", why)
	}
	want := b.relayTarget(destinationARN)
	if why != "missing" {
		targets, err := b.listTargets(ctx, bus, name)
		if err != nil {
			return err
		}
		if targetDiffers(targets, want) == "" {
			return nil
		}
	}
	return b.putTargetOn(ctx, bus, name, want)
}

// samePattern reports whether two event patterns are the same JSON.
func samePattern(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
