// Package eventbridge is the agent's AWS scheduler backend, in one of two
// modes. In ModeRules ("eventbridge") it keeps one scheduled EventBridge
// rule per stored rule in step with the store, and lets EventBridge call
// the agent's webhook through an API destination. In ModeScheduler
// ("scheduler") it keeps one EventBridge Scheduler schedule per stored rule
// instead (see "The scheduler mode" below); everything else (connection,
// destination, queue, state file, retries, leader, reconcile, prune) is the
// same code.
//
// What it owns in AWS, all found by name:
//
//	connection  EB_CONNECTION_NAME   API_KEY auth: header EB_AUTH_HEADER = EB_API_KEY
//	destination EB_DESTINATION_NAME  POST EB_TARGET_URL/webhook/run through the connection
//	rules       EB_RULE_PREFIX+name  on the default bus, tagged jobbridge:managed=<prefix>,
//	                                 one target (id "jobbridge") = the destination
//
// At start (Run) it ensures the connection and the destination: it creates
// what is missing, updates in place what differs and leaves alone what
// matches. AWS never gives an API key back, so the state file keeps a hash
// of the key and header last applied (with the connection's ARN); the
// connection is updated only when that hash changes, and a restart with the
// same settings makes no write calls.
//
// Rule changes never wait on AWS. RuleChanged and RuleDeleted record the
// rule's sync state as pending and queue its name; one background worker
// takes names off the queue and makes AWS match the store as it is then
// (level-triggered: a rule deleted and created again under the same name is
// simply put). A failure that may pass (throttling, a 5xx, the network, a
// concurrent modification) is retried with exponential backoff, longer when
// AWS throttles; others end in the sync state "error" with AWS's message, and
// the next reconcile tries again.
//
//	RuleChanged ─┐                  ┌─ PutRule + PutTargets ─ synced (ARN)
//	             ├─ pending, queue ─┤
//	RuleDeleted ─┘   (+ state file) └─ RemoveTargets + DeleteRule
//
// Deletes survive a restart: RuleDeleted also writes the name to the state
// file's pending deletes, removed only once AWS has no such rule. At start
// the names still there are queued again. Without that record a restart
// would leave the AWS rule firing into a webhook that answers 404, and only
// a prune would remove it.
//
// Of several agents on one PostgreSQL only the leader (Config.Leader)
// writes to AWS and reconciles; the others record changes as pending. The
// state file is per data dir, so an agent that takes over and has no hash
// yet sets the connection's key once.
//
// Reconcile (at start, every ReconcileInterval, and on demand) lists the
// rules under the prefix and corrects every stored rule that is missing or
// differs in schedule, state, description or target. Rules under the prefix
// that carry this agent's tags but are not in the store are orphans: they are
// listed, and deleted only by Prune (`agent aws prune --yes`). Nothing outside
// the prefix is read or written, so several projects can share an account.
//
// # The scheduler mode
//
// Scheduled EventBridge rules run in UTC only. EventBridge Scheduler has
// time zones, at() one-time schedules, start and end dates and flexible
// windows, but cannot call an API destination. So a fire takes two hops:
//
//	schedule GROUP/NAME ── PutEvents ──▶ bus EB_EVENT_BUS ── relay rule ──▶ API destination ──▶ POST /webhook/run
//	 (Scheduler, as role                 detail {"rule": PREFIX+NAME,        PREFIX+"scheduler-relay",
//	  EB_SCHEDULER_ROLE_ARN)              "group": GROUP, "scheduledTime"}   pattern: source, detail-type, group
//
// What it owns in AWS besides the connection and the destination:
//
//	group    EB_RULE_PREFIX without its trailing '-', '_', '.' ("jb-" → "jb";
//	         "jobbridge" for no prefix), tagged jobbridge:managed=<prefix> and
//	         jobbridge:destination=<destination>. Schedules cannot be tagged:
//	         the group's tags mark all in it as this agent's. A group of the
//	         name whose managed tag is not this prefix (or missing) is refused,
//	         never used; a destination tag that differs (the destination was
//	         renamed) is set again.
//	schedules one per stored rule, named as the rule, in the group: the
//	         expression, ScheduleExpressionTimezone (the rule's zone), start
//	         and end dates, FlexibleTimeWindow (OFF, or FLEXIBLE for the
//	         window in whole minutes), ENABLED/DISABLED, the description,
//	         and ActionAfterCompletion DELETE for at() (AWS deletes a
//	         one-time schedule once it has run), NONE otherwise. The target
//	         is the bus (EventBridgeParameters source EventSource, detail
//	         type EventDetailType) with the detail above; Scheduler replaces
//	         <aws.scheduler.scheduled-time> with the fire's scheduled time.
//	relay    one EventBridge rule on the bus, PREFIX+"scheduler-relay",
//	         tagged as the rules are, matching only this group's events,
//	         whose target is the API destination with RelayInputTemplate:
//	         {"rule": <rule>, "eventId": "scheduler:<rule>:<time>", "time": <time>}.
//
// The event id is the rule and the scheduled time, the same for every
// attempt at one fire: a retry by Scheduler (PutEvents failed) or by
// EventBridge (the webhook did not answer) reaches the webhook with the id
// of the first, and the webhook runs a fire once. (EventBridge inserts a
// placeholder inside a quoted string bare, as its InputTransformer reference
// shows; the rule names and times hold nothing to escape.)
//
// A schedule is written only when it differs: GetSchedule, compare, and
// UpdateSchedule (which replaces every field, so all are sent) or
// CreateSchedule. Two things are not sent as stored. A start date that has
// passed: AWS refuses one more than 5 minutes ago, so none is sent for
// cron() and at(), and for rate() the first fire time from now on the
// start's grid (the fires stay where the start put them). And a rule that
// can fire no more (an at() whose time has come, a rule past its end date)
// is never created or changed again, only deleted: AWS deleted the at()
// schedule after it ran, and making it again would run it again. Its sync
// state is synced.
//
// Reconcile lists the group's schedules, corrects the stored rules' as
// above, applies the deletes left, and reports as orphans the schedules in
// the group no stored rule has (named GROUP/NAME) and the EventBridge rules
// under the prefix on the default bus that carry this agent's tags other
// than the relay: what the rules mode left, which would fire every rule a
// second time. Prune deletes both. The other way round, Orphans and Prune
// in rules mode also list the schedules in the agent's group (only when the
// group is this agent's, and saying so, not failing, without Scheduler
// permissions), and the relay rule, on the default bus, is one of the
// rules mode's orphans: so after a switch either way, `agent aws prune
// --yes` in the new mode removes what the old one left.
//
// Scheduler's errors are classified as EventBridge's: ThrottlingException
// backs off longer, ConflictException (a concurrent change, or a schedule
// made since the agent looked) and InternalServerException are retried,
// ValidationException and ServiceQuotaExceededException end in the sync
// state error with AWS's message (the next reconcile tries again), and
// ResourceNotFoundException is how a missing schedule or group is found.
package eventbridge
