// `planasonix-mcp --stdio` as a proxy (PLANASONIX_API_URL set) against the fake Streamable HTTP
// server in fake-server.mjs: forwarding, headers, SSE streaming, concurrency and cancellation,
// session expiry, HTTP failures mapped to JSON-RPC errors, exit behaviour, and key hygiene.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { FAKE_KEY, startFakeServer } from './fake-server.mjs';
import { BIN, HERE, LATEST, ProxyProc, REPO, sleep, until } from './lib.mjs';

const procs = [];
function proxy(url, opts = {}) {
  const p = new ProxyProc(url, { key: FAKE_KEY, ...opts });
  procs.push(p);
  return p;
}

/** Checks the things every run must satisfy: no key on stderr, no local store created. */
function assertHygiene(p, key = FAKE_KEY) {
  assert.ok(!p.stderrText.includes(key), `the API key appears on stderr:\n${p.stderrText}`);
  assert.ok(!fs.existsSync(p.home), 'proxy mode must not create the local data directory');
}

after(() => {
  for (const p of procs) p.cleanup();
});

describe('forwarding through the proxy', () => {
  let srv;
  before(async () => { srv = await startFakeServer(); });
  after(() => srv.close());

  test('initialize, tools/list, headers, DELETE on EOF, exit 0', async () => {
    const p = proxy(srv.url);
    const init = await p.initialize();
    assert.equal(init.result.protocolVersion, LATEST);
    assert.equal(init.result.serverInfo.name, 'fake-planasonix');
    const list = await p.request('tools/list');
    assert.deepEqual(list.result.tools.map((t) => t.name), ['echo', 'progress', 'slow']);
    const echo = await p.request('tools/call', { name: 'echo', arguments: { a: [1, 'x'] } });
    assert.deepEqual(echo.result.structuredContent.echo, { a: [1, 'x'] });

    const sid = srv.initializes.at(-1).sid;
    const posts = srv.posts;
    const initPost = posts.find((r) => r.body?.method === 'initialize');
    assert.equal(initPost.headers['mcp-session-id'], undefined, 'initialize goes without a session');
    assert.equal(initPost.headers.authorization, `Bearer ${FAKE_KEY}`);
    for (const r of posts.filter((x) => x.body && x.body.method !== 'initialize')) {
      assert.equal(r.headers['mcp-session-id'], sid, `${r.body.method}: session id echoed`);
      assert.equal(r.headers['mcp-protocol-version'], LATEST, `${r.body.method}: protocol version`);
      assert.equal(r.headers.authorization, `Bearer ${FAKE_KEY}`);
      assert.match(r.headers.accept, /application\/json/);
      assert.match(r.headers.accept, /text\/event-stream/);
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.path, '/mcp');
    }
    assert.ok(srv.notifications.some((n) => n.msg.method === 'notifications/initialized'));

    const exit = await p.end();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(srv.deleted.some((d) => d.sid === sid && d.auth === `Bearer ${FAKE_KEY}`),
      'the session is ended with DELETE on exit');
    assertHygiene(p);
  });

  test('SSE: progress notifications stream through before the response, one line each', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    const id = 'call-progress';
    const sent = Date.now();
    await p.send({ jsonrpc: '2.0', id, method: 'tools/call',
      params: { name: 'progress', arguments: { steps: 3, delayMs: 300 }, _meta: { progressToken: 'tok-1' } } });
    const resp = await p.response(id);
    assert.deepEqual(resp.result.structuredContent, { done: true, steps: 3 });
    const progress = p.received.filter((x) => x.msg.method === 'notifications/progress');
    assert.deepEqual(progress.map((x) => x.msg.params.progress), [1, 2, 3]);
    assert.ok(progress.every((x) => x.msg.params.progressToken === 'tok-1'));
    // the third event's data spanned two data: lines; it arrives as one line of valid JSON
    assert.equal(progress[2].msg.params.message, 'step 3');
    for (const x of progress) assert.ok(!x.line.includes('\n'));
    // streamed: the first notification arrived well before the response (the server waits
    // 300 ms after each one), not buffered until the end
    const respAt = p.received.find((x) => x.msg.id === id).at;
    assert.ok(respAt - progress[0].at >= 500, `progress streamed (${respAt - progress[0].at} ms early)`);
    assert.ok(progress[0].at - sent < 5000);
    // the priming event, the comment and the non-message event were not forwarded
    assert.ok(!p.received.some((x) => x.msg.ignored), 'an event: ping was forwarded');
    assert.equal(p.received.filter((x) => x.msg.__unparsable).length, 0);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assertHygiene(p);
  });

  test('requests run concurrently; a cancellation reaches the server while a call is in flight', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    await p.send({ jsonrpc: '2.0', id: 70, method: 'tools/call', params: { name: 'slow', arguments: { ms: 20000 } } });
    await until(() => srv.posts.some((r) => r.body?.id === 70), 'the slow call to reach the server');
    // another request is answered while the slow one is still open
    const ping = await p.request('ping', undefined, 5000);
    assert.deepEqual(ping.result, {});
    await p.notify('notifications/cancelled', { requestId: 70, reason: 'user pressed stop' });
    await until(() => srv.cancelledWhileInFlight.includes(70), 'the cancellation to reach the server', 5000);
    const n = srv.notifications.find((x) => x.msg.method === 'notifications/cancelled');
    assert.ok(n.inflight.includes('70'), 'the cancel arrived while tools/call 70 was in flight');
    const list = await p.request('tools/list');
    assert.ok(list.result.tools.length);
    await sleep(300);
    assert.ok(!p.received.some((x) => x.msg.id === 70), 'no answer (not even an error) for a cancelled request');
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assertHygiene(p);
  });

  test('EOF with a request in flight: it is answered, then the proxy exits 0', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    await p.send({ jsonrpc: '2.0', id: 'late', method: 'tools/call', params: { name: 'slow', arguments: { ms: 500 } } });
    await until(() => srv.posts.some((r) => r.body?.id === 'late'), 'the call to reach the server');
    const exit = await p.end();
    assert.deepEqual(exit, { code: 0, signal: null });
    const r = p.received.find((x) => x.msg.id === 'late');
    assert.deepEqual(r?.msg.result?.structuredContent, { slept: true });
  });

  test('piped input: initialize and requests written at once, stdin closed right away', async () => {
    const p = proxy(srv.url);
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'pipe', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', id: 3, method: 'ping' },
    ];
    p.proc.stdin.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    assert.deepEqual(await p.wait(), { code: 0, signal: null });
    const ids = p.received.map((x) => x.msg.id).sort();
    assert.deepEqual(ids, [1, 2, 3]);
    assert.ok(p.received.every((x) => !x.msg.error), JSON.stringify(p.received.map((x) => x.msg)));
  });

  test('SIGTERM with a call in flight: prompt exit 0 and the session is deleted', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    const sid = srv.initializes.at(-1).sid;
    await p.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'slow', arguments: { ms: 20000 } } });
    await until(() => srv.posts.some((r) => r.body?.id === 9 && r.headers['mcp-session-id'] === sid), 'the slow call');
    const t0 = Date.now();
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.wait(10000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000, `exit took ${Date.now() - t0} ms`);
    assert.ok(srv.deleted.some((d) => d.sid === sid));
  });

  test('an oversized line is refused like the in-process stdio transport', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    await p.write(`${'x'.repeat(4 * 1024 * 1024 + 10)}\n`);
    const e = await p.waitFor((m) => m.error?.code === -32600, 'the -32600 error');
    assert.equal(e.msg.error.message, 'Invalid Request: message exceeds the 4 MiB limit');
    assert.equal(e.msg.id, null);
    assert.ok((await p.request('ping')).result);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
  });

  test('a line that is not JSON gets the server\'s parse error (id null)', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    await p.write('{not json\n');
    const e = await p.waitFor((m) => m.error, 'an error');
    assert.equal(e.msg.error.code, -32700);
    assert.equal(e.msg.id, null);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
  });
});

