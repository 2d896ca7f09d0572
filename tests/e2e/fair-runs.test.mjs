// Fair run scheduling across organizations (issue 10 item 9). `serve` with 3 workers and the
// default per-organization limit (PLANASONIX_ORG_MAX_RUNNING=2): org A queues 4 slow runs (of 4 pipelines)
// (their source, a local HTTP API, holds its answers back), then org B queues one. B's run
// starts while A's queue has not drained (A runs 2, queues 2), where FIFO claiming gave all 3
// workers to A. Then the API answers and every run succeeds.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { HttpWorld, until } from './http-lib.mjs';

describe('runs are scheduled fairly across organizations', () => {
  let world;
  let api;
  const held = [];
  let release = false;

  before(async () => {
    api = http.createServer((req, res) => {
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify([{ id: 1, v: 'a' }]));
      };
      if (release) answer();
      else held.push(answer);
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new HttpWorld('fair-runs');
  });

  after(async () => {
    release = true;
    for (const a of held.splice(0)) a();
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  async function heldPipeline(s, name) {
    const src = await s.ok('create_connection', {
      name: `${name}-api`, type: 'http', category: 'source',
      params: { base_url: `http://127.0.0.1:${api.address().port}/v1`, timeout_seconds: 120 },
    });
    const dst = await s.ok('create_connection', { name: `${name}-out`, type: 'csv', category: 'destination', params: { path: '.' } });
    return (await s.ok('create_pipeline', {
      name, description: 'reads a held API',
      graph: {
        nodes: [
          { id: 'api', kind: 'source', type: 'http', connection_id: src.connection_id, config: { path: '/items' } },
          { id: 'out', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file: `${name}.csv`, mode: 'append' } },
        ],
        edges: [{ from: 'api', to: 'out' }],
      },
    })).pipeline.pipeline_id;
  }

  const count = (runs, status) => runs.filter((r) => r.status === status).length;

  it("org B's run starts before org A's queue of slow runs drains", { timeout: 120000 }, async () => {
    const orgA = world.tenant('fair-a');
    const orgB = world.tenant('fair-b');
    const server = await world.serve({ env: { PLANASONIX_SCHEDULER: 'off', PLANASONIX_WORKERS: '3' } });
    const a = await world.connectHttp(server, orgA.key, { kind: 'http' });
    const b = await world.connectHttp(server, orgB.key, { kind: 'http' });
    // Four pipelines for A, not four runs of one: runs appending to the same file take turns
    // on its lock (issue 10 item 13), which would hold A's second run before its source.
    const pas = [];
    for (let i = 0; i < 4; i++) pas.push(await heldPipeline(a, `slow-a${i}`));
    const pb = await heldPipeline(b, 'slow-b');
    for (const pa of pas) await a.ok('trigger_pipeline', { pipeline_id: pa });
    // A's first two runs reach the API before B queues anything.
    await until(() => held.length >= 2, "A's first runs to reach the API", 20000);
    const { run: runB } = await b.ok('trigger_pipeline', { pipeline_id: pb });

    await until(() => held.length >= 3, 'a third run to reach the API', 20000);
    await new Promise((r) => setTimeout(r, 1500)); // time for a wrong claim to show
    const hb = (await b.ok('get_run_history', { pipeline_id: pb })).runs;
    assert.equal(hb[0].run_id, runB.run_id);
    assert.equal(hb[0].status, 'running', `B's run: ${JSON.stringify(hb[0])}`);
    const historyA = async () => (await Promise.all(pas.map((pa) => a.ok('get_run_history', { pipeline_id: pa })))).flatMap((h) => h.runs);
    const ha = await historyA();
    assert.equal(count(ha, 'running'), 2, `A runs at most 2 at once: ${JSON.stringify(ha.map((r) => r.status))}`);
    assert.equal(count(ha, 'queued'), 2, 'and its other 2 wait');
    assert.equal(held.length, 3, 'three runs at the API, one of them B\'s');

    release = true;
    for (const f of held.splice(0)) f();
    const done = await until(async () => {
      const runs = await historyA();
      return count(runs, 'succeeded') === 4 && runs;
    }, "all of A's runs to succeed", 60000);
    assert.equal(done.length, 4);
    const endB = (await b.ok('get_run_history', { pipeline_id: pb })).runs[0];
    assert.equal(endB.status, 'succeeded', JSON.stringify(endB));
  });
});
