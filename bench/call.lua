-- wrk script: POST a tools/call of list_pipelines (a read tool, LIMIT rows, default 20) to /mcp. MCP_SESSION and
-- MCP_BEARER (environment) add the session and API key headers when the server needs them.
wrk.method = "POST"
local limit = os.getenv("LIMIT") or "20"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"limit":' .. limit .. '}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local sid = os.getenv("MCP_SESSION")
if sid and sid ~= "" then wrk.headers["Mcp-Session-Id"] = sid end
local key = os.getenv("MCP_BEARER")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"pipelines"', 1, true) then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
