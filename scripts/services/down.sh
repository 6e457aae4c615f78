#!/usr/bin/env bash
# Stop the servers that scripts/services/up.sh started (TERM, then KILL after a
# timeout). Fine when nothing runs. Data stays in .services/; to reset it:
#   scripts/services/down.sh && rm -rf .services
#
#   scripts/services/down.sh [kafka|elasticsearch|redis|es-proxy ...]   (default: all)
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_parse_services "$@"

if sv_docker_mode; then
  sv_log "docker engine found: docker compose stop ${SV_SERVICES[*]}"
  compose=()
  for s in "${SV_SERVICES[@]}"; do [[ "$s" == es-proxy ]] || compose+=("$s"); done
  if [[ $# -eq 0 ]]; then sv_compose down; elif [[ ${#compose[@]} -gt 0 ]]; then sv_compose stop "${compose[@]}"; fi
  exit 0
fi

[[ -d "$SV_RUN" ]] || { sv_log "services: nothing to stop ($SV_RUN does not exist)"; exit 0; }
exec 9>"$SV_RUN/.lock"
flock -w 600 9 || { sv_err "could not take $SV_RUN/.lock within 600s"; exit 1; }

stop_one() { # NAME PIDFILE PATTERN TIMEOUT
  local name="$1" pidfile="$2" pattern="$3" timeout="$4" pid
  if pid="$(sv_read_pid "$pidfile" "$pattern")"; then
    sv_log "$name: stopping (pid $pid)"
    sv_stop "$name" "$pid" "$timeout"
  else
    sv_log "$name: not running"
  fi
  rm -f "$pidfile"
}

for s in "${SV_SERVICES[@]}"; do
  case "$s" in
    kafka) stop_one kafka "$KAFKA_PIDFILE" kafka.Kafka 60 ;;
    elasticsearch)
      esrun="$(sv_es_run_dir)"
      if pid="$(sv_es_pid "$esrun" launcher)"; then
        sv_log "elasticsearch: stopping launcher (pid $pid)"; sv_stop elasticsearch-launcher "$pid" 30
      fi
      if pid="$(sv_es_pid "$esrun" server)"; then
        sv_log "elasticsearch: stopping (pid $pid)"; sv_stop elasticsearch "$pid" 60
      else
        sv_log "elasticsearch: not running"
      fi
      rm -f "$esrun/es.pid" ;;
    redis) stop_one redis "$REDIS_PIDFILE" redis-server 15 ;;
    es-proxy) stop_one es-proxy "$ESPROXY_PIDFILE" nginx 15 ;;
  esac
done