describe('endpoint rule', () => {
  let srv;
  before(async () => { srv = await startFakeServer(); });
  after(() => srv.close());

  for (const [given, posted] of [['', '/mcp'], ['/', '/mcp'], ['/mcp', '/mcp'], ['/mcp/', '/mcp'],
    ['/sse', '/mcp'], ['/tenant/', '/tenant/mcp'], ['/tenant/mcp?x=1', '/tenant/mcp?x=1']]) {
    test(`PLANASONIX_API_URL ending in "${given}" posts to ${posted}`, async () => {
      const before = srv.requests.length;
      const p = proxy(`${srv.url}${given}`);
      await p.initialize();
      assert.deepEqual(await p.end(), { code: 0, signal: null });
      const mine = srv.requests.slice(before);
      assert.ok(mine.length >= 2);
      for (const r of mine) assert.equal(r.path, posted);
    });
  }
});

describe('HTTP failures become JSON-RPC errors', () => {
  let srv;
  before(async () => { srv = await startFakeServer(); });
  after(() => srv.close());

  async function initError(mode, { key = FAKE_KEY } = {}) {
    srv.mode = mode;
    try {
      const p = proxy(srv.url, { key });
      const r = await p.initialize();
      assert.deepEqual(await p.end(), { code: 0, signal: null });
      assertHygiene(p, key);
      return { r, p };
    } finally {
      srv.mode = 'ok';
    }
  }

  test('401 → -32001 "Unauthorized: the API key is invalid or revoked"', async () => {
    const { r } = await initError('401');
    assert.equal(r.id, 1);
    assert.equal(r.error.code, -32001);
    assert.equal(r.error.message, 'Unauthorized: the API key is invalid or revoked');
    assert.match(r.error.data.hint, /key create/);
  });

  test('a wrong key → 401 mapped the same way; the key is not logged', async () => {
    const wrong = 'flx_wrong_key_that_must_never_be_logged_42';
    const { r, p } = await initError('ok', { key: wrong });
    assert.equal(r.error.code, -32001);
    assert.ok(!JSON.stringify(p.received).includes(wrong));
  });

  test('no key → 401 with a hint that PLANASONIX_API_KEY is not set', async () => {
    srv.mode = 'ok';
    const p = new ProxyProc(srv.url, {});
    procs.push(p);
    const r = await p.initialize();
    assert.equal(r.error.code, -32001);
    assert.match(r.error.data.hint, /PLANASONIX_API_KEY is not set/);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assert.match(p.stderrText, /PLANASONIX_API_KEY is not set/);
  });

  test('403 with a JSON-RPC body → the server\'s error (id filled in)', async () => {
    const { r } = await initError('403');
    assert.equal(r.id, 1);
    assert.equal(r.error.code, -32003);
    assert.equal(r.error.message, "Plan 'starter' does not include remote MCP access");
  });

  test('403 without a body → -32003 "Forbidden"', async () => {
    const { r } = await initError('403-plain');
    assert.equal(r.error.code, -32003);
    assert.equal(r.error.message, 'Forbidden');
    assert.equal(r.error.data.http_status, 403);
  });

  test('429 → -32029 with data.retry_after_ms from the body', async () => {
    const { r } = await initError('429');
    assert.equal(r.error.code, -32029);
    assert.equal(r.error.data.retry_after_ms, 6500);
  });

  test('429 with only Retry-After → -32029 with data.retry_after_ms from the header', async () => {
    const { r } = await initError('429-header');
    assert.equal(r.error.code, -32029);
    assert.equal(r.error.data.retry_after_ms, 3000);
    assert.match(r.error.message, /retry in 3/);
  });

  test('500 → -32000 with the status and the server\'s text', async () => {
    const { r } = await initError('500');
    assert.equal(r.error.code, -32000);
    assert.match(r.error.message, /answered HTTP 500: boom: the database is on fire/);
  });

  test('a refusal in the middle of a session (rate limit on tools/call)', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    srv.mode = '429';
    try {
      const r = await p.request('tools/call', { name: 'echo', arguments: {} });
      assert.equal(r.error.code, -32029);
      assert.equal(r.error.data.retry_after_ms, 6500);
    } finally {
      srv.mode = 'ok';
    }
    assert.ok((await p.request('tools/list')).result);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
  });

  test('unreachable server → -32000 "Cannot reach the Planasonix server at <URL>" without user info', async () => {
    const port = await new Promise((resolve) => {
      const s = http.createServer();
      s.listen(0, '127.0.0.1', () => { const { port: pt } = s.address(); s.close(() => resolve(pt)); });
    });
    const p = proxy(`http://someone:hunter2@127.0.0.1:${port}/`);
    const r = await p.initialize();
    assert.equal(r.error.code, -32000);
    assert.ok(r.error.message.startsWith(`Cannot reach the Planasonix server at http://127.0.0.1:${port}/mcp: `), r.error.message);
    assert.match(r.error.data.hint, /PLANASONIX_API_URL/);
    const l = await p.request('tools/list');
    assert.equal(l.error.code, -32000);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assert.ok(!p.stderrText.includes('hunter2') && !JSON.stringify(p.received).includes('hunter2'));
    assertHygiene(p);
  });

  test('a URL that is not http(s) → exit 2 with a message, nothing on stdout', async () => {
    const p = proxy('ftp://example.com/');
    const exit = await p.wait();
    assert.equal(exit.code, 2);
    assert.match(p.stderrText, /must start with http:\/\/ or https:\/\//);
    assert.equal(p.received.length, 0);
  });
});

