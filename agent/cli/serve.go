package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
)

// setting binds one configuration field to a flag and its JOBBRIDGE_
// environment variable. A flag given on the command line wins over the
// environment, which wins over the default.
type setting struct {
	flag, env, usage string
	secret           bool // never shown as a default in --help
	apply            func(string) error
}

func stringSetting(p *string, flag, env, usage string, secret bool) setting {
	return setting{flag: flag, env: env, usage: usage, secret: secret, apply: func(v string) error { *p = v; return nil }}
}

func durationSetting(p *time.Duration, flag, env, usage string) setting {
	return setting{flag: flag, env: env, usage: usage, apply: func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 720h)", v)
		}
		*p = d
		return nil
	}}
}

func intSetting(p *int, flag, env, usage string) setting {
	return setting{flag: flag, env: env, usage: usage, apply: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*p = n
		return nil
	}}
}

func settings(c *agent.Config) []setting {
	eb := &c.EventBridge
	n := &c.Notify
	return []setting{
		stringSetting(&c.Listen, "listen", "LISTEN", "HTTP address (default 127.0.0.1:8080)", false),
		stringSetting(&c.DataDir, "data-dir", "DATA_DIR", "directory for the SQLite file, admin token and address file (default $XDG_DATA_HOME/jobbridge)", false),
		stringSetting(&c.TLSCert, "tls-cert", "TLS_CERT", "certificate file: serve HTTPS", false),
		stringSetting(&c.TLSKey, "tls-key", "TLS_KEY", "key file: serve HTTPS", false),
		stringSetting(&c.DatabaseURL, "database-url", "DATABASE_URL", "postgres:// URL; empty for the embedded SQLite", true),
		stringSetting(&c.AdminToken, "admin-token", "ADMIN_TOKEN", "fixed admin token instead of a generated one", true),
		stringSetting(&c.Scheduler, "scheduler", "SCHEDULER", "auto, local, eventbridge or off (default auto)", false),
		stringSetting(&c.SSHListen, "ssh-listen", "SSH_LISTEN", "address of the SSH console, e.g. 127.0.0.1:2222 (default off)", false),
		stringSetting(&c.SSHAuthorizedKeys, "ssh-authorized-keys", "SSH_AUTHORIZED_KEYS", "authorized_keys file of the SSH console; a role=viewer|operator|admin comment sets a key's role", false),
		stringSetting(&c.Node, "node", "NODE", "name of this agent in the runs it records (default the host name)", false),
		durationSetting(&c.Retention, "retention", "RETENTION", "how long finished runs are kept (default 720h)"),
		durationSetting(&c.ShutdownGrace, "shutdown-grace", "SHUTDOWN_GRACE", "how long running jobs get to stop on shutdown (default 30s)"),
		intSetting(&c.MaxLogLines, "max-log-lines", "MAX_LOG_LINES", "log lines kept per run (default 10000)"),
		stringSetting(&eb.APIKey, "eb-api-key", "EB_API_KEY", "API key EventBridge sends to the webhook; turns the webhook on", true),
		stringSetting(&eb.TargetRoleARN, "eb-target-role-arn", "EB_TARGET_ROLE_ARN", "IAM role EventBridge assumes to call the API destination", false),
		stringSetting(&eb.ConnectionName, "eb-connection-name", "EB_CONNECTION_NAME", "EventBridge connection name", false),
		stringSetting(&eb.DestinationName, "eb-destination-name", "EB_DESTINATION_NAME", "EventBridge API destination name", false),
		stringSetting(&eb.AuthHeader, "eb-auth-header", "EB_AUTH_HEADER", "header carrying the API key (default X-Aws-Event-Bridge-Api-Key)", false),
		stringSetting(&eb.TargetURL, "eb-target-url", "EB_TARGET_URL", "the agent's public base URL", false),
		stringSetting(&eb.RulePrefix, "eb-rule-prefix", "EB_RULE_PREFIX", "prefix of the EventBridge rules this agent manages", false),
		stringSetting(&eb.EventBus, "eb-event-bus", "EB_EVENT_BUS", "event bus (default default)", false),
		stringSetting(&n.On, "notify-on", "NOTIFY_ON", "outcomes that notify: failed,cancelled,interrupted,timeout,recovered (default failed,interrupted,timeout,recovered)", false),
		stringSetting(&n.EmailTo, "notify-email-to", "NOTIFY_EMAIL_TO", "email recipients, comma-separated", false),
		stringSetting(&n.SMTPAddr, "notify-smtp-addr", "NOTIFY_SMTP_ADDR", "SMTP server host:port", false),
		stringSetting(&n.SMTPFrom, "notify-smtp-from", "NOTIFY_SMTP_FROM", "sender address", false),
		stringSetting(&n.SMTPUsername, "notify-smtp-username", "NOTIFY_SMTP_USERNAME", "SMTP user (optional)", false),
		stringSetting(&n.SMTPPassword, "notify-smtp-password", "NOTIFY_SMTP_PASSWORD", "SMTP password", true),
		stringSetting(&n.SMTPTLS, "notify-smtp-tls", "NOTIFY_SMTP_TLS", "none, starttls or tls (default starttls)", false),
		stringSetting(&n.WebhookURL, "notify-webhook-url", "NOTIFY_WEBHOOK_URL", "chat webhook URL (Slack-compatible)", true),
		stringSetting(&n.SNSTopicARN, "notify-sns-topic-arn", "NOTIFY_SNS_TOPIC_ARN", "SNS topic to publish to", false),
		durationSetting(&n.FoldWindow, "notify-fold-window", "NOTIFY_FOLD_WINDOW", "fold repeated outcomes of a rule within this window (default 10m)"),
		durationSetting(&c.ClusterHeartbeat, "cluster-heartbeat", "CLUSTER_HEARTBEAT", "with PostgreSQL: how often this agent says it is alive (default 5s)"),
		durationSetting(&c.ClusterLease, "cluster-lease", "CLUSTER_LEASE", "with PostgreSQL: silence after which an agent's runs are interrupted (default 30s)"),
		stringSetting(&eb.DLQARN, "eb-dlq-arn", "EB_DLQ_ARN", "SQS queue ARN for deliveries EventBridge gives up on (optional)", false),
		intSetting(&eb.InvocationRate, "eb-invocation-rate", "EB_INVOCATION_RATE", "API destination invocations per second (default 300)"),
		stringSetting(&c.HTTPAllow, "http-allow", "HTTP_ALLOW", "CIDRs and host names, comma-separated, that the http job may call beyond public addresses (default none)", false),
		stringSetting(&c.SecretsKey, "secrets-key", "SECRETS_KEY", "base64 key of 32 bytes encrypting secret parameters at rest (default a key file in the data dir)", true),
		stringSetting(&c.CommandEnv, "command-env", "COMMAND_ENV", "agent variables, comma-separated, that command jobs see beside PATH, HOME, LANG and TZ (default none)", false),
		durationSetting(&eb.ReconcileInterval, "eb-reconcile-interval", "EB_RECONCILE_INTERVAL", "how often EventBridge is compared with the rules (default 5m)"),
		stringSetting(&c.TrustedProxies, "trusted-proxies", "TRUSTED_PROXIES", "CIDRs, comma-separated, of proxies whose X-Forwarded-For names the client (default none)", false),
		intSetting(&c.MaxConnsPerAddress, "max-conns-per-address", "MAX_CONNS_PER_ADDRESS", "connections one client address may hold open; proxies and this host are not capped (default 128)"),
	}
}

