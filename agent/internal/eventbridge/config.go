package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// DefaultBus is the only event bus on which scheduled rules fire.
const DefaultBus = "default"

// Mode says how the backend keeps the stored rules in AWS.
type Mode string

// Modes of the backend, named as JOBBRIDGE_SCHEDULER names them.
const (
	// ModeRules keeps one scheduled EventBridge rule per stored rule, each
	// calling the API destination. Scheduled rules run in UTC only.
	ModeRules Mode = "eventbridge"
	// ModeScheduler keeps one EventBridge Scheduler schedule per stored
	// rule; each puts an event on EventBus, and one relay rule there calls
	// the API destination. Schedules have time zones, at(), start and end
	// dates and flexible windows.
	ModeScheduler Mode = "scheduler"
)

// What the scheduler backend's schedules put on the bus, and what the
// relay rule's pattern matches (with the schedule group in the detail).
const (
	EventSource     = "jobbridge.scheduler"
	EventDetailType = "jobbridge scheduled run"
)

// RelayRuleSuffix names the relay rule: RulePrefix + RelayRuleSuffix.
const RelayRuleSuffix = api.RelayRuleName

// DefaultScheduleGroup is the schedule group of an agent without a rule
// prefix.
const DefaultScheduleGroup = "jobbridge"

// WebhookPath is where the API destination sends deliveries.
const WebhookPath = "/webhook/run"

// TargetID is the id of the one target the agent puts on each rule.
const TargetID = "jobbridge"

// Tag keys the agent puts on the rules it creates. A rule under the prefix
// with both tags matching this agent's settings and no stored rule is an
// orphan.
const (
	TagManaged     = "jobbridge:managed"     // value: the rule prefix
	TagDestination = "jobbridge:destination" // value: the API destination's name
)

// Defaults of Settings.
const (
	// DefaultInvocationRate is the API destination's invocations per
	// second when none is set: AWS's own default.
	DefaultInvocationRate = 300
	// DefaultReconcileInterval is how often AWS is compared with the store
	// when no interval is set.
	DefaultReconcileInterval = 5 * time.Minute
)

// Settings are the EventBridge settings, named after the original
// module's and the agent's JOBBRIDGE_EB_* environment variables. The agent's
// configuration holds them as agent.EventBridgeConfig. The zero value of a
// field means its default.
type Settings struct {
	// APIKey is what EventBridge sends in AuthHeader (EB_API_KEY); it
	// also turns the agent's webhook on.
	APIKey string
	// AuthHeader carries the key (EB_AUTH_HEADER). Default
	// api.DefaultWebhookKeyHeader.
	AuthHeader string
	// TargetRoleARN is the role EventBridge assumes to invoke the
	// destination (EB_TARGET_ROLE_ARN).
	TargetRoleARN string
	// SchedulerRoleARN is the role EventBridge Scheduler assumes to put
	// the schedules' events on EventBus (EB_SCHEDULER_ROLE_ARN). Required
	// by the scheduler backend, unused by the rules backend.
	SchedulerRoleARN string
	ConnectionName   string // EB_CONNECTION_NAME
	DestinationName  string // EB_DESTINATION_NAME
	// TargetURL is the agent's public base URL (EB_TARGET_URL).
	TargetURL string
	// RulePrefix is the prefix of every rule this agent manages
	// (EB_RULE_PREFIX).
	RulePrefix string
	// EventBus is the bus of the rules (EB_EVENT_BUS). Default DefaultBus,
	// the only one on which scheduled rules fire. The scheduler backend
	// may use another bus: its schedules put events there and its relay
	// rule lives there.
	EventBus string
	// DLQARN is an optional SQS queue for deliveries EventBridge gives up
	// on (EB_DLQ_ARN).
	DLQARN string
	// InvocationRate is the API destination's invocations per second
	// (EB_INVOCATION_RATE). Default DefaultInvocationRate.
	InvocationRate int
	// ReconcileInterval is how often AWS is compared with the store
	// (EB_RECONCILE_INTERVAL). Default DefaultReconcileInterval.
	ReconcileInterval time.Duration
}

