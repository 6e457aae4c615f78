# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/services/{up,down,status}.sh. Sourced, not run.
#
# Layout:
#   $SV_CACHE  (${STREAMVIEW_CACHE:-$HOME/.cache/streamview}) downloads: Maven
#              local repo, Kafka lib/ folder, unpacked Elasticsearch.
#   $SV_RUN    (<repo>/.services, git-ignored) runtime data, configs, logs, pids.

SV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SV_CACHE="${STREAMVIEW_CACHE:-${HOME:-/root}/.cache/streamview}"
SV_RUN="${STREAMVIEW_SERVICES_DIR:-$SV_ROOT/.services}"
SV_ALL=(kafka elasticsearch redis es-proxy)

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx768m}"
# KAFKA_JAVA: the java that runs the broker (a cluster's nodes too). Default:
# the newest of `java` and /usr/lib/jvm/*/bin/java.
# KAFKA_GC_OPTS: its collector and settings, whole. Default: the parallel
# collector with a fixed young generation of 128 MB, on any java: young
# pauses of about 8 ms (90% under 16, the longest 46) about every second
# at 1,000 commands/s, and no concurrent cycles. Generational ZGC (the default before) pauses for
# under a millisecond but runs its cycles on a core of two already busy,
# and stalls allocations in a fresh broker's first minute; with it the
# commands' p99 was higher (docs/performance.md, "The broker's collector
# again"). Settled by sv_kafka_jvm when a broker starts.
KAFKA_JAVA="${KAFKA_JAVA:-}"
KAFKA_GC_OPTS="${KAFKA_GC_OPTS:-}"
# KAFKA_GC_LOG_OPTS: the single node's collector log (up.sh). Unset, the
# default: -Xlog:gc:file="<.services/kafka>/logs/gc.log":time,uptime:filecount=5,filesize=20M,
# one line a cycle with its times, as Kafka's own start scripts keep one.
# The commands' slowest 1% in `bench api` came in bursts, at this heap most
# of them during the broker's collections (docs/performance.md, "The command tail comes
# in bursts"): this log says when those ran. Set, it replaces the default
# (split on spaces, like KAFKA_HEAP_OPTS); set and empty: no log. Not
# assigned here, since empty means no log. A cluster's nodes
# (kafka-cluster.sh) log to their own logs/gc.log; set and empty, they
# do not either.
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"

ES_VERSION="${ES_VERSION:-8.19.21}"
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9300}"
ES_HEAP="${ES_HEAP:-1g}"
# ES_NICE: the niceness added to Elasticsearch's (nice -n; up.sh's own is
# normally 0), 0 (the default) to 19, applied when it starts (a server
# already up is reused as it runs). On a
# machine whose cores the servers share with the stack, 10 gives the
# command path's Kafka and streamview the CPU first: in `bench api` at
# 1,000 commands/s on 2 cores the command p99 was lower in 14 of 20
# alternated pairs (median 62.9 -> 51.8 ms) and search freshness p99 rose
# (median 1.28 -> 1.37 s) (docs/performance.md, "Elasticsearch at a lower priority").
ES_NICE="${ES_NICE:-0}"
ES_USER="${ES_USER:-streamview-es}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"
# Fallback home for everything the Elasticsearch user must read or write when
# the cache or the repo is not reachable by it (e.g. under /root, mode 700).
ES_SHARED_DIR="${ES_SHARED_DIR:-/var/tmp/streamview-es}"

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-20}"
# yes: an append-only file in the data dir keeps the data across a restart
# (the outage tests restart Redis as a store that persists would be).
REDIS_APPENDONLY="${REDIS_APPENDONLY:-no}"

