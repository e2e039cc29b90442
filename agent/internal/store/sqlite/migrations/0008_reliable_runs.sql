-- Runs you can rely on (issue 16). A rule's run policy (retry, catch-up,
-- lateness bound, slow-run warning) is one JSON document. A run knows its
-- attempt and the first run of its series, when a queued run may start,
-- whether it waits for its rule's earlier runs, and the warnAfter it was
-- created with.
ALTER TABLE rules ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN retry_of TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN not_before INTEGER;
ALTER TABLE runs ADD COLUMN serial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN warn_after_ns INTEGER NOT NULL DEFAULT 0;
-- Queued runs of a rule and of a job (the overlap queue and job limits
-- look them up at every create and claim), without reading their history.
CREATE INDEX runs_queued_rule ON runs (rule, id) WHERE status = 'queued';
CREATE INDEX runs_queued_job ON runs (job, id) WHERE status = 'queued';
CREATE INDEX runs_retry_of ON runs (retry_of) WHERE retry_of <> '';
CREATE INDEX runs_scheduled_at ON runs (scheduled_at) WHERE scheduled_at IS NOT NULL;
CREATE INDEX runs_active_job ON runs (job) WHERE status IN ('running', 'cancelling');
