package eventbridge

import (
	"strings"
)

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// Policies are the IAM documents an EventBridge setup needs.
type Policies struct {
	// TargetRoleTrust is the trust policy of the target role
	// (EB_TARGET_ROLE_ARN): EventBridge may assume it.
	TargetRoleTrust PolicyDocument `json:"targetRoleTrust"`
	// TargetRolePermissions lets the target role invoke the API destination.
	TargetRolePermissions PolicyDocument `json:"targetRolePermissions"`
	// Agent is the least-privilege policy of the identity the agent runs as.
	Agent PolicyDocument `json:"agent"`
	// DLQ is the access policy of the dead-letter queue, when one is set:
	// EventBridge may send the deliveries it gives up on.
	DLQ *PolicyDocument `json:"deadLetterQueue,omitempty"`
	// SchedulerRoleTrust and SchedulerRolePermissions, in scheduler mode,
	// are the policies of the role EventBridge Scheduler assumes
	// (EB_SCHEDULER_ROLE_ARN): Scheduler, for this account only, may
	// assume it, and it may only put events on the bus (and send what it
	// cannot deliver to the dead-letter queue).
	SchedulerRoleTrust       *PolicyDocument `json:"schedulerRoleTrust,omitempty"`
	SchedulerRolePermissions *PolicyDocument `json:"schedulerRolePermissions,omitempty"`
}

// arnParts returns the partition and account of an ARN, "" for those it
// lacks.
func arnParts(arn string) (partition, account string) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 || f[0] != "arn" {
		return "", ""
	}
	return f[1], f[4]
}

// BuildPolicies returns the IAM documents of the eventbridge (rules)
// backend for s in region (BuildPoliciesFor ModeRules).
func BuildPolicies(s Settings, region string) Policies { return BuildPoliciesFor(ModeRules, s, region) }

// BuildPoliciesFor returns the IAM documents the backend in mode m needs
// for s in region. The account and partition are taken from the target
// role's ARN (or the scheduler role's); a region or account that is not
// known is a wildcard.
func BuildPoliciesFor(m Mode, s Settings, region string) Policies {
	s = s.withDefaults()
	partition, account := arnParts(s.TargetRoleARN)
	if partition == "" {
		partition, account = arnParts(s.SchedulerRoleARN)
	}
	if partition == "" {
		partition = "aws"
	}
	if account == "" {
		account = "*"
	}
	if region == "" {
		region = "*"
	}
	events := func(resource string) string {
		return "arn:" + partition + ":events:" + region + ":" + account + ":" + resource
	}
	or := func(v, placeholder string) string {
		if v == "" {
			return placeholder
		}
		return v
	}
	role := or(s.TargetRoleARN, "arn:"+partition+":iam::"+account+":role/TARGET_ROLE")
	// IAM's reference names these resources kind/NAME, which is what a
	// create is authorized on; the ARNs AWS hands out add a generated id,
	// kind/NAME/ID. Both are listed so neither a first create nor a later
	// call is denied.
	named := func(kind, name string) []string {
		arn := events(kind + "/" + name)
		return []string{arn, arn + "/*"}
	}
	connection := named("connection", or(s.ConnectionName, "CONNECTION_NAME"))
	destination := named("api-destination", or(s.DestinationName, "DESTINATION_NAME"))
	rules := events("rule/" + s.RulePrefix + "*")

	p := Policies{
		TargetRoleTrust: PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
			Sid:       "EventBridgeAssumesThisRole",
			Effect:    "Allow",
			Principal: map[string]string{"Service": "events.amazonaws.com"},
			Action:    []string{"sts:AssumeRole"},
		}}},
		TargetRolePermissions: PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
			Sid:      "InvokeTheAgentsWebhook",
			Effect:   "Allow",
			Action:   []string{"events:InvokeApiDestination"},
			Resource: destination,
		}}},
		Agent: PolicyDocument{Version: "2012-10-17", Statement: []Statement{
			{
				Sid:    "ManageRulesUnderThePrefix",
				Effect: "Allow",
				Action: []string{
					"events:PutRule", "events:DeleteRule", "events:DescribeRule",
					"events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
					"events:TagResource", "events:ListTagsForResource",
				},
				Resource: []string{rules},
			},
			{
				Sid:      "ListRules",
				Effect:   "Allow",
				Action:   []string{"events:ListRules"},
				Resource: []string{"*"},
			},
			{
				Sid:      "KeepTheConnection",
				Effect:   "Allow",
				Action:   []string{"events:DescribeConnection", "events:CreateConnection", "events:UpdateConnection"},
				Resource: connection,
			},
			{
				Sid:    "KeepTheConnectionsSecret",
				Effect: "Allow",
				Action: []string{
					"secretsmanager:CreateSecret", "secretsmanager:UpdateSecret", "secretsmanager:DescribeSecret",
					"secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
				},
				Resource: []string{"arn:" + partition + ":secretsmanager:" + region + ":" + account + ":secret:events!connection/" + or(s.ConnectionName, "CONNECTION_NAME") + "/*"},
			},
			{
				Sid:      "KeepTheApiDestination",
				Effect:   "Allow",
				Action:   []string{"events:DescribeApiDestination", "events:CreateApiDestination", "events:UpdateApiDestination"},
				Resource: destination,
			},
			{
				Sid:       "PassTheTargetRoleToEventBridge",
				Effect:    "Allow",
				Action:    []string{"iam:PassRole"},
				Resource:  []string{role},
				Condition: map[string]map[string]string{"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
			},
			{
				Sid:      "DoctorReadsTheTargetRole",
				Effect:   "Allow",
				Action:   []string{"iam:GetRole"},
				Resource: []string{role},
			},
			{
				Sid:       "FirstConnectionInTheAccount",
				Effect:    "Allow",
				Action:    []string{"iam:CreateServiceLinkedRole"},
				Resource:  []string{"arn:" + partition + ":iam::" + account + ":role/aws-service-role/apidestinations.events.amazonaws.com/AWSServiceRoleForAmazonEventBridgeApiDestinations"},
				Condition: map[string]map[string]string{"StringEquals": {"iam:AWSServiceName": "apidestinations.events.amazonaws.com"}},
			},
		}},
	}
	if account != "*" {
		// Only EventBridge acting for this account may assume the role.
		p.TargetRoleTrust.Statement[0].Condition = map[string]map[string]string{"StringEquals": {"aws:SourceAccount": account}}
	}
	if m == ModeScheduler {
		rules = addScheduler(&p, s, partition, region, account, or)
	}
	if s.DLQARN != "" {
		p.DLQ = &PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
			Sid:       "EventBridgeSendsUndeliveredRuns",
			Effect:    "Allow",
			Principal: map[string]string{"Service": "events.amazonaws.com"},
			Action:    []string{"sqs:SendMessage"},
			Resource:  []string{s.DLQARN},
			Condition: map[string]map[string]string{"ArnLike": {"aws:SourceArn": rules}},
		}}}
	}
	return p
}

