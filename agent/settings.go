package agent

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/cluster"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/watch"
	"github.com/jobbridge/jobbridge/jobs/egress"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// Defaults of Config. Each is written once: the settings below fill them
// in and show them, and the part of the agent that needs one takes the
// same constant.
const (
	DefaultListen             = "127.0.0.1:8080"
	DefaultScheduler          = SchedulerAuto
	DefaultRetention          = 30 * 24 * time.Hour
	DefaultShutdownGrace      = 30 * time.Second
	DefaultMaxLogLines        = runner.DefaultMaxLogLines
	DefaultClusterHeartbeat   = cluster.DefaultHeartbeat
	DefaultClusterLease       = cluster.DefaultLease
	DefaultMaxConnsPerAddress = server.DefaultMaxConnsPerAddress
	DefaultMetricsRuleSeries  = server.DefaultRuleSeries
	DefaultNotifyFoldWindow   = notify.DefaultFoldWindow
	DefaultNotifySMTPTLS      = notify.DefaultSMTPTLS
	DefaultMissedGrace        = watch.DefaultGrace
)

// A Setting declares one field of Config: its command-line flag, its
// environment variable, its default and what it is for. The command line,
// --help, Validate (defaults and checks) and the README's configuration
// table are all made from Settings.
type Setting struct {
	Flag        string // the command-line flag, without its dashes
	Env         string // the environment variable
	Default     string // the default as people read it; "" when there is none
	Description string
	// Secret marks a credential (a token, key, password or a URL that
	// holds one): what shows settings must not show its value.
	Secret bool

	set          func(c *Config, value string) error
	get          func(c *Config) string // the field's value as Default shows it
	fill         func(c *Config)        // sets the default when the field is zero
	check        func(c *Config) error  // what is wrong with the field's value
	valueDefault bool                   // Default is a value, not words
}

// Set parses value, as given on the command line or in Env, into the
// setting's field of c. The error says what is wrong with value without
// naming the setting.
func (s Setting) Set(c *Config, value string) error { return s.set(c, value) }

// Settings returns every setting, in the order --help and the README list
// them.
func Settings() []Setting { return slices.Clone(settings) }

// spec is the typed form of a Setting.
type spec[T comparable] struct {
	flag, env, desc string
	field           func(*Config) *T
	def             T        // the default, filled in when the field is zero
	defText         string   // the default in words, when it is not a value
	compute         func() T // the default, when it is found at Validate
	check           func(T) error
	secret          bool
}

func declare[T comparable](s spec[T]) Setting {
	var zero T
	out := Setting{Flag: s.flag, Env: s.env, Default: s.defText, Description: s.desc, Secret: s.secret}
	if s.def != zero {
		out.Default, out.valueDefault = formatValue(s.def), true
	}
	out.get = func(c *Config) string { return formatValue(*s.field(c)) }
	out.set = func(c *Config, value string) error {
		v, err := parseValue[T](value)
		if err != nil {
			return err
		}
		*s.field(c) = v
		return nil
	}
	out.fill = func(c *Config) {
		p := s.field(c)
		switch {
		case *p != zero:
		case s.compute != nil:
			*p = s.compute()
		default:
			*p = s.def
		}
	}
	if s.check != nil {
		out.check = func(c *Config) error { return s.check(*s.field(c)) }
	}
	return out
}

func parseValue[T any](value string) (T, error) {
	var v T
	switch p := any(&v).(type) {
	case *string:
		*p = value
	case *int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return v, fmt.Errorf("%q is not an integer", value)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return v, fmt.Errorf("%q is not a duration (e.g. 30s, 720h)", value)
		}
		*p = d
	default:
		panic(fmt.Sprintf("agent: a setting of type %T", v))
	}
	return v, nil
}

func formatValue(v any) string {
	if d, ok := v.(time.Duration); ok {
		return api.FormatDuration(d) // 720h, 5m, 30s rather than 720h0m0s, 5m0s
	}
	return fmt.Sprint(v)
}

// named marks a check's error that names its setting already.
type named struct{ error }

func (n named) Unwrap() error { return n.error }

func notNegative[T int | time.Duration](v T) error {
	if v < 0 {
		return fmt.Errorf("%v is negative", v)
	}
	return nil
}

func longEnoughToBeSafe(v string) error {
	if v != "" && len(v) < 16 {
		return errors.New("too short to be safe (at least 16 characters)")
	}
	return nil
}

