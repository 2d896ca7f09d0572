// File appends are all-or-nothing across crashes (issue 10 item 13): a real `serve` process is
// killed with SIGKILL while it appends to a CSV file and a JSON Lines file; the next
// `serve` rolls both back to their length before the run (and removes a replace's temporary
// file), and a rerun then leaves exactly the expected rows: no duplicates, no partial line.
// The source is a paged local HTTP API that answers PAGES pages and then holds the next one
// until it is released, so at the kill every run has written rows and none can have finished.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { HttpWorld, sleep, until } from './http-lib.mjs';

const PAGE = 20000;
const PAGES = 3;
const ROWS = PAGE * PAGES;

describe('a crash during a file append', () => {
  let world;
  let org;
  let dir;
  let api;
  let release = false;
  const held = [];
  const env = () => ({
    PLANASONIX_FILES_ROOT: path.join(world.root, 'files'),
    PLANASONIX_WORKERS: '3',
    PLANASONIX_ORG_MAX_RUNNING: '3',
    PLANASONIX_SCHEDULER: 'off',
  });

  before(async () => {
    api = http.createServer((req, res) => {
      const page = Number(new URL(req.url, 'http://x').searchParams.get('page') ?? '1');
      const answer = () => {
        if (res.destroyed) return;
        const rows = [];
        if (page <= PAGES) for (let i = 1; i <= PAGE; i++) {
          const id = (page - 1) * PAGE + i;
          rows.push({ id, payload: `payload-${id}-abcdefghijklmnopqrstuvwxyz` });
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(rows));
      };
      if (page <= PAGES || release) answer();
      else held.push(answer);
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    world = new HttpWorld('append-crash');
    org = world.tenant('crash-org');
    // The organization's files directory as `org list` reports it.
    const shared = path.join(world.root, 'files');
    const listed = JSON.parse(world.cli(['org', 'list', '--json'], { env: { PLANASONIX_FILES_ROOT: shared } }).stdout);
    dir = listed.orgs.find((o) => o.org_id === org.orgId).files_dir ?? shared;
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'out', 'all.csv'), 'id,payload\n-1,old\n-2,old\n');
    fs.writeFileSync(path.join(dir, 'out', 'all.jsonl'), '{"id":-1,"payload":"old"}\n{"id":-2,"payload":"old"}\n');
    fs.writeFileSync(path.join(dir, 'out', 'swap.csv'), 'id,payload\n-1,old\n');
  });

  after(async () => {
    release = true;
    for (const a of held.splice(0)) a();
    await new Promise((r) => api.close(r));
    await world.finish();
  });

  const pipeline = (src, dst, type, file, mode) => ({
    nodes: [
      { id: 'big', kind: 'source', type: 'http', connection_id: src, config: { path: '/rows', pagination: { type: 'page' } } },
      { id: 'load', kind: 'destination', type, connection_id: dst, config: { file, mode } },
    ],
    edges: [{ from: 'big', to: 'load' }],
  });

  it('rolls the appends back on restart, and the rerun writes each row exactly once', { timeout: 240000 }, async () => {
    const before = {
      csv: fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8'),
      jsonl: fs.readFileSync(path.join(dir, 'out', 'all.jsonl'), 'utf8'),
      swap: fs.readFileSync(path.join(dir, 'out', 'swap.csv'), 'utf8'),
    };
    const s1 = await world.serve({ env: env(), name: 'victim' });
    const c = await world.connectHttp(s1, org.key);
    const src = (await c.ok('create_connection', { name: 'in', type: 'http', category: 'source', params: { base_url: `http://127.0.0.1:${api.address().port}/v1`, timeout_seconds: 300 } })).connection_id;
    const dcsv = (await c.ok('create_connection', { name: 'csv out', type: 'csv', category: 'destination', params: { path: 'out' } })).connection_id;
    const djsonl = (await c.ok('create_connection', { name: 'jsonl out', type: 'jsonl', category: 'destination', params: { path: 'out' } })).connection_id;
    const ids = {
      csv: (await c.ok('create_pipeline', { name: 'csv append', description: 'append', graph: pipeline(src, dcsv, 'csv', 'all.csv', 'append') })).pipeline.pipeline_id,
      jsonl: (await c.ok('create_pipeline', { name: 'jsonl append', description: 'append', graph: pipeline(src, djsonl, 'jsonl', 'all.jsonl', 'append') })).pipeline.pipeline_id,
      swap: (await c.ok('create_pipeline', { name: 'csv replace', description: 'replace', graph: pipeline(src, dcsv, 'csv', 'swap.csv', 'replace') })).pipeline.pipeline_id,
    };
    for (const p of Object.values(ids)) await c.ok('trigger_pipeline', { pipeline_id: p });
    // Kill -9 once all three runs wait for the held page, both appends have written part of
    // their rows and the replace's temporary file exists.
    const grown = (f, n) => fs.statSync(path.join(dir, 'out', f)).size > before[n].length + 200000;
    await until(() => held.length >= 3, 'the three runs to reach the held page', 60000);
    const tmpExists = () => fs.readdirSync(path.join(dir, 'out')).some((f) => f.startsWith('.swap.csv.px-') && !f.endsWith('.px-journal'));
    await until(() => grown('all.csv', 'csv') && grown('all.jsonl', 'jsonl') && tmpExists(), 'both appends under way', 60000);
    for (const p of Object.values(ids)) {
      const h = await c.ok('get_run_history', { pipeline_id: p });
      assert.equal(h.runs[0].status, 'running', `still running at the kill: ${JSON.stringify(h.runs[0])}`);
    }
    s1.proc.kill('SIGKILL');
    await s1.exited;
    world.servers.delete(s1);
    world.httpSessions.delete(c);
    assert.ok(fs.statSync(path.join(dir, 'out', 'all.csv')).size > before.csv.length, 'the crash left appended bytes');

    // The next process rolls back before any run: the files are as they were.
    const s2 = await world.serve({ env: env(), name: 'after' });
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8'), before.csv);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'all.jsonl'), 'utf8'), before.jsonl);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'swap.csv'), 'utf8'), before.swap);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'out')).filter((f) => f.startsWith('.')), [], 'no side files left');
    assert.match(s2.log(), /rolled back an interrupted append/);

    // Reruns: exactly the old rows plus each new row once.
    release = true;
    const c2 = await world.connectHttp(s2, org.key);
    for (const p of [ids.csv, ids.jsonl]) {
      const r = (await c2.ok('trigger_pipeline', { pipeline_id: p, wait_seconds: 120 })).run;
      assert.equal(r.status, 'succeeded', JSON.stringify(r));
      assert.equal(r.rows_written, ROWS);
    }
    const csv = fs.readFileSync(path.join(dir, 'out', 'all.csv'), 'utf8');
    assert.ok(csv.endsWith('\n'));
    const csvIds = csv.trimEnd().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
    assert.equal(csvIds.length, ROWS + 2);
    assert.equal(new Set(csvIds).size, ROWS + 2, 'no duplicated ids in the CSV');
    const jl = fs.readFileSync(path.join(dir, 'out', 'all.jsonl'), 'utf8').trimEnd().split('\n');
    const jIds = jl.map((l) => JSON.parse(l).id);
    assert.equal(jIds.length, ROWS + 2);
    assert.equal(new Set(jIds).size, ROWS + 2, 'no duplicated ids in the JSON Lines');
    await sleep(10);
  });
});