# Secured listeners, beside the plaintext ports (which stay for every other
# test). Fixed ports for the default instance:
#   Kafka  SASL_SSL    127.0.0.1:9094  SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN,
#                                      TLS with a required client certificate
#   Redis  TLS         127.0.0.1:6380  ACL user, client certificate required
#   Elasticsearch      https://127.0.0.1:9243  nginx terminating TLS, checking
#                                      basic auth or an API key, proxying to ES_PORT
# An instance on other plaintext ports gets them only when their port is
# given (so that a second set of servers does not collide with the first);
# an empty value (KAFKA_SASL_PORT=) turns one off. The test CA, the
# certificates, users and passwords are made once by up.sh in $SV_SECURE_DIR:
#   ca.pem                 the CA that signed every certificate below
#   server.pem server.key  the servers' certificate (localhost, 127.0.0.1)
#   client.pem client.key  a client certificate for Kafka and Redis
#   user                   the user name of Kafka SCRAM/PLAIN, Redis ACL and ES basic auth
#   kafka.password redis.password es.password es.apikey   the secrets (random)
if [[ "$KAFKA_PORT" == 9092 ]]; then KAFKA_SASL_PORT="${KAFKA_SASL_PORT-9094}"; else KAFKA_SASL_PORT="${KAFKA_SASL_PORT-}"; fi
if [[ "$REDIS_PORT" == 6379 ]]; then REDIS_TLS_PORT="${REDIS_TLS_PORT-6380}"; else REDIS_TLS_PORT="${REDIS_TLS_PORT-}"; fi
if [[ "$ES_PORT" == 9200 ]]; then ES_PROXY_PORT="${ES_PROXY_PORT-9243}"; else ES_PROXY_PORT="${ES_PROXY_PORT-}"; fi
SV_SECURE_DIR="$SV_RUN/secure"
SV_SECURE_USER="${SV_SECURE_USER:-streamview}"

MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

sv_log() { printf '%s\n' "$*"; }
sv_err() { printf '%s\n' "$*" >&2; }
sv_now() { date +%s.%N; }
sv_elapsed() { awk -v a="$1" -v b="$(sv_now)" 'BEGIN{printf "%.1fs", b-a}'; }

# sv_apt_install LOG PACKAGE...: the one apt run of every script here, its
# output in LOG. A policy-rc.d that refuses keeps Debian's init scripts from
# starting the packages' own daemons (a system redis on 6379, nginx on 80)
# while it runs; an existing one is left alone. Waits for another apt run's
# lock rather than failing on it.
sv_apt_install() {
  local log="$1" own_policy=0 rc=0
  shift
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"; } \
    >"$log" 2>&1 || rc=$?
  [[ $own_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

# sv_kafka_properties FILE NODE_ID VOTERS LISTENERS ADVERTISED PROTOCOL_MAP DATA_DIR REPLICAS:
# a KRaft node's server.properties (broker and controller in one process),
# the one writer for up.sh's single node and kafka-cluster.sh's nodes.
# REPLICAS is the replication of the internal topics (1 for one node); their
# min.insync.replicas is 2 from three nodes up. Callers append what is theirs
# (the SASL_SSL listener's settings, a cluster's leader balancing). The file
# holds passwords of the PLAIN listener once appended to, so it is 600.
sv_kafka_properties() {
  local file="$1" node="$2" voters="$3" listeners="$4" advertised="$5" protomap="$6" data="$7" replicas="$8"
  local isr=$(( replicas > 2 ? 2 : 1 )) io=$(( replicas > 1 ? 2 : 4 ))
  cat >"$file" <<EOF
# Written by scripts/services/$(basename "$0"); regenerated on every start.
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protomap
log.dirs=$data
num.partitions=1
num.network.threads=2
num.io.threads=$io
auto.create.topics.enable=false
default.replication.factor=$replicas
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
# Fast failure detection for tests (KIP-848 "consumer" groups and classic groups).
group.consumer.session.timeout.ms=6000
group.consumer.min.session.timeout.ms=1000
group.consumer.heartbeat.interval.ms=1000
group.consumer.min.heartbeat.interval.ms=500
group.min.session.timeout.ms=1000
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
# A transaction's first write to a partition is checked with the
# transaction coordinator; while the previous transaction's commit markers
# are still being written that check is refused and the broker holds the
# produce request, trying again after this backoff (Kafka's default 20 ms,
# doubling to 100). The decider commits a transaction over the same
# partitions every few milliseconds, so nearly every one of them met a
# 20 ms wait; the markers take about a millisecond here. (The maximum,
# add.partitions.to.txn.retry.backoff.max.ms, stays 100 ms: it is the
# time the broker keeps trying.)
add.partitions.to.txn.retry.backoff.ms=1
transaction.remove.expired.transaction.cleanup.interval.ms=60000
log.retention.hours=24
# The groups' offsets and the transactions' state are compacted topics, and
# the cleaner never compacts a partition's active segment: 100 MB by
# default, so a services dir used for weeks of tests held 200,000-570,000
# records a partition, which a restart read back for 44 s (session 20).
# Segments of 10 MB let the cleaner keep them small. (Set when a data dir
# makes these topics; an older one keeps its own until altered: see
# docs/services.md.)
offsets.topic.segment.bytes=10485760
transaction.state.log.segment.bytes=10485760
EOF
  chmod 600 "$file"
}

# sv_kafka_log4j FILE: a broker's log4j2 configuration (server.log in
# kafka.logs.dir, rolled at 50 MB; request and authorizer loggers at WARN).
sv_kafka_log4j() {
  cat >"$1" <<'EOF'
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
}

sv_docker_mode() {
  [[ "${STREAMVIEW_NO_DOCKER:-}" == 1 ]] && return 1
  command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1
}

sv_compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$SV_ROOT/docker-compose.yml" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -f "$SV_ROOT/docker-compose.yml" "$@"
  else
    sv_err "docker engine found but neither 'docker compose' nor 'docker-compose' is installed"
    return 1
  fi
}

# Validate and normalise service names given on the command line.
sv_parse_services() {
  local s
  SV_SERVICES=()
  if [[ $# -eq 0 ]]; then SV_SERVICES=("${SV_ALL[@]}"); return 0; fi
  for s in "$@"; do
    case "$s" in
      kafka) SV_SERVICES+=(kafka) ;;
      elasticsearch|es) SV_SERVICES+=(elasticsearch) ;;
      redis) SV_SERVICES+=(redis) ;;
      es-proxy|elasticsearch-proxy) SV_SERVICES+=(es-proxy) ;;
      all) SV_SERVICES=("${SV_ALL[@]}") ;;
      *) sv_err "unknown service '$s' (expected: kafka elasticsearch redis es-proxy)"; return 2 ;;
    esac
  done
}

