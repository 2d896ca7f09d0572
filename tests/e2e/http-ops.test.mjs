// Operations around `planasonix-mcp serve`: /healthz (no auth), Prometheus /metrics with tool
// counters after calls, the audit trail (transport http and sse, successes and refusals), many
// clients at once, and graceful shutdown on SIGTERM (streams end, exit 0, audit flushed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  HttpWorld, hasSqlite3, initializeMsg, openSession, openSse, rawHttp, request, responseOf, rpc, until, withTimeout,
} from './http-lib.mjs';
import { LATEST } from './lib.mjs';

/** The value of one Prometheus sample (labels in any order), or undefined. */
function sample(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

describe('serve: health, metrics, audit, shutdown', () => {
  let world;
  let server;
  let org;

  before(async () => {
    world = new HttpWorld('http-ops');
    org = world.tenant('ops-org');
    server = await world.serve();
  });

  after(async () => {
    await world.finish();
  });

  it('/healthz answers 200 without a key and reports the store', async () => {
    const r = await request(`${server.base}/healthz`, { method: 'GET', accept: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok', store: 'ok' });
    const post = await request(`${server.base}/healthz`, { body: {} });
    assert.equal(post.status, 405);
    // Probes use other host names: no Host/Origin check on /healthz and /metrics.
    const probe = await rawHttp(server.port, { path: '/healthz', headers: { Host: 'pod-1.internal:8080', Origin: 'http://evil.example.com' } });
    assert.equal(probe.status, 200);
    const scrape = await rawHttp(server.port, { path: '/metrics', headers: { Host: 'prometheus.internal' } });
    assert.equal(scrape.status, 200);
  });

  it('/metrics has tool call counters and latencies after calls over both transports', async () => {
    const h = await world.connectHttp(server, org.key, { name: 'metrics-http' });
    await h.ok('list_pipelines', {});
    await h.ok('list_pipelines', { limit: 3 });
    await h.fail('get_pipeline', { pipeline_id: 'pl_0000000000000000000000' });
    const s = await world.connectHttp(server, org.key, { kind: 'sse', name: 'metrics-sse' });
    await s.ok('list_connectors', {});
    const r = await request(`${server.base}/metrics`, { method: 'GET', accept: null });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/plain/);
    const m = r.text;
    assert.match(m, /^# TYPE planasonix_tool_calls_total counter$/m);
    assert.ok(sample(m, 'planasonix_tool_calls_total', { tool: 'list_pipelines', outcome: 'ok' }) >= 2, m);
    assert.ok(sample(m, 'planasonix_tool_calls_total', { tool: 'list_connectors', outcome: 'ok' }) >= 1);
    const notFound = m.split('\n').filter((l) => l.startsWith('planasonix_tool_calls_total{') && l.includes('get_pipeline') && !l.includes('outcome="ok"'));
    assert.ok(notFound.length >= 1, 'a failed call is counted with its outcome');
    assert.ok(sample(m, 'planasonix_tool_duration_seconds_count', { tool: 'list_pipelines' }) >= 2);
    assert.ok(sample(m, 'planasonix_tool_duration_seconds_bucket', { tool: 'list_pipelines', le: '+Inf' }) >= 2);
    assert.ok(sample(m, 'planasonix_http_requests_total', { path: '/mcp', method: 'POST', status: '200' }) >= 3);
    assert.ok(sample(m, 'planasonix_http_requests_total', { path: '/messages', method: 'POST', status: '202' }) >= 1);
    assert.equal(sample(m, 'planasonix_sessions', { transport: 'sse' }) >= 1, true, 'an open SSE session');
    assert.ok(!m.includes(org.key), 'no key in metrics');
    await h.close();
    await s.close();
  });

  it('the audit trail has rows for both transports, successes and refusals', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, async () => {
    // One of each: a call over Streamable HTTP, one over SSE, refusals on both.
    const { session } = await openSession(server, org.key);
    const c = await request(server.mcp, { key: org.key, session, version: LATEST, body: rpc('tools/call', { name: 'list_schedules', arguments: {} }) });
    assert.equal(c.status, 200);
    const st = await openSse(server, org.key);
    const sid = new URL((await st.next('endpoint')).data, server.base).searchParams.get('sessionId');
    await request(`${server.base}/messages?sessionId=${sid}`, { key: org.key, accept: null, body: initializeMsg(LATEST, 1) });
    assert.ok((await st.response(1)).result, 'initialize over SSE');
    await request(`${server.base}/messages?sessionId=${sid}`, { key: org.key, accept: null, body: rpc('tools/call', { name: 'list_connection_types', arguments: {} }, 2) });
    assert.ok((await st.response(2)).result, 'list_connection_types over SSE');
    st.close();
    assert.equal((await request(server.mcp, { body: initializeMsg() })).status, 401);
    assert.equal((await request(`${server.base}/sse`, { method: 'GET', accept: 'text/event-stream' })).status, 401);
    assert.equal((await request(`${server.base}/messages?sessionId=gone`, { key: org.key, body: rpc('ping') })).status, 404);

    const httpCall = await world.auditWait(`transport = 'http' AND tool = 'list_schedules' AND outcome = 'ok' AND org_id = '${org.orgId}'`);
    assert.equal(httpCall[0].method, 'tools/call');
    assert.ok(httpCall[0].key_id === org.keyId);
    const sseCall = await world.auditWait(`transport = 'sse' AND tool = 'list_connection_types' AND outcome = 'ok' AND org_id = '${org.orgId}'`);
    assert.equal(sseCall[0].method, 'tools/call');
    await world.auditWait("transport = 'http' AND outcome = 'denied' AND error_code = 'unauthorized'");
    await world.auditWait("transport = 'sse' AND outcome = 'denied' AND error_code = 'unauthorized'");
    await world.auditWait(`transport = 'sse' AND outcome = 'denied' AND error_code = 'not_found' AND org_id = '${org.orgId}'`);
    // No key material in the audit trail.
    for (const r of world.audit()) assert.ok(!JSON.stringify(r).includes(org.key));
  });

  it('requests for an unknown tool or method, or with bad params, are audited too', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, async () => {
    // "One row per request (ping excepted), refusals included" (ARCHITECTURE.md, Audit); issue 3:
    // "Every request, refused ones included, is in the audit trail with its transport".
    const o = world.tenant('ops-audit-all');
    const { session, version } = await openSession(server, o.key);
    const sent = [
      rpc('tools/call', { name: 'no_such_tool', arguments: {} }),
      rpc('no/such/method', {}),
      rpc('tools/call', { name: 'list_pipelines', arguments: 5 }),
    ];
    for (const body of sent) {
      const r = await request(server.mcp, { key: o.key, session, version, body });
      assert.equal(r.status, 200);
      assert.ok(responseOf(r).error, `${body.method}: a JSON-RPC error`);
    }
    // initialize + the three above.
    const rows = await world.auditWait(`org_id = '${o.orgId}' AND transport = 'http'`, 4, 4000).catch((e) => e);
    assert.ok(!(rows instanceof Error), `every request has an audit row: ${rows.message}`);
  });

  it('many clients at once over both transports', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => world.connectHttp(server, org.key, { kind: i % 2 ? 'sse' : 'http', name: `many-${i}` })));
    const results = await withTimeout(Promise.all(clients.map((c) => c.ok('list_pipelines', {}))), 30000, '8 clients calling');
    for (const r of results) assert.ok(Array.isArray(r.pipelines));
    await Promise.all(clients.map((c) => c.close()));
  });

  it('SIGTERM: open streams end, the server exits 0, and its audit rows are on disk', async () => {
    const w2 = new HttpWorld('http-shutdown');
    try {
      const o = w2.tenant('shutdown-org');
      const srv = await w2.serve({ name: 'serve-shutdown' });
      const st = await openSse(srv, o.key);
      await st.next('endpoint');
      const { session } = await openSession(srv, o.key);
      const r = await request(srv.mcp, { key: o.key, session, version: LATEST, body: rpc('tools/call', { name: 'list_pipelines', arguments: {} }, 1) });
      assert.equal(responseOf(r).result.isError, undefined);
      const exit = await srv.stop(); // SIGTERM; asserts exit 0 and no sanitizer report
      assert.deepEqual(exit, { code: 0, signal: null });
      await until(() => st.ended, 'the SSE stream to end at shutdown', 5000);
      if (hasSqlite3) {
        const rows = w2.audit(`org_id = '${o.orgId}' AND tool = 'list_pipelines'`);
        assert.equal(rows.length, 1, 'the audit queue was flushed at exit');
      }
      await assert.rejects(fetch(`${srv.base}/healthz`), 'nothing listens any more');
    } finally {
      await w2.finish();
    }
  });
});