// bindSettings registers the flags of the settings named (all when none
// are) on cmd and returns a function that resolves them, after parsing,
// into cfg: a flag given wins over its JOBBRIDGE_ variable.
func bindSettings(cmd *cobra.Command, getenv func(string) string, cfg *agent.Config, only ...string) func() error {
	var set []setting
	for _, s := range settings(cfg) {
		if len(only) == 0 || slices.Contains(only, s.flag) {
			set = append(set, s)
		}
	}
	flags := make([]*string, len(set))
	for i, s := range set {
		flags[i] = cmd.Flags().String(s.flag, "", s.usage+" [$JOBBRIDGE_"+s.env+"]")
	}
	cmd.Flags().SortFlags = false
	return func() error {
		fs := cmd.Flags()
		for i, s := range set {
			v := getenv("JOBBRIDGE_" + s.env)
			if fs.Changed(s.flag) {
				v = *flags[i]
			}
			if v == "" {
				continue
			}
			if err := s.apply(v); err != nil {
				return usageErrorf("--%s (JOBBRIDGE_%s): %v", s.flag, s.env, err)
			}
		}
		return nil
	}
}

func newServeCmd(getenv func(string) string, register agent.RegisterFunc) *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the agent (the default)",
		Args:  noArgs,
	}
	resolve := bindSettings(cmd, getenv, &cfg)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		return serve(c, cfg, register)
	}
	return cmd
}

func serve(c *cobra.Command, cfg agent.Config, register agent.RegisterFunc) error {
	log := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(ctx, cfg, log, register)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