// Complete reports whether every setting the eventbridge (rules) backend
// needs is set (Validate says which are missing).
func (s Settings) Complete() bool {
	return s.APIKey != "" && s.TargetRoleARN != "" && s.ConnectionName != "" &&
		s.DestinationName != "" && s.TargetURL != ""
}

// withDefaults fills in the defaults of the zero fields.
func (s Settings) withDefaults() Settings {
	if s.AuthHeader == "" {
		s.AuthHeader = api.DefaultWebhookKeyHeader
	}
	if s.EventBus == "" {
		s.EventBus = DefaultBus
	}
	if s.InvocationRate == 0 {
		s.InvocationRate = DefaultInvocationRate
	}
	if s.ReconcileInterval <= 0 {
		s.ReconcileInterval = DefaultReconcileInterval
	}
	return s
}

// ScheduleGroup is the schedule group the scheduler backend keeps its
// schedules in: the rule prefix without the separators ('-', '_', '.') it
// ends in, or DefaultScheduleGroup when that leaves nothing. "jb-" gives
// "jb", "team.jobs_" gives "team.jobs", "" gives "jobbridge". Two agents
// whose prefixes give the same group are told apart by the group's tags:
// the second refuses to use it.
func (s Settings) ScheduleGroup() string {
	g := strings.TrimRight(s.RulePrefix, "-_.")
	if g == "" {
		return DefaultScheduleGroup
	}
	return g
}

// RelayRuleName is the name of the scheduler backend's relay rule, the one
// EventBridge rule that takes the schedules' events to the API destination.
func (s Settings) RelayRuleName() string { return s.RulePrefix + RelayRuleSuffix }

// Validate reports every setting the eventbridge (rules) backend finds
// missing or wrong, each named as its environment variable.
func (s Settings) Validate() error { return s.ValidateFor(ModeRules) }

// roleARN is an IAM role's ARN: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// busName is what EventBridge allows in an event bus's name.
var busName = regexp.MustCompile(`^[/.\-_A-Za-z0-9]{1,256}$`)

