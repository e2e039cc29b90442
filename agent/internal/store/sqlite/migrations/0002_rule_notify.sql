-- A rule's own choice of notifications (JSON of store.NotifyPolicy; '' for
-- the agent's default).
ALTER TABLE rules ADD COLUMN notify TEXT NOT NULL DEFAULT '';
