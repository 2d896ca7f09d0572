#!/usr/bin/env bash
# The ThreadSanitizer stage of the test run (scripts/test.sh; build first with
# `make -j2 MODE=tsan all tests`): every unit test binary of build/tsan, then the end-to-end
# files that exercise the server's threads (HTTP workers and libmicrohttpd's pool, SSE streams,
# run workers and their heartbeat, the scheduler, the CSV read-ahead and the PostgreSQL
# prefetch thread, cancellation) against build/tsan/planasonix-mcp. A race report anywhere
# fails: unit tests stop at the first one, the server writes its reports to files that are
# counted and shown. Suppressions, each with its reason: tests/tsan.supp. Ends with one
# "tsan: N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
supp="suppressions=$PWD/tests/tsan.supp"
passed=0
failed=0

for t in build/tsan/tests/test_*; do
    out="$log/$(basename "$t")"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $supp" "$t" >"$out" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ] || ! grep -q '^\[  PASSED  \]' "$out"; then
        sed 's/^/  /' "$out"
        [ "$f" -eq 0 ] && f=1
    fi
    echo "tsan $(basename "$t"): $p passed, $f failed"
    passed=$((passed + p))
    failed=$((failed + f))
done

files=(http-streamable http-sse http-wait wait-progress http-revoke fair-runs killed-run run-owners
       pg-pipeline memory schedules)
mkdir -p "$log/reports"
args=()
for f in "${files[@]}"; do args+=("tests/e2e/$f.test.mjs"); done
TSAN_OPTIONS="halt_on_error=0 log_path=$log/reports/race $supp" \
    PLANASONIX_BIN="$PWD/build/tsan/planasonix-mcp" \
    node --test --test-concurrency=2 "${args[@]}" >"$log/e2e" 2>&1
p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log/e2e" | tail -n 1)
f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log/e2e" | tail -n 1)
[ -n "$p" ] || { p=0; f=1; }
[ "${f:-0}" -gt 0 ] && sed 's/^/  /' "$log/e2e"
echo "tsan e2e (${#files[@]} files): $p passed, ${f:-0} failed"
passed=$((passed + p))
failed=$((failed + ${f:-0}))
reports=$(find "$log/reports" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
    echo "tsan: $reports race report(s) from the server:"
    cat "$log"/reports/* | sed 's/^/  /'
    failed=$((failed + reports))
fi
echo "tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
