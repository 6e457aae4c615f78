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
earlier='[..] INFO earlier\n[..] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)\n[..] INFO stopped\n'
# start N: a log with an earlier start in it and N files rolled before (each
# with earlier starts too), marked as up.sh's start_kafka does.
start() {
  rm -rf "$scratch/logs"; mkdir -p "$scratch/logs"
  local i
  for (( i = 1; i <= $1; i++ )); do printf "$earlier$earlier$earlier" >"$log.$i"; done
  printf "$earlier" >"$log"
  KAFKA_DIR="$scratch" KAFKA_LOG_MARK=$(( $(wc -l <"$log") + 1 )) KAFKA_LOG_INODE=$(stat -c %i "$log")
}
# roll: as log4j's DefaultRolloverStrategy with max=2 and the default
# fileIndex=max (sv_kafka_log4j's): the newest roll gets the highest
# index; when both are taken, .1 goes and .2 becomes .1.
roll() {
  if [[ -f "$log.2" ]]; then mv "$log.2" "$log.1"; mv "$log" "$log.2"
  elif [[ -f "$log.1" ]]; then mv "$log" "$log.2"
  else mv "$log" "$log.1"; fi
  echo "[..] INFO $1" >"$log"
}
started() { echo "[..] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)" >>"$log"; }

passed=0 failed=0
check() {
  local got=no
  if kafka_started_logged; then got=yes; fi
  if [[ $got == "$2" ]]; then echo "ok   $1"; passed=$((passed + 1))
  else echo "FAIL $1: started=$got, want $2"; failed=$((failed + 1)); fi
}
for rolled in 0 1 2; do
  start $rolled;                   check "$rolled rolled before: only earlier starts logged" no
  started;                         check "$rolled rolled before: started, same file" yes
  start $rolled; roll "loading";   check "$rolled rolled before: rolled over, not started yet" no
  started;                         check "$rolled rolled before: rolled over, then started" yes
  start $rolled; started; roll "more"; check "$rolled rolled before: started, then rolled over" yes
done
start 0; KAFKA_LOG_INODE= KAFKA_LOG_MARK=1; check "no mark (started by an earlier up.sh): the whole file" yes
echo "test_kafka_started: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -eq 16 ]]
