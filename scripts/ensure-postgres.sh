#!/usr/bin/env bash
# Make PostgreSQL's server binaries available: the store tests start their own server.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  exit 0
fi
echo "PostgreSQL server binaries (initdb, pg_ctl) are needed: install your system's postgresql" >&2
exit 1
