// Bad input and refusals: argument validation, oversized and deeply nested messages, plans,
// revoked/expired/invalid keys and the per-plan rate limit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { McpError } from '@modelcontextprotocol/sdk/types.js';

import { LATEST, World, fakeId } from './lib.mjs';

const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

let world;
let org;

before(() => {
  world = new World('badinput');
  org = world.tenant('badinput-org');
});

after(async () => {
  await world.finish();
});

describe('argument validation', () => {
  let s;
  before(async () => { s = await world.connect(org.key, { name: 'args' }); });
  after(async () => { if (s) assert.equal(await s.close(), 0); });

  const CASES = [
    ['list_pipelines', { limit: 'ten' }, 'limit'],
    ['list_pipelines', { limit: 0 }, 'limit'],
    ['list_pipelines', { limit: 101 }, 'limit'],
    ['list_pipelines', { limit: 1.5 }, 'limit'],
    ['list_pipelines', { status: 'sleeping' }, 'status'],
    ['list_pipelines', { cursor: 'bogus!' }, 'cursor'],
    ['list_pipelines', { colour: 'red' }, 'colour'],
    ['list_pipelines', { query: '' }, 'query'],
    ['list_schedules', { enabled: 'yes' }, 'enabled'],
    ['get_pipeline', {}, 'pipeline_id'],
    ['get_pipeline', { pipeline_id: 42 }, 'pipeline_id'],
    ['get_pipeline', { pipeline_id: null }, 'pipeline_id'],
    ['get_pipeline', { pipeline_id: 'x'.repeat(65) }, 'pipeline_id'],
    ['get_pipeline', { pipeline_id: fakeId('pl_'), extra: 1 }, 'extra'],
    ['get_run_history', { pipeline_id: fakeId('pl_'), limit: 1000 }, 'limit'],
    ['get_pipeline_health', { pipeline_id: fakeId('pl_'), window: '7 days' }, 'window'],
    ['trigger_pipeline', { pipeline_id: fakeId('pl_'), wait_seconds: -1 }, 'wait_seconds'],
    ['create_pipeline', { description: 'x' }, 'name'],
    ['create_pipeline', { name: 'x' }, 'description'],
    ['create_pipeline', { name: 'x', description: 'y', graph: { nodes: [] } }, 'edges'],
    ['create_pipeline', { name: 'x', description: 'y', graph: 'a -> b' }, 'graph'],
    ['create_pipeline', { name: 'x', description: 'y', dry_run: 'true' }, 'dry_run'],
    ['update_pipeline', { pipeline_id: fakeId('pl_') }, 'description'],
    ['update_pipeline', { pipeline_id: fakeId('pl_'), description: 'd', base_revision: 0 }, 'base_revision'],
    ['create_schedule', { pipeline_id: fakeId('pl_') }, 'cron_expression'],
    ['create_schedule', { pipeline_id: fakeId('pl_'), cron_expression: '0 6 * * *', frequency: 'fortnightly' }, 'frequency'],
    ['update_schedule', { cron_expression: '0 6 * * *' }, 'schedule_id'],
    ['create_connection', { name: 'n', type: 'csv', category: 'sink', params: {} }, 'category'],
    ['create_connection', { name: 'n', type: 'csv', category: 'source' }, 'params'],
    ['create_connection', { name: 'n', type: 'csv', category: 'source', params: [] }, 'params'],
    ['list_connection_types', { category: 'both' }, 'category'],
    ['list_connectors', { type: '' }, 'type'],
    ['delete_connection', {}, 'connection_id'],
  ];

  for (const [tool, args, field] of CASES) {
    it(`${tool} ${JSON.stringify(args).slice(0, 60)} → isError naming ${field}`, async () => {
      const e = await s.fail(tool, args, 'invalid_argument');
      assert.ok(e.message.includes(field) || e.field === field || (e.field ?? '').includes(field),
        `names ${field}: ${e.text}`);
      assert.equal(e.retryable, false);
    });
  }

  it('an id of the wrong kind gets a precise error', async () => {
    const e = await s.fail('get_pipeline', { pipeline_id: fakeId('sch_') }, 'invalid_argument');
    assert.match(e.message, /schedule id/);
    assert.equal(e.field, 'pipeline_id');
  });

  it('the server still works after all that', async () => {
    assert.deepEqual((await s.ok('list_pipelines')).pipelines, []);
  });
});

