-- Agents sharing this database, and when each was last seen alive.
CREATE TABLE agents (
    node         TEXT COLLATE "C" PRIMARY KEY,
    url          TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