describe('session expiry', () => {
  let srv;
  before(async () => { srv = await startFakeServer({ mode: 'expire', expireAfter: 2 }); });
  after(() => srv.close());

  test('a 404 on a known session → one transparent re-initialize, then the request is retried', async () => {
    const p = proxy(srv.url);
    await p.initialize();
    assert.ok((await p.request('logging/setLevel', { level: 'warning' })).result);
    assert.ok((await p.request('tools/list')).result); // the session's 2nd request
    const r = await p.request('tools/call', { name: 'echo', arguments: { after: 'expiry' } });
    assert.deepEqual(r.result.structuredContent.echo, { after: 'expiry' });
    assert.equal(r.result.structuredContent.level, 'warning', 'logging/setLevel was replayed');
    assert.equal(srv.initializes.length, 2);
    assert.deepEqual(srv.initializes[1].params, srv.initializes[0].params, 'the same initialize params');
    const newSid = srv.initializes[1].sid;
    const call = srv.posts.filter((x) => x.body?.method === 'tools/call').at(-1);
    assert.equal(call.headers['mcp-session-id'], newSid);
    // only the client's own messages reached stdout
    assert.deepEqual(p.received.map((x) => x.msg.id), [1, 2, 3, 4]);
    assert.deepEqual(await p.end(), { code: 0, signal: null });
    assertHygiene(p);
  });
});

