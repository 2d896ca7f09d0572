// Per-organization files directories (issue 10 items 1, 2, 18), through the real binary:
// - each organization's file connectors resolve in PLANASONIX_FILES_ROOT/<org_id> (or the
//   operator's `org update --files-dir`), so org B's path "a" never reaches org A's a/secret.csv;
// - `org list --json` shows the directory; overlapping --files-dir values are refused;
// - absolute and ".." paths are refused by create_connection/update_connection, before anything
//   is stored, with a message that says which;
// - test_connection and runs agree on "." and on a destination whose directory is missing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

const copyGraph = (src, dst, file, out = {}) => ({
  nodes: [
    { id: 'orders', kind: 'source', type: 'csv', connection_id: src, config: { file } },
    { id: 'load', kind: 'destination', type: 'csv', connection_id: dst, config: { mode: 'replace', ...out } },
  ],
  edges: [{ from: 'orders', to: 'load' }],
});

describe('per-organization files directories', () => {
  let world;
  let shared;
  let a;
  let b;
  let sa;
  let sb;

  before(async () => {
    world = new World('files');
    shared = path.join(world.root, 'files');
    a = world.tenant('files-a');
    b = world.tenant('files-b');
    // A's input, put both where A's directory is and where a shared root would have it.
    for (const dir of [path.join(shared, a.orgId), shared]) {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'in.csv'), 'id,secret\n1,TOP_SECRET_OF_A\n');
    }
    const env = { PLANASONIX_FILES_ROOT: shared, PLANASONIX_WORKERS: '1', PLANASONIX_SCHEDULER: 'off' };
    sa = await world.connect(a.key, { name: 'org-a', env });
    sb = await world.connect(b.key, { name: 'org-b', env });
  });

  after(async () => {
    try {
      for (const s of [sa, sb]) if (s) assert.equal(await s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it("org B's path 'a' does not reach org A's a/secret.csv", async () => {
    // A writes a/secret.csv with a pipeline of its own.
    const ain = (await sa.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: '.' } })).connection_id;
    const aout = (await sa.ok('create_connection', { name: 'a', type: 'csv', category: 'destination', params: { path: 'a' } })).connection_id;
    const pa = (await sa.ok('create_pipeline', { name: 'write secret', description: 'a/secret.csv', graph: copyGraph(ain, aout, 'in.csv', { file: 'secret.csv' }) })).pipeline.pipeline_id;
    const ra = (await sa.ok('trigger_pipeline', { pipeline_id: pa, wait_seconds: 30 })).run;
    assert.equal(ra.status, 'succeeded', JSON.stringify(ra));
    assert.ok(fs.existsSync(path.join(shared, a.orgId, 'a', 'secret.csv')), "A's file is in A's directory");

    // B reads "a/secret.csv" in its own directory: there is none.
    const bin = (await sb.ok('create_connection', { name: 'a', type: 'csv', category: 'source', params: { path: 'a' } })).connection_id;
    const bout = (await sb.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: 'stolen' } })).connection_id;
    const pb = (await sb.ok('create_pipeline', { name: 'steal', description: 'read a/secret.csv', graph: copyGraph(bin, bout, 'secret.csv') })).pipeline.pipeline_id;
    const rb = (await sb.ok('trigger_pipeline', { pipeline_id: pb, wait_seconds: 30 })).run;
    assert.equal(rb.status, 'failed', JSON.stringify(rb));
    assert.equal(rb.error.node_id, 'orders');
    assert.equal(rb.error.code, 'not_found');
    assert.ok(!JSON.stringify(rb).includes(shared), `no server path in ${JSON.stringify(rb.error)}`);
    const t = await sb.ok('test_connection', { connector_id: bin });
    assert.equal(t.reachable, false, JSON.stringify(t));
    for (const dir of [path.join(shared, b.orgId), shared]) {
      const stolen = path.join(dir, 'stolen', 'load.csv');
      assert.ok(!fs.existsSync(stolen) || !fs.readFileSync(stolen, 'utf8').includes('TOP_SECRET_OF_A'));
    }
  });

  it('org list --json shows each files directory; --files-dir refuses overlaps and moves the directory', async () => {
    const cliJson = (args) => JSON.parse(world.cli([...args, '--json'], { env: { PLANASONIX_FILES_ROOT: shared } }).stdout);
    const list = cliJson(['org', 'list']).orgs;
    const la = list.find((o) => o.org_id === a.orgId);
    assert.equal(la.files_dir, path.join(shared, a.orgId));
    assert.equal(la.files_dir_overridden, false);
    const env = { env: { PLANASONIX_FILES_ROOT: shared }, allowFail: true };
    const refusals = [
      [path.join(shared, a.orgId), /overlaps the files directory of organization|lies inside organization/],
      [path.join(shared, a.orgId, 'sub'), /overlaps the files directory of organization|lies inside organization/],
      [shared, /contains the shared files root/],
      [world.root, /contains the shared files root/],
      ['relative/dir', /not an absolute path/],
    ];
    for (const [dir, re] of refusals) {
      const r = world.cli(['org', 'update', b.orgId, '--files-dir', dir], env);
      assert.notEqual(r.status, 0, `--files-dir ${dir} should be refused`);
      assert.match(r.stderr, re, r.stderr);
    }
    const own = path.join(world.root, 'b-files');
    const u = cliJson(['org', 'update', b.orgId, '--files-dir', own]);
    assert.equal(u.files_dir, own);
    assert.equal(u.files_dir_overridden, true);
    const r = world.cli(['org', 'update', a.orgId, '--files-dir', path.join(own, 'inner')], env);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /overlaps the files directory of organization/);
    // B's runs now resolve in its own directory (created on demand, 0700).
    fs.mkdirSync(own, { recursive: true });
    fs.writeFileSync(path.join(own, 'mine.csv'), 'id\n7\n');
    const src = (await sb.ok('create_connection', { name: 'mine', type: 'csv', category: 'source', params: { path: 'mine.csv' } })).connection_id;
    const dst = (await sb.ok('create_connection', { name: 'here', type: 'csv', category: 'destination', params: { path: '.' } })).connection_id;
    const graph = {
      nodes: [
        { id: 'mine', kind: 'source', type: 'csv', connection_id: src },
        { id: 'copy', kind: 'destination', type: 'csv', connection_id: dst, config: { mode: 'replace' } },
      ],
      edges: [{ from: 'mine', to: 'copy' }],
    };
    const p = (await sb.ok('create_pipeline', { name: 'mine', description: 'copy', graph })).pipeline.pipeline_id;
    const run = (await sb.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 30 })).run;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(fs.readFileSync(path.join(own, 'copy.csv'), 'utf8'), 'id\n7\n');
    assert.equal(cliJson(['org', 'update', b.orgId, '--files-dir', 'default']).files_dir, path.join(shared, b.orgId));
  });

  it('create_connection and update_connection refuse absolute and ".." paths before storing them', async () => {
    const abs = await sa.fail('create_connection', { name: 'abs', type: 'csv', category: 'source', params: { path: '/etc/passwd' } }, 'invalid_argument');
    assert.match(abs.message, /'\/etc\/passwd' is an absolute path/);
    assert.equal(abs.field, 'params.path');
    const up = await sa.fail('create_connection', { name: 'up', type: 'sqlite', category: 'source', params: { path: 'x/../../etc' } }, 'invalid_argument');
    assert.match(up.message, /contains '\.\.'/);
    assert.doesNotMatch(up.message, /absolute/, 'a relative path is not called absolute');
    const list = await sa.ok('list_connectors', {});
    assert.ok(!list.connectors.some((c) => ['abs', 'up'].includes(c.name)), 'nothing was stored');
    const ok = (await sa.ok('create_connection', { name: 'fine', type: 'jsonl', category: 'source', params: { path: 'x.jsonl' } })).connection_id;
    await sa.fail('update_connection', { connection_id: ok, params: { path: '../b/x.jsonl' } }, 'invalid_argument');
    const c = (await sa.ok('list_connectors', {})).connectors.find((x) => x.connection_id === ok);
    assert.equal(c.params.path, 'x.jsonl');
    // A node's config.file is checked when the pipeline is created, not only when it runs.
    const dir = (await sa.ok('create_connection', { name: 'dir', type: 'csv', category: 'source', params: { path: 'in' } })).connection_id;
    const g = copyGraph(dir, dir, '../../etc/passwd');
    g.nodes[1].connection_id = (await sa.ok('create_connection', { name: 'o', type: 'csv', category: 'destination', params: { path: 'o' } })).connection_id;
    const pf = await sa.fail('create_pipeline', { name: 'escape', description: 'x', graph: g }, 'invalid_argument');
    assert.equal(pf.field, 'graph.nodes[0].config.file');
    assert.match(pf.message, /contains '\.\.'/);
  });

  it('test_connection and runs agree: "." and a destination whose directory is missing', async () => {
    const dot = (await sa.ok('create_connection', { name: 'dot', type: 'csv', category: 'source', params: { path: '.' } })).connection_id;
    assert.equal((await sa.ok('test_connection', { connector_id: dot })).reachable, true);
    const miss = (await sa.ok('create_connection', { name: 'exports', type: 'csv', category: 'destination', params: { path: 'exports' } })).connection_id;
    const t = await sa.ok('test_connection', { connector_id: miss });
    assert.equal(t.reachable, true, JSON.stringify(t));
    const p = (await sa.ok('create_pipeline', { name: 'to exports', description: 'dir rule', graph: copyGraph(dot, miss, 'in.csv') })).pipeline.pipeline_id;
    const run = (await sa.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 30 })).run;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    // "exports" names a directory: the destination writes <node id>.csv in it.
    const out = path.join(shared, a.orgId, 'exports');
    assert.ok(fs.statSync(out).isDirectory(), 'exports is a directory');
    assert.equal(fs.readFileSync(path.join(out, 'load.csv'), 'utf8'), 'id,secret\n1,TOP_SECRET_OF_A\n');
  });
});
