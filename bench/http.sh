#!/usr/bin/env bash
# Streamable HTTP benchmark, side by side in one run: `planasonix-mcp serve` (1,000 pipelines
# stored) against the reference TypeScript SDK server, both on 127.0.0.1, driven by wrk with
# the same tools/call script at 1 and 32 connections, for pages of 5 rows (~2 KB, the size
# perf.md's fair benchmark uses) and 20 rows (~6 KB), each run REPEAT times with the servers
# taking turns (median and per-repetition ratios reported).
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
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done # they may still be writing
    rm -rf "$home"
}
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

once() { # url session bearer conns: one wrk run, its RESULT line
    LIMIT=$LIMIT MCP_SESSION=$2 MCP_BEARER=$3 wrk -t1 -c"$4" -d"$DURATION" -s call.lua "$1" | grep '^RESULT'
}

row() { # label conns (RESULT lines on stdin)
    local out
    out=$(cat)
    printf '| %s | %d | %.0f | %.2f | %.2f | %d |\n' "$1" "$2" "$(med rps <<<"$out")" \
        "$(med p50_ms <<<"$out")" "$(med p99_ms <<<"$out")" "$(med non2xx <<<"$out")"
}

# The three servers take turns within each repetition (ours, reference on the same store,
# in-memory reference), so a slow minute on this shared machine hits all three alike; besides
# the ratio of the medians, the ratio within each repetition is reported.
for LIMIT in ${LIMITS:-5 20}; do
echo
echo "Streamable HTTP, tools/call list_pipelines (limit $LIMIT), wrk -t1, ${DURATION} x ${REPEAT} (median, servers interleaved), 1,000 pipelines"
echo "| server | connections | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
for c in 1 32; do
    ours=() same=() mem=()
    for _ in $(seq "$REPEAT"); do
        ours+=("$(once http://127.0.0.1:$port_ours/mcp "$session" "$key" $c)")
        same+=("$(once http://127.0.0.1:$port_refdb/mcp "" "" $c)")
        mem+=("$(once http://127.0.0.1:$port_ref/mcp "" "" $c)")
    done
    printf '%s\n' "${ours[@]}" | row "planasonix-mcp serve" $c
    printf '%s\n' "${same[@]}" | row "reference, same SQLite store" $c
    printf '%s\n' "${mem[@]}" | row "reference, in-memory array" $c
    rps() { sed -n 's/.* rps=\([0-9.]*\).*/\1/p'; }
    paste <(printf '%s\n' "${ours[@]}" | rps) <(printf '%s\n' "${same[@]}" | rps) \
        <(printf '%s\n' "${mem[@]}" | rps) | awk -v c=$c '
        { s = s sep sprintf("%.1fx", $1 / $2); m = m sep sprintf("%.1fx", $1 / $3); sep = " / "
          o[NR] = $1; a[NR] = $2; b[NR] = $3 }
        function med(v, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                                           if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                                       return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
        END { n = NR; mo = med(o, n); ma = med(a, n); mb = med(b, n)
              printf "c=%d ratios (ours / reference req/s): same store %.1fx (each repetition: %s); in-memory %.1fx (%s)\n",
                     c, mo / ma, s, mo / mb, m }'
done
done
rss=$(awk '/VmRSS/ { print $2 / 1024 }' /proc/"${pids[0]}"/status)
echo "planasonix-mcp serve RSS after the runs: ${rss} MB"
