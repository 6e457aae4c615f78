#!/usr/bin/env bash
# Checks up.sh's kafka_started_logged, which tells when the broker it just
# started has logged "Kafka Server started": only lines after the log's end
# at the start count, also when log4j rolls server.log over (50 MB) while
# the broker starts. Before, a roll-over made up.sh miss the line and fail
# after KAFKA_START_TIMEOUT with the broker up (session 20: a services dir
# with 1.4 GB of Kafka data, whose start logged enough to roll). Needs no
# install and touches no server: the function is read out of up.sh and run
# on files of its own.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
eval "$(sed -n '/^kafka_started_logged() {/,/^}/p' "$here/up.sh")"
declare -F kafka_started_logged >/dev/null || { echo "FAIL: no kafka_started_logged in up.sh"; exit 1; }

log="$scratch/logs/server.log"
# start: a log with an earlier start in it, marked as up.sh's start_kafka does.
start() {
  rm -rf "$scratch/logs"; mkdir -p "$scratch/logs"
  printf '[..] INFO earlier\n[..] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)\n[..] INFO stopped\n' >"$log"
  KAFKA_DIR="$scratch" KAFKA_LOG_MARK=$(( $(wc -l <"$log") + 1 )) KAFKA_LOG_INODE=$(stat -c %i "$log")
}
roll() { mv "$log" "$log.1"; echo "[..] INFO $1" >"$log"; }
started() { echo "[..] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)" >>"$log"; }

passed=0 failed=0
check() {
  local got=no
  if kafka_started_logged; then got=yes; fi
  if [[ $got == "$2" ]]; then echo "ok   $1"; passed=$((passed + 1))
  else echo "FAIL $1: started=$got, want $2"; failed=$((failed + 1)); fi
}
start;                      check "only the earlier start logged" no
started;                    check "started, same file" yes
start; roll "loading";      check "rolled over, not started yet" no
started;                    check "rolled over, then started" yes
start; started; roll "more"; check "started, then rolled over" yes
start; KAFKA_LOG_INODE= KAFKA_LOG_MARK=1; check "no mark (started by an earlier up.sh): the whole file" yes
echo "test_kafka_started: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -eq 6 ]]
