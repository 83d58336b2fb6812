#!/usr/bin/env bash
# Make a Chromium available for the browser tests.
# Debian's package where we can install it (CI runs as root); otherwise Playwright's own.
set -euo pipefail
PY="${1:-python3}"
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  exit 0
fi
"$PY" -m playwright install chromium
