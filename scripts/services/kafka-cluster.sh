#!/usr/bin/env bash
# A Kafka cluster of KAFKA_NODES (3) KRaft nodes on loopback, each broker and
# controller in one process (combined mode), with a controller quorum of all
# of them. For tests of replication, leader failover and min.insync.replicas;
# the single node of up.sh stays the default.
#
#   scripts/services/kafka-cluster.sh up            start the nodes not running, wait until all are ready
#   scripts/services/kafka-cluster.sh down          stop every node
#   scripts/services/kafka-cluster.sh status        one line per node
#   scripts/services/kafka-cluster.sh brokers       the bootstrap list (host:port,...)
#   scripts/services/kafka-cluster.sh stop N        stop node N (TERM), to test failover
#   scripts/services/kafka-cluster.sh kill N        kill node N (KILL)
#   scripts/services/kafka-cluster.sh start N       start node N again and wait until it is ready
#
# Node i (1..KAFKA_NODES) listens on KAFKA_PORT+2(i-1) (brokers: 9092, 9094,
# 9096) and KAFKA_CONTROLLER_PORT+2(i-1) (controllers: 9093, 9095, 9097), so
# KAFKA_PORT and KAFKA_CONTROLLER_PORT keep their single-node meaning for
# node 1. Data, configs and logs: $SV_RUN/kafka-cluster/node-<i>. Internal
# topics are replicated KAFKA_NODES times with min.insync.replicas 2, as
# topics.cluster.yaml asks of streamview's own topics. Heap per node:
# KAFKA_CLUSTER_HEAP_OPTS (-Xms256m -Xmx512m).
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_NODES="${KAFKA_NODES:-3}"
KAFKA_CLUSTER_HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xms256m -Xmx512m}"
CLUSTER_DIR="$SV_RUN/kafka-cluster"

if ! [[ "$KAFKA_NODES" =~ ^[0-9]+$ ]] || (( KAFKA_NODES < 2 )); then
  sv_err "kafka-cluster: KAFKA_NODES must be 2 or more (got '$KAFKA_NODES'); one node is scripts/services/up.sh kafka"
  exit 2
fi

broker_port() { echo $(( KAFKA_PORT + 2 * ($1 - 1) )); }
controller_port() { echo $(( KAFKA_CONTROLLER_PORT + 2 * ($1 - 1) )); }
node_dir() { echo "$CLUSTER_DIR/node-$1"; }
node_pidfile() { echo "$(node_dir "$1")/kafka.pid"; }

