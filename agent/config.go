// Package agent assembles the jobbridge daemon: it opens the store, builds
// the runner, the scheduler backend and the HTTP server from a Config, runs
// them together and stops them together.
package agent

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// Scheduler modes.
const (
	SchedulerAuto        = "auto"        // eventbridge when its settings are complete, else local
	SchedulerLocal       = "local"       // the agent fires rules itself
	SchedulerEventBridge = "eventbridge" // rules live in AWS EventBridge as scheduled rules (UTC only)
	SchedulerScheduler   = "scheduler"   // rules live in AWS EventBridge Scheduler as schedules
	SchedulerOff         = "off"         // nothing fires on schedule; webhook and manual runs only
)

// Config is the agent's configuration. The zero value of a field means its
// default, named in its comment; Validate fills them in. Settings declares
// each field's flag, environment variable, default and checks.
type Config struct {
	// Listen is the HTTP address. Default DefaultListen.
	Listen string
	// DataDir holds the SQLite file, the generated admin token and the
	// address file. Default DefaultDataDir().
	DataDir string
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert, TLSKey string
	// DatabaseURL: a postgres:// URL selects PostgreSQL; empty, SQLite in DataDir.
	DatabaseURL string
	// AdminToken fixes the admin token instead of generating one.
	AdminToken string
	// Scheduler is auto, local, eventbridge, scheduler or off. Default
	// DefaultScheduler; auto never chooses scheduler.
	Scheduler string
	// EventBridge holds the AWS settings.
	EventBridge EventBridgeConfig
	// Node names this agent in the runs it records. Default the host name.
	Node string
	// Retention is how long finished runs are kept. Default DefaultRetention.
	Retention time.Duration
	// ShutdownGrace bounds a shutdown's wait for running jobs: they get
	// most of it to return, and the rest (a quarter, at most 5s) records
	// those that did not. A run not recorded by then (the database is
	// down) is marked interrupted at the next start. Default
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// MaxLogLines caps the log lines kept per run. Default DefaultMaxLogLines.
	MaxLogLines int
	// JobLimits bounds the runs of a job active at once, across all agents
	// on one database (give each the same limits): runs beyond it are
	// recorded queued and start, oldest first, as slots free. A job named
	// must be registered. None by default.
	JobLimits map[string]int
	// Notify holds the notification settings.
	Notify NotifyConfig
	// ClusterHeartbeat is how often an agent on PostgreSQL records that it
	// is alive. Default DefaultClusterHeartbeat.
	ClusterHeartbeat time.Duration
	// ClusterLease is how long an agent on PostgreSQL may be silent before
	// the others mark its runs interrupted. Default DefaultClusterLease.
	ClusterLease time.Duration
	// SSHListen is where the SSH console listens ("127.0.0.1:2222");
	// empty (the default) turns it off.
	SSHListen string
	// SSHAuthorizedKeys is the SSH console's authorized_keys file; a
	// "role=viewer|operator|admin" comment after a key sets its role
	// (default viewer). Required with SSHListen.
	SSHAuthorizedKeys string
	// HTTPAllow lists, comma-separated, the CIDRs and host names that jobs
	// making network calls (the http job) may reach beyond public
	// addresses. Default none: loopback, link-local, private and
	// unspecified addresses are refused.
	HTTPAllow string
	// SecretsKey is the key that encrypts secret parameters at rest: 32
	// bytes, base64. Default a key file the agent creates in DataDir;
	// several agents on one PostgreSQL must all be given the same key.
	SecretsKey string
	// CommandEnv lists, comma-separated, the agent's environment variables
	// that command jobs see beside PATH, HOME, LANG and TZ. Default none.
	CommandEnv string
	// JobsFile is a YAML file declaring command and HTTP jobs beside the
	// registered ones (see the README, "Jobs without Go"), read and
	// checked when the agent starts. Default none.
	JobsFile string
	// TrustedProxies lists, comma-separated, the CIDRs (or addresses) of the
	// proxies and tunnels in front of the agent, whose X-Forwarded-For
	// header names the client. Default none: the client is the address
	// that connected, and X-Forwarded-For is ignored.
	TrustedProxies string
	// MaxConnsPerAddress caps the connections open from one client address;
	// trusted proxies and the agent's own host are not capped. Default
	// DefaultMaxConnsPerAddress.
	MaxConnsPerAddress int
	// MetricsRuleSeries caps how many rules (the first by name) get
	// series of their own in /metrics; the run times of the others go to
	// rule="_other". Default DefaultMetricsRuleSeries.
	MetricsRuleSeries int
	// MissedGrace is how late an expected fire may be before the
	// dead-man's switch records it missed and notifies: a Go duration, or
	// "off" (or 0) to turn the switch off. Default DefaultMissedGrace.
	MissedGrace string
}

