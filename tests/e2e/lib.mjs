// Shared helpers for the planasonix-mcp end-to-end tests (node --test).
//
// Every test file makes its own World: a fresh temporary PLANASONIX_HOME, organizations and keys
// made with the CLI, MCP servers spawned over stdio (the official SDK client, or RawServer for
// byte-level JSON-RPC checks), and one stderr log file per process, which assertClean() greps
// for sanitizer reports. The binary is $PLANASONIX_BIN, default build/asan/planasonix-mcp.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(E2E_DIR, '../..');
export const BIN = path.resolve(REPO, process.env.PLANASONIX_BIN || 'build/asan/planasonix-mcp');
export const ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=1';
export const LATEST = '2025-11-25';
export const SPECS_DIR = path.join(REPO, 'src/tools/specs');
export const SCOPES = [
  'pipelines:read', 'pipelines:write', 'connectors:read', 'connections:read',
  'connections:write', 'schedules:read', 'schedules:write',
];

/** Patterns that mean a sanitizer found something. */
const SANITIZER_PATTERNS = [
  /ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/, /SUMMARY: \w+Sanitizer/,
];

export function assertNoSanitizerReport(text, where) {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const start = Math.max(0, m.index - 200);
      assert.fail(`${where}: sanitizer report (${re}):\n${text.slice(start, start + 3000)}`);
    }
  }
}

