// The egress policy through MCP (issue 10 item 5): with PLANASONIX_EGRESS_DENY=127.0.0.0/8,::1
// test_connection and runs refuse the real local PostgreSQL server (scripts/pg-server.sh;
// PX_TEST_PG_*) and a local HTTP API with a message naming the policy, and the API never sees a
// request; the same connections on a server without the setting are reachable. And the
// read-only check of SQL source queries refuses a trick at create_pipeline (item 4).
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TEST_PG, TEST_PG_MISSING, World } from './lib.mjs';

const PG = TEST_PG;

if (!PG) {
  it('needs a PostgreSQL test server', () => {
    assert.fail(`${TEST_PG_MISSING.join(', ')} not set: run scripts/test.sh, or start a server with ` +
      '`eval "$(scripts/pg-server.sh start /tmp/px-pg)"` and run tests/e2e/run.sh again');
  });
}

describe('egress policy', { skip: !PG }, () => {
  let world;
  let denied;
  let open;
  let api;
  let hits = 0;
  let apiPort;
  const ids = {};

  before(async () => {
    api = http.createServer((req, res) => {
      hits++;
      res.writeHead(200, { 'Content-Type': 'application/json', Server: 'EgressAPI/1' });
      res.end('[{"id":1}]');
    });
    await new Promise((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiPort = api.address().port;
    world = new World('egress');
    const filesRoot = path.join(world.root, 'files');
    fs.mkdirSync(filesRoot, { recursive: true });
    const org = world.tenant('egress-org');
    denied = await world.connect(org.key, {
      name: 'denied',
      env: { PLANASONIX_FILES_ROOT: filesRoot, PLANASONIX_EGRESS_DENY: '127.0.0.0/8,::1', PLANASONIX_SCHEDULER: 'off' },
    });
    const pg = await denied.ok('create_connection', {
      name: 'local-pg', type: 'postgres', category: 'source',
      params: { host: PG.host, port: PG.port, database: PG.database, user: PG.user, password: PG.password, sslmode: 'disable' },
    });
    ids.pg = pg.connection_id;
    const byName = await denied.ok('create_connection', {
      name: 'local-pg-by-name', type: 'postgres', category: 'source',
      params: { host: 'localhost', port: PG.port, database: PG.database, user: PG.user, password: PG.password, sslmode: 'disable' },
    });
    ids.pgName = byName.connection_id;
    const h = await denied.ok('create_connection', {
      name: 'local-api', type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${apiPort}/` },
    });
    ids.http = h.connection_id;
    const csv = await denied.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } });
    ids.csv = csv.connection_id;
  });

  after(async () => {
    try {
      if (denied) assert.equal(await denied.close(), 0);
      if (open) assert.equal(await open.close(), 0);
    } finally {
      if (api) api.close();
      if (world) await world.finish();
    }
  });

  it('test_connection refuses the local PostgreSQL server by address and by name, naming the policy', async () => {
    for (const id of [ids.pg, ids.pgName]) {
      const r = await denied.ok('test_connection', { connector_id: id });
      assert.equal(r.reachable, false, JSON.stringify(r));
      assert.equal(r.error.code, 'insufficient_permissions', JSON.stringify(r));
      assert.match(r.error.message, /egress policy refuses connections to (127\.0\.0\.1|::1) \(denied by (127\.0\.0\.0\/8|::1)\)/);
      assert.match(r.error.hint, /PLANASONIX_EGRESS_DENY/);
      assert.equal(r.error.retryable, false);
    }
  });

  it('test_connection refuses the local HTTP API before any request reaches it', async () => {
    const r = await denied.ok('test_connection', { connector_id: ids.http });
    assert.equal(r.reachable, false, JSON.stringify(r));
    assert.equal(r.error.code, 'insufficient_permissions');
    assert.match(r.error.message, /egress policy refuses connections to 127\.0\.0\.1/);
    assert.equal(hits, 0);
  });

  it('a run from the local PostgreSQL server fails with the policy message', async () => {
    const graph = {
      nodes: [
        { id: 'src', kind: 'source', type: 'postgres', connection_id: ids.pg, config: { query: 'SELECT 1 AS x' } },
        { id: 'load', kind: 'destination', type: 'csv', connection_id: ids.csv, config: { file: 'x.csv' } },
      ],
      edges: [{ from: 'src', to: 'load' }],
    };
    const p = await denied.ok('create_pipeline', { name: 'egress', description: 'local pg', graph });
    const t = await denied.ok('trigger_pipeline', { pipeline_id: p.pipeline.pipeline_id, wait_seconds: 60 });
    assert.equal(t.run.status, 'failed', JSON.stringify(t.run));
    assert.match(t.run.error.message, /egress policy refuses connections to 127\.0\.0\.1/);
    assert.equal(t.run.error.node_id, 'src');
  });

  it('without the setting the same connections are reachable', async () => {
    const org = world.tenant('open-org');
    open = await world.connect(org.key, { name: 'open', env: { PLANASONIX_SCHEDULER: 'off' } });
    const pg = await open.ok('create_connection', {
      name: 'local-pg', type: 'postgres', category: 'source',
      params: { host: PG.host, port: PG.port, database: PG.database, user: PG.user, password: PG.password, sslmode: 'disable' },
    });
    const r = await open.ok('test_connection', { connector_id: pg.connection_id });
    assert.equal(r.reachable, true, JSON.stringify(r));
    const h = await open.ok('create_connection', {
      name: 'local-api', type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${apiPort}/` },
    });
    const rh = await open.ok('test_connection', { connector_id: h.connection_id });
    assert.equal(rh.reachable, true, JSON.stringify(rh));
    assert.equal(hits, 1);
  });

  it('create_pipeline refuses a source query that could write (item 4)', async () => {
    const graph = (query) => ({
      nodes: [
        { id: 'src', kind: 'source', type: 'postgres', connection_id: ids.pg, config: { query } },
        { id: 'load', kind: 'destination', type: 'csv', connection_id: ids.csv, config: { file: 'y.csv' } },
      ],
      edges: [{ from: 'src', to: 'load' }],
    });
    let e = await denied.fail('create_pipeline', { name: 'w1', description: 'x', graph: graph('SELECT 1; DROP TABLE victim') }, 'invalid_argument');
    assert.equal(e.field, 'graph.nodes[0].config.query');
    assert.match(e.message, /more than one statement/);
    e = await denied.fail('create_pipeline', {
      name: 'w2', description: 'x', graph: graph('WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d'),
    }, 'invalid_argument');
    assert.match(e.message, /cannot contain DELETE/);
    assert.ok(e.hint);
  });
});
