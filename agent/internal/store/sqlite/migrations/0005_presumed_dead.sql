-- A run marked interrupted because its agent was presumed dead rather than
-- by that agent itself: the outcome the agent records replaces the guess.
ALTER TABLE runs ADD COLUMN interrupt_presumed INTEGER NOT NULL DEFAULT 0;

-- Whether the agent holds a node lock while it lives (PostgreSQL only; kept
-- for a schema that matches).
ALTER TABLE agents ADD COLUMN node_lock INTEGER NOT NULL DEFAULT 0;