# ---------------------------------------------------------------- processes

sv_pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

sv_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# sv_read_pid FILE PATTERN: print the pid in FILE if that process is alive and
# its command line contains PATTERN.
sv_read_pid() {
  local file="$1" pattern="$2" pid
  [[ -s "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  sv_pid_alive "$pid" || return 1
  [[ "$(sv_cmdline "$pid")" == *"$pattern"* ]] || return 1
  printf '%s\n' "$pid"
}

# sv_port_line PORT: the `ss` line of a TCP listener on PORT (any address).
sv_port_line() {
  ss -Hltnp 2>/dev/null | awk -v p=":$1" '!found && substr($4, length($4)-length(p)+1) == p { print; found=1 }' || true
}
sv_port_pid() { sv_port_line "$1" | grep -o 'pid=[0-9]*' | awk -F= 'NR==1{print $2}' || true; }
sv_port_busy() { [[ -n "$(sv_port_line "$1")" ]]; }

sv_port_holder() {
  local line pid
  line="$(sv_port_line "$1")"
  pid="$(printf '%s' "$line" | grep -o 'pid=[0-9]*' | awk -F= 'NR==1{print $2}' || true)"
  if [[ -n "$pid" ]]; then
    printf 'pid %s: %s' "$pid" "$(sv_cmdline "$pid" | cut -c1-160 | sed 's/ *$//')"
  else
    printf '%s' "${line:-unknown process}"
  fi
}

sv_port_taken_error() { # NAME PORT ENVVAR
  local name="$1" port="$2" var="$3"
  sv_err "$name: ERROR: port $port is already in use by another process, not by a $name server started by these scripts."
  sv_err "$name:   held by: $(sv_port_holder "$port")"
  sv_err "$name:   ss: $(sv_port_line "$port")"
  local pid; pid="$(sv_port_pid "$port")"
  sv_err "$name:   fix: stop that process (kill ${pid:-<pid>}), or pick another port, e.g. $var=<free port> $0 $name"
}

sv_tail_log() { # NAME FILE...
  local name="$1" f; shift
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    sv_err "$name: ---- last 40 lines of $f ----"
    tail -n 40 "$f" >&2 || true
  done
}

# sv_stop NAME PID TIMEOUT: TERM, wait, then KILL.
sv_stop() {
  local name="$1" pid="$2" timeout="$3" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    sv_pid_alive "$pid" || { sv_log "$name: stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  sv_err "$name: pid $pid still alive after ${timeout}s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do sv_pid_alive "$pid" || break; sleep 0.1; done
  sv_log "$name: killed (pid $pid)"
}

# ---------------------------------------------------------------- installs

# install_kafka fetches Kafka's jars (and a log4j binding) into $KAFKA_LIB
# with Maven, once; for up.sh and kafka-cluster.sh.
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

# ---------------------------------------------------------------- probes

# Kafka: ApiVersions v0 (correlation id 7) must come back with error 0.
sv_kafka_apiversions() {
  local port="${1:-$KAFKA_PORT}" out
  out="$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x07\x00\x02sv" >&3
    head -c 10 <&3 | od -An -tx1' 2>/dev/null)" || return 1
  local b; read -ra b <<<"$out"
  [[ "${b[*]:4:6}" == "00 00 00 07 00 00" ]]
}

# Kafka: Metadata v4 (no topics, correlation id 8); print the number of live
# brokers (> 0 once the broker is registered and unfenced).
sv_kafka_metadata_brokers() {
  local port="${1:-$KAFKA_PORT}" out
  out="$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
    printf "\x00\x00\x00\x11\x00\x03\x00\x04\x00\x00\x00\x08\x00\x02sv\x00\x00\x00\x00\x00" >&3
    head -c 16 <&3 | od -An -tu1' 2>/dev/null)" || return 1
  # shellcheck disable=SC2206
  local b=($out)
  [[ ${#b[@]} -eq 16 && "${b[4]} ${b[5]} ${b[6]} ${b[7]}" == "0 0 0 8" ]] || return 1
  local n=$(( (b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15] ))
  printf '%s\n' "$n"
  (( n > 0 ))
}

sv_kafka_ready() { sv_kafka_apiversions "$1" && sv_kafka_metadata_brokers "$1" >/dev/null; }

sv_es_ready() { # PORT
  local body
  body="$(curl -fsS -m 3 "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null)" || return 1
  [[ "$body" == *'"status":"yellow"'* || "$body" == *'"status":"green"'* ]]
}

sv_redis_ready() { # PORT
  local out
  out="$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
    printf "PING\r\n" >&3; head -c 7 <&3' 2>/dev/null)" || return 1
  [[ "$out" == "+PONG"* ]]
}

# sv_tls_ready PORT: a TLS handshake with our client certificate succeeds.
sv_tls_ready() {
  [[ -s "$SV_SECURE_DIR/ca.pem" ]] || return 1
  timeout 5 openssl s_client -connect "127.0.0.1:$1" -CAfile "$SV_SECURE_DIR/ca.pem" \
    -cert "$SV_SECURE_DIR/client.pem" -key "$SV_SECURE_DIR/client.key" -verify_return_error -brief </dev/null >/dev/null 2>&1
}

# sv_secure_material: the test CA, the server and client certificates and
# the random passwords, made once (missing files only) in $SV_SECURE_DIR.
sv_secure_material() {
  local d="$SV_SECURE_DIR" f
  mkdir -p "$d" && chmod 700 "$d"
  (
    set -e
    cd "$d"
    umask 077
    if [[ ! -s ca.pem || ! -s ca.key ]]; then
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=streamview test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      rm -f server.pem client.pem
    fi
    if [[ ! -s server.pem ]]; then
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 3650 -extfile server.ext 2>/dev/null
      rm -f server.csr server.ext
    fi
    if [[ ! -s client.pem ]]; then
      openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=$SV_SECURE_USER" 2>/dev/null
      printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
      openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 3650 -extfile client.ext 2>/dev/null
      rm -f client.csr client.ext
    fi
    # Kafka reads a PEM key store: the (PKCS#8) key, then the certificate.
    cat server.key server.pem >kafka-keystore.pem
    printf '%s\n' "$SV_SECURE_USER" >user
    for f in kafka.password redis.password es.password es.apikey; do
      [[ -s "$f" ]] || openssl rand -hex 16 | tr -d '\n' >"$f"
    done
  )
}
sv_secret() { cat "$SV_SECURE_DIR/$1"; }

# ---------------------------------------------------------------- paths

KAFKA_DIR="$SV_RUN/kafka"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_LIB="$SV_CACHE/kafka-$KAFKA_VERSION/lib"
REDIS_DIR="$SV_RUN/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
ESPROXY_DIR="$SV_RUN/es-proxy"
ESPROXY_PIDFILE="$ESPROXY_DIR/nginx.pid"

# Elasticsearch runs as $ES_USER, which must be able to reach its runtime dir.
# The repo's .services/elasticsearch is used when that user can write it;
# otherwise a per-repo dir under $ES_SHARED_DIR. The choice is recorded in
# .services/elasticsearch.dir so down/status find it.
ES_POINTER="$SV_RUN/elasticsearch.dir"
sv_es_run_dir() {
  if [[ -s "$ES_POINTER" ]]; then cat "$ES_POINTER"; else printf '%s\n' "$SV_RUN/elasticsearch"; fi
}
ES_SERVER_CLASS="org.elasticsearch.bootstrap.Elasticsearch"
ES_LAUNCHER_CLASS="org.elasticsearch.launcher.CliToolLauncher"

# sv_es_pid RUNDIR [server|launcher]: pid of our Elasticsearch server (or of
# its start-up launcher): es.pid if valid, else any process of that class whose
# environment has ES_PATH_CONF=RUNDIR/config (es.pid is only written once the
# node is up, and is removed by a node that fails to start).
sv_es_pid() {
  local esrun="$1" kind="${2:-server}" class f p envs
  if [[ "$kind" == server ]]; then
    class="$ES_SERVER_CLASS"
    if p="$(sv_read_pid "$esrun/es.pid" "$class")"; then printf '%s\n' "$p"; return 0; fi
  else
    class="$ES_LAUNCHER_CLASS"
  fi
  for f in $(grep -lsF -- "$class" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    p="${f#/proc/}"; p="${p%/cmdline}"
    envs="$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null || true)"
    if [[ $'\n'"$envs"$'\n' == *$'\n'"ES_PATH_CONF=$esrun/config"$'\n'* ]]; then
      printf '%s\n' "$p"; return 0
    fi
  done
  return 1
}

# sv_java_major JAVA: the feature release of that java (17, 25, ...); 0
# when it does not run.
sv_java_major() {
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
  if [[ "$v" =~ ^[0-9]+$ ]]; then echo "$v"; else echo 0; fi
}

# sv_kafka_cluster_id: prints a new cluster ID (16 random bytes, URL-safe
# base64 as Kafka writes them). Like Kafka's Uuid.randomUuid it never starts
# with "-": the storage tool would take such an ID for an option (1 in 64).
sv_kafka_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [[ "$id" == -* ]] || break
  done
  printf '%s\n' "$id"
}

# sv_kafka_jvm: settles KAFKA_JAVA and KAFKA_GC_OPTS when they are not set
# (see above) and sets KAFKA_JAVA_MAJOR, once per script (a cluster's nodes
# share the answer).
sv_kafka_jvm() {
  local j v
  [[ -z "${KAFKA_JAVA_MAJOR:-}" ]] || return 0
  if [[ -z "$KAFKA_JAVA" ]]; then
    KAFKA_JAVA=java
    KAFKA_JAVA_MAJOR="$(sv_java_major java)"
    for j in /usr/lib/jvm/*/bin/java; do
      [[ -x "$j" ]] || continue
      v="$(sv_java_major "$j")"
      if (( v > KAFKA_JAVA_MAJOR )); then KAFKA_JAVA="$j"; KAFKA_JAVA_MAJOR="$v"; fi
    done
  else
    KAFKA_JAVA_MAJOR="$(sv_java_major "$KAFKA_JAVA")"
  fi
  [[ -n "$KAFKA_GC_OPTS" ]] || KAFKA_GC_OPTS="-XX:+UseParallelGC -Xmn128m"
}
