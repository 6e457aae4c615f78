#!/usr/bin/env bash
# The Kafka cluster's leader failover under load, for make test: starts a
# fresh cluster of three KRaft brokers of its own (kafka-cluster.sh; brokers
# on 29092, 29094, 29096, controllers on 29093, 29095, 29097: below the
# ephemeral ports, apart from the single broker's 9092-9094 and the outage
# tests' 19192-19193; its data in .services/failover, wiped at the start),
# runs TestKafkaClusterLeaderFailover on it (three serve processes,
# FAILOVER_SCALE_COMMANDS commands, 4,000 by default; the broker leading the
# most partitions killed halfway and started again at three quarters), and
# stops the cluster whatever the test did. A test that did not run (skipped,
# or left out by a -run of the caller's) is a failure here.
# Needs Redis and Elasticsearch (make services-up; REDIS_ADDR and
# ELASTICSEARCH_URL, loopback defaults). About 2 minutes with -race.
#
#   scripts/services/test_kafka_failover.sh [go test flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export KAFKA_NODES=3
export KAFKA_PORT="${FAILOVER_KAFKA_PORT:-29092}" KAFKA_CONTROLLER_PORT="${FAILOVER_KAFKA_CONTROLLER_PORT:-29093}"
export STREAMVIEW_SERVICES_DIR="${FAILOVER_SERVICES_DIR:-$root/.services/failover}"
export REDIS_ADDR="${REDIS_ADDR:-127.0.0.1:6379}" ELASTICSEARCH_URL="${ELASTICSEARCH_URL:-http://127.0.0.1:9200}"
export STREAMVIEW_KAFKA_CLUSTER=1 STREAMVIEW_SCALE_COMMANDS="${FAILOVER_SCALE_COMMANDS:-4000}"

out="$(mktemp)"
trap 'bash scripts/services/kafka-cluster.sh down; rm -f "$out"' EXIT
bash scripts/services/kafka-cluster.sh down
rm -rf "$STREAMVIEW_SERVICES_DIR/kafka-cluster"
bash scripts/services/kafka-cluster.sh up
"${GO:-go}" test -v -count=1 -run '^TestKafkaClusterLeaderFailover$' -timeout 20m "$@" ./cmd/streamview | tee "$out"
if ! grep -q -- '^--- PASS: TestKafkaClusterLeaderFailover ' "$out"; then
  echo "test_kafka_failover: TestKafkaClusterLeaderFailover did not run and pass (above: skipped, or not matched by -run); it must run here" >&2
  exit 1
fi
