#!/usr/bin/env bash
# Installs everything the tests need, builds the ASan+UBSan variant, and runs every test:
# the format check, the C unit tests (cmocka), the end-to-end tests (official MCP SDK
# client against the real binary, over stdio and HTTP) and the MCP conformance suite against
# `serve`. Real PostgreSQL and MariaDB servers (Debian packages) run on loopback in temporary
# directories for the duration and are stopped at the end. Ends with one "N passed, N failed"
# line.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test || exit 1

log=$(mktemp -d)
# Short paths under /tmp: unix socket paths are limited, and the servers' system users must
# reach them.
pgdir=$(mktemp -d /tmp/pxpg.XXXXXX)
mydir=$(mktemp -d /tmp/pxmy.XXXXXX)
cleanup() {
    scripts/pg-server.sh stop "$pgdir" >/dev/null 2>&1
    scripts/mariadb-server.sh stop "$mydir" >/dev/null 2>&1
    rm -rf "$log" "$pgdir" "$mydir"
}
trap cleanup EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== build (release, asan and tsan)"
make -j2 >/dev/null || exit 1
make -j2 MODE=asan all tests >/dev/null || exit 1
make -j2 MODE=tsan all tests >/dev/null || exit 1

passed=0
failed=0
status=0

echo "== database servers (PostgreSQL and MariaDB on 127.0.0.1)"
if pgenv=$(scripts/pg-server.sh start "$pgdir"); then
    eval "$pgenv"
    echo "postgres: port $PX_TEST_PG_PORT"
else
    echo "postgres: the test server did not start (see $pgdir/server.log); its tests will fail"
fi
if myenv=$(scripts/mariadb-server.sh start "$mydir"); then
    eval "$myenv"
    echo "mariadb: port $PX_TEST_MYSQL_PORT"
else
    echo "mariadb: the test server did not start (see $mydir/mariadbd.log); its tests will fail"
fi

echo "== format"
if make -s format-check >"$log/format" 2>&1; then
    passed=$((passed + 1))
else
    cat "$log/format"
    echo "format: run 'make format'"
    failed=$((failed + 1))
    status=1
fi

echo "== include rules (scripts/include-rules.txt)"
scripts/check-includes.sh >"$log/includes" 2>&1 || { cat "$log/includes"; status=1; }
tail -n 1 "$log/includes"
p=$(sed -n 's/^include rules: \([0-9]*\) passed.*/\1/p' "$log/includes")
f=$(sed -n 's/^include rules: [0-9]* passed, \([0-9]*\) failed/\1/p' "$log/includes")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

echo "== banned functions (scripts/banned-functions.txt)"
scripts/check-banned.sh >"$log/banned" 2>&1 || { cat "$log/banned"; status=1; }
tail -n 1 "$log/banned"
p=$(sed -n 's/^banned functions: \([0-9]*\) passed.*/\1/p' "$log/banned")
f=$(sed -n 's/^banned functions: [0-9]* passed, \([0-9]*\) failed/\1/p' "$log/banned")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

echo "== unit tests"
for t in build/asan/tests/test_*; do
    out="$log/$(basename "$t")"
    "$t" >"$out" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && status=1
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    # A binary that exits non-zero after its tests passed (a leak or sanitizer report at exit)
    # fails too, and shows why.
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ] || ! grep -q '^\[  PASSED  \]' "$out"; then
        cat "$out"
        [ "$f" -eq 0 ] && f=1
    fi
    echo "$(basename "$t"): $p passed, $f failed (exit $rc)"
    passed=$((passed + p))
    failed=$((failed + f))
done

echo "== fuzz corpora replay (ASan+UBSan)"
if make -s MODE=asan fuzz-replay >"$log/fuzz" 2>&1; then
    passed=$((passed + 1))
    tail -n 1 "$log/fuzz"
else
    cat "$log/fuzz"
    failed=$((failed + 1))
    status=1
fi

# Runs one suite, shows its output, and adds its counts to the totals. The counts come from
# node's "# pass N" / "# fail N" lines or from a "N passed, N failed" line; a suite that
# prints neither counts as one failure.
suite() {
    local title=$1 out="$log/suite"
    shift
    echo "== $title"
    "$@" >"$out" 2>&1
    local rc=$?
    cat "$out"
    local p f
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -n 1)
    if [ -z "$p" ]; then
        p=$(sed -n 's/^\(.*: \)\{0,1\}\([0-9]*\) passed, [0-9]* failed.*$/\2/p' "$out" | tail -n 1)
        f=$(sed -n 's/^\(.*: \)\{0,1\}[0-9]* passed, \([0-9]*\) failed.*$/\2/p' "$out" | tail -n 1)
    fi
    if [ -z "$p" ]; then
        p=0
        f=1
    fi
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "$title: exited $rc with no failure counted; counted as one"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + ${f:-0}))
    [ "$rc" -ne 0 ] && status=1
    return 0
}

export PLANASONIX_BIN="$PWD/build/asan/planasonix-mcp"
suite "end-to-end tests (MCP SDK client: stdio, Streamable HTTP, SSE)" tests/e2e/run.sh
suite "ThreadSanitizer (unit tests and the threaded end-to-end paths)" scripts/tsan.sh
suite "stdio proxy tests" tests/proxy/run.sh
suite "HTTP status and header checks (curl)" tests/http/curl-checks.sh
suite "conformance (@modelcontextprotocol/conformance against serve)" tests/conformance/run.sh
suite "first run (scripts/run.sh on an empty home)" tests/scripts/first-run.sh

[ "$failed" -gt 0 ] && status=1
echo "total: $passed passed, $failed failed"
exit $status
