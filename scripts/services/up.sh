#!/usr/bin/env bash
# Start the real servers the tests use, on loopback, idempotently.
#
#   scripts/services/up.sh [kafka|elasticsearch|redis ...]   (default: all three)
#
# With a working Docker engine (`docker info`), this is `docker compose up -d
# --wait` on docker-compose.yml. Otherwise the servers run natively: Kafka
# (KRaft) and Elasticsearch from Maven Central, Redis from Debian's packages,
# all installed on first use. Downloads are cached in
# ${STREAMVIEW_CACHE:-$HOME/.cache/streamview}; data, configs and logs live in
# <repo>/.services/. A server of ours that is already up is reused.
# Env: KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (9093) ES_PORT (9200)
#      REDIS_PORT (6379) KAFKA_VERSION ES_VERSION STREAMVIEW_CACHE
#      REDIS_APPENDONLY (no; yes keeps Redis's data across a restart).
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_parse_services "$@"

if sv_docker_mode; then
  sv_log "docker engine found: docker compose up ${SV_SERVICES[*]}"
  sv_compose up -d --wait "${SV_SERVICES[@]}"
  exit 0
fi

mkdir -p "$SV_RUN" "$SV_CACHE"
# One up/down at a time. Every server we start gets `9>&-` so that it does not
# inherit (and keep holding) this lock.
exec 9>"$SV_RUN/.lock"
if ! flock -w 600 9; then sv_err "could not take $SV_RUN/.lock within 600s"; exit 1; fi

T0="$(sv_now)"
FAILED=()
declare -A STATE=()    # service -> reuse | start
declare -A STARTED=()  # service -> start timestamp

# ================================================================ phase 1: state

check_kafka() {
  local pid
  if pid="$(sv_read_pid "$KAFKA_PIDFILE" kafka.Kafka)"; then
    if sv_kafka_ready "$KAFKA_PORT"; then
      sv_log "kafka: already running (pid $pid)"; STATE[kafka]=reuse
    else
      sv_log "kafka: already started (pid $pid) but not ready yet; waiting"; STATE[kafka]="wait"
    fi
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"
  if sv_port_busy "$KAFKA_PORT"; then
    if sv_kafka_ready "$KAFKA_PORT"; then
      sv_log "kafka: a Kafka broker not started by these scripts already answers on 127.0.0.1:$KAFKA_PORT ($(sv_port_holder "$KAFKA_PORT")); reusing it"
      STATE[kafka]=reuse; return 0
    fi
    sv_port_taken_error kafka "$KAFKA_PORT" KAFKA_PORT; return 1
  fi
  if sv_port_busy "$KAFKA_CONTROLLER_PORT"; then
    sv_port_taken_error kafka "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT; return 1
  fi
  STATE[kafka]=start
}

