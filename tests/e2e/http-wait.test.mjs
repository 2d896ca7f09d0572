// Waiting triggers over HTTP never hold the HTTP threads: with 2 HTTP threads, three
// trigger_pipeline calls with wait_seconds (on Streamable HTTP and legacy SSE) wait on a
// pipeline whose source is an HTTP API that holds its answer back; meanwhile other calls are
// answered. Then the API answers and every waiting call returns its succeeded run.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { HttpWorld, withTimeout } from './http-lib.mjs';

describe('serve: waiting triggers run off the HTTP threads', () => {
  let world;
  let server;
  let api;
  let held = [];
  let release = false;
  let s;
  let legacy;
  let pipeline;

  before(async () => {
    // A records API that answers only once released.
    api = http.createServer((req, res) => {
      const answer = () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]));
      };
      if (release) answer();
      else held.push(answer);
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new HttpWorld('http-wait');
    const org = world.tenant('wait-org');
    // Three runs of one org at once: above the default per-org limit of 2 (fair-runs.test.mjs).
    server = await world.serve({ env: { PLANASONIX_HTTP_THREADS: '2', PLANASONIX_WORKERS: '3', PLANASONIX_ORG_MAX_RUNNING: '3' } });
    s = await world.connectHttp(server, org.key, { kind: 'http' });
    legacy = await world.connectHttp(server, org.key, { kind: 'sse' });
    const src = await s.ok('create_connection', {
      name: 'api', type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${api.address().port}/v1`, timeout_seconds: 60 },
    });
    const dst = await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } });
    pipeline = (await s.ok('create_pipeline', {
      name: 'held', description: 'reads a slow API',
      graph: {
        nodes: [
          { id: 'api', kind: 'source', type: 'http', connection_id: src.connection_id, config: { path: '/items' } },
          { id: 'out', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file: 'items.csv', mode: 'replace' } },
        ],
        edges: [{ from: 'api', to: 'out' }],
      },
    })).pipeline.pipeline_id;
  });

  after(async () => {
    release = true;
    for (const a of held) a();
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  it('three waiting calls do not block a fourth, and all return their runs', { timeout: 120000 }, async () => {
    const waits = [
      s.ok('trigger_pipeline', { pipeline_id: pipeline, wait_seconds: 60 }),
      s.ok('trigger_pipeline', { pipeline_id: pipeline, wait_seconds: 60, idempotency_key: 'second' }),
      legacy.ok('trigger_pipeline', { pipeline_id: pipeline, wait_seconds: 60, idempotency_key: 'third' }),
    ];
    // The API holds every request: while it does, the server still answers other calls.
    for (let i = 0; i < 600 && held.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(held.length, 3, 'the three runs reached the API');
    const list = await withTimeout(s.ok('list_pipelines', {}), 20000, 'list_pipelines while three calls wait');
    assert.equal(list.pipelines.length, 1);
    const h = await withTimeout(legacy.ok('get_run_history', { pipeline_id: pipeline }), 20000, 'history while waiting');
    assert.equal(h.runs.filter((r) => r.status === 'running').length, 3);
    release = true;
    for (const a of held.splice(0)) a();
    const done = await Promise.all(waits);
    for (const d of done) {
      assert.equal(d.waited, true);
      assert.equal(d.run.status, 'succeeded', JSON.stringify(d.run));
      assert.equal(d.run.rows_written, 2);
    }
  });
});
