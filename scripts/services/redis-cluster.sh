#!/usr/bin/env bash
# A Redis Cluster of REDIS_CLUSTER_NODES (3) masters on loopback, no
# replicas, from Debian's redis-server (installed by up.sh redis), joined by
# `redis-cli --cluster create`. For the tests of the Redis stores on a
# cluster (REDIS_CLUSTER_ADDRS); the single server of up.sh stays the
# default. Cheap: no persistence (no RDB, no AOF), REDIS_CLUSTER_MAXMEMORY
# (128mb) per node.
#
#   scripts/services/redis-cluster.sh up       start the nodes not running, create the cluster once, wait until its state is ok
#   scripts/services/redis-cluster.sh down     stop every node (the cluster is created anew by the next up)
#   scripts/services/redis-cluster.sh status   one line per node, and the cluster's state
#   scripts/services/redis-cluster.sh addrs    the seed list (host:port,...), what REDIS_CLUSTER_ADDRS holds
#
# Node i (1..REDIS_CLUSTER_NODES) listens on REDIS_CLUSTER_PORT+i-1 (7001,
# 7002, 7003) and on that port + 10000 for the cluster bus. Configs, node
# files and logs: $SV_RUN/redis-cluster/node-<i>.
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_CLUSTER_NODES="${REDIS_CLUSTER_NODES:-3}"
REDIS_CLUSTER_PORT="${REDIS_CLUSTER_PORT:-7001}"
REDIS_CLUSTER_MAXMEMORY="${REDIS_CLUSTER_MAXMEMORY:-128mb}"
REDIS_CLUSTER_TIMEOUT="${REDIS_CLUSTER_TIMEOUT:-60}"
CLUSTER_DIR="$SV_RUN/redis-cluster"

if ! [[ "$REDIS_CLUSTER_NODES" =~ ^[0-9]+$ ]] || (( REDIS_CLUSTER_NODES < 3 )); then
  sv_err "redis-cluster: REDIS_CLUSTER_NODES must be 3 or more (got '$REDIS_CLUSTER_NODES'): redis-cli --cluster create needs three masters"
  exit 2
fi

node_port() { echo $(( REDIS_CLUSTER_PORT + $1 - 1 )); }
node_dir() { echo "$CLUSTER_DIR/node-$1"; }
node_pidfile() { echo "$(node_dir "$1")/redis.pid"; }
node_pid() { sv_read_pid "$(node_pidfile "$1")" redis-server; }