/** The tool spec files, by tool name. */
export function loadSpecs() {
  const specs = {};
  for (const f of fs.readdirSync(SPECS_DIR).filter((n) => n.endsWith('.json')).sort()) {
    const s = JSON.parse(fs.readFileSync(path.join(SPECS_DIR, f), 'utf8'));
    specs[s.name] = s;
  }
  return specs;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** A well-formed id that no one has: prefix + 22 base62 characters. */
export function fakeId(prefix) {
  let s = prefix;
  for (let i = 0; i < 22; i++) s += BASE62[Math.floor(Math.random() * 62)];
  return s;
}

/** A unique string, e.g. for names and canaries. */
export function unique(label) {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      timer.unref?.();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One temporary PLANASONIX_HOME plus its CLI and servers. */
export class World {
  constructor(label = 'e2e') {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `planasonix-${label}-`));
    this.home = path.join(this.root, 'home');
    this.logDir = path.join(this.root, 'logs');
    fs.mkdirSync(this.home);
    fs.mkdirSync(this.logDir);
    this.logs = [];
    this.sessions = new Set();
    this.raws = new Set();
    this.n = 0;
  }

  env(extra = {}) {
    return {
      PLANASONIX_HOME: this.home,
      PATH: process.env.PATH,
      ASAN_OPTIONS,
      UBSAN_OPTIONS: 'print_stacktrace=1',
      ...extra,
    };
  }

  newLog(name) {
    const p = path.join(this.logDir, `${String(++this.n).padStart(3, '0')}-${name}.stderr.log`);
    this.logs.push(p);
    return p;
  }

  /** Runs the CLI; throws unless it exits 0 (or allowFail). */
  cli(args, { allowFail = false, env = {} } = {}) {
    const r = spawnSync(BIN, args, { env: this.env(env), encoding: 'utf8', timeout: 60000 });
    if (r.error) throw r.error;
    assertNoSanitizerReport(r.stderr, `planasonix-mcp ${args.join(' ')}`);
    if (!allowFail && r.status !== 0) {
      throw new Error(`planasonix-mcp ${args.join(' ')} exited ${r.status} (${r.signal}):\n${r.stderr}`);
    }
    return r;
  }

  cliJson(args) {
    const r = this.cli([...args, '--json']);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `--json prints one line: ${r.stdout}`);
    return JSON.parse(lines[0]);
  }

  /** Creates an org (and a key) the usual way. Returns {orgId, name, keyId, key, plan}. */
  tenant(name, { plan = 'enterprise', scopes = 'all', rateLimit = 'unlimited' } = {}) {
    const org = this.cliJson(['org', 'create', name, '--plan', plan]);
    assert.match(org.org_id, /^org_[0-9A-Za-z]{22}$/);
    if (rateLimit) this.setRateLimit(org.org_id, rateLimit);
    const k = this.key(org.org_id, scopes);
    return { orgId: org.org_id, name, plan, keyId: k.keyId, key: k.key };
  }

  /**
   * `org update ORG --rate-limit N|plan|unlimited`. The exit status is checked by its own test
   * (lifecycle.test.mjs); here the effect is checked through `org list`, so that one CLI bug
   * does not cancel every suite.
   */
  setRateLimit(orgId, rateLimit) {
    this.cli(['org', 'update', orgId, '--rate-limit', String(rateLimit)], { allowFail: true });
    const org = this.cliJson(['org', 'list']).orgs.find((o) => o.org_id === orgId);
    assert.ok(org, `org list shows ${orgId}`);
    assert.equal(String(org.rate_limit_per_minute), String(rateLimit), `rate limit of ${orgId}`);
    return org;
  }

  key(org, scopes = 'all', extra = []) {
    const k = this.cliJson(['key', 'create', '--org', org, '--scopes', scopes, ...extra]);
    assert.match(k.key_id, /^key_/);
    assert.match(k.key, /^flx_/);
    return { keyId: k.key_id, key: k.key };
  }

  /** Starts `planasonix-mcp --stdio` with the SDK client; initialize included. */
  async connect(key, opts = {}) {
    const s = new Session(this, key, opts);
    this.sessions.add(s);
    await s.start();
    return s;
  }

  /** Starts `planasonix-mcp --stdio` for raw JSON-RPC lines (no handshake). */
  raw(key, opts = {}) {
    const r = new RawServer(this, key, opts);
    this.raws.add(r);
    return r;
  }

  /** Stops every server still running, then checks all stderr logs for sanitizer reports. */
  async close() {
    for (const s of this.sessions) await s.close().catch(() => {});
    for (const r of this.raws) await r.end().catch(() => {});
    this.assertClean();
  }

  /** close() and then cleanup(), even when close() fails. */
  async finish() {
    try {
      await this.close();
    } finally {
      this.cleanup();
    }
  }

  assertClean() {
    for (const p of this.logs) {
      if (fs.existsSync(p)) assertNoSanitizerReport(fs.readFileSync(p, 'utf8'), p);
    }
  }

  cleanup() {
    if (process.env.KEEP_TMP) {
      console.error(`# kept ${this.root}`);
      return;
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  dbFiles() {
    return fs.readdirSync(this.home).filter((f) => f.startsWith('planasonix.db'))
      .map((f) => path.join(this.home, f));
  }
}

/** An MCP session through the official SDK client (it validates structuredContent). */
export class Session {
  constructor(world, key, { name = 'sdk', env = {}, bin = BIN } = {}) {
    this.world = world;
    this.key = key;
    this.name = name;
    this.extraEnv = env;
    this.bin = bin;
    this.received = []; // every JSON-RPC message the server sent, as parsed objects
    this.closed = false;
  }

  async start() {
    this.stderrPath = this.world.newLog(this.name);
    const fd = fs.openSync(this.stderrPath, 'w');
    const env = this.world.env({ ...this.extraEnv });
    if (this.key !== undefined) env.PLANASONIX_API_KEY = this.key;
    this.transport = new StdioClientTransport({ command: this.bin, args: ['--stdio'], env, stderr: fd });
    // Record every message the server sends (the Protocol sets onmessage during connect).
    let inner;
    const received = this.received;
    Object.defineProperty(this.transport, 'onmessage', {
      configurable: true,
      get() {
        return inner ? (msg, extra) => { received.push(msg); inner(msg, extra); } : undefined;
      },
      set(fn) { inner = fn; },
    });
    this.client = new Client({ name: 'planasonix-e2e', version: '1.0.0' });
    try {
      await withTimeout(this.client.connect(this.transport), 30000, 'connect');
    } finally {
      fs.closeSync(fd);
    }
    const init = received.find((m) => m.result && m.result.protocolVersion);
    this.protocolVersion = init?.result.protocolVersion;
    // listTools caches each tool's outputSchema validator in the client, so that callTool
    // validates structuredContent from here on.
    this.tools = (await this.client.listTools()).tools;
  }

  async call(name, args = {}) {
    return withTimeout(this.client.callTool({ name, arguments: args }), 30000, `tools/call ${name}`);
  }

  /** Calls a tool that must succeed; returns structuredContent (checked against the text copy). */
  async ok(name, args = {}) {
    const r = await this.call(name, args);
    if (r.isError) assert.fail(`${name}(${JSON.stringify(args)}) failed: ${r.content?.[0]?.text}`);
    assert.ok(r.structuredContent, `${name}: structuredContent present`);
    assert.equal(r.content.length, 1);
    assert.equal(r.content[0].type, 'text');
    assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent,
      `${name}: the text block is the same JSON as structuredContent`);
    return r.structuredContent;
  }

  /** Calls a tool that must fail with isError; returns {code, message, field, hint, retryable, text}. */
  async fail(name, args = {}, code = undefined) {
    const r = await this.call(name, args);
    const text = r.content?.[0]?.text;
    assert.equal(r.isError, true, `${name}(${JSON.stringify(args)}) should fail, got ${text}`);
    assert.equal(r.structuredContent, undefined, `${name}: no structuredContent on isError`);
    const body = JSON.parse(text);
    assert.ok(body.error && typeof body.error.message === 'string', `error shape: ${text}`);
    if (code) assert.equal(body.error.code, code, `${name}: error code (${text})`);
    return { ...body.error, text };
  }

  /** Closes stdin (then SIGTERM/SIGKILL after 2 s each, as the SDK does); returns the exit code. */
  async close() {
    if (this.closed) return this.exitCode;
    this.closed = true;
    const proc = this.transport?._process; // the SDK keeps the child here (private)
    await this.client?.close();
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      await new Promise((resolve) => proc.once('exit', resolve));
    }
    this.exitCode = proc ? proc.exitCode : undefined;
    this.signal = proc ? proc.signalCode : undefined;
    assertNoSanitizerReport(fs.readFileSync(this.stderrPath, 'utf8'), this.stderrPath);
    return this.exitCode;
  }

  stderr() {
    return fs.readFileSync(this.stderrPath, 'utf8');
  }
}

