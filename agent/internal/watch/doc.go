// Package watch is the agent's dead-man's switch. It knows when each
// enabled rule should fire and notices when an expected fire has not
// arrived within a grace: it then records a run "missed" (its error says
// which fire and where to look), publishes api.EventRunMissed (which
// notifies and counts in /metrics), and reports the rule as missing until a
// run of the rule with a later or equal fire time arrives. It matters most
// in the EventBridge backends, where AWS may stop calling without a word (a
// deauthorized connection, a rule deleted or disabled in AWS, a wrong URL).
//
// What it expects, per rule, from rule.FireSchedule (zone, dates, at()):
//
//	exact     each fire time F; the fire has come when a run of the rule has a
//	          ScheduledAt in [F, F+window+1m), and not at or past the next fire
//	          time. The local scheduler records F itself; EventBridge records
//	          its event time, a few seconds after F, or within the flexible
//	          window. The deadline is F + flexible window + grace.
//	interval  rate() in the AWS backends without a start date: AWS counts the
//	          interval from when it got the rule, which the agent does not
//	          know, so each interval I from the rule's last change on must
//	          hold some fire: [S, S+I) by S + I + grace.
//
// Nothing is expected from before the watch started or the rule last
// changed (in AWS, a minute more, while the change spreads), for disabled or
// done rules, nor while maintenance mode is on.
//
// Cost: the next expectation of each rule is kept in memory and computed
// again only when the rule changes (rule events, and a full read every few
// minutes for changes the events missed). A check runs every Tick, or at
// the next deadline (but not within MinGap of the last): it gathers the
// expectations whose deadline has passed and reads the fires of their span
// with one query (store.RunFiresBetween), whatever the number of rules.
// Interval expectations are settled from the fires the agent has seen (run
// events, the checks' queries) and, only when none was seen, a read of the
// rule's latest runs.
//
// Several agents on one PostgreSQL each watch (each answers the API with
// what is missing); the missed run's event id, "missed:RULE:TIME", makes
// the store record it once, and only the agent that recorded it publishes
// the event, so a miss notifies once.
package watch