// EventBridgeConfig holds the settings named after the original module's
// (JOBBRIDGE_EB_*): APIKey, AuthHeader, TargetRoleARN, SchedulerRoleARN,
// ConnectionName, DestinationName, TargetURL, RulePrefix, EventBus, DLQARN,
// InvocationRate and ReconcileInterval (see Settings for their variables
// and defaults). It is the eventbridge and scheduler backends' own Settings
// type, so the agent hands it over as it is.
type EventBridgeConfig = eventbridge.Settings

// DefaultDataDir is $XDG_DATA_HOME/jobbridge, or ~/.local/share/jobbridge:
// the data dir of a Config that names none (localagent.DefaultDataDir).
func DefaultDataDir() string { return localagent.DefaultDataDir(os.Getenv) }

// Validate fills in the defaults of Settings and reports every setting
// that is wrong, each named as its environment variable.
func (c *Config) Validate() error {
	c.fillDefaults()
	errs := c.checkSettings()
	// What no setting can check alone.
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("JOBBRIDGE_TLS_CERT and JOBBRIDGE_TLS_KEY: set both to serve HTTPS, or neither"))
	}
	if c.Scheduler == SchedulerEventBridge && !c.EventBridge.Complete() {
		errs = append(errs, errors.New("JOBBRIDGE_SCHEDULER=eventbridge needs JOBBRIDGE_EB_API_KEY, JOBBRIDGE_EB_TARGET_ROLE_ARN, JOBBRIDGE_EB_CONNECTION_NAME, JOBBRIDGE_EB_DESTINATION_NAME and JOBBRIDGE_EB_TARGET_URL"))
	}
	if c.schedulerMode() == SchedulerEventBridge && c.EventBridge.Complete() {
		if err := c.EventBridge.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Scheduler == SchedulerScheduler {
		if err := c.EventBridge.ValidateFor(eventbridge.ModeScheduler); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Notify.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ClusterHeartbeat > 0 && c.ClusterLease < 2*c.ClusterHeartbeat {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_CLUSTER_LEASE: %s is less than twice JOBBRIDGE_CLUSTER_HEARTBEAT (%s): agents would take each other for dead between two heartbeats",
			c.ClusterLease, c.ClusterHeartbeat))
	}
	if c.SSHListen != "" && c.SSHAuthorizedKeys == "" {
		errs = append(errs, errors.New("JOBBRIDGE_SSH_AUTHORIZED_KEYS: required with JOBBRIDGE_SSH_LISTEN (the SSH console takes public keys only)"))
	}
	return errors.Join(errs...)
}

// commandEnv is the list of CommandEnv's names.
func (c *Config) commandEnv() ([]string, error) {
	names, err := parseCommandEnv(c.CommandEnv)
	if err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_COMMAND_ENV: %w", err)
	}
	return names, nil
}

// parseCommandEnv reads a list of variable names. The agent's own
// settings (JOBBRIDGE_*) hold its tokens and keys, so none of them may be
// passed.
func parseCommandEnv(list string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case !envName.MatchString(name):
			return nil, fmt.Errorf("%q is not a variable name (letters, digits and '_', not starting with a digit)", name)
		case strings.HasPrefix(name, "JOBBRIDGE_"):
			return nil, fmt.Errorf("%s is one of the agent's own settings, which hold its secrets; it is never passed to jobs", name)
		}
		names = append(names, name)
	}
	return names, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// schedulerMode resolves auto.
func (c *Config) schedulerMode() string {
	if c.Scheduler == SchedulerAuto {
		if c.EventBridge.Complete() {
			return SchedulerEventBridge
		}
		return SchedulerLocal
	}
	return c.Scheduler
}

// missedGrace is MissedGrace as a duration; false when the switch is off.
// Validate checked it.
func (c *Config) missedGrace() (time.Duration, bool) {
	d, err := parseMissedGrace(c.MissedGrace)
	return d, err == nil && d > 0
}

// parseMissedGrace reads JOBBRIDGE_MISSED_GRACE: off, 0 or a positive
// duration.
func parseMissedGrace(v string) (time.Duration, error) {
	switch strings.TrimSpace(v) {
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration (e.g. 2m) nor off", v)
	case d < 0:
		return 0, fmt.Errorf("%s is negative (off turns the switch off)", v)
	}
	return d, nil
}
