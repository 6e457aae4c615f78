#!/usr/bin/env bash
# Checks that up.sh refuses an ES_NICE that is not a niceness from 0 to 19
# (leading zeros are decimal: 08 is 8, 020 is 20) before it touches
# anything: it must exit 2 and say what it wants. Needs no install and
# touches no running server. That a
# valid ES_NICE reaches every Elasticsearch thread was checked by hand
# (docs/performance.md, "Elasticsearch at a lower priority").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

passed=0 failed=0
# Fail-safe: should a value get through, up.sh stops at its first mkdir
# (its services dir lies under a regular file), before any install or
# start.
: >"$scratch/file"
bad_values=(abc -1 20 1.5 020 023 18446744073709551615 9223372036854775808 " 1" "1 ")
for bad in "${bad_values[@]}"; do
  rc=0
  out="$(env STREAMVIEW_NO_DOCKER=1 STREAMVIEW_SERVICES_DIR="$scratch/file/services" STREAMVIEW_CACHE="$scratch/file/cache" \
    ES_SHARED_DIR="$scratch/file/shared" ES_NICE="$bad" "$here/up.sh" elasticsearch 2>&1)" || rc=$?
  if [[ $rc -eq 2 && "$out" == *"ES_NICE must be a whole number from 0 to 19"* ]]; then
    echo "ok   ES_NICE='$bad': refused (exit 2)"
    passed=$((passed + 1))
  else
    echo "FAIL ES_NICE='$bad': up.sh exited $rc; output was:"; printf '%s\n' "$out" | sed 's/^/     /'
    failed=$((failed + 1))
  fi
done
echo "test_es_nice: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -eq ${#bad_values[@]} ]]
