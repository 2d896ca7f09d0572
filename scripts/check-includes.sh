#!/usr/bin/env bash
# Checks the include rules of scripts/include-rules.txt over src/ (one grep per rule). Prints
# every offending line and "include rules: N passed, N failed"; exits 1 when a rule fails.
set -uo pipefail
cd "$(dirname "$0")/.."
trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
passed=0
failed=0
while IFS= read -r line; do
    case "$line" in '#'* | '') continue ;; esac
    rest=$line
    fields=()
    while [[ $rest == *' :: '* ]]; do
        fields+=("$(trim "${rest%% :: *}")")
        rest=${rest#* :: }
    done
    fields+=("$(trim "$rest")")
    if [ "${#fields[@]}" -ne 5 ]; then
        echo "scripts/include-rules.txt: a rule needs 5 fields: $line"
        failed=$((failed + 1))
        continue
    fi
    files=${fields[0]} except=${fields[1]} forbidden=${fields[2]} allowed=${fields[3]} why=${fields[4]}
    mapfile -t paths < <(find src \( -name '*.c' -o -name '*.h' \) | sort | grep -E "$files" |
        { if [ "$except" = - ]; then cat; else grep -vE "$except"; fi; })
    hits=""
    if [ "${#paths[@]}" -gt 0 ]; then
        hits=$(grep -HnE "$forbidden" "${paths[@]}" |
            { if [ "$allowed" = - ]; then cat; else grep -vE "$allowed"; fi; })
    fi
    if [ -n "$hits" ]; then
        echo "include rule broken: $why"
        sed 's/^/  /' <<<"$hits"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done <scripts/include-rules.txt
echo "include rules: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
