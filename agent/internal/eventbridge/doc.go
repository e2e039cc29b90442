// Package eventbridge is the agent's EventBridge scheduler backend: it keeps
// one EventBridge rule per stored rule in step with the store, and lets
// EventBridge call the agent's webhook through an API destination.
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
package eventbridge
