// A run killed mid-way: the embedded stdio process is SIGKILLed while it copies a large
// PostgreSQL table into another (mode replace). The destination keeps exactly its old rows
// (nothing half-written is ever visible), the next process marks the run failed with code
// "interrupted" once the dead process's lease on it has expired, and a new run then completes. Needs the PostgreSQL test server that
// scripts/test.sh starts (PX_TEST_PG_*).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { TEST_PG, TEST_PG_MISSING, World, testPsql, unique } from './lib.mjs';

const PG = TEST_PG;
const missing = TEST_PG_MISSING;
const psql = testPsql;
const ROWS = 1000000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A short run lease (PLANASONIX_RUN_LEASE_MS): a run whose process died is recovered soon.
const ENV = { PLANASONIX_WORKERS: '1', PLANASONIX_SCHEDULER: 'off', PLANASONIX_RUN_LEASE_MS: '1500' };

if (!PG) {
  it('needs a PostgreSQL test server', () => {
    assert.fail(`${missing.join(', ')} not set: run scripts/test.sh`);
  });
}

describe('a run killed mid-way', { skip: !PG }, () => {
  let world;
  let key;
  const schema = `e2e_${unique('kill').replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  const ids = {};

  before(() => {
    psql(`CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.events AS SELECT g AS id, md5(g::text) AS payload, now() AS at
        FROM generate_series(1, ${ROWS}) g;
      CREATE TABLE ${schema}.copy (id int, payload text, at timestamptz);
      INSERT INTO ${schema}.copy VALUES (-1, 'old', now()), (-2, 'old', now());`);
    world = new World('killed');
    key = world.tenant('kill-org').key;
  });

  after(async () => {
    try {
      if (PG) psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      if (world) await world.finish();
    }
  });

  it('leaves the destination as it was, and the next process records the run as interrupted', { timeout: 180000 }, async () => {
    const params = { host: PG.host, port: PG.port, database: PG.database, user: PG.user, password: PG.password, sslmode: 'disable' };
    const s1 = await world.connect(key, { name: 'victim', env: ENV });
    ids.src = (await s1.ok('create_connection', { name: 'src', type: 'postgres', category: 'source', params })).connection_id;
    ids.dst = (await s1.ok('create_connection', { name: 'dst', type: 'postgres', category: 'destination', params })).connection_id;
    const graph = {
      nodes: [
        { id: 'events', kind: 'source', type: 'postgres', connection_id: ids.src, config: { table: `${schema}.events` } },
        { id: 'load', kind: 'destination', type: 'postgres', connection_id: ids.dst, config: { table: `${schema}.copy`, mode: 'replace' } },
      ],
      edges: [{ from: 'events', to: 'load' }],
    };
    ids.p = (await s1.ok('create_pipeline', { name: 'copy events', description: 'a long copy', graph })).pipeline.pipeline_id;
    const run = (await s1.ok('trigger_pipeline', { pipeline_id: ids.p })).run;
    // Wait until rows are flowing into the destination's transaction, then kill -9.
    let running = false;
    for (let i = 0; i < 400 && !running; i++) {
      await sleep(25);
      const h = await s1.ok('get_run_history', { pipeline_id: ids.p });
      running = h.runs[0].status === 'running';
      assert.ok(['queued', 'running'].includes(h.runs[0].status), `finished before the kill: ${JSON.stringify(h.runs[0])}`);
    }
    assert.ok(running, 'the run never started');
    await sleep(300);
    const proc = s1.transport._process;
    proc.kill('SIGKILL');
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r)));
    await s1.close().catch(() => {});

    // The destination: exactly the two old rows (its backend rolls back when the socket closes).
    let rows = '';
    for (let i = 0; i < 100; i++) {
      rows = psql(`SET lock_timeout = '200ms'; SELECT count(*) || ':' || string_agg(payload, ',') FROM ${schema}.copy`);
      if (rows) break;
      await sleep(100);
    }
    assert.equal(rows, '2:old,old');

    // A new process takes over: the run is failed "interrupted", never left running.
    const s2 = await world.connect(key, { name: 'after', env: ENV });
    try {
      let r;
      for (let i = 0; i < 300; i++) {
        const h = await s2.ok('get_run_history', { pipeline_id: ids.p });
        r = h.runs.find((x) => x.run_id === run.run_id);
        if (r.status !== 'running') break;
        await sleep(100);
      }
      assert.equal(r.status, 'failed', JSON.stringify(r));
      assert.equal(r.error.code, 'interrupted');
      // And the pipeline runs to the end in the new process.
      const again = await s2.ok('trigger_pipeline', { pipeline_id: ids.p, wait_seconds: 120 });
      assert.equal(again.run.status, 'succeeded', JSON.stringify(again.run));
      assert.equal(again.run.rows_written, ROWS);
      assert.equal(psql(`SELECT count(*) FROM ${schema}.copy`), String(ROWS));
    } finally {
      assert.equal(await s2.close(), 0);
    }
  });
});