// ValidateFor reports every setting that is missing or wrong for the
// backend in mode m, each named as its environment variable.
func (s Settings) ValidateFor(m Mode) error {
	s = s.withDefaults()
	backend := "the eventbridge scheduler"
	if m == ModeScheduler {
		backend = "the scheduler backend"
	}
	var errs []error
	required := []struct{ v, env string }{
		{s.APIKey, "JOBBRIDGE_EB_API_KEY"},
		{s.TargetRoleARN, "JOBBRIDGE_EB_TARGET_ROLE_ARN"},
		{s.ConnectionName, "JOBBRIDGE_EB_CONNECTION_NAME"},
		{s.DestinationName, "JOBBRIDGE_EB_DESTINATION_NAME"},
		{s.TargetURL, "JOBBRIDGE_EB_TARGET_URL"},
	}
	if m == ModeScheduler {
		required = append(required, struct{ v, env string }{s.SchedulerRoleARN, "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN"})
	}
	for _, req := range required {
		if req.v == "" {
			errs = append(errs, fmt.Errorf("%s is required by %s", req.env, backend))
		}
	}
	switch {
	case m == ModeRules && s.EventBus != DefaultBus:
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_EVENT_BUS: %q: scheduled rules only fire on the default event bus; leave it unset or set it to default (the scheduler backend may use another bus)", s.EventBus))
	case m == ModeScheduler && !strings.HasPrefix(s.EventBus, "arn:") && !busName.MatchString(s.EventBus):
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_EVENT_BUS: %q is not an event bus name (at most 256 letters, digits and . - _ /) or ARN", s.EventBus))
	}
	if s.TargetURL != "" {
		if u, err := url.Parse(s.TargetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_TARGET_URL: %q is not an absolute http(s) URL (EventBridge needs the agent's public https:// address)", s.TargetURL))
		} else if u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_TARGET_URL: %q: give the base URL without query or fragment; the agent adds %s", s.TargetURL, WebhookPath))
		}
	}
	if s.TargetRoleARN != "" && !strings.HasPrefix(s.TargetRoleARN, "arn:") {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_TARGET_ROLE_ARN: %q is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)", s.TargetRoleARN))
	}
	if s.SchedulerRoleARN != "" && !roleARN.MatchString(s.SchedulerRoleARN) {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_SCHEDULER_ROLE_ARN: %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", s.SchedulerRoleARN))
	}
	if s.DLQARN != "" && !strings.HasPrefix(s.DLQARN, "arn:") {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_DLQ_ARN: %q is not an ARN (arn:aws:sqs:REGION:ACCOUNT:QUEUE)", s.DLQARN))
	}
	if !api.IsRuleNameText(s.RulePrefix) || len(s.RulePrefix) > 48 {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_RULE_PREFIX: %q: use at most 48 of the characters EventBridge allows in rule names (%s)", s.RulePrefix, api.RuleNameHint()))
	} else if m == ModeScheduler && s.ScheduleGroup() == "default" {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_RULE_PREFIX: %q would make the schedule group \"default\", EventBridge Scheduler's own; choose another prefix", s.RulePrefix))
	}
	if s.InvocationRate < 1 {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_INVOCATION_RATE: %d: want at least 1 invocation per second", s.InvocationRate))
	}
	// What AWS would refuse at CreateConnection or CreateApiDestination
	// is refused here, at start: refused there, it would be retried
	// forever with every rule pending.
	for _, n := range []struct{ v, env, what string }{
		{s.ConnectionName, "JOBBRIDGE_EB_CONNECTION_NAME", "connection"},
		{s.DestinationName, "JOBBRIDGE_EB_DESTINATION_NAME", "API destination"},
	} {
		if n.v != "" && (len(n.v) > maxResourceName || !resourceName.MatchString(n.v)) {
			errs = append(errs, fmt.Errorf("%s: %q: use at most %d of the characters EventBridge allows in %s names (letters, digits, '.', '-' and '_')",
				n.env, n.v, maxResourceName, n.what))
		}
	}
	switch {
	case !isHeaderName(s.AuthHeader) || len(s.AuthHeader) > maxAuthParameter:
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_AUTH_HEADER: %q is not an HTTP header name: use at most %d letters, digits and %s",
			s.AuthHeader, maxAuthParameter, headerPunctuation))
	case reservedHeaders[http.CanonicalHeaderKey(s.AuthHeader)]:
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_AUTH_HEADER: %q is a header HTTP or EventBridge sets itself, so the key would not arrive in it: choose one of your own, such as %s",
			s.AuthHeader, api.DefaultWebhookKeyHeader))
	}
	if s.APIKey != "" {
		if problem := apiKeyProblem(s.APIKey); problem != "" {
			// The key is a secret: the message says what is wrong, never the value.
			errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_API_KEY: %s (the value is not shown)", problem))
		}
	}
	return errors.Join(errs...)
}

// EventBridge's limits on a connection's and an API destination's names
// and on the API key and its header (CreateConnection and
// CreateApiDestination in the EventBridge API reference).
const (
	maxResourceName  = 64
	maxAuthParameter = 512
)

var resourceName = regexp.MustCompile(`^[.\-_A-Za-z0-9]+$`)

// headerPunctuation are the characters other than letters and digits an
// HTTP header name may hold (RFC 7230's tchar).
const headerPunctuation = "!#$%&'*+-.^_`|~"

// reservedHeaders are the headers HTTP gives a meaning of its own (framing,
// hop-by-hop) or EventBridge fills in itself (User-Agent): a key put there
// is replaced or dropped on the way, and every delivery would be a 401.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Upgrade": true,
	"Te": true, "Trailer": true, "Expect": true, "Proxy-Authorization": true, "User-Agent": true,
}

