// Disk bounds (issue 10 item 8), through the real binary: PLANASONIX_RUN_WRITE_MB caps what one
// run writes into files, PLANASONIX_ORG_DISK_QUOTA_MB caps an organization's files directory.
// Reaching either fails the run with an error naming the setting, and the destination file is
// left as it was.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

const ROWS = 60000; // ~3 MB of CSV

describe('disk bounds', () => {
  let world;
  let shared;

  before(() => {
    world = new World('disk');
    shared = path.join(world.root, 'files');
  });

  after(async () => {
    await world.finish();
  });

  // An org whose directory holds big.csv (and `extra` bytes more), and a session with env.
  async function setup(name, env, extra = 0) {
    const org = world.tenant(name);
    const listed = JSON.parse(world.cli(['org', 'list', '--json'], { env: { PLANASONIX_FILES_ROOT: shared } }).stdout);
    const dir = listed.orgs.find((o) => o.org_id === org.orgId).files_dir ?? shared;
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    const lines = ['id,payload'];
    for (let i = 1; i <= ROWS; i++) lines.push(`${i},payload-${i}-abcdefghijklmnopqrstuvwxyz`);
    fs.writeFileSync(path.join(dir, 'big.csv'), `${lines.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'out', 'all.csv'), 'id,payload\n0,old\n');
    if (extra) fs.writeFileSync(path.join(dir, 'filler.bin'), Buffer.alloc(extra));
    const s = await world.connect(org.key, { name, env: { PLANASONIX_FILES_ROOT: shared, PLANASONIX_SCHEDULER: 'off', ...env } });
    const src = (await s.ok('create_connection', { name: 'in', type: 'csv', category: 'source', params: { path: '.' } })).connection_id;
    const dst = (await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: 'out' } })).connection_id;
    const graph = {
      nodes: [
        { id: 'big', kind: 'source', type: 'csv', connection_id: src, config: { file: 'big.csv' } },
        { id: 'load', kind: 'destination', type: 'csv', connection_id: dst, config: { file: 'all.csv', mode: 'append' } },
      ],
      edges: [{ from: 'big', to: 'load' }],
    };
    const p = (await s.ok('create_pipeline', { name: 'copy', description: 'append big.csv', graph })).pipeline.pipeline_id;
    return { s, dir, p };
  }

  it('a run that would write more than PLANASONIX_RUN_WRITE_MB fails and leaves the file as it was', async () => {
    const { s, dir, p } = await setup('cap-org', { PLANASONIX_RUN_WRITE_MB: '1' });
    const run = (await s.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 60 })).run;
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.equal(run.error.node_id, 'load');
    assert.match(run.error.message, /more than 1 MB.*PLANASONIX_RUN_WRITE_MB/);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8'), 'id,payload\n0,old\n');
    assert.equal(await s.close(), 0);
  });

  it("a run that would fill the organization's directory past PLANASONIX_ORG_DISK_QUOTA_MB fails", async () => {
    const { s, dir, p } = await setup('quota-org', { PLANASONIX_ORG_DISK_QUOTA_MB: '5' }, 1024 * 1024);
    // The directory holds ~4 MB (big.csv and filler); the run would add ~3 MB.
    const run = (await s.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 60 })).run;
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(run.error.message, /quota of 5 MB \(PLANASONIX_ORG_DISK_QUOTA_MB\)/);
    assert.ok(run.error.hint.length > 0);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8'), 'id,payload\n0,old\n');
    // Without the filler the directory holds ~3 MB and the run still adds ~3 MB: over. A small
    // input fits.
    fs.rmSync(path.join(dir, 'filler.bin'));
    const again = (await s.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 60 })).run;
    assert.equal(again.status, 'failed', 'still ~6 MB: over the quota');
    fs.writeFileSync(path.join(dir, 'big.csv'), 'id,payload\n1,small\n');
    const ok = (await s.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 60 })).run;
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok));
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8'), 'id,payload\n0,old\n1,small\n');
    assert.equal(await s.close(), 0);
  });
});
