// trigger_pipeline with wait_seconds keeps a client with a short request timeout alive
// (issue 10 item 15): while it waits it sends notifications/progress at a steady interval
// (rows so far, the node the run is at), so the SDK's resetTimeoutOnProgress keeps extending
// the request. The pipeline reads a local HTTP API whose second page takes longer than the
// client's request timeout; the call succeeds over stdio and over Streamable HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

import { HttpWorld } from './http-lib.mjs';

const SLOW_MS = 9000; // the second page's delay
const TIMEOUT_MS = 4000;
// A lease of 3 s: the heartbeat, which also writes progress an executor held back, runs every
// second.
const ENV = { PLANASONIX_SCHEDULER: 'off', PLANASONIX_RUN_LEASE_MS: '3000' };
const PAGE1 = 5000; // more than one batch: rows flow before the second page is asked for // the client's request timeout, well below SLOW_MS

describe('trigger_pipeline wait_seconds sends progress while it waits', () => {
  let world;
  let api;
  let org;

  before(async () => {
    // page 1: PAGE1 records at once; page 2: nothing, after SLOW_MS (the end of the data).
    api = http.createServer((req, res) => {
      const page = new URL(req.url, 'http://x').searchParams.get('page');
      const answer = (body) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (page === '1') answer(Array.from({ length: PAGE1 }, (_, i) => ({ id: i + 1, v: `v${i}` })));
      else setTimeout(() => answer([]), SLOW_MS);
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new HttpWorld('wait-progress');
    org = world.tenant('progress-org');
  });

  after(async () => {
    api.closeAllConnections?.();
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  async function slowPipeline(s, name) {
    const src = await s.ok('create_connection', {
      name: `${name}-api`, type: 'http', category: 'source',
      params: { base_url: `http://127.0.0.1:${api.address().port}/v1`, timeout_seconds: 60 },
    });
    const dst = await s.ok('create_connection', { name: `${name}-out`, type: 'csv', category: 'destination', params: { path: '.' } });
    return (await s.ok('create_pipeline', {
      name, description: 'reads a slow API',
      graph: {
        nodes: [
          { id: 'api', kind: 'source', type: 'http', connection_id: src.connection_id, config: { path: '/items', pagination: { type: 'page' } } },
          { id: 'out', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file: `${name}.csv`, mode: 'replace' } },
        ],
        edges: [{ from: 'api', to: 'out' }],
      },
    })).pipeline.pipeline_id;
  }

  async function waitWithShortTimeout(s, pipeline) {
    const progress = [];
    const r = await s.client.request(
      { method: 'tools/call', params: { name: 'trigger_pipeline', arguments: { pipeline_id: pipeline, wait_seconds: 60 } } },
      CallToolResultSchema,
      { timeout: TIMEOUT_MS, resetTimeoutOnProgress: true, maxTotalTimeout: 60000, onprogress: (p) => progress.push(p) },
    );
    assert.ok(!r.isError, r.content?.[0]?.text);
    const { run, waited } = r.structuredContent;
    assert.equal(waited, true);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.rows_written, PAGE1);
    // Steady: several notifications while the second page was held back, each one larger.
    if (process.env.PX_DEBUG) console.error(JSON.stringify(progress));
    assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, JSON.stringify(progress));
    // They say where the run is: the node it is at, and the rows so far.
    assert.ok(progress.some((p) => /node 'api'/.test(p.message)), JSON.stringify(progress));
    assert.ok(progress.every((p) => /\d+ rows read, \d+ written/.test(p.message)), JSON.stringify(progress));
    assert.ok(progress.some((p) => /[1-9]\d* rows read, [1-9]\d* written/.test(p.message)), JSON.stringify(progress));
    assert.ok(progress.every((p) => p.total === 60), JSON.stringify(progress));
  }

  it('over stdio, with a request timeout shorter than the run', { timeout: 90000 }, async () => {
    const s = await world.connect(org.key, { name: 'stdio', env: ENV });
    await waitWithShortTimeout(s, await slowPipeline(s, 'slow-stdio'));
    assert.equal(await s.close(), 0);
  });

  it('over Streamable HTTP, with a request timeout shorter than the run', { timeout: 90000 }, async () => {
    const server = await world.serve({ env: ENV });
    const s = await world.connectHttp(server, org.key, { kind: 'http' });
    await waitWithShortTimeout(s, await slowPipeline(s, 'slow-http'));
  });
});
