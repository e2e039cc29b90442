package eventbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CheckStatus is the outcome of one doctor check.
type CheckStatus string

// Check outcomes.
const (
	CheckPass CheckStatus = "pass"
	CheckFail CheckStatus = "fail"
	CheckSkip CheckStatus = "skip" // could not be checked because an earlier check failed
)

// Check is one thing the doctor looked at.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"` // what to do, when it failed
}

// DoctorConfig is what Doctor checks.
type DoctorConfig struct {
	Settings
	// Mode is the backend whose setup is checked. Default ModeRules.
	Mode Mode
	AWS  aws.Config
	// HTTPClient calls the agent's public URL. Default: 10s timeout.
	HTTPClient *http.Client
}

// Doctor checks that the EventBridge setup can work, one thing at a time:
// the settings, that the public URL is HTTPS and answers, the AWS
// credentials, the connection, the API destination and the target role; in
// scheduler mode also the role Scheduler assumes, the bus, the schedule
// group and the relay rule. It only reads.
func Doctor(ctx context.Context, cfg DoctorConfig) []Check {
	s := cfg.Settings.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	mode := cfg.Mode
	if mode == "" {
		mode = ModeRules
	}
	d := &doctor{s: s, mode: mode, aws: cfg.AWS, hc: hc}
	d.settings()
	d.https()
	d.reachable(ctx)
	d.region()
	d.credentials(ctx)
	connARN := d.connection(ctx)
	destARN := d.destination(ctx, connARN)
	d.targetRole(ctx)
	if mode == ModeScheduler {
		d.schedulerRole(ctx)
		d.bus(ctx)
		d.group(ctx)
		d.relay(ctx, destARN)
	}
	return d.checks
}

type doctor struct {
	s      Settings
	mode   Mode
	aws    aws.Config
	hc     *http.Client
	checks []Check
	noAWS  string // why AWS cannot be asked, "" if it can
}

func (d *doctor) add(name string, ok bool, detail, fix string) {
	st := CheckPass
	if !ok {
		st = CheckFail
	} else {
		fix = ""
	}
	d.checks = append(d.checks, Check{Name: name, Status: st, Detail: detail, Fix: fix})
}

func (d *doctor) skip(name, why string) {
	d.checks = append(d.checks, Check{Name: name, Status: CheckSkip, Detail: why})
}

func (d *doctor) settings() {
	if err := d.s.ValidateFor(d.mode); err != nil {
		d.add("settings", false, strings.ReplaceAll(err.Error(), "\n", "; "),
			"set the JOBBRIDGE_EB_* variables named (or their --eb-* flags); `agent --help` lists them")
		return
	}
	detail := fmt.Sprintf("connection %s, destination %s, rule prefix %q, bus %s", d.s.ConnectionName, d.s.DestinationName, d.s.RulePrefix, d.s.EventBus)
	if d.mode == ModeScheduler {
		detail += fmt.Sprintf(", schedule group %s, relay rule %s", d.s.ScheduleGroup(), d.s.RelayRuleName())
	}
	d.add("settings", true, detail, "")
}

func (d *doctor) https() {
	const name = "public URL is HTTPS"
	u, err := url.Parse(d.s.TargetURL)
	if d.s.TargetURL == "" || err != nil {
		d.skip(name, "JOBBRIDGE_EB_TARGET_URL is not a URL")
		return
	}
	d.add(name, u.Scheme == "https", d.s.Endpoint(),
		"EventBridge API destinations call only https:// endpoints: serve the agent with JOBBRIDGE_TLS_CERT and JOBBRIDGE_TLS_KEY or behind a TLS proxy or tunnel, and set JOBBRIDGE_EB_TARGET_URL to that https:// address")
}

// reachable asks the agent's health endpoint through the public URL, as
// EventBridge would reach the webhook.
func (d *doctor) reachable(ctx context.Context) {
	const name = "public URL answers"
	u, err := url.Parse(d.s.TargetURL)
	if d.s.TargetURL == "" || err != nil || u.Host == "" {
		d.skip(name, "JOBBRIDGE_EB_TARGET_URL is not a URL")
		return
	}
	health := strings.TrimRight(d.s.TargetURL, "/") + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
	if err != nil {
		d.add(name, false, err.Error(), "fix JOBBRIDGE_EB_TARGET_URL")
		return
	}
	fix := "EventBridge cannot reach the agent either: check that the agent runs, and the DNS name, tunnel or proxy behind JOBBRIDGE_EB_TARGET_URL"
	resp, err := d.hc.Do(req)
	if err != nil {
		d.add(name, false, "GET "+health+": "+err.Error(), fix)
		return
	}
	resp.Body.Close()
	d.add(name, resp.StatusCode == http.StatusOK, fmt.Sprintf("GET %s: %s", health, resp.Status), fix)
}

