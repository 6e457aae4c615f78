#!/usr/bin/env bash
# Checks that up.sh refuses a port held by something else: it must exit
# non-zero and name the port and the process that holds it.
# Occupies a free loopback port with `python3 -m http.server`, then runs
# up.sh for each server with its port variable set to that port. Needs no
# install and touches no running server (own scratch .services dir).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

scratch="$(mktemp -d)"
holder=""
cleanup() {
  if [[ -n "$holder" ]]; then kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$scratch" >"$scratch/http.log" 2>&1 &
holder=$!
for _ in $(seq 100); do
  [[ -n "$(ss -Hltn "sport = :$port")" ]] && break
  sleep 0.1
done
[[ -n "$(ss -Hltn "sport = :$port")" ]] || { echo "could not occupy port $port"; exit 1; }

passed=0 failed=0
check() { # SERVICE VAR
  local svc="$1" var="$2" out rc=0
  out="$(env STREAMVIEW_NO_DOCKER=1 STREAMVIEW_SERVICES_DIR="$scratch/services" STREAMVIEW_CACHE="$scratch/cache" \
    "$var=$port" "$here/up.sh" "$svc" 2>&1)" || rc=$?
  if [[ $rc -ne 0 && "$out" == *"port $port is already in use"* && "$out" == *"held by: pid $holder"* \
        && "$out" == *"$var=<free port>"* ]]; then
    echo "ok   $svc: up.sh exited $rc and named port $port and pid $holder"
    passed=$((passed + 1))
  else
    echo "FAIL $svc: up.sh exited $rc; output was:"; printf '%s\n' "$out" | sed 's/^/     /'
    failed=$((failed + 1))
  fi
}
check redis REDIS_PORT
check kafka KAFKA_PORT
check elasticsearch ES_PORT
check es-proxy ES_PROXY_PORT

echo "test_port_taken: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
