// Secrets canary: a connection password that is a unique string must never come back — not in
// any MCP message, not in the server's stderr, not in the raw bytes of the SQLite files — and the
// audit trail stores "[redacted]" in its place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { PG_PARAMS, World, ordersGraph, unique } from './lib.mjs';

const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

describe('secrets canary', () => {
  let world;
  let org;
  let s;
  const CANARY = `CANARY${unique('pw').replace(/[^A-Za-z0-9]/g, '')}`;
  const CANARY2 = `CANARY2${unique('pw').replace(/[^A-Za-z0-9]/g, '')}`;
  const canaries = [CANARY, CANARY2];
  const ids = {};

  before(async () => {
    world = new World('secrets');
    org = world.tenant('secrets-org');
    s = await world.connect(org.key, { name: 'secrets', env: { PLANASONIX_LOG: 'debug' } });
  });

  after(async () => {
    await world.finish();
  });

  function assertNoCanary(text, where) {
    for (const c of canaries) assert.ok(!text.includes(c), `${where} contains the canary`);
    // The API key's secret part is a canary too (only its HMAC is stored).
    assert.ok(!text.includes(org.key.slice(4, 30)), `${where} contains the API key`);
  }

  it('exercises the connection tools with a canary password', async () => {
    await s.client.setLoggingLevel('debug');
    const pg = await s.ok('create_connection', {
      name: 'canary-db', type: 'postgres', category: 'source', params: { ...PG_PARAMS, password: CANARY },
    });
    ids.pg = pg.connection_id;
    assert.equal(pg.params.password_set, true);
    const csv = await s.ok('create_connection', { name: 'canary-out', type: 'csv', category: 'destination', params: { path: 'out' } });
    ids.csv = csv.connection_id;
    await s.ok('list_connectors');
    await s.ok('list_connectors', { type: 'postgres' });
    await s.ok('update_connection', { connection_id: ids.pg, params: { port: 5433 } });
    const u = await s.ok('update_connection', { connection_id: ids.pg, params: { password: CANARY2 } });
    assert.equal(u.params.password_set, true);
    await s.ok('update_connection', { connection_id: ids.pg, name: 'canary-db-2' });
    assert.equal((await s.ok('test_connection', { connector_id: ids.pg })).reachable, false);
    const p = await s.ok('create_pipeline', { name: 'canary-pipe', description: 'x', graph: ordersGraph(ids.pg, ids.csv) });
    await s.ok('get_pipeline', { pipeline_id: p.pipeline.pipeline_id });
    await s.fail('delete_connection', { connection_id: ids.pg }, 'in_use');
    // Refusals that carry the password in their arguments.
    await s.fail('create_connection', { name: 'canary-db-2', type: 'postgres', category: 'source', params: { ...PG_PARAMS, password: CANARY } }, 'conflict');
    await s.fail('create_connection', { name: 'bad-port', type: 'postgres', category: 'source', params: { ...PG_PARAMS, port: 'x', password: CANARY } }, 'invalid_argument');
    await s.fail('create_connection', { name: 'bad-type', type: 'csv', category: 'source', params: { path: 'p', password: CANARY } }, 'invalid_argument');
    await s.fail('create_connection', { name: 'too-long', type: 'postgres', category: 'source', params: { ...PG_PARAMS, password: CANARY.repeat(200) } }, 'invalid_argument');
    await s.fail('update_connection', { connection_id: ids.pg, params: { password: 5 } }, 'invalid_argument');
    await s.fail('create_connection', { name: 'bad-mode', type: 'postgres', category: 'source', params: { ...PG_PARAMS, sslmode: 'nope', password: CANARY } }, 'invalid_argument');
    const view = (await s.ok('list_connectors', { type: 'postgres' })).connectors[0];
    assert.deepEqual(view.params, { ...PG_PARAMS, port: 5433, password_set: true });
  });

  it('no MCP message carried the canary', () => {
    assert.ok(s.received.length > 10);
    for (const m of s.received) {
      const text = JSON.stringify(m);
      assertNoCanary(text, `message ${text.slice(0, 200)}`);
    }
  });

  it('stderr and the SQLite files do not contain the canary', async () => {
    assert.equal(await s.close(), 0);
    assertNoCanary(s.stderr(), 'server stderr');
    const files = world.dbFiles();
    assert.ok(files.some((f) => f.endsWith('planasonix.db')), `db files: ${files}`);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      for (const c of [...canaries, org.key, org.key.slice(4, 30)]) {
        assert.equal(bytes.indexOf(Buffer.from(c)), -1, `${f} contains a secret in clear text`);
      }
    }
    for (const f of fs.readdirSync(world.home)) {
      const p = `${world.home}/${f}`;
      if (fs.statSync(p).isFile()) assertNoCanary(fs.readFileSync(p, 'latin1'), p);
    }
  });

  it('audit_log rows have the arguments with "[redacted]"', { skip: !hasSqlite3 && 'sqlite3 CLI not installed: audit_log not checked' }, () => {
    const db = `${world.home}/planasonix.db`;
    const r = spawnSync('sqlite3', ['-json', db,
      "SELECT tool, outcome, error_code, arguments, org_id, key_id, target_id FROM audit_log WHERE method = 'tools/call' ORDER BY seq"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout || '[]');
    const withPw = rows.filter((x) => x.arguments && x.arguments.includes('"password"'));
    assert.ok(withPw.length >= 6, `audit rows with a password argument: ${withPw.length}`);
    for (const row of withPw) {
      const args = JSON.parse(row.arguments);
      assert.equal(args.params.password, '[redacted]', row.arguments);
      assert.equal(row.org_id, org.orgId);
      assert.equal(row.key_id, org.keyId);
    }
    for (const row of rows) {
      assertNoCanary(JSON.stringify(row), `audit row ${JSON.stringify(row).slice(0, 200)}`);
    }
    const created = rows.find((x) => x.tool === 'create_connection' && x.outcome === 'ok');
    assert.ok(created, 'the successful create_connection is audited');
    assert.equal(created.target_id, ids.pg, 'the audit row names the new connection');
    const refused = rows.filter((x) => x.tool === 'create_connection' && x.outcome !== 'ok');
    assert.ok(refused.length >= 3, 'refusals are audited too (after a clean shutdown)');
  });
});

