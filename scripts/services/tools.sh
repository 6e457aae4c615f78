#!/usr/bin/env bash
# Install the standard tools that operators use beside streamview, and that
# the tests drive against the real servers:
#
#   kafka-consumer-groups.sh  Kafka's own consumer-group tool, from
#                             org.apache.kafka:kafka-tools on Maven Central
#                             (run with java -cp against its jars)
#   kcat                      Debian's kcat (formerly kafkacat)
#   promtool                  Prometheus's checker, taken out of Debian's
#                             prometheus package (the server is not installed
#                             or started)
#
#   scripts/services/tools.sh          install what is missing, print the bin dir
#
# Everything lands in $SV_CACHE/tools/bin (${STREAMVIEW_CACHE:-$HOME/.cache/streamview});
# the Makefile passes that folder to the tests as STREAMVIEW_TOOLS. A tool
# that cannot be installed is reported and skipped: the tests that need it
# skip with a message.
# Env: KAFKA_VERSION (4.1.1) STREAMVIEW_CACHE.
set -uo pipefail
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOLS_DIR="$SV_CACHE/tools"
TOOLS_BIN="$TOOLS_DIR/bin"
KAFKA_TOOLS_LIB="$SV_CACHE/kafka-tools-$KAFKA_VERSION/lib"
mkdir -p "$TOOLS_BIN"
exec 9>"$TOOLS_DIR/.lock"
flock -w 600 9 || { sv_err "tools: could not take $TOOLS_DIR/.lock within 600s"; exit 1; }

failed=()

apt_install() { sv_apt_install "$TOOLS_DIR/apt.log" "$@"; }

# kafka-tools and its dependencies; the broker's jars are not needed.
install_kafka_tools() {
  local base="$SV_CACHE/kafka-tools-$KAFKA_VERSION"
  if [[ ! -f "$KAFKA_TOOLS_LIB/.complete" ]]; then
    command -v mvn >/dev/null 2>&1 || apt_install maven openjdk-17-jre-headless || return 1
    mkdir -p "$base"
    cat >"$base/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.streamview</groupId>
  <artifactId>kafka-tools-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
    rm -rf "$KAFKA_TOOLS_LIB.tmp"
    if ! mvn -q -B -f "$base/pom.xml" -Dmaven.repo.local="$SV_CACHE/m2" \
        "$MVN_DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_TOOLS_LIB.tmp" \
        >"$base/mvn.log" 2>&1; then
      sv_err "tools: fetching org.apache.kafka:kafka-tools:$KAFKA_VERSION with Maven failed"
      sv_tail_log tools "$base/mvn.log"; return 1
    fi
    rm -rf "$KAFKA_TOOLS_LIB" && mv "$KAFKA_TOOLS_LIB.tmp" "$KAFKA_TOOLS_LIB"
    printf 'kafka-tools %s\n' "$KAFKA_VERSION" >"$KAFKA_TOOLS_LIB/.complete"
  fi
  # The class moved to tools in Kafka 4.0; the script name is Kafka's own.
  cat >"$TOOLS_BIN/kafka-consumer-groups.sh" <<EOF
#!/usr/bin/env bash
# Kafka $KAFKA_VERSION's kafka-consumer-groups.sh, from org.apache.kafka:kafka-tools.
exec java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$KAFKA_TOOLS_LIB/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "\$@"
EOF
  chmod +x "$TOOLS_BIN/kafka-consumer-groups.sh"
}

install_kcat() {
  command -v kcat >/dev/null 2>&1 || apt_install kcat || { sv_err "tools: apt-get install kcat failed"; sv_tail_log tools "$TOOLS_DIR/apt.log"; return 1; }
  ln -sf "$(command -v kcat)" "$TOOLS_BIN/kcat"
}

# promtool only: the prometheus package's server, its service and its
# dependencies are not wanted here.
install_promtool() {
  [[ -x "$TOOLS_BIN/promtool" ]] && return 0
  if command -v promtool >/dev/null 2>&1; then ln -sf "$(command -v promtool)" "$TOOLS_BIN/promtool"; return 0; fi
  local tmp; tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download prometheus >"$TOOLS_DIR/apt.log" 2>&1); then
    (apt-get update -qq >/dev/null 2>&1 && cd "$tmp" && apt-get download prometheus >"$TOOLS_DIR/apt.log" 2>&1) ||
      { sv_err "tools: apt-get download prometheus failed"; sv_tail_log tools "$TOOLS_DIR/apt.log"; rm -rf "$tmp"; return 1; }
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" && install -m 755 "$tmp/x/usr/bin/promtool" "$TOOLS_BIN/promtool"
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

for t in kafka_tools kcat promtool; do
  "install_$t" || failed+=("$t")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  sv_err "tools: not installed: ${failed[*]} (tests that need them skip)"
fi
printf '%s\n' "$TOOLS_BIN"
