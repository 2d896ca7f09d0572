#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, server mode, active
# suite) against `planasonix-mcp serve` (mcp.md §11).
#
#   tests/conformance/run.sh        # uses $PLANASONIX_BIN or build/asan/planasonix-mcp
#   KEEP_TMP=1 tests/conformance/run.sh   # keep the temp home, logs and per-scenario checks.json
#
# - Installs, once (cached in tests/conformance/node_modules, from package-lock.json), the
#   conformance runner 0.1.16 and the npm package node@22.23.3: the runner crashes on Node 20,
#   and that package ships a Node 22 binary at node_modules/.bin/node.
# - Starts serve on a free loopback port in a temporary PLANASONIX_HOME with an organization
#   and key made by the CLI, and in front of it auth-proxy.mjs, which adds the bearer key (the
#   runner cannot send headers; the product has no unauthenticated mode) and passes Host and
#   Origin through, so the dns-rebinding scenario reaches serve's own checks.
# - Runs the active suite with --expected-failures expected-failures.yml (fixture scenarios we
#   do not ship, each with its reason): a new failure, or a listed scenario that now passes,
#   fails the run.
# - Also checks that serve saw the rebinding attempt (an audit row with host_not_allowed), that
#   it shuts down cleanly on SIGTERM, and that its log has no sanitizer report.
#
# Ends with "conformance: N passed, N failed" (passed = scenarios passed + harness checks;
# failed = unexpected failures + stale expectations + harness failures) and exits non-zero
# on any unexpected result.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${PLANASONIX_BIN:-$root/build/asan/planasonix-mcp}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
if [ ! -x "$bin" ]; then
    echo "conformance: $bin not found; build it first (make MODE=asan -j2)" >&2
    exit 2
fi

CONFORMANCE_VERSION=0.1.16
NODE22_VERSION=22.23.3
N22=$here/node_modules/.bin/node
C=$here/node_modules/@modelcontextprotocol/conformance/dist/index.js

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
finish() {
    echo "conformance: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

installed() {
    [ -x "$N22" ] && [ "$("$N22" --version 2>/dev/null)" = "v$NODE22_VERSION" ] && [ -f "$C" ] &&
        grep -q "\"version\": \"$CONFORMANCE_VERSION\"" \
            "$here/node_modules/@modelcontextprotocol/conformance/package.json"
}
if ! installed; then
    echo "conformance: installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION and node@$NODE22_VERSION"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
    if ! installed; then
        fail "install the conformance runner and Node $NODE22_VERSION (npm ci in tests/conformance)"
        finish
    fi
fi

tmp=$(mktemp -d)
export PLANASONIX_HOME=$tmp/home
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
unset PORT PLANASONIX_ALLOWED_ORIGINS PLANASONIX_ALLOWED_HOSTS DATABASE_URL PLANASONIX_API_URL PLANASONIX_API_KEY
server_pid=
proxy_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "conformance: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# ---- an organization and a key, made by the CLI ---------------------------------------------
org=$("$bin" org create conformance --plan enterprise 2>>"$tmp/cli.log")
"$bin" org update "$org" --rate-limit unlimited >/dev/null 2>>"$tmp/cli.log"
key=$("$bin" key create --org "$org" --scopes all --name conformance 2>>"$tmp/cli.log")
if [ -z "$org" ] || [ -z "$key" ]; then
    cat "$tmp/cli.log"
    fail "create the organization and key with the CLI"
    finish
fi

# ---- serve on a free port (port 0: serve logs the port it bound) ----------------------------
PLANASONIX_LOG=info "$bin" serve --listen 127.0.0.1:0 2>"$tmp/serve.log" &
server_pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's|.*serving MCP on http://127.0.0.1:\([0-9]*\)/mcp.*|\1|p' "$tmp/serve.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$port" ]; then
    cat "$tmp/serve.log"
    fail "start serve"
    finish
fi

