package eventbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// AWSName is the EventBridge name of the stored rule named name.
func (b *Backend) AWSName(name string) string { return b.cfg.RulePrefix + name }

// ruleState is the EventBridge state of a stored rule.
func ruleState(r store.Rule) types.RuleState {
	if r.Enabled {
		return types.RuleStateEnabled
	}
	return types.RuleStateDisabled
}

// maxDescription is EventBridge's limit on a rule's description, in
// characters.
const maxDescription = 512

// description is the EventBridge description of a stored rule, cut to
// maxDescription characters (never inside one).
func description(r store.Rule) string {
	d := r.Description
	if d == "" {
		d = "jobbridge: runs job " + r.Job
	}
	if utf8.RuneCountInString(d) > maxDescription {
		d = string([]rune(d)[:maxDescription-3]) + "..."
	}
	return d
}

func (b *Backend) putRuleInput(r store.Rule) *eventbridge.PutRuleInput {
	return &eventbridge.PutRuleInput{
		Name:               aws.String(b.AWSName(r.Name)),
		EventBusName:       aws.String(b.cfg.EventBus),
		ScheduleExpression: aws.String(r.Schedule),
		State:              ruleState(r),
		Description:        aws.String(description(r)),
		// Tags are applied when the rule is created; they mark it as ours
		// for the orphan check.
		Tags: []types.Tag{
			{Key: aws.String(TagManaged), Value: aws.String(b.cfg.RulePrefix)},
			{Key: aws.String(TagDestination), Value: aws.String(b.cfg.DestinationName)},
		},
	}
}

// inputTemplate is what the target sends to the webhook: the EventBridge
// rule name (the webhook strips the prefix) and the event's id and time.
func (b *Backend) inputTemplate(name string) string {
	n, _ := json.Marshal(b.AWSName(name))
	return `{"rule":` + string(n) + `,"eventId":<id>,"time":<time>}`
}

// target is the one target of a stored rule: the API destination.
func (b *Backend) target(r store.Rule, destinationARN string) types.Target {
	return b.apiTarget(destinationARN, &types.InputTransformer{
		InputPathsMap: map[string]string{"id": "$.id", "time": "$.time"},
		InputTemplate: aws.String(b.inputTemplate(r.Name)),
	})
}

// apiTarget is a target that calls the API destination with the body the
// input transformer makes: a stored rule's own, or the relay rule's.
func (b *Backend) apiTarget(destinationARN string, transformer *types.InputTransformer) types.Target {
	t := types.Target{
		Id:               aws.String(TargetID),
		Arn:              aws.String(destinationARN),
		RoleArn:          aws.String(b.cfg.TargetRoleARN),
		InputTransformer: transformer,
		RetryPolicy: &types.RetryPolicy{
			MaximumRetryAttempts:     aws.Int32(b.cfg.DeliveryMaxAttempts),
			MaximumEventAgeInSeconds: aws.Int32(int32(b.cfg.DeliveryMaxAge.Seconds())),
		},
	}
	if b.cfg.DLQARN != "" {
		t.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(b.cfg.DLQARN)}
	}
	return t
}

// errNeedsScheduler is a stored rule that scheduled EventBridge rules
// cannot express (made while the agent ran another scheduler backend): put
// as it is, it would fire in UTC, or past its end date. A retry fails the
// same way.
var errNeedsScheduler = errors.New("EventBridge rules cannot express it (they run in UTC, recur, and have no dates or window); run the scheduler backend (JOBBRIDGE_SCHEDULER=scheduler) or change the rule")

// SchedulerOnly is a part of a rule that only EventBridge Scheduler can
// express: the rule's JSON field, and the part in words.
type SchedulerOnly struct {
	Field, What string
}

