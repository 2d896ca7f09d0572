#!/usr/bin/env bash
# Runs every benchmark side by side with its anchor (not part of the tests; numbers depend on
# the machine). Needs wrk (apt-get install wrk) and Node; builds the release binary first.
set -euo pipefail
cd "$(dirname "$0")"
make -C .. -j"$(nproc)" >/dev/null
[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null
echo "## stdio"
node stdio.mjs ../build/release/planasonix-mcp
echo
echo "## Streamable HTTP"
./http.sh ../build/release/planasonix-mcp
