#!/usr/bin/env bash
# A newcomer's first run (issue 10 item 21): scripts/run.sh on an empty PLANASONIX_HOME must
# create an organization and a key (printed once), print client configurations with that key
# filled in, and start a server that key can use; a second run must create nothing, print no
# key, and start the server again. Installs into a temporary PREFIX, serves on a free port.
# Ends with "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
export PREFIX=$tmp/prefix PLANASONIX_HOME=$tmp/home PLANASONIX_LOG=info
unset PLANASONIX_API_KEY PLANASONIX_API_URL DATABASE_URL
mkdir -p "$PREFIX"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected '$2', got '$3'"; fi; }

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo 0
}

# Starts scripts/run.sh in the background, output in $1; waits until /healthz answers.
start() {
    export PORT
    PORT=$(free_port)
    "$root/scripts/run.sh" >"$1" 2>"$1.err" &
    pid=$!
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "run.sh did not start a server; its output:" >&2
    cat "$1" "$1.err" >&2
    return 1
}
stop() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}
tools_count() { # KEY → number of tools the server lists for it
    local init sid
    init=$(curl -s -D "$tmp/h" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' "http://127.0.0.1:$PORT/mcp" \
        -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"first-run","version":"1"}}}')
    sid=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([^[:space:]]*\).*/\1/p' "$tmp/h")
    [ -n "$sid" ] || { echo 0; return; }
    curl -s -H "Authorization: Bearer $1" -H "Mcp-Session-Id: $sid" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' "http://127.0.0.1:$PORT/mcp" \
        -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | grep -o '"name":"[a-z_]*"' | sort -u | wc -l
}

# ---- first run ---------------------------------------------------------------------------------
if start "$tmp/first.out"; then
    ok "first run starts a server"
    key=$(grep -o 'flx_[A-Za-z0-9]*' "$tmp/first.out" | head -n 1)
    if [ -n "$key" ]; then ok "first run prints a key"; else bad "first run prints a key"; fi
    check "the key appears in the printed configs (and once on its own)" 3 \
        "$(grep -c -- "$key" "$tmp/first.out")"
    if grep -q "\"url\": \"http://127.0.0.1:$PORT/mcp\"" "$tmp/first.out"; then
        ok "the HTTP config names the server's URL"
    else
        bad "the HTTP config names the server's URL"
    fi
    if grep -q "\"PLANASONIX_HOME\": \"$PLANASONIX_HOME\"" "$tmp/first.out"; then
        ok "the stdio config carries PLANASONIX_HOME"
    else
        bad "the stdio config carries PLANASONIX_HOME"
    fi
    check "the printed key can list the 22 tools" 22 "$(tools_count "$key")"
    check "a wrong key lists nothing" 0 "$(tools_count flx_nope)"
    stop
else
    bad "first run starts a server"
fi
orgs=$("$PREFIX/bin/planasonix-mcp" org list --json 2>/dev/null | grep -o '"org_id"' | wc -l)
check "the first run made one organization" 1 "$orgs"

# ---- second run --------------------------------------------------------------------------------
if start "$tmp/second.out"; then
    ok "second run starts a server"
    check "second run prints no key" 0 "$(grep -c 'flx_[A-Za-z0-9]\{8,\}' "$tmp/second.out")"
    if grep -q 'key create --org' "$tmp/second.out"; then
        ok "second run says how to make a key"
    else
        bad "second run says how to make a key"
    fi
    check "the first key still works" 22 "$(tools_count "$key")"
    stop
else
    bad "second run starts a server"
fi
orgs=$("$PREFIX/bin/planasonix-mcp" org list --json 2>/dev/null | grep -o '"org_id"' | wc -l)
check "the second run made no organization" 1 "$orgs"
keys=$("$PREFIX/bin/planasonix-mcp" key list --org "My Company" --json 2>/dev/null | grep -o '"key_id"' | wc -l)
check "and no key" 1 "$keys"

echo "first-run: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
