// Package store defines how the agent keeps rules, runs, run logs, delivered
// event ids, API tokens and its audit trail. The Store interface has one
// implementation per database (store/sqlite, store/postgres); each is the only
// package that imports its driver and translates driver errors into the errors
// of this package. The conformance suite in store/storetest runs against both.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

var (
	// ErrNotFound is returned when the rule, run or token asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write collides with what is stored: a rule
	// or token name that is taken, or a run that is no longer in the state the
	// change needs.
	ErrConflict = errors.New("conflict")
	// ErrSchemaTooNew is returned by Open when the database was migrated by a
	// newer agent than this one.
	ErrSchemaTooNew = errors.New("database schema is newer than this agent")
	// ErrUnavailable is returned when the database cannot be reached.
	ErrUnavailable = errors.New("database unavailable")
	// ErrStale is returned when a write names the version of a rule it
	// expects and the stored rule has another: someone changed it since
	// the writer read it. The error is a *StaleError.
	ErrStale = errors.New("stale version")
)

// StaleError is a write refused because the rule's version is not the
// one expected. It matches ErrStale.
type StaleError struct {
	Rule     string
	Expected int64 // the version the writer expected
	Current  int64 // the version stored
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("rule %q is at version %d, not %d: %s", e.Rule, e.Current, e.Expected, ErrStale)
}

