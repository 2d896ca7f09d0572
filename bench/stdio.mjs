// stdio benchmark, side by side: planasonix-mcp --stdio (1,000 pipelines stored) against the
// reference TypeScript SDK server. Reports spawn→initialize time (median of RUNS), resident
// memory after initialize and after CALLS list_pipelines calls, and sequential call rate.
// Usage: node stdio.mjs BIN   (env RUNS, CALLS)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LineClient, median, rssKiB, seedOrg, seedPipelines } from './lib.mjs';

const bin = process.argv[2];
const RUNS = Number(process.env.RUNS || 20);
const CALLS = Number(process.env.CALLS || 2000);
const here = new URL('.', import.meta.url).pathname;

async function measure(label, cmd, args, env) {
  const inits = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const c = new LineClient(cmd, args, env);
    await c.initialize();
    inits.push(performance.now() - t0);
    await c.close();
  }
  const c = new LineClient(cmd, args, env);
  await c.initialize();
  c.notify('notifications/initialized', {});
  const rssInit = rssKiB(c.child.pid);
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const r = await c.request('tools/call', { name: 'list_pipelines', arguments: { limit: 20 } });
    if (r.error || r.result.isError) throw new Error(`${label}: ${JSON.stringify(r).slice(0, 300)}`);
  }
  const secs = (performance.now() - t0) / 1000;
  const rssAfter = rssKiB(c.child.pid);
  await c.close();
  return { label, init_ms: median(inits), rss_init_mb: rssInit / 1024, rss_after_mb: rssAfter / 1024, calls_per_s: CALLS / secs };
}

const home = mkdtempSync(join(tmpdir(), 'px-bench-'));
try {
  const key = seedOrg(bin, home);
  await seedPipelines(bin, home, key, 1000);
  const env = { ...process.env, PLANASONIX_HOME: home, PLANASONIX_API_KEY: key, PLANASONIX_LOG: 'error' };
  const ours = await measure('planasonix-mcp --stdio', bin, ['--stdio'], env);
  const ref = await measure('reference (TS SDK)', process.execPath, [join(here, 'ref-server.mjs'), 'stdio'], process.env);
  const f = (x, d = 1) => x.toFixed(d);
  console.log(`stdio, ${RUNS} cold starts, ${CALLS} sequential list_pipelines calls (limit 20), 1,000 pipelines stored`);
  console.log('| server | initialize (median ms) | RSS after init (MB) | RSS after calls (MB) | calls/s |');
  console.log('|---|---|---|---|---|');
  for (const r of [ours, ref])
    console.log(`| ${r.label} | ${f(r.init_ms, 2)} | ${f(r.rss_init_mb)} | ${f(r.rss_after_mb)} | ${f(r.calls_per_s, 0)} |`);
  console.log(`ratios (ours vs reference): initialize ${f(ref.init_ms / ours.init_ms)}× faster, ` +
    `RSS ${f(ref.rss_after_mb / ours.rss_after_mb)}× smaller, calls/s ${f(ours.calls_per_s / ref.calls_per_s)}×`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