// HTTP connection header values are secrets (issue 10 item 6): sealed at rest, shown as names
// only (headers_set), redacted in the audit trail, and still sent by runs.
describe('secrets canary: HTTP header values', () => {
  let world;
  let org;
  let s;
  let reader;
  let api;
  const seen = [];
  const CANARY = `HDRCANARY${unique('h').replace(/[^A-Za-z0-9]/g, '')}`;
  const CANARY2 = `HDRCANARY2${unique('h').replace(/[^A-Za-z0-9]/g, '')}`;
  const canaries = [CANARY, CANARY2];
  const ids = {};

  before(async () => {
    api = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]));
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new World('hdr-secrets');
    org = world.tenant('hdr-org');
    s = await world.connect(org.key, { name: 'writer', env: { PLANASONIX_LOG: 'debug' } });
    reader = await world.connect(world.key(org.orgId, 'connectors:read').key, { name: 'reader' });
  });

  after(async () => {
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  function assertNoCanary(text, where) {
    for (const c of canaries) assert.ok(!text.includes(c), `${where} contains a header canary`);
  }

  it('views show header names only, and the run sends the values', { timeout: 60000 }, async () => {
    await s.client.setLoggingLevel('debug');
    const base = `http://127.0.0.1:${api.address().port}/v1`;
    const c = await s.ok('create_connection', {
      name: 'api', type: 'http', category: 'source',
      params: { base_url: base, headers: { 'X-Api-Key': CANARY, 'X-Trace': 'plain' } },
    });
    ids.api = c.connection_id;
    assert.equal(c.params.headers, undefined, JSON.stringify(c.params));
    assert.deepEqual(c.params.headers_set, ['X-Api-Key', 'X-Trace']);
    assert.equal(c.params.auth_token_set, false);
    // A refusal carrying a header value is audited too.
    await s.fail('create_connection', {
      name: 'api', type: 'http', category: 'source', params: { base_url: base, headers: { 'X-Api-Key': CANARY } },
    }, 'conflict');
    // Header names are checked when saved, not first at run time.
    const auth = await s.fail('create_connection', {
      name: 'api2', type: 'http', category: 'source', params: { base_url: base, headers: { Authorization: `Bearer ${CANARY}` } },
    }, 'invalid_argument');
    assert.match(auth.hint, /auth_token/);
    const bad = await s.fail('create_connection', {
      name: 'api2', type: 'http', category: 'source', params: { base_url: base, headers: { 'X Api:Key': CANARY } },
    }, 'invalid_argument');
    assert.equal(bad.field, 'params.headers');
    const u = await s.ok('update_connection', { connection_id: ids.api, params: { headers: { 'X-Api-Key': CANARY2 } } });
    assert.deepEqual(u.params.headers_set, ['X-Api-Key']);
    const got = await s.ok('update_connection', { connection_id: ids.api, params: { timeout_seconds: 20 } });
    assert.deepEqual(got.params.headers_set, ['X-Api-Key'], 'another param change keeps the headers');
    const list = await reader.ok('list_connectors', {});
    assert.equal(list.connectors.length, 1);
    assert.deepEqual(list.connectors[0].params, { base_url: base, timeout_seconds: 20, headers_set: ['X-Api-Key'], auth_token_set: false });
    const types = await s.ok('list_connection_types', {});
    const httpType = types.connection_types.find((t) => t.type === 'http');
    assert.ok(httpType.secret_params.includes('headers'), JSON.stringify(httpType.secret_params));
    const dst = await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } });
    const p = await s.ok('create_pipeline', {
      name: 'hdr', description: 'reads the API',
      graph: {
        nodes: [
          { id: 'api', kind: 'source', type: 'http', connection_id: ids.api, config: { path: '/items' } },
          { id: 'out', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file: 'items.csv', mode: 'replace' } },
        ],
        edges: [{ from: 'api', to: 'out' }],
      },
    });
    const r = await s.ok('trigger_pipeline', { pipeline_id: p.pipeline.pipeline_id, wait_seconds: 30 });
    assert.equal(r.run.status, 'succeeded', JSON.stringify(r.run));
    assert.equal(r.run.rows_written, 2);
    assert.equal(seen.at(-1)['x-api-key'], CANARY2, 'the run sent the sealed header value');
    await s.ok('get_run_history', { pipeline_id: p.pipeline.pipeline_id });
  });

  it('no message, log, store file or audit row holds a header value', async () => {
    for (const m of [...s.received, ...reader.received]) assertNoCanary(JSON.stringify(m), 'an MCP message');
    assert.equal(await s.close(), 0);
    assert.equal(await reader.close(), 0);
    assertNoCanary(s.stderr(), 'server stderr');
    for (const f of world.dbFiles()) {
      const bytes = fs.readFileSync(f);
      for (const c of canaries) assert.equal(bytes.indexOf(Buffer.from(c)), -1, `${f} holds a header value in clear text`);
    }
    if (!hasSqlite3) return;
    const q = spawnSync('sqlite3', ['-json', `${world.home}/planasonix.db`,
      "SELECT tool, outcome, arguments FROM audit_log WHERE method = 'tools/call' AND arguments LIKE '%\"headers\"%'"], { encoding: 'utf8' });
    assert.equal(q.status, 0, q.stderr);
    const rows = JSON.parse(q.stdout || '[]');
    assert.ok(rows.length >= 5, `audit rows with headers: ${rows.length}`);
    for (const row of rows) {
      assertNoCanary(row.arguments, 'an audit row');
      for (const v of Object.values(JSON.parse(row.arguments).params.headers)) assert.equal(v, '[redacted]', row.arguments);
    }
  });
});

