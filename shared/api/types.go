package api

import (
	"encoding/json"
	"time"
)

// Page is a list answer: {"items": [...], "nextCursor": "..."}, the cursor
// absent on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// Param describes one parameter of a job.
type Param struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required"`
	Type        string   `json:"type" enum:"string,int,bool,duration,enum"`
	Default     string   `json:"default,omitempty"`
	Choices     []string `json:"choices,omitempty"`
	Secret      bool     `json:"secret"`
	// Destination says the parameter decides where the job sends things:
	// below admin, it cannot be overridden on a rule holding a secret
	// unless the override gives the secrets too.
	Destination bool `json:"destination,omitempty"`
}

// Job is a job the agent offers.
type Job struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Parameters  []Param `json:"parameters"`
	// Source is where the job is declared: "FILE:LINE" of the agent's
	// jobs file (JOBBRIDGE_JOBS_FILE), empty for a job built into the
	// agent in Go.
	Source string `json:"source,omitempty"`
	// Kind is "command" or "http" for a job of the jobs file, empty for
	// one written in Go.
	Kind string `json:"kind,omitempty"`
}

// RuleInput is what a client sends to create (POST /rules) or replace
// (PUT /rules/{name}) a rule.
type RuleInput struct {
	// Name is required on create; on replace it must be absent or equal
	// the name in the path (a rule is renamed by delete and create).
	Name string `json:"name,omitempty"`
	Job  string `json:"job"`
	// Schedule is cron(...), rate(...) or at(yyyy-mm-ddThh:mm:ss).
	Schedule string `json:"schedule"`
	// Timezone is the IANA zone ("Europe/Paris") cron() and at() are
	// evaluated in; empty for UTC.
	Timezone string `json:"timezone,omitempty"`
	// StartDate and EndDate (RFC 3339, optional) bound the fires: none
	// before the start or after the end. rate() counts from the start.
	StartDate *time.Time `json:"startDate,omitempty"`
	EndDate   *time.Time `json:"endDate,omitempty"`
	// FlexibleWindow is a Go duration from 1m to 24h: each run starts at
	// a point within it after the fire time. Empty for none.
	FlexibleWindow string `json:"flexibleWindow,omitempty"`
	// Enabled defaults to true on create.
	Enabled     *bool             `json:"enabled,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	Description string            `json:"description,omitempty"`
	// Timeout is a Go duration ("30m"); empty for none.
	Timeout string `json:"timeout,omitempty"`
	// Overlap is "allow" (the default), "skip" or "queue".
	Overlap Overlap `json:"overlap,omitempty"`
	// Notify is the rule's own choice of notifications.
	Notify *NotifyPolicy `json:"notify,omitempty"`
	RunPolicy
	Chains
}

// Rule is a stored rule with what the agent derives from it. Secret
// parameters are masked.
type Rule struct {
	Name     string `json:"name"`
	Job      string `json:"job"`
	Schedule string `json:"schedule"`
	// Timezone is the IANA zone the schedule is evaluated in ("UTC").
	Timezone  string     `json:"timezone"`
	StartDate *time.Time `json:"startDate,omitempty"`
	EndDate   *time.Time `json:"endDate,omitempty"`
	// FlexibleWindow is a Go duration, empty for none.
	FlexibleWindow string            `json:"flexibleWindow"`
	Enabled        bool              `json:"enabled"`
	Parameters     map[string]string `json:"parameters"`
	Description    string            `json:"description"`
	Timeout        string            `json:"timeout"`
	Overlap        Overlap           `json:"overlap"`
	Notify         NotifyPolicy      `json:"notify"`
	RunPolicy
	Chains
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version counts the rule's changes: 1 when created, one more at each
	// stored change. The rule's ETag is its version in double quotes
	// ("3"); PUT, PATCH and DELETE with If-Match answer 412 (ProblemStale)
	// when the rule has changed since.
	Version int64 `json:"version"`
	// Health is how the rule's recent runs went (lists, GET, and the
	// answers of changes).
	Health RuleHealth `json:"health"`

	// NextFireTimes are the next (up to 5) fire times in UTC, honouring
	// the zone, the dates and at(); empty when the rule is disabled or
	// never fires again. With a flexible window, each run starts at a point
	// within the window after its fire time.
	NextFireTimes []time.Time `json:"nextFireTimes"`
	// NextFireTimesApproximate is true when AWS decides the phase of a
	// rate() rule with no start date (the EventBridge backends count it from
	// when AWS got the rule); the times are then counted from the rule's last
	// change. Give a start date to fix them.
	NextFireTimesApproximate bool `json:"nextFireTimesApproximate,omitempty"`
	// Done is true when the schedule has no fire left: an at() rule after
	// its time, a rule past its end date or its last year. A done rule is
	// kept and never fires again.
	Done bool `json:"done"`
	// ScheduleText is the schedule in words.
	ScheduleText string      `json:"scheduleText"`
	LastRun      *RunSummary `json:"lastRun,omitempty"`
	Sync         Sync        `json:"sync"`
	// MissedFire, when set, is the fire time the dead-man's switch expected
	// and that has not come (a run "missed" records it); it clears when a
	// fire of the rule arrives.
	MissedFire *time.Time `json:"missedFire,omitempty"`
}

// HealthWindow is how many of a rule's last finished runs RuleHealth
// counts.
const HealthWindow = 20

// RuleHealth is how a rule's runs have gone: when it last succeeded and
// failed (the latest finishes, whichever run was created first), and the outcomes of its last HealthWindow runs that ran and
// ended (succeeded, failed, cancelled, interrupted; not skipped or missed
// fires, nor queued or running ones).
type RuleHealth struct {
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	LastFailure *time.Time `json:"lastFailure,omitempty"`
	// Recent are the statuses of those runs, oldest first; empty, never
	// null, before the first.
	Recent []RunStatus `json:"recent"`
	// SuccessRate is the share of Recent that succeeded, from 0 to 1 (0
	// when Recent is empty).
	SuccessRate float64 `json:"successRate"`
	// MedianDuration is the median of the run times (start to finish) of
	// Recent, a Go duration; empty when Recent is.
	MedianDuration string `json:"medianDuration,omitempty"`
}

// RunPolicy is how a rule's runs are kept reliable (shared by RuleInput
// and Rule). Durations are Go durations ("90s"); empty means none.
type RunPolicy struct {
	// Retry retries failed and timed-out runs; nil for no retry.
	Retry *RetryPolicy `json:"retry,omitempty"`
	// CatchUp says which fires missed while no agent ran the local
	// scheduler are run when one is back: "none" (the default), "latest"
	// or "all", those inside CatchUpWindow (default 1h).
	CatchUp       CatchUp `json:"catchUp,omitempty"`
	CatchUpWindow string  `json:"catchUpWindow,omitempty"`
	// MaxLateness: a delivery from EventBridge whose fire time is older
	// than this is recorded skipped ("late") and not run.
	MaxLateness string `json:"maxLateness,omitempty"`
	// WarnAfter: a run still going this long after it started notifies
	// once ("slow") and is flagged; the timeout still ends it.
	WarnAfter string `json:"warnAfter,omitempty"`
}

// Chains name the rules a rule's run triggers when it ends (shared by
// RuleInput and Rule). They fire once the run's series has ended (a failed
// run whose retry is queued fires nothing yet): OnSuccess after a run that
// succeeded, OnFailure after one that failed (its job failed, panicked or
// timed out), OnFinish after either or one an operator cancelled. A run
// that never ran (skipped, missed), was interrupted (its agent died; the
// job may have done its work) or was stopped by its agent's shutdown fires
// none; nor does a series whose queued retry an operator cancelled (the
// operator stepped in). Each chained run is queued with trigger
// "chain" and its parent in parentRun, exactly once per parent run.
type Chains struct {
	OnSuccess []ChainStep `json:"onSuccess,omitempty"`
	OnFailure []ChainStep `json:"onFailure,omitempty"`
	OnFinish  []ChainStep `json:"onFinish,omitempty"`
}

// ChainStep is one rule a chain triggers, with parameter values that
// override the rule's own for the chained run. A value may take the parent
// run's output fields, ${output.NAME} (a top-level field of its JSON
// object; strings as they are, other values as JSON), or its parameters,
// ${param.NAME}. A chain never carries secrets: it may not set a secret
// parameter of its rule, nor take one of the parent's.
type ChainStep struct {
	Rule       string            `json:"rule"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// MaxChainDepth is how many chained runs may follow one another from a
// run no chain started: a run at this depth triggers no further chain
// (its log says so). Cycles are refused when a rule is saved; the bound
// holds against chains that grow through later edits.
const MaxChainDepth = 10

// MaxChainSteps is how many steps one of a rule's chain lists may have.
const MaxChainSteps = 20

// MaxChainRuns is how many chained runs one run may start, through its
// chains and theirs, counted as if every list fired: a rule whose chains
// fan out further is refused when saved (only then: two saves racing on
// two agents may pass it; MaxChainDepth holds when the runs are made).
const MaxChainRuns = 1000

// MaxOutputBytes is the largest run output, in bytes of JSON.
const MaxOutputBytes = 64 << 10

// Sync is a rule's state in the scheduler backend.
type Sync struct {
	// State is "local" (the agent fires it), "pending", "synced" or "error"
	// (EventBridge), or "off".
	State string     `json:"state"`
	Error string     `json:"error,omitempty"`
	ARN   string     `json:"arn,omitempty"`
	At    *time.Time `json:"at,omitempty"`
}

// RunSummary is the little of a run shown with its rule.
type RunSummary struct {
	ID         string     `json:"id"`
	Status     RunStatus  `json:"status"`
	CreatedAt  time.Time  `json:"createdAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Run is one execution of a job. Secret parameters are masked.
type Run struct {
	ID           string            `json:"id"`
	Rule         string            `json:"rule"`
	Job          string            `json:"job"`
	Status       RunStatus         `json:"status"`
	Trigger      Trigger           `json:"trigger"`
	Parameters   map[string]string `json:"parameters"`
	EventID      string            `json:"eventId,omitempty"`
	RestartOf    string            `json:"restartOf,omitempty"`
	TriggeredBy  string            `json:"triggeredBy,omitempty"`
	CancelledBy  string            `json:"cancelledBy,omitempty"`
	CancelReason string            `json:"cancelReason,omitempty"`
	ScheduledAt  *time.Time        `json:"scheduledAt,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
	StartedAt    *time.Time        `json:"startedAt,omitempty"`
	FinishedAt   *time.Time        `json:"finishedAt,omitempty"`
	Error        string            `json:"error,omitempty"`
	Progress     Progress          `json:"progress"`
	Node         string            `json:"node"`
	// Attempt is 1 for a first run and n+1 for its n-th retry; RetryOf
	// is the first run's id on a retry.
	Attempt int    `json:"attempt"`
	RetryOf string `json:"retryOf,omitempty"`
	// NotBefore is when a queued retry may start.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	// Slow says the run has gone on longer than its rule's warnAfter.
	Slow bool `json:"slow,omitempty"`
	// Attempts is the run's whole series, first run and retries, oldest
	// first (GET /runs/{id} only, and only for a series of more than one).
	Attempts []RunSummary `json:"attempts,omitempty"`
	// ParentRun is the run whose chain started this one (trigger "chain"),
	// kept by its retries.
	ParentRun string `json:"parentRun,omitempty"`
	// Chained are the runs this run's chains started, oldest first
	// (GET /runs/{id} only).
	Chained []RunSummary `json:"chained,omitempty"`
	// Output is the result the job recorded (jobs.SetOutput, or a command
	// job's JOBBRIDGE_OUTPUT_FILE): JSON of at most MaxOutputBytes, secret
	// values masked. Lists of runs leave it out; GET /runs/{id} and the
	// run.finished event carry it.
	Output json.RawMessage `json:"output,omitempty"`
}

// LogQuery selects a page of GET /runs/{id}/log: the lines after After, or
// after the page Cursor (a nextCursor) ends, at most Limit (0: the agent's
// default, 1,000).
type LogQuery struct {
	After  int64
	Cursor string
	Limit  int
}

// RunQuery filters GET /runs. Zero fields select everything.
type RunQuery struct {
	// Parent selects the runs whose chain parent is this run: the runs its
	// chains started and their retries.
	Parent string
	// Series selects a run and its retries: the first run's id.
	Series string
	// IDPrefix selects the runs whose id starts with it (see
	// ParseRunIDPrefix); IDSuffix those whose id ends with it (the
	// console shows the last 8 characters). :run ID looks for both.
	IDPrefix string
	IDSuffix string
	Statuses []RunStatus
	Job      string
	Rule     string
	Trigger  Trigger
	Since    time.Time
	Until    time.Time
	Limit    int
	Cursor   string
}

// RunCounts is the answer of GET /runs/counts: how many runs the query
// selects in each status, every status present (0 when none).
type RunCounts map[RunStatus]int64

// LogLine is one line of a run's log.
type LogLine struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// RunParams is the optional body of trigger and restart: parameter values
// that replace the rule's (or the restarted run's) for this run.
type RunParams struct {
	Parameters map[string]string `json:"parameters,omitempty"`
	// Force starts the run while maintenance is on.
	Force bool `json:"force,omitempty"`
}

// Maintenance is GET and PUT /maintenance. While On, scheduled fires and
// deliveries are recorded skipped (reason: maintenance), manual runs need
// force, queued runs wait, and running runs go on. It ends by itself at
// Until, when given.
type Maintenance struct {
	On     bool       `json:"on"`
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason,omitempty"`
	// By and Since say who turned it on and when (answers only).
	By    string     `json:"by,omitempty"`
	Since *time.Time `json:"since,omitempty"`
}

// CancelRequest is the optional body of POST /runs/{id}/cancel.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Status is GET /status.
type Status struct {
	Version   string              `json:"version"`
	Node      string              `json:"node"`
	Store     string              `json:"store"`
	Scheduler string              `json:"scheduler"`
	StartedAt time.Time           `json:"startedAt"`
	Jobs      int                 `json:"jobs"`
	Rules     int                 `json:"rules"`
	Runs      map[RunStatus]int64 `json:"runs"`
	Sync      SyncSummary         `json:"sync"`
	Webhook   bool                `json:"webhook"`
	// Maintenance is the maintenance mode, when on.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	// Missing counts enabled rules whose expected fire has not come
	// (the dead-man's switch).
	Missing int `json:"missing"`
	// Notifications is each notification channel's health.
	Notifications []ChannelStatus `json:"notifications"`
	// Role is what the caller's token may do.
	Role string `json:"role"`
	// Token names the caller's token (a console warns before revoking
	// the token it runs with).
	Token string `json:"token,omitempty"`
	// Agents are the agents that share the store (this one included),
	// from their heartbeats; one on SQLite.
	Agents []AgentStatus `json:"agents"`
}

// AgentStatus is one agent of a cluster as GET /status shows it.
type AgentStatus struct {
	Node        string    `json:"node"`
	URL         string    `json:"url,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	HeartbeatAt time.Time `json:"heartbeatAt"`
	// Alive says the agent holds its node lock now (PostgreSQL), or has
	// sent a heartbeat lately.
	Alive bool `json:"alive"`
	// Self marks the agent that answered.
	Self bool `json:"self,omitempty"`
}

// ChannelStatus is how a notification channel has fared: unhealthy after
// a message it could not send at all, until one goes through.
type ChannelStatus struct {
	Channel     string     `json:"channel"`
	Healthy     bool       `json:"healthy"`
	Sent        int        `json:"sent"`
	Failed      int        `json:"failed"`
	LastError   string     `json:"lastError,omitempty"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
	LastSentAt  *time.Time `json:"lastSentAt,omitempty"`
}

// NotifyPolicy is a rule's own choice of notifications. On lists the
// outcomes that notify (NotifyKinds: failed, cancelled, interrupted,
// timeout, recovered; [NotifyNone] for none; empty for the agent's
// default); Channels the channels (empty for all).
type NotifyPolicy struct {
	On       []string `json:"on,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

// SyncSummary counts rules per sync state.
type SyncSummary struct {
	Pending int `json:"pending"`
	Synced  int `json:"synced"`
	Error   int `json:"error"`
}

// SyncReport is POST /sync: what reconciling the scheduler backend with the
// stored rules found and did. Names are the stored rules' names, except
// Orphans, which are the backend's own. Lists are empty, never null.
type SyncReport struct {
	InStep  int      `json:"inStep"`  // stored rules the backend had as stored already
	Synced  []string `json:"synced"`  // stored rules put (again): missing in the backend or different there
	Failed  []string `json:"failed"`  // rules that could not be put or removed; a rule's sync state says why
	Deleted []string `json:"deleted"` // deleted rules removed from the backend now
	Orphans []string `json:"orphans"` // backend rules under the prefix, made by an agent, that no stored rule has
}

// AuditEntry is one change or action, with who did it.
type AuditEntry struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
	// Before and After are the rule as it was and as it became (a
	// RuleInput, secret values masked) for rule.create, rule.update,
	// rule.enable, rule.disable and rule.delete; absent for other actions
	// and for entries recorded before they existed.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// AuditQuery filters GET /audit. Zero fields select everything; Actor,
// Action and Target match exactly, except that Action rule.update also
// matches rule.replace (what older agents recorded for a PUT).
type AuditQuery struct {
	Actor  string
	Action string
	Target string
	Limit  int
	Cursor string
}

// Roles of API tokens, each allowed what the one before is and more.
const (
	RoleViewer   = "viewer"   // read
	RoleOperator = "operator" // also trigger, cancel, restart
	RoleAdmin    = "admin"    // also rules and tokens
)

// TokenInput creates a token.
type TokenInput struct {
	Name string `json:"name"`
	Role string `json:"role" enum:"viewer,operator,admin"`
}

// Token is an API token as listed; the secret is never shown again.
type Token struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// NewToken answers POST /tokens: the only time the secret is shown.
type NewToken struct {
	Token
	Secret string `json:"token"`
}

// Event is one message of GET /events (Server-Sent Events): the SSE "event"
// field is Type and its "id" is ID.
type Event struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
	RuleName string    `json:"ruleName,omitempty"`
	// Run is the run after the change (run.* events).
	Run *Run `json:"run,omitempty"`
	// Log is the line of a run.log event.
	Log *LogLine `json:"log,omitempty"`
	// Rule is the rule after a rule.created or rule.changed event.
	Rule *Rule `json:"rule,omitempty"`
	// Maintenance is the mode after a maintenance event.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
}

// The event types of GET /events.
const (
	EventRunQueued     = "run.queued"
	EventRunStarted    = "run.started"
	EventRunSkipped    = "run.skipped"
	EventRunProgress   = "run.progress"
	EventRunLog        = "run.log"
	EventRunCancelling = "run.cancelling"
	EventRunFinished   = "run.finished"
	// EventRunSlow: a run went on past its rule's warnAfter.
	EventRunSlow = "run.slow"
	// EventRunMissed: an expected fire did not come (a run "missed").
	EventRunMissed = "run.missed"
	// EventMaintenance: maintenance mode changed (Maintenance is set).
	EventMaintenance = "maintenance"
	EventRuleCreated = "rule.created"
	EventRuleChanged = "rule.changed"
	EventRuleDeleted = "rule.deleted"
	// EventReset tells a client that events were lost (its Last-Event-ID
	// is older than the agent remembers, or the agent restarted): it should
	// reload what it shows.
	EventReset = "reset"
)

// EventTypes are the event types of GET /events, in the order above.
var EventTypes = []string{
	EventRunQueued, EventRunStarted, EventRunSkipped, EventRunProgress, EventRunLog, EventRunCancelling,
	EventRunFinished, EventRunSlow, EventRunMissed, EventRuleCreated, EventRuleChanged, EventRuleDeleted,
	EventMaintenance, EventReset,
}

// RulesApply is the body of POST /rules/apply: the whole set of rules an
// agent should have, as a rules file declares it.
type RulesApply struct {
	// Rules are the rules to have, each as POST /rules takes it (name
	// required). Secret parameters hold their values (the command line
	// resolves a file's ${env:NAME} and ${file:PATH} references before it
	// sends them); the value api.MaskedValue keeps the stored one.
	Rules []RuleInput `json:"rules"`
	// Prune deletes the agent's rules that Rules lacks; without it they
	// are left alone (and listed as kept).
	Prune bool `json:"prune,omitempty"`
	// DryRun answers the plan and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// The actions of a plan's entries.
const (
	PlanCreate    = "create"
	PlanUpdate    = "update"
	PlanDelete    = "delete"
	PlanUnchanged = "unchanged"
	PlanKept      = "kept" // the agent has it, the file does not, and prune is off
)

// RulesPlan is the answer of POST /rules/apply: what it did (or, on a dry
// run, would do), one entry per rule, by name.
type RulesPlan struct {
	Changes []RuleChange `json:"changes"`
	// Applied is true when the plan was carried out (not a dry run, and
	// something changed).
	Applied bool `json:"applied"`
	// Create, Update, Delete and Unchanged count the entries of each
	// action.
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
}

// RuleChange is one rule's entry in a plan.
type RuleChange struct {
	Rule   string `json:"rule"`
	Action string `json:"action" enum:"create,update,delete,unchanged,kept"`
	// Fields are the differences of an update, in the rule's field order.
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field an update changes. From and To are the values
// as GET /rules shows them (JSON for lists and objects); a secret
// parameter's values are never shown, only that it changes.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}
