// /metrics hardening (issue 10 item 10): label values come from closed sets only, so requests
// with invented methods cannot fill the series cap and stop real series from being recorded;
// the operator can turn /metrics off or put it behind a token (PLANASONIX_METRICS,
// PLANASONIX_METRICS_TOKEN).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { BIN } from './lib.mjs';
import { HttpWorld } from './http-lib.mjs';

/** Sends one request with a custom method over a keep-alive agent; resolves to the status. */
function send(agent, port, method, path = '/mcp') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricsText(server, headers = {}) {
  const res = await fetch(`${server.base}/metrics`, { headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('metrics labels are closed sets', () => {
  let world;
  let server;
  before(async () => {
    world = new HttpWorld('metrics');
    server = await world.serve();
  });
  after(async () => { await world.finish(); });

  test('5,000 invented methods leave real series recorded', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const names = [];
    for (let i = 0; i < 5000; i++) {
      let n = i;
      let name = 'X';
      for (let k = 0; k < 5; k++) { name += letters[n % 26]; n = Math.floor(n / 26); }
      names.push(name);
    }
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(names.slice(i, i + 64).map((m) => send(agent, server.port, m, i % 128 ? '/mcp' : '/x')));
    }
    agent.destroy();
    // A series never seen before the flood: DELETE /mcp without a key (401).
    const del = await fetch(server.mcp, { method: 'DELETE' });
    assert.equal(del.status, 401);
    const m = await metricsText(server);
    assert.equal(m.status, 200);
    const series = m.text.split('\n').filter((l) => l.startsWith('planasonix_http_requests_total{'));
    assert.match(m.text, /^planasonix_http_requests_total\{path="\/mcp",method="DELETE",status="401"\} 1$/m,
      'the real series after the flood is recorded');
    assert.ok(!/method="X[A-Z]{5}"/.test(m.text), 'no invented method is a label value');
    assert.match(m.text, /^planasonix_http_requests_total\{path="\/mcp",method="other",status="[0-9]{3}"\} [0-9]+$/m,
      'invented methods are counted as method="other"');
    assert.ok(series.length < 40, `a handful of series, got ${series.length}`);
  });

  test('invented paths are counted as path="other"', async () => {
    for (const p of ['/a', '/b/c', '/mcp/../x', '/metrics2']) await fetch(`${server.base}${p}`);
    const m = await metricsText(server);
    assert.ok(!/path="\/(a|b|metrics2)/.test(m.text), m.text);
    assert.match(m.text, /path="other",method="GET",status="404"/);
  });
});

describe('PLANASONIX_METRICS', () => {
  let world;
  before(() => { world = new HttpWorld('metrics-opt'); });
  after(async () => { await world.finish(); });

  test('off: /metrics is not served', async () => {
    const server = await world.serve({ env: { PLANASONIX_METRICS: 'off' }, name: 'off' });
    const m = await metricsText(server);
    assert.equal(m.status, 404);
    assert.ok(!m.text.includes('planasonix_'), m.text);
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200, '/healthz stays');
    await server.stop();
  });

  test('token: only the bearer token reads /metrics', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const server = await world.serve({ env: { PLANASONIX_METRICS: 'token', PLANASONIX_METRICS_TOKEN: token }, name: 'token' });
    let m = await metricsText(server);
    assert.equal(m.status, 401);
    assert.match(m.headers.get('www-authenticate') || '', /^Bearer/);
    assert.ok(!m.text.includes('planasonix_http'), 'no series without the token');
    m = await metricsText(server, { Authorization: `Bearer ${token}x` });
    assert.equal(m.status, 401);
    m = await metricsText(server, { Authorization: `Bearer ${token.slice(0, -1)}` });
    assert.equal(m.status, 401);
    m = await metricsText(server, { Authorization: `Bearer ${token}` });
    assert.equal(m.status, 200);
    assert.match(m.text, /planasonix_http_requests_total/);
    assert.ok(!server.log().includes(token), 'the token is never logged');
    await server.stop();
  });

  test('a token set alone turns token mode on', async () => {
    const server = await world.serve({ env: { PLANASONIX_METRICS_TOKEN: 'only-the-token-1234' }, name: 'implied' });
    assert.equal((await metricsText(server)).status, 401);
    assert.equal((await metricsText(server, { Authorization: 'Bearer only-the-token-1234' })).status, 200);
    await server.stop();
  });

  test('bad settings stop serve with a clear error', () => {
    for (const [env, re] of [
      [{ PLANASONIX_METRICS: 'token' }, /PLANASONIX_METRICS_TOKEN/],
      [{ PLANASONIX_METRICS: 'sometimes' }, /PLANASONIX_METRICS.*off, public or token/],
      [{ PLANASONIX_METRICS: 'token', PLANASONIX_METRICS_TOKEN: 'short' }, /at least 16/],
    ]) {
      const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0'], { env: world.env(env), encoding: 'utf8', timeout: 20000 });
      assert.notEqual(r.status, 0, `serve with ${JSON.stringify(env)} must not start`);
      assert.match(r.stderr, re);
    }
  });
});