check_elasticsearch() {
  local pid esrun
  esrun="$(sv_es_run_dir)"
  if pid="$(sv_es_pid "$esrun" server)"; then
    if sv_es_ready "$ES_PORT"; then
      sv_log "elasticsearch: already running (pid $pid)"; STATE[elasticsearch]=reuse
    else
      sv_log "elasticsearch: already started (pid $pid) but not ready yet; waiting"; STATE[elasticsearch]="wait"
    fi
    return 0
  fi
  if pid="$(sv_es_pid "$esrun" launcher)"; then
    sv_log "elasticsearch: already starting (launcher pid $pid); waiting"; STATE[elasticsearch]="wait"; return 0
  fi
  if sv_port_busy "$ES_PORT"; then
    if sv_es_ready "$ES_PORT" && [[ "$(curl -fsS -m 3 -D - -o /dev/null "http://127.0.0.1:$ES_PORT/_cluster/health" 2>/dev/null)" == *[Xx]-[Ee]lastic-[Pp]roduct:\ Elasticsearch* ]]; then
      sv_log "elasticsearch: an Elasticsearch not started by these scripts already answers on 127.0.0.1:$ES_PORT ($(sv_port_holder "$ES_PORT")); reusing it"
      STATE[elasticsearch]=reuse; return 0
    fi
    sv_port_taken_error elasticsearch "$ES_PORT" ES_PORT; return 1
  fi
  STATE[elasticsearch]=start
}

check_redis() {
  local pid
  if pid="$(sv_read_pid "$REDIS_PIDFILE" redis-server)"; then
    sv_log "redis: already running (pid $pid)"; STATE[redis]=reuse; return 0
  fi
  if sv_port_busy "$REDIS_PORT"; then
    if sv_redis_ready "$REDIS_PORT"; then
      sv_log "redis: a Redis server not started by these scripts already answers on 127.0.0.1:$REDIS_PORT ($(sv_port_holder "$REDIS_PORT")); reusing it"
      STATE[redis]=reuse; return 0
    fi
    sv_port_taken_error redis "$REDIS_PORT" REDIS_PORT; return 1
  fi
  STATE[redis]=start
}

for s in "${SV_SERVICES[@]}"; do
  "check_$s" || FAILED+=("$s")
done

starting() { [[ "${STATE[$1]:-}" == start ]]; }

# ================================================================ phase 2: install

# Debian packages first, in one apt run (dpkg allows one at a time).
apt_pkgs=()
if starting kafka || starting elasticsearch; then
  command -v java >/dev/null 2>&1 || apt_pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || apt_pkgs+=(maven)
fi
if starting elasticsearch; then
  command -v unzip >/dev/null 2>&1 || apt_pkgs+=(unzip)
  command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl)
fi
if starting redis; then
  command -v redis-server >/dev/null 2>&1 || apt_pkgs+=(redis-server)
fi
if [[ ${#apt_pkgs[@]} -gt 0 ]]; then
  t="$(sv_now)"
  sv_log "apt: installing ${apt_pkgs[*]}"
  apt_log="$SV_RUN/apt-install.log"
  # Keep Debian's init scripts from starting a system redis on 6379.
  own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}"; } \
    >"$apt_log" 2>&1 || rc=$?
  [[ $own_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  if [[ $rc != 0 ]]; then
    sv_err "apt: installing ${apt_pkgs[*]} failed (exit $rc)"; sv_tail_log apt "$apt_log"; exit 1
  fi
  sv_log "apt: done in $(sv_elapsed "$t")"
fi

install_kafka() {
  local base="$SV_CACHE/kafka-$KAFKA_VERSION" log4j binding
  [[ -f "$KAFKA_LIB/.complete" ]] && return 0
  case "$KAFKA_VERSION" in
    4.0.*|4.1.*) log4j="${KAFKA_LOG4J_VERSION:-2.24.3}" ;;
    *) log4j="${KAFKA_LOG4J_VERSION:-2.25.3}" ;;
  esac
  mkdir -p "$base"
  # Both SLF4J bindings are fetched; the one that does not match the SLF4J API
  # that Kafka pulls in (1.7.x for Kafka 4.0/4.1) is dropped below.
  cat >"$base/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.streamview</groupId>
  <artifactId>kafka-server-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$log4j</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_LIB.tmp"
  if ! mvn -q -B -f "$base/pom.xml" -Dmaven.repo.local="$SV_CACHE/m2" \
      "$MVN_DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB.tmp" \
      >"$base/mvn.log" 2>&1; then
    sv_err "kafka: fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven failed"
    sv_tail_log kafka "$base/mvn.log"; return 1
  fi
  if compgen -G "$KAFKA_LIB.tmp/slf4j-api-1.*.jar" >/dev/null; then
    binding="log4j-slf4j-impl"; rm -f "$KAFKA_LIB.tmp"/log4j-slf4j2-impl-*.jar
  else
    binding="log4j-slf4j2-impl"; rm -f "$KAFKA_LIB.tmp"/log4j-slf4j-impl-*.jar
  fi
  rm -rf "$KAFKA_LIB" && mv "$KAFKA_LIB.tmp" "$KAFKA_LIB"
  printf 'kafka_2.13 %s, log4j %s (%s)\n' "$KAFKA_VERSION" "$log4j" "$binding" >"$KAFKA_LIB/.complete"
}

# Elasticsearch's user and the dirs it must reach.
es_user_can() { # TEST-FLAG PATH
  setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups test "$1" "$2" 2>/dev/null
}

ensure_es_user() {
  if ! getent passwd "$ES_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
  fi
}

es_zip() {
  printf '%s\n' "$SV_CACHE/m2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
}

# Where the unpacked distribution lives: the cache if the ES user can read it,
# else $ES_SHARED_DIR (the default cache is under /root, mode 700).
es_home() {
  if es_user_can -x "$SV_CACHE"; then
    printf '%s\n' "$SV_CACHE/elasticsearch-$ES_VERSION"
  else
    printf '%s\n' "$ES_SHARED_DIR/elasticsearch-$ES_VERSION"
  fi
}

install_elasticsearch() {
  local zip home tmp
  ensure_es_user
  home="$(es_home)"
  [[ -f "$home/.complete" ]] && return 0
  zip="$(es_zip)"
  if [[ ! -s "$zip" ]]; then
    mkdir -p "$SV_CACHE/elasticsearch"
    # Run from a folder with no pom.xml: dependency:get needs no project.
    if ! (cd "$SV_CACHE/elasticsearch" && mvn -q -B -Dmaven.repo.local="$SV_CACHE/m2" "$MVN_DEP_PLUGIN:get" \
        -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" -Dtransitive=false \
        >"$SV_CACHE/elasticsearch/mvn.log" 2>&1); then
      sv_err "elasticsearch: fetching org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip failed"
      sv_tail_log elasticsearch "$SV_CACHE/elasticsearch/mvn.log"; return 1
    fi
  fi
  mkdir -p "$(dirname "$home")"
  [[ "$(dirname "$home")" == "$ES_SHARED_DIR" ]] && chmod 755 "$ES_SHARED_DIR"
  tmp="$home.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  unzip -q "$zip" -d "$tmp"
  rm -rf "$home" && mv "$tmp/elasticsearch-$ES_VERSION" "$home" && rm -rf "$tmp"
  chmod -R a+rX "$home"
  touch "$home/.complete"
}

install_redis() { command -v redis-server >/dev/null; }

# Kafka and Elasticsearch downloads run side by side (separate Maven runs on one
# local repo is safe enough: the plugin resolves first, quickly).
declare -A IPID=()
TI="$(sv_now)"
fetching=()
if starting kafka && [[ ! -f "$KAFKA_LIB/.complete" ]]; then fetching+=("kafka $KAFKA_VERSION"); fi
if starting elasticsearch; then
  ensure_es_user
  [[ -f "$(es_home)/.complete" ]] || fetching+=("elasticsearch $ES_VERSION")
fi
[[ ${#fetching[@]} -eq 0 ]] || sv_log "install: fetching ${fetching[*]} from Maven Central"
for s in kafka elasticsearch redis; do
  starting "$s" || continue
  ( "install_$s" ) &
  IPID[$s]=$!
done
for s in "${!IPID[@]}"; do
  if ! wait "${IPID[$s]}"; then
    sv_err "$s: install failed"; FAILED+=("$s"); STATE[$s]=failed
  fi
done
if [[ ${#fetching[@]} -gt 0 ]]; then
  sv_log "install: fetched ${fetching[*]} in $(sv_elapsed "$TI") (cache: $SV_CACHE)"
fi

# ================================================================ phase 3: start

start_kafka() {
  local cid
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/services/up.sh; regenerated on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
num.network.threads=2
num.io.threads=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Fast failure detection for tests (KIP-848 "consumer" groups and classic groups).
group.consumer.session.timeout.ms=6000
group.consumer.min.session.timeout.ms=1000
group.consumer.heartbeat.interval.ms=1000
group.consumer.min.heartbeat.interval.ms=500
group.min.session.timeout.ms=1000
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.remove.expired.transaction.cleanup.interval.ms=60000
log.retention.hours=24
EOF
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
  local jvm=(java -Dkafka.logs.dir="$KAFKA_DIR/logs" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties"
    -Djava.awt.headless=true -cp "$KAFKA_LIB/*")
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    # KAFKA_FORMAT_ARGS, e.g. "--feature transaction.version=1", applies to a
    # fresh data dir only (rm -rf .services/kafka to re-format).
    cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    # shellcheck disable=SC2086
    if ! "${jvm[@]}" -Xmx256m kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" -g ${KAFKA_FORMAT_ARGS:-} \
        >"$KAFKA_DIR/logs/format.log" 2>&1 9>&-; then
      sv_err "kafka: formatting storage failed"; sv_tail_log kafka "$KAFKA_DIR/logs/format.log"; return 1
    fi
  fi
  : >"$KAFKA_DIR/logs/kafka.out"
  # Only "Kafka Server started" lines written after this start count.
  KAFKA_LOG_MARK=1
  [[ -f "$KAFKA_DIR/logs/server.log" ]] && KAFKA_LOG_MARK=$(( $(wc -l <"$KAFKA_DIR/logs/server.log") + 1 ))
  # shellcheck disable=SC2086
  nohup "${jvm[@]}" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent kafka.Kafka "$KAFKA_DIR/server.properties" \
    >>"$KAFKA_DIR/logs/kafka.out" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PIDFILE"
}

start_elasticsearch() {
  local home esrun java_home pidfile
  home="$(es_home)"
  esrun="$SV_RUN/elasticsearch"
  mkdir -p "$esrun"
  chown "$ES_USER:$ES_USER" "$esrun"
  if ! es_user_can -w "$esrun"; then
    # The repo is not reachable by $ES_USER (e.g. a clone under /root).
    esrun="$ES_SHARED_DIR/run-$(printf '%s' "$SV_RUN" | cksum | cut -d' ' -f1)"
    mkdir -p "$esrun" && chmod 755 "$ES_SHARED_DIR" && chown "$ES_USER:$ES_USER" "$esrun"
    ln -sfn "$esrun" "$SV_RUN/elasticsearch/run"
  fi
  printf '%s\n' "$esrun" >"$ES_POINTER"
  java_home="${ES_JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
  mkdir -p "$esrun/data" "$esrun/logs" "$esrun/tmp"
  if [[ ! -f "$esrun/config/.from-$ES_VERSION" ]]; then
    rm -rf "$esrun/config" && cp -r "$home/config" "$esrun/config"
    # gc.log / hs_err files default to the working dir: send them to logs/.
    sed -i -e "s#file=gc.log#file=$esrun/logs/gc.log#" -e 's#filecount=32#filecount=2#' \
      -e "s#-XX:ErrorFile=hs_err_pid%p.log#-XX:ErrorFile=$esrun/logs/hs_err_pid%p.log#" "$esrun/config/jvm.options"
    printf -- '-XX:HeapDumpPath=%s/logs\n' "$esrun" >"$esrun/config/jvm.options.d/streamview.options"
    touch "$esrun/config/.from-$ES_VERSION"
  fi
  cat >"$esrun/config/elasticsearch.yml" <<EOF
# Written by scripts/services/up.sh; regenerated on every start.
cluster.name: streamview-test
node.name: streamview-es-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
path.data: $esrun/data
path.logs: $esrun/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  chown -R "$ES_USER:$ES_USER" "$esrun"
  pidfile="$esrun/es.pid"
  rm -f "$pidfile"
  : >"$esrun/logs/es.out"
  chown "$ES_USER:$ES_USER" "$esrun/logs/es.out"
  # -d: the launcher returns once the node has started (or failed); the
  # server itself keeps running detached, its pid in es.pid.
  (
    cd "$esrun"
    exec setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
      env -i PATH=/usr/bin:/bin HOME="$esrun" ES_HOME="$home" ES_JAVA_HOME="$java_home" ES_PATH_CONF="$esrun/config" \
      ES_TMPDIR="$esrun/tmp" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_EXTRA_JAVA_OPTS:-}" \
      "$home/bin/elasticsearch" -d -p "$pidfile" >>"$esrun/logs/es.out" 2>&1 </dev/null 9>&-
  ) &
  ES_BG_PID=$!
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PIDFILE"
  if ! redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly "$REDIS_APPENDONLY" \
      --dir "$REDIS_DIR" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_DIR/redis.log" 9>&-; then
    sv_err "redis: redis-server refused to start"; sv_tail_log redis "$REDIS_DIR/redis.log"; return 1
  fi
}

for s in kafka elasticsearch redis; do
  starting "$s" || continue
  STARTED[$s]="$(sv_now)"
  sv_log "$s: starting"
  if ! "start_$s"; then FAILED+=("$s"); STATE[$s]=failed; fi
done

# ================================================================ phase 4: wait

fail_start() { # NAME REASON LOGS...
  local name="$1" reason="$2"; shift 2
  sv_err "$name: FAILED to start: $reason"
  sv_tail_log "$name" "$@"
  FAILED+=("$name")
}

wait_kafka() {
  local deadline pid
  deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  pid="$(cat "$KAFKA_PIDFILE")"
  while :; do
    if ! sv_pid_alive "$pid"; then
      rm -f "$KAFKA_PIDFILE"
      fail_start kafka "process $pid exited" "$KAFKA_DIR/logs/kafka.out" "$KAFKA_DIR/logs/server.log"; return
    fi
    if [[ "$(tail -n "+$KAFKA_LOG_MARK" "$KAFKA_DIR/logs/server.log" 2>/dev/null | grep -c 'Kafka Server started')" -gt 0 ]] && sv_kafka_ready "$KAFKA_PORT"; then
      sv_log "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $pid, Kafka $KAFKA_VERSION) in $(sv_elapsed "${STARTED[kafka]}")"
      return
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start kafka "not ready after ${KAFKA_START_TIMEOUT}s (pid $pid left running; scripts/services/down.sh stops it)" \
        "$KAFKA_DIR/logs/kafka.out" "$KAFKA_DIR/logs/server.log"; return
    fi
    sleep 0.5
  done
}

wait_elasticsearch() {
  local deadline pid esrun logs
  esrun="$(sv_es_run_dir)"
  logs=("$esrun/logs/es.out" "$esrun/logs/streamview-test.log")
  deadline=$(( $(date +%s) + ES_START_TIMEOUT ))
  while :; do
    pid="$(sv_es_pid "$esrun" server || true)"
    if [[ -n "$pid" ]] && sv_es_ready "$ES_PORT"; then
      sv_log "elasticsearch: up on http://127.0.0.1:$ES_PORT (pid $pid, Elasticsearch $ES_VERSION) in $(sv_elapsed "${STARTED[elasticsearch]}")"
      return
    fi
    # Neither the node nor its launcher (which exits once the node is up or
    # has failed) is running: look once more for the node, then give up.
    # The launcher starts as a shell script before it execs java, so the
    # background job we started counts as the launcher until it exits.
    if [[ -z "$pid" ]] && ! sv_pid_alive "${ES_BG_PID:-}" && ! sv_es_pid "$esrun" launcher >/dev/null; then
      sleep 0.5
      if ! sv_es_pid "$esrun" server >/dev/null; then
        fail_start elasticsearch "no Elasticsearch process is running" "${logs[@]}"; return
      fi
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start elasticsearch "not ready after ${ES_START_TIMEOUT}s (scripts/services/down.sh stops it)" "${logs[@]}"; return
    fi
    sleep 0.5
  done
}

wait_redis() {
  local deadline pid
  deadline=$(( $(date +%s) + REDIS_START_TIMEOUT ))
  while :; do
    pid="$(sv_read_pid "$REDIS_PIDFILE" redis-server || true)"
    if [[ -n "$pid" ]] && sv_redis_ready "$REDIS_PORT"; then
      sv_log "redis: up on 127.0.0.1:$REDIS_PORT (pid $pid, Redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//')) in $(sv_elapsed "${STARTED[redis]}")"
      return
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start redis "not ready after ${REDIS_START_TIMEOUT}s" "$REDIS_DIR/redis.log"; return
    fi
    sleep 0.2
  done
}

KAFKA_LOG_MARK="${KAFKA_LOG_MARK:-1}"
for s in redis kafka elasticsearch; do
  case "${STATE[$s]:-}" in
    start) "wait_$s" ;;
    wait) STARTED[$s]="$(sv_now)"; "wait_$s" ;;
  esac
done

if [[ ${#FAILED[@]} -gt 0 ]]; then
  sv_err "services: FAILED: ${FAILED[*]} (logs under $SV_RUN)"
  exit 1
fi
sv_log "services: ready (${SV_SERVICES[*]}) in $(sv_elapsed "$T0")"
env_line=()
for s in "${SV_SERVICES[@]}"; do
  case "$s" in
    kafka) env_line+=("KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT") ;;
    elasticsearch) env_line+=("ELASTICSEARCH_URL=http://127.0.0.1:$ES_PORT") ;;
    redis) env_line+=("REDIS_ADDR=127.0.0.1:$REDIS_PORT") ;;
  esac
done
sv_log "services: for tests: ${env_line[*]}"
