-- Times are INTEGER microseconds since the Unix epoch, UTC: they sort, and
-- they round-trip exactly the times PostgreSQL's timestamptz keeps. A NULL
-- time is the zero time.Time.

CREATE TABLE rules (
    name        TEXT PRIMARY KEY,
    job         TEXT NOT NULL,
    schedule    TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    parameters  TEXT NOT NULL DEFAULT '{}',
    description TEXT NOT NULL DEFAULT '',
    timeout_ns  INTEGER NOT NULL DEFAULT 0,
    overlap     TEXT NOT NULL DEFAULT '',
    sync_state  TEXT NOT NULL DEFAULT '',
    sync_error  TEXT NOT NULL DEFAULT '',
    sync_arn    TEXT NOT NULL DEFAULT '',
    sync_at     INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    rule             TEXT NOT NULL DEFAULT '',
    job              TEXT NOT NULL,
    status           TEXT NOT NULL,
    trigger          TEXT NOT NULL DEFAULT '',
    parameters       TEXT NOT NULL DEFAULT '{}',
    event_id         TEXT NOT NULL DEFAULT '',
    restart_of       TEXT NOT NULL DEFAULT '',
    triggered_by     TEXT NOT NULL DEFAULT '',
    cancelled_by     TEXT NOT NULL DEFAULT '',
    cancel_reason    TEXT NOT NULL DEFAULT '',
    node             TEXT NOT NULL DEFAULT '',
    scheduled_at     INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    error            TEXT NOT NULL DEFAULT '',
    progress_percent INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT NOT NULL DEFAULT '',
    -- the last sequence number given to a log line of this run
    log_seq          INTEGER NOT NULL DEFAULT 0
);

-- RunList filters, each newest first by id.
CREATE INDEX runs_status_id  ON runs (status, id);
CREATE INDEX runs_job_id     ON runs (job, id);
CREATE INDEX runs_rule_id    ON runs (rule, id);
CREATE INDEX runs_node_id    ON runs (node, id);
CREATE INDEX runs_created_at ON runs (created_at);
-- "Is a run of this rule still active?" and RunInterruptActive.
CREATE INDEX runs_active_rule ON runs (rule) WHERE status IN ('running', 'cancelling');

CREATE TABLE run_logs (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    time    INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- One row per EventBridge event id delivered, so a repeated delivery finds
-- the run made for the first.
CREATE TABLE deliveries (
    event_id    TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL
);
CREATE INDEX deliveries_run_id ON deliveries (run_id);

CREATE TABLE tokens (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

CREATE TABLE audit (
    id     TEXT PRIMARY KEY,
    time   INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor_id  ON audit (actor, id);
CREATE INDEX audit_target_id ON audit (target, id);

-- The table the built-in SQL job changes, as in the original module.
CREATE TABLE demo_orders (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    some_column INTEGER NOT NULL DEFAULT 0
);
INSERT INTO demo_orders (name, some_column) VALUES ('alpha', 0), ('bravo', 0), ('charlie', 0);