// SchedulerOnlyParts lists what of r scheduled EventBridge rules cannot
// express (they run in UTC, recur, and have no dates or window). The rules
// backend leaves such a rule out; in that mode the agent refuses to save
// one.
func SchedulerOnlyParts(r store.Rule) []SchedulerOnly {
	var out []SchedulerOnly
	if isAt(r.Schedule) {
		out = append(out, SchedulerOnly{"schedule", "a one-time at() schedule"})
	}
	if zone := zoneOf(r); zone != "UTC" {
		out = append(out, SchedulerOnly{"timezone", fmt.Sprintf("time zone %q", zone)})
	}
	if !r.StartDate.IsZero() {
		out = append(out, SchedulerOnly{"startDate", "a start date"})
	}
	if !r.EndDate.IsZero() {
		out = append(out, SchedulerOnly{"endDate", "an end date"})
	}
	if r.FlexibleWindow != 0 {
		out = append(out, SchedulerOnly{"flexibleWindow", "a flexible window"})
	}
	return out
}

// needsScheduler fails with errNeedsScheduler, naming the part, when r
// uses what only EventBridge Scheduler has.
func needsScheduler(r store.Rule) error {
	parts := SchedulerOnlyParts(r)
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("rule %q has %s: %w", r.Name, parts[0].What, errNeedsScheduler)
}

// put creates or replaces the EventBridge rule of r and its target, and
// returns the rule's ARN. A rule that needs Scheduler is not put.
func (b *Backend) put(ctx context.Context, r store.Rule, destinationARN string) (string, error) {
	if err := needsScheduler(r); err != nil {
		return "", err
	}
	arn, err := b.putRule(ctx, r)
	if err != nil {
		return "", err
	}
	if err := b.putTarget(ctx, r, destinationARN); err != nil {
		return "", err
	}
	return arn, nil
}

func (b *Backend) putRule(ctx context.Context, r store.Rule) (string, error) {
	out, err := b.client.PutRule(ctx, b.putRuleInput(r))
	if err != nil {
		return "", fmt.Errorf("put rule %s: %w", b.AWSName(r.Name), err)
	}
	return aws.ToString(out.RuleArn), nil
}

func (b *Backend) putTarget(ctx context.Context, r store.Rule, destinationARN string) error {
	return b.putTargetOn(ctx, b.cfg.EventBus, b.AWSName(r.Name), b.target(r, destinationARN))
}

// putTargetOn puts t as the one target of the EventBridge rule awsName on
// bus.
func (b *Backend) putTargetOn(ctx context.Context, bus, awsName string, t types.Target) error {
	out, err := b.client.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:         aws.String(awsName),
		EventBusName: aws.String(bus),
		Targets:      []types.Target{t},
	})
	if err != nil {
		return fmt.Errorf("put target of rule %s: %w", awsName, err)
	}
	if out.FailedEntryCount > 0 || len(out.FailedEntries) > 0 {
		te := &targetsError{op: "PutTargets"}
		for _, e := range out.FailedEntries {
			te.entries = append(te.entries, entryError{aws.ToString(e.TargetId), aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)})
		}
		if len(te.entries) == 0 {
			te.entries = []entryError{{TargetID, "Unknown", fmt.Sprintf("FailedEntryCount %d without entries", out.FailedEntryCount)}}
		}
		return fmt.Errorf("put target of rule %s: %w", awsName, te)
	}
	return nil
}

// remove deletes the EventBridge rule awsName on bus: its targets, then
// the rule. A rule that is not there is removed already.
func (b *Backend) remove(ctx context.Context, busName, awsName string) error {
	bus := aws.String(busName)
	targets, err := b.listTargets(ctx, busName, awsName)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = aws.ToString(t.Id)
	}
	if len(ids) > 0 {
		out, err := b.client.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(awsName), EventBusName: bus, Ids: ids})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("remove targets of rule %s: %w", awsName, err)
		}
		if err == nil && out.FailedEntryCount > 0 {
			te := &targetsError{op: "RemoveTargets"}
			for _, e := range out.FailedEntries {
				te.entries = append(te.entries, entryError{aws.ToString(e.TargetId), aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)})
			}
			return fmt.Errorf("remove targets of rule %s: %w", awsName, te)
		}
	}
	_, err = b.client.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(awsName), EventBusName: bus})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete rule %s: %w", awsName, err)
	}
	return nil
}