// Is makes a StaleError match ErrStale.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// Store is everything the agent keeps. Methods take a context first and
// return the errors above, wrapped with what was being done.
type Store interface {
	// Kind names the database: "sqlite" or "postgres".
	Kind() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	RuleCreate(ctx context.Context, r Rule) (Rule, error)   // ErrConflict if the name is taken
	RuleGet(ctx context.Context, name string) (Rule, error) // ErrNotFound
	RuleList(ctx context.Context) ([]Rule, error)           // by name
	// RuleUpdate replaces all of a rule but its CreatedAt and Version,
	// and returns it as stored, its Version one more than before. When
	// r.Version is not 0 the stored rule must be at that version, checked
	// in the same statement as the write (of two writers that read one
	// version, one wins), or a *StaleError (ErrStale) says which it is.
	// ErrNotFound if the rule does not exist.
	RuleUpdate(ctx context.Context, r Rule) (Rule, error)
	RuleDelete(ctx context.Context, name string) error // ErrNotFound
	// RuleDeleteIf is RuleDelete when the stored rule is at version (any
	// version when it is 0), checked in the delete itself; a *StaleError
	// (ErrStale) otherwise.
	RuleDeleteIf(ctx context.Context, name string, version int64) error
	RuleSetSync(ctx context.Context, name string, s Sync) error // ErrNotFound

	// RunCreate records a new run. With a non-empty EventID it is recorded
	// only if no run was recorded for that event id before; otherwise the
	// earlier run is returned with created false. With SkipIfActive, a run of
	// the same rule that is still active turns the new run into a skipped one
	// (status skipped, finished at once). Both checks and the insert are one
	// transaction, so concurrent duplicate deliveries make exactly one run.
	RunCreate(ctx context.Context, p RunCreateParams) (run Run, created bool, err error)
	RunGet(ctx context.Context, id string) (Run, error) // ErrNotFound
	// RunList lists runs newest first. The cursor is the id of the last run
	// of the previous page, so pages stay correct while new runs arrive.
	RunList(ctx context.Context, f RunFilter) (runs []Run, nextCursor string, err error)
	// RunSetCancelling moves an active run to cancelling and records who
	// asked and why; a queued run, which has no job to stop, it finishes
	// cancelled at once. ErrConflict if the run has finished.
	RunSetCancelling(ctx context.Context, id, by, reason string) (Run, error)
	// RunSetProgress records a job's progress report on an active run (or
	// one presumed interrupted, whose agent may well be running it).
	RunSetProgress(ctx context.Context, id string, p api.Progress) error
	// RunFinish records a run's final state, with the log lines and
	// progress given with it. ErrConflict if it has finished
	// already, so a final state is written once, with one exception: a run
	// that RunInterruptActive marked interrupted was only presumed dead, and
	// the outcome of the agent that really ran it replaces that guess (an
	// agent cut off from the database, or from the others, for longer than
	// the lease is swept but alive).
	RunFinish(ctx context.Context, p RunFinishParams) (Run, error)
	// RunInterruptActive marks every active run of node (of any node when node
	// is empty) interrupted with the given error, and returns them. They are
	// presumed interrupted: see RunFinish.
	RunInterruptActive(ctx context.Context, node, reason string, at time.Time) ([]Run, error)
	// RunProcessSet records the process group a run's job started on the
	// run's node (replacing one recorded before), whatever the run's state:
	// if the agent dies while the group runs, the next agent to start on that
	// node stops it (see RunProcess). ErrNotFound if there is no such run.
	RunProcessSet(ctx context.Context, p RunProcess) error
	// RunProcessList lists the process groups recorded with runs of node (of
	// any node when node is empty), by run id.
	RunProcessList(ctx context.Context, node string) ([]RunProcess, error)
	// RunProcessForget forgets the process groups recorded with these runs:
	// they have been stopped or found gone. Unknown ids are ignored.
	RunProcessForget(ctx context.Context, runIDs []string) error
	// RuleHealthList reads, in one go, how the named rules' runs have gone
	// (see RuleHealth), keyed by rule name; a name without runs maps to a
	// zero RuleHealth. It reads a bounded number of index entries per
	// rule, however many runs a rule has.
	RuleHealthList(ctx context.Context, names []string) (map[string]RuleHealth, error)
	// RunCountByStatus counts the runs the filter selects (its Limit and
	// Cursor aside) per status, in one grouped query; every status is in
	// the map, with 0 when it has none.
	RunCountByStatus(ctx context.Context, f RunFilter) (map[api.RunStatus]int64, error)
	// RunPrune deletes finished runs created before the given time, with
	// their log lines and delivery records, and says how many runs went.
	RunPrune(ctx context.Context, before time.Time) (int64, error)

	// RunClaim starts queued runs that may start now, oldest first: their
	// NotBefore has passed, no run of their rule is active or queued
	// before them if they are Serial, and their job's limit has room. Each
	// becomes running on p.Node with StartedAt now, and is returned. Agents
	// claiming at once never claim one run twice nor overfill a limit.
	RunClaim(ctx context.Context, p RunClaimParams) ([]Run, error)
	// RunFiresBetween lists the scheduled fires (runs with a ScheduledAt,
	// whatever their state) with from <= ScheduledAt < to.
	RunFiresBetween(ctx context.Context, from, to time.Time) ([]FireSeen, error)

	// MaintenanceGet returns the maintenance mode (off if never set).
	MaintenanceGet(ctx context.Context) (Maintenance, error)
	// MaintenanceSet records the maintenance mode.
	MaintenanceSet(ctx context.Context, m Maintenance) error

	// RunLogAppend stores log lines of a run; each gets the next sequence
	// number of that run, starting at 1.
	RunLogAppend(ctx context.Context, runID string, lines []LogLine) error
	// RunLogList returns up to limit lines of a run with Seq > afterSeq, in
	// order; limit is capped at 10,001 (the API's largest page and one line
	// more, to tell whether a next page exists), 1,000 when not positive.
	RunLogList(ctx context.Context, runID string, afterSeq int64, limit int) ([]LogLine, error)

	TokenCreate(ctx context.Context, t Token) error                 // ErrConflict if the name is taken
	TokenGetByHash(ctx context.Context, hash string) (Token, error) // ErrNotFound
	TokenList(ctx context.Context) ([]Token, error)                 // by name
	TokenDelete(ctx context.Context, name string) error             // ErrNotFound
	TokenTouch(ctx context.Context, name string, at time.Time) error

	AuditAppend(ctx context.Context, e AuditEntry) error
	// AuditList lists entries newest first; the cursor is the last entry's ID.
	AuditList(ctx context.Context, f AuditFilter) (entries []AuditEntry, nextCursor string, err error)

	// Exec runs one statement on the agent's own database (for the built-in
	// SQL job's demo table) and returns the rows affected. Placeholders are
	// written $1, $2, ... on both databases.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// SecretsSupport is what the layer that keeps secret parameters encrypted
// at rest (package agent/secrets) needs of a database besides Store: a place
// to record facts about the database (such as which key encrypts it), and a
// way to rewrite stored parameters safely while other agents run. The SQLite
// and PostgreSQL stores implement it; that layer, which is what the agent
// uses, does not, so nothing above it reaches a stored ciphertext.
type SecretsSupport interface {
	// MetaGet returns the value recorded under name, or ErrNotFound.
	MetaGet(ctx context.Context, name string) (string, error)
	// MetaInit records value under name unless a value is recorded there
	// already, and returns the value recorded now. Of agents that call it
	// at once, the first one's value stays and every one learns which.
	MetaInit(ctx context.Context, name, value string) (string, error)
	// RuleRewriteParams calls fn with every rule as stored, in one
	// transaction that keeps other writers of rules out, and stores the
	// parameters fn returns for the rules it reports changed; the rest of a
	// rule, UpdatedAt included, stays as it is. It returns how many rules
	// changed. An error from fn rolls everything back. On SQLite the old
	// values are overwritten in the file, not just left in free space.
	RuleRewriteParams(ctx context.Context, fn func(r Rule) (params map[string]string, changed bool, err error)) (int, error)
}

// Cluster is what a store shared by several agents (PostgreSQL) offers
// besides storage: messages between agents, their liveness, and which one
// leads the local scheduler. SQLite, which serves one agent, lacks it.
type Cluster interface {
	// Notify sends payload (at most MaxNotifyPayload bytes) to every agent
	// listening on channel, itself included.
	Notify(ctx context.Context, channel, payload string) error
	// Listen calls fn for every notification on the channels until ctx is
	// done. It calls fn(Listening, "") once it first listens (a
	// notification sent from then on reaches fn). When the connection
	// drops it calls fn(Disconnected, ""), reconnects, and calls
	// fn(Reconnected, "") once it listens again, so the caller can catch up
	// on what it missed in between.
	Listen(ctx context.Context, channels []string, fn func(channel, payload string)) error
	// NodeLock takes, or keeps, the lock that says an agent named node is
	// alive: a lock held by a database session of its own for the agent's
	// life, which the database frees the moment that session ends (the
	// agent died, or lost its connection). Call it at start and then
	// regularly: if the session dropped, it takes the lock again on a new
	// one and says so. An error wrapping ErrConflict means another session
	// holds the lock: another live agent of that name. A store holds the
	// lock of one node at most; Close releases it.
	NodeLock(ctx context.Context, node string) (NodeLockState, error)
	// AgentHeartbeat records that an agent is alive.
	AgentHeartbeat(ctx context.Context, a AgentInfo) error
	// AgentList lists the agents that have sent a heartbeat, each with
	// whether its node lock is held now.
	AgentList(ctx context.Context) ([]AgentInfo, error)
	// AgentDelete forgets an agent.
	AgentDelete(ctx context.Context, node string) error
	// Leader takes the scheduler leadership if it is free, or keeps it, and
	// reports whether this store holds it. The leadership lives on one
	// connection: if it drops, another agent can take over.
	Leader(ctx context.Context) (bool, error)
}

// The pseudo-channels on which Listen reports the state of its connection
// (no channel is named so: NOTIFY channels are non-empty identifiers).
const (
	Reconnected  = ""
	Listening    = "\x00listening"
	Disconnected = "\x00disconnected"
)

// NodeLockState is what NodeLock found.
type NodeLockState struct {
	// Renewed says the lock was taken again on a new session because the
	// one before had dropped: this agent lost touch with the database.
	Renewed bool
	// ServerUptime is how long the database server has been up. Sessions,
	// and the locks they held, did not outlive its last start.
	ServerUptime time.Duration
}

// MaxNotifyPayload is the largest payload Notify sends (PostgreSQL's limit
// is 8,000 bytes).
const MaxNotifyPayload = 7000

// AgentInfo is an agent as others see it.
type AgentInfo struct {
	Node        string
	URL         string
	StartedAt   time.Time
	HeartbeatAt time.Time
	// NodeLock says the agent holds its node lock (see Cluster.NodeLock)
	// while it lives; agents from before the lock existed do not.
	NodeLock bool
	// Alive says a session holds the node's lock now (AgentList sets it).
	Alive bool
}

// Sync is a rule's state in the scheduler backend (EventBridge).
type Sync struct {
	State string // "", "pending", "synced", "error"
	Error string
	ARN   string
	At    time.Time
}

// NotifyPolicy is a rule's own choice of notifications. Empty On means the
// agent's default; ["none"] means none. Empty Channels means every channel.
type NotifyPolicy struct {
	On       []string `json:"on,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

// Rule is a schedule that fires a job with parameters.
type Rule struct {
	Name     string
	Job      string
	Schedule string // cron(...), rate(...) or at(...), in canonical form
	// Timezone is the IANA zone cron() and at() are evaluated in; "UTC"
	// (never empty once stored).
	Timezone string
	// StartDate and EndDate bound the fires (zero: none); rate() counts
	// from StartDate when it is set.
	StartDate, EndDate time.Time
	// FlexibleWindow is how long after each fire time the run may start
	// (0: exactly at the fire time).
	FlexibleWindow time.Duration
	Enabled        bool
	Parameters     map[string]string // real values, secrets included
	Description    string
	Timeout        time.Duration // 0: none
	Overlap        api.Overlap
	Notify         NotifyPolicy
	// Policy is how the rule's runs are kept reliable (issue 16).
	Policy    RunPolicy
	Chains    api.Chains // the rules its runs trigger when they end
	Sync      Sync
	CreatedAt time.Time // also the anchor of rate() schedules
	UpdatedAt time.Time
	// Version counts the stored changes of the rule: 1 once created, one
	// more at each RuleUpdate (RuleSetSync and RuleRewriteParams, which
	// change nothing the rule says, leave it). Given to RuleUpdate it is
	// the version the write expects (0: any).
	Version int64
}

// RunPolicy is what a rule asks of its runs beyond running them: retries,
// catch-up after downtime, a bound on late deliveries and a slow-run
// warning. It is stored with the rule as one JSON document; durations are
// nanoseconds there. The zero value asks for nothing.
type RunPolicy struct {
	Retry *RetryPolicy `json:"retry,omitempty"`
	// CatchUp is api.CatchUpNone, Latest or All ("" is none); the fires
	// inside CatchUpWindow are caught up.
	CatchUp       api.CatchUp   `json:"catchUp,omitempty"`
	CatchUpWindow time.Duration `json:"catchUpWindow,omitempty"`
	// MaxLateness: 0 for no bound.
	MaxLateness time.Duration `json:"maxLateness,omitempty"`
	// WarnAfter: 0 for no warning.
	WarnAfter time.Duration `json:"warnAfter,omitempty"`
}

// RetryPolicy retries a failed or timed-out run Attempts more times: the
// n-th retry waits Backoff·2^(n-1), at most MaxBackoff, less a random part
// of Jitter (0–1) of it.
type RetryPolicy struct {
	Attempts   int           `json:"attempts"`
	Backoff    time.Duration `json:"backoff,omitempty"`
	MaxBackoff time.Duration `json:"maxBackoff,omitempty"`
	Jitter     float64       `json:"jitter,omitempty"`
}

// Maintenance is the agent's (on PostgreSQL: the cluster's) maintenance
// mode. The zero value is off.
type Maintenance struct {
	On     bool      `json:"on"`
	Until  time.Time `json:"until,omitzero"` // zero: until turned off
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// LastFrom and LastTo bound the last maintenance that ended (zero:
	// none), so that catch-up does not run the fires it skipped.
	LastFrom time.Time `json:"lastFrom,omitzero"`
	LastTo   time.Time `json:"lastTo,omitzero"`
}

// Ended is the mode once m, which was on, has ended at end.
func (m Maintenance) Ended(end time.Time) Maintenance {
	if !m.On {
		return m
	}
	return Maintenance{LastFrom: m.Since, LastTo: end}
}

// Covered reports whether maintenance was, or is, on at t: within the
// last window that ended, or since the current one began.
func (m Maintenance) Covered(t time.Time) bool {
	if m.On && !t.Before(m.Since) && (m.Until.IsZero() || t.Before(m.Until)) {
		return true
	}
	return !m.LastTo.IsZero() && !t.Before(m.LastFrom) && t.Before(m.LastTo)
}

// Run is one execution of a job. Its JSON form is how agents relay runs to
// each other (package cluster): names that match the fields' (as
// encoding/json matches them, ignoring case), empty fields left out.
type Run struct {
	ID           string            `json:"id"` // UUIDv7: sorts by creation
	Rule         string            `json:"rule,omitempty"`
	Job          string            `json:"job,omitempty"`
	Status       api.RunStatus     `json:"status,omitempty"`
	Trigger      api.Trigger       `json:"trigger,omitempty"`
	Parameters   map[string]string `json:"parameters,omitempty"` // secrets masked
	EventID      string            `json:"eventID,omitempty"`
	RestartOf    string            `json:"restartOf,omitempty"`
	TriggeredBy  string            `json:"triggeredBy,omitempty"`
	CancelledBy  string            `json:"cancelledBy,omitempty"`
	CancelReason string            `json:"cancelReason,omitempty"`
	Node         string            `json:"node,omitempty"`
	ScheduledAt  time.Time         `json:"scheduledAt,omitzero"` // the fire time a scheduled run is for; zero otherwise
	CreatedAt    time.Time         `json:"createdAt,omitzero"`
	StartedAt    time.Time         `json:"startedAt,omitzero"`  // zero until started (a skipped run never starts)
	FinishedAt   time.Time         `json:"finishedAt,omitzero"` // zero while active
	Error        string            `json:"error,omitempty"`
	Progress     api.Progress      `json:"progress,omitzero"`
	// Attempt is 1 for a first run, n+1 for its n-th retry (0 is read as
	// 1); RetryOf is the first run's id on a retry.
	Attempt int    `json:"attempt,omitempty"`
	RetryOf string `json:"retryOf,omitempty"`
	// NotBefore is when a queued run may start (zero: at once).
	NotBefore time.Time `json:"notBefore,omitzero"`
	// Serial says a queued run waits until no other run of its rule is
	// active or queued before it (the rule's overlap was "queue").
	Serial bool `json:"serial,omitempty"`
	// WarnAfter is the rule's warnAfter when the run was created: past it
	// the running run is slow.
	WarnAfter time.Duration `json:"warnAfter,omitempty"`
	// ParentRun is the run whose chain created this one (or the first
	// attempt of this retry); ChainDepth is how many chained runs lead to
	// it (0 for a run no chain started).
	ParentRun  string `json:"parentRun,omitempty"`
	ChainDepth int    `json:"chainDepth,omitempty"`
	// Output is what the job recorded as its result (JSON, secrets
	// masked). RunGet reads it and RunFinish stores it; RunList and the
	// other calls leave it empty, as it may be large.
	Output json.RawMessage `json:"output,omitempty"`
}

// Slow reports whether the run, at now, has gone on past its WarnAfter.
func (r Run) Slow(now time.Time) bool {
	return r.Status.Active() && r.WarnAfter > 0 && !r.StartedAt.IsZero() && now.Sub(r.StartedAt) > r.WarnAfter
}

// RunProcess is a process group a run's job started, as recorded with the
// run: enough for an agent on the same machine to find the group after the
// agent that started it died, and to tell it from an unrelated group that
// has taken its number since (a group id is a process id, and those are
// reused).
type RunProcess struct {
	RunID string
	PGID  int // the group's id: its leader's process id
	// StartTime is when the leader started, in clock ticks since boot
	// (Linux: /proc/PID/stat, field 22); 0 when unknown.
	StartTime uint64
	// BootID names the machine's boot the group started in (Linux:
	// /proc/sys/kernel/random/boot_id); after a reboot nothing of it is left.
	BootID string
	// Tag is a NAME=value environment entry that every process of the group
	// inherits, to know the group by once its leader has gone; "" for none.
	Tag string
}

// RunCreateParams is what RunCreate needs. Status is running; skipped or
// missed for a run recorded only to say a fire was not run; or queued for a
// run that is to start later (a retry with NotBefore).
type RunCreateParams struct {
	Run          Run
	SkipIfActive bool
	// QueueIfActive (overlap "queue") records a running run queued, and
	// Serial, when another run of the same rule is active or queued.
	QueueIfActive bool
	// JobLimit, when positive, is the most runs of the job active at once
	// across all agents: a running run beyond it, or behind an earlier
	// queued run of the job, is recorded queued.
	JobLimit int
}

// RunClaimParams selects queued runs to start on Node (see RunClaim).
type RunClaimParams struct {
	Node string
	Now  time.Time
	// JobLimits bounds the active runs per job, across all agents.
	JobLimits map[string]int
	// Triggers, when not empty, restricts the claim to runs of these
	// triggers (maintenance lets only operators' runs start).
	Triggers []api.Trigger
	// Max is how many runs to claim at most (default 100).
	Max int
}

// RunFinishParams records the end of a run.
type RunFinishParams struct {
	ID         string
	Status     api.RunStatus // a terminal state
	Error      string
	FinishedAt time.Time
	// CancelledBy and CancelReason, when set, record who or what cancelled
	// the run (a timeout, a shutdown) if that was not recorded before.
	CancelledBy, CancelReason string
	// Log holds lines the run logged that are not stored yet, and Progress
	// its last progress report when that is not stored yet: they are
	// stored with the finish, in the same transaction (a short run's log
	// costs no write of its own). The lines are numbered after those
	// stored before, as RunLogAppend numbers them. Nothing of them is
	// stored when the finish is refused.
	Log      []LogLine
	Progress *api.Progress
	// Then, when set, is a run created in the same transaction as the
	// finish, and only if the finish is recorded and ThenFollows the run
	// as finished: the retry of a failed run, queued with its NotBefore.
	// Its id is set by the store.
	Then *Run
	// Output is the result the job recorded, stored with the finish.
	Output json.RawMessage
	// Chained are runs created in the same transaction as the finish when
	// it is recorded and the series ends there (Then does not follow):
	// the runs the rule's chains start. Their ids are set by the store.
	// Each is queued (the default), skipped, or failed: one that could not
	// be made, recorded finished as it is created.
	Chained []Run
}

// ChainedFollow reports whether p.Chained are created after the finish
// that recorded run: when no retry follows it.
func (p RunFinishParams) ChainedFollow(run Run) bool {
	return len(p.Chained) > 0 && !p.ThenFollows(run)
}

// ThenFollows reports whether p.Then is created after the finish that
// recorded run: not when someone other than the finish's own canceller (a
// timeout) had asked to cancel the run, as an operator does from another
// agent before the job, failing on its own, heard of it. An operator's
// cancel ends a series of retries.
func (p RunFinishParams) ThenFollows(run Run) bool {
	return p.Then != nil && (run.CancelledBy == "" || run.CancelledBy == p.CancelledBy)
}

// HealthStatuses are the statuses of runs that ran and ended, which
// RuleHealth.Recent counts (skipped and missed fires, and runs not ended,
// are left out).
var HealthStatuses = []api.RunStatus{api.StatusSucceeded, api.StatusFailed, api.StatusCancelled, api.StatusInterrupted}

// EndedLater says whether a run that ended in status at at ended after
// one that ended in than at thanAt, which is what a rule's last ended
// status follows (RuleHealth.LastEnded), whichever order the runs were
// created or their ends reported in. Of two ends at the same instant the
// worse one counts as the later (failed, interrupted, cancelled, then
// succeeded), so that every reader picks the same one and an alert sees
// the failure; "" is earlier than any status.
func EndedLater(status api.RunStatus, at time.Time, than api.RunStatus, thanAt time.Time) bool {
	if than == "" || at.After(thanAt) {
		return status != ""
	}
	return at.Equal(thanAt) && endRank(status) > endRank(than)
}

// endRank orders the statuses of ends at the same instant for EndedLater.
func endRank(s api.RunStatus) int {
	switch s {
	case api.StatusFailed:
		return 4
	case api.StatusInterrupted:
		return 3
	case api.StatusCancelled:
		return 2
	case api.StatusSucceeded:
		return 1
	}
	return 0
}

// RuleHealth is how a rule's runs have gone.
type RuleHealth struct {
	// LastRun is the rule's newest run, whatever its state (nil: none).
	LastRun *Run
	// LastSuccess and LastFailure are when the rule's succeeded runs and
	// its failed runs last finished (the latest FinishedAt, whatever order
	// the runs were created in); zero when none.
	LastSuccess, LastFailure time.Time
	// LastEnded is the status of the run in HealthStatuses that finished
	// last, at LastEndedAt (see EndedLater for a tie); "" when none.
	LastEnded   api.RunStatus
	LastEndedAt time.Time
	// Recent are the rule's last api.HealthWindow runs in HealthStatuses,
	// oldest first.
	Recent []HealthRun
}

// HealthRun is one run of RuleHealth.Recent.
type HealthRun struct {
	ID                    string
	Status                api.RunStatus
	StartedAt, FinishedAt time.Time // StartedAt is zero for a run that never started
}

// Duration is how long the run ran, start to finish (0 if it never
// started).
func (h HealthRun) Duration() time.Duration {
	if h.StartedAt.IsZero() || h.FinishedAt.Before(h.StartedAt) {
		return 0
	}
	return h.FinishedAt.Sub(h.StartedAt)
}

// FireSeen is a fire of a rule the store has a run for (see
// RunFiresBetween).
type FireSeen struct {
	Rule        string
	ScheduledAt time.Time
	// Status is the run's state: a missed run records a fire that did
	// not come, which the dead-man's switch must not take for one.
	Status api.RunStatus
}

// RunFilter selects runs. Zero fields select everything.
type RunFilter struct {
	// Series selects the run with this id and its retries.
	Series string
	// IDPrefix selects the runs whose id starts with it, byte by byte
	// (see api.ParseRunIDPrefix). Both stores read it as a range of the
	// primary key, which compares bytes, so it costs what the matches
	// cost.
	IDPrefix string
	// IDSuffix selects the runs whose id ends with it, ids being 36
	// characters (UUIDv7 text). Its usual length, 8 (what the console
	// shows), is read through an index on the ids' last 8 characters.
	IDSuffix string
	Parent   string // the runs whose ParentRun is this
	Statuses []api.RunStatus
	Job      string
	Rule     string
	Trigger  api.Trigger
	Since    time.Time // created at or after
	Until    time.Time // created before
	Node     string
	Limit    int    // default 50, at most 1000
	Cursor   string // list runs with ID < Cursor
}

// LogLine is one line a job logged.
type LogLine struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"` // "debug", "info", "warn", "error"
	Message string    `json:"message"`
}

// Role is what an API token may do.
type Role string

// The roles, each allowed what the one before is and more.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Token is an API token. Only a hash of the secret is stored.
type Token struct {
	Name       string
	Role       Role
	Hash       string // hex SHA-256 of the token
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// AuditEntry records who changed what.
type AuditEntry struct {
	ID     string // UUIDv7, set by AuditAppend when empty
	Time   time.Time
	Actor  string // token name, "eventbridge", "scheduler", "system"
	Action string // "rule.create", "run.cancel", ...
	Target string // rule name, run id, token name
	Detail string
	// Before and After are the rule before and after a change of a rule
	// (JSON, an api.RuleInput with secret values masked); empty otherwise.
	Before, After json.RawMessage
}

// AuditFilter selects audit entries; non-empty fields match exactly,
// except that Action rule.update also matches rule.replace, the name older
// agents gave it, and the other way round.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	Limit  int
	Cursor string
}

// FireSchedule is the rule's schedule as it fires: parsed, in the rule's
// zone, between its dates, with rate() counting from anchor unless the rule
// has a start date.
func (r Rule) FireSchedule(anchor time.Time) (*schedule.Schedule, error) {
	s, err := schedule.Parse(r.Schedule)
	if err != nil {
		return nil, fmt.Errorf("rule %q: schedule: %w", r.Name, err)
	}
	loc, err := schedule.LoadLocation(r.Timezone)
	if err != nil {
		return nil, fmt.Errorf("rule %q: time zone: %w", r.Name, err)
	}
	return s.WithAnchor(anchor).In(loc).Between(r.StartDate, r.EndDate), nil
}
