// Hints that can be followed (issue 10 item 19): update_pipeline renames a pipeline, a
// connection held only by deleted pipelines names the CLI purge, `pipeline purge` removes
// deleted pipelines for good (one, or every deleted one of an org), and the CLI's restore
// clash names CLI commands only (restore under another name with --name).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

const graph = (src, dst, file = 'b.csv') => ({
  nodes: [
    { id: 'in', kind: 'source', type: 'csv', connection_id: src, config: { file: 'a.csv' } },
    { id: 'out', kind: 'destination', type: 'csv', connection_id: dst, config: { file, mode: 'replace' } },
  ],
  edges: [{ from: 'in', to: 'out' }],
});

// MCP tool names a CLI hint must not send an operator to.
const TOOL_NAMES = /\b(update_pipeline|delete_pipeline|create_pipeline|list_pipelines|get_pipeline)\b/;

describe('rename, purge and hints that can be followed', () => {
  let world;
  let org;
  let other;
  let s;
  let s2;
  const ids = {};

  before(async () => {
    world = new World('purge');
    org = world.tenant('purge-org');
    other = world.tenant('purge-other');
    s = await world.connect(org.key, { name: 'purge' });
    s2 = await world.connect(other.key, { name: 'purge-other' });
    ids.src = (await s.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: '.' } })).connection_id;
    ids.dst = (await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } })).connection_id;
    ids.only = (await s.ok('create_connection', { name: 'only-deleted', type: 'csv', category: 'destination', params: { path: '.' } })).connection_id;
    ids.a = (await s.ok('create_pipeline', { name: 'alpha', description: 'a', graph: graph(ids.src, ids.dst) })).pipeline.pipeline_id;
    ids.b = (await s.ok('create_pipeline', { name: 'beta', description: 'b', graph: graph(ids.src, ids.only) })).pipeline.pipeline_id;
    const osrc = (await s2.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: '.' } })).connection_id;
    const odst = (await s2.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } })).connection_id;
    ids.otherP = (await s2.ok('create_pipeline', { name: 'theirs', description: 'x', graph: graph(osrc, odst) })).pipeline.pipeline_id;
    await s2.ok('delete_pipeline', { pipeline_id: ids.otherP });
  });

  after(async () => {
    try {
      if (s) assert.equal(await s.close(), 0);
      if (s2) assert.equal(await s2.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('update_pipeline renames without a new revision; a clash is a conflict naming the field', async () => {
    const r = await s.ok('update_pipeline', { pipeline_id: ids.a, name: 'gamma', description: 'rename' });
    assert.equal(r.pipeline.name, 'gamma');
    assert.equal(r.pipeline.revision, 1);
    assert.equal(r.changed, true);
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.a })).name, 'gamma');
    const same = await s.ok('update_pipeline', { pipeline_id: ids.a, name: 'gamma', description: 'rename again' });
    assert.equal(same.changed, false);
    const clash = await s.fail('update_pipeline', { pipeline_id: ids.a, name: 'beta', description: 'rename' }, 'conflict');
    assert.equal(clash.field, 'name');
    assert.match(clash.hint, /another name/);
    const dry = await s.ok('update_pipeline', { pipeline_id: ids.a, name: 'delta', description: 'rename', dry_run: true });
    assert.equal(dry.dry_run, true);
    await s.fail('update_pipeline', { pipeline_id: ids.a, name: 'beta', description: 'rename', dry_run: true }, 'conflict');
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.a })).name, 'gamma', 'a dry run renames nothing');
    // A rename with a graph change is one change: a clash leaves the graph alone too.
    await s.fail('update_pipeline', { pipeline_id: ids.a, name: 'beta', description: 'both', graph: graph(ids.src, ids.dst, 'c.csv') }, 'conflict');
    assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.a })).revision, 1);
    const both = await s.ok('update_pipeline', { pipeline_id: ids.a, name: 'alpha', description: 'both', graph: graph(ids.src, ids.dst, 'c.csv') });
    assert.equal(both.pipeline.name, 'alpha');
    assert.equal(both.pipeline.revision, 2);
  });

  it('a connection used only by deleted pipelines: the hint names the purge', async () => {
    await s.ok('delete_pipeline', { pipeline_id: ids.b });
    const e = await s.fail('delete_connection', { connection_id: ids.only }, 'in_use');
    assert.match(e.hint, /planasonix-mcp pipeline purge/);
    assert.ok(e.hint.includes(ids.b), e.hint);
    assert.doesNotMatch(e.hint, /update_pipeline/, 'no pipeline to update: they are all deleted');
  });

  it('`pipeline restore` onto a taken name names CLI commands only, and --name restores under another name', async () => {
    {
      ids.b2 = (await s.ok('create_pipeline', { name: 'beta', description: 'new b', graph: graph(ids.src, ids.dst) })).pipeline.pipeline_id;
      const r = world.cli(['pipeline', 'restore', ids.b, '--org', org.orgId], { allowFail: true });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /same name/);
      assert.match(r.stderr, /planasonix-mcp pipeline restore .* --name/);
      assert.doesNotMatch(r.stderr, TOOL_NAMES);
      const ok = world.cli(['pipeline', 'restore', ids.b, '--org', org.orgId, '--name', 'beta-old']);
      assert.match(ok.stdout, /restored/);
      assert.equal((await s.ok('get_pipeline', { pipeline_id: ids.b })).name, 'beta-old');
      await s.ok('delete_pipeline', { pipeline_id: ids.b });
    }
  });

  it('`pipeline purge ID` removes a deleted pipeline for good; the connection can then go', async () => {
    const live = world.cli(['pipeline', 'purge', ids.a, '--org', org.orgId], { allowFail: true });
    assert.notEqual(live.status, 0, 'a live pipeline is not purged');
    assert.match(live.stderr, /not deleted/);
    assert.doesNotMatch(live.stderr, TOOL_NAMES);
    const wrong = world.cli(['pipeline', 'purge', ids.otherP, '--org', org.orgId], { allowFail: true });
    assert.notEqual(wrong.status, 0, "another org's pipeline is not found");
    const r = world.cli(['pipeline', 'purge', ids.b, '--org', org.orgId, '--json']);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.purged.map((p) => p.pipeline_id), [ids.b]);
    const again = world.cli(['pipeline', 'restore', ids.b, '--org', org.orgId], { allowFail: true });
    assert.notEqual(again.status, 0, 'a purged pipeline cannot be restored');
    await s.fail('get_pipeline', { pipeline_id: ids.b }, 'not_found');
    const d = await s.ok('delete_connection', { connection_id: ids.only });
    assert.equal(d.deleted, true);
  });

  it('`pipeline purge --all-deleted` purges every deleted pipeline of that org only', async () => {
    await s.ok('delete_pipeline', { pipeline_id: ids.b2 });
    const none = world.cli(['pipeline', 'purge', '--org', org.orgId], { allowFail: true });
    assert.notEqual(none.status, 0, 'an id or --all-deleted is required');
    const r = world.cli(['pipeline', 'purge', '--all-deleted', '--org', org.orgId]);
    assert.match(r.stdout, /purged 1 /);
    assert.ok(r.stdout.includes(ids.b2), r.stdout);
    assert.deepEqual((await s.ok('list_pipelines')).pipelines.map((p) => p.pipeline_id), [ids.a]);
    // The other org's deleted pipeline is still restorable.
    const theirs = world.cli(['pipeline', 'restore', ids.otherP, '--org', other.orgId]);
    assert.match(theirs.stdout, /restored/);
    const empty = world.cli(['pipeline', 'purge', '--all-deleted', '--org', org.orgId, '--json']);
    assert.deepEqual(JSON.parse(empty.stdout).purged, []);
  });
});
