-- Optimistic concurrency and the audit trail's before/after (issue 18).
-- A rule's version counts its stored changes, so that a writer can say
-- which one it read and be refused if another writer came first; the
-- rules stored before start at 1. An audit entry about a rule change
-- keeps the rule as it was and as it became (JSON, secrets masked).
ALTER TABLE rules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit ADD COLUMN before_rule TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN after_rule TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_action_id ON audit (action, id);