describe('oversized and deeply nested messages', () => {
  it('a line over 4 MiB is refused with -32600 and the server keeps working', async () => {
    const r = world.raw(org.key, { name: 'oversize' });
    await r.initialize();
    const big = JSON.stringify({
      jsonrpc: '2.0', id: 41, method: 'tools/call',
      params: { name: 'list_pipelines', arguments: { query: 'x'.repeat(5 * 1024 * 1024) } },
    });
    await r.write(`${big}\n`);
    const m = await r.next();
    assert.equal(m.error?.code, -32600, JSON.stringify(m).slice(0, 300));
    assert.match(m.error.message, /4 MiB/);
    assert.equal(m.id, null);
    const ping = await r.request('ping');
    assert.deepEqual(ping.result, {});
    assert.equal((await r.request('tools/list')).result.tools.length, 22);
    assert.ok(!r.lines.some((l) => JSON.parse(l).id === 41), 'the oversized request itself is not answered');
    // A line just under the limit is handled normally (as a tool-level validation error).
    const near = JSON.stringify({
      jsonrpc: '2.0', id: 42, method: 'tools/call',
      params: { name: 'list_pipelines', arguments: { query: 'y'.repeat(4 * 1024 * 1024 - 200) } },
    });
    assert.ok(near.length < 4 * 1024 * 1024);
    await r.write(`${near}\n`);
    const res = await r.response();
    assert.equal(res.id, 42);
    assert.equal(res.result.isError, true, 'query is over maxLength 200');
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('two oversized lines in a row, then a normal request', async () => {
    const r = world.raw(org.key, { name: 'oversize2' });
    await r.initialize();
    const junk = 'z'.repeat(4 * 1024 * 1024 + 10);
    await r.write(`${junk}\n${junk}\n`);
    assert.equal((await r.next()).error.code, -32600);
    assert.equal((await r.next()).error.code, -32600);
    assert.deepEqual((await r.request('ping')).result, {});
    await r.end();
  });

  it('one 9 MiB line gets exactly one error (one message, one response)', async () => {
    const r = world.raw(org.key, { name: 'oversize9' });
    await r.initialize();
    await r.write(`${'x'.repeat(9 * 1024 * 1024)}\n`);
    await r.send({ jsonrpc: '2.0', id: 61, method: 'ping' });
    const first = await r.next();
    assert.equal(first.error?.code, -32600);
    const second = await r.next();
    assert.deepEqual(second, { jsonrpc: '2.0', id: 61, result: {} },
      `the ping reply follows the single error, got ${JSON.stringify(second)}`);
    await r.end();
  });

  it('JSON nested 100 deep is an error and the server keeps working', async () => {
    const r = world.raw(org.key, { name: 'deep' });
    await r.initialize();
    const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
    await r.write(`{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"query":${deep}}}}\n`);
    const m = await r.next();
    assert.ok(m.error, `an error: ${JSON.stringify(m)}`);
    assert.ok([-32700, -32600].includes(m.error.code), JSON.stringify(m));
    await r.write(`${'['.repeat(100000)}\n`);
    const m2 = await r.next();
    assert.ok(m2.error, 'very deep nesting is an error too (no stack overflow)');
    const deepObj = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`;
    await r.write(`{"jsonrpc":"2.0","id":52,"method":"ping","params":${deepObj}}\n`);
    assert.ok((await r.next()).error);
    assert.deepEqual((await r.request('ping')).result, {});
    assert.equal((await r.request('tools/call', { name: 'list_pipelines', arguments: {} })).result.isError, undefined);
    await r.end();
  });
});

// What json-c would quietly change is refused instead (issue 10 item 20): a NUL inside any
// string (json-c keeps it, C code then reads a shorter name) and an integer beyond 64 bits
// (json-c saturates it, so a 400-digit id came back as another number).
describe('NUL characters and oversized integers', () => {
  let r;
  before(async () => {
    r = world.raw(org.key, { name: 'nul' });
    await r.initialize();
  });
  after(async () => { if (r) await r.end(); });

  async function rawReply(text) {
    const before = r.lines.length;
    await r.write(`${text}\n`);
    const m = await r.response();
    return { m, line: r.lines[before] };
  }

  it('a NUL in a tool name, a string argument or a member name is invalid params, with the request id', async () => {
    const lines = [
      '{"jsonrpc":"2.0","id":61,"method":"tools/call","params":{"name":"list_pipelines\\u0000x","arguments":{}}}',
      '{"jsonrpc":"2.0","id":62,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"query":"a\\u0000b"}}}',
      '{"jsonrpc":"2.0","id":63,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"li\\u0000mit":5}}}',
      '{"jsonrpc":"2.0","id":"s\\u0000","method":"ping"}',
    ];
    for (const [i, text] of lines.entries()) {
      const { m } = await rawReply(text);
      assert.ok(m.error, `${text} → an error: ${JSON.stringify(m)}`);
      assert.equal(m.error.code, i === 3 ? -32600 : -32602, JSON.stringify(m));
      assert.match(m.error.message, /NUL/, JSON.stringify(m));
      assert.equal(m.id, i === 3 ? null : 61 + i, JSON.stringify(m));
    }
    // A backslash before "u0000" is text, not a NUL.
    const { m } = await rawReply('{"jsonrpc":"2.0","id":65,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"query":"a\\\\u0000b"}}}');
    assert.equal(m.result.isError, undefined, JSON.stringify(m));
  });

  it('a 400-digit id is refused with a clear error; a 64-bit id comes back exactly', async () => {
    const big = `9${'1'.repeat(399)}`;
    const { m, line } = await rawReply(`{"jsonrpc":"2.0","id":${big},"method":"ping"}`);
    assert.ok(m.error, `an error: ${line}`);
    assert.equal(m.id, null, line);
    assert.match(m.error.message, /64/, line);
    assert.ok(!line.includes('18446744073709551615'), `no saturated id: ${line}`);
    const neg = await rawReply(`{"jsonrpc":"2.0","id":-${big},"method":"ping"}`);
    assert.ok(neg.m.error, neg.line);
    const inArgs = await rawReply(`{"jsonrpc":"2.0","id":66,"method":"tools/call","params":{"name":"list_pipelines","arguments":{"limit":${big}}}}`);
    assert.ok(inArgs.m.error || inArgs.m.result?.isError, inArgs.line);
    assert.ok(!inArgs.line.includes('18446744073709551615'), inArgs.line);
    for (const id of ['18446744073709551614', '-9223372036854775808', '9223372036854775807']) {
      const ok = await rawReply(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
      assert.ok(ok.line.includes(`"id":${id}`), `id ${id} echoed exactly: ${ok.line}`);
    }
    assert.deepEqual((await r.request('ping')).result, {});
  });
});

describe('plans and keys', () => {
  async function expectRefusedConnect(key, re, code) {
    const err = await world.connect(key, { name: 'refused' }).then(
      () => assert.fail('connect should fail'),
      (e) => e,
    );
    assert.ok(err instanceof McpError, `an MCP error: ${err}`);
    assert.match(err.message, re);
    if (code !== undefined) assert.equal(err.code, code);
    return err;
  }

  it('a Starter org cannot initialize; the error names Starter and Professional', async () => {
    const starter = world.tenant('starter-org', { plan: 'starter', rateLimit: null });
    await expectRefusedConnect(starter.key, /Starter/, -32003);
    const r = world.raw(starter.key, { name: 'starter-raw' });
    const res = await r.request('initialize', { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' } });
    assert.match(res.error.message, /Starter/);
    assert.match(`${res.error.message} ${res.error.data?.hint}`, /Professional/);
    assert.equal(res.error.data.code, 'plan_not_allowed');
    assert.deepEqual((await r.request('ping')).result, {}, 'ping still answers');
    await r.end();
    // Upgrading the plan lets the same key in.
    world.cli(['org', 'update', starter.orgId, '--plan', 'professional'], { allowFail: true }); // exit status: see lifecycle CLI test
    const s = await world.connect(starter.key, { name: 'upgraded' });
    assert.equal(s.tools.length, 22);
    await s.close();
  });

  it('a key revoked while the session is open fails the very next request with Unauthorized', async () => {
    const k = world.key(org.orgId, 'all');
    const s = await world.connect(k.key, { name: 'revoke' });
    assert.ok((await s.ok('list_pipelines')).pipelines);
    world.cli(['key', 'revoke', k.keyId]);
    const err = await s.client.listTools().then(() => null, (e) => e);
    assert.ok(err instanceof McpError, `tools/list refused: ${err}`);
    assert.match(err.message, /Unauthorized/);
    assert.equal(err.code, -32001);
    const err2 = await s.call('list_pipelines').then(() => null, (e) => e);
    assert.ok(err2 instanceof McpError, 'tools/call refused with a JSON-RPC error');
    assert.match(err2.message, /Unauthorized/);
    const keys = world.cliJson(['key', 'list', '--org', org.orgId]).keys;
    assert.ok(keys.find((x) => x.key_id === k.keyId).revoked_at, 'key list shows it revoked');
    assert.ok(!JSON.stringify(keys).includes(k.key), 'key list never prints secrets');
    assert.equal(await s.close(), 0);
  });

  it('invalid and missing keys are Unauthorized', async () => {
    const valid = org.key;
    const cases = {
      garbage: 'not-a-key',
      prefixOnly: 'flx_',
      badChecksum: valid.slice(0, -1) + (valid.at(-1) === 'A' ? 'B' : 'A'),
      truncated: valid.slice(0, -3),
      empty: '',
    };
    for (const [label, key] of Object.entries(cases)) {
      const err = await expectRefusedConnect(key, /Unauthorized/, -32001);
      assert.ok(!err.message.includes(valid), `${label}: the message does not echo the key`);
    }
    await expectRefusedConnect(undefined, /Unauthorized/, -32001);
    // A well-formed key from another installation (another pepper and database).
    const other = new World('badinput-other');
    try {
      const foreign = other.tenant('elsewhere');
      await expectRefusedConnect(foreign.key, /Unauthorized/, -32001);
    } finally {
      other.cleanup();
    }
  });

  it('an expired key is Unauthorized', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, async () => {
    const k = world.key(org.orgId, 'all', ['--expires', '1']);
    const s = await world.connect(k.key, { name: 'expires' });
    await s.ok('list_pipelines');
    // Move the expiry into the past (there is no CLI for that, and no clock to fake here).
    const db = path.join(world.home, 'planasonix.db');
    const r = spawnSync('sqlite3', [db, `PRAGMA busy_timeout=5000; UPDATE api_keys SET expires_at = 1000 WHERE id = '${k.keyId}';`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const err = await s.client.listTools().then(() => null, (e) => e);
    assert.ok(err instanceof McpError);
    assert.match(err.message, /Unauthorized/);
    await s.close();
    await expectRefusedConnect(k.key, /Unauthorized/, -32001);
  });
});

describe('rate limit', () => {
  it('a Professional org (60/min): rapid requests past the limit get -32029 with retry_after_ms', async () => {
    const pro = world.tenant('pro-org', { plan: 'professional', rateLimit: null });
    const r = world.raw(pro.key, { name: 'ratelimit' });
    await r.initialize(); // initialize is an MCP request too and takes one token
    const N = 61;
    let batch = '';
    for (let i = 0; i < N; i++) batch += `${JSON.stringify({ jsonrpc: '2.0', id: 1000 + i, method: 'tools/list' })}\n`;
    await r.write(batch);
    const replies = [];
    for (let i = 0; i < N; i++) replies.push(await r.response());
    assert.deepEqual(replies.map((x) => x.id), Array.from({ length: N }, (_, i) => 1000 + i));
    const ok = replies.filter((x) => x.result).length;
    const limited = replies.filter((x) => x.error);
    for (const x of replies.slice(0, 59)) assert.ok(x.result, `within the limit: ${JSON.stringify(x).slice(0, 200)}`);
    const last = replies[N - 1];
    assert.ok(last.error, `the 61st tools/list is refused (${ok} succeeded)`);
    for (const e of limited) {
      assert.equal(e.error.code, -32029);
      assert.match(e.error.message, /Rate limit/);
      assert.match(e.error.message, /professional/i);
      assert.equal(e.error.data.code, 'rate_limited');
      assert.ok(Number.isInteger(e.error.data.retry_after_ms) && e.error.data.retry_after_ms > 0, JSON.stringify(e.error));
      assert.ok(e.error.data.retry_after_ms <= 60000);
    }
    // ping is not rate limited.
    assert.deepEqual((await r.request('ping')).result, {});
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('an unlimited override is not limited', async () => {
    const r = world.raw(org.key, { name: 'unlimited' });
    await r.initialize();
    let batch = '';
    for (let i = 0; i < 320; i++) batch += `${JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'logging/setLevel', params: { level: 'info' } })}\n`;
    await r.write(batch);
    for (let i = 0; i < 320; i++) assert.deepEqual((await r.response()).result, {});
    await r.end();
  });
});