# ---- the auth-injecting proxy ---------------------------------------------------------------
AUTH_PROXY_KEY=$key "$N22" "$here/auth-proxy.mjs" --target "http://127.0.0.1:$port" >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!
pport=
for _ in $(seq 200); do
    pport=$(sed -n 's|^auth-proxy: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/proxy.log")
    [ -n "$pport" ] && break
    kill -0 "$proxy_pid" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$pport" ]; then
    cat "$tmp/proxy.log"
    fail "start auth-proxy.mjs"
    finish
fi
# serve is up when /healthz answers through the proxy.
healthy=0
for _ in $(seq 100); do
    if "$N22" -e "fetch('http://127.0.0.1:$pport/healthz').then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"; then
        healthy=1
        break
    fi
    sleep 0.1
done
if [ "$healthy" = 1 ]; then pass "serve /healthz through auth-proxy"; else fail "serve /healthz through auth-proxy"; finish; fi
echo "conformance: serve on 127.0.0.1:$port, auth-proxy on 127.0.0.1:$pport"

# ---- the suite ------------------------------------------------------------------------------
out=$tmp/conformance.out
timeout 300 "$N22" "$C" server --url "http://127.0.0.1:$pport/mcp" --suite active \
    --expected-failures "$here/expected-failures.yml" -o "$tmp/results" >"$out" 2>&1
rc=$?
# The per-scenario progress lines are noise; print from the summary on.
sed -n '/=== SUMMARY ===/,$p' "$out" | grep -q . && sed -n '/=== SUMMARY ===/,$p' "$out" || cat "$out"

scenarios_passed=$(grep -c '^✓ ' "$out")
expected=$(grep -c '^  ~ ' "$out")
unexpected=$(sed -n '/Unexpected failures (not in baseline)/,/^$/p' "$out" | grep -c '^  ✗ ')
stale=$(sed -n '/Stale baseline entries/,/^$/p' "$out" | grep -c '^  ✓ ')
listed=$(grep -c '^  - ' "$here/expected-failures.yml")
passed=$((passed + scenarios_passed))
failed=$((failed + unexpected + stale))
[ "$unexpected" -gt 0 ] && echo "FAIL $unexpected scenario(s) failed that are not in expected-failures.yml"
[ "$stale" -gt 0 ] && echo "FAIL $stale scenario(s) in expected-failures.yml now pass: remove them"
if [ "$rc" -ne 0 ] && [ "$unexpected" -eq 0 ] && [ "$stale" -eq 0 ]; then
    fail "the conformance runner exited $rc"
    tail -n 40 "$out"
fi
if [ "$expected" -eq "$listed" ]; then
    pass "every scenario in expected-failures.yml ran and failed as expected ($expected)"
else
    fail "expected-failures.yml lists $listed scenarios, $expected of them ran and failed"
fi
if [ "$scenarios_passed" -eq 0 ]; then fail "no scenario passed"; fi

# ---- after the suite ------------------------------------------------------------------------
kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
proxy_pid=
kill -TERM "$server_pid"
wait "$server_pid"
src=$?
server_pid=
if [ "$src" -eq 0 ]; then pass "serve exits 0 on SIGTERM"; else fail "serve exited $src on SIGTERM"; fi
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$tmp/serve.log"; then
    grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/serve.log" | head -60
    fail "serve log has a sanitizer report"
else
    pass "serve log has no sanitizer report"
fi
# The dns-rebinding scenario's Host: evil.example.com reached serve (the proxy passes Host
# through) and serve refused it itself.
if command -v sqlite3 >/dev/null 2>&1; then
    n=$(sqlite3 -readonly "$PLANASONIX_HOME/planasonix.db" \
        "SELECT COUNT(*) FROM audit_log WHERE transport = 'http' AND error_code = 'host_not_allowed'")
    if [ "${n:-0}" -ge 1 ]; then
        pass "serve itself refused the rebinding Host ($n audit rows host_not_allowed)"
    else
        fail "no host_not_allowed audit row: the rebinding check did not reach serve"
    fi
else
    echo "skip the host_not_allowed audit check: sqlite3 CLI not installed"
fi

echo "conformance: $scenarios_passed scenarios passed, $expected expected failures (fixtures we do not ship: expected-failures.yml)"
finish
