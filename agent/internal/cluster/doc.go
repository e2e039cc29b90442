// Package cluster lets several agents share one PostgreSQL database:
//
//	     EventBridge / load balancer
//	      │          │          │
//	  agent A     agent B     agent C        each: webhook, API, runner
//	      │          │          │
//	      └────── PostgreSQL ───┘            runs, deliveries, agents
//	            LISTEN/NOTIFY
//	jobbridge_events  every agent's run and rule events, relayed
//	jobbridge_cancel  "stop run X", for whichever agent runs it
//
// Duplicate deliveries are already safe: the deliveries table lets exactly
// one agent record a run for an event id. What this package adds:
//
//   - Cancels: an agent asked to cancel a run it is not running records the
//     request and NOTIFYs the run id; the agent running it stops it.
//   - Events: each agent relays its own events, so every agent's stream
//     shows the runs of all agents. Payloads that would pass NOTIFY's size
//     limit drop their bulk and the receivers read it from the database.
//     Each message is numbered; a number skipped, a message that says its
//     sender lost events, or a LISTEN connection that dropped sends the
//     receiver's streams a reset, so a loss is never silent. An agent is
//     ready (/readyz) only once it listens.
//   - Liveness: each agent holds a session advisory lock named after its
//     node on a connection of its own, for its whole life. PostgreSQL frees
//     it the moment that session ends, so the lock tells a live agent from
//     a dead one at once: an agent restarted after a crash takes its
//     node's lock and starts with no wait (a live one of the same name
//     still refuses it), and the others mark the runs of an agent whose
//     lock is free interrupted at their next heartbeat. A heartbeat older
//     than the lease counts as death too.
//   - Outages: an agent that lost touch with PostgreSQL has no evidence
//     that the others died while it was away; after it reconnects it gives
//     them a fresh lease before judging. And a run marked interrupted for
//     a dead agent is only presumed so: if its agent lived after all, the
//     outcome it records replaces the guess.
//   - Leadership: in the local scheduler mode only the agent holding a
//     PostgreSQL advisory lock fires schedules (see scheduler.Config.Leader);
//     when it dies its session ends, the lock is free, and the next agent
//     to look takes over. A fire time's event id is derived from rule and
//     time, so even two leaders at once could not run it twice.
//
// SQLite serves one agent (its file is locked), so none of this runs there.
package cluster
