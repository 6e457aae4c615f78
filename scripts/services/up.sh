#!/usr/bin/env bash
# Start the real servers the tests use, on loopback, idempotently.
#
#   scripts/services/up.sh [kafka|elasticsearch|redis|es-proxy ...]   (default: all)
#
# With a working Docker engine (`docker info`), this is `docker compose up -d
# --wait` on docker-compose.yml. Otherwise the servers run natively: Kafka
# (KRaft) and Elasticsearch from Maven Central, Redis from Debian's packages,
# all installed on first use. Downloads are cached in
# ${STREAMVIEW_CACHE:-$HOME/.cache/streamview}; data, configs and logs live in
# <repo>/.services/. A server of ours that is already up is reused.
# Beside the plaintext ports, secured listeners (see lib.sh): Kafka SASL_SSL,
# Redis TLS with an ACL user, and es-proxy, an nginx (Debian's) terminating
# TLS and checking basic auth or an API key in front of Elasticsearch.
# Env: KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (9093) KAFKA_SASL_PORT (9094)
#      ES_PORT (9200) ES_PROXY_PORT (9243) REDIS_PORT (6379) REDIS_TLS_PORT (6380)
#      KAFKA_VERSION ES_VERSION STREAMVIEW_CACHE STREAMVIEW_SERVICES_DIR.
#      REDIS_APPENDONLY (no; yes keeps Redis's data across a restart).
#      ES_NICE (0; up to 19: Elasticsearch's niceness, see lib.sh).
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_parse_services "$@"
if [[ ! "$ES_NICE" =~ ^0*1?[0-9]$ ]]; then # digits only, no arithmetic before: 08 is not octal, 2^64-1 not -1
  sv_err "ES_NICE must be a whole number from 0 to 19 (Elasticsearch's niceness), not '$ES_NICE'"
  exit 2
