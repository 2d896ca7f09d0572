// Every tool's happy path (and its main refusals) through the official SDK client, which
// validates each structuredContent against the tool's outputSchema. One server, one story:
// connections → pipelines → schedules → delete → restore → delete the connection.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { PG_PARAMS, REPO, World, fakeId, makeConnections, ordersGraph } from './lib.mjs';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('tools: happy paths', () => {
  let world;
  let org;
  let s;
  const ids = {};

  before(async () => {
    world = new World('tools');
    org = world.tenant('tools-org');
    s = await world.connect(org.key, { name: 'tools' });
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('list_connection_types shows the catalog with params schemas and secret params', async () => {
    const all = (await s.ok('list_connection_types')).connection_types;
    const types = all.map((t) => t.type);
    for (const t of ['postgres', 'csv', 'mysql', 'sqlite', 'jsonl', 'http']) {
      assert.ok(types.includes(t), `catalog has ${t}: ${types}`);
    }
    const pg = all.find((t) => t.type === 'postgres');
    assert.deepEqual(pg.secret_params, ['password']);
    assert.deepEqual(pg.params_schema.required, ['host', 'database', 'user']);
    assert.deepEqual(pg.categories.sort(), ['destination', 'source']);
    assert.deepEqual(all.find((t) => t.type === 'csv').secret_params, []);
    for (const category of ['source', 'destination']) {
      const some = (await s.ok('list_connection_types', { category })).connection_types;
      assert.ok(some.length > 0);
      for (const t of some) assert.ok(t.categories.includes(category), `${t.type} is a ${category}`);
    }
  });

  it('list_connection_types publishes every node type with its config schema, straight from the catalog', async () => {
    const catalog = path.join(REPO, 'src/engine/catalog');
    const files = fs.readdirSync(catalog).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(catalog, f), 'utf8')));
    const r = await s.ok('list_connection_types');
    assert.ok(Array.isArray(r.node_types), `node_types published: ${Object.keys(r)}`);
    const key = (n) => `${n.kind}/${n.type}`;
    const want = [];
    for (const f of files) {
      if (f.kind === 'transform') want.push({ kind: 'transform', type: f.type, config: f.config, inputs: f.inputs ?? { min: 1, max: 1 } });
      if (f.kind === 'connection' && f.source_config) want.push({ kind: 'source', type: f.type, config: f.source_config, inputs: { min: 0, max: 0 } });
      if (f.kind === 'connection' && f.destination_config) want.push({ kind: 'destination', type: f.type, config: f.destination_config, inputs: { min: 1, max: 1 } });
    }
    assert.deepEqual(r.node_types.map(key).sort(), want.map(key).sort());
    for (const w of want) {
      const n = r.node_types.find((x) => key(x) === key(w));
      assert.deepEqual(n.config_schema, w.config, `${key(w)}: the catalog's config schema`);
      assert.deepEqual(n.inputs, { min: w.inputs.min ?? 1, max: w.inputs.max ?? 1 }, `${key(w)} inputs`);
      assert.equal(n.needs_connection, w.kind !== 'transform');
      assert.equal(typeof n.title, 'string');
      assert.ok(n.description.length > 10, `${key(w)} description`);
    }
    const join = r.node_types.find((n) => key(n) === 'transform/join');
    assert.deepEqual(join.inputs, { min: 2, max: 2 });
    assert.deepEqual(join.config_schema.required, ['left_keys', 'right_keys']);
    // The category filter narrows the sources and destinations; transforms always come.
    const src = await s.ok('list_connection_types', { category: 'source' });
    assert.ok(src.node_types.every((n) => n.kind !== 'destination'));
    assert.ok(src.node_types.some((n) => n.kind === 'transform'));
    assert.ok(src.node_types.some((n) => key(n) === 'source/postgres'));
    // What is published is what the validator enforces: a required config field it lists is
    // the one a graph without it is refused for.
    const filter = r.node_types.find((n) => key(n) === 'transform/filter');
    const missing = filter.config_schema.required[0];
    const e = await s.fail('create_pipeline', {
      name: 'probe', description: 'x', dry_run: true,
      graph: { nodes: [{ id: 'f', kind: 'transform', type: 'filter', config: {} }], edges: [] },
    }, 'invalid_argument');
    assert.ok(e.message.includes(missing), e.message);
  });

  it('create_connection: a postgres source with a password; a csv destination', async () => {
    const pg = await s.ok('create_connection', {
      name: 'warehouse', type: 'postgres', category: 'source', params: { ...PG_PARAMS, password: 'hunter2-e2e' },
    });
    assert.match(pg.connection_id, /^conn_[0-9A-Za-z]{22}$/);
    assert.equal(pg.name, 'warehouse');
    assert.equal(pg.type, 'postgres');
    assert.equal(pg.category, 'source');
    assert.deepEqual(pg.params, { ...PG_PARAMS, password_set: true });
    assert.match(pg.created_at, RFC3339);
    assert.match(pg.updated_at, RFC3339);
    ids.pg = pg.connection_id;

    const csv = await s.ok('create_connection', {
      name: 'exports', type: 'csv', category: 'destination', params: { path: 'exports', delimiter: ';' },
    });
    assert.deepEqual(csv.params, { path: 'exports', delimiter: ';' });
    ids.csv = csv.connection_id;

    const pg2 = await s.ok('create_connection', {
      name: 'replica', type: 'postgres', category: 'source', params: { host: 'replica.example.com', database: 'shop', user: 'ro' },
    });
    assert.equal(pg2.params.password_set, false);
    ids.pg2 = pg2.connection_id;
  });

  it('create_connection refuses bad input with the field named', async () => {
    let e = await s.fail('create_connection', { name: 'warehouse', type: 'csv', category: 'source', params: { path: 'x' } }, 'conflict');
    assert.equal(e.field, 'name');
    e = await s.fail('create_connection', { name: 'x1', type: 'oracle', category: 'source', params: {} }, 'invalid_argument');
    assert.equal(e.field, 'type');
    assert.match(e.hint, /postgres/);
    e = await s.fail('create_connection', { name: 'x2', type: 'postgres', category: 'source', params: { host: 'h', database: 'd' } }, 'invalid_argument');
    assert.match(e.text, /user/);
    e = await s.fail('create_connection', { name: 'x3', type: 'postgres', category: 'source', params: { ...PG_PARAMS, port: 70000 } }, 'invalid_argument');
    assert.match(e.text, /port/);
    e = await s.fail('create_connection', { name: 'x4', type: 'postgres', category: 'source', params: { ...PG_PARAMS, hots: 'h' } }, 'invalid_argument');
    assert.match(e.text, /hots/);
  });

  it('list_connectors: filters and paging with limit 1 and next_cursor', async () => {
    const all = await s.ok('list_connectors');
    assert.equal(all.connectors.length, 3);
    assert.equal(all.next_cursor, null);
    for (const c of all.connectors) {
      assert.equal(c.params.password, undefined, 'no secret in a list');
    }
    const sources = await s.ok('list_connectors', { category: 'source' });
    assert.deepEqual(sources.connectors.map((c) => c.connection_id).sort(), [ids.pg, ids.pg2].sort());
    const csv = await s.ok('list_connectors', { type: 'csv' });
    assert.deepEqual(csv.connectors.map((c) => c.connection_id), [ids.csv]);
    const none = await s.ok('list_connectors', { type: 'csv', category: 'source' });
    assert.deepEqual(none, { connectors: [], next_cursor: null });

    const seen = [];
    let cursor;
    for (let page = 0; page < 10; page++) {
      const args = { limit: 1 };
      if (cursor) args.cursor = cursor;
      const r = await s.ok('list_connectors', args);
      assert.ok(r.connectors.length <= 1);
      seen.push(...r.connectors.map((c) => c.connection_id));
      cursor = r.next_cursor;
      if (!cursor) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.equal(cursor, null, 'the last page has next_cursor null');
    assert.deepEqual(seen, all.connectors.map((c) => c.connection_id), 'pages in the same order, each once');
    await s.fail('list_connectors', { cursor: 'not-a-cursor' }, 'invalid_argument');
  });

  it('update_connection: only the given params change and password_set stays true', async () => {
    const u = await s.ok('update_connection', { connection_id: ids.pg, params: { port: 6543 } });
    assert.deepEqual(u.params, { ...PG_PARAMS, port: 6543, password_set: true });
    assert.equal(u.name, 'warehouse');
    const renamed = await s.ok('update_connection', { connection_id: ids.pg, name: 'warehouse-primary' });
    assert.equal(renamed.name, 'warehouse-primary');
    assert.deepEqual(renamed.params, u.params);
    const pw = await s.ok('update_connection', { connection_id: ids.pg, params: { password: 'rotated-e2e' } });
    assert.deepEqual(pw.params, u.params);
    const e = await s.fail('update_connection', { connection_id: ids.pg }, 'invalid_argument');
    assert.match(e.message, /nothing to change/);
    await s.fail('update_connection', { connection_id: ids.pg, name: 'exports' }, 'conflict');
    await s.fail('update_connection', { connection_id: ids.pg, params: { port: 'x' } }, 'invalid_argument');
    const listed = (await s.ok('list_connectors', { type: 'postgres' })).connectors.find((c) => c.connection_id === ids.pg);
    assert.deepEqual(listed.params, u.params, 'a refused update changed nothing');
    assert.equal(listed.name, 'warehouse-primary');
  });

  it('update_connection: null removes an optional param', async () => {
    const u = await s.ok('update_connection', { connection_id: ids.pg, params: { sslmode: null } });
    const { sslmode, ...rest } = PG_PARAMS;
    assert.equal(sslmode, 'require');
    assert.deepEqual(u.params, { ...rest, port: 6543, password_set: true });
    const e = await s.fail('update_connection', { connection_id: ids.pg, params: { host: null } }, 'invalid_argument');
    assert.match(e.text, /host/, 'a required param cannot be removed');
  });

  it('update_connection on connections without secrets (csv; postgres without password)', async () => {
    const c = await s.ok('update_connection', { connection_id: ids.csv, params: { delimiter: ',' } });
    assert.deepEqual(c.params, { path: 'exports', delimiter: ',' });
    const r = await s.ok('update_connection', { connection_id: ids.pg2, params: { port: 5433 } });
    assert.equal(r.params.port, 5433);
    assert.equal(r.params.password_set, false);
  });

  it('create_pipeline with a graph: postgres → filter → dedupe → csv', async () => {
    const graph = ordersGraph(ids.pg, ids.csv);
    const r = await s.ok('create_pipeline', { name: 'Orders daily', description: 'Paid orders to CSV', graph });
    assert.equal(r.dry_run, false);
    const p = r.pipeline;
    assert.match(p.pipeline_id, /^pl_[0-9A-Za-z]{22}$/);
    assert.equal(p.name, 'Orders daily');
    assert.equal(p.description, 'Paid orders to CSV');
    assert.equal(p.status, 'active');
    assert.equal(p.revision, 1);
    assert.deepEqual(p.graph, graph);
    assert.deepEqual(p.connections, [ids.pg, ids.csv].sort());
    assert.deepEqual(p.schedules, []);
    assert.equal(p.last_run, null);
    ids.p1 = p.pipeline_id;
    ids.graph1 = graph;

    const m = await s.ok('create_pipeline', {
      name: 'Marketing sync', description: 'replica to csv', graph: ordersGraph(ids.pg2, ids.csv, { condition: 'amount > 0' }),
    });
    ids.p2 = m.pipeline.pipeline_id;
    await s.fail('create_pipeline', { name: 'Orders daily', description: 'dup', graph }, 'conflict');
  });

  it('create_pipeline refuses invalid graphs and saves nothing', async () => {
    const g = ordersGraph(ids.pg, ids.csv);
    const cases = [
      [{
        nodes: [...g.nodes, { id: 'u', kind: 'transform', type: 'union', config: {} }],
        edges: [{ from: 'orders', to: 'u' }, { from: 'u', to: 'recent' }, { from: 'recent', to: 'dedupe' },
          { from: 'dedupe', to: 'u' }, { from: 'dedupe', to: 'load' }],
      }, /cycle/],
      [{ ...g, edges: [...g.edges, { from: 'load', to: 'orders' }] }, /source/],
      [{ ...g, edges: [...g.edges, { from: 'dedupe', to: 'nowhere' }] }, /nowhere/],
      [{ nodes: g.nodes.slice(0, 3), edges: g.edges.slice(0, 2) }, /destination/],
      [{ ...g, nodes: [{ ...g.nodes[0], type: 'oracle' }, ...g.nodes.slice(1)] }, /oracle|type/],
      [{ ...g, nodes: [{ ...g.nodes[0], connection_id: fakeId('conn_') }, ...g.nodes.slice(1)] }, /connection not found/],
      [{ ...g, nodes: [{ ...g.nodes[0], connection_id: ids.csv }, ...g.nodes.slice(1)] }, /connection_id/],
      [{ ...g, nodes: [g.nodes[0], { ...g.nodes[1], config: {} }, ...g.nodes.slice(2)] }, /condition/],
    ];
    for (const [graph, re] of cases) {
      const e = await s.fail('create_pipeline', { name: 'bad graph', description: 'x', graph }, 'invalid_argument');
      assert.match(e.text, re);
      assert.ok(e.field?.startsWith('graph'), `field names the graph path: ${e.text}`);
    }
    const e = await s.fail('create_pipeline', { name: 'no graph', description: 'x' }, 'not_available');
    assert.equal(e.field, 'graph');
    const list = await s.ok('list_pipelines');
    assert.equal(list.pipelines.length, 2);
  });

  it('create_pipeline dry_run validates and saves nothing', async () => {
    const graph = ordersGraph(ids.pg, ids.csv);
    const r = await s.ok('create_pipeline', { name: 'Dry', description: 'dry run', graph, dry_run: true });
    assert.equal(r.dry_run, true);
    assert.equal(r.valid, true);
    assert.deepEqual(r.graph, graph);
    assert.deepEqual(r.connections.sort(), [ids.pg, ids.csv].sort());
    assert.equal(r.pipeline, undefined);
    const list = await s.ok('list_pipelines', { query: 'Dry' });
    assert.deepEqual(list.pipelines, []);
  });

  it('get_pipeline shows the current graph and revision', async () => {
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p1 });
    assert.equal(p.pipeline_id, ids.p1);
    assert.equal(p.revision, 1);
    assert.equal(p.health, 'unknown');
    assert.deepEqual(p.graph, ids.graph1);
    assert.match(p.created_at, RFC3339);
    await s.fail('get_pipeline', { pipeline_id: fakeId('pl_') }, 'not_found');
    const e = await s.fail('get_pipeline', { pipeline_id: ids.pg }, 'invalid_argument');
    assert.match(e.message, /connection id/, 'a connection id where a pipeline id belongs gets a precise error');
  });

  it('list_pipelines: status and query filters, paging', async () => {
    const all = await s.ok('list_pipelines');
    assert.deepEqual(all.pipelines.map((p) => p.pipeline_id).sort(), [ids.p1, ids.p2].sort());
    assert.equal(all.next_cursor, null);
    const p1 = all.pipelines.find((p) => p.pipeline_id === ids.p1);
    assert.equal(p1.node_count, 4);
    assert.equal(p1.graph, undefined, 'the summary has no graph');
    assert.deepEqual((await s.ok('list_pipelines', { query: 'ORDERS' })).pipelines.map((p) => p.pipeline_id), [ids.p1]);
    assert.deepEqual((await s.ok('list_pipelines', { query: 'replica' })).pipelines.map((p) => p.pipeline_id), [ids.p2], 'query matches the description');
    assert.deepEqual((await s.ok('list_pipelines', { query: '%' })).pipelines, [], 'LIKE wildcards are literal');
    assert.deepEqual((await s.ok('list_pipelines', { status: 'paused' })).pipelines, []);
    assert.equal((await s.ok('list_pipelines', { status: 'active' })).pipelines.length, 2);
    const page1 = await s.ok('list_pipelines', { limit: 1 });
    assert.equal(page1.pipelines.length, 1);
    assert.equal(typeof page1.next_cursor, 'string');
    const page2 = await s.ok('list_pipelines', { limit: 1, cursor: page1.next_cursor });
    assert.equal(page2.pipelines.length, 1);
    assert.equal(page2.next_cursor, null);
    assert.deepEqual([page1.pipelines[0].pipeline_id, page2.pipelines[0].pipeline_id], all.pipelines.map((p) => p.pipeline_id));
  });

  it('pause_pipeline / resume_pipeline report whether anything changed', async () => {
    let r = await s.ok('pause_pipeline', { pipeline_id: ids.p1 });
    assert.equal(r.changed, true);
    assert.equal(r.pipeline.status, 'paused');
    r = await s.ok('pause_pipeline', { pipeline_id: ids.p1 });
    assert.equal(r.changed, false);
    assert.deepEqual((await s.ok('list_pipelines', { status: 'paused' })).pipelines.map((p) => p.pipeline_id), [ids.p1]);
    r = await s.ok('resume_pipeline', { pipeline_id: ids.p1 });
    assert.equal(r.changed, true);
    assert.equal(r.pipeline.status, 'active');
    r = await s.ok('resume_pipeline', { pipeline_id: ids.p1 });
    assert.equal(r.changed, false);
    assert.equal(r.pipeline.revision, 1, 'pause/resume do not make revisions');
  });

  it('update_pipeline makes a new revision; a stale base_revision is a conflict', async () => {
    const graph2 = ordersGraph(ids.pg, ids.csv, { condition: 'amount > 500' });
    const dry = await s.ok('update_pipeline', { pipeline_id: ids.p1, description: 'raise threshold', graph: graph2, base_revision: 1, dry_run: true });
    assert.equal(dry.dry_run, true);
    assert.equal(dry.current_revision, 1);
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.p1 })).revision, 1, 'dry run saved nothing');

    const r = await s.ok('update_pipeline', { pipeline_id: ids.p1, description: 'raise threshold', graph: graph2, base_revision: 1 });
    assert.equal(r.dry_run, false);
    assert.equal(r.changed, true);
    assert.equal(r.pipeline.revision, 2);
    assert.deepEqual(r.pipeline.graph, graph2);
    const same = await s.ok('update_pipeline', { pipeline_id: ids.p1, description: 'no-op', graph: graph2 });
    assert.equal(same.changed, false);
    assert.equal(same.pipeline.revision, 2);

    const e = await s.fail('update_pipeline', { pipeline_id: ids.p1, description: 'stale', graph: ids.graph1, base_revision: 1 }, 'conflict');
    assert.equal(e.field, 'base_revision');
    assert.match(e.hint, /2/);
    const got = await s.ok('get_pipeline', { pipeline_id: ids.p1 });
    assert.equal(got.revision, 2);
    assert.deepEqual(got.graph, graph2);
    assert.equal(got.description, 'Paid orders to CSV', 'the pipeline description is not the change note');
    await s.fail('update_pipeline', { pipeline_id: ids.p1, description: 'no graph' }, 'not_available');
  });

  it('list_pipelines shows the node count of the current revision', async () => {
    // Its own organization, so the story's pipelines and counts are untouched.
    const s2 = await world.connect(world.tenant('tools-nodes').key, { name: 'tools-nodes' });
    try {
      const { pg, csv } = await makeConnections(s2, 'nodes');
      const four = ordersGraph(pg.connection_id, csv.connection_id);
      const p = (await s2.ok('create_pipeline', { name: 'Node count', description: 'four nodes', graph: four })).pipeline;
      const listed = async () => (await s2.ok('list_pipelines')).pipelines.find((x) => x.pipeline_id === p.pipeline_id);
      assert.equal((await listed()).node_count, 4);
      const three = {
        nodes: four.nodes.filter((n) => n.id !== 'dedupe'),
        edges: [{ from: 'orders', to: 'recent' }, { from: 'recent', to: 'load' }],
      };
      await s2.ok('update_pipeline', { pipeline_id: p.pipeline_id, description: 'no dedupe', graph: three });
      const after3 = await listed();
      assert.equal(after3.node_count, 3, 'the list follows the new revision');
      assert.equal(after3.revision, 2);
    } finally {
      assert.equal(await s2.close(), 0);
    }
  });

  it('create_schedule: daily in America/New_York; wrong label, bad cron and bad zone are refused', async () => {
    const sc = await s.ok('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * * *', timezone: 'America/New_York' });
    assert.match(sc.schedule_id, /^sch_[0-9A-Za-z]{22}$/);
    assert.equal(sc.pipeline_id, ids.p1);
    assert.equal(sc.cron_expression, '0 6 * * *');
    assert.equal(sc.frequency, 'daily');
    assert.equal(sc.timezone, 'America/New_York');
    assert.equal(sc.enabled, true);
    assert.equal(sc.misfire, 'run_latest');
    ids.s1 = sc.schedule_id;
    const hourly = await s.ok('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 * * * *', frequency: 'hourly' });
    assert.equal(hourly.timezone, 'UTC', 'the default zone');
    ids.s2 = hourly.schedule_id;
    const custom = await s.ok('create_schedule', { pipeline_id: ids.p2, cron_expression: '*/15 9-17 * * MON-FRI', frequency: 'custom' });
    assert.equal(custom.frequency, 'custom');
    ids.s3 = custom.schedule_id;

    let e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * * *', frequency: 'weekly' }, 'invalid_argument');
    assert.equal(e.field, 'frequency');
    assert.match(e.message, /daily/, `explains the expression is daily: ${e.message}`);
    assert.match(e.hint, /MON|weekly|daily/);
    e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '61 6 * * *' }, 'invalid_argument');
    assert.equal(e.field, 'cron_expression');
    assert.match(e.message, /minute/i, `names the cron field: ${e.message}`);
    e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * *' }, 'invalid_argument');
    assert.equal(e.field, 'cron_expression');
    e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 25 * * *' }, 'invalid_argument');
    assert.match(e.message, /hour/i);
    e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * * *', timezone: 'Mars/Olympus_Mons' }, 'invalid_argument');
    assert.equal(e.field, 'timezone');
    e = await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * * *', timezone: '../../etc/passwd' }, 'invalid_argument');
    assert.equal(e.field, 'timezone');
    await s.fail('create_schedule', { pipeline_id: fakeId('pl_'), cron_expression: '0 6 * * *' }, 'not_found');
  });

  it('list_schedules: filters and paging', async () => {
    const all = await s.ok('list_schedules');
    assert.equal(all.schedules.length, 3);
    assert.equal(all.next_cursor, null);
    const p1 = await s.ok('list_schedules', { pipeline_id: ids.p1 });
    assert.deepEqual(p1.schedules.map((x) => x.schedule_id).sort(), [ids.s1, ids.s2].sort());
    assert.deepEqual((await s.ok('list_schedules', { enabled: false })).schedules, []);
    assert.equal((await s.ok('list_schedules', { enabled: true })).schedules.length, 3);
    const seen = [];
    let cursor = null;
    do {
      const r = await s.ok('list_schedules', cursor ? { limit: 2, cursor } : { limit: 2 });
      seen.push(...r.schedules.map((x) => x.schedule_id));
      cursor = r.next_cursor;
    } while (cursor && seen.length < 10);
    assert.deepEqual(seen, all.schedules.map((x) => x.schedule_id));
    await s.fail('list_schedules', { pipeline_id: fakeId('pl_') }, 'not_found');
  });

  it('update_schedule changes only the given fields', async () => {
    let r = await s.ok('update_schedule', { schedule_id: ids.s1, cron_expression: '30 7 * * MON' });
    assert.equal(r.cron_expression, '30 7 * * MON');
    assert.equal(r.frequency, 'weekly', 'the label is derived from a new expression');
    assert.equal(r.timezone, 'America/New_York');
    r = await s.ok('update_schedule', { schedule_id: ids.s1, timezone: 'Europe/Berlin' });
    assert.equal(r.cron_expression, '30 7 * * MON');
    assert.equal(r.timezone, 'Europe/Berlin');
    assert.equal(r.frequency, 'weekly');
    let e = await s.fail('update_schedule', { schedule_id: ids.s1 }, 'invalid_argument');
    assert.match(e.message, /nothing to change/);
    e = await s.fail('update_schedule', { schedule_id: ids.s1, frequency: 'monthly' }, 'invalid_argument');
    assert.equal(e.field, 'frequency');
    e = await s.fail('update_schedule', { schedule_id: ids.s1, cron_expression: 'every day' }, 'invalid_argument');
    assert.equal(e.field, 'cron_expression');
    const unchanged = (await s.ok('list_schedules', { pipeline_id: ids.p1 })).schedules.find((x) => x.schedule_id === ids.s1);
    assert.equal(unchanged.cron_expression, '30 7 * * MON');
  });

  it('disable_schedule / enable_schedule report changes', async () => {
    let r = await s.ok('disable_schedule', { schedule_id: ids.s1 });
    assert.equal(r.changed, true);
    assert.equal(r.schedule.enabled, false);
    r = await s.ok('disable_schedule', { schedule_id: ids.s1 });
    assert.equal(r.changed, false);
    assert.deepEqual((await s.ok('list_schedules', { enabled: false })).schedules.map((x) => x.schedule_id), [ids.s1]);
    r = await s.ok('enable_schedule', { schedule_id: ids.s1 });
    assert.equal(r.changed, true);
    assert.equal(r.schedule.enabled, true);
    r = await s.ok('enable_schedule', { schedule_id: ids.s1 });
    assert.equal(r.changed, false);
  });

  it('delete_schedule is permanent', async () => {
    const r = await s.ok('delete_schedule', { schedule_id: ids.s2 });
    assert.deepEqual(r, { schedule_id: ids.s2, deleted: true });
    await s.fail('delete_schedule', { schedule_id: ids.s2 }, 'not_found');
    await s.fail('enable_schedule', { schedule_id: ids.s2 }, 'not_found');
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p1 });
    assert.deepEqual(p.schedules.map((x) => x.schedule_id), [ids.s1]);
    assert.equal(p.schedules[0].enabled, true);
  });

  it('runs, health and trigger answer for owned pipelines only; test_connection probes owned connections only', async () => {
    for (const name of ['trigger_pipeline', 'get_run_history', 'get_pipeline_health']) {
      await s.fail(name, { pipeline_id: fakeId('pl_') }, 'not_found');
    }
    const h = await s.ok('get_run_history', { pipeline_id: ids.p1, limit: 5, status: 'failed' });
    assert.deepEqual(h, { pipeline_id: ids.p1, runs: [], next_cursor: null });
    const health = await s.ok('get_pipeline_health', { pipeline_id: ids.p1, window: '24h' });
    assert.equal(health.window, '24h');
    assert.equal(health.runs.total, 0);
    const t = await s.ok('trigger_pipeline', { pipeline_id: ids.p1, params: { day: '2024-01-01' }, wait_seconds: 0, idempotency_key: 'k1' });
    assert.equal(t.run.pipeline_id, ids.p1);
    assert.equal(t.replayed, false);
    // db.example.com is no server of ours: a result saying unreachable, not a tool error.
    for (const arg of ['connector_id', 'connection_id']) {
      const r = await s.ok('test_connection', { [arg]: ids.pg });
      assert.equal(r.reachable, false);
      assert.equal(typeof r.error.code, 'string');
      assert.ok(!JSON.stringify(r).includes('hunter2-e2e'));
    }
    await s.fail('test_connection', { connector_id: fakeId('conn_') }, 'not_found');
    const e = await s.fail('test_connection', {}, 'invalid_argument');
    assert.equal(e.field, 'connector_id');
  });

  it('delete_connection is refused while a pipeline uses it, naming the pipeline', async () => {
    const e = await s.fail('delete_connection', { connection_id: ids.pg }, 'in_use');
    assert.ok(e.message.includes(ids.p1), `names the pipeline id: ${e.message}`);
    assert.match(e.message, /Orders daily/);
    assert.ok(e.hint);
  });

  it('delete_pipeline is soft: gone from list/get, schedules disabled', async () => {
    const r = await s.ok('delete_pipeline', { pipeline_id: ids.p1 });
    assert.equal(r.pipeline_id, ids.p1);
    assert.equal(r.deleted, true);
    assert.equal(r.schedules_disabled, 1);
    assert.match(r.restore, /pipeline restore/);
    await s.fail('get_pipeline', { pipeline_id: ids.p1 }, 'not_found');
    await s.fail('delete_pipeline', { pipeline_id: ids.p1 }, 'not_found');
    await s.fail('pause_pipeline', { pipeline_id: ids.p1 }, 'not_found');
    await s.fail('create_schedule', { pipeline_id: ids.p1, cron_expression: '0 6 * * *' }, 'not_found');
    await s.fail('enable_schedule', { schedule_id: ids.s1 }, 'not_found');
    assert.deepEqual((await s.ok('list_pipelines')).pipelines.map((p) => p.pipeline_id), [ids.p2]);
    assert.deepEqual((await s.ok('list_schedules')).schedules.map((x) => x.schedule_id), [ids.s3]);
    // A new pipeline may take the deleted one's name? Not checked: restore must then refuse.
    const e = await s.fail('delete_connection', { connection_id: ids.pg }, 'in_use');
    assert.match(e.message, /restorable/, 'a soft-deleted user still blocks the delete');
  });

  it('`pipeline restore` brings it back with its schedules disabled', async () => {
    const r = world.cli(['pipeline', 'restore', ids.p1, '--org', org.orgId]);
    assert.match(r.stdout, /restored/);
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p1 });
    assert.equal(p.revision, 2);
    assert.deepEqual(p.schedules.map((x) => [x.schedule_id, x.enabled]), [[ids.s1, false]]);
    assert.equal((await s.ok('list_pipelines')).pipelines.length, 2);
    const again = world.cli(['pipeline', 'restore', ids.p1, '--org', org.orgId], { allowFail: true });
    assert.notEqual(again.status, 0, 'restoring a live pipeline fails');
    const en = await s.ok('enable_schedule', { schedule_id: ids.s1 });
    assert.equal(en.schedule.enabled, true);
  });

  it('delete_connection works once no pipeline graph uses it', async () => {
    const graph3 = ordersGraph(ids.pg2, ids.csv, { condition: 'amount > 500' });
    const u = await s.ok('update_pipeline', { pipeline_id: ids.p1, description: 'move to replica', graph: graph3, base_revision: 2 });
    assert.equal(u.pipeline.revision, 3);
    assert.deepEqual(u.pipeline.connections, [ids.pg2, ids.csv].sort());
    const d = await s.ok('delete_connection', { connection_id: ids.pg });
    assert.deepEqual(d, { connection_id: ids.pg, deleted: true });
    await s.fail('delete_connection', { connection_id: ids.pg }, 'not_found');
    await s.fail('update_connection', { connection_id: ids.pg, name: 'x' }, 'not_found');
    assert.deepEqual((await s.ok('list_connectors')).connectors.map((c) => c.connection_id).sort(), [ids.pg2, ids.csv].sort());
    // The old revision's graph referenced it, but only the current graph counts.
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p1 });
    assert.equal(p.revision, 3);
  });
});
