#!/usr/bin/env bash
# Streamable HTTP benchmark, side by side in one run: `planasonix-mcp serve` (1,000 pipelines
# stored) against the reference TypeScript SDK server, both on 127.0.0.1, driven by wrk with
# the same tools/call script at 1 and 32 connections, for pages of 5 rows (~2 KB, the size
# perf.md's fair benchmark uses) and 20 rows (~6 KB), each run REPEAT times (median reported).
# Usage: bench/http.sh [BIN]   (env DURATION=10s REPEAT=3)
set -euo pipefail
cd "$(dirname "$0")"
BIN=$(realpath "${1:-../build/release/planasonix-mcp}")
DURATION=${DURATION:-10s}
REPEAT=${REPEAT:-3}
command -v wrk >/dev/null || { echo "http.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null

home=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$home"; }
trap cleanup EXIT

key=$(node -e "
import('./lib.mjs').then(async (m) => {
  const key = m.seedOrg('$BIN', '$home');
  await m.seedPipelines('$BIN', '$home', key, 1000);
  console.log(key);
})")
port_ours=$((20000 + RANDOM % 20000))
port_ref=$((port_ours + 1))
PLANASONIX_HOME=$home PLANASONIX_LOG=error "$BIN" serve --listen 127.0.0.1:$port_ours &
pids+=($!)
node ref-server.mjs http $port_ref &
pids+=($!)
port_refdb=$((port_ours + 2))
REF_DB=$home/planasonix.db node ref-server.mjs http $port_refdb &
pids+=($!)
sleep 1

init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
session=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $key" \
    -d "$init" http://127.0.0.1:$port_ours/mcp | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
[ -n "$session" ] || { echo "http.sh: no session from serve" >&2; exit 1; }

# Median of the values of one field ("rps=123.4") across the RESULT lines on stdin.
med() {
    sed -n "s/.* $1=\([0-9.]*\).*/\1/p" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run() { # label url session bearer conns
    local out
    out=$(for _ in $(seq "$REPEAT"); do
        LIMIT=$LIMIT MCP_SESSION=$3 MCP_BEARER=$4 wrk -t1 -c"$5" -d"$DURATION" -s call.lua "$2" | grep '^RESULT'
    done)
    printf '| %s | %d | %.0f | %.2f | %.2f | %d |\n' "$1" "$5" "$(med rps <<<"$out")" \
        "$(med p50_ms <<<"$out")" "$(med p99_ms <<<"$out")" "$(med non2xx <<<"$out")"
}

for LIMIT in ${LIMITS:-5 20}; do
echo
echo "Streamable HTTP, tools/call list_pipelines (limit $LIMIT), wrk -t1, ${DURATION} x ${REPEAT} (median), 1,000 pipelines"
echo "| server | connections | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
results=()
for c in 1 32; do
    o=$(run "planasonix-mcp serve" http://127.0.0.1:$port_ours/mcp "$session" "$key" $c); echo "$o"; results+=("$o")
    r=$(run "reference, same SQLite store" http://127.0.0.1:$port_refdb/mcp "" "" $c); echo "$r"; results+=("$r")
    r=$(run "reference, in-memory array" http://127.0.0.1:$port_ref/mcp "" "" $c); echo "$r"; results+=("$r")
done
printf '%s\n' "${results[@]}" | awk -F'|' '
    { rps[NR] = $4 }
    END { printf "ratios (ours / reference req/s): same store c=1 %.1fx, c=32 %.1fx; in-memory c=1 %.1fx, c=32 %.1fx\n",
          rps[1] / rps[2], rps[4] / rps[5], rps[1] / rps[3], rps[4] / rps[6] }'
done
rss=$(awk '/VmRSS/ { print $2 / 1024 }' /proc/"${pids[0]}"/status)
echo "planasonix-mcp serve RSS after the runs: ${rss} MB"
