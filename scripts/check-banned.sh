#!/usr/bin/env bash
# Checks that src/ and scripts/*.c call none of the functions in scripts/banned-functions.txt
# (one grep per function). Prints every offending line with what to use instead and
# "banned functions: N passed, N failed"; exits 1 when any is called.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src scripts -maxdepth 6 \( -name '*.c' -o -name '*.h' \) | sort)
passed=0
failed=0
while IFS= read -r line; do
    case "$line" in '#'* | '') continue ;; esac
    name=${line%% :: *}
    instead=${line#* :: }
    hits=$(grep -HnE "(^|[^A-Za-z0-9_>.])$name[[:space:]]*\(" "${files[@]}")
    if [ -n "$hits" ]; then
        echo "banned function $name (use $instead):"
        sed 's/^/  /' <<<"$hits"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done <scripts/banned-functions.txt
echo "banned functions: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
