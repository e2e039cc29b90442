#!/usr/bin/env bash
# One measurement of scripts/streamload against a fresh agent: builds
# nothing, starts AGENT (a binary from `go build ./cmd/agent`) on an empty
# data dir (SQLite) or a fresh PostgreSQL database (then the cluster relay
# is on, as it always is on PostgreSQL), runs the load generator with the
# remaining arguments, and stops the agent. docs/benchmarks.md, "Event
# streams under load", gives the runs it was used for.
#
# Usage: scripts/streamload.sh AGENT sqlite|postgres [streamload flags...]
#   scripts/streamload.sh ./agent sqlite -streams 500 -rate 100 -duration 20s
# PostgreSQL is reached as PGHOST/PGUSER (default 127.0.0.1, postgres).
set -euo pipefail
agent=$(realpath "$1")
kind=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d)
port=${STREAMLOAD_PORT:-18080}
token=streamload-admin-token-0123456789
key=streamload-webhook-key-0123456789
export JOBBRIDGE_DATA_DIR=$data JOBBRIDGE_LISTEN=127.0.0.1:$port JOBBRIDGE_ADMIN_TOKEN=$token \
  JOBBRIDGE_EB_API_KEY=$key JOBBRIDGE_SCHEDULER=off JOBBRIDGE_NODE=streamload
db=
if [ "$kind" = postgres ]; then
  export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
  db=jobbridge_streamload
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  export JOBBRIDGE_DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$db?sslmode=disable"
fi
"$agent" serve >"$data/agent.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -n "$db" ]; then psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; fi
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
loadgen=${STREAMLOAD_BIN:-}
if [ -z "$loadgen" ]; then
  loadgen=$data/streamload
  (cd "$here/.." && go build -o "$loadgen" ./scripts/streamload)
fi
"$loadgen" -url "http://127.0.0.1:$port" -token "$token" -key "$key" -pid "$pid" "$@"