func (d *doctor) region() {
	if d.aws.Region == "" {
		d.noAWS = "no AWS region"
		d.add("AWS region", false, "none configured", "set AWS_REGION (or a region in the AWS profile)")
		return
	}
	d.add("AWS region", true, d.aws.Region, "")
}

func (d *doctor) credentials(ctx context.Context) {
	const name = "AWS credentials"
	if d.noAWS != "" {
		d.skip(name, d.noAWS)
		return
	}
	out, err := sts.NewFromConfig(d.aws).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		d.noAWS = "no working AWS credentials"
		d.add(name, false, awsMessage(err), "give the agent credentials through the SDK's standard chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an instance or task role")
		return
	}
	d.add(name, true, fmt.Sprintf("account %s as %s", aws.ToString(out.Account), aws.ToString(out.Arn)), "")
}

func (d *doctor) connection(ctx context.Context) string {
	const name = "connection"
	switch {
	case d.noAWS != "":
		d.skip(name, d.noAWS)
		return ""
	case d.s.ConnectionName == "":
		d.skip(name, "JOBBRIDGE_EB_CONNECTION_NAME is not set")
		return ""
	}
	out, err := eventbridge.NewFromConfig(d.aws).DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String(d.s.ConnectionName)})
	if isNotFound(err) {
		d.add(name, false, d.s.ConnectionName+" does not exist",
			"start the agent with JOBBRIDGE_SCHEDULER="+string(d.mode)+": it creates the connection (its policy must allow it: `agent aws policy`)")
		return ""
	}
	if err != nil {
		d.add(name, false, awsMessage(err), "allow events:DescribeConnection on it (`agent aws policy`)")
		return ""
	}
	header := ""
	if out.AuthParameters != nil && out.AuthParameters.ApiKeyAuthParameters != nil {
		header = aws.ToString(out.AuthParameters.ApiKeyAuthParameters.ApiKeyName)
	}
	detail := fmt.Sprintf("%s: %s, %s in header %s", d.s.ConnectionName, out.ConnectionState, out.AuthorizationType, header)
	restart := "restart the agent in " + string(d.mode) + " mode: it sets the connection's key and header"
	switch {
	case out.AuthorizationType != types.ConnectionAuthorizationTypeApiKey || header != d.s.AuthHeader:
		d.add(name, false, detail+", want API_KEY in header "+d.s.AuthHeader, restart)
	case out.ConnectionState != types.ConnectionStateAuthorized:
		reason := aws.ToString(out.StateReason)
		if reason != "" {
			detail += " (" + reason + ")"
		}
		d.add(name, false, detail+", want AUTHORIZED", "if it is still authorizing, run the doctor again in a minute; otherwise "+restart)
	default:
		d.add(name, true, detail, "")
	}
	return aws.ToString(out.ConnectionArn)
}

