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

if [[ $(id -u) != 0 ]] && command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"
echo "browser: installing Debian's chromium (apt)"
log="$(mktemp)"
if ! sv_apt_install "$log" chromium fonts-dejavu-core; then
  echo "browser: installing chromium failed; the log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "browser: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