func hostname() string {
	if h, _ := os.Hostname(); h != "" {
		return h
	}
	return "agent"
}

var settings = []Setting{
	declare(spec[string]{flag: "listen", env: "JOBBRIDGE_LISTEN", desc: "HTTP address",
		field: func(c *Config) *string { return &c.Listen }, def: DefaultListen}),
	declare(spec[string]{flag: "data-dir", env: localagent.DataDirEnv,
		desc:  "directory for the SQLite file, admin token and address file",
		field: func(c *Config) *string { return &c.DataDir }, defText: "$XDG_DATA_HOME/jobbridge, else ~/.local/share/jobbridge", compute: DefaultDataDir}),
	declare(spec[string]{flag: "tls-cert", env: "JOBBRIDGE_TLS_CERT", desc: "certificate file: serve HTTPS",
		field: func(c *Config) *string { return &c.TLSCert }}),
	declare(spec[string]{flag: "tls-key", env: "JOBBRIDGE_TLS_KEY", desc: "key file: serve HTTPS",
		field: func(c *Config) *string { return &c.TLSKey }}),
	declare(spec[string]{flag: "database-url", env: "JOBBRIDGE_DATABASE_URL", desc: "postgres:// URL; empty for the embedded SQLite",
		field: func(c *Config) *string { return &c.DatabaseURL }, secret: true,
		check: func(v string) error {
			if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return errors.New("want a postgres:// URL, or empty for the embedded SQLite")
			}
			return nil
		}}),
	declare(spec[string]{flag: "admin-token", env: "JOBBRIDGE_ADMIN_TOKEN", desc: "fixed admin token instead of a generated one",
		field: func(c *Config) *string { return &c.AdminToken }, secret: true, check: longEnoughToBeSafe}),
	declare(spec[string]{flag: "scheduler", env: "JOBBRIDGE_SCHEDULER", desc: "auto, local, eventbridge, scheduler or off (auto never picks scheduler)",
		field: func(c *Config) *string { return &c.Scheduler }, def: DefaultScheduler,
		check: func(v string) error {
			switch v {
			case SchedulerAuto, SchedulerLocal, SchedulerEventBridge, SchedulerScheduler, SchedulerOff:
				return nil
			}
			return fmt.Errorf("%q is not one of auto, local, eventbridge, scheduler, off", v)
		}}),
	declare(spec[string]{flag: "ssh-listen", env: "JOBBRIDGE_SSH_LISTEN", desc: "address of the SSH console, e.g. 127.0.0.1:2222",
		field: func(c *Config) *string { return &c.SSHListen }, defText: "off"}),
	declare(spec[string]{flag: "ssh-authorized-keys", env: "JOBBRIDGE_SSH_AUTHORIZED_KEYS",
		desc:  "authorized_keys file of the SSH console; a role=viewer|operator|admin comment sets a key's role",
		field: func(c *Config) *string { return &c.SSHAuthorizedKeys }}),
	declare(spec[string]{flag: "node", env: "JOBBRIDGE_NODE", desc: "name of this agent in the runs it records",
		field: func(c *Config) *string { return &c.Node }, defText: "the host name", compute: hostname}),
	declare(spec[time.Duration]{flag: "retention", env: "JOBBRIDGE_RETENTION", desc: "how long finished runs are kept",
		field: func(c *Config) *time.Duration { return &c.Retention }, def: DefaultRetention,
		check: func(v time.Duration) error {
			if v < time.Hour {
				return fmt.Errorf("%s is too short (at least 1h)", v)
			}
			return nil
		}}),
	declare(spec[time.Duration]{flag: "shutdown-grace", env: "JOBBRIDGE_SHUTDOWN_GRACE", desc: "how long running jobs get to stop on shutdown",
		field: func(c *Config) *time.Duration { return &c.ShutdownGrace }, def: DefaultShutdownGrace, check: notNegative[time.Duration]}),
	declare(spec[int]{flag: "max-log-lines", env: "JOBBRIDGE_MAX_LOG_LINES", desc: "log lines kept per run",
		field: func(c *Config) *int { return &c.MaxLogLines }, def: DefaultMaxLogLines, check: notNegative[int]}),
	jobLimitsSetting,
	declare(spec[time.Duration]{flag: "cluster-heartbeat", env: "JOBBRIDGE_CLUSTER_HEARTBEAT", desc: "with PostgreSQL: how often this agent says it is alive",
		field: func(c *Config) *time.Duration { return &c.ClusterHeartbeat }, def: DefaultClusterHeartbeat, check: notNegative[time.Duration]}),
	declare(spec[time.Duration]{flag: "cluster-lease", env: "JOBBRIDGE_CLUSTER_LEASE", desc: "with PostgreSQL: silence after which an agent's runs are interrupted",
		field: func(c *Config) *time.Duration { return &c.ClusterLease }, def: DefaultClusterLease, check: notNegative[time.Duration]}),
	declare(spec[string]{flag: "http-allow", env: "JOBBRIDGE_HTTP_ALLOW", desc: "CIDRs and host names, comma-separated, that the http job may call beyond public addresses",
		field: func(c *Config) *string { return &c.HTTPAllow }, defText: "none",
		check: func(v string) error { _, err := egress.Parse(v); return err }}),
	declare(spec[string]{flag: "secrets-key", env: secrets.KeyEnv, desc: "base64 key of 32 bytes encrypting secret parameters at rest",
		field: func(c *Config) *string { return &c.SecretsKey }, defText: "a key file in the data dir", secret: true,
		check: func(v string) error {
			if err := secrets.ValidateKey(v); err != nil {
				return named{err}
			}
			return nil
		}}),
	declare(spec[string]{flag: "command-env", env: "JOBBRIDGE_COMMAND_ENV", desc: "agent variables, comma-separated, that command jobs see beside PATH, HOME, LANG and TZ",
		field: func(c *Config) *string { return &c.CommandEnv }, defText: "none",
		check: func(v string) error { _, err := parseCommandEnv(v); return err }}),
	declare(spec[string]{flag: "jobs-file", env: JobsFileEnv, desc: "YAML file declaring command and HTTP jobs, checked at start (see Jobs without Go)",
		field: func(c *Config) *string { return &c.JobsFile }, defText: "none"}),
	declare(spec[string]{flag: "trusted-proxies", env: "JOBBRIDGE_TRUSTED_PROXIES", desc: "CIDRs, comma-separated, of proxies whose X-Forwarded-For names the client",
		field: func(c *Config) *string { return &c.TrustedProxies }, defText: "none",
		check: func(v string) error { _, err := server.ParseTrustedProxies(v); return err }}),
	declare(spec[int]{flag: "max-conns-per-address", env: "JOBBRIDGE_MAX_CONNS_PER_ADDRESS", desc: "connections one client address may hold open; proxies and this host are not capped",
		field: func(c *Config) *int { return &c.MaxConnsPerAddress }, def: DefaultMaxConnsPerAddress, check: notNegative[int]}),
	declare(spec[int]{flag: "metrics-rule-series", env: "JOBBRIDGE_METRICS_RULE_SERIES", desc: "how many rules (the first by name) get series of their own in /metrics; the others' run times go to rule=\"_other\"",
		field: func(c *Config) *int { return &c.MetricsRuleSeries }, def: DefaultMetricsRuleSeries, check: notNegative[int]}),
	declare(spec[string]{flag: "missed-grace", env: "JOBBRIDGE_MISSED_GRACE", desc: "how late an expected fire may be before it is recorded missed and notified (the dead-man's switch); off turns it off",
		field: func(c *Config) *string { return &c.MissedGrace }, def: formatValue(DefaultMissedGrace),
		check: func(v string) error { _, err := parseMissedGrace(v); return err }}),

	declare(spec[string]{flag: "eb-api-key", env: "JOBBRIDGE_EB_API_KEY", desc: "API key EventBridge sends to the webhook (16 characters or more); turns the webhook on",
		field: func(c *Config) *string { return &c.EventBridge.APIKey }, secret: true, check: longEnoughToBeSafe}),
	declare(spec[string]{flag: "eb-target-role-arn", env: "JOBBRIDGE_EB_TARGET_ROLE_ARN", desc: "IAM role EventBridge assumes to call the API destination",
		field: func(c *Config) *string { return &c.EventBridge.TargetRoleARN }}),
	declare(spec[string]{flag: "eb-scheduler-role-arn", env: "JOBBRIDGE_EB_SCHEDULER_ROLE_ARN", desc: "scheduler backend: IAM role EventBridge Scheduler assumes to put events on the bus",
		field: func(c *Config) *string { return &c.EventBridge.SchedulerRoleARN }}),
	declare(spec[string]{flag: "eb-connection-name", env: "JOBBRIDGE_EB_CONNECTION_NAME", desc: "EventBridge connection name",
		field: func(c *Config) *string { return &c.EventBridge.ConnectionName }}),
	declare(spec[string]{flag: "eb-destination-name", env: "JOBBRIDGE_EB_DESTINATION_NAME", desc: "EventBridge API destination name",
		field: func(c *Config) *string { return &c.EventBridge.DestinationName }}),
	declare(spec[string]{flag: "eb-auth-header", env: "JOBBRIDGE_EB_AUTH_HEADER", desc: "header carrying the API key",
		field: func(c *Config) *string { return &c.EventBridge.AuthHeader }, def: api.DefaultWebhookKeyHeader}),
	declare(spec[string]{flag: "eb-target-url", env: "JOBBRIDGE_EB_TARGET_URL", desc: "the agent's public base URL",
		field: func(c *Config) *string { return &c.EventBridge.TargetURL }}),
	declare(spec[string]{flag: "eb-rule-prefix", env: "JOBBRIDGE_EB_RULE_PREFIX", desc: "prefix of the EventBridge rules this agent manages; without its trailing - _ . it names the scheduler backend's schedule group (jobbridge if empty)",
		field: func(c *Config) *string { return &c.EventBridge.RulePrefix }}),
	declare(spec[string]{flag: "eb-event-bus", env: "JOBBRIDGE_EB_EVENT_BUS", desc: "event bus; scheduled rules fire on the default bus only, the scheduler backend may use another",
		field: func(c *Config) *string { return &c.EventBridge.EventBus }, def: eventbridge.DefaultBus}),
	declare(spec[string]{flag: "eb-dlq-arn", env: "JOBBRIDGE_EB_DLQ_ARN", desc: "SQS queue ARN for deliveries EventBridge gives up on (optional)",
		field: func(c *Config) *string { return &c.EventBridge.DLQARN }}),
	declare(spec[int]{flag: "eb-invocation-rate", env: "JOBBRIDGE_EB_INVOCATION_RATE", desc: "API destination invocations per second",
		field: func(c *Config) *int { return &c.EventBridge.InvocationRate }, def: eventbridge.DefaultInvocationRate, check: notNegative[int]}),
	declare(spec[time.Duration]{flag: "eb-reconcile-interval", env: "JOBBRIDGE_EB_RECONCILE_INTERVAL", desc: "how often EventBridge is compared with the rules",
		field: func(c *Config) *time.Duration { return &c.EventBridge.ReconcileInterval }, def: eventbridge.DefaultReconcileInterval,
		check: func(v time.Duration) error {
			if v < 30*time.Second {
				return fmt.Errorf("%s is too short (at least 30s)", v)
			}
			return nil
		}}),

	declare(spec[string]{flag: "notify-on", env: "JOBBRIDGE_NOTIFY_ON", desc: "outcomes that notify: " + kindList(api.NotifyKinds),
		field: func(c *Config) *string { return &c.Notify.On }, def: kindList(notify.DefaultOn),
		check: func(v string) error {
			if strings.TrimSpace(v) == "" {
				return nil
			}
			_, err := api.ParseNotifyKinds(v)
			return err
		}}),
	declare(spec[string]{flag: "notify-email-to", env: "JOBBRIDGE_NOTIFY_EMAIL_TO", desc: "email recipients, comma-separated",
		field: func(c *Config) *string { return &c.Notify.EmailTo }}),
	declare(spec[string]{flag: "notify-smtp-addr", env: "JOBBRIDGE_NOTIFY_SMTP_ADDR", desc: "SMTP server host:port",
		field: func(c *Config) *string { return &c.Notify.SMTPAddr }}),
	declare(spec[string]{flag: "notify-smtp-from", env: "JOBBRIDGE_NOTIFY_SMTP_FROM", desc: "sender address",
		field: func(c *Config) *string { return &c.Notify.SMTPFrom }}),
	declare(spec[string]{flag: "notify-smtp-username", env: "JOBBRIDGE_NOTIFY_SMTP_USERNAME", desc: "SMTP user (optional)",
		field: func(c *Config) *string { return &c.Notify.SMTPUsername }}),
	declare(spec[string]{flag: "notify-smtp-password", env: "JOBBRIDGE_NOTIFY_SMTP_PASSWORD", desc: "SMTP password",
		field: func(c *Config) *string { return &c.Notify.SMTPPassword }, secret: true}),
	declare(spec[string]{flag: "notify-smtp-tls", env: "JOBBRIDGE_NOTIFY_SMTP_TLS", desc: "none, starttls or tls",
		field: func(c *Config) *string { return &c.Notify.SMTPTLS }, def: DefaultNotifySMTPTLS,
		check: notify.CheckSMTPTLS}),
	declare(spec[string]{flag: "notify-webhook-url", env: "JOBBRIDGE_NOTIFY_WEBHOOK_URL", desc: "chat webhook URL (Slack-compatible)",
		field: func(c *Config) *string { return &c.Notify.WebhookURL }, secret: true,
		check: func(v string) error {
			if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return errors.New("want an http(s) URL")
			}
			return nil
		}}),
	declare(spec[string]{flag: "notify-sns-topic-arn", env: "JOBBRIDGE_NOTIFY_SNS_TOPIC_ARN", desc: "SNS topic to publish to",
		field: func(c *Config) *string { return &c.Notify.SNSTopicARN },
		check: func(v string) error {
			if v != "" && !strings.HasPrefix(v, "arn:") {
				return fmt.Errorf("%q is not an ARN", v)
			}
			return nil
		}}),
	declare(spec[time.Duration]{flag: "notify-fold-window", env: "JOBBRIDGE_NOTIFY_FOLD_WINDOW", desc: "fold repeated outcomes of a rule within this window",
		field: func(c *Config) *time.Duration { return &c.Notify.FoldWindow }, def: DefaultNotifyFoldWindow, check: notNegative[time.Duration]}),
}

