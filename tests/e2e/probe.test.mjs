// test_connection through MCP: it really opens the connection's file (or database) under the
// server's files root and reports reachable, latency and server version, or a sanitized error
// with a hint (no absolute server paths, no secrets). The files root is a temporary directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { PG_PARAMS, World } from './lib.mjs';

const KEYS = ['connection_id', 'error', 'latency_ms', 'reachable', 'server_version'];

describe('test_connection: real probes', () => {
  let world;
  let s;
  let filesRoot;

  before(async () => {
    world = new World('probe');
    const org = world.tenant('probe-org');
    filesRoot = path.join(world.root, 'files', org.orgId); // the org's files directory
    fs.mkdirSync(path.join(filesRoot, 'exports'), { recursive: true });
    fs.writeFileSync(path.join(filesRoot, 'exports', 'orders.csv'), 'id,amount\n1,2.5\n');
    fs.writeFileSync(path.join(filesRoot, 'exports', 'not.db'), 'plain text, not a database at all\n');
    s = await world.connect(org.key, { name: 'probe', env: { PLANASONIX_FILES_ROOT: path.dirname(filesRoot) } });
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  async function conn(name, type, category, params) {
    return (await s.ok('create_connection', { name, type, category, params })).connection_id;
  }

  function noLeak(r) {
    const text = JSON.stringify(r);
    assert.ok(!text.includes(filesRoot), `absolute files root leaked: ${text}`);
    assert.ok(!text.includes(world.root), `server path leaked: ${text}`);
  }

  it('reports a CSV file that exists as reachable, with latency and no error', async () => {
    const id = await conn('orders', 'csv', 'source', { path: 'exports/orders.csv' });
    const r = await s.ok('test_connection', { connector_id: id });
    assert.deepEqual(Object.keys(r).sort(), KEYS);
    assert.equal(r.connection_id, id);
    assert.equal(r.reachable, true);
    assert.ok(Number.isInteger(r.latency_ms) && r.latency_ms >= 0);
    assert.equal(r.server_version, null);
    assert.equal(r.error, null);
    const dir = await conn('exports-dir', 'csv', 'destination', { path: 'exports' });
    assert.equal((await s.ok('test_connection', { connection_id: dir })).reachable, true);
  });

  it('reports a missing file as unreachable with a clear, sanitized error', async () => {
    const id = await conn('gone', 'csv', 'source', { path: 'exports/missing.csv' });
    const r = await s.ok('test_connection', { connector_id: id });
    assert.equal(r.reachable, false);
    assert.equal(r.latency_ms, null);
    assert.equal(r.error.code, 'not_found');
    assert.equal(r.error.message, "file 'exports/missing.csv' not found in the files directory");
    assert.ok(r.error.hint.length > 0);
    assert.equal(r.error.retryable, false);
    noLeak(r);
  });

  it('refuses paths that escape the files root', async () => {
    fs.symlinkSync('/etc', path.join(filesRoot, 'etc'));
    const id = await conn('escape', 'csv', 'source', { path: 'etc/passwd' });
    const r = await s.ok('test_connection', { connector_id: id });
    assert.equal(r.reachable, false);
    assert.equal(r.error.code, 'invalid_argument');
    assert.match(r.error.message, /symbolic link; links are not followed/);
    noLeak(r);
  });

  it('opens SQLite databases and names the library version; a non-database file is refused', async () => {
    const dst = await conn('warehouse', 'sqlite', 'destination', { path: 'exports/shop.db' });
    const r = await s.ok('test_connection', { connector_id: dst });
    assert.equal(r.reachable, true, JSON.stringify(r));
    assert.match(r.server_version, /^3\.\d+\.\d+/);
    const bad = await conn('not-a-db', 'sqlite', 'source', { path: 'exports/not.db' });
    const b = await s.ok('test_connection', { connector_id: bad });
    assert.equal(b.reachable, false);
    assert.equal(b.error.message, "'exports/not.db' is not a SQLite database");
    noLeak(b);
  });

  it('reports a refused database server as unreachable and retryable, without leaking secrets', async () => {
    // A port nothing listens on: bind, read the port, close.
    const net = await import('node:net');
    const port = await new Promise((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    for (const type of ['postgres', 'mysql']) {
      const id = await conn(`refused-${type}`, type, 'source', { ...PG_PARAMS, host: '127.0.0.1', port, sslmode: 'disable', password: 'probe-canary-pw' });
      const r = await s.ok('test_connection', { connector_id: id });
      assert.equal(r.reachable, false, type);
      assert.equal(r.error.retryable, true, JSON.stringify(r));
      assert.ok(r.error.hint.length > 0);
      assert.ok(!JSON.stringify(r).includes('probe-canary-pw'));
    }
  });
});