fi
ES_NICE=$((10#$ES_NICE))

if sv_docker_mode; then
  # docker-compose.yml has the plaintext servers only: no secured listeners.
  compose=()
  for s in "${SV_SERVICES[@]}"; do [[ "$s" == es-proxy ]] || compose+=("$s"); done
  sv_log "docker engine found: docker compose up ${compose[*]} (no secured listeners in Docker mode)"
  [[ ${#compose[@]} -eq 0 ]] || sv_compose up -d --wait "${compose[@]}"
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
      if [[ -n "$KAFKA_SASL_PORT" ]] && ! sv_port_busy "$KAFKA_SASL_PORT"; then
        sv_err "kafka: WARNING: running without its SASL_SSL listener on 127.0.0.1:$KAFKA_SASL_PORT (started by an older up.sh);"
        sv_err "kafka:   restart it to add it: scripts/services/down.sh kafka && scripts/services/up.sh kafka"
      fi
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
  if [[ -n "$KAFKA_SASL_PORT" ]] && sv_port_busy "$KAFKA_SASL_PORT"; then
    sv_port_taken_error kafka "$KAFKA_SASL_PORT" KAFKA_SASL_PORT; return 1
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
    sv_log "redis: already running (pid $pid)"; STATE[redis]=reuse
    if [[ -n "$REDIS_TLS_PORT" ]] && ! sv_port_busy "$REDIS_TLS_PORT"; then
      sv_err "redis: WARNING: running without its TLS port 127.0.0.1:$REDIS_TLS_PORT (started by an older up.sh);"
      sv_err "redis:   restart it to add it: scripts/services/down.sh redis && scripts/services/up.sh redis"
    fi
    return 0
  fi
  if sv_port_busy "$REDIS_PORT"; then
    if sv_redis_ready "$REDIS_PORT"; then
      sv_log "redis: a Redis server not started by these scripts already answers on 127.0.0.1:$REDIS_PORT ($(sv_port_holder "$REDIS_PORT")); reusing it"
      STATE[redis]=reuse; return 0
    fi
    sv_port_taken_error redis "$REDIS_PORT" REDIS_PORT; return 1
  fi
  if [[ -n "$REDIS_TLS_PORT" ]] && sv_port_busy "$REDIS_TLS_PORT"; then
    sv_port_taken_error redis "$REDIS_TLS_PORT" REDIS_TLS_PORT; return 1
  fi
  STATE[redis]=start
}

check_es_proxy() {
  local pid
  if [[ -z "$ES_PROXY_PORT" ]]; then
    sv_log "es-proxy: off (ES_PROXY_PORT is empty; it is on by default beside ES_PORT=9200 only)"; STATE[es-proxy]=off; return 0
  fi
  if pid="$(sv_read_pid "$ESPROXY_PIDFILE" nginx)"; then
    sv_log "es-proxy: already running (pid $pid)"; STATE[es-proxy]=reuse; return 0
  fi
  if sv_port_busy "$ES_PROXY_PORT"; then
    sv_port_taken_error es-proxy "$ES_PROXY_PORT" ES_PROXY_PORT; return 1
  fi
  STATE[es-proxy]=start
}
for s in "${SV_SERVICES[@]}"; do
  "check_${s//-/_}" || FAILED+=("$s")
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
if starting es-proxy; then
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || apt_pkgs+=(nginx)
  command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl)
fi
if { starting kafka && [[ -n "$KAFKA_SASL_PORT" ]]; } || { starting redis && [[ -n "$REDIS_TLS_PORT" ]]; } || starting es-proxy; then
  command -v openssl >/dev/null 2>&1 || apt_pkgs+=(openssl)
fi
if [[ ${#apt_pkgs[@]} -gt 0 ]]; then
  t="$(sv_now)"
  sv_log "apt: installing ${apt_pkgs[*]}"
  apt_log="$SV_RUN/apt-install.log"
  rc=0
  sv_apt_install "$apt_log" "${apt_pkgs[@]}" || rc=$?
  if [[ $rc != 0 ]]; then
    sv_err "apt: installing ${apt_pkgs[*]} failed (exit $rc)"; sv_tail_log apt "$apt_log"; exit 1
  fi
  sv_log "apt: done in $(sv_elapsed "$t")"
fi

# install_kafka is in lib.sh (scripts/services/kafka-cluster.sh uses it too).


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

# The test CA, certificates and passwords, before any secured listener.
if { starting kafka && [[ -n "$KAFKA_SASL_PORT" ]]; } || { starting redis && [[ -n "$REDIS_TLS_PORT" ]]; } || starting es-proxy; then
  if ! sv_secure_material; then sv_err "secure: making the test CA and certificates in $SV_SECURE_DIR failed"; exit 1; fi
fi

start_kafka() {
  local cid
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  sv_kafka_properties "$KAFKA_DIR/server.properties" 1 "1@127.0.0.1:$KAFKA_CONTROLLER_PORT" \
    "PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT${KAFKA_SASL_PORT:+,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT}" \
    "PLAINTEXT://127.0.0.1:$KAFKA_PORT${KAFKA_SASL_PORT:+,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT}" \
    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL" "$KAFKA_DIR/data" 1
  if [[ -n "$KAFKA_SASL_PORT" ]]; then
    # SCRAM users live in the cluster metadata (made at format time, or by
    # ensure_kafka_scram for a log formatted before); PLAIN's are listed here.
    cat >>"$KAFKA_DIR/server.properties" <<EOF
# SASL_SSL: SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN over TLS, client certificate required.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SV_SECURE_USER="$(sv_secret kafka.password)";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$SV_SECURE_DIR/kafka-keystore.pem
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$SV_SECURE_DIR/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required
EOF
  fi
  sv_kafka_log4j "$KAFKA_DIR/log4j2.properties"
  sv_kafka_jvm
  sv_log "kafka: Java $KAFKA_JAVA_MAJOR ($KAFKA_JAVA), $KAFKA_GC_OPTS"
  local jvm=("$KAFKA_JAVA" -Dkafka.logs.dir="$KAFKA_DIR/logs" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties"
    -Djava.awt.headless=true -cp "$KAFKA_LIB/*")
  local gclog=("-Xlog:gc:file=\"$KAFKA_DIR/logs/gc.log\":time,uptime:filecount=5,filesize=20M") # quoted: a ':' in the path
  [[ -n "${KAFKA_GC_LOG_OPTS+set}" ]] && read -ra gclog <<<"$KAFKA_GC_LOG_OPTS"
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    # KAFKA_FORMAT_ARGS, e.g. "--feature transaction.version=1", applies to a
    # fresh data dir only (rm -rf .services/kafka to re-format).
    cid="$(sv_kafka_cluster_id)"
    local scram=()
    if [[ -n "$KAFKA_SASL_PORT" ]]; then
      local pw; pw="$(sv_secret kafka.password)"
      scram=(--add-scram "SCRAM-SHA-512=[name=$SV_SECURE_USER,password=$pw]" --add-scram "SCRAM-SHA-256=[name=$SV_SECURE_USER,password=$pw]")
    fi
    # shellcheck disable=SC2086
    if ! "${jvm[@]}" -Xmx256m kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" -g ${KAFKA_FORMAT_ARGS:-} \
        "${scram[@]}" >"$KAFKA_DIR/logs/format.log" 2>&1 9>&-; then
      sv_err "kafka: formatting storage failed"; sv_tail_log kafka "$KAFKA_DIR/logs/format.log"; return 1
    fi
    [[ ${#scram[@]} -eq 0 ]] || kafka_scram_stamp >"$KAFKA_DIR/data/.scram-users"
  fi
  : >"$KAFKA_DIR/logs/kafka.out"
  # Only "Kafka Server started" lines written after this start count: those
  # after the log's present end (its line count, and its inode, for when
  # log4j rolls it over at 50 MB while the broker starts).
  KAFKA_LOG_MARK=1 KAFKA_LOG_INODE=
  if [[ -f "$KAFKA_DIR/logs/server.log" ]]; then
    KAFKA_LOG_MARK=$(( $(wc -l <"$KAFKA_DIR/logs/server.log") + 1 ))
    KAFKA_LOG_INODE=$(stat -c %i "$KAFKA_DIR/logs/server.log")
  fi
  # shellcheck disable=SC2086
  nohup "${jvm[@]}" $KAFKA_HEAP_OPTS $KAFKA_GC_OPTS "${gclog[@]}" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >>"$KAFKA_DIR/logs/kafka.out" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PIDFILE"
}

# kafka_scram_stamp: what the SCRAM users were made for (user and a hash of
# the password), so that a changed password or an older log is noticed.
kafka_scram_stamp() { printf '%s %s\n' "$SV_SECURE_USER" "$(sv_secret kafka.password | sha256sum | cut -c1-16)"; }

# ensure_kafka_scram: a log formatted before the SASL_SSL listener existed
# (or for another password) gets its SCRAM users through the admin API,
# once, after the broker is up.
ensure_kafka_scram() {
  [[ -n "$KAFKA_SASL_PORT" ]] || return 0
  [[ "$(cat "$KAFKA_DIR/data/.scram-users" 2>/dev/null)" == "$(kafka_scram_stamp)" ]] && return 0
  local pw m; pw="$(sv_secret kafka.password)"
  : >"$KAFKA_DIR/logs/scram.log"
  # One mechanism per request: the broker refuses two changes of one user's
  # credentials in a request.
  for m in SCRAM-SHA-512 SCRAM-SHA-256; do
    if ! java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" -cp "$KAFKA_LIB/*" \
        kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$SV_SECURE_USER" \
        --add-config "$m=[password=$pw]" >>"$KAFKA_DIR/logs/scram.log" 2>&1 9>&-; then
      sv_err "kafka: creating the $m user failed"; sv_tail_log kafka "$KAFKA_DIR/logs/scram.log"; return 1
    fi
  done
  kafka_scram_stamp >"$KAFKA_DIR/data/.scram-users"
  sv_log "kafka: SCRAM-SHA-512/256 user $SV_SECURE_USER created"
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
  (( ES_NICE == 0 )) || sv_log "elasticsearch: niceness $ES_NICE (ES_NICE)"
  (
    cd "$esrun"
    exec nice -n "$ES_NICE" setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
      env -i PATH=/usr/bin:/bin HOME="$esrun" ES_HOME="$home" ES_JAVA_HOME="$java_home" ES_PATH_CONF="$esrun/config" \
      ES_TMPDIR="$esrun/tmp" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_EXTRA_JAVA_OPTS:-}" \
      "$home/bin/elasticsearch" -d -p "$pidfile" >>"$esrun/logs/es.out" 2>&1 </dev/null 9>&-
  ) &
  ES_BG_PID=$!
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PIDFILE"
  local secure=()
  if [[ -n "$REDIS_TLS_PORT" ]]; then
    # The default user stays open (the plaintext tests use it); the ACL user
    # has a password, stored hashed. Both ports serve the same data.
    ( umask 077; printf 'user default on nopass ~* &* +@all\nuser %s on #%s ~* &* +@all\n' \
        "$SV_SECURE_USER" "$(sv_secret redis.password | sha256sum | cut -d' ' -f1)" >"$REDIS_DIR/users.acl" )
    secure=(--tls-port "$REDIS_TLS_PORT" --tls-cert-file "$SV_SECURE_DIR/server.pem" --tls-key-file "$SV_SECURE_DIR/server.key"
      --tls-ca-cert-file "$SV_SECURE_DIR/ca.pem" --tls-auth-clients yes --aclfile "$REDIS_DIR/users.acl")
  fi
  if ! redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly "$REDIS_APPENDONLY" \
      --dir "$REDIS_DIR" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_DIR/redis.log" "${secure[@]}" 9>&-; then
    sv_err "redis: redis-server refused to start"; sv_tail_log redis "$REDIS_DIR/redis.log"; return 1
  fi
}

# es-proxy: Debian's nginx terminating TLS in front of Elasticsearch, letting
# through only requests with the basic-auth user or the API key (this
# Elasticsearch has no security module). The credentials are dropped before
# proxying; nginx's access log has no Authorization header.
start_es_proxy() {
  local nginx basic apikey
  nginx="$(command -v nginx || echo /usr/sbin/nginx)"
  mkdir -p "$ESPROXY_DIR/logs" "$ESPROXY_DIR/tmp"
  basic="$(printf '%s:%s' "$SV_SECURE_USER" "$(sv_secret es.password)" | base64 -w0)"
  apikey="$(sv_secret es.apikey)"
  ( umask 077; cat >"$ESPROXY_DIR/nginx.conf" <<EOF
# Written by scripts/services/up.sh; regenerated on every start.
daemon on;
worker_processes 1;
pid $ESPROXY_PIDFILE;
error_log $ESPROXY_DIR/logs/error.log warn;
events { worker_connections 512; }
http {
  access_log $ESPROXY_DIR/logs/access.log;
  client_body_temp_path $ESPROXY_DIR/tmp/body;
  proxy_temp_path $ESPROXY_DIR/tmp/proxy;
  fastcgi_temp_path $ESPROXY_DIR/tmp/fastcgi;
  uwsgi_temp_path $ESPROXY_DIR/tmp/uwsgi;
  scgi_temp_path $ESPROXY_DIR/tmp/scgi;
  client_max_body_size 200m;
  map_hash_bucket_size 256;
  map \$http_authorization \$sv_authorized {
    default 0;
    "Basic $basic" 1;
    "ApiKey $apikey" 1;
  }
  upstream elasticsearch {
    server 127.0.0.1:$ES_PORT;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$ES_PROXY_PORT ssl;
    ssl_certificate $SV_SECURE_DIR/server.pem;
    ssl_certificate_key $SV_SECURE_DIR/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      if (\$sv_authorized = 0) {
        add_header WWW-Authenticate 'Basic realm="elasticsearch"' always;
        return 401 '{"error":"es-proxy: missing or wrong credentials (basic auth or API key)","status":401}';
      }
      proxy_pass http://elasticsearch;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_read_timeout 120s;
    }
  }
}
EOF
  )
  rm -f "$ESPROXY_PIDFILE"
  if ! "$nginx" -p "$ESPROXY_DIR" -c "$ESPROXY_DIR/nginx.conf" -e "$ESPROXY_DIR/logs/error.log" >"$ESPROXY_DIR/logs/nginx.out" 2>&1 9>&-; then
    sv_err "es-proxy: nginx refused to start"; sv_tail_log es-proxy "$ESPROXY_DIR/logs/nginx.out" "$ESPROXY_DIR/logs/error.log"; return 1
  fi
}

for s in kafka elasticsearch redis es-proxy; do
  starting "$s" || continue
  STARTED[$s]="$(sv_now)"
  sv_log "$s: starting"
  if ! "start_${s//-/_}"; then FAILED+=("$s"); STATE[$s]=failed; fi
done

# ================================================================ phase 4: wait

fail_start() { # NAME REASON LOGS...
  local name="$1" reason="$2"; shift 2
  sv_err "$name: FAILED to start: $reason"
  sv_tail_log "$name" "$@"
  FAILED+=("$name")
}

# kafka_started_logged: the broker started since start_kafka, by its log.
# log4j may roll server.log over meanwhile (at 50 MB): the file that was
# server.log at the start is then a server.log.<n> (the newest roll the
# highest n), found by its inode and read from the mark, and all of the new
# server.log is this start's. A server.log with the old inode but fewer
# lines than the mark is a new file on a reused inode.
kafka_started_logged() {
  local log="$KAFKA_DIR/logs/server.log" old new="" lines
  old="$log"
  if [[ -n "${KAFKA_LOG_INODE:-}" ]] && ! { [[ "$(stat -c %i "$log" 2>/dev/null)" == "$KAFKA_LOG_INODE" ]] &&
      (( $(wc -l <"$log" 2>/dev/null || echo 0) + 1 >= KAFKA_LOG_MARK )); }; then
    old=$(find "$KAFKA_DIR/logs" -maxdepth 1 -name 'server.log.*' -inum "$KAFKA_LOG_INODE" -print -quit 2>/dev/null || true)
    new="$log"
  fi
  lines=$({ [[ -z "$old" ]] || tail -n "+$KAFKA_LOG_MARK" "$old" 2>/dev/null; [[ -z "$new" ]] || cat "$new" 2>/dev/null; } |
    grep -c 'Kafka Server started' || true)
  [[ "$lines" -gt 0 ]]
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
    if kafka_started_logged && sv_kafka_ready "$KAFKA_PORT"; then
      sv_log "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $pid, Kafka $KAFKA_VERSION) in $(sv_elapsed "${STARTED[kafka]}")"
      wait_kafka_sasl
      return
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start kafka "not ready after ${KAFKA_START_TIMEOUT}s (pid $pid left running; scripts/services/down.sh stops it)" \
        "$KAFKA_DIR/logs/kafka.out" "$KAFKA_DIR/logs/server.log"; return
    fi
    sleep 0.5
  done
}

wait_kafka_sasl() {
  [[ -n "$KAFKA_SASL_PORT" ]] || return 0
  ensure_kafka_scram || { FAILED+=(kafka); return; }
  local i
  for ((i = 0; i < 100; i++)); do
    if sv_tls_ready "$KAFKA_SASL_PORT"; then
      sv_log "kafka: SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN; user $SV_SECURE_USER)"
      return
    fi
    sleep 0.2
  done
  fail_start kafka "no TLS handshake on the SASL_SSL listener 127.0.0.1:$KAFKA_SASL_PORT" "$KAFKA_DIR/logs/server.log"
}

wait_es_proxy() {
  local deadline code
  deadline=$(( $(date +%s) + 30 ))
  while :; do
    code="$(curl -sS -m 3 -o /dev/null -w '%{http_code}' --cacert "$SV_SECURE_DIR/ca.pem" \
      -H "Authorization: ApiKey $(sv_secret es.apikey)" "https://127.0.0.1:$ES_PROXY_PORT/_cluster/health" 2>/dev/null || true)"
    if [[ "$code" == 200 ]]; then
      sv_log "es-proxy: up on https://127.0.0.1:$ES_PROXY_PORT (nginx, TLS, basic auth or API key) -> http://127.0.0.1:$ES_PORT in $(sv_elapsed "${STARTED[es-proxy]}")"
      return
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start es-proxy "https://127.0.0.1:$ES_PROXY_PORT/_cluster/health answers ${code:-nothing}, want 200 (is Elasticsearch up on $ES_PORT?)" \
        "$ESPROXY_DIR/logs/error.log"; return
    fi
    sleep 0.3
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
      if [[ -n "$REDIS_TLS_PORT" ]]; then
        if sv_tls_ready "$REDIS_TLS_PORT"; then sv_log "redis: TLS on 127.0.0.1:$REDIS_TLS_PORT (ACL user $SV_SECURE_USER)"
        else fail_start redis "no TLS handshake on 127.0.0.1:$REDIS_TLS_PORT" "$REDIS_DIR/redis.log"; fi
      fi
      return
    fi
    if (( $(date +%s) >= deadline )); then
      fail_start redis "not ready after ${REDIS_START_TIMEOUT}s" "$REDIS_DIR/redis.log"; return
    fi
    sleep 0.2
  done
}

KAFKA_LOG_MARK="${KAFKA_LOG_MARK:-1}"
for s in redis kafka elasticsearch es-proxy; do
  case "${STATE[$s]:-}" in
    reuse)
      # A broker of ours whose log predates its SCRAM users gets them now.
      if [[ "$s" == kafka ]] && sv_read_pid "$KAFKA_PIDFILE" kafka.Kafka >/dev/null && sv_port_busy "${KAFKA_SASL_PORT:-0}"; then
        ensure_kafka_scram || FAILED+=(kafka)
      fi ;;
    start) "wait_${s//-/_}" ;;
    wait) STARTED[$s]="$(sv_now)"; "wait_${s//-/_}" ;;
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
secure_line=()
for s in "${SV_SERVICES[@]}"; do
  case "$s" in
    kafka) [[ -z "$KAFKA_SASL_PORT" ]] || ! sv_port_busy "$KAFKA_SASL_PORT" || secure_line+=("KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT") ;;
    redis) [[ -z "$REDIS_TLS_PORT" ]] || ! sv_port_busy "$REDIS_TLS_PORT" || secure_line+=("REDIS_TLS_ADDR=127.0.0.1:$REDIS_TLS_PORT") ;;
    es-proxy) [[ -z "$ES_PROXY_PORT" ]] || ! sv_port_busy "$ES_PROXY_PORT" || secure_line+=("ELASTICSEARCH_PROXY_URL=https://127.0.0.1:$ES_PROXY_PORT") ;;
  esac
done
if [[ ${#secure_line[@]} -gt 0 ]]; then
  sv_log "services: secured: ${secure_line[*]} STREAMVIEW_SECURE_DIR=$SV_SECURE_DIR"
fi
