// The PostgreSQL connector through MCP alone, against the real server that scripts/test.sh starts
// (scripts/pg-server.sh; PX_TEST_PG_* in the environment): create a postgres connection (with a
// password) and a SQLite destination, test_connection reports reachable with the server version,
// a pipeline postgres orders → filter (last 7 days) → dedupe by order_id → SQLite runs with
// trigger_pipeline + wait_seconds, get_run_history / get_pipeline_health report it, and the
// destination file holds exactly the expected rows. A connection with a wrong password is
// unreachable with a hint, and the password appears in no response and no log.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TEST_PG, TEST_PG_MISSING, World, testPsql, unique } from './lib.mjs';

const PG = TEST_PG;
const missing = TEST_PG_MISSING;
const psql = testPsql;

function sqlite(file, sql) {
  const r = spawnSync('sqlite3', [file, sql], { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `sqlite3 failed: ${r.stderr}`);
  return r.stdout;
}

if (!PG) {
  // Without a server this file is one failing test (so that CI counts it), not a skip.
  it('needs a PostgreSQL test server', () => {
    assert.fail(`${missing.join(', ')} not set: run scripts/test.sh, or start a server with ` +
      '`eval "$(scripts/pg-server.sh start /tmp/px-pg)"` and run tests/e2e/run.sh again');
  });
}

describe('postgres pipeline through MCP', { skip: !PG }, () => {
  let world;
  let s;
  let filesRoot;
  const schema = `e2e_${unique('pg').replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  const WRONG = 'wrong-pw-canary-7d1f';
  const ids = {};

  before(async () => {
    psql(`CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.orders (order_id int, customer text, amount numeric(10,2), order_date timestamptz);
      INSERT INTO ${schema}.orders VALUES
        (1, 'ann', 10.00, now() - interval '1 day'),
        (2, 'bob', 20.00, now() - interval '2 days'),
        (2, 'bob', 25.00, now() - interval '1 day'),
        (3, 'cy', 30.00, now() - interval '10 days'),
        (4, 'di', 40.00, now() - interval '30 days'),
        (5, 'éva ✓', 50.50, now() - interval '3 days'),
        (5, 'éva ✓', 55.00, now() - interval '3 days'),
        (6, 'fay', 60.00, now() - interval '8 days');`);
    world = new World('pg');
    const org = world.tenant('pg-org');
    filesRoot = path.join(world.root, 'files', org.orgId); // the org's files directory
    fs.mkdirSync(path.join(filesRoot, 'out'), { recursive: true });
    s = await world.connect(org.key, { name: 'pg', env: { PLANASONIX_FILES_ROOT: path.dirname(filesRoot), PLANASONIX_WORKERS: '2' } });
  });

  after(async () => {
    try {
      if (PG) psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if (s) assert.equal(await s.close(), 0);
    } finally {
      if (world) {
        for (const p of world.logs) {
          if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p, 'utf8').includes(WRONG), `password in ${p}`);
          if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p, 'utf8').includes(PG.password), `password in ${p}`);
        }
        await world.finish();
      }
    }
  });

  it('creates the connections and test_connection reports the server reachable with its version', async () => {
    const pg = await s.ok('create_connection', {
      name: 'warehouse', type: 'postgres', category: 'source',
      params: { host: PG.host, port: PG.port, database: PG.database, user: PG.user, password: PG.password, sslmode: 'disable' },
    });
    ids.pg = pg.connection_id;
    assert.equal(pg.params.password_set, true);
    assert.ok(!JSON.stringify(pg).includes(PG.password));
    const dst = await s.ok('create_connection', { name: 'mart', type: 'sqlite', category: 'destination', params: { path: 'out/mart.db' } });
    ids.dst = dst.connection_id;
    const r = await s.ok('test_connection', { connector_id: ids.pg });
    assert.equal(r.reachable, true, JSON.stringify(r));
    assert.equal(r.error, null);
    assert.match(r.server_version, /^\d+\.\d+/);
    assert.ok(Number.isInteger(r.latency_ms) && r.latency_ms >= 0);
    assert.ok(!JSON.stringify(r).includes(PG.password));
  });

  it('runs postgres → filter → dedupe → sqlite and reports the run', async () => {
    const graph = {
      nodes: [
        { id: 'orders', kind: 'source', type: 'postgres', connection_id: ids.pg, config: { table: `${schema}.orders` } },
        { id: 'recent', kind: 'transform', type: 'filter', config: { condition: "order_date >= now() - interval '7 days'" } },
        { id: 'dedupe', kind: 'transform', type: 'dedupe', config: { keys: ['order_id'] } },
        { id: 'load', kind: 'destination', type: 'sqlite', connection_id: ids.dst, config: { table: 'orders', mode: 'replace' } },
      ],
      edges: [{ from: 'orders', to: 'recent' }, { from: 'recent', to: 'dedupe' }, { from: 'dedupe', to: 'load' }],
    };
    const p = await s.ok('create_pipeline', { name: 'recent orders', description: 'last 7 days, one row per order', graph });
    ids.p = p.pipeline.pipeline_id;
    const t = await s.ok('trigger_pipeline', { pipeline_id: ids.p, wait_seconds: 60 });
    const run = t.run;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    // 8 rows in the table; the filter's `order_date >= now() - interval '7 days'` is pushed
    // into PostgreSQL's WHERE, so only the 5 recent ones cross the wire.
    assert.equal(run.rows_read, 5);
    assert.equal(run.rows_written, 3);
    assert.equal(run.error, null);

    const h = await s.ok('get_run_history', { pipeline_id: ids.p });
    assert.equal(h.runs.length, 1);
    assert.equal(h.runs[0].run_id, run.run_id);
    assert.equal(h.runs[0].status, 'succeeded');
    assert.equal(h.runs[0].rows_read, run.rows_read);
    assert.equal(h.runs[0].rows_written, 3);
    const health = await s.ok('get_pipeline_health', { pipeline_id: ids.p });
    assert.equal(health.runs.succeeded, 1);
    assert.equal(health.error_rate, 0);

    const out = sqlite(path.join(filesRoot, 'out', 'mart.db'),
      "SELECT order_id || '|' || customer || '|' || printf('%.2f', amount) FROM orders ORDER BY order_id");
    assert.equal(out, '1|ann|10.00\n2|bob|20.00\n5|éva ✓|50.50\n');
    const n = sqlite(path.join(filesRoot, 'out', 'mart.db'),
      "SELECT count(*) FROM orders WHERE order_date >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-8 days')");
    assert.equal(n.trim(), '3');
  });

  it('a run reading a missing table fails naming the node and the table', async () => {
    const graph = {
      nodes: [
        { id: 'orders', kind: 'source', type: 'postgres', connection_id: ids.pg, config: { table: `${schema}.no_such_orders` } },
        { id: 'load', kind: 'destination', type: 'sqlite', connection_id: ids.dst, config: { table: 'x' } },
      ],
      edges: [{ from: 'orders', to: 'load' }],
    };
    const p = await s.ok('create_pipeline', { name: 'missing table', description: 'fails', graph });
    const t = await s.ok('trigger_pipeline', { pipeline_id: p.pipeline.pipeline_id, wait_seconds: 60 });
    assert.equal(t.run.status, 'failed');
    assert.equal(t.run.error.node_id, 'orders');
    assert.match(t.run.error.message, /no_such_orders/);
    assert.ok(!JSON.stringify(t.run).includes(PG.password));
  });

  it('a wrong password is unreachable with a hint, and the password is never echoed', async () => {
    const bad = await s.ok('create_connection', {
      name: 'wrong-pw', type: 'postgres', category: 'source',
      params: { host: PG.host, port: PG.port, database: PG.database, user: PG.user, password: WRONG, sslmode: 'disable' },
    });
    const r = await s.ok('test_connection', { connector_id: bad.connection_id });
    assert.equal(r.reachable, false);
    assert.equal(r.error.code, 'unauthorized');
    assert.equal(r.error.retryable, false);
    assert.match(r.error.message, /authentication failed for user/);
    assert.match(r.error.hint, /password/);
    assert.ok(!JSON.stringify(r).includes(WRONG));
    const list = await s.ok('list_connectors', {});
    assert.ok(!JSON.stringify(list).includes(WRONG));
    for (const m of s.received) assert.ok(!JSON.stringify(m).includes(WRONG), 'no response carries the password');
  });
});
