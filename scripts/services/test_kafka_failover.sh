#!/usr/bin/env bash
# The Kafka cluster's leader failover under load, for make test: starts a
# cluster of KAFKA_NODES (3) KRaft brokers of its own (kafka-cluster.sh,
# brokers on 39092, 39094, 39096 beside the single broker's 9092-9094; its
# data in .services/failover), runs TestKafkaClusterLeaderFailover on it
# (three serve processes, STREAMVIEW_SCALE_COMMANDS commands, 4,000 by
# default; the broker leading the most partitions killed halfway and started
# again at three quarters), and stops the cluster whatever the test did.
# Needs Redis and Elasticsearch up (make services-up); about 1.5 minutes.
#
#   scripts/services/test_kafka_failover.sh [go test flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export KAFKA_PORT="${FAILOVER_KAFKA_PORT:-39092}" KAFKA_CONTROLLER_PORT="${FAILOVER_KAFKA_CONTROLLER_PORT:-39093}"
export STREAMVIEW_SERVICES_DIR="${FAILOVER_SERVICES_DIR:-$root/.services/failover}"
export STREAMVIEW_KAFKA_CLUSTER=1 STREAMVIEW_SCALE_COMMANDS="${STREAMVIEW_SCALE_COMMANDS:-4000}"
trap 'bash scripts/services/kafka-cluster.sh down' EXIT
bash scripts/services/kafka-cluster.sh up
"${GO:-go}" test -count=1 -run '^TestKafkaClusterLeaderFailover$' -timeout 20m "$@" ./cmd/streamview