/** A server driven with raw JSON-RPC lines on stdin/stdout. */
export class RawServer {
  constructor(world, key, { name = 'raw', env = {} } = {}) {
    this.world = world;
    this.stderrPath = world.newLog(name);
    const fd = fs.openSync(this.stderrPath, 'w');
    const e = world.env(env);
    if (key !== undefined) e.PLANASONIX_API_KEY = key;
    this.proc = spawn(BIN, ['--stdio'], { env: e, stdio: ['pipe', 'pipe', fd] });
    fs.closeSync(fd);
    this.nextId = 1;
    this.lines = []; // every stdout line, raw text
    this.queue = []; // parsed messages not yet taken
    this.waiters = [];
    this.pending = '';
    this.notifications = [];
    this.proc.stdin.on('error', () => {}); // EPIPE after the server exits is fine here
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      this.pending += chunk;
      let nl;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        this.lines.push(line);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          msg = { __unparsable: line };
        }
        this.queue.push(msg);
        this.wake();
      }
    });
    this.exitInfo = null;
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.proc.stdout.on('end', () => { this.ended = true; this.wake(); });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes text as is (add the newline yourself). */
  write(text) {
    return new Promise((resolve, reject) => {
      this.proc.stdin.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  send(obj) {
    return this.write(`${JSON.stringify(obj)}\n`);
  }

  /** The next message from the server, whatever it is. */
  async next(timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.queue.length) return this.queue.shift();
      if (this.ended) throw new Error(`server stdout ended (exit ${JSON.stringify(this.exitInfo)}) while waiting for a message`);
      if (Date.now() > deadline) throw new Error('timed out waiting for a message');
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  /** The next response (notifications are set aside in this.notifications). */
  async response() {
    for (;;) {
      const m = await this.next();
      if (m && !Array.isArray(m) && m.method && m.id === undefined) {
        this.notifications.push(m);
        continue;
      }
      return m;
    }
  }

  async request(method, params) {
    const id = this.nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    await this.send(msg);
    const r = await this.response();
    assert.equal(r.id, id, `response id for ${method}: ${JSON.stringify(r)}`);
    return r;
  }

  async notify(method, params) {
    const msg = { jsonrpc: '2.0', method };
    if (params !== undefined) msg.params = params;
    await this.send(msg);
  }

  /** initialize + notifications/initialized; returns the initialize result. */
  async initialize(protocolVersion = LATEST) {
    const r = await this.request('initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'planasonix-e2e-raw', version: '1.0.0' },
    });
    assert.ok(r.result, `initialize: ${JSON.stringify(r)}`);
    await this.notify('notifications/initialized');
    return r.result;
  }

  /** Closes stdin and waits for the exit. */
  async end() {
    if (!this.exitInfo) {
      this.proc.stdin.end();
      await withTimeout(this.exited, 30000, 'exit after EOF');
    }
    assertNoSanitizerReport(fs.readFileSync(this.stderrPath, 'utf8'), this.stderrPath);
    return this.exitInfo;
  }

  /** Every stdout line was one JSON-RPC 2.0 message (or a batch of them). */
  assertStdoutIsJsonRpc() {
    for (const line of this.lines) {
      let m;
      assert.doesNotThrow(() => { m = JSON.parse(line); }, `stdout line is JSON: ${line.slice(0, 200)}`);
      const items = Array.isArray(m) ? m : [m];
      for (const it of items) {
        assert.equal(it.jsonrpc, '2.0', `JSON-RPC 2.0 message: ${line.slice(0, 200)}`);
        assert.ok('result' in it || 'error' in it || 'method' in it, `a response or a notification: ${line.slice(0, 200)}`);
      }
    }
    assert.equal(this.pending, '', 'no partial line left on stdout');
  }

  stderr() {
    return fs.readFileSync(this.stderrPath, 'utf8');
  }
}

/** Valid configs for the catalog node types used across the tests. */
export function ordersGraph(sourceConnId, destConnId, { condition = "amount > 100 and status = 'paid'" } = {}) {
  return {
    nodes: [
      { id: 'orders', kind: 'source', type: 'postgres', connection_id: sourceConnId, config: { table: 'public.orders' } },
      { id: 'recent', kind: 'transform', type: 'filter', config: { condition } },
      { id: 'dedupe', kind: 'transform', type: 'dedupe', config: { keys: ['order_id'] } },
      { id: 'load', kind: 'destination', type: 'csv', connection_id: destConnId, config: { file: 'orders.csv', mode: 'append' } },
    ],
    edges: [
      { from: 'orders', to: 'recent' },
      { from: 'recent', to: 'dedupe' },
      { from: 'dedupe', to: 'load' },
    ],
  };
}

export const PG_PARAMS = { host: 'db.example.com', port: 5432, database: 'shop', user: 'etl', sslmode: 'require' };

/** Creates a postgres source and a csv destination; returns their views. */
export async function makeConnections(s, label, password = 's3cret-pw') {
  const pg = await s.ok('create_connection', {
    name: `${label}-pg`, type: 'postgres', category: 'source', params: { ...PG_PARAMS, password },
  });
  const csv = await s.ok('create_connection', {
    name: `${label}-csv`, type: 'csv', category: 'destination', params: { path: 'exports' },
  });
  return { pg, csv };
}

/** The PostgreSQL test server scripts/test.sh starts (PX_TEST_PG_*), or null; and which
 * variables are missing. */
const PG_ENV = ['PX_TEST_PG_HOST', 'PX_TEST_PG_PORT', 'PX_TEST_PG_USER', 'PX_TEST_PG_PASSWORD', 'PX_TEST_PG_DATABASE'];
export const TEST_PG_MISSING = PG_ENV.filter((n) => !process.env[n]);
export const TEST_PG = TEST_PG_MISSING.length ? null : {
  host: process.env.PX_TEST_PG_HOST,
  port: Number(process.env.PX_TEST_PG_PORT),
  user: process.env.PX_TEST_PG_USER,
  password: process.env.PX_TEST_PG_PASSWORD,
  database: process.env.PX_TEST_PG_DATABASE,
};

/** Runs SQL on the PostgreSQL test server with psql; returns stdout trimmed (unaligned, tuples only). */
export function testPsql(sql) {
  const PG = TEST_PG;
  const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', PG.database, '-c', sql], {
    env: { PATH: process.env.PATH, PGPASSWORD: PG.password, PGCONNECT_TIMEOUT: '10' },
    encoding: 'utf8',
    timeout: 60000,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `psql failed: ${r.stderr}`);
  return r.stdout.trim();
}
