// The stdio proxy against a real `planasonix-mcp serve` (issue 3: "a session through the proxy
// gives the same results as direct"): the same requests go through `--stdio` with
// PLANASONIX_API_URL and straight to /mcp over HTTP, and the answers must be identical. Also the
// real server's refusals (wrong and revoked keys, rate limit) as the proxy reports them.
// Skipped when the binary has no `serve` yet.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { BIN, LATEST, ProxyProc, assertNoSanitizerReport, tempHome, until } from './lib.mjs';

const help = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
const serveReady = help.status === 0 && /serve \[--listen/.test(help.stdout) &&
  !/not in this build/.test(help.stdout.split('\n').find((l) => l.includes('serve [--listen')) || '');

const ASAN = 'detect_leaks=1:abort_on_error=1';

/** A minimal direct Streamable HTTP client (JSON or SSE answers). */
class Direct {
  constructor(url, key) {
    this.url = url;
    this.key = key;
    this.nextId = 1;
  }

  async post(msg) {
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${this.key}`,
    };
    if (this.sid) headers['Mcp-Session-Id'] = this.sid;
    if (this.version) headers['MCP-Protocol-Version'] = this.version;
    const res = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(msg) });
    const text = await res.text();
    const ct = res.headers.get('content-type') || '';
    let messages = [];
    if (ct.startsWith('text/event-stream')) {
      for (const block of text.split(/\r?\n\r?\n/)) {
        const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data) messages.push(JSON.parse(data));
      }
    } else if (text) {
      messages = [JSON.parse(text)];
    }
    return { status: res.status, headers: res.headers, messages };
  }

  async request(method, params) {
    const id = this.nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    const r = await this.post(msg);
    const answer = r.messages.find((m) => m.id === id);
    assert.ok(answer, `direct ${method}: HTTP ${r.status}, ${JSON.stringify(r.messages)}`);
    return answer;
  }

  async initialize() {
    const id = this.nextId++;
    const r = await this.post({ jsonrpc: '2.0', id, method: 'initialize', params: {
      protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'proxy-test', version: '1.0.0' } } });
    this.sid = r.headers.get('mcp-session-id');
    const answer = r.messages.find((m) => m.id === id);
    this.version = answer.result.protocolVersion;
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return answer;
  }

  async close() {
    if (!this.sid) return;
    await fetch(this.url, { method: 'DELETE', headers: {
      Authorization: `Bearer ${this.key}`, 'Mcp-Session-Id': this.sid, 'MCP-Protocol-Version': this.version } });
  }
}

describe('the proxy against a real `planasonix-mcp serve`', { skip: serveReady ? false : '`serve` is not in this build yet' }, () => {
  let tmp;
  let serve;
  let url;
  let serveErr = '';
  const procs = [];
  const env = () => ({ PATH: process.env.PATH, PLANASONIX_HOME: tmp.home, ASAN_OPTIONS: ASAN });
  const cli = (args) => {
    const r = spawnSync(BIN, args, { env: env(), encoding: 'utf8' });
    assertNoSanitizerReport(r.stderr, `planasonix-mcp ${args.join(' ')}`);
    assert.equal(r.status, 0, `planasonix-mcp ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : null;
  };
  const tenant = (name, rateLimit = 'unlimited') => {
    const org = cli(['org', 'create', name, '--plan', 'enterprise', '--json']);
    cli(['org', 'update', org.org_id, '--rate-limit', String(rateLimit), '--json']);
    const k = cli(['key', 'create', '--org', org.org_id, '--scopes', 'all', '--json']);
    return { orgId: org.org_id, key: k.key, keyId: k.key_id };
  };
  const proxy = (key, at = url) => {
    const p = new ProxyProc(at, { key });
    procs.push(p);
    return p;
  };

  /** Starts `serve` on 127.0.0.1:port (0: any); returns {proc, url, stderr()}. */
  async function startServe(port = 0) {
    const s = { err: '' };
    s.proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    s.proc.stderr.setEncoding('utf8');
    s.proc.stderr.on('data', (c) => { s.err += c; serveErr += c; });
    s.exited = new Promise((resolve) => s.proc.once('exit', (code, signal) => resolve({ code, signal })));
    const m = await until(() => /serving MCP on (http:\/\/127\.0\.0\.1:(\d+))\/mcp/.exec(s.err) ||
      (s.proc.exitCode !== null ? [null, null] : null), 'serve to listen', 30000);
    assert.ok(m[1], `serve did not start:\n${s.err}`);
    s.url = m[1];
    s.port = Number(m[2]);
    s.stop = async () => {
      if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGTERM');
      return s.exited;
    };
    return s;
  }

  before(async () => {
    tmp = tempHome();
    fs.mkdirSync(tmp.home);
    serve = await startServe();
    url = serve.url;
  });

  after(async () => {
    for (const p of procs) p.cleanup();
    if (serve) await serve.stop();
    assertNoSanitizerReport(serveErr, 'planasonix-mcp serve');
    if (tmp) fs.rmSync(tmp.root, { recursive: true, force: true });
  });

  test('the same session through the proxy and direct gives the same results', async () => {
    const t = tenant('proxy-vs-direct');
    const direct = new Direct(`${url}/mcp`, t.key);
    const p = proxy(t.key);

    const di = await direct.initialize();
    const pi = await p.initialize();
    assert.deepEqual(pi.result, di.result, 'initialize results');
    const dl = await direct.request('tools/list');
    const pl = await p.request('tools/list');
    assert.deepEqual(pl.result, dl.result, 'tools/list results');
    assert.ok(pl.result.tools.some((x) => x.name === 'create_connection'));

    // a write through the proxy, visible both ways
    const created = await p.request('tools/call', { name: 'create_connection', arguments: {
      name: 'exports', type: 'csv', category: 'destination', params: { path: 'exports' } } });
    assert.ok(!created.result.isError, JSON.stringify(created));
    const connId = created.result.structuredContent.connection_id;
    assert.match(connId, /^conn_/);
    const viaProxy = await p.request('tools/call', { name: 'list_connectors', arguments: {} });
    const viaHttp = await direct.request('tools/call', { name: 'list_connectors', arguments: {} });
    assert.deepEqual(viaProxy.result, viaHttp.result, 'list_connectors results');
    assert.deepEqual(viaProxy.result.structuredContent.connectors.map((c) => c.connection_id), [connId]);

    // with a progress token the server may answer with SSE; the proxy still gives one line
    const sse = await p.request('tools/call', { name: 'list_connectors', arguments: {},
      _meta: { progressToken: 'pt-1' } });
    assert.deepEqual(sse.result, viaHttp.result);

    // a tool error and an unknown tool look the same both ways
    const dup = { name: 'create_connection', arguments: {
      name: 'exports', type: 'csv', category: 'destination', params: { path: 'x' } } };
    assert.deepEqual((await p.request('tools/call', dup)).result, (await direct.request('tools/call', dup)).result);
    const bad = { name: 'no_such_tool', arguments: {} };
    const pb = await p.request('tools/call', bad);
    const db = await direct.request('tools/call', bad);
    assert.deepEqual(pb.error ?? pb.result, db.error ?? db.result);

    await direct.close();
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assert.ok(!p.stderrText.includes(t.key), 'the key is not on the proxy\'s stderr');
    assert.ok(!serveErr.includes(t.key), 'the key is not on the server\'s stderr');
  });

  test('refusals from the real server: wrong key, revoked key, rate limit', async () => {
    const wrong = proxy('flx_this_is_not_a_key_of_this_server_000000');
    const w = await wrong.initialize();
    assert.equal(w.error.code, -32001);
    assert.equal(w.error.message, 'Unauthorized: the API key is invalid or revoked');
    assert.deepEqual(await wrong.end(), { code: 0, signal: null });

    const t = tenant('proxy-revoked');
    const p = proxy(t.key);
    assert.ok((await p.initialize()).result);
    assert.ok((await p.request('tools/list')).result);
    cli(['key', 'revoke', t.keyId, '--json']);
    const r = await p.request('tools/list');
    assert.equal(r.error?.code, -32001, JSON.stringify(r));
    assert.deepEqual(await p.end(), { code: 0, signal: null });

    const limited = tenant('proxy-limited', 2);
    const q = proxy(limited.key);
    await q.initialize();
    let refused;
    for (let i = 0; i < 6 && !refused; i++) {
      const x = await q.request('tools/list');
      if (x.error) refused = x;
    }
    assert.ok(refused, 'the plan limit of 2 requests per minute is enforced');
    assert.equal(refused.error.code, -32029, JSON.stringify(refused));
    assert.ok(refused.error.data.retry_after_ms > 0, JSON.stringify(refused));
    assert.deepEqual(await q.end(), { code: 0, signal: null });
  });

  test('the server restarts: unreachable meanwhile, then a transparent new session (404 → re-initialize)', async () => {
    const t = tenant('proxy-restart');
    let s = await startServe();
    try {
      const p = proxy(t.key, s.url);
      assert.ok((await p.initialize()).result);
      assert.ok((await p.request('logging/setLevel', { level: 'error' })).result);
      const before = await p.request('tools/list');
      assert.ok(before.result);
      assert.deepEqual(await s.stop(), { code: 0, signal: null });

      const down = await p.request('tools/list');
      assert.equal(down.error?.code, -32000, JSON.stringify(down));
      assert.ok(down.error.message.startsWith(`Cannot reach the Planasonix server at ${s.url}/mcp: `), down.error.message);

      s = await startServe(s.port); // same port, new process: the old session id is unknown
      const again = await p.request('tools/list');
      assert.deepEqual(again.result, before.result, JSON.stringify(again));
      assert.match(p.stderrText, /starting a new one/);
      assert.deepEqual(await p.end(), { code: 0, signal: null });
    } finally {
      await s.stop();
    }
  });
});