// isHeaderName reports whether h is an HTTP header name: an RFC 7230
// token. EventBridge would take more (spaces, most punctuation), but the
// agent's webhook must find the key in a header a client can send.
func isHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range []byte(h) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(headerPunctuation, c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// apiKeyProblem says what EventBridge would refuse in the API key, "" if
// nothing. Its rule (the API reference's pattern
// ^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*[ \t]*$, 1 to 512
// characters) comes down to: no control character but tab, no ':', and
// something besides tabs. The words never quote the key.
func apiKeyProblem(key string) string {
	if n := utf8.RuneCountInString(key); n > maxAuthParameter {
		return fmt.Sprintf("is %d characters long; EventBridge takes at most %d", n, maxAuthParameter)
	}
	onlyTabs := true
	for _, c := range key {
		switch {
		case c == ':':
			return "contains ':', which EventBridge refuses in an API key"
		case c == '\t':
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("contains a control character (%U), which EventBridge refuses in an API key; a line break read from a file is a common cause", c)
		default:
			onlyTabs = false
		}
	}
	if onlyTabs {
		return "holds nothing but tabs, which EventBridge refuses as an API key"
	}
	return ""
}

// Endpoint is the URL the API destination calls: TargetURL + /webhook/run.
func (s Settings) Endpoint() string {
	return strings.TrimRight(s.TargetURL, "/") + WebhookPath
}

// Store is what the backend reads and writes in the agent's store.
type Store interface {
	RuleGet(ctx context.Context, name string) (store.Rule, error)
	RuleList(ctx context.Context) ([]store.Rule, error)
	RuleSetSync(ctx context.Context, name string, s store.Sync) error
}

// Config configures a Backend.
type Config struct {
	Settings
	// Mode is how the rules are kept in AWS. Default ModeRules.
	Mode Mode
	// Unused says the agent keeps nothing in AWS now (its scheduler is
	// local or off): Orphans and Prune then count everything it made there,
	// the EventBridge rules of stored rules too. Only for those two.
	Unused bool
	// AWS is the SDK configuration: region, credentials, endpoint (the
	// standard chain: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_EVENTBRIDGE...).
	AWS   aws.Config
	Store Store
	// StatePath is the JSON file that keeps the hash of the API key last
	// applied and the deletes not yet applied. Required.
	StatePath string
	Logger    *slog.Logger // default: discard
	// RetryBase is the first wait after a failure that may pass; each
	// further failure doubles it. Default 2s.
	RetryBase time.Duration
	// ThrottleBase replaces RetryBase when AWS throttles. Default 10s.
	ThrottleBase time.Duration
	// RetryMax caps a wait. Default 5 minutes.
	RetryMax time.Duration
	// MaxAttempts is how often a rule is tried before its sync state becomes
	// error (the next reconcile tries again). Default 8.
	MaxAttempts int
	// RetryPolicy of the rule's target: how EventBridge retries a delivery
	// the agent did not take (in scheduler mode also of each schedule's
	// target: how Scheduler retries putting the event). Defaults: 24
	// attempts within 1 hour (a run delivered later than that is not
	// worth starting).
	DeliveryMaxAttempts int32
	DeliveryMaxAge      time.Duration
	// Leader, when set, says whether this agent leads: of several agents on
	// one PostgreSQL only the leader writes to AWS and reconciles, so a
	// change is applied once. The others record changes as pending and
	// wait; the one that takes over sets up and reconciles at once.
	Leader func(ctx context.Context) (bool, error)
	// LeaderPoll is how often a follower asks whether it leads now.
	// Default 15s.
	LeaderPoll time.Duration
}

func (c Config) withDefaults() Config {
	c.Settings = c.Settings.withDefaults()
	if c.Mode == "" {
		c.Mode = ModeRules
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 2 * time.Second
	}
	if c.ThrottleBase <= 0 {
		c.ThrottleBase = 10 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.DeliveryMaxAttempts <= 0 {
		c.DeliveryMaxAttempts = 24
	}
	if c.DeliveryMaxAge <= 0 {
		c.DeliveryMaxAge = time.Hour
	}
	if c.LeaderPoll <= 0 {
		c.LeaderPoll = 15 * time.Second
	}
	return c
}
