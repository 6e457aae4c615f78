#!/usr/bin/env bash
# The tests that empty Redis servers (FLUSHALL on a single Redis, on one
# master of a cluster), for make test: they run on servers of their own,
# never on the shared ones other packages' tests keep their keys on. Starts
# a Redis Cluster of three masters (redis-cluster.sh; 7201-7203, bus
# 17201-17203, its files in .services/redisloss, wiped at the start) and a
# single Redis without persistence on 6479, runs the tests gated by
# REDIS_FLUSHABLE=1 on them, and stops both whatever the tests did. A gated
# test that did not run and pass is a failure here. About 30 s.
#
#   scripts/services/test_redis_loss.sh [go test flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export STREAMVIEW_SERVICES_DIR="${REDIS_LOSS_SERVICES_DIR:-$root/.services/redisloss}"
export REDIS_CLUSTER_PORT="${REDIS_LOSS_CLUSTER_PORT:-7201}"
single="${REDIS_LOSS_PORT:-6479}"
export REDIS_FLUSHABLE=1 REDIS_ADDR="127.0.0.1:$single"
export REDIS_CLUSTER_ADDRS="127.0.0.1:$REDIS_CLUSTER_PORT,127.0.0.1:$((REDIS_CLUSTER_PORT + 1)),127.0.0.1:$((REDIS_CLUSTER_PORT + 2))"
tests='TestEpochSingleRedisLoss TestEpochSeesAMasterLoss TestEpochConcurrentCallsAgree TestEpochClusterUpgradeKeepsValue TestGetAfterAMasterLossAnswersNoLive TestServeRefillsAClusterMasterEmptiedUnderIt'

out="$(mktemp)"
stop() {
  bash scripts/services/redis-cluster.sh down || true
  redis-cli -p "$single" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$out"
}
trap stop EXIT
stop
rm -rf "$STREAMVIEW_SERVICES_DIR/redis-cluster"
mkdir -p "$STREAMVIEW_SERVICES_DIR"
bash scripts/services/redis-cluster.sh up
redis-server --bind 127.0.0.1 --port "$single" --daemonize yes --save "" --appendonly no \
  --dir "$STREAMVIEW_SERVICES_DIR" --logfile "$STREAMVIEW_SERVICES_DIR/redis-$single.log"
for _ in $(seq 50); do redis-cli -p "$single" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$single" ping >/dev/null
"${GO:-go}" test -v -count=1 -run "^($(echo "$tests" | tr ' ' '|'))\$" -timeout 10m "$@" ./sinks/redisview ./cmd/streamview | tee "$out"
for t in $tests; do
  if ! grep -q -- "^--- PASS: $t " "$out"; then
    echo "test_redis_loss: $t did not run and pass (above: skipped, or not matched); it must run here" >&2
    exit 1
  fi
done
if grep -q -- '--- SKIP' "$out"; then
  echo "test_redis_loss: a test or subtest above was skipped; every one must run here" >&2
  exit 1
fi