// destination checks the API destination and returns its ARN, "" if it
// could not be read.
func (d *doctor) destination(ctx context.Context, connARN string) string {
	const name = "API destination"
	switch {
	case d.noAWS != "":
		d.skip(name, d.noAWS)
		return ""
	case d.s.DestinationName == "":
		d.skip(name, "JOBBRIDGE_EB_DESTINATION_NAME is not set")
		return ""
	}
	out, err := eventbridge.NewFromConfig(d.aws).DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String(d.s.DestinationName)})
	if isNotFound(err) {
		d.add(name, false, d.s.DestinationName+" does not exist",
			"start the agent with JOBBRIDGE_SCHEDULER="+string(d.mode)+": it creates the API destination (its policy must allow it: `agent aws policy`)")
		return ""
	}
	if err != nil {
		d.add(name, false, awsMessage(err), "allow events:DescribeApiDestination on it (`agent aws policy`)")
		return ""
	}
	endpoint := aws.ToString(out.InvocationEndpoint)
	detail := fmt.Sprintf("%s: %s %s, %s", d.s.DestinationName, out.HttpMethod, endpoint, out.ApiDestinationState)
	restart := "restart the agent in " + string(d.mode) + " mode: it updates the API destination in place"
	switch {
	case endpoint != d.s.Endpoint():
		d.add(name, false, detail+", want "+d.s.Endpoint(), restart)
	case out.HttpMethod != types.ApiDestinationHttpMethodPost:
		d.add(name, false, detail+", want POST", restart)
	case connARN != "" && aws.ToString(out.ConnectionArn) != connARN:
		d.add(name, false, detail+", but it uses another connection than "+d.s.ConnectionName, restart)
	case out.ApiDestinationState != types.ApiDestinationStateActive:
		d.add(name, false, detail+", want ACTIVE", "check the API destination in the EventBridge console")
	default:
		d.add(name, true, detail, "")
	}
	return aws.ToString(out.ApiDestinationArn)
}

func (d *doctor) targetRole(ctx context.Context) {
	d.role(ctx, "target role", "JOBBRIDGE_EB_TARGET_ROLE_ARN", d.s.TargetRoleARN, "events.amazonaws.com", "EventBridge", "targetRoleTrust")
}

func (d *doctor) schedulerRole(ctx context.Context) {
	d.role(ctx, "scheduler role", "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN", d.s.SchedulerRoleARN, "scheduler.amazonaws.com", "EventBridge Scheduler", "schedulerRoleTrust")
}

// role checks that the role arn (the setting env) exists and that service
// may assume it.
func (d *doctor) role(ctx context.Context, name, env, arn, service, who, trustDoc string) {
	switch {
	case d.noAWS != "":
		d.skip(name, d.noAWS)
		return
	case arn == "":
		d.skip(name, env+" is not set")
		return
	}
	_, res, _ := strings.Cut(arn, ":role/")
	roleName := res[strings.LastIndexByte(res, '/')+1:]
	if roleName == "" {
		d.add(name, false, arn+" is not a role ARN", "set "+env+" to arn:aws:iam::ACCOUNT:role/NAME")
		return
	}
	create := "create the role with the trust and permission policies of `agent aws policy`, and set " + env + " to its ARN"
	out, err := iam.NewFromConfig(d.aws).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		if strings.Contains(awsMessage(err), "NoSuchEntity") {
			d.add(name, false, roleName+" does not exist", create)
			return
		}
		d.add(name, false, awsMessage(err), "allow iam:GetRole on the role (`agent aws policy`), or "+create)
		return
	}
	doc, err := url.PathUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		doc = aws.ToString(out.Role.AssumeRolePolicyDocument)
	}
	if !trustsService(doc, service) {
		d.add(name, false, fmt.Sprintf("%s exists but %s (%s) may not assume it", roleName, who, service),
			"set its trust policy to the "+trustDoc+" document of `agent aws policy`")
		return
	}
	d.add(name, true, roleName+" exists and trusts "+service, "")
}

// trustsEventBridge reports whether a trust policy lets events.amazonaws.com
// assume the role.
func trustsEventBridge(doc string) bool { return trustsService(doc, "events.amazonaws.com") }

// trustsService reports whether a trust policy lets the AWS service (its
// principal, e.g. scheduler.amazonaws.com) assume the role.
func trustsService(doc, service string) bool {
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	type statement struct {
		Effect    string
		Principal json.RawMessage
		Action    json.RawMessage
	}
	var stmts []statement
	if json.Unmarshal(p.Statement, &stmts) != nil {
		var one statement
		if json.Unmarshal(p.Statement, &one) != nil {
			return false
		}
		stmts = []statement{one}
	}
	for _, st := range stmts {
		var principal struct{ Service json.RawMessage }
		if st.Effect != "Allow" || json.Unmarshal(st.Principal, &principal) != nil {
			continue
		}
		if oneOf(principal.Service, service) && oneOf(st.Action, "sts:AssumeRole") {
			return true
		}
	}
	return false
}

// oneOf reports whether raw, a JSON string or array of strings, holds want.
func oneOf(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want || one == "*" || one == "sts:*"
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, v := range many {
		if v == want || v == "*" || v == "sts:*" {
			return true
		}
	}
	return false
}
