-- Rules as code, chains and run output (issue 17). A rule's chains (the
-- rules its runs trigger when they end) are one JSON document. A run knows
-- the run whose chain started it and how deep in a chain it is, and keeps
-- the output its job recorded (JSON, read by RunGet only).
ALTER TABLE rules ADD COLUMN chains TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN parent_run TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN chain_depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN output TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_parent_run ON runs (parent_run) WHERE parent_run <> '';
