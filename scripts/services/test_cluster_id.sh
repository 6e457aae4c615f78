#!/usr/bin/env bash
# Checks sv_kafka_cluster_id: 1,000 new IDs, each 22 characters of URL-safe
# base64 for 16 bytes, none starting with "-" (Kafka's storage tool takes
# such an ID for an option and refuses to format: 1 draw in 64 before the
# fix, so 1,000 draws of the old code pass with a chance of e^-15.7).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

n=1000 bad=0 seen=""
for _ in $(seq "$n"); do
  id="$(sv_kafka_cluster_id)"
  if [[ "$id" == -* || ! "$id" =~ ^[A-Za-z0-9_-]{22}$ ]]; then
    echo "FAIL: bad cluster ID \"$id\""; bad=$((bad + 1))
  fi
  seen+="$id"$'\n'
done
distinct="$(printf '%s' "$seen" | sort -u | wc -l)"
if [[ "$distinct" -ne "$n" ]]; then echo "FAIL: $distinct distinct IDs of $n"; bad=$((bad + 1)); fi
echo "test_cluster_id: $n IDs, $bad failures"
[[ $bad -eq 0 ]]
