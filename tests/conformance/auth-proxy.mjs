// An auth-injecting reverse proxy for the conformance run (test-only; the product has no
// unauthenticated mode). The conformance runner cannot send headers, so this listens on
// 127.0.0.1 and forwards every request to `planasonix-mcp serve`, adding
// `Authorization: Bearer $AUTH_PROXY_KEY`. Everything else passes through unchanged: method,
// path and query, Host and Origin (so serve's DNS-rebinding checks see what the client sent),
// the body, the status, the response headers (Mcp-Session-Id, WWW-Authenticate, ...) and the
// response body, streamed as it arrives (SSE included).
//
//   AUTH_PROXY_KEY=flx_... node auth-proxy.mjs --target http://127.0.0.1:PORT [--port N]
//
// Prints "auth-proxy: listening on http://127.0.0.1:PORT" on stdout once listening (port 0,
// the default, picks a free one). Ends on SIGTERM/SIGINT.
import http from 'node:http';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const target = new URL(arg('--target', ''));
const listenPort = Number(arg('--port', '0'));
const key = process.env.AUTH_PROXY_KEY;
if (!key || target.protocol !== 'http:') {
  console.error('usage: AUTH_PROXY_KEY=KEY node auth-proxy.mjs --target http://HOST:PORT [--port N]');
  process.exit(2);
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization',
  'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** rawHeaders ([k, v, k, v, ...]) minus hop-by-hop ones, as a list of [k, v] (keeps duplicates). */
function forwardable(raw, skip = new Set()) {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (!HOP.has(k) && !skip.has(k)) out.push([raw[i], raw[i + 1]]);
  }
  return out;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const server = http.createServer((req, res) => {
  // Host is passed through as the client sent it (setHost: false keeps Node from adding one).
  const headers = forwardable(req.rawHeaders, new Set(['authorization']));
  headers.push(['Authorization', `Bearer ${key}`]);
  const flat = headers.flat();
  const up = http.request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: flat,
    setHost: false,
    agent,
  });
  up.on('response', (ur) => {
    const out = forwardable(ur.rawHeaders).flat();
    res.writeHead(ur.statusCode, ur.statusMessage, out);
    // SSE: send the headers (and every chunk) at once instead of waiting for the first write.
    res.flushHeaders();
    ur.pipe(res);
    ur.on('error', () => res.destroy());
  });
  up.on('error', (err) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`auth-proxy: upstream error: ${err.message}\n`);
    } else {
      res.destroy();
    }
  });
  // The client went away (e.g. it closed an SSE stream): close the upstream request too.
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});

server.keepAliveTimeout = 5000;
server.listen(listenPort, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`auth-proxy: listening on http://127.0.0.1:${port}`);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
