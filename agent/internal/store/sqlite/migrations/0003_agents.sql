-- Agents sharing this database (one, on SQLite), for a schema that matches
-- PostgreSQL's.
CREATE TABLE agents (
    node         TEXT PRIMARY KEY,
    url          TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
