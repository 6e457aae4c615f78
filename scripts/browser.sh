#!/usr/bin/env bash
# Install Debian's chromium for the console's browser test (api/console,
# cmd/streamview/console_browser_test.go) when it is missing.
#
#   scripts/browser.sh
#
# The test finds it as chromium (or $STREAMVIEW_CHROMIUM). Without it the
# browser test fails, or skips under -short.
set -euo pipefail

for b in "${STREAMVIEW_CHROMIUM:-}" chromium chromium-browser; do
  if [[ -n "$b" ]] && command -v "$b" >/dev/null 2>&1; then
    echo "browser: $(command -v "$b") ($("$b" --version 2>/dev/null | head -1))"
    exit 0
  fi
done

if [[ $(id -u) != 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi
echo "browser: installing Debian's chromium (apt)"
log="$(mktemp)"
# Other apt runs may hold the lock (services/up.sh): wait for it.
if ! { $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
  echo "browser: installing chromium failed; the log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "browser: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
