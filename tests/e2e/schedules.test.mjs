// Schedules through MCP: next_run_at in UTC and local time, a preview that names what a DST
// change does (a server whose clock is pinned just before New York's 2027 spring-forward), and
// real schedulers inside two embedded stdio processes on one store firing an every-minute
// schedule: one run for the slot, with trigger "schedule" and the slot, and it succeeds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { World } from './lib.mjs';

const graph = (src, dst) => ({
  nodes: [
    { id: 'in', kind: 'source', type: 'csv', connection_id: src, config: { file: 'a.csv' } },
    { id: 'out', kind: 'destination', type: 'csv', connection_id: dst, config: { file: 'b.csv', mode: 'replace' } },
  ],
  edges: [{ from: 'in', to: 'out' }],
});

async function setup(world, name, env) {
  const org = world.tenant(`${name}-org`);
  const files = path.join(world.root, `files-${name}`, org.orgId); // the org's files directory
  fs.mkdirSync(files, { recursive: true });
  fs.writeFileSync(path.join(files, 'a.csv'), 'id,v\n1,x\n2,y\n');
  const s = await world.connect(org.key, { name, env: { PLANASONIX_FILES_ROOT: path.dirname(files), ...env } });
  const c = await s.ok('create_connection', { name: 'files', type: 'csv', category: 'source', params: { path: '.' } });
  const d = await s.ok('create_connection', { name: 'out', type: 'csv', category: 'destination', params: { path: '.' } });
  const p = await s.ok('create_pipeline', { name: 'copy', description: 'copies a.csv', graph: graph(c.connection_id, d.connection_id) });
  return { s, files, pipeline: p.pipeline.pipeline_id };
}