addrs() {
  local i out=()
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do out+=("127.0.0.1:$(node_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

cli() { local port="$1"; shift; timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@"; }

cluster_info() { cli "$(node_port 1)" cluster info 2>/dev/null | tr -d '\r'; }

# cluster_ok: the state is ok, every slot is assigned and served, and every
# node sees as many masters as we started.
cluster_ok() {
  local info i
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
    info="$(cli "$(node_port "$i")" cluster info 2>/dev/null | tr -d '\r')" || return 1
    [[ "$info" == *"cluster_state:ok"* && "$info" == *"cluster_slots_ok:16384"* \
      && "$info" == *"cluster_known_nodes:$REDIS_CLUSTER_NODES"* ]] || return 1
  done
}

# all_fresh: every node is alone, with no slot: ready for --cluster create.
all_fresh() {
  local i info
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
    info="$(cli "$(node_port "$i")" cluster info 2>/dev/null | tr -d '\r')" || return 1
    [[ "$info" == *"cluster_known_nodes:1"* && "$info" == *"cluster_slots_assigned:0"* ]] || return 1
  done
}

start_node() {
  local i="$1" port dir
  port="$(node_port "$i")"; dir="$(node_dir "$i")"
  mkdir -p "$dir"
  if node_pid "$i" >/dev/null; then sv_log "redis-cluster: node $i already running on 127.0.0.1:$port"; return 0; fi
  if sv_port_busy "$port"; then sv_port_taken_error redis-cluster "$port" REDIS_CLUSTER_PORT; return 1; fi
  if sv_port_busy $(( port + 10000 )); then sv_port_taken_error redis-cluster $(( port + 10000 )) REDIS_CLUSTER_PORT; return 1; fi
  # No persistence: a stopped node loses its data and its cluster
  # membership (nodes.conf is removed), and the next up creates the cluster
  # anew.
  rm -f "$dir/nodes.conf" "$dir/dump.rdb"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 \
    --maxmemory "$REDIS_CLUSTER_MAXMEMORY" --maxmemory-policy noeviction \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" 9>&- \
    || { sv_err "redis-cluster: node $i refused to start"; sv_tail_log redis-cluster "$dir/redis.log"; return 1; }
}

wait_nodes() {
  local i deadline=$(( $(date +%s) + REDIS_CLUSTER_TIMEOUT ))
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
    until sv_redis_ready "$(node_port "$i")"; do
      (( $(date +%s) < deadline )) || { sv_err "redis-cluster: node $i not answering after ${REDIS_CLUSTER_TIMEOUT}s"; sv_tail_log redis-cluster "$(node_dir "$i")/redis.log"; return 1; }
      sleep 0.2
    done
  done
}

# install_redis installs Debian's redis-server (redis-cli with it) when
# missing, as up.sh does: e.g. when up.sh ran its servers in Docker.
install_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  local log="$CLUSTER_DIR/apt-install.log" rc=0
  sv_log "redis-cluster: apt: installing redis-server"
  sv_apt_install "$log" redis-server || rc=$?
  [[ $rc == 0 ]] || { sv_err "redis-cluster: apt: installing redis-server failed (exit $rc)"; sv_tail_log apt "$log"; return 1; }
}

up() {
  local start i
  mkdir -p "$CLUSTER_DIR"
  install_redis
  start="$(sv_now)"
  exec 9>"$CLUSTER_DIR/.lock"
  flock -w 300 9 || { sv_err "redis-cluster: could not take $CLUSTER_DIR/.lock within 300s"; return 1; }
  if cluster_ok; then sv_log "redis-cluster: already up on $(addrs)"; print_env; return 0; fi
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do start_node "$i"; done
  wait_nodes
  if ! cluster_ok; then
    # A node that was restarted (or left from a half-made cluster) does not
    # rejoin the others: without persistence there is nothing to keep, so
    # every node starts over empty and the cluster is created anew.
    if ! all_fresh; then
      sv_log "redis-cluster: nodes of an earlier cluster found: resetting them and creating the cluster anew"
      for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
        cli "$(node_port "$i")" flushall >/dev/null
        cli "$(node_port "$i")" cluster reset hard >/dev/null
      done
    fi
    local seeds=()
    for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do seeds+=("127.0.0.1:$(node_port "$i")"); done
    redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 \
      || { sv_err "redis-cluster: redis-cli --cluster create failed:"; tail -n 20 "$CLUSTER_DIR/create.log" >&2; return 1; }
  fi
  local deadline=$(( $(date +%s) + REDIS_CLUSTER_TIMEOUT ))
  until cluster_ok; do
    (( $(date +%s) < deadline )) || { sv_err "redis-cluster: not ok after ${REDIS_CLUSTER_TIMEOUT}s:"; cluster_info >&2; return 1; }
    sleep 0.2
  done
  sv_log "redis-cluster: up, $REDIS_CLUSTER_NODES masters on $(addrs), all 16384 slots served, in $(sv_elapsed "$start")"
  print_env
}

print_env() { sv_log "for tests: REDIS_CLUSTER_ADDRS=$(addrs)"; }

down() {
  local i pid
  [[ -d "$CLUSTER_DIR" ]] || { sv_log "redis-cluster: nothing to stop ($CLUSTER_DIR does not exist)"; return 0; }
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
    if pid="$(node_pid "$i")"; then
      sv_log "redis-cluster: stopping node $i (pid $pid)"
      sv_stop "redis-cluster node $i" "$pid" 15
    else
      sv_log "redis-cluster: node $i not running"
    fi
    rm -f "$(node_pidfile "$i")" "$(node_dir "$i")/nodes.conf"
  done
}

status() {
  local i pid state
  for ((i = 1; i <= REDIS_CLUSTER_NODES; i++)); do
    if pid="$(node_pid "$i")"; then sv_log "redis-cluster node $i: running on 127.0.0.1:$(node_port "$i") (pid $pid)"
    else sv_log "redis-cluster node $i: stopped"; fi
  done
  state="$(cluster_info | grep -E '^cluster_state:' || true)"
  sv_log "redis-cluster: ${state:-cluster_state:unknown}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  addrs) addrs ;;
  *) sv_err "usage: $0 up|down|status|addrs"; exit 2 ;;
esac
