#!/usr/bin/env bash
# Webhook latency while clients trickle request bodies at the agent
# (docs/benchmarks.md, "Webhook latency under trickling clients").
#
# Usage: scripts/trickle-bench.sh [tricklers] [deliveries] [agent binary]
# Builds the agent (unless given) and scripts/trickle, runs the agent on
# SQLite in a temporary data dir with at most 200 file descriptors, creates
# a rule firing the demo job for 1ms, and times the deliveries from
# 127.0.0.1 while the tricklers connect from 127.0.0.2.
set -euo pipefail
tricklers=${1:-250}
deliveries=${2:-3000}
work=$(mktemp -d)
agent=${3:-$work/agent}
port=${PORT:-18990}
key=bench-webhook-key-0123456789
admin=bench-admin-token-0123456789
cd "$(dirname "$0")/.."
[ -x "$agent" ] || go build -o "$agent" ./cmd/agent
go build -o "$work/trickle" ./scripts/trickle

( ulimit -n 200; exec env JOBBRIDGE_DATA_DIR="$work/data" JOBBRIDGE_LISTEN=127.0.0.1:$port \
    JOBBRIDGE_EB_API_KEY=$key JOBBRIDGE_ADMIN_TOKEN=$admin JOBBRIDGE_SCHEDULER=off "$agent" serve ) >"$work/agent.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
curl -sf -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"name":"bench","job":"demo","schedule":"rate(1 day)","parameters":{"duration":"1ms"}}' \
    http://127.0.0.1:$port/api/v1/rules >/dev/null
"$work/trickle" -url http://127.0.0.1:$port -key $key -rule bench -n "$deliveries" -concurrency 4 \
    -tricklers "$tricklers" ${TRICKLE_FLAGS:-}
