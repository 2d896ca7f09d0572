#!/bin/sh
# Runs the end-to-end tests (tests/e2e/*.test.mjs) against $PLANASONIX_BIN
# (default build/asan/planasonix-mcp; build it with `make MODE=asan`).
# UPDATE_GOLDEN=1 rewrites tests/e2e/golden/tools-list.json; KEEP_TMP=1 keeps the temp homes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
bin=${PLANASONIX_BIN:-build/asan/planasonix-mcp}
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin not found; build it first (make MODE=asan -j2)" >&2
    exit 2
fi
if [ ! -d "$here/node_modules/@modelcontextprotocol/sdk" ]; then
    (cd "$here" && npm ci --no-audit --no-fund)
fi
# node 20 takes files (not a directory) as arguments; the shell expands the list.
set +e
node --test --test-concurrency=2 "$@" tests/e2e/*.test.mjs
rc=$?
exit $rc
