#!/usr/bin/env bash
# The scripts an nbconvert HTML export loads from CDNs (require.js and
# @jupyter-widgets/html-manager), fetched once from the npm registry with npm, so that the
# browser test can open an exported notebook with the network blocked and still render
# its widgets (tests/ui/test_labeler_browser.py routes the CDN URLs to these files).
# Usage: bash scripts/fetch-export-runtime.sh [DEST]   (default node_modules/.cache/hitl-export)
set -euo pipefail
DEST="${1:-node_modules/.cache/hitl-export}"
HTML_MANAGER=1.0.15 # @jupyter-widgets/html-manager for ipywidgets 8
REQUIREJS=2.3.8
if [ -f "$DEST/html-manager/dist/embed-amd.js" ] && [ -f "$DEST/requirejs/require.js" ]; then
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" >/dev/null)
mkdir -p "$DEST/html-manager" "$DEST/requirejs"
tar -xzf "$tmp"/jupyter-widgets-html-manager-*.tgz -C "$DEST/html-manager" --strip-components=1 package/dist
tar -xzf "$tmp"/requirejs-*.tgz -C "$DEST/requirejs" --strip-components=1 package/require.js
echo "export runtime in $DEST"