// addScheduler adds what the scheduler backend needs to p: the role
// Scheduler assumes, and to the agent's policy the schedules in its group,
// the group, passing that role to Scheduler, the bus and the relay rule.
// It returns the ARN pattern of the rules that may send to the
// dead-letter queue: the relay rule's.
func addScheduler(p *Policies, s Settings, partition, region, account string, or func(v, placeholder string) string) string {
	arn := func(service, resource string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + resource
	}
	group := s.ScheduleGroup()
	bus := s.EventBus
	if !strings.HasPrefix(bus, "arn:") {
		bus = arn("events", "event-bus/"+s.EventBus)
	}
	role := or(s.SchedulerRoleARN, "arn:"+partition+":iam::"+account+":role/SCHEDULER_ROLE")
	relay := arn("events", "rule/"+s.RelayRuleName())
	if s.EventBus != DefaultBus {
		relay = arn("events", "rule/"+s.EventBus+"/"+s.RelayRuleName())
		if strings.HasPrefix(s.EventBus, "arn:") {
			relay = strings.Replace(s.EventBus, ":event-bus/", ":rule/", 1) + "/" + s.RelayRuleName()
		}
	}

	trust := Statement{
		Sid:       "SchedulerAssumesThisRole",
		Effect:    "Allow",
		Principal: map[string]string{"Service": "scheduler.amazonaws.com"},
		Action:    []string{"sts:AssumeRole"},
	}
	if account != "*" {
		// Only Scheduler acting for this account may assume the role.
		trust.Condition = map[string]map[string]string{"StringEquals": {"aws:SourceAccount": account}}
	}
	p.SchedulerRoleTrust = &PolicyDocument{Version: "2012-10-17", Statement: []Statement{trust}}
	perms := &PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Sid:      "PutTheSchedulesEventsOnTheBus",
		Effect:   "Allow",
		Action:   []string{"events:PutEvents"},
		Resource: []string{bus},
	}}}
	if s.DLQARN != "" {
		perms.Statement = append(perms.Statement, Statement{
			Sid:      "SendUndeliveredEventsToTheDeadLetterQueue",
			Effect:   "Allow",
			Action:   []string{"sqs:SendMessage"},
			Resource: []string{s.DLQARN},
		})
	}
	p.SchedulerRolePermissions = perms

	p.Agent.Statement = append(p.Agent.Statement,
		Statement{
			Sid:      "ManageSchedulesInTheGroup",
			Effect:   "Allow",
			Action:   []string{"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"},
			Resource: []string{arn("scheduler", "schedule/"+group+"/*")},
		},
		Statement{
			// ListSchedules takes no resource; the agent lists its group only.
			Sid:      "ListSchedules",
			Effect:   "Allow",
			Action:   []string{"scheduler:ListSchedules"},
			Resource: []string{"*"},
		},
		Statement{
			Sid:    "KeepTheScheduleGroup",
			Effect: "Allow",
			Action: []string{
				"scheduler:CreateScheduleGroup", "scheduler:GetScheduleGroup",
				"scheduler:TagResource", "scheduler:ListTagsForResource",
			},
			Resource: []string{arn("scheduler", "schedule-group/"+group)},
		},
		Statement{
			Sid:       "PassTheSchedulerRoleToScheduler",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  []string{role},
			Condition: map[string]map[string]string{"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
		},
		Statement{
			Sid:      "DoctorReadsTheSchedulerRole",
			Effect:   "Allow",
			Action:   []string{"iam:GetRole"},
			Resource: []string{role},
		},
		Statement{
			Sid:      "FindTheBus",
			Effect:   "Allow",
			Action:   []string{"events:DescribeEventBus"},
			Resource: []string{bus},
		},
	)
	if s.EventBus != DefaultBus {
		// The relay rule lives on the bus; the rules on the default bus
		// (ManageRulesUnderThePrefix) are what the eventbridge backend left.
		p.Agent.Statement = append(p.Agent.Statement, Statement{
			Sid:    "KeepTheRelayRule",
			Effect: "Allow",
			Action: []string{
				"events:PutRule", "events:DescribeRule", "events:PutTargets", "events:ListTargetsByRule",
				"events:TagResource", "events:ListTagsForResource",
			},
			Resource: []string{relay},
		})
	}
	return relay
}
