// A revoked key ends what it holds open, promptly, on every transport (issue 10 item 14): its
// legacy SSE stream and live-call streams end within seconds, its Streamable sessions are gone,
// the result of a call it had running is never delivered, and a stdio server acting as that
// key stops serving. Another key of the same organization is not affected.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  HttpWorld, openSession, openSse, request, rpc, until,
} from './http-lib.mjs';

/** A records API that holds every answer until released. */
async function heldApi() {
  const held = [];
  const api = http.createServer((req, res) => {
    held.push(() => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify([{ id: 1 }]));
    });
  });
  await new Promise((r) => api.listen(0, '127.0.0.1', r));
  return {
    held,
    port: api.address().port,
    release() { for (const h of held.splice(0)) h(); },
    async close() { this.release(); await new Promise((r) => api.close(r)); },
  };
}

async function heldPipeline(s, port, label) {
  const src = await s.ok('create_connection', {
    name: `api-${label}`, type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${port}/v1`, timeout_seconds: 60 },
  });
  const dst = await s.ok('create_connection', { name: `out-${label}`, type: 'jsonl', category: 'destination', params: { path: '.' } });
  return (await s.ok('create_pipeline', {
    name: `held-${label}`, description: 'reads a slow API',
    graph: {
      nodes: [
        { id: 'api', kind: 'source', type: 'http', connection_id: src.connection_id, config: { path: '/items' } },
        { id: 'out', kind: 'destination', type: 'jsonl', connection_id: dst.connection_id, config: { file: `${label}.jsonl`, mode: 'replace' } },
      ],
      edges: [{ from: 'api', to: 'out' }],
    },
  })).pipeline.pipeline_id;
}

describe('revoking a key', () => {
  let world;
  let server;
  let api;
  before(async () => {
    world = new HttpWorld('revoke');
    server = await world.serve();
    api = await heldApi();
  });
  after(async () => {
    await api.close();
    await world.finish();
  });

  test('over HTTP: its SSE stream and live call end within seconds, no result, sessions gone', { timeout: 90000 }, async () => {
    const org = world.tenant('revoke-http');
    const keep = world.key(org.orgId);
    const setup = await world.connectHttp(server, keep.key, { kind: 'http' });
    const pipeline = await heldPipeline(setup, api.port, 'http');

    const sse = await openSse(server, org.key);
    await sse.next('endpoint');
    const other = await openSse(server, keep.key);
    await other.next('endpoint');
    const sess = await openSession(server, org.key);
    // A waiting call answered as a live stream, held by the API.
    const callId = 777;
    let liveText = '';
    let liveEnded = false;
    const ac = new AbortController();
    const live = fetch(server.mcp, {
      method: 'POST',
      signal: ac.signal,
      headers: {
        Authorization: `Bearer ${org.key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sess.session, 'MCP-Protocol-Version': sess.version,
      },
      body: JSON.stringify(rpc('tools/call', { name: 'trigger_pipeline', arguments: { pipeline_id: pipeline, wait_seconds: 60 }, _meta: { progressToken: 'p' } }, callId)),
    }).then(async (res) => {
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          liveText += dec.decode(value, { stream: true });
        }
      } catch { /* ended with an error: that is an end too */ }
      liveEnded = true;
    }).catch(() => { liveEnded = true; });
    await until(() => api.held.length > 0, 'the run to reach the held API', 30000);

    world.cli(['key', 'revoke', org.keyId]);
    await until(() => sse.ended, 'the revoked key\'s GET /sse stream to end', 8000);
    await until(() => liveEnded, 'the revoked key\'s live call stream to end', 8000);
    // Its session is gone, and the key is refused.
    const after1 = await request(server.mcp, { key: org.key, session: sess.session, version: sess.version, body: rpc('ping') });
    assert.equal(after1.status, 401);
    // The run finishes later: its result never reaches the revoked key's client.
    api.release();
    await live;
    assert.ok(!/"id":777,"result"/.test(liveText), `no result delivered: ${liveText}`);
    // The other key of the organization keeps its stream.
    assert.equal(other.ended, false, 'another key\'s stream stays open');
    other.close();
    ac.abort();
    assert.match(server.log(), /ended 1 session\(s\) and 2 stream\(s\) of revoked or expired keys|ended [12] session\(s\) and [12] stream\(s\)/);
  });

  test('over stdio: a server acting as a revoked key stops serving', { timeout: 60000 }, async () => {
    const org = world.tenant('revoke-stdio');
    const raw = world.raw(org.key, { name: 'stdio-revoked' });
    await raw.initialize();
    const ok = await raw.request('tools/call', { name: 'list_pipelines', arguments: {} });
    assert.ok(ok.result, JSON.stringify(ok));
    world.cli(['key', 'revoke', org.keyId]);
    const exit = await Promise.race([
      raw.exited,
      new Promise((r) => setTimeout(() => r('still running'), 8000)),
    ]);
    assert.notEqual(exit, 'still running', 'the stdio server stops within seconds');
    assert.notEqual(exit.code, 0, 'it exits with an error status');
    assert.match(raw.stderr(), /API key was revoked or has expired/);
  });
});
