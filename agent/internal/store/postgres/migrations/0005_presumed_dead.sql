-- A run marked interrupted because its agent was presumed dead (another
-- agent's sweep, or its own restart) rather than by that agent itself: if the
-- agent was alive after all, the outcome it records replaces the guess.
ALTER TABLE runs ADD COLUMN interrupt_presumed BOOLEAN NOT NULL DEFAULT FALSE;

-- Whether the agent holds its node's advisory lock while it lives, so that
-- the others may take a free lock for its death (agents from before the lock
-- existed leave it false, and are judged by their heartbeat alone).
ALTER TABLE agents ADD COLUMN node_lock BOOLEAN NOT NULL DEFAULT FALSE;
