// A tiny Streamable HTTP MCP server (mcp.md §7.2) for testing `planasonix-mcp --stdio` in proxy
// mode before/besides the real `serve`. It speaks just enough of the protocol: initialize with an
// Mcp-Session-Id, JSON and SSE responses, 202 for notifications, 404 for unknown sessions, DELETE,
// MCP-Protocol-Version checks, and refusal modes.
//
// Use in-process: `const srv = await startFakeServer({ mode: 'ok' })`; `srv.mode = '429'` switches
// the mode at run time; srv.requests records every HTTP request (headers and parsed body).
// Standalone: `FAKE_MODE=401 PORT=8123 node tests/proxy/fake-server.mjs` (prints the URL).
//
// Modes: ok | 401 | 403 (JSON-RPC body) | 403-plain | 429 (body + Retry-After) | 429-header
// (Retry-After only) | 500 | expire (the session is forgotten after `expireAfter` requests, so the
// next one gets 404).
import http from 'node:http';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const FAKE_KEY = 'flx_fake_server_key_0123456789abcdef';

const TOOLS = [
  { name: 'echo', description: 'Echoes its arguments', inputSchema: { type: 'object' } },
  { name: 'progress', description: 'Streams progress, then answers', inputSchema: { type: 'object' } },
  { name: 'slow', description: 'Waits until cancelled', inputSchema: { type: 'object' } },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rpcError(id, code, message, data) {
  const error = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}

export async function startFakeServer({ mode = process.env.FAKE_MODE || 'ok', key = FAKE_KEY,
  port = 0, expireAfter = 2 } = {}) {
  const state = {
    mode,
    expireAfter,
    requests: [], // {method, path, headers, body}
    notifications: [], // JSON-RPC notifications received: {msg, at, inflight: [ids]}
    sessions: new Map(), // id -> {version, count, initParams}
    deleted: [],
    initializes: [],
    inflight: new Map(), // JSON-RPC id (as JSON text) -> {cancel()}
    cancelledWhileInFlight: [],
  };

  function send(res, status, body, headers = {}) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
    res.writeHead(status, h);
    res.end(text);
  }

  function refusal(res, id) {
    switch (state.mode) {
      case '401':
        send(res, 401, rpcError(null, -32001, 'Unauthorized: invalid bearer token'),
          { 'WWW-Authenticate': 'Bearer realm="planasonix"' });
        return true;
      case '403':
        send(res, 403, rpcError(null, -32003, "Plan 'starter' does not include remote MCP access"));
        return true;
      case '403-plain':
        send(res, 403, 'Forbidden by policy', { 'Content-Type': 'text/plain' });
        return true;
      case '429':
        send(res, 429, rpcError(id ?? null, -32029, 'Rate limit exceeded', { retry_after_ms: 6500 }),
          { 'Retry-After': '7' });
        return true;
      case '429-header':
        res.writeHead(429, { 'Retry-After': '3' });
        res.end();
        return true;
      case '500':
        send(res, 500, 'boom: the database is on fire', { 'Content-Type': 'text/plain' });
        return true;
      default:
        return false;
    }
  }

  async function handlePost(req, res, raw) {
    const accept = req.headers.accept || '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return send(res, 406, rpcError(null, -32000, 'Not Acceptable: Accept must list both types'));
    }
    if (!(req.headers['content-type'] || '').startsWith('application/json')) {
      return send(res, 415, rpcError(null, -32000, 'Unsupported Media Type'));
    }
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return send(res, 400, rpcError(null, -32700, 'Parse error'));
    }
    const rec = state.requests[state.requests.length - 1];
    rec.body = msg;
    if (req.headers.authorization !== `Bearer ${key}`) {
      return send(res, 401, rpcError(null, -32001, 'Unauthorized: missing or wrong bearer token'),
        { 'WWW-Authenticate': 'Bearer realm="planasonix"' });
    }
    if (refusal(res, msg.id)) return;

    if (msg.method === 'initialize') {
      const sid = crypto.randomUUID();
      const version = msg.params?.protocolVersion || '2025-03-26';
      state.sessions.set(sid, { version, count: 0 });
      state.initializes.push({ sid, params: msg.params, id: msg.id });
      return send(res, 200, {
        jsonrpc: '2.0', id: msg.id,
        result: {
          protocolVersion: version,
          capabilities: { tools: { listChanged: false }, logging: {} },
          serverInfo: { name: 'fake-planasonix', version: '0.0.1' },
        },
      }, { 'Mcp-Session-Id': sid });
    }

    const sid = req.headers['mcp-session-id'];
    if (!sid) return send(res, 400, rpcError(null, -32000, 'Mcp-Session-Id header is required'));
    const sess = state.sessions.get(sid);
    if (!sess) return send(res, 404, rpcError(null, -32001, 'Session not found'));
    if (req.headers['mcp-protocol-version'] !== sess.version) {
      return send(res, 400, rpcError(null, -32000,
        `Bad MCP-Protocol-Version: ${req.headers['mcp-protocol-version']}`));
    }
    if (state.mode === 'expire' && msg.id !== undefined && ++sess.count > state.expireAfter) {
      state.sessions.delete(sid);
      return send(res, 404, rpcError(null, -32001, 'Session not found'));
    }

    if (msg.id === undefined || msg.method === undefined) {
      // a notification or a response
      if (msg.method) {
        state.notifications.push({ msg, at: Date.now(), inflight: [...state.inflight.keys()] });
        if (msg.method === 'notifications/cancelled') {
          const k = JSON.stringify(msg.params?.requestId);
          const f = state.inflight.get(k);
          if (f) {
            state.cancelledWhileInFlight.push(msg.params.requestId);
            f.cancel();
          }
        }
      }
      res.writeHead(202);
      return res.end();
    }

    switch (msg.method) {
      case 'ping':
        return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: {} });
      case 'logging/setLevel':
        sess.level = msg.params?.level;
        return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: {} });
      case 'tools/list':
        return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: { tools: TOOLS } });
      case 'tools/call':
        return callTool(req, res, msg, sess);
      default:
        return send(res, 200, rpcError(msg.id, -32601, `Method not found: ${msg.method}`));
    }
  }

  async function callTool(req, res, msg, sess) {
    const name = msg.params?.name;
    const args = msg.params?.arguments || {};
    const result = (obj) => ({
      jsonrpc: '2.0', id: msg.id,
      result: { content: [{ type: 'text', text: JSON.stringify(obj) }], structuredContent: obj },
    });
    if (name === 'echo') return send(res, 200, result({ echo: args, level: sess.level ?? null }));
    if (name === 'progress') {
      const token = msg.params?._meta?.progressToken;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('id: 0\ndata:\n\n'); // priming event (empty data)
      res.write(': keep-alive\n\n');
      res.write('event: ping\ndata: {"ignored":true}\n\n'); // not a "message" event
      const steps = args.steps ?? 3;
      for (let i = 1; i <= steps; i++) {
        const n = { jsonrpc: '2.0', method: 'notifications/progress',
          params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } };
        if (i === steps) {
          // multi-line data: pretty-printed JSON, one data field per line, CRLF line ends,
          // written in two chunks that split a line
          const t = JSON.stringify(n, null, 1).split('\n').map((l) => `data: ${l}\r\n`).join('');
          const all = `event: message\r\nid: ${i}\r\n${t}\r\n`;
          res.write(all.slice(0, 40));
          res.write(all.slice(40));
        } else {
          res.write(`event: message\nid: ${i}\ndata: ${JSON.stringify(n)}\n\n`);
        }
        await sleep(args.delayMs ?? 150);
      }
      res.end(`id: ${steps + 1}\ndata: ${JSON.stringify(result({ done: true, steps }))}\n\n`);
      return undefined;
    }
    if (name === 'slow') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(': started\n\n');
      const k = JSON.stringify(msg.id);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, args.ms ?? 15000);
        state.inflight.set(k, { cancel: () => { clearTimeout(timer); resolve('cancelled'); } });
        res.on('close', () => { clearTimeout(timer); resolve('closed'); });
      });
      const cancelled = state.cancelledWhileInFlight.some((x) => JSON.stringify(x) === k);
      state.inflight.delete(k);
      if (cancelled) {
        res.end(); // the client cancelled: no response (like the real server)
      } else if (!res.destroyed) {
        res.end(`data: ${JSON.stringify(result({ slept: true }))}\n\n`);
      }
      return undefined;
    }
    return send(res, 200, { jsonrpc: '2.0', id: msg.id,
      result: { content: [{ type: 'text', text: `unknown tool ${name}` }], isError: true } });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      state.requests.push({ method: req.method, path: req.url, headers: req.headers, body: null });
      const path = req.url.split('?')[0];
      if (!path.endsWith('/mcp')) return send(res, 404, 'no such endpoint', { 'Content-Type': 'text/plain' });
      if (req.method === 'POST') {
        return handlePost(req, res, raw).catch((e) => {
          if (!res.headersSent) send(res, 500, String(e), { 'Content-Type': 'text/plain' });
        });
      }
      if (req.method === 'DELETE') {
        const sid = req.headers['mcp-session-id'];
        state.deleted.push({ sid, auth: req.headers.authorization });
        if (sid && state.sessions.delete(sid)) return send(res, 200, undefined);
        return send(res, 404, rpcError(null, -32001, 'Session not found'));
      }
      res.writeHead(405, { Allow: 'POST, DELETE' });
      return res.end();
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address();
  state.port = addr.port;
  state.url = `http://127.0.0.1:${addr.port}`;
  state.close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  Object.defineProperty(state, 'posts', { get: () => state.requests.filter((r) => r.method === 'POST') });
  return state;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const srv = await startFakeServer({ port: Number(process.env.PORT || 0),
    key: process.env.FAKE_KEY || FAKE_KEY });
  console.log(`${srv.url} (mode ${srv.mode}, key ${process.env.FAKE_KEY ? 'from FAKE_KEY' : FAKE_KEY})`);
}
