// Scope matrix: for each of the 7 scopes, a key with only that scope and a key with every scope
// but that one call all 22 tools. A tool passes the scope check exactly when the key holds the
// tool's scope (from its spec file); otherwise the result is isError with "Insufficient
// permissions" and the scope's name.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { SCOPES, World, fakeId, loadSpecs, makeConnections, ordersGraph, unique } from './lib.mjs';

const specs = loadSpecs();

describe('scope matrix', () => {
  let world;
  let org;
  const fx = {};

  before(async () => {
    world = new World('scopes');
    org = world.tenant('scopes-org');
    const admin = await world.connect(org.key, { name: 'admin' });
    const { pg, csv } = await makeConnections(admin, 'scopes');
    fx.pg = pg.connection_id;
    fx.csv = csv.connection_id;
    fx.graph = ordersGraph(fx.pg, fx.csv);
    fx.p = (await admin.ok('create_pipeline', { name: 'scoped', description: 'fixture', graph: fx.graph })).pipeline.pipeline_id;
    fx.s = (await admin.ok('create_schedule', { pipeline_id: fx.p, cron_expression: '0 6 * * *' })).schedule_id;
    await admin.close();
  });

  after(async () => {
    await world.finish();
  });

  // Arguments that pass validation; tools that would destroy fixtures get nonexistent ids
  // (not_found is past the scope check too).
  function argsFor(tool) {
    switch (tool) {
      case 'list_pipelines': return { limit: 5 };
      case 'get_pipeline':
      case 'get_run_history':
      case 'get_pipeline_health':
      case 'trigger_pipeline':
      case 'pause_pipeline':
      case 'resume_pipeline': return { pipeline_id: fx.p };
      case 'create_pipeline': return { name: unique('p'), description: 'scope test', graph: fx.graph };
      case 'update_pipeline': return { pipeline_id: fx.p, description: 'same graph', graph: fx.graph };
      case 'delete_pipeline': return { pipeline_id: fakeId('pl_') };
      case 'list_schedules': return { pipeline_id: fx.p };
      case 'create_schedule': return { pipeline_id: fx.p, cron_expression: '15 * * * *' };
      case 'update_schedule': return { schedule_id: fx.s, timezone: 'UTC' };
      case 'delete_schedule': return { schedule_id: fakeId('sch_') };
      case 'enable_schedule':
      case 'disable_schedule': return { schedule_id: fx.s };
      case 'list_connectors': return { category: 'source' };
      case 'test_connection': return { connector_id: fx.pg };
      case 'list_connection_types': return {};
      case 'create_connection': return { name: unique('c'), type: 'csv', category: 'destination', params: { path: 'out' } };
      case 'update_connection': return { connection_id: fx.pg, params: { port: 5433 } };
      case 'delete_connection': return { connection_id: fakeId('conn_') };
      default: throw new Error(`no arguments for ${tool}`);
    }
  }

  // Results past the scope check that are expected without the engine.
  const PAST_SCOPE_ERRORS = {
    delete_pipeline: 'not_found',
    delete_schedule: 'not_found',
    delete_connection: 'not_found',
  };

  async function check(s, held, label) {
    const problems = [];
    for (const tool of Object.keys(specs)) {
      const scope = specs[tool].scope;
      const r = await s.call(tool, argsFor(tool));
      const text = r.content?.[0]?.text ?? '';
      if (held.has(scope)) {
        const want = PAST_SCOPE_ERRORS[tool];
        if (want) {
          if (!r.isError || JSON.parse(text).error.code !== want) problems.push(`${label} ${tool}: expected ${want}, got ${text}`);
        } else if (r.isError) {
          problems.push(`${label} ${tool}: expected success, got ${text}`);
        }
      } else {
        if (!r.isError) {
          problems.push(`${label} ${tool}: succeeded without ${scope}`);
          continue;
        }
        const e = JSON.parse(text).error;
        if (!text.includes('Insufficient permissions') || !text.includes(scope) || e.code !== 'insufficient_permissions') {
          problems.push(`${label} ${tool}: expected Insufficient permissions naming ${scope}, got ${text}`);
        }
        assert.equal(r.structuredContent, undefined);
      }
    }
    assert.deepEqual(problems, []);
  }

  for (const scope of SCOPES) {
    it(`a key with only ${scope}`, async () => {
      const k = world.key(org.orgId, scope);
      const s = await world.connect(k.key, { name: `only-${scope.replace(':', '-')}` });
      await check(s, new Set([scope]), `only ${scope}:`);
      assert.equal(await s.close(), 0);
    });

    it(`a key with every scope but ${scope}`, async () => {
      const held = SCOPES.filter((x) => x !== scope);
      const k = world.key(org.orgId, held.join(','));
      const s = await world.connect(k.key, { name: `but-${scope.replace(':', '-')}` });
      await check(s, new Set(held), `all but ${scope}:`);
      assert.equal(await s.close(), 0);
    });
  }

  it('each tool names a scope from the closed set', () => {
    for (const [tool, spec] of Object.entries(specs)) {
      assert.ok(SCOPES.includes(spec.scope), `${tool}: ${spec.scope}`);
      const read = spec.annotations.readOnlyHint;
      assert.equal(spec.scope.endsWith(':read'), read, `${tool}: read scope iff readOnlyHint (${spec.scope})`);
    }
  });
});