// JobsFileEnv is the variable of Config.JobsFile.
const JobsFileEnv = "JOBBRIDGE_JOBS_FILE"

// JobLimitsEnv is the variable of Config.JobLimits.
const JobLimitsEnv = "JOBBRIDGE_JOB_LIMITS"

// jobLimitsSetting is Config.JobLimits, written job=N,job2=M. Whether each
// job is registered is known only once the jobs are: New says so.
var jobLimitsSetting = Setting{
	Flag: "job-limits", Env: JobLimitsEnv, Default: "none",
	Description: "most runs of a job active at once across all agents, as job=N,job2=M; runs beyond wait queued",
	set: func(c *Config, value string) error {
		m, err := ParseJobLimits(value)
		if err != nil {
			return err
		}
		c.JobLimits = m
		return nil
	},
	get:  func(c *Config) string { return FormatJobLimits(c.JobLimits) },
	fill: func(*Config) {},
	check: func(c *Config) error {
		for _, job := range slices.Sorted(maps.Keys(c.JobLimits)) {
			if n := c.JobLimits[job]; n <= 0 {
				return fmt.Errorf("job %q: %d is not a positive number of runs", job, n)
			}
		}
		return nil
	},
}

// ParseJobLimits reads job limits written job=N,job2=M ("" is none).
func ParseJobLimits(v string) (map[string]int, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	m := map[string]int{}
	for item := range strings.SplitSeq(v, ",") {
		job, num, ok := strings.Cut(strings.TrimSpace(item), "=")
		job, num = strings.TrimSpace(job), strings.TrimSpace(num)
		if !ok || job == "" {
			return nil, fmt.Errorf("%q is not job=N", strings.TrimSpace(item))
		}
		if _, dup := m[job]; dup {
			return nil, fmt.Errorf("job %q has two limits", job)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("job %q: %q is not a number of runs", job, num)
		}
		m[job] = n
	}
	return m, nil
}

// FormatJobLimits writes job limits as ParseJobLimits reads them, by job.
func FormatJobLimits(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, job := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, job+"="+strconv.Itoa(m[job]))
	}
	return strings.Join(parts, ",")
}

// kindList writes kinds as JOBBRIDGE_NOTIFY_ON takes them: comma-separated.
func kindList(kinds []api.NotifyKind) string {
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = string(k)
	}
	return strings.Join(words, ",")
}

// fillDefaults sets every zero field of c that has a default to it.
func (c *Config) fillDefaults() {
	for _, s := range settings {
		s.fill(c)
	}
}

// checkSettings reports what is wrong with each setting on its own, each
// error named as the setting's environment variable.
func (c *Config) checkSettings() []error {
	var errs []error
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		err := s.check(c)
		var n named
		switch {
		case err == nil:
		case errors.As(err, &n):
			errs = append(errs, n.error)
		default:
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
		}
	}
	return errs
}
