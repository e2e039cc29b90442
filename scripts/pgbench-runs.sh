#!/usr/bin/env bash
# PostgreSQL's own ceiling for what the webhook path costs the database: one
# INSERT of a run then one UPDATE finishing it, per transaction pair, from 8
# concurrent clients. Compare with BenchmarkWebhook/postgres (docs/benchmarks.md).
#
# Usage: scripts/pgbench-runs.sh [seconds] [clients]
# Needs pgbench and a PostgreSQL reachable as PGHOST/PGUSER (default
# 127.0.0.1, postgres). Creates and drops the database jobbridge_pgbench.
set -euo pipefail
seconds=${1:-10}
clients=${2:-8}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
db=jobbridge_pgbench

psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
trap 'psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
psql -q -d "$db" <<'SQL'
CREATE TABLE runs (
    id          text PRIMARY KEY,
    rule        text NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz
);
SQL

script=$(mktemp)
trap 'rm -f "$script"; psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
cat >"$script" <<'SQL'
\set n random(1, 1000000000000)
INSERT INTO runs (id, rule, status, created_at) VALUES (:client_id || '-' || :n, 'bench', 'running', now());
UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = :client_id || '-' || :n;
SQL

# Each pgbench "transaction" is the script: one INSERT and one UPDATE, each
# committed on its own as the agent does, so tps is runs per second.
pgbench -n -c "$clients" -j 2 -T "$seconds" -f "$script" "$db" 2>&1 | grep -E "tps|latency|number of (clients|transactions)"
