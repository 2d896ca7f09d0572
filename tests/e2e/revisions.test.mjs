// Revisions: get_pipeline lists them (newest first: number, time, the key that made it, what it
// changed), and update_pipeline revert_to_revision makes an earlier graph the current one as a
// new revision — validated as the connections stand today, guarded by base_revision, refused for
// a revision the pipeline does not have and together with a graph.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

function graph(src, dst, condition) {
  return {
    nodes: [
      { id: 'orders', kind: 'source', type: 'csv', connection_id: src, config: { file: 'orders.csv' } },
      { id: 'keep', kind: 'transform', type: 'filter', config: { condition } },
      { id: 'load', kind: 'destination', type: 'csv', connection_id: dst, config: { file: 'kept.csv', mode: 'replace' } },
    ],
    edges: [{ from: 'orders', to: 'keep' }, { from: 'keep', to: 'load' }],
  };
}

describe('pipeline revisions and revert_to_revision', () => {
  let world;
  let s;
  let org;
  const ids = {};

  before(async () => {
    world = new World('revisions');
    org = world.tenant('rev-org');
    const filesRoot = path.join(world.root, 'files', org.orgId);
    fs.mkdirSync(path.join(filesRoot, 'in'), { recursive: true });
    fs.writeFileSync(path.join(filesRoot, 'in', 'orders.csv'), 'id,amount\n1,50\n2,150\n');
    s = await world.connect(org.key, { name: 'revisions', env: { PLANASONIX_FILES_ROOT: path.dirname(filesRoot) } });
    ids.src = (await s.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: 'in' } })).connection_id;
    ids.dst = (await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: 'out' } })).connection_id;
    ids.p = (await s.ok('create_pipeline', { name: 'kept', description: 'orders over 100', graph: graph(ids.src, ids.dst, 'amount > 100') })).pipeline.pipeline_id;
    await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'lower the bar', graph: graph(ids.src, ids.dst, 'amount > 10') });
    await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'raise it again', graph: graph(ids.src, ids.dst, 'amount > 1000') });
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('get_pipeline lists the revisions, newest first, with key and change', async () => {
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p });
    assert.equal(p.revision, 3);
    assert.equal(p.revision_count, 3);
    assert.deepEqual(p.revisions.map((r) => [r.revision, r.change]),
      [[3, 'raise it again'], [2, 'lower the bar'], [1, 'created']]);
    for (const r of p.revisions) {
      assert.ok(typeof r.key_id === 'string' && r.key_id.length > 0);
      assert.ok(!Number.isNaN(Date.parse(r.created_at)));
    }
  });

  it('revert_to_revision makes an earlier graph current as a new revision', async () => {
    const dry = await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'back to the lower bar', revert_to_revision: 2, dry_run: true });
    assert.equal(dry.dry_run, true);
    assert.equal(dry.changed, true);
    assert.deepEqual(dry.diff.nodes_changed.map((c) => [c.id, c.before.config.condition, c.after.config.condition]),
      [['keep', 'amount > 1000', 'amount > 10']]);
    assert.deepEqual([dry.diff.nodes_added, dry.diff.nodes_removed, dry.diff.edges_added, dry.diff.edges_removed],
      [[], [], [], []]);
    assert.equal(dry.diff.unchanged_nodes, 2);
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.p })).revision, 3, 'dry_run saves nothing');

    const r = await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'back to the lower bar', revert_to_revision: 2, base_revision: 3 });
    assert.equal(r.changed, true);
    assert.equal(r.pipeline.revision, 4);
    assert.equal(r.pipeline.graph.nodes[1].config.condition, 'amount > 10');
    const p = await s.ok('get_pipeline', { pipeline_id: ids.p });
    assert.deepEqual(p.revisions[0], { ...p.revisions[0], revision: 4, change: 'reverted to revision 2: back to the lower bar' });
    assert.deepEqual(p.graph, (await s.ok('get_pipeline', { pipeline_id: ids.p })).graph);

    const stale = await s.fail('update_pipeline', { pipeline_id: ids.p, description: 'first one', revert_to_revision: 1, base_revision: 3 }, 'conflict');
    assert.equal(stale.field, 'base_revision');
  });

  it('shows an inserted node in the diff, every other node and edge kept', async () => {
    const before = (await s.ok('get_pipeline', { pipeline_id: ids.p })).graph;
    const g = structuredClone(before);
    const tz = { id: 'to_eastern', kind: 'transform', type: 'convert_timezone',
      config: { column: 'ts', from_timezone: 'UTC', to_timezone: 'America/New_York' } };
    g.nodes.splice(2, 0, tz);
    g.edges = [{ from: 'orders', to: 'keep' }, { from: 'keep', to: 'to_eastern' }, { from: 'to_eastern', to: 'load' }];
    const r = await s.ok('update_pipeline', { pipeline_id: ids.p, description: 'eastern time', graph: g, dry_run: true });
    assert.deepEqual(r.diff.nodes_added, [tz]);
    assert.deepEqual(r.diff.nodes_removed, []);
    assert.deepEqual(r.diff.nodes_changed, []);
    assert.deepEqual(r.diff.edges_added, [{ from: 'keep', to: 'to_eastern' }, { from: 'to_eastern', to: 'load' }]);
    assert.deepEqual(r.diff.edges_removed, [{ from: 'keep', to: 'load' }]);
    assert.equal(r.diff.unchanged_nodes, 3);
  });

  it('refuses a revision the pipeline does not have, and graph with revert_to_revision', async () => {
    const e = await s.fail('update_pipeline', { pipeline_id: ids.p, description: 'nope', revert_to_revision: 99 }, 'invalid_argument');
    assert.equal(e.field, 'revert_to_revision');
    assert.match(e.message, /revision 99 of this pipeline does not exist \(it has revisions 1 to 4\)/);
    const both = await s.fail('update_pipeline', {
      pipeline_id: ids.p, description: 'both', revert_to_revision: 1, graph: graph(ids.src, ids.dst, 'amount > 1'),
    }, 'invalid_argument');
    assert.equal(both.field, 'revert_to_revision');
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.p })).revision, 4, 'nothing saved');
  });

  it('another organization cannot read or revert the revisions', async () => {
    const other = world.tenant('rev-other');
    const s2 = await world.connect(other.key, { name: 'rev-other' });
    try {
      await s2.fail('get_pipeline', { pipeline_id: ids.p }, 'not_found');
      await s2.fail('update_pipeline', { pipeline_id: ids.p, description: 'theirs', revert_to_revision: 1 }, 'not_found');
    } finally {
      assert.equal(await s2.close(), 0);
    }
  });
});
