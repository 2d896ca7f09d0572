// test_connection with include_schema: what a connection holds (tables, columns and their types,
// keys, row estimates, the values of low-cardinality text columns), described from the real
// database file in the organization's files directory, cached per connection until
// update_connection changes it, and absent unless asked for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

function sqlite(file, sql) {
  execFileSync('sqlite3', [file, sql]);
}

describe('test_connection include_schema', () => {
  let world;
  let s;
  let filesRoot;

  before(async () => {
    world = new World('schema');
    const org = world.tenant('schema-org');
    filesRoot = path.join(world.root, 'files', org.orgId);
    fs.mkdirSync(path.join(filesRoot, 'db'), { recursive: true });
    sqlite(path.join(filesRoot, 'db', 'shop.db'), `
      CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, country TEXT);
      CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                           status TEXT, amount REAL, order_date TIMESTAMP);
      INSERT INTO customers VALUES (1, 'a@example.com', 'US'), (2, 'b@example.com', 'DE');
      INSERT INTO orders VALUES (1, 1, 'paid', 10.5, '2026-12-01 10:00:00'),
                                (2, 2, 'shipped', 20, '2026-12-02 11:00:00'),
                                (3, 1, 'cancelled', 5, '2026-12-03 12:00:00'),
                                (4, 2, 'paid', NULL, NULL);`);
    sqlite(path.join(filesRoot, 'db', 'other.db'), 'CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT);');
    s = await world.connect(org.key, { name: 'schema', env: { PLANASONIX_FILES_ROOT: path.dirname(filesRoot) } });
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('describes tables, columns, keys and sampled values, then answers from the cache', async () => {
    const id = (await s.ok('create_connection', {
      name: 'shop', type: 'sqlite', category: 'source', params: { path: 'db/shop.db' },
    })).connection_id;
    const plain = await s.ok('test_connection', { connector_id: id });
    assert.equal(plain.schema, undefined, 'no schema unless asked for');

    const r = await s.ok('test_connection', { connector_id: id, include_schema: true });
    assert.equal(r.reachable, true);
    assert.equal(r.schema_cached, false);
    const doc = r.schema;
    assert.equal(doc.describable, true);
    assert.equal(doc.truncated, false);
    const byName = Object.fromEntries(doc.tables.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), ['customers', 'orders']);
    const orders = byName.orders;
    assert.deepEqual(orders.primary_key, ['order_id']);
    assert.equal(orders.row_estimate, 4);
    assert.deepEqual(orders.foreign_keys.map((f) => [f.columns, f.references.table, f.references.columns]),
      [[['customer_id'], 'customers', ['id']]]);
    const cols = Object.fromEntries(orders.columns.map((c) => [c.name, c]));
    assert.equal(cols.order_id.type, 'integer');
    assert.equal(cols.amount.type, 'float');
    assert.equal(cols.order_date.type, 'timestamp');
    assert.equal(cols.status.type, 'string');
    assert.deepEqual(cols.status.values, ['cancelled', 'paid', 'shipped']);
    assert.deepEqual(byName.customers.unique_keys, [['email']]);

    const again = await s.ok('test_connection', { connector_id: id, include_schema: true });
    assert.equal(again.schema_cached, true);
    assert.deepEqual(again.schema, doc);
  });

  it('describes anew after update_connection, and never for an unreachable connection', async () => {
    const id = (await s.ok('create_connection', {
      name: 'moving', type: 'sqlite', category: 'source', params: { path: 'db/shop.db' },
    })).connection_id;
    assert.equal((await s.ok('test_connection', { connector_id: id, include_schema: true })).schema_cached, false);
    assert.equal((await s.ok('test_connection', { connector_id: id, include_schema: true })).schema_cached, true);
    await s.ok('update_connection', { connection_id: id, params: { path: 'db/other.db' } });
    const r = await s.ok('test_connection', { connector_id: id, include_schema: true });
    assert.equal(r.schema_cached, false);
    assert.deepEqual(r.schema.tables.map((t) => t.name), ['events']);

    const gone = (await s.ok('create_connection', {
      name: 'gone', type: 'sqlite', category: 'source', params: { path: 'db/missing.db' },
    })).connection_id;
    const u = await s.ok('test_connection', { connector_id: gone, include_schema: true });
    assert.equal(u.reachable, false);
    assert.equal(u.schema, null);
  });
});