describe('with the official MCP SDK client', () => {
  let srv;
  let sdk;
  before(async () => {
    srv = await startFakeServer();
    const base = path.join(REPO, 'tests/e2e/node_modules/@modelcontextprotocol/sdk/dist/esm/client');
    if (fs.existsSync(base)) {
      sdk = {
        Client: (await import(path.join(base, 'index.js'))).Client,
        StdioClientTransport: (await import(path.join(base, 'stdio.js'))).StdioClientTransport,
      };
    }
  });
  after(() => srv.close());

  test('connect, listTools, callTool with progress', async (t) => {
    if (!sdk) return t.skip('tests/e2e/node_modules is not installed');
    const transport = new sdk.StdioClientTransport({
      command: BIN, args: ['--stdio'], stderr: 'pipe',
      env: { PATH: process.env.PATH, PLANASONIX_API_URL: srv.url, PLANASONIX_API_KEY: FAKE_KEY,
        PLANASONIX_HOME: path.join(HERE, 'never-created'), ASAN_OPTIONS: 'detect_leaks=1' },
    });
    let stderr = '';
    transport.stderr?.on('data', (c) => { stderr += c; });
    const client = new sdk.Client({ name: 'proxy-sdk-test', version: '1.0.0' });
    await client.connect(transport);
    const tools = (await client.listTools()).tools;
    assert.deepEqual(tools.map((x) => x.name), ['echo', 'progress', 'slow']);
    const seen = [];
    const r = await client.callTool({ name: 'progress', arguments: { steps: 2, delayMs: 50 } }, undefined,
      { onprogress: (pr) => seen.push(pr.progress) });
    assert.deepEqual(r.structuredContent, { done: true, steps: 2 });
    assert.deepEqual(seen, [1, 2]);
    await client.close();
    assert.ok(!stderr.includes(FAKE_KEY));
    assert.ok(!fs.existsSync(path.join(HERE, 'never-created')));
  });
});
