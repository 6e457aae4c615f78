#!/usr/bin/env bash
# One line per server: up/down, pid, address. Exit 0 if all asked-for servers
# answer, else 3.
#
#   scripts/services/status.sh [kafka|elasticsearch|redis|es-proxy ...]   (default: all)
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_parse_services "$@"

down=0
line() { # NAME OK PIDFILE PATTERN PORT ADDR
  local name="$1" ok="$2" pidfile="$3" pattern="$4" port="$5" addr="$6" pid who
  if [[ "$name" == elasticsearch ]]; then pid="$(sv_es_pid "$(sv_es_run_dir)" server || true)"
  else pid="$(sv_read_pid "$pidfile" "$pattern" || true)"; fi
  if [[ -n "$pid" ]]; then who="pid $pid"; else
    pid="$(sv_port_pid "$port" || true)"
    if [[ -n "$pid" ]]; then who="pid $pid, not started by these scripts"; else who="no pid"; fi
  fi
  if [[ "$ok" == 1 ]]; then
    printf '%-14s up    %-40s %s\n' "$name" "$addr" "($who)"
  else
    printf '%-14s down  %-40s %s\n' "$name" "$addr" "($who)"
    down=1
  fi
}

for s in "${SV_SERVICES[@]}"; do
  case "$s" in
    kafka)
      ok=0; sv_kafka_ready "$KAFKA_PORT" && ok=1
      line kafka "$ok" "$KAFKA_PIDFILE" kafka.Kafka "$KAFKA_PORT" "127.0.0.1:$KAFKA_PORT"
      if [[ -n "$KAFKA_SASL_PORT" ]]; then
        ok=0; sv_tls_ready "$KAFKA_SASL_PORT" && ok=1
        line kafka-sasl "$ok" "$KAFKA_PIDFILE" kafka.Kafka "$KAFKA_SASL_PORT" "SASL_SSL 127.0.0.1:$KAFKA_SASL_PORT"
      fi ;;
    elasticsearch)
      ok=0; sv_es_ready "$ES_PORT" && ok=1
      line elasticsearch "$ok" "$(sv_es_run_dir)/es.pid" "$ES_SERVER_CLASS" "$ES_PORT" "http://127.0.0.1:$ES_PORT" ;;
    redis)
      ok=0; sv_redis_ready "$REDIS_PORT" && ok=1
      line redis "$ok" "$REDIS_PIDFILE" redis-server "$REDIS_PORT" "127.0.0.1:$REDIS_PORT"
      if [[ -n "$REDIS_TLS_PORT" ]]; then
        ok=0; sv_tls_ready "$REDIS_TLS_PORT" && ok=1
        line redis-tls "$ok" "$REDIS_PIDFILE" redis-server "$REDIS_TLS_PORT" "TLS 127.0.0.1:$REDIS_TLS_PORT"
      fi ;;
    es-proxy)
      [[ -n "$ES_PROXY_PORT" ]] || continue
      ok=0
      [[ "$(curl -sS -m 3 -o /dev/null -w '%{http_code}' --cacert "$SV_SECURE_DIR/ca.pem" "https://127.0.0.1:$ES_PROXY_PORT/" 2>/dev/null || true)" == 401 ]] && ok=1
      line es-proxy "$ok" "$ESPROXY_PIDFILE" nginx "$ES_PROXY_PORT" "https://127.0.0.1:$ES_PROXY_PORT" ;;
  esac
done
if [[ $down == 1 ]]; then exit 3; fi
