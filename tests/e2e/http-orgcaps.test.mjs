// Per-organization caps in serve (issue 10 item 9, the sessions part): one organization that
// opens sessions, SSE streams or waiting calls up to its cap gets 429 naming the cap and its
// setting, while another organization still initializes, streams and calls.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  HttpWorld, initializeMsg, openSession, openSse, request, rpc, until,
} from './http-lib.mjs';

describe('per-organization caps on sessions, streams and calls', () => {
  let world;
  let server;
  let a;
  let b;
  let c;
  let d;
  before(async () => {
    world = new HttpWorld('orgcaps');
    a = world.tenant('caps-a');
    b = world.tenant('caps-b');
    c = world.tenant('caps-c');
    d = world.tenant('caps-d');
    server = await world.serve({
      env: { PLANASONIX_ORG_MAX_SESSIONS: '4', PLANASONIX_ORG_MAX_STREAMS: '2', PLANASONIX_ORG_MAX_CALLS: '1' },
    });
  });
  after(async () => { await world.finish(); });

  test('sessions: org A at its cap gets 429; org B still initializes', async () => {
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push(await openSession(server, a.key));
    const refused = await request(server.mcp, { key: a.key, body: initializeMsg() });
    assert.equal(refused.status, 429, refused.text);
    assert.ok(refused.headers.get('retry-after'), 'Retry-After');
    assert.equal(refused.headers.get('mcp-session-id'), null, 'no session was made');
    assert.equal(refused.json.error.data.code, 'org_limit');
    assert.match(refused.json.error.message, /already has 4 open sessions/);
    assert.match(refused.json.error.data.hint, /DELETE \/mcp.*PLANASONIX_ORG_MAX_SESSIONS/);
    // Another key of the same organization is the same organization.
    const a2 = world.key(a.orgId);
    assert.equal((await request(server.mcp, { key: a2.key, body: initializeMsg() })).status, 429);
    // Org B is not affected.
    const theirs = await openSession(server, b.key);
    const ping = await request(server.mcp, { key: b.key, session: theirs.session, version: theirs.version, body: rpc('ping') });
    assert.equal(ping.status, 200);
    // Ending one session frees its slot.
    const del = await request(server.mcp, { method: 'DELETE', key: a.key, session: mine[0].session, version: mine[0].version, body: undefined });
    assert.equal(del.status, 200);
    await openSession(server, a.key);
    await world.auditWait(`org_id = '${a.orgId}' AND error_code = 'org_limit'`, 2);
  });

  test('streams: org C at its SSE stream cap gets 429; org B still opens one', async () => {
    const s1 = await openSse(server, c.key);
    const s2 = await openSse(server, c.key);
    assert.equal(s1.status, 200);
    assert.equal(s2.status, 200);
    const s3 = await openSse(server, c.key);
    assert.equal(s3.status, 429, s3.text);
    assert.match(s3.text, /already has 2 open SSE streams/);
    assert.match(s3.text, /PLANASONIX_ORG_MAX_STREAMS/);
    // A live call answered as a stream counts too.
    const sess = await openSession(server, c.key);
    const live = await request(server.mcp, {
      key: c.key, session: sess.session, version: sess.version,
      body: rpc('tools/call', { name: 'list_pipelines', arguments: {}, _meta: { progressToken: 1 } }),
    });
    assert.equal(live.status, 429, live.text);
    const other = await openSse(server, b.key);
    assert.equal(other.status, 200);
    await other.next('endpoint');
    other.close();
    s1.close();
    s2.close();
  });

  test('calls: a waiting call of org D holds its one call slot; org B still calls', { timeout: 90000 }, async () => {
    // A records API that holds its answer until released: the run (and the call waiting on
    // it) lasts until then.
    const held = [];
    const api = http.createServer((req, res) => {
      held.push(() => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify([{ id: 1 }]));
      });
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    try {
      const s = await world.connectHttp(server, d.key, { kind: 'http' });
      const src = await s.ok('create_connection', {
        name: 'api', type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${api.address().port}/v1`, timeout_seconds: 60 },
      });
      const dst = await s.ok('create_connection', { name: 'out', type: 'jsonl', category: 'destination', params: { path: '.' } });
      const pipeline = (await s.ok('create_pipeline', {
        name: 'held', description: 'reads a slow API',
        graph: {
          nodes: [
            { id: 'api', kind: 'source', type: 'http', connection_id: src.connection_id, config: { path: '/items' } },
            { id: 'out', kind: 'destination', type: 'jsonl', connection_id: dst.connection_id, config: { file: 'items.jsonl', mode: 'replace' } },
          ],
          edges: [{ from: 'api', to: 'out' }],
        },
      })).pipeline.pipeline_id;
      const sess = await openSession(server, d.key);
      const waitMsg = () => rpc('tools/call', { name: 'trigger_pipeline', arguments: { pipeline_id: pipeline, wait_seconds: 60 } });
      const first = request(server.mcp, { key: d.key, session: sess.session, version: sess.version, body: waitMsg() });
      await until(() => held.length > 0, 'the run to reach the held API', 30000);
      const second = await request(server.mcp, { key: d.key, session: sess.session, version: sess.version, body: waitMsg() });
      assert.equal(second.status, 429, second.text);
      assert.match(second.json.error.message, /already has 1 calls running on job threads/);
      assert.match(second.json.error.data.hint, /PLANASONIX_ORG_MAX_CALLS/);
      // Org B is not held up by org D's call.
      const mine = await openSession(server, b.key);
      const live = await request(server.mcp, {
        key: b.key, session: mine.session, version: mine.version,
        body: rpc('tools/call', { name: 'list_pipelines', arguments: {}, _meta: { progressToken: 'a' } }),
      });
      assert.equal(live.status, 200, live.text);
      for (const h of held.splice(0)) h();
      const done = await first;
      assert.equal(done.status, 200, done.text);
      // The slot is back once the call returned.
      const again = await request(server.mcp, {
        key: d.key, session: sess.session, version: sess.version,
        body: rpc('tools/call', { name: 'list_pipelines', arguments: {}, _meta: { progressToken: 'b' } }),
      });
      assert.equal(again.status, 200, again.text);
    } finally {
      for (const h of held.splice(0)) h();
      await new Promise((r) => api.close(r));
    }
  });

  test('a bad cap setting stops serve with a clear error', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('./lib.mjs');
    const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0'], { env: world.env({ PLANASONIX_ORG_MAX_CALLS: 'many' }), encoding: 'utf8', timeout: 20000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /PLANASONIX_ORG_MAX_CALLS is 'many'/);
  });
});
