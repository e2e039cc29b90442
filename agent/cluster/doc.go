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
//   - Liveness: each agent writes a heartbeat; an agent that finds another
//     silent for longer than the lease marks that agent's runs interrupted.
//   - Leadership: in the local scheduler mode only the agent holding a
//     PostgreSQL advisory lock fires schedules (see scheduler.Config.Leader);
//     when it dies its session ends, the lock is free, and the next agent
//     to look takes over. A fire time's event id is derived from rule and
//     time, so even two leaders at once could not run it twice.
//
// SQLite serves one agent (its file is locked), so none of this runs there.
package cluster
