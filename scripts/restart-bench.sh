#!/usr/bin/env bash
# Restart after kill -9 on PostgreSQL (docs/benchmarks.md, "Restart after a
# crash on PostgreSQL").
#
# Usage: scripts/restart-bench.sh [runs] [agent binary]
# Builds the agent (unless given) to /tmp/x, creates a database of its own
# on the server at SERVER_URL (default the local one, user postgres), and
# runs the agent on it as node "bench-node" with a 10-minute demo run going.
# Then, runs times: kill -9 the agent, start it again with the same node
# name, and time until /readyz answers 200. Like a supervisor
# (systemd's Restart=always, RestartSec=1), an agent that exits before it
# is ready is started again after RESTART_DELAY (default 1s); the attempts
# are counted.
set -euo pipefail
runs=${1:-3}
agent=${2:-/tmp/x}
server=${SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
port=${PORT:-18991}
delay=${RESTART_DELAY:-1}
admin=bench-admin-token-0123456789
db=jobbridge_restart_bench_$$
work=$(mktemp -d)
cd "$(dirname "$0")/.."
[ -n "${2:-}" ] || go build -o "$agent" ./cmd/agent

psql -q "$server" -c "CREATE DATABASE $db"
dburl=${server/\/postgres\?/\/$db?}
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    psql -q "$server" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    rm -rf "$work"
}
trap cleanup EXIT

start() {
    env JOBBRIDGE_DATA_DIR="$work/data" JOBBRIDGE_LISTEN=127.0.0.1:$port JOBBRIDGE_NODE=bench-node \
        JOBBRIDGE_DATABASE_URL="$dburl" JOBBRIDGE_ADMIN_TOKEN=$admin JOBBRIDGE_SCHEDULER=off \
        "$agent" serve >>"$work/agent.log" 2>&1 &
    pid=$!
}

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/readyz)" = 200 ]; }

# start_until_ready starts the agent, again whenever it exits, until
# /readyz answers 200; attempts says how many starts it took.
start_until_ready() {
    attempts=1
    start
    until ready; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            sleep "$delay"
            attempts=$((attempts + 1))
            start
        fi
        sleep 0.01
    done
}

start_until_ready
curl -sf -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"name":"long","job":"demo","schedule":"rate(1 day)","parameters":{"duration":"10m"}}' \
    http://127.0.0.1:$port/api/v1/rules >/dev/null
for i in $(seq "$runs"); do
    curl -sf -X POST -H "Authorization: Bearer $admin" http://127.0.0.1:$port/api/v1/rules/long/trigger >/dev/null
    sleep 2 # a few heartbeats: the dead agent's is fresh when it restarts
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    t0=$(date +%s%N)
    start_until_ready
    t1=$(date +%s%N)
    printf 'run %d: ready %d ms after the restart (%d start attempts)\n' "$i" $(((t1 - t0) / 1000000)) "$attempts"
done