// ruleDiffers says how the EventBridge rule got differs from what r wants,
// "" if it does not.
func (b *Backend) ruleDiffers(got types.Rule, r store.Rule) string {
	switch {
	case aws.ToString(got.ScheduleExpression) != r.Schedule:
		return fmt.Sprintf("schedule %q, want %q", aws.ToString(got.ScheduleExpression), r.Schedule)
	case got.State != ruleState(r):
		return fmt.Sprintf("state %s, want %s", got.State, ruleState(r))
	case aws.ToString(got.Description) != description(r):
		return "description differs"
	case aws.ToString(got.EventPattern) != "":
		return "it has an event pattern"
	}
	return ""
}

// targetDiffers says how the agent's target among got differs from want,
// "" if it does not. Other targets are left alone.
func targetDiffers(got []types.Target, want types.Target) string {
	for _, t := range got {
		if aws.ToString(t.Id) != TargetID {
			continue
		}
		switch {
		case aws.ToString(t.Arn) != aws.ToString(want.Arn):
			return "target calls " + aws.ToString(t.Arn)
		case aws.ToString(t.RoleArn) != aws.ToString(want.RoleArn):
			return "target role is " + aws.ToString(t.RoleArn)
		case t.InputTransformer == nil ||
			aws.ToString(t.InputTransformer.InputTemplate) != aws.ToString(want.InputTransformer.InputTemplate) ||
			!maps.Equal(t.InputTransformer.InputPathsMap, want.InputTransformer.InputPathsMap):
			return "target input differs"
		case t.Input != nil || t.InputPath != nil:
			return "target input differs"
		case t.RetryPolicy == nil ||
			aws.ToInt32(t.RetryPolicy.MaximumRetryAttempts) != aws.ToInt32(want.RetryPolicy.MaximumRetryAttempts) ||
			aws.ToInt32(t.RetryPolicy.MaximumEventAgeInSeconds) != aws.ToInt32(want.RetryPolicy.MaximumEventAgeInSeconds):
			return "target retry policy differs"
		case dlq(t) != dlq(want):
			return "target dead-letter queue differs"
		}
		return ""
	}
	return "target missing"
}

func dlq(t types.Target) string {
	if t.DeadLetterConfig == nil {
		return ""
	}
	return aws.ToString(t.DeadLetterConfig.Arn)
}

// listTargets lists the targets of the EventBridge rule awsName on bus.
func (b *Backend) listTargets(ctx context.Context, bus, awsName string) ([]types.Target, error) {
	var all []types.Target
	in := &eventbridge.ListTargetsByRuleInput{Rule: aws.String(awsName), EventBusName: aws.String(bus)}
	for {
		page, err := b.client.ListTargetsByRule(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list targets of rule %s: %w", awsName, err)
		}
		all = append(all, page.Targets...)
		if aws.ToString(page.NextToken) == "" {
			return all, nil
		}
		in.NextToken = page.NextToken
	}
}

// listRules lists the EventBridge rules under the prefix on bus, by name.
func (b *Backend) listRules(ctx context.Context, bus string) (map[string]types.Rule, error) {
	rules := make(map[string]types.Rule)
	in := &eventbridge.ListRulesInput{EventBusName: aws.String(bus), Limit: aws.Int32(100)}
	if b.cfg.RulePrefix != "" {
		in.NamePrefix = aws.String(b.cfg.RulePrefix)
	}
	for {
		page, err := b.client.ListRules(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list rules under prefix %q: %w", b.cfg.RulePrefix, err)
		}
		for _, r := range page.Rules {
			if r.ManagedBy != nil {
				continue // a rule an AWS service made for itself
			}
			rules[aws.ToString(r.Name)] = r
		}
		if aws.ToString(page.NextToken) == "" {
			return rules, nil
		}
		in.NextToken = page.NextToken
	}
}
