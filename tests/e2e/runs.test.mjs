// Runs through MCP: a CSV → filter → CSV pipeline really runs (trigger with wait_seconds), its
// output file holds the filtered rows, get_run_history and get_pipeline_health report it,
// an idempotency_key replays the same run, and a run whose source file is missing fails with a
// sanitized error naming the node. The server's files root is a temporary directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const INPUT = [
  'order_id,amount,status',
  '1,50,paid',
  '2,150,paid',
  '3,250,refunded',
  '4,99,paid',
  '5,1000,paid',
  '',
].join('\n');

function graph(src, dst, file = 'orders.csv') {
  return {
    nodes: [
      { id: 'orders', kind: 'source', type: 'csv', connection_id: src, config: { file } },
      { id: 'big', kind: 'transform', type: 'filter', config: { condition: 'amount > 100' } },
      { id: 'load', kind: 'destination', type: 'csv', connection_id: dst, config: { file: 'big.csv', mode: 'replace' } },
    ],
    edges: [
      { from: 'orders', to: 'big' },
      { from: 'big', to: 'load' },
    ],
  };
}

describe('runs: trigger, history, health', () => {
  let world;
  let s;
  let filesRoot;
  const ids = {};

  before(async () => {
    world = new World('runs');
    const org = world.tenant('runs-org');
    // The organization's files directory: PLANASONIX_FILES_ROOT/<org_id>.
    filesRoot = path.join(world.root, 'files', org.orgId);
    fs.mkdirSync(path.join(filesRoot, 'in'), { recursive: true });
    fs.mkdirSync(path.join(filesRoot, 'out'), { recursive: true });
    fs.writeFileSync(path.join(filesRoot, 'in', 'orders.csv'), INPUT);
    s = await world.connect(org.key, { name: 'runs', env: { PLANASONIX_FILES_ROOT: path.dirname(filesRoot), PLANASONIX_WORKERS: '2' } });
    const src = await s.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: 'in' } });
    const dst = await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: 'out' } });
    ids.src = src.connection_id;
    ids.dst = dst.connection_id;
    ids.p = (await s.ok('create_pipeline', { name: 'big orders', description: 'orders over 100', graph: graph(ids.src, ids.dst) })).pipeline.pipeline_id;
    ids.bad = (await s.ok('create_pipeline', { name: 'missing input', description: 'source file missing', graph: graph(ids.src, ids.dst, 'nope.csv') })).pipeline.pipeline_id;
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('trigger_pipeline with wait_seconds runs the pipeline to success', async () => {
    const r = await s.ok('trigger_pipeline', { pipeline_id: ids.p, wait_seconds: 30 });
    assert.equal(r.waited, true);
    assert.equal(r.replayed, false);
    const run = r.run;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.match(run.run_id, /^run_[0-9A-Za-z]{22}$/);
    assert.equal(run.pipeline_id, ids.p);
    assert.equal(run.revision, 1);
    assert.equal(run.trigger.type, 'manual');
    assert.equal(run.attempt, 1);
    assert.equal(run.rows_read, 5);
    assert.equal(run.rows_written, 3);
    assert.equal(run.error, null);
    for (const k of ['queued_at', 'started_at', 'finished_at']) assert.match(run[k], RFC3339);
    assert.ok(Number.isInteger(run.duration_ms) && run.duration_ms >= 0);
    assert.deepEqual(run.nodes.map((n) => n.node_id).sort(), ['big', 'load', 'orders']);
    const out = fs.readFileSync(path.join(filesRoot, 'out', 'big.csv'), 'utf8').trim().split(/\r?\n/);
    assert.equal(out.length, 4, out.join('\n'));
    assert.deepEqual(out.slice(1).map((l) => l.split(',')[0]).sort(), ['2', '3', '5']);
    ids.run1 = run.run_id;
  });

  it('trigger_pipeline without wait returns the queued run at once; idempotency_key replays it', async () => {
    const a = await s.ok('trigger_pipeline', { pipeline_id: ids.p, idempotency_key: 'nightly-1' });
    assert.ok(['queued', 'running', 'succeeded'].includes(a.run.status));
    assert.equal(a.replayed, false);
    assert.equal(a.waited, undefined);
    const b = await s.ok('trigger_pipeline', { pipeline_id: ids.p, idempotency_key: 'nightly-1', wait_seconds: 30 });
    assert.equal(b.replayed, true);
    assert.equal(b.run.run_id, a.run.run_id);
    assert.equal(b.run.status, 'succeeded');
    ids.run2 = a.run.run_id;
  });

  it('a run whose source file is missing fails with a sanitized error naming the node', async () => {
    const r = await s.ok('trigger_pipeline', { pipeline_id: ids.bad, wait_seconds: 30 });
    const run = r.run;
    assert.equal(run.status, 'failed');
    assert.equal(run.error.node_id, 'orders');
    assert.equal(typeof run.error.code, 'string');
    assert.equal(typeof run.error.retryable, 'boolean');
    assert.ok(run.error.message.length > 0 && run.error.message.length <= 500);
    assert.ok(!run.error.message.includes(filesRoot), `no server paths in the error: ${run.error.message}`);
    assert.equal(run.rows_written, 0);
  });

  it('get_run_history lists runs newest first, pages and filters', async () => {
    const h = await s.ok('get_run_history', { pipeline_id: ids.p });
    assert.equal(h.pipeline_id, ids.p);
    assert.deepEqual(h.runs.map((r) => r.run_id), [ids.run2, ids.run1]);
    assert.equal(h.next_cursor, null);
    const p1 = await s.ok('get_run_history', { pipeline_id: ids.p, limit: 1 });
    assert.deepEqual(p1.runs.map((r) => r.run_id), [ids.run2]);
    const p2 = await s.ok('get_run_history', { pipeline_id: ids.p, limit: 1, cursor: p1.next_cursor });
    assert.deepEqual(p2.runs.map((r) => r.run_id), [ids.run1]);
    assert.equal(p2.next_cursor, null);
    const failed = await s.ok('get_run_history', { pipeline_id: ids.bad, status: 'failed' });
    assert.equal(failed.runs.length, 1);
    assert.equal((await s.ok('get_run_history', { pipeline_id: ids.p, status: 'failed' })).runs.length, 0);
  });

  it('get_pipeline_health and the pipeline views reflect the runs', async () => {
    const h = await s.ok('get_pipeline_health', { pipeline_id: ids.p });
    assert.equal(h.window, '7d');
    assert.deepEqual(h.runs, { total: 2, succeeded: 2, failed: 0, other: 0 });
    assert.equal(h.error_rate, 0);
    assert.equal(h.rows_processed, 6);
    assert.match(h.last_success_at, RFC3339);
    assert.ok(h.freshness_lag_seconds >= 0);
    assert.ok(Number.isInteger(h.duration_ms.p50) && h.duration_ms.p95 >= h.duration_ms.p50);
    assert.equal(h.sla.status, 'unknown');
    assert.ok(h.sla.reasons.length > 0);
    const bad = await s.ok('get_pipeline_health', { pipeline_id: ids.bad, window: '24h' });
    assert.equal(bad.error_rate, 1);
    assert.equal(bad.last_success_at, null);

    const p = await s.ok('get_pipeline', { pipeline_id: ids.p });
    assert.equal(p.last_run.run_id, ids.run2);
    assert.equal(p.last_run.status, 'succeeded');
    const list = await s.ok('list_pipelines', {});
    const row = list.pipelines.find((x) => x.pipeline_id === ids.bad);
    assert.equal(row.last_run.status, 'failed');
    assert.equal(list.pipelines.find((x) => x.pipeline_id === ids.p).last_run.run_id, ids.run2, 'the later of two runs');
    assert.equal(p.health, 'ok');
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.bad })).health, 'error');
  });

  it('a freshness SLA set with update_pipeline is what health measures against', async () => {
    const u = await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'fresh within 26 hours', freshness_sla_minutes: 1560 });
    assert.equal(u.pipeline.freshness_sla_minutes, 1560);
    assert.equal(u.pipeline.revision, 1, 'an SLA change makes no new revision');
    const h = await s.ok('get_pipeline_health', { pipeline_id: ids.p });
    assert.equal(h.sla.status, 'met', JSON.stringify(h.sla));
    await s.ok('update_pipeline', { pipeline_id: ids.bad, description: 'hourly', freshness_sla_minutes: 60 });
    const bad = await s.ok('get_pipeline_health', { pipeline_id: ids.bad });
    assert.equal(bad.sla.status, 'breached');
    assert.match(bad.sla.reasons.join(' '), /no run has succeeded/);
    const cleared = await s.ok('update_pipeline', { pipeline_id: ids.bad, description: 'no SLA', freshness_sla_minutes: null });
    assert.equal(cleared.pipeline.freshness_sla_minutes, null);
    await s.fail('update_pipeline', { pipeline_id: ids.p, description: 'x', freshness_sla_minutes: 0 }, 'invalid_argument');
    const c = await s.ok('create_pipeline', { name: 'with sla', description: 'd', graph: graph(ids.src, ids.dst), freshness_sla_minutes: 90 });
    assert.equal(c.pipeline.freshness_sla_minutes, 90);
  });
});
