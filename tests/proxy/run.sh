#!/bin/sh
# Runs the stdio proxy tests (tests/proxy/*.test.mjs: `planasonix-mcp --stdio` with
# PLANASONIX_API_URL set, against tests/proxy/fake-server.mjs and, when it is built, a real
# `planasonix-mcp serve`) with $PLANASONIX_BIN (default build/asan/planasonix-mcp; build it with
# `make MODE=asan`). Installs nothing itself: the official SDK client test uses
# tests/e2e/node_modules, which tests/e2e/run.sh installs (that test is skipped without it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
bin=${PLANASONIX_BIN:-build/asan/planasonix-mcp}
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin not found; build it first (make MODE=asan -j2)" >&2
    exit 2
fi
export PLANASONIX_BIN="$bin"
# The proxy honours http_proxy & co. like any libcurl client; the tests talk to 127.0.0.1.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
# node 20 takes files (not a directory) as arguments; the shell expands the list.
set +e
node --test --test-concurrency=2 "$@" tests/proxy/*.test.mjs
rc=$?
exit $rc
