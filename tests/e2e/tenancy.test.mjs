// Cross-tenant matrix: org B's key, for every tool and id argument, gets the very same "not
// found" text for org A's id, a nonexistent id, a soft-deleted pipeline's id and a malformed
// id; org_id in arguments is refused; org A's objects are unchanged afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { World, fakeId, loadSpecs, makeConnections, ordersGraph } from './lib.mjs';

const specs = loadSpecs();

describe('tenant isolation', () => {
  let world;
  let orgA;
  let orgB;
  let a;
  let b;
  const A = {};
  const B = {};
  let snapshotBefore;

  async function snapshotA() {
    return {
      pipelines: await a.ok('list_pipelines'),
      p: await a.ok('get_pipeline', { pipeline_id: A.p }),
      schedules: await a.ok('list_schedules'),
      connectors: await a.ok('list_connectors'),
    };
  }

  before(async () => {
    world = new World('tenancy');
    orgA = world.tenant('tenant-a');
    orgB = world.tenant('tenant-b');
    a = await world.connect(orgA.key, { name: 'org-a' });
    b = await world.connect(orgB.key, { name: 'org-b' });

    const ca = await makeConnections(a, 'a');
    A.pg = ca.pg.connection_id;
    A.csv = ca.csv.connection_id;
    A.graph = ordersGraph(A.pg, A.csv);
    A.p = (await a.ok('create_pipeline', { name: 'shared-name', description: 'A pipeline', graph: A.graph })).pipeline.pipeline_id;
    A.s = (await a.ok('create_schedule', { pipeline_id: A.p, cron_expression: '0 6 * * *', timezone: 'Europe/Paris' })).schedule_id;
    // A soft-deleted pipeline of A's, with a schedule.
    A.pDel = (await a.ok('create_pipeline', { name: 'a-deleted', description: 'gone', graph: A.graph })).pipeline.pipeline_id;
    A.sDel = (await a.ok('create_schedule', { pipeline_id: A.pDel, cron_expression: '0 7 * * *' })).schedule_id;
    await a.ok('delete_pipeline', { pipeline_id: A.pDel });

    // B has its own objects, including a soft-deleted pipeline with a schedule.
    const cb = await makeConnections(b, 'b');
    B.pg = cb.pg.connection_id;
    B.csv = cb.csv.connection_id;
    B.graph = ordersGraph(B.pg, B.csv);
    B.p = (await b.ok('create_pipeline', { name: 'shared-name', description: 'B pipeline, same name as A', graph: B.graph })).pipeline.pipeline_id;
    B.pDel = (await b.ok('create_pipeline', { name: 'b-deleted', description: 'gone', graph: B.graph })).pipeline.pipeline_id;
    B.sDel = (await b.ok('create_schedule', { pipeline_id: B.pDel, cron_expression: '0 8 * * *' })).schedule_id;
    await b.ok('delete_pipeline', { pipeline_id: B.pDel });

    snapshotBefore = await snapshotA();
  });

  after(async () => {
    await world.finish();
  });

  function idCases(kind) {
    switch (kind) {
      case 'pipeline': return {
        "A's pipeline": A.p,
        nonexistent: fakeId('pl_'),
        "B's soft-deleted pipeline": B.pDel,
        "A's soft-deleted pipeline": A.pDel,
        malformed: 'pl_!!',
      };
      case 'schedule': return {
        "A's schedule": A.s,
        nonexistent: fakeId('sch_'),
        "B's schedule of a soft-deleted pipeline": B.sDel,
        "A's schedule of a soft-deleted pipeline": A.sDel,
        malformed: 'sch_!!',
      };
      case 'connection': return {
        "A's connection": A.pg,
        "A's other connection": A.csv,
        nonexistent: fakeId('conn_'),
        malformed: 'conn_!!',
      };
      default: throw new Error(kind);
    }
  }

  // tool, id argument, id kind, the other (valid) arguments.
  const MATRIX = [
    ['get_pipeline', 'pipeline_id', 'pipeline', {}],
    ['get_run_history', 'pipeline_id', 'pipeline', {}],
    ['get_pipeline_health', 'pipeline_id', 'pipeline', {}],
    ['trigger_pipeline', 'pipeline_id', 'pipeline', {}],
    ['pause_pipeline', 'pipeline_id', 'pipeline', {}],
    ['resume_pipeline', 'pipeline_id', 'pipeline', {}],
    ['update_pipeline', 'pipeline_id', 'pipeline', () => ({ description: 'hijack', graph: B.graph })],
    ['delete_pipeline', 'pipeline_id', 'pipeline', {}],
    ['list_schedules', 'pipeline_id', 'pipeline', {}],
    ['create_schedule', 'pipeline_id', 'pipeline', { cron_expression: '0 6 * * *' }],
    ['update_schedule', 'schedule_id', 'schedule', { cron_expression: '0 9 * * *' }],
    ['delete_schedule', 'schedule_id', 'schedule', {}],
    ['enable_schedule', 'schedule_id', 'schedule', {}],
    ['disable_schedule', 'schedule_id', 'schedule', {}],
    ['test_connection', 'connector_id', 'connection', {}],
    ['test_connection', 'connection_id', 'connection', {}],
    ['update_connection', 'connection_id', 'connection', { name: 'stolen' }],
    ['delete_connection', 'connection_id', 'connection', {}],
  ];

  it('covers every tool that takes an id argument', () => {
    const idArgs = ['pipeline_id', 'schedule_id', 'connection_id', 'connector_id'];
    const expected = [];
    for (const [tool, spec] of Object.entries(specs)) {
      for (const arg of idArgs) if (spec.inputSchema.properties?.[arg]) expected.push(`${tool}.${arg}`);
    }
    assert.deepEqual(MATRIX.map(([t, arg]) => `${t}.${arg}`).sort(), expected.sort());
  });

  for (const [tool, arg, kind, extra] of MATRIX) {
    it(`${tool}(${arg}): the same "not found" for every id B may not see`, async () => {
      const texts = {};
      for (const [label, id] of Object.entries(idCases(kind))) {
        const args = { ...(typeof extra === 'function' ? extra() : extra), [arg]: id };
        const r = await b.call(tool, args);
        assert.equal(r.isError, true, `${label}: ${JSON.stringify(r)}`);
        texts[label] = r.content[0].text;
      }
      const first = Object.values(texts)[0];
      assert.equal(JSON.parse(first).error.code, 'not_found', first);
      for (const [label, text] of Object.entries(texts)) {
        assert.equal(text, first, `${label} differs from ${Object.keys(texts)[0]}`);
      }
    });
  }

  it('create_pipeline / update_pipeline: a graph naming A\'s connection gets the same error as a missing one', async () => {
    const texts = {};
    for (const [label, id] of Object.entries(idCases('connection'))) {
      const graph = ordersGraph(id, B.csv);
      const r = await b.call('create_pipeline', { name: 'steal', description: 'x', graph });
      assert.equal(r.isError, true, `${label}: ${JSON.stringify(r)}`);
      texts[label] = r.content[0].text;
      const u = await b.call('update_pipeline', { pipeline_id: B.p, description: 'x', graph: ordersGraph(B.pg, id) });
      assert.equal(u.isError, true, `update ${label}: ${JSON.stringify(u)}`);
      texts[`update ${label}`] = u.content[0].text;
    }
    const create = Object.entries(texts).filter(([k]) => !k.startsWith('update '));
    const update = Object.entries(texts).filter(([k]) => k.startsWith('update '));
    for (const group of [create, update]) {
      for (const [label, text] of group) assert.equal(text, group[0][1], `${label} differs from ${group[0][0]}`);
    }
    assert.match(create[0][1], /connection not found/);
  });

  it('lists show only B\'s own objects', async () => {
    const pipelines = (await b.ok('list_pipelines')).pipelines.map((p) => p.pipeline_id);
    assert.deepEqual(pipelines, [B.p]);
    assert.deepEqual((await b.ok('list_pipelines', { query: 'A pipeline' })).pipelines, []);
    assert.deepEqual((await b.ok('list_schedules')).schedules, []);
    const conns = (await b.ok('list_connectors')).connectors.map((c) => c.connection_id).sort();
    assert.deepEqual(conns, [B.pg, B.csv].sort());
  });

  it('org_id in arguments is refused by every tool, naming org_id', async () => {
    for (const tool of Object.keys(specs)) {
      for (const orgId of [orgA.orgId, orgB.orgId]) {
        const r = await b.call(tool, { org_id: orgId });
        const text = r.content?.[0]?.text ?? '';
        assert.equal(r.isError, true, `${tool}: ${text}`);
        const e = JSON.parse(text).error;
        assert.equal(e.field, 'org_id', `${tool}: ${text}`);
        assert.match(e.message, /org_id/);
      }
    }
    // Also alongside otherwise valid arguments.
    const r = await b.call('list_pipelines', { org_id: orgA.orgId, limit: 5 });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /org_id/);
  });

  it('org A\'s objects are unchanged afterwards', async () => {
    const now = await snapshotA();
    assert.deepEqual(now, snapshotBefore);
    assert.equal(now.p.status, 'active');
    assert.equal(now.p.revision, 1);
    assert.deepEqual(now.p.schedules.map((x) => [x.schedule_id, x.cron_expression, x.enabled]), [[A.s, '0 6 * * *', true]]);
    assert.deepEqual(now.connectors.connectors.map((c) => c.name).sort(), ['a-csv', 'a-pg']);
    // A's soft-deleted pipeline is still deleted and restorable by A's operator only.
    await a.fail('get_pipeline', { pipeline_id: A.pDel }, 'not_found');
    const wrongOrg = world.cli(['pipeline', 'restore', A.pDel, '--org', orgB.orgId], { allowFail: true });
    assert.notEqual(wrongOrg.status, 0, "B's operator cannot restore A's pipeline");
    await a.fail('get_pipeline', { pipeline_id: A.pDel }, 'not_found');
  });
});