describe('schedules: next runs and DST previews (clock pinned)', () => {
  let world;
  let ctx;
  before(async () => {
    world = new World('sched-preview');
    // 2027-03-10T12:00:00Z: New York springs forward on 2027-03-14.
    ctx = await setup(world, 'preview', { PLANASONIX_FAKE_NOW_MS: String(Date.UTC(2027, 2, 10, 12)), PLANASONIX_SCHEDULER: 'off' });
  });
  after(async () => {
    try {
      if (ctx?.s) assert.equal(await ctx.s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('a 02:30 New York job: next_run_at, local time, and the spring-forward day moved to 03:00', async () => {
    const sc = await ctx.s.ok('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '30 2 * * *', timezone: 'America/New_York' });
    assert.equal(sc.next_run_at, '2027-03-11T07:30:00.000Z');
    assert.equal(sc.next_run_at_local, '2027-03-11T02:30:00-05:00');
    assert.equal(sc.overlap, 'skip');
    assert.equal(sc.misfire, 'run_latest');
    assert.deepEqual(sc.preview.map((p) => p.local), [
      '2027-03-11T02:30:00-05:00',
      '2027-03-12T02:30:00-05:00',
      '2027-03-13T02:30:00-05:00',
      '2027-03-14T03:00:00-04:00',
      '2027-03-15T02:30:00-04:00',
    ]);
    const moved = sc.preview[3];
    assert.equal(moved.at, '2027-03-14T07:00:00.000Z');
    assert.equal(moved.dst, 'moved');
    assert.equal(moved.abbreviation, 'EDT');
    assert.match(moved.note, /02:30 does not exist on 2027-03-14/);
    assert.equal(sc.preview[0].dst, null);
    assert.equal(sc.preview[0].note, null);
    // get_pipeline and list_schedules show the same next run.
    const p = await ctx.s.ok('get_pipeline', { pipeline_id: ctx.pipeline });
    assert.equal(p.schedules[0].next_run_at, sc.next_run_at);
    assert.equal(p.schedules[0].preview.length, 5);
    const l = await ctx.s.ok('list_schedules', { pipeline_id: ctx.pipeline });
    assert.equal(l.schedules[0].next_run_at_local, sc.next_run_at_local);
  });

  it('every 30 minutes across the gap: wall-clock times that do not exist are not listed', async () => {
    const sc = await ctx.s.ok('update_schedule', { schedule_id: (await ctx.s.ok('list_schedules')).schedules[0].schedule_id, cron_expression: '*/30 1-3 14 3 *', frequency: 'custom' });
    assert.deepEqual(sc.preview.map((p) => p.local), [
      '2027-03-14T01:00:00-05:00',
      '2027-03-14T01:30:00-05:00',
      '2027-03-14T03:00:00-04:00',
      '2027-03-14T03:30:00-04:00',
      '2028-03-14T01:00:00-04:00',
    ]);
  });

  it('a fixed 01:30 job in a repeated hour runs once; disabling clears next_run_at; misfire/overlap are settable', async () => {
    const sc = await ctx.s.ok('create_schedule', {
      pipeline_id: ctx.pipeline, cron_expression: '30 1 7 11 *', timezone: 'America/New_York', frequency: 'custom', misfire: 'skip', overlap: 'queue',
    });
    assert.equal(sc.misfire, 'skip');
    assert.equal(sc.overlap, 'queue');
    // 2027-11-07 is New York's fall-back day: 01:30 happens twice, the job runs on the first pass.
    const fb = sc.preview.find((p) => p.local.startsWith('2027-11-07'));
    assert.equal(fb.local, '2027-11-07T01:30:00-04:00');
    assert.equal(fb.dst, 'repeated');
    assert.match(fb.note, /first pass/);
    assert.equal(sc.preview.filter((p) => p.local.startsWith('2027-11-07')).length, 1);
    const off = await ctx.s.ok('disable_schedule', { schedule_id: sc.schedule_id });
    assert.equal(off.schedule.next_run_at, null);
    assert.deepEqual(off.schedule.preview, []);
    const on = await ctx.s.ok('enable_schedule', { schedule_id: sc.schedule_id });
    assert.equal(on.schedule.next_run_at, sc.next_run_at);
    const e = await ctx.s.fail('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '0 6 * * *', misfire: 'burst' }, 'invalid_argument');
    assert.match(JSON.stringify(e), /misfire/);
  });
});

describe('schedules: the embedded scheduler fires a slot (real clock)', () => {
  let world;
  let ctx;
  let second;
  before(async () => {
    world = new World('sched-fire');
    ctx = await setup(world, 'fire', { PLANASONIX_WORKERS: '1' });
    // A second process on the same store, with its own scheduler: only one may fire a slot.
    second = await world.connect(world.tenant('fire-org-2').key, { name: 'fire-2', env: { PLANASONIX_WORKERS: '1' } });
  });
  after(async () => {
    try {
      if (ctx?.s) assert.equal(await ctx.s.close(), 0);
      if (second) assert.equal(await second.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('an every-minute schedule fires once at its slot (two scheduler processes) and the run succeeds', { timeout: 120000 }, async () => {
    const sc = await ctx.s.ok('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '* * * * *', frequency: 'custom' });
    const slot = sc.next_run_at;
    let run;
    for (let i = 0; i < 150 && !run; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const h = await ctx.s.ok('get_run_history', { pipeline_id: ctx.pipeline });
      run = h.runs.find((r) => r.trigger.type === 'schedule' && ['succeeded', 'failed'].includes(r.status));
    }
    assert.ok(run, 'no scheduled run within 75 s');
    assert.equal(run.trigger.schedule_id, sc.schedule_id);
    assert.equal(run.trigger.slot, slot);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.rows_written, 2);
    // The slot fired once: no second run for the same slot.
    const h = await ctx.s.ok('get_run_history', { pipeline_id: ctx.pipeline, limit: 100 });
    assert.equal(h.runs.filter((r) => r.trigger.slot === slot).length, 1);
    await ctx.s.ok('delete_schedule', { schedule_id: sc.schedule_id });
  });
});

// Silent surprises made loud (issue 10 item 20): a legacy zone name, a paused pipeline's
// schedule, and a second identical schedule each come back with what they mean.
describe('schedules: warnings and paused pipelines', () => {
  let world;
  let ctx;
  before(async () => {
    world = new World('sched-warn');
    ctx = await setup(world, 'warn', { PLANASONIX_SCHEDULER: 'off' });
  });
  after(async () => {
    try {
      if (ctx?.s) assert.equal(await ctx.s.close(), 0);
    } finally {
      await world.finish();
    }
  });

  it('legacy zones are accepted with a warning naming the IANA zone; IANA zones get none', async () => {
    const est = await ctx.s.ok('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '0 6 * * *', timezone: 'EST' });
    assert.equal(est.timezone, 'EST');
    assert.equal(est.warnings.length, 1, JSON.stringify(est.warnings));
    assert.match(est.warnings[0], /America\/New_York/);
    assert.match(est.warnings[0], /fixed|daylight/i);
    const pst = await ctx.s.ok('update_schedule', { schedule_id: est.schedule_id, timezone: 'PST8PDT' });
    assert.match(pst.warnings.join(' '), /America\/Los_Angeles/);
    const ny = await ctx.s.ok('update_schedule', { schedule_id: est.schedule_id, timezone: 'America/New_York' });
    assert.deepEqual(ny.warnings, []);
    await ctx.s.ok('delete_schedule', { schedule_id: est.schedule_id });
  });

  it('a second identical schedule on one pipeline is accepted with a warning naming the first', async () => {
    const a = await ctx.s.ok('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '15 * * * *', timezone: 'UTC' });
    assert.deepEqual(a.warnings, []);
    const b = await ctx.s.ok('create_schedule', { pipeline_id: ctx.pipeline, cron_expression: '15 * * * *', timezone: 'Etc/UTC' });
    assert.equal(b.warnings.length, 1, JSON.stringify(b.warnings));
    assert.ok(b.warnings[0].includes(a.schedule_id), b.warnings[0]);
    // A different time is no duplicate.
    const c = await ctx.s.ok('update_schedule', { schedule_id: b.schedule_id, cron_expression: '45 * * * *' });
    assert.deepEqual(c.warnings, []);
    await ctx.s.ok('delete_schedule', { schedule_id: b.schedule_id });
    ctx.sched = a.schedule_id;
  });

  it('a paused pipeline\'s schedule says it will not fire; resuming brings next_run_at back', async () => {
    const live = (await ctx.s.ok('list_schedules', { pipeline_id: ctx.pipeline })).schedules[0];
    assert.equal(live.fires, true);
    assert.ok(live.next_run_at);
    await ctx.s.ok('pause_pipeline', { pipeline_id: ctx.pipeline });
    const paused = (await ctx.s.ok('list_schedules', { pipeline_id: ctx.pipeline })).schedules[0];
    assert.equal(paused.enabled, true);
    assert.equal(paused.fires, false);
    assert.equal(paused.next_run_at, null);
    assert.match(paused.note, /paused/);
    assert.match(paused.note, /resume_pipeline/);
    const disabled = (await ctx.s.ok('disable_schedule', { schedule_id: ctx.sched })).schedule;
    assert.equal(disabled.fires, false);
    await ctx.s.ok('enable_schedule', { schedule_id: ctx.sched });
    await ctx.s.ok('resume_pipeline', { pipeline_id: ctx.pipeline });
    const back = (await ctx.s.ok('list_schedules', { pipeline_id: ctx.pipeline })).schedules[0];
    assert.equal(back.fires, true);
    assert.equal(back.note, null);
    assert.ok(back.next_run_at);
  });
});
