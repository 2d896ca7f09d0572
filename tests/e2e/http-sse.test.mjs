// Legacy HTTP+SSE (GET /sse + POST /messages?sessionId=…, 2024-11-05) with the official SDK
// SSEClientTransport (bearer key in requestInit headers, which 1.32.2 also sends on the
// EventSource GET) against `planasonix-mcp serve`: lifecycle, tools/list, the same tool
// results as over stdio, progress, the end of the stream ending the session, and the raw
// framing (endpoint event, 202 "Accepted", responses on the stream) of mcp.md §7.3.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

import {
  HttpWorld, initializeMsg, normalize, openSse, request, rpc, story, until, withTimeout,
} from './http-lib.mjs';
import { E2E_DIR, LATEST } from './lib.mjs';

const GOLDEN = JSON.parse(fs.readFileSync(path.join(E2E_DIR, 'golden/tools-list.json'), 'utf8'));

/** POST one message to a legacy session; returns the raw answer. */
function postMessage(server, key, sessionId, body, extra = {}) {
  const url = sessionId === undefined ? `${server.base}/messages` : `${server.base}/messages?sessionId=${encodeURIComponent(sessionId)}`;
  return request(url, { key, body, accept: null, ...extra });
}

describe('legacy HTTP+SSE with the SDK client', () => {
  let world;
  let server;
  let org;

  before(async () => {
    world = new HttpWorld('http-sse');
    org = world.tenant('sse-org');
    server = await world.serve();
  });

  after(async () => {
    await world.finish();
  });

  it('lifecycle: endpoint event, initialize, ping, logging/setLevel', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-lifecycle' });
    assert.equal(s.protocolVersion, LATEST);
    assert.equal(s.initResult.serverInfo.name, 'planasonix');
    assert.match(s.sessionId, /^[\x21-\x7e]{22,}$/);
    const get = s.fetches.find((f) => f.method === 'GET');
    assert.equal(get.status, 200);
    assert.match(get.contentType, /^text\/event-stream/);
    for (const f of (await s.settledFetches()).filter((x) => x.method === 'POST')) {
      assert.equal(f.status, 202, `POST /messages answers 202: ${f.body}`);
      assert.match(f.url, /\/messages\?sessionId=/);
    }
    assert.deepEqual(await s.client.ping(), {});
    await s.client.setLoggingLevel('warning');
    await s.close();
  });

  it('the classic client config (eventSourceInit.fetch for the stream, requestInit for POSTs) works too', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-classic', eventSourceAuth: true });
    assert.equal(s.protocolVersion, LATEST);
    assert.equal((await s.ok('list_pipelines', {})).pipelines.length, 0);
    await s.close();
  });

  it('tools/list gives the 22 tools of the stdio golden file', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-tools' });
    assert.equal(s.tools.length, 22);
    assert.deepEqual(JSON.parse(JSON.stringify(s.tools)), GOLDEN.tools);
    await s.close();
  });

  it('tool calls give the same results as over stdio and Streamable HTTP', async () => {
    const o1 = world.tenant('sse-story-stdio');
    const st = await world.connect(o1.key, { name: 'sse-story-stdio' });
    const viaStdio = await story(st);
    await st.close();
    const o2 = world.tenant('sse-story-sse');
    const s = await world.connectHttp(server, o2.key, { kind: 'sse', name: 'sse-story' });
    const viaSse = await story(s);
    await s.close();
    const o3 = world.tenant('sse-story-http');
    const h = await world.connectHttp(server, o3.key, { name: 'sse-story-http' });
    const viaHttp = await story(h);
    await h.close();
    assert.equal(viaSse[0].result.isError, undefined, JSON.stringify(viaSse[0]));
    assert.equal(viaSse[4].result.structuredContent.pipelines.length, 1);
    assert.deepEqual(normalize(viaSse), normalize(viaStdio), 'sse = stdio');
    assert.deepEqual(normalize(viaHttp), normalize(viaStdio), 'http = stdio');
  });

  it('progress: a tools/call with onprogress works over SSE (token sent, response on the stream)', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-progress' });
    const progress = [];
    const n = s.fetches.length;
    const r = await withTimeout(s.client.callTool({ name: 'list_connectors', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p),
    }), 30000, 'tools/call with progress over SSE');
    assert.equal(r.isError, undefined, JSON.stringify(r));
    const post = (await s.settledFetches()).slice(n).find((f) => f.method === 'POST' && String(f.body).includes('tools/call'));
    assert.ok(JSON.parse(post.body).params._meta.progressToken !== undefined);
    assert.equal(post.status, 202);
    await s.close();
  });

  it('log notifications of a call arrive on the stream before its response', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-logging' });
    const logs = [];
    s.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
    await s.client.setLoggingLevel('debug');
    await s.ok('list_schedules', {});
    const i = s.received.findIndex((m) => m.method === 'notifications/message');
    const j = s.received.findLastIndex((m) => m.result?.structuredContent?.schedules);
    assert.ok(i >= 0 && i < j, 'notification before the response');
    assert.ok(logs.length >= 1);
    await s.close();
  });

  it('closing the client ends the stream, and with it the session (then 404)', async () => {
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'sse-close' });
    const sid = s.sessionId;
    let r = await postMessage(server, org.key, sid, rpc('ping'));
    assert.equal(r.status, 202, 'the session works before');
    await s.close();
    await until(async () => (await postMessage(server, org.key, sid, rpc('ping'))).status === 404,
      'POST to the ended session → 404');
    r = await postMessage(server, org.key, sid, rpc('tools/list', {}));
    assert.equal(r.status, 404);
  });

  it('raw: GET /sse sends the endpoint event; POST answers 202 "Accepted"; responses come on the stream', async () => {
    const st = await openSse(server, org.key);
    try {
      assert.equal(st.status, 200);
      assert.match(st.headers.get('content-type'), /^text\/event-stream/);
      const ep = await st.next();
      assert.equal(ep.event, 'endpoint', 'the first event is endpoint');
      assert.match(ep.data, /^\/messages\?sessionId=[\x21-\x7e]+$/);
      const url = new URL(ep.data, server.base);
      const sid = url.searchParams.get('sessionId');
      let r = await postMessage(server, org.key, sid, initializeMsg('2024-11-05', 1));
      assert.equal(r.status, 202);
      assert.equal(r.text, 'Accepted');
      const init = await st.response(1);
      assert.equal(init.result.protocolVersion, '2024-11-05');
      r = await postMessage(server, org.key, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
      assert.equal(r.status, 202);
      r = await postMessage(server, org.key, sid, rpc('tools/list', {}, 2));
      assert.equal(r.status, 202);
      const list = await st.response(2);
      assert.equal(list.result.tools.length, 22);
      // 2024-11-05 shapes: name, description and inputSchema only.
      for (const t of list.result.tools) assert.deepEqual(Object.keys(t).sort(), ['description', 'inputSchema', 'name']);
      r = await postMessage(server, org.key, sid, rpc('no/such', {}, 3));
      assert.equal(r.status, 202);
      assert.equal((await st.response(3)).error.code, -32601);
      r = await postMessage(server, org.key, sid, '{"jsonrpc":');
      assert.equal(r.status, 400, 'malformed JSON');
      assert.equal(r.json.error.code, -32700);
      // Every data line on the stream is one line of JSON.
      for (const e of st.events.filter((x) => x.event === 'message')) assert.doesNotThrow(() => JSON.parse(e.data));
    } finally {
      st.close();
    }
  });

  it('raw refusals: missing sessionId 400, unknown 404, another key 404, wrong Content-Type 415, GET /messages 405', async () => {
    const other = world.tenant('sse-other-org');
    const sameOrgKey = world.key(org.orgId);
    const st = await openSse(server, org.key);
    try {
      const sid = new URL((await st.next('endpoint')).data, server.base).searchParams.get('sessionId');
      let r = await postMessage(server, org.key, undefined, rpc('ping'));
      assert.equal(r.status, 400, 'no sessionId');
      r = await postMessage(server, org.key, 'nope', rpc('ping'));
      assert.equal(r.status, 404, 'unknown sessionId');
      r = await postMessage(server, other.key, sid, rpc('ping'));
      assert.equal(r.status, 404, "another org's key");
      r = await postMessage(server, sameOrgKey.key, sid, rpc('ping'));
      assert.equal(r.status, 404, 'another key of the same org');
      r = await postMessage(server, org.key, sid, 'ping', { contentType: 'text/plain' });
      assert.equal(r.status, 415);
      r = await request(`${server.base}/messages?sessionId=${sid}`, { method: 'GET', key: org.key });
      assert.equal(r.status, 405);
      r = await postMessage(server, org.key, sid, rpc('ping', undefined, 9));
      assert.equal(r.status, 202, 'the session is unharmed');
      assert.deepEqual((await st.response(9)).result, {});
    } finally {
      st.close();
    }
    const wrongAccept = await request(`${server.base}/sse`, { method: 'GET', key: org.key, accept: 'application/json' });
    assert.equal(wrongAccept.status, 406, 'GET /sse with Accept: application/json');
  });
});