brokers() {
  local i out=()
  for ((i = 1; i <= KAFKA_NODES; i++)); do out+=("127.0.0.1:$(broker_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

voters() {
  local i out=()
  for ((i = 1; i <= KAFKA_NODES; i++)); do out+=("$i@127.0.0.1:$(controller_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

node_pid() { sv_read_pid "$(node_pidfile "$1")" kafka.Kafka; }

write_config() {
  local i="$1" dir
  dir="$(node_dir "$i")"
  mkdir -p "$dir/data" "$dir/logs"
  sv_kafka_properties "$dir/server.properties" "$i" "$(voters)" \
    "PLAINTEXT://127.0.0.1:$(broker_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")" \
    "PLAINTEXT://127.0.0.1:$(broker_port "$i")" "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" "$dir/data" "$KAFKA_NODES"
  cat >>"$dir/server.properties" <<EOF
# A restarted node becomes leader of its partitions again once in sync.
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=10
unclean.leader.election.enable=false
EOF
  sv_kafka_log4j "$dir/log4j2.properties"
}

# start_node I: start node I unless it runs (format its storage first).
start_node() {
  local i="$1" dir pid port
  dir="$(node_dir "$i")"
  if pid="$(node_pid "$i")"; then sv_log "kafka-$i: already running (pid $pid)"; return 0; fi
  for port in "$(broker_port "$i")" "$(controller_port "$i")"; do
    if sv_port_busy "$port"; then sv_port_taken_error "kafka-$i" "$port" KAFKA_PORT; return 1; fi
  done
  write_config "$i"
  sv_kafka_jvm
  local jvm=("$KAFKA_JAVA" -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$dir/log4j2.properties"
    -Djava.awt.headless=true -cp "$KAFKA_LIB/*")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    # Every node is formatted with the cluster's one ID, kept beside them.
    [[ -f "$CLUSTER_DIR/cluster.id" ]] || sv_kafka_cluster_id >"$CLUSTER_DIR/cluster.id"
    if ! "${jvm[@]}" -Xmx256m kafka.tools.StorageTool format -t "$(cat "$CLUSTER_DIR/cluster.id")" -c "$dir/server.properties" -g \
        >"$dir/logs/format.log" 2>&1 9>&-; then
      sv_err "kafka-$i: formatting storage failed"; sv_tail_log "kafka-$i" "$dir/logs/format.log"; return 1
    fi
  fi
  : >"$dir/logs/kafka.out"
  # Each node's collector log, as the single node's (lib.sh,
  # KAFKA_GC_LOG_OPTS): set and empty, none; a value of its own names one
  # file, so it applies to the single node only.
  local gclog=("-Xlog:gc:file=\"$dir/logs/gc.log\":time,uptime:filecount=5,filesize=20M")
  [[ -n "${KAFKA_GC_LOG_OPTS+set}" && -z "$KAFKA_GC_LOG_OPTS" ]] && gclog=()
  # shellcheck disable=SC2086
  nohup "${jvm[@]}" $KAFKA_CLUSTER_HEAP_OPTS $KAFKA_GC_OPTS "${gclog[@]}" \
    kafka.Kafka "$dir/server.properties" >>"$dir/logs/kafka.out" 2>&1 </dev/null 9>&- &
  echo $! >"$(node_pidfile "$i")"
  sv_log "kafka-$i: starting (pid $!) on 127.0.0.1:$(broker_port "$i"), controller 127.0.0.1:$(controller_port "$i")"
}

# wait_node I: until node I answers and sees every broker of the cluster.
wait_node() {
  local i="$1" deadline n
  deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  while :; do
    if ! node_pid "$i" >/dev/null; then
      sv_err "kafka-$i: exited"; sv_tail_log "kafka-$i" "$(node_dir "$i")/logs/kafka.out" "$(node_dir "$i")/logs/server.log"; return 1
    fi
    if sv_kafka_apiversions "$(broker_port "$i")" && n="$(sv_kafka_metadata_brokers "$(broker_port "$i")")" && (( n >= KAFKA_NODES )); then
      sv_log "kafka-$i: ready ($n brokers)"; return 0
    fi
    if (( $(date +%s) >= deadline )); then
      sv_err "kafka-$i: not ready after ${KAFKA_START_TIMEOUT}s"; sv_tail_log "kafka-$i" "$(node_dir "$i")/logs/server.log"; return 1
    fi
    sleep 0.5
  done
}

stop_node() { # I SIGNAL
  local i="$1" sig="$2" pid
  if ! pid="$(node_pid "$i")"; then sv_log "kafka-$i: not running"; rm -f "$(node_pidfile "$i")"; return 0; fi
  if [[ "$sig" == KILL ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    while sv_pid_alive "$pid"; do sleep 0.1; done
    sv_log "kafka-$i: killed (pid $pid)"
  else
    sv_log "kafka-$i: stopping (pid $pid)"; sv_stop "kafka-$i" "$pid" 60
  fi
  rm -f "$(node_pidfile "$i")"
}

# start_retrying I: start node I and wait for it, again while its port is
# taken. Ports in the kernel's ephemeral range (32768-60999 here; the
# defaults 9092-9097 are below it) can be held for a while by any outgoing
# connection on the machine that was given that port as its own, or by a
# client that keeps reconnecting to the stopped node and connects to
# itself (a TCP self-connect); the node then cannot bind it.
start_retrying() {
  local i="$1" attempt log
  log="$(node_dir "$i")/logs/server.log"
  for ((attempt = 1; attempt <= 30; attempt++)); do
    local mark=0
    [[ -f "$log" ]] && mark=$(wc -l <"$log")
    start_node "$i"
    if wait_node "$i" 2>/dev/null; then return 0; fi
    if ! tail -n "+$((mark + 1))" "$log" 2>/dev/null | grep -q 'Address already in use'; then
      wait_node "$i"; return 1 # not a taken port: report it
    fi
    sv_log "kafka-$i: port taken (a client's self-connect?); trying again (attempt $attempt)"
    sleep 1
  done
  sv_err "kafka-$i: its ports stayed taken"; return 1
}

node_arg() {
  if ! [[ "${1:-}" =~ ^[0-9]+$ ]] || (( $1 < 1 || $1 > KAFKA_NODES )); then
    sv_err "kafka-cluster: a node number 1..$KAFKA_NODES is required"; exit 2
  fi
}

mkdir -p "$CLUSTER_DIR"
case "${1:-}" in
  up)
    exec 9>"$CLUSTER_DIR/.lock"; flock -w 600 9
    command -v java >/dev/null && command -v mvn >/dev/null || { sv_err "kafka-cluster: needs java and mvn (scripts/services/up.sh installs them)"; exit 1; }
    install_kafka
    T0="$(sv_now)"
    for ((i = 1; i <= KAFKA_NODES; i++)); do start_node "$i"; done
    for ((i = 1; i <= KAFKA_NODES; i++)); do
      wait_node "$i" 2>/dev/null || start_retrying "$i"
    done
    sv_log "kafka-cluster: $KAFKA_NODES nodes ready in $(sv_elapsed "$T0")"
    sv_log "kafka-cluster: for tests: KAFKA_BROKERS=$(brokers)" ;;
  down)
    exec 9>"$CLUSTER_DIR/.lock"; flock -w 600 9
    # All at once: a node stopped last, alone, waits for a quorum that is
    # gone before it shuts down.
    for ((i = 1; i <= KAFKA_NODES; i++)); do stop_node "$i" TERM 9>&- & done
    wait ;;
  status)
    for ((i = 1; i <= KAFKA_NODES; i++)); do
      if pid="$(node_pid "$i")"; then
        state=starting; sv_kafka_ready "$(broker_port "$i")" && state=ready
        echo "kafka-$i: $state (pid $pid) on 127.0.0.1:$(broker_port "$i")"
      else
        echo "kafka-$i: stopped"
      fi
    done ;;
  brokers) brokers ;;
  stop) node_arg "${2:-}"; stop_node "$2" TERM ;;
  kill) node_arg "${2:-}"; stop_node "$2" KILL ;;
  start) node_arg "${2:-}"; start_retrying "$2" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
