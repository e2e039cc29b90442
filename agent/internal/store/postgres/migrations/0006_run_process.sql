-- The process group a run's job started (JSON: pgid, leader start time,
-- boot id, environment tag), NULL for none: an agent that starts after a
-- crash stops what the dead one left running.
ALTER TABLE runs ADD COLUMN process TEXT;
CREATE INDEX runs_process_node ON runs (node, id) WHERE process IS NOT NULL;