// A connection saved before header values were secret holds them in clear: the next start
// seals them, and the view never showed the value in between.
describe('secrets canary: headers saved in clear by an older version', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, () => {
  let world;
  let org;
  const LEGACY = `LEGACYHDR${unique('l').replace(/[^A-Za-z0-9]/g, '')}`;

  before(() => {
    world = new World('hdr-legacy');
    org = world.tenant('legacy-org');
  });
  after(async () => { await world.finish(); });

  const sql = (q) => {
    const r = spawnSync('sqlite3', ['-json', `${world.home}/planasonix.db`, q], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout || '[]');
  };

  it('the next start seals them; views show names only before and after', async () => {
    let s = await world.connect(org.key, { name: 'legacy-1' });
    const c = await s.ok('create_connection', { name: 'old', type: 'http', category: 'source', params: { base_url: 'http://127.0.0.1:9/v1' } });
    assert.equal(await s.close(), 0);
    // What the old code stored: headers among the public params, nothing sealed.
    sql(`UPDATE connections SET params = '{"base_url":"http://127.0.0.1:9/v1","headers":{"X-Api-Key":"${LEGACY}"}}', secrets = NULL, secret_names = '' WHERE id = '${c.connection_id}'`);
    s = await world.connect(org.key, { name: 'legacy-2' });
    const v = await s.ok('list_connectors', {});
    const view = v.connectors.find((x) => x.connection_id === c.connection_id);
    assert.deepEqual(view.params.headers_set, ['X-Api-Key']);
    assert.ok(!JSON.stringify(v).includes(LEGACY));
    assert.equal(await s.close(), 0);
    const [row] = sql(`SELECT params, secrets, secret_names FROM connections WHERE id = '${c.connection_id}'`);
    assert.ok(!row.params.includes(LEGACY), `params still hold the value: ${row.params}`);
    assert.ok(row.secrets, 'the headers are sealed');
    assert.equal(row.secret_names, 'headers headers:X-Api-Key');
  });
});
