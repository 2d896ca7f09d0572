#!/usr/bin/env bash
# HTTP smoke checks with curl (mcp.md §7.2, §7.3, §9, §14): starts `planasonix-mcp serve` on a
# free loopback port in a temporary PLANASONIX_HOME, creates organizations and keys with the
# CLI, and checks every status code and header the HTTP transports promise: Streamable HTTP
# (/mcp), legacy HTTP+SSE (/sse, /messages), authentication, Origin/Host allowlists, rate
# limits, limits on bodies, /healthz, /metrics, the audit trail and graceful shutdown.
#
#   tests/http/curl-checks.sh            # uses $PLANASONIX_BIN or build/release/planasonix-mcp
#   KEEP_TMP=1 tests/http/curl-checks.sh # keep the temp home and the server log
#
# Ends with "N passed, N failed"; exits non-zero on any failure. Takes about 20 s (it waits
# for one SSE keep-alive, sent after 15 idle seconds).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PLANASONIX_BIN:-$root/build/release/planasonix-mcp}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
[ -x "$bin" ] || { echo "curl-checks: $bin not found; run make first" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl-checks: curl is required" >&2; exit 2; }

tmp=$(mktemp -d)
export PLANASONIX_HOME=$tmp/home
export PLANASONIX_LOG=info
unset PORT PLANASONIX_ALLOWED_ORIGINS PLANASONIX_ALLOWED_HOSTS DATABASE_URL PLANASONIX_API_URL
server_pid=
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected '$2', got '$3'"; fi; }
# has NAME FILE REGEX: the file matches the (extended, case-insensitive) regex
has() { if grep -Eqi -- "$3" "$2"; then ok "$1"; else bad "$1" "no /$3/ in $(head -c 600 "$2" | tr '\r\n' '  ')"; fi; }
hasnt() { if grep -Eqi -- "$3" "$2"; then bad "$1" "unexpected /$3/"; else ok "$1"; fi; }

# ---- fixtures: organizations and keys -------------------------------------------------------
cli() { "$bin" "$@" 2>/dev/null; }
org=$(cli org create acme --plan professional) || { echo "org create failed" >&2; exit 1; }
key=$(cli key create --org "$org" --scopes all --name main)
key2=$(cli key create --org "$org" --scopes all --name other)
revoked=$(cli key create --org "$org" --scopes all --name gone --json | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
revoked_id=$(cli key list --org "$org" --json | tr '{' '\n' | grep '"name":"gone"' | sed -n 's/.*"key_id":"\([^"]*\)".*/\1/p')
cli key revoke "$revoked_id" >/dev/null
starter=$(cli org create tiny --plan starter)
starter_key=$(cli key create --org "$starter" --scopes all)
limited=$(cli org create busy --plan professional)
cli org update "$limited" --rate-limit 2 >/dev/null
limited_key=$(cli key create --org "$limited" --scopes all)
[ -n "$key" ] && [ -n "$key2" ] && [ -n "$revoked" ] && [ -n "$starter_key" ] && [ -n "$limited_key" ] ||
    { echo "curl-checks: could not create the fixtures" >&2; exit 1; }

# ---- the server ------------------------------------------------------------------------------
PLANASONIX_ALLOWED_ORIGINS=https://app.example.com "$bin" serve --listen 127.0.0.1:0 2>"$tmp/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's|.*serving MCP on http://127.0.0.1:\([0-9]*\)/mcp.*|\1|p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { cat "$tmp/server.log"; echo "curl-checks: the server did not start" >&2; exit 1; }
base=http://127.0.0.1:$port
U=$base/mcp
echo "server on $base (pid $server_pid)"

# A legacy SSE stream left idle from the start: it must get a keep-alive ping.
curl -sN -H "Authorization: Bearer $key" "$base/sse" >"$tmp/idle.sse" 2>/dev/null &
bg_pids+=($!)
idle_started=$(date +%s)

J=(-H 'Content-Type: application/json')
A=(-H 'Accept: application/json, text/event-stream')
AUTH=(-H "Authorization: Bearer $key")
# req OUT ARGS...: POST-like curl; writes headers+body to OUT, prints the status
req() {
    local out=$1
    shift
    curl -s -o "$out.body" -D "$out.head" -w '%{http_code}' "$@"
    cat "$out.head" "$out.body" >"$out"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
ping='{"jsonrpc":"2.0","id":2,"method":"ping"}'

# ---- Streamable HTTP -------------------------------------------------------------------------
s=$(req "$tmp/init" "${J[@]}" "${A[@]}" "${AUTH[@]}" "$U" -d "$init")
check "initialize → 200" 200 "$s"
has "initialize answers the latest version" "$tmp/init" '"protocolVersion":"2025-11-25"'
has "initialize returns Mcp-Session-Id" "$tmp/init.head" '^mcp-session-id: [!-~]{22,}'
sid=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: \([^[:space:]]*\).*/\1/p' "$tmp/init.head")
S=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18')
has "initialize is JSON by default" "$tmp/init.head" '^content-type: application/json'

s=$(req "$tmp/notif" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}')
check "notifications/initialized → 202" 202 "$s"
check "202 has an empty body" 0 "$(wc -c <"$tmp/notif.body" | tr -d ' ')"

s=$(req "$tmp/ping" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d "$ping")
check "ping → 200" 200 "$s"
has "ping result is {}" "$tmp/ping.body" '"result":\{\}'

s=$(req "$tmp/call" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_pipelines","arguments":{}}}')
check "tools/call → 200" 200 "$s"
has "tools/call result" "$tmp/call.body" '"structuredContent":\{"pipelines":\[\]'
has "RateLimit-Policy on an allowed request" "$tmp/call.head" '^ratelimit-policy: "org";q=60;w=60'

s=$(req "$tmp/prog" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_pipelines","arguments":{},"_meta":{"progressToken":"p1"}}}')
check "tools/call with progressToken → 200" 200 "$s"
has "progressToken → text/event-stream" "$tmp/prog.head" '^content-type: text/event-stream'
has "SSE response is an event: message" "$tmp/prog.body" '^event: message'
has "SSE response carries the result" "$tmp/prog.body" '^data: \{"jsonrpc":"2.0","id":4,"result"'

s=$(req "$tmp/unk" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":5,"method":"nope/nope"}')
check "unknown method → 200" 200 "$s"
has "unknown method → -32601" "$tmp/unk.body" '"code":-32601'

s=$(req "$tmp/pv" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 1999-01-01' "$U" -d "$ping")
check "unsupported MCP-Protocol-Version → 400" 400 "$s"
s=$(req "$tmp/nopv" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H "Mcp-Session-Id: $sid" "$U" -d "$ping")
check "absent MCP-Protocol-Version → 200" 200 "$s"
s=$(req "$tmp/nosess" "${J[@]}" "${A[@]}" "${AUTH[@]}" "$U" -d "$ping")
check "no Mcp-Session-Id → 400" 400 "$s"
s=$(req "$tmp/badsess" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H 'Mcp-Session-Id: nope' "$U" -d "$ping")
check "unknown session → 404" 404 "$s"
s=$(req "$tmp/foreign" "${J[@]}" "${A[@]}" -H "Authorization: Bearer $key2" "${S[@]}" "$U" -d "$ping")
check "another key's session → 404" 404 "$s"
s=$(req "$tmp/reinit" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d "$init")
check "initialize on an existing session → 400" 400 "$s"

s=$(req "$tmp/acc" "${J[@]}" -H 'Accept: application/json' "${AUTH[@]}" "${S[@]}" "$U" -d "$ping")
check "Accept: application/json only → 406" 406 "$s"
s=$(req "$tmp/acc2" "${J[@]}" -H 'Accept: text/event-stream' "${AUTH[@]}" "${S[@]}" "$U" -d "$ping")
check "Accept: text/event-stream only → 406" 406 "$s"
s=$(req "$tmp/ct" -H 'Content-Type: text/plain' "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d "$ping")
check "Content-Type: text/plain → 415" 415 "$s"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
s=$(req "$tmp/big" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" --data-binary @"$tmp/big.json")
check "body over 1 MiB → 413" 413 "$s"
s=$(req "$tmp/bigchunked" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" -H 'Transfer-Encoding: chunked' "$U" --data-binary @"$tmp/big.json")
check "chunked body over 1 MiB → 413" 413 "$s"
s=$(req "$tmp/parse" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d '{"jsonrpc":')
check "malformed JSON → 400" 400 "$s"
has "malformed JSON → -32700 with id null" "$tmp/parse.body" '"id":null.*"code":-32700'
deep=$(printf '%.0s[' $(seq 100))$(printf '%.0s]' $(seq 100))
s=$(req "$tmp/deep" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d "$deep")
check "JSON nested deeper than 64 → 400" 400 "$s"
has "deep JSON → -32700" "$tmp/deep.body" '"code":-32700'

s=$(req "$tmp/get" "${AUTH[@]}" -H 'Accept: text/event-stream' "${S[@]}" "$U")
check "GET /mcp → 405" 405 "$s"
has "405 names the allowed methods" "$tmp/get.head" '^allow: POST, DELETE'

# Concurrent POSTs on one session.
conc_pids=()
for i in 1 2 3 4 5; do
    req "$tmp/conc$i" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" \
        -d "{\"jsonrpc\":\"2.0\",\"id\":10$i,\"method\":\"tools/call\",\"params\":{\"name\":\"list_connection_types\",\"arguments\":{},\"_meta\":{\"progressToken\":$i}}}" >"$tmp/conc$i.status" &
    conc_pids+=($!)
done
wait "${conc_pids[@]}"
conc_ok=0
for i in 1 2 3 4 5; do
    [ "$(cat "$tmp/conc$i.status")" = 200 ] && grep -q "\"id\":10$i,\"result\"" "$tmp/conc$i.body" && conc_ok=$((conc_ok + 1))
done
check "5 concurrent POSTs on one session → 5 answers" 5 "$conc_ok"

s=$(req "$tmp/del" "${AUTH[@]}" "${S[@]}" -X DELETE "$U")
check "DELETE session → 200" 200 "$s"
s=$(req "$tmp/afterdel" "${J[@]}" "${A[@]}" "${AUTH[@]}" "${S[@]}" "$U" -d "$ping")
check "deleted session → 404" 404 "$s"
s=$(req "$tmp/del2" "${AUTH[@]}" "${S[@]}" -X DELETE "$U")
check "DELETE again → 404" 404 "$s"

# ---- authentication ------------------------------------------------------------------------
s=$(req "$tmp/noauth" "${J[@]}" "${A[@]}" "$U" -d "$init")
check "no Authorization → 401" 401 "$s"
has "401 has WWW-Authenticate: Bearer" "$tmp/noauth.head" '^www-authenticate: Bearer realm="planasonix"'
hasnt "no error= when no key was presented" "$tmp/noauth.head" 'error="invalid_token"'
has "401 body is a JSON-RPC error with id null" "$tmp/noauth.body" '"id":null.*"code":-32001'
s=$(req "$tmp/wrong" "${J[@]}" "${A[@]}" -H 'Authorization: Bearer flx_wrong' "$U" -d "$init")
check "wrong key → 401" 401 "$s"
has "wrong key → error=\"invalid_token\"" "$tmp/wrong.head" '^www-authenticate: Bearer realm="planasonix", error="invalid_token"'
s=$(req "$tmp/basic" "${J[@]}" "${A[@]}" -H 'Authorization: Basic Zm9vOmJhcg==' "$U" -d "$init")
check "Basic auth → 401" 401 "$s"
s=$(req "$tmp/revoked" "${J[@]}" "${A[@]}" -H "Authorization: Bearer $revoked" "$U" -d "$init")
check "revoked key → 401" 401 "$s"
s=$(req "$tmp/starter" "${J[@]}" "${A[@]}" -H "Authorization: Bearer $starter_key" "$U" -d "$init")
check "starter plan → 403" 403 "$s"
has "starter refusal names the plan" "$tmp/starter.body" 'Starter plan.*"code":-32003|"code":-32003.*Starter plan'
s=$(req "$tmp/noauthget" "$U")
check "GET /mcp without a key → 401 (auth first)" 401 "$s"

# Revocation applies to an open session at once.
s=$(req "$tmp/i2" "${J[@]}" "${A[@]}" -H "Authorization: Bearer $key2" "$U" -d "$init")
sid2=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: \([^[:space:]]*\).*/\1/p' "$tmp/i2.head")
key2_id=$(cli key list --org "$org" --json | tr '{' '\n' | grep '"name":"other"' | sed -n 's/.*"key_id":"\([^"]*\)".*/\1/p')
cli key revoke "$key2_id" >/dev/null
s=$(req "$tmp/i2b" "${J[@]}" "${A[@]}" -H "Authorization: Bearer $key2" -H "Mcp-Session-Id: $sid2" "$U" -d "$ping")
check "key revoked mid-session → 401" 401 "$s"

# ---- Origin and Host -----------------------------------------------------------------------
s=$(req "$tmp/origin" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H 'Origin: http://evil.example.com' "$U" -d "$init")
check "foreign Origin → 403" 403 "$s"
s=$(req "$tmp/origin0" "${J[@]}" "${A[@]}" -H 'Origin: http://evil.example.com' "$U" -d "$init")
check "foreign Origin is refused before auth → 403" 403 "$s"
s=$(req "$tmp/originok" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H "Origin: http://localhost:$port" "$U" -d "$init")
check "loopback Origin → 200" 200 "$s"
s=$(req "$tmp/host" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H 'Host: evil.example.com' -H 'Origin: http://evil.example.com' "$U" -d "$init")
check "foreign Host → 421" 421 "$s"
s=$(req "$tmp/hostok" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H "Host: 127.0.0.1:$port" -H "Origin: http://127.0.0.1:$port" "$U" -d "$init")
check "loopback Host and Origin → 200" 200 "$s"


# ---- CORS (browser clients) --------------------------------------------------------------------
# preflight OUT ORIGIN: an OPTIONS preflight for a POST with the MCP headers
preflight() {
    req "$1" -X OPTIONS -H "Origin: $2" -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: content-type, authorization, mcp-session-id, mcp-protocol-version' "$U"
}
s=$(preflight "$tmp/pre" "http://localhost:5173")
check "preflight from a loopback Origin → 204" 204 "$s"
has "preflight echoes the Origin" "$tmp/pre.head" '^access-control-allow-origin: http://localhost:5173'$'\r''?$'
has "preflight says Vary: Origin" "$tmp/pre.head" '^vary: .*origin'
has "preflight allows GET, POST, DELETE" "$tmp/pre.head" '^access-control-allow-methods: .*GET.*POST.*DELETE'
has "preflight allows the MCP headers" "$tmp/pre.head" '^access-control-allow-headers: .*content-type.*authorization.*mcp-session-id.*mcp-protocol-version.*last-event-id'
has "preflight exposes Mcp-Session-Id" "$tmp/pre.head" '^access-control-expose-headers: .*mcp-session-id'
hasnt "preflight allows no credentials (bearer keys, not cookies)" "$tmp/pre.head" '^access-control-allow-credentials'
s=$(preflight "$tmp/pre2" "https://app.example.com")
check "preflight from a PLANASONIX_ALLOWED_ORIGINS Origin → 204" 204 "$s"
has "preflight echoes the configured Origin" "$tmp/pre2.head" '^access-control-allow-origin: https://app.example.com'
s=$(preflight "$tmp/pre3" "https://evil.example.com")
check "preflight from a foreign Origin → 403" 403 "$s"
hasnt "foreign preflight gets no Access-Control-Allow-Origin" "$tmp/pre3.head" '^access-control-allow'
s=$(preflight "$tmp/pre4" "null")
check "preflight from Origin null → 403" 403 "$s"
hasnt "Origin null gets no Access-Control-Allow-Origin" "$tmp/pre4.head" '^access-control-allow'
s=$(req "$tmp/pre5" -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: GET' "$base/sse")
check "preflight of GET /sse → 204" 204 "$s"
has "preflight of /sse echoes the Origin" "$tmp/pre5.head" '^access-control-allow-origin: https://app.example.com'
s=$(req "$tmp/pre6" -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: POST' -H 'Host: evil.example.com' "$U")
check "preflight with a foreign Host → 421" 421 "$s"
s=$(req "$tmp/cinit" "${J[@]}" "${A[@]}" "${AUTH[@]}" -H 'Origin: https://app.example.com' "$U" -d "$init")
check "initialize from an allowed Origin → 200" 200 "$s"
has "the response echoes the Origin" "$tmp/cinit.head" '^access-control-allow-origin: https://app.example.com'
has "the response exposes Mcp-Session-Id" "$tmp/cinit.head" '^access-control-expose-headers: .*mcp-session-id'
s=$(req "$tmp/c401" "${J[@]}" "${A[@]}" -H 'Origin: https://app.example.com' "$U" -d "$init")
check "no key from an allowed Origin → 401" 401 "$s"
has "a 401 is readable by the allowed Origin" "$tmp/c401.head" '^access-control-allow-origin: https://app.example.com'
hasnt "a foreign Origin's 403 carries no CORS headers" "$tmp/origin.head" '^access-control-allow'
hasnt "a request without Origin carries no CORS headers" "$tmp/init.head" '^access-control-allow'

# ---- rate limit ----------------------------------------------------------------------------
L=(-H "Authorization: Bearer $limited_key")
req "$tmp/rl1" "${J[@]}" "${A[@]}" "${L[@]}" "$U" -d "$init" >/dev/null
rsid=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: \([^[:space:]]*\).*/\1/p' "$tmp/rl1.head")
req "$tmp/rl2" "${J[@]}" "${A[@]}" "${L[@]}" -H "Mcp-Session-Id: $rsid" "$U" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >/dev/null
s=$(req "$tmp/rlping" "${J[@]}" "${A[@]}" "${L[@]}" -H "Mcp-Session-Id: $rsid" "$U" -d "$ping")
check "ping is not rate-limited" 200 "$s"
s=$(req "$tmp/rl3" "${J[@]}" "${A[@]}" "${L[@]}" -H "Mcp-Session-Id: $rsid" "$U" -d '{"jsonrpc":"2.0","id":3,"method":"tools/list"}')
check "over the org limit → 429" 429 "$s"
has "429 has Retry-After in seconds" "$tmp/rl3.head" '^retry-after: [0-9]+'
has "429 has RateLimit-Policy" "$tmp/rl3.head" '^ratelimit-policy: "org";q=2;w=60'
has "429 has RateLimit" "$tmp/rl3.head" '^ratelimit: "org";r=0;t=[0-9]+'
has "429 body has data.retry_after_ms" "$tmp/rl3.body" '"code":-32029.*"retry_after_ms":[0-9]+'

# ---- legacy HTTP+SSE -----------------------------------------------------------------------
curl -sN -H "Authorization: Bearer $key" "$base/sse" -D "$tmp/sse.head" >"$tmp/sse.out" 2>/dev/null &
sse_pid=$!
bg_pids+=($sse_pid)
for _ in $(seq 100); do grep -q '^data: ' "$tmp/sse.out" 2>/dev/null && break; sleep 0.05; done
has "GET /sse → 200" "$tmp/sse.head" '^HTTP/1.1 200'
has "GET /sse is text/event-stream" "$tmp/sse.head" '^content-type: text/event-stream'
has "first event is endpoint" "$tmp/sse.out" '^event: endpoint'
has "endpoint names /messages?sessionId=" "$tmp/sse.out" '^data: /messages\?sessionId=[!-~]{22,}'
ep=$(sed -n 's/^data: \(\/messages?sessionId=.*\)$/\1/p' "$tmp/sse.out" | head -n 1 | tr -d '\r')
s=$(req "$tmp/m1" "${J[@]}" "${AUTH[@]}" "$base$ep" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}')
check "POST /messages → 202" 202 "$s"
has "POST /messages body is Accepted" "$tmp/m1.body" '^Accepted$'
req "$tmp/m2" "${J[@]}" "${AUTH[@]}" "$base$ep" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
req "$tmp/m3" "${J[@]}" "${AUTH[@]}" "$base$ep" -d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_pipelines","arguments":{}}}' >/dev/null
for _ in $(seq 100); do grep -q '"id":7' "$tmp/sse.out" && break; sleep 0.05; done
has "initialize response arrives on the stream" "$tmp/sse.out" '^data: \{"jsonrpc":"2.0","id":1,"result":\{"protocolVersion":"2024-11-05"'
has "tool response arrives on the stream as event: message" "$tmp/sse.out" '^data: \{"jsonrpc":"2.0","id":7,"result"'
s=$(req "$tmp/m4" "${J[@]}" -H "Authorization: Bearer $key2" "$base$ep" -d "$ping")
check "POST /messages with a revoked key → 401" 401 "$s"
s=$(req "$tmp/m5" "${J[@]}" -H "Authorization: Bearer $starter_key" "$base$ep" -d "$ping")
check "POST /messages on the starter plan → 403" 403 "$s"
s=$(req "$tmp/m6" "${J[@]}" "${AUTH[@]}" "$base/messages?sessionId=nope" -d "$ping")
check "POST /messages for an unknown session → 404" 404 "$s"
s=$(req "$tmp/m7" "${J[@]}" "${AUTH[@]}" "$base/messages" -d "$ping")
check "POST /messages without sessionId → 400" 400 "$s"
s=$(req "$tmp/m8" "${J[@]}" "${AUTH[@]}" "$base$ep" -d '{"jsonrpc":')
check "POST /messages with malformed JSON → 400" 400 "$s"
s=$(req "$tmp/ssepost" "${J[@]}" "${AUTH[@]}" "$base/sse" -d "$init")
check "POST /sse → 405" 405 "$s"
s=$(req "$tmp/ssenoauth" "$base/sse")
check "GET /sse without a key → 401" 401 "$s"
s=$(req "$tmp/sseorigin" "${AUTH[@]}" -H 'Origin: https://evil.example.com' "$base/sse")
check "GET /sse from a foreign Origin → 403" 403 "$s"
kill "$sse_pid" 2>/dev/null
wait "$sse_pid" 2>/dev/null
# The stream's end ends the session (noticed when the server next writes to it: the keep-alive).
ended=0
for _ in $(seq 200); do
    s=$(curl -s -o /dev/null -w '%{http_code}' "${J[@]}" "${AUTH[@]}" "$base$ep" -d "$ping")
    [ "$s" = 404 ] && { ended=1; break; }
    sleep 0.1
done
check "the stream's end ends the session (then 404)" 1 "$ended"

# ---- health and metrics ----------------------------------------------------------------------
s=$(req "$tmp/health" "$base/healthz")
check "/healthz → 200" 200 "$s"
has "/healthz reports the store" "$tmp/health.body" '^\{"status":"ok","store":"ok"\}$'
s=$(req "$tmp/metrics" "$base/metrics")
check "/metrics → 200" 200 "$s"
has "/metrics counts requests by path and status" "$tmp/metrics.body" '^planasonix_http_requests_total\{path="/mcp",method="POST",status="401"\} [0-9]+'
has "/metrics counts tool calls" "$tmp/metrics.body" '^planasonix_tool_calls_total\{tool="list_pipelines",outcome="ok"\} [0-9]+'
has "/metrics has latency histograms" "$tmp/metrics.body" '^planasonix_tool_duration_seconds_bucket\{tool="list_pipelines",outcome="ok",le="\+Inf"\} [0-9]+'
s=$(req "$tmp/nf" "$base/nothing")
check "unknown path → 404" 404 "$s"

# ---- keep-alive on an idle stream ------------------------------------------------------------
wait_until=$((idle_started + 17))
while [ "$(date +%s)" -lt "$wait_until" ] && ! grep -q '^: ping' "$tmp/idle.sse"; do sleep 0.5; done
has "idle SSE stream gets ': ping' keep-alives" "$tmp/idle.sse" '^: ping$'

# ---- audit trail -----------------------------------------------------------------------------
sleep 1.5 # the audit queue is flushed every second
if command -v sqlite3 >/dev/null; then
    q() { sqlite3 "$PLANASONIX_HOME/planasonix.db" "$1"; }
    check "audit: a refused 401 is recorded (http)" 1 "$([ "$(q "SELECT COUNT(*) FROM audit_log WHERE transport='http' AND outcome='denied' AND error_code='unauthorized'")" -gt 0 ] && echo 1)"
    check "audit: a 429 is recorded with the org" 1 "$([ "$(q "SELECT COUNT(*) FROM audit_log WHERE org_id='$limited' AND error_code='rate_limited'")" -gt 0 ] && echo 1)"
    check "audit: a refused Origin is recorded" 1 "$([ "$(q "SELECT COUNT(*) FROM audit_log WHERE error_code='origin_not_allowed'")" -gt 0 ] && echo 1)"
    check "audit: tool calls over HTTP are recorded" 1 "$([ "$(q "SELECT COUNT(*) FROM audit_log WHERE transport='http' AND tool='list_pipelines' AND outcome='ok'")" -gt 0 ] && echo 1)"
    check "audit: SSE requests are recorded as sse" 1 "$([ "$(q "SELECT COUNT(*) FROM audit_log WHERE transport='sse' AND tool='list_pipelines'")" -gt 0 ] && echo 1)"
else
    echo "skip audit checks (no sqlite3 CLI)"
fi

# ---- graceful shutdown -------------------------------------------------------------------------
curl -sN -H "Authorization: Bearer $key" "$base/sse" >"$tmp/last.sse" 2>/dev/null &
last_pid=$!
for _ in $(seq 100); do grep -q '^data: ' "$tmp/last.sse" 2>/dev/null && break; sleep 0.05; done
kill -TERM "$server_pid"
rc=124
for _ in $(seq 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then wait "$server_pid"; rc=$?; break; fi
    sleep 0.1
done
server_pid=
check "SIGTERM with an open stream → exit 0 within 10 s" 0 "$rc"
stream_ended=1
kill -0 "$last_pid" 2>/dev/null && sleep 1 && kill -0 "$last_pid" 2>/dev/null && stream_ended=0
check "SIGTERM ends the SSE streams" 1 "$stream_ended"
has "the server says it stopped on the signal" "$tmp/server.log" 'stopping on signal 15'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
