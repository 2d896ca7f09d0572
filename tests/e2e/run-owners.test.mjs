// Run ownership across processes on one store (issue 10 item 12). A run belongs to the process
// executing it through a lease that process renews; another process only ever recovers a run
// whose lease ran out.
//
// 1. `serve` executes a run whose source (a local HTTP API) holds its answer back; meanwhile
//    `planasonix-mcp --stdio` starts on the same home, as a desktop client does. The run stays
//    running, then succeeds once the API answers, and its rows land exactly once.
// 2. The executing process is killed with SIGKILL: a second, live process recovers the run as
//    failed "interrupted" once the lease has expired (not at its own start-up only).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { HttpWorld, until } from './http-lib.mjs';

/** Every file called name below dir (the files root layout is not this test's business). */
function findFiles(dir, name, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, name, out);
    else if (e.name === name) out.push(p);
  }
  return out;
}

describe('runs are owned by the process executing them', () => {
  let world;
  let api;
  let org;
  const held = [];
  let release = false;
  let hits = 0;
  const NO_SCHED = { PLANASONIX_SCHEDULER: 'off' };

  before(async () => {
    // A records API that answers only once released (3 records per request).
    api = http.createServer((req, res) => {
      hits++;
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify([{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { id: 3, v: 'c' }]));
      };
      if (release) answer();
      else held.push(answer);
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new HttpWorld('run-owners');
    org = world.tenant('owners-org');
  });

  after(async () => {
    release = true;
    for (const a of held.splice(0)) a();
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  async function heldPipeline(s, name, file) {
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
          { id: 'out', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file, mode: 'append' } },
        ],
        edges: [{ from: 'api', to: 'out' }],
      },
    })).pipeline.pipeline_id;
  }

  it('a second process on the same home leaves a live run alone; it succeeds once', { timeout: 120000 }, async () => {
    const server = await world.serve({ name: 'serve-owner', env: { ...NO_SCHED, PLANASONIX_WORKERS: '1', PLANASONIX_RUN_LEASE_MS: '1500' } });
    const s = await world.connectHttp(server, org.key, { kind: 'http' });
    const pipeline = await heldPipeline(s, 'held-live', 'live.csv');
    const before = hits;
    const { run } = await s.ok('trigger_pipeline', { pipeline_id: pipeline });
    await until(() => hits > before, 'the run to reach the API', 20000);

    // What a desktop client does: start an embedded stdio server on the same home.
    const desk = await world.connect(org.key, { name: 'desktop', env: { ...NO_SCHED, PLANASONIX_WORKERS: '1', PLANASONIX_RUN_LEASE_MS: '1500' } });
    // Several lease periods pass with both processes alive: the run stays serve's.
    await new Promise((r) => setTimeout(r, 5000));
    let h = await desk.ok('get_run_history', { pipeline_id: pipeline });
    assert.equal(h.runs[0].run_id, run.run_id);
    assert.equal(h.runs[0].status, 'running', JSON.stringify(h.runs[0]));
    assert.doesNotMatch(desk.stderr(), /interrupted/);

    release = true;
    for (const a of held.splice(0)) a();
    const done = await until(async () => {
      const r = (await s.ok('get_run_history', { pipeline_id: pipeline })).runs[0];
      return r.status !== 'running' && r.status !== 'queued' && r;
    }, 'the run to end', 30000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.rows_written, 3);
    h = await desk.ok('get_run_history', { pipeline_id: pipeline });
    assert.equal(h.runs.length, 1, 'no second run');
    const files = findFiles(path.join(world.home, 'files'), 'live.csv');
    assert.equal(files.length, 1, `one output file: ${files}`);
    const lines = fs.readFileSync(files[0], 'utf8').trim().split('\n');
    assert.equal(lines.length, 1 + 3, `a header and the 3 rows, once: ${lines}`);
    assert.equal(await desk.close(), 0);
    await s.close();
    await server.stop();
    world.servers.delete(server);
    assert.doesNotMatch(server.log(), /interrupted/);
    release = false;
  });

  it('a run whose executor was killed is recovered by a live process after the lease expires', { timeout: 120000 }, async () => {
    const env = { ...NO_SCHED, PLANASONIX_WORKERS: '1', PLANASONIX_RUN_LEASE_MS: '1500' };
    const victim = await world.connect(org.key, { name: 'victim', env });
    const pipeline = await heldPipeline(victim, 'held-killed', 'killed.csv');
    const before = hits;
    const { run } = await victim.ok('trigger_pipeline', { pipeline_id: pipeline });
    await until(() => hits > before, 'the run to reach the API', 20000);
    // The survivor starts while the victim is alive and executing: it must not touch the run.
    const survivor = await world.connect(org.key, { name: 'survivor', env });
    let r = (await survivor.ok('get_run_history', { pipeline_id: pipeline })).runs[0];
    assert.equal(r.status, 'running', JSON.stringify(r));

    const proc = victim.transport._process;
    proc.kill('SIGKILL');
    await new Promise((res) => (proc.exitCode !== null || proc.signalCode !== null ? res() : proc.once('exit', res)));
    await victim.close().catch(() => {});

    r = await until(async () => {
      const x = (await survivor.ok('get_run_history', { pipeline_id: pipeline })).runs[0];
      return x.status !== 'running' && x;
    }, 'the survivor to recover the killed run', 30000);
    assert.equal(r.run_id, run.run_id);
    assert.equal(r.status, 'failed', JSON.stringify(r));
    assert.equal(r.error.code, 'interrupted');
    assert.match(survivor.stderr(), /interrupted/);
    assert.equal(await survivor.close(), 0);
  });
});
