// Streamable HTTP (/mcp) with the official SDK client (StreamableHTTPClientTransport, bearer key
// in requestInit headers) against `planasonix-mcp serve`: lifecycle, tools/list (the stdio
// golden file), the same tool results as over stdio, progress answered as SSE, concurrent
// requests on one session, and session termination (mcp.md §7.2).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

import {
  HttpWorld, normalize, openSession, request, responseOf, rpc, story, until, withTimeout,
} from './http-lib.mjs';
import { E2E_DIR, LATEST } from './lib.mjs';

const GOLDEN = JSON.parse(fs.readFileSync(path.join(E2E_DIR, 'golden/tools-list.json'), 'utf8'));

describe('Streamable HTTP with the SDK client', () => {
  let world;
  let server;
  let org;

  before(async () => {
    world = new HttpWorld('http-streamable');
    org = world.tenant('streamable-org');
    server = await world.serve();
  });

  after(async () => {
    await world.finish();
  });

  it('lifecycle: initialize negotiates the latest version, gives a session id and serverInfo', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'lifecycle' });
    assert.equal(s.protocolVersion, LATEST);
    assert.equal(s.initResult.serverInfo.name, 'planasonix');
    assert.ok(s.initResult.capabilities.tools, 'tools capability');
    assert.match(s.sessionId, /^[\x21-\x7e]{22,}$/, 'a long session id of visible ASCII');
    const init = s.fetches.find((f) => f.method === 'POST' && String(f.body).includes('"initialize"'));
    assert.equal(init.status, 200);
    assert.equal(init.sessionId, s.sessionId);
    // The SDK opens GET /mcp for a server stream after initialized; we answer 405 (none offered).
    const get = s.fetches.find((f) => f.method === 'GET');
    if (get) assert.equal(await until(() => get.status, 'GET /mcp status'), 405);
    assert.deepEqual(await s.client.ping(), {});
    await s.client.setLoggingLevel('info');
    // Every request after initialize carried the session id (checked server-side: 2xx).
    for (const f of (await s.settledFetches()).filter((x) => x.method === 'POST')) {
      assert.ok([200, 202].includes(f.status), `${f.body}: ${f.status}`);
    }
    await s.close();
  });

  it('tools/list gives the 22 tools of the stdio golden file', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'tools-list' });
    assert.equal(s.tools.length, 22);
    assert.deepEqual(s.tools.map((t) => t.name), GOLDEN.tools.map((t) => t.name));
    assert.deepEqual(JSON.parse(JSON.stringify(s.tools)), GOLDEN.tools, 'SDK view equals the golden file');
    await s.close();
    // Byte for byte, raw.
    const { session, version } = await openSession(server, org.key);
    const r = await request(server.mcp, { key: org.key, session, version, body: rpc('tools/list', {}, 7) });
    assert.equal(r.status, 200);
    assert.deepEqual(responseOf(r), { jsonrpc: '2.0', id: 7, result: GOLDEN });
  });

  it('tool calls give the same results as over stdio', async () => {
    const viaStdio = await (async () => {
      const o = world.tenant('story-stdio');
      const s = await world.connect(o.key, { name: 'story-stdio' });
      try {
        return await story(s);
      } finally {
        await s.close();
      }
    })();
    const o = world.tenant('story-http');
    const s = await world.connectHttp(server, o.key, { name: 'story-http' });
    const viaHttp = await story(s);
    await s.close();
    // Sanity: the story did what it should.
    assert.equal(viaHttp[0].result.isError, undefined, JSON.stringify(viaHttp[0]));
    assert.equal(viaHttp[2].result.isError, true, 'duplicate name refused');
    assert.equal(viaHttp[3].result.structuredContent.pipeline.name, 'orders-daily');
    assert.equal(viaHttp[5].result.isError, undefined, 'get_pipeline');
    assert.equal(viaHttp[4].result.structuredContent.pipelines.length, 1);
    assert.equal(viaHttp[7].error.code, -32602, 'unknown tool');
    assert.deepEqual(normalize(viaHttp), normalize(viaStdio));
    // The secret never comes back.
    assert.ok(!JSON.stringify(viaHttp).includes('story-pw-1'));
  });

  it('progress: a tools/call with onprogress carries a progressToken and is answered as SSE', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'progress' });
    const progress = [];
    const before = s.fetches.length;
    const r = await withTimeout(s.client.callTool({ name: 'list_pipelines', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p),
    }), 30000, 'tools/call with progress');
    assert.equal(r.isError, undefined, JSON.stringify(r));
    assert.ok(Array.isArray(r.structuredContent.pipelines));
    const post = s.fetches.slice(before).find((f) => f.method === 'POST' && String(f.body).includes('tools/call'));
    assert.ok(post, 'the call was POSTed');
    assert.ok(JSON.parse(post.body).params._meta.progressToken !== undefined, 'progressToken sent');
    assert.equal(post.status, 200);
    assert.match(post.contentType, /^text\/event-stream/, 'answered as an SSE stream');
    // No tool emits progress yet; whatever came must be well-formed and increasing.
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
    // And the session goes on normally after the stream closed.
    assert.equal((await s.client.listTools()).tools.length, 22);
    await s.close();
  });

  it('progress, raw: the SSE answer carries the response as a message event', async () => {
    const { session, version } = await openSession(server, org.key);
    const r = await request(server.mcp, {
      key: org.key, session, version,
      body: rpc('tools/call', { name: 'list_connectors', arguments: {}, _meta: { progressToken: 'tok-1' } }, 'p1'),
    });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/event-stream/);
    assert.equal(r.headers.get('mcp-session-id'), session);
    const last = r.messages[r.messages.length - 1];
    assert.equal(last.id, 'p1', 'the response is the last message');
    assert.ok(last.result, JSON.stringify(last));
    for (const m of r.messages.slice(0, -1)) {
      assert.equal(m.method, 'notifications/progress');
      assert.equal(m.params.progressToken, 'tok-1');
    }
  });

  it('a call that emits notifications (logs after logging/setLevel) is answered as SSE, response last', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'logging' });
    const logs = [];
    s.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
    await s.client.setLoggingLevel('debug');
    const n = s.fetches.length;
    const r = await s.client.callTool({ name: 'list_pipelines', arguments: {} });
    assert.equal(r.isError, undefined);
    const post = s.fetches.slice(n).find((f) => f.method === 'POST' && String(f.body).includes('tools/call'));
    assert.match(post.contentType, /^text\/event-stream/, 'answered as SSE because the call logged');
    assert.ok(logs.length >= 1, 'the log notification reached the client');
    assert.ok(logs.some((l) => JSON.stringify(l).includes('list_pipelines')), JSON.stringify(logs));
    // Raw: the notification comes first, the response last.
    const { session, version } = await openSession(server, org.key);
    await request(server.mcp, { key: org.key, session, version, body: rpc('logging/setLevel', { level: 'debug' }) });
    const raw = await request(server.mcp, { key: org.key, session, version, body: rpc('tools/call', { name: 'list_schedules', arguments: {} }, 'L1') });
    assert.match(raw.contentType, /^text\/event-stream/);
    assert.equal(raw.messages[0].method, 'notifications/message');
    assert.equal(raw.messages[raw.messages.length - 1].id, 'L1');
    // Without setLevel: plain JSON.
    const quiet = await openSession(server, org.key);
    const plain = await request(server.mcp, { key: org.key, session: quiet.session, version, body: rpc('tools/call', { name: 'list_schedules', arguments: {} }, 'L2') });
    assert.match(plain.contentType, /^application\/json/);
    assert.equal(plain.json.id, 'L2');
    await s.close();
  });

  it('concurrent requests on one session all succeed', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'concurrent' });
    const calls = [];
    for (let i = 0; i < 6; i++) {
      calls.push(i % 2 ? s.client.listTools() : s.client.callTool({ name: 'list_pipelines', arguments: { limit: 5 } }));
    }
    const results = await withTimeout(Promise.all(calls), 30000, '6 concurrent requests');
    results.forEach((r, i) => {
      if (i % 2) assert.equal(r.tools.length, 22);
      else assert.equal(r.isError, undefined);
    });
    await s.close();
  });

  it('session termination: terminateSession() sends DELETE; the id then gets 404', async () => {
    const s = await world.connectHttp(server, org.key, { name: 'terminate' });
    const sid = s.sessionId;
    await s.transport.terminateSession();
    const del = s.fetches.find((f) => f.method === 'DELETE');
    assert.equal(del.status, 200, 'DELETE /mcp → 200');
    assert.equal(s.transport.sessionId, undefined);
    for (const body of [rpc('tools/list', {}), rpc('ping'), { jsonrpc: '2.0', method: 'notifications/initialized' }]) {
      const r = await request(server.mcp, { key: org.key, session: sid, version: LATEST, body });
      assert.equal(r.status, 404, `${body.method} after DELETE: ${r.status} ${r.text}`);
    }
    const again = await request(server.mcp, { method: 'DELETE', key: org.key, session: sid, version: LATEST });
    assert.equal(again.status, 404, 'a second DELETE');
    // The SDK client, now without a session id, is refused (400) rather than served.
    await assert.rejects(s.client.listTools(), (e) => /400|Session|session/.test(e.message));
    await s.close();
  });

  it('a second initialize on an existing session is refused; a fresh one opens a new session', async () => {
    const a = await openSession(server, org.key);
    const r = await request(server.mcp, {
      key: org.key, session: a.session, body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
    });
    assert.equal(r.status, 400);
    const b = await openSession(server, org.key);
    assert.notEqual(a.session, b.session);
  });

  it('version negotiation: an unknown version gets the latest; 2025-03-26 and 2024-11-05 are kept', async () => {
    for (const [asked, got] of [['1999-01-01', LATEST], ['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'], ['2024-11-05', '2024-11-05']]) {
      const { result } = await openSession(server, org.key, { protocolVersion: asked });
      assert.equal(result.protocolVersion, got, `asked ${asked}`);
    }
  });

  it('raw Streamable HTTP checks of mcp.md §14', async () => {
    const { session, version } = await openSession(server, org.key);
    const base = { key: org.key, session, version };
    let r = await request(server.mcp, { ...base, body: rpc('ping', undefined, 3) });
    assert.equal(r.status, 200);
    assert.deepEqual(responseOf(r), { jsonrpc: '2.0', id: 3, result: {} });
    r = await request(server.mcp, { ...base, body: rpc('no/such/method', {}, 4) });
    assert.equal(r.status, 200);
    assert.equal(responseOf(r).error.code, -32601);
    r = await request(server.mcp, { ...base, body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99, reason: 'test' } } });
    assert.equal(r.status, 202, 'a notification gets 202');
    assert.equal(r.text, '', 'with an empty body');
    r = await request(server.mcp, { ...base, version: '1999-01-01', body: rpc('ping') });
    assert.equal(r.status, 400, 'bad MCP-Protocol-Version');
    r = await request(server.mcp, { key: org.key, session, body: rpc('ping', undefined, 5) });
    assert.equal(r.status, 200, 'absent MCP-Protocol-Version is accepted');
    r = await request(server.mcp, { ...base, body: '{"jsonrpc":' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32700);
    assert.equal(r.json.id, null);
    r = await request(server.mcp, { ...base, method: 'GET', accept: 'text/event-stream' });
    assert.equal(r.status, 405, 'GET /mcp offers no stream');
    r = await request(server.mcp, { ...base, method: 'PUT', body: rpc('ping') });
    assert.equal(r.status, 405);
    r = await request(`${server.base}/nope`, { ...base, method: 'GET' });
    assert.equal(r.status, 404);
    r = await request(`${server.base}/sse`, { ...base, body: initializeLike() });
    assert.ok([404, 405].includes(r.status), `POST /sse → 404/405 (so dual clients fall back): ${r.status}`);
  });
});

function initializeLike() {
  return { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
}
