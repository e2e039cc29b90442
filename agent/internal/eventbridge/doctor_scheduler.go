package eventbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// The scheduler backend's doctor checks: the bus, the schedule group and
// the relay rule. Like the others they only read.

const startScheduler = "start the agent with JOBBRIDGE_SCHEDULER=scheduler: it "

func (d *doctor) bus(ctx context.Context) {
	const name = "event bus"
	if d.noAWS != "" {
		d.skip(name, d.noAWS)
		return
	}
	out, err := eventbridge.NewFromConfig(d.aws).DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(d.s.EventBus)})
	switch {
	case isNotFound(err):
		d.add(name, false, d.s.EventBus+" does not exist", "create the event bus, or set JOBBRIDGE_EB_EVENT_BUS to an existing one (default is always there)")
	case err != nil:
		d.add(name, false, awsMessage(err), "allow events:DescribeEventBus on it (`agent aws policy --scheduler scheduler`)")
	default:
		d.add(name, true, aws.ToString(out.Arn), "")
	}
}

func (d *doctor) group(ctx context.Context) {
	const name = "schedule group"
	if d.noAWS != "" {
		d.skip(name, d.noAWS)
		return
	}
	group := d.s.ScheduleGroup()
	client := scheduler.NewFromConfig(d.aws)
	out, err := client.GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(group)})
	switch {
	case isNotFound(err):
		d.add(name, false, group+" does not exist", startScheduler+"creates the group (its policy must allow it: `agent aws policy --scheduler scheduler`)")
		return
	case err != nil:
		d.add(name, false, awsMessage(err), "allow scheduler:GetScheduleGroup on it (`agent aws policy --scheduler scheduler`)")
		return
	case out.State != schedtypes.ScheduleGroupStateActive:
		d.add(name, false, fmt.Sprintf("%s is %s, want ACTIVE", group, out.State), "wait until it is deleted; the agent then makes it again")
		return
	}
	_, err = groupOurs(ctx, client, d.s, group, aws.ToString(out.Arn))
	switch {
	case errors.Is(err, errNotOurs):
		d.add(name, false, err.Error(), "set JOBBRIDGE_EB_RULE_PREFIX to a prefix whose group is free or this agent's")
	case err != nil:
		d.add(name, false, awsMessage(err), "allow scheduler:ListTagsForResource on it (`agent aws policy --scheduler scheduler`)")
	default:
		d.add(name, true, group+" is this agent's (tagged "+TagManaged+"="+d.s.RulePrefix+")", "")
	}
}

// relay checks the relay rule: this agent's events only, enabled, and one
// target calling the API destination (destARN, when the destination check
// read it) with the agent's input transformer.
func (d *doctor) relay(ctx context.Context, destARN string) {
	const name = "relay rule"
	if d.noAWS != "" {
		d.skip(name, d.noAWS)
		return
	}
	rule, bus := d.s.RelayRuleName(), d.s.EventBus
	client := eventbridge.NewFromConfig(d.aws)
	restart := "restart the agent in scheduler mode: it puts the relay rule back"
	out, err := client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)})
	switch {
	case isNotFound(err):
		d.add(name, false, rule+" does not exist on bus "+bus, startScheduler+"creates it")
		return
	case err != nil:
		d.add(name, false, awsMessage(err), "allow events:DescribeRule on it (`agent aws policy --scheduler scheduler`)")
		return
	}
	switch {
	case !samePattern(aws.ToString(out.EventPattern), d.s.relayPattern()):
		d.add(name, false, fmt.Sprintf("%s matches %s, want %s", rule, aws.ToString(out.EventPattern), d.s.relayPattern()), restart)
		return
	case out.State != types.RuleStateEnabled:
		d.add(name, false, fmt.Sprintf("%s is %s, want ENABLED", rule, out.State), restart)
		return
	}
	targets, err := client.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(rule), EventBusName: aws.String(bus)})
	if err != nil {
		d.add(name, false, awsMessage(err), "allow events:ListTargetsByRule on it (`agent aws policy --scheduler scheduler`)")
		return
	}
	for _, t := range targets.Targets {
		if aws.ToString(t.Id) != TargetID {
			continue
		}
		switch {
		case destARN != "" && aws.ToString(t.Arn) != destARN:
			d.add(name, false, fmt.Sprintf("%s calls %s, not the API destination %s", rule, aws.ToString(t.Arn), d.s.DestinationName), restart)
		case t.InputTransformer == nil || aws.ToString(t.InputTransformer.InputTemplate) != RelayInputTemplate:
			d.add(name, false, rule+"'s target does not send the body the webhook takes", restart)
		default:
			d.add(name, true, fmt.Sprintf("%s on bus %s takes group %s's events to %s", rule, bus, d.s.ScheduleGroup(), d.s.DestinationName), "")
		}
		return
	}
	d.add(name, false, rule+" has no target "+TargetID, restart)
}
