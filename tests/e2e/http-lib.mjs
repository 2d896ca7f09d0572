// Helpers for the HTTP end-to-end tests (http-*.test.mjs): `planasonix-mcp serve` on a free
// loopback port in the World's temporary PLANASONIX_HOME, the official SDK client over
// Streamable HTTP (/mcp) and over the legacy HTTP+SSE transport (/sse), and raw fetch helpers
// for what the SDK cannot express (refusals, headers, status codes). Builds on lib.mjs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { BIN, LATEST, PG_PARAMS, Session, World, assertNoSanitizerReport, fakeId, ordersGraph } from './lib.mjs';

export const ACCEPT_BOTH = 'application/json, text/event-stream';
export const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      timer.unref?.();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls fn() until it returns a truthy value; fails after timeoutMs. */
export async function until(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A World that also runs `serve` processes and HTTP sessions; close() stops them first. */
export class HttpWorld extends World {
  constructor(label = 'http') {
    super(label);
    this.servers = new Set();
    this.httpSessions = new Set();
  }

  /** Starts `planasonix-mcp serve --listen 127.0.0.1:0` and waits for /healthz. */
  async serve({ env = {}, name = 'serve' } = {}) {
    const s = new HttpServer(this, { env, name });
    this.servers.add(s);
    await s.start();
    return s;
  }

  /** An SDK client session over Streamable HTTP ('http') or legacy SSE ('sse'). */
  async connectHttp(server, key, opts = {}) {
    const s = new HttpSession(this, server, key, opts);
    this.httpSessions.add(s);
    await s.start();
    return s;
  }

  async close() {
    for (const s of this.httpSessions) await s.close().catch(() => {});
    const errors = [];
    for (const s of this.servers) {
      try {
        await s.stop();
      } catch (e) {
        errors.push(e);
      }
    }
    await super.close();
    if (errors.length) throw errors[0];
  }

  /** Rows of audit_log (sqlite3 CLI, read-only) matching an SQL condition. */
  audit(where = '1=1') {
    const db = `${this.home}/planasonix.db`;
    const r = spawnSync('sqlite3', ['-json', '-readonly', '-cmd', '.timeout 5000', db,
      `SELECT seq, org_id, key_id, transport, method, tool, outcome, error_code FROM audit_log WHERE ${where} ORDER BY seq`],
    { encoding: 'utf8' });
    assert.equal(r.status, 0, `sqlite3: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : [];
  }

  /** Waits until audit(where) has at least n rows (serve flushes its audit queue every second). */
  async auditWait(where, n = 1, timeoutMs = 8000) {
    let rows = [];
    try {
      await until(() => (rows = this.audit(where)).length >= n, `${n} audit rows where ${where}`, timeoutMs);
    } catch (e) {
      e.message += ` (got ${JSON.stringify(rows)})`;
      throw e;
    }
    return rows;
  }
}

/** One `planasonix-mcp serve` process. */
export class HttpServer {
  constructor(world, { env = {}, name = 'serve' } = {}) {
    this.world = world;
    this.extraEnv = env;
    this.name = name;
    this.exitInfo = null;
  }

  async start() {
    this.stderrPath = this.world.newLog(this.name);
    const fd = fs.openSync(this.stderrPath, 'w');
    const env = this.world.env({ PLANASONIX_LOG: 'info', ...this.extraEnv });
    // Port 0: the kernel picks a free port and serve logs the one it bound (no race).
    this.proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', fd] });
    fs.closeSync(fd);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    const port = await until(() => {
      if (this.exitInfo) throw new Error(`serve exited ${JSON.stringify(this.exitInfo)}:\n${this.log()}`);
      const m = /serving MCP on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(this.log());
      return m && Number(m[1]);
    }, `serve to log its port:\n${this.log()}`, 20000);
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.mcp = `${this.base}/mcp`;
    await until(async () => {
      try {
        return (await fetch(`${this.base}/healthz`)).status === 200;
      } catch {
        return false;
      }
    }, 'GET /healthz → 200', 20000);
  }

  log() {
    return fs.existsSync(this.stderrPath) ? fs.readFileSync(this.stderrPath, 'utf8') : '';
  }

  /** SIGTERM, then waits for the exit; fails unless it exits 0 without a sanitizer report. */
  async stop() {
    if (!this.exitInfo) {
      this.proc.kill('SIGTERM');
      try {
        await withTimeout(this.exited, 20000, 'serve to exit after SIGTERM');
      } catch (e) {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw e;
      }
    }
    assertNoSanitizerReport(this.log(), this.stderrPath);
    assert.deepEqual(this.exitInfo, { code: 0, signal: null }, `serve exit status\n${this.log().slice(-3000)}`);
    return this.exitInfo;
  }
}

/**
 * An SDK client session over HTTP. kind 'http': StreamableHTTPClientTransport on /mcp;
 * kind 'sse': SSEClientTransport on /sse. The bearer key goes in requestInit.headers (the
 * 1.32.2 SSE transport sends those on the GET /sse stream too). Every fetch the transport
 * makes is recorded in this.fetches ({method, url, status, contentType, body}).
 * Inherits call/ok/fail from the stdio Session.
 */
export class HttpSession extends Session {
  constructor(world, server, key, { kind = 'http', name = kind, headers = {}, protocolVersion, eventSourceAuth = false } = {}) {
    super(world, key, { name });
    this.eventSourceAuth = eventSourceAuth;
    this.server = server;
    this.kind = kind;
    this.headers = { ...headers };
    if (key !== undefined) this.headers.Authorization = `Bearer ${key}`;
    this.fetches = [];
    this.errors = [];
    this.protocolVersionWanted = protocolVersion;
  }

  recordingFetch() {
    return async (url, init = {}) => {
      const entry = { method: init.method || 'GET', url: String(url), body: init.body };
      this.fetches.push(entry);
      const res = await fetch(url, init);
      entry.status = res.status;
      entry.contentType = res.headers.get('content-type');
      entry.sessionId = res.headers.get('mcp-session-id');
      return res;
    };
  }

  async start() {
    const requestInit = { headers: this.headers };
    const f = this.recordingFetch();
    const sseOpts = { requestInit, fetch: f };
    if (this.eventSourceAuth) {
      // The classic SSE client config: the stream's GET gets its headers from
      // eventSourceInit.fetch, the POSTs from requestInit.
      const { Authorization, ...rest } = this.headers;
      sseOpts.requestInit = { headers: { ...rest, Authorization } };
      sseOpts.eventSourceInit = {
        fetch: (url, init) => {
          const h = new Headers(init.headers);
          h.set('Authorization', Authorization);
          return f(url, { ...init, headers: h });
        },
      };
    }
    this.transport = this.kind === 'sse'
      ? new SSEClientTransport(new URL(`${this.server.base}/sse`), sseOpts)
      : new StreamableHTTPClientTransport(new URL(this.server.mcp), { requestInit, fetch: f });
    let inner;
    const received = this.received;
    Object.defineProperty(this.transport, 'onmessage', {
      configurable: true,
      get() {
        return inner ? (msg, extra) => { received.push(msg); inner(msg, extra); } : undefined;
      },
      set(fn) { inner = fn; },
    });
    this.client = new Client({ name: `planasonix-e2e-${this.kind}`, version: '1.0.0' });
    this.client.onerror = (e) => this.errors.push(e);
    await withTimeout(this.client.connect(this.transport), 30000, `connect over ${this.kind}`);
    const init = received.find((m) => m.result && m.result.protocolVersion);
    this.protocolVersion = init?.result.protocolVersion;
    this.initResult = init?.result;
    this.tools = (await this.client.listTools()).tools;
  }

  /**
   * Waits until every recorded fetch has its status (over SSE the response to a POST can
   * arrive on the stream before the POST's own 202 does) and returns this.fetches.
   */
  async settledFetches() {
    await until(() => this.fetches.every((f) => f.status !== undefined || f.method === 'GET'),
      'every POST/DELETE of the transport to get its status', 10000);
    return this.fetches;
  }

  get sessionId() {
    if (this.kind === 'sse') return this.transport._endpoint?.searchParams.get('sessionId');
    return this.transport.sessionId;
  }

  async close() {
    if (this.closed) return undefined;
    this.closed = true;
    await this.client?.close();
    return undefined;
  }
}

/** Parses a text/event-stream body into [{event, data, id}] (complete events only). */
export function parseSse(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    const ev = { event: 'message', data: [] };
    let hasField = false;
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      hasField = true;
      if (field === 'data') ev.data.push(value);
      else if (field === 'event') ev.event = value;
      else if (field === 'id') ev.id = value;
    }
    if (hasField) events.push({ ...ev, data: ev.data.join('\n') });
  }
  return events;
}

/**
 * A raw HTTP request with fetch. Returns {status, headers, text, json, messages}: json is the
 * parsed body when it is application/json; messages are the JSON-RPC messages of an SSE body.
 */
export async function request(url, { method = 'POST', key, headers = {}, body, accept = ACCEPT_BOTH,
  contentType = 'application/json', session, version } = {}) {
  const h = {};
  if (accept !== null) h.Accept = accept;
  if (body !== undefined && contentType !== null) h['Content-Type'] = contentType;
  if (key !== undefined) h.Authorization = `Bearer ${key}`;
  if (session !== undefined) h['Mcp-Session-Id'] = session;
  if (version !== undefined) h['MCP-Protocol-Version'] = version;
  Object.assign(h, headers);
  const res = await fetch(url, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const ct = res.headers.get('content-type') || '';
  const out = { status: res.status, headers: res.headers, text, contentType: ct };
  if (ct.startsWith('application/json') && text) out.json = JSON.parse(text);
  if (ct.startsWith('text/event-stream')) {
    out.events = parseSse(text);
    out.messages = out.events.filter((e) => e.event === 'message' && e.data).map((e) => JSON.parse(e.data));
  }
  return out;
}

/**
 * A raw HTTP request with node:http, for what fetch will not do: set Host, omit Accept, or
 * send Expect: 100-continue (expectContinue: the body is never sent; the answer comes first).
 */
export function rawHttp(port, { method = 'GET', path = '/', headers = {}, body, expectContinue = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, setHost: !('Host' in headers) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (expectContinue) {
      req.on('continue', () => reject(new Error('the server said 100 Continue')));
      return;
    }
    if (body !== undefined) req.write(body);
    req.end();
  });
}

let rpcId = 1000;
export function rpc(method, params, id = rpcId++) {
  const m = { jsonrpc: '2.0', id, method };
  if (params !== undefined) m.params = params;
  return m;
}

export function initializeMsg(protocolVersion = LATEST, id = rpcId++) {
  return rpc('initialize', {
    protocolVersion, capabilities: {}, clientInfo: { name: 'planasonix-e2e-raw', version: '1.0.0' },
  }, id);
}

/** POST initialize + notifications/initialized on /mcp; returns {session, result, res}. */
export async function openSession(server, key, { protocolVersion = LATEST, headers = {} } = {}) {
  const res = await request(server.mcp, { key, body: initializeMsg(protocolVersion), headers });
  assert.equal(res.status, 200, `initialize: ${res.status} ${res.text}`);
  const session = res.headers.get('mcp-session-id');
  assert.ok(session, 'initialize answers with Mcp-Session-Id');
  const result = res.json ? res.json.result : res.messages.find((m) => m.result).result;
  const n = await request(server.mcp, {
    key, session, version: result.protocolVersion, headers, body: { jsonrpc: '2.0', method: 'notifications/initialized' },
  });
  assert.equal(n.status, 202, `notifications/initialized: ${n.status} ${n.text}`);
  return { session, result, res, version: result.protocolVersion };
}

/** The one JSON-RPC response of a raw request's answer (JSON or SSE body). */
export function responseOf(res) {
  if (res.json) return res.json;
  const r = (res.messages || []).find((m) => m.id !== undefined && (m.result !== undefined || m.error !== undefined));
  assert.ok(r, `a JSON-RPC response in ${res.status} ${res.contentType}: ${res.text.slice(0, 500)}`);
  return r;
}

/**
 * GET /sse read incrementally: {status, headers, next(event?), close()}. next() waits for the
 * next event (of that type, when given).
 */
export async function openSse(server, key, { headers = {} } = {}) {
  const ac = new AbortController();
  const h = { Accept: 'text/event-stream', ...headers };
  if (key !== undefined) h.Authorization = `Bearer ${key}`;
  const res = await fetch(`${server.base}/sse`, { headers: h, signal: ac.signal });
  const stream = {
    status: res.status,
    headers: res.headers,
    events: [],
    raw: '',
    ended: false,
    close() { ac.abort(); },
  };
  if (res.status !== 200) {
    stream.text = await res.text();
    return stream;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let taken = 0;
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        stream.raw += chunk;
        buf += chunk;
        let i;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(buf.slice(i).match(/^\r?\n\r?\n/)[0].length + i);
          stream.events.push(...parseSse(`${block}\n\n`));
        }
      }
    } catch { /* aborted */ }
    stream.ended = true;
  })();
  stream.next = async (type, timeoutMs = 10000) => {
    const ev = await until(() => {
      while (taken < stream.events.length) {
        const e = stream.events[taken++];
        if (!type || e.event === type) return e;
      }
      if (stream.ended) throw new Error(`the SSE stream ended while waiting for ${type || 'an event'}`);
      return null;
    }, `SSE event ${type || ''}`, timeoutMs);
    return ev;
  };
  /** The next `message` event that is the response to id. */
  stream.response = async (id, timeoutMs) => {
    for (;;) {
      const e = await stream.next('message', timeoutMs);
      const m = JSON.parse(e.data);
      if (m.id === id && (m.result !== undefined || m.error !== undefined)) return m;
    }
  };
  return stream;
}

const ID_RE = /\b(org|key|conn|pl|pipe|sch|run|rev)_[0-9A-Za-z]{22}\b/g;
const TS_RE = /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b/g;

/**
 * A result with ids replaced by their order of appearance (<conn#1>) and timestamps by <ts>,
 * so that the same story told to two organizations over two transports compares equal. Text
 * content that is JSON is compared parsed; lists of ids (sorted by id on the server, so in a
 * random order) are sorted after the replacement.
 */
export function normalize(value) {
  const parsed = JSON.parse(JSON.stringify(value), (k, v) => {
    if (k === 'text' && typeof v === 'string') {
      try {
        return { json: JSON.parse(v) };
      } catch {
        return v;
      }
    }
    return v;
  });
  const seen = new Map();
  const text = JSON.stringify(parsed)
    .replace(ID_RE, (id, kind) => {
      if (!seen.has(id)) seen.set(id, `<${kind}#${seen.size + 1}>`);
      return seen.get(id);
    })
    .replace(TS_RE, '<ts>');
  return JSON.parse(text, (k, v) => (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string' && /^<\w+#\d+>$/.test(x))
    ? [...v].sort() : v));
}

/** One tool call as a plain record: the CallToolResult, or the JSON-RPC error it raised. */
async function record(s, name, args) {
  try {
    const r = await withTimeout(s.client.callTool({ name, arguments: args }), 30000, `tools/call ${name}`);
    return { tool: name, result: r };
  } catch (e) {
    return { tool: name, error: { code: e.code, message: e.message } };
  }
}

/**
 * The same story of tool calls for every transport (each in its own organization): two
 * connections, a refused duplicate, a pipeline, list/get, a not-found, an unknown tool, the
 * catalog. Returns the transcript (compare it after normalize()).
 */
export async function story(s) {
  const t = [];
  const pg = await record(s, 'create_connection', {
    name: 'warehouse', type: 'postgres', category: 'source', params: { ...PG_PARAMS, password: 'story-pw-1' },
  });
  t.push(pg);
  const csv = await record(s, 'create_connection', {
    name: 'exports', type: 'csv', category: 'destination', params: { path: 'exports' },
  });
  t.push(csv);
  t.push(await record(s, 'create_connection', {
    name: 'warehouse', type: 'csv', category: 'source', params: { path: 'x' },
  }));
  const pgId = pg.result?.structuredContent?.connection_id;
  const csvId = csv.result?.structuredContent?.connection_id;
  const pl = await record(s, 'create_pipeline', {
    name: 'orders-daily', description: 'Paid orders to CSV', graph: ordersGraph(pgId, csvId),
  });
  t.push(pl);
  t.push(await record(s, 'list_pipelines', {}));
  t.push(await record(s, 'get_pipeline', { pipeline_id: pl.result?.structuredContent?.pipeline?.pipeline_id }));
  t.push(await record(s, 'get_pipeline', { pipeline_id: fakeId('pl_') }));
  t.push(await record(s, 'no_such_tool', {}));
  t.push(await record(s, 'list_connection_types', { category: 'destination' }));
  return t;
}
