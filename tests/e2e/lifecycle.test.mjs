// Lifecycle and JSON-RPC rules: version negotiation, errors before/after initialize, batches,
// logging/setLevel, notifications, EOF and SIGTERM, and stdout carrying only JSON-RPC lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { E2E_DIR, LATEST, World, loadSpecs } from './lib.mjs';

const GOLDEN = path.join(E2E_DIR, 'golden/tools-list.json');

let world;
let admin;

before(() => {
  world = new World('lifecycle');
  admin = world.tenant('lifecycle-org');
});

after(async () => {
  await world.finish();
});

describe('CLI', () => {
  it('org create / org update / org list --json', () => {
    const org = world.cliJson(['org', 'create', 'cli-org', '--plan', 'premium']);
    assert.equal(org.plan, 'premium');
    assert.equal(org.rate_limit_per_minute, 120);
    const r = world.cli(['org', 'update', 'cli-org', '--rate-limit', '77', '--json'], { allowFail: true });
    assert.equal(r.status, 0, `org update exits 0; stderr: ${r.stderr}`);
    const updated = JSON.parse(r.stdout);
    assert.equal(updated.org_id, org.org_id);
    assert.equal(updated.rate_limit_per_minute, 77);
    assert.equal(updated.rate_limit_overridden, true);
    const listed = world.cliJson(['org', 'list']).orgs.find((o) => o.org_id === org.org_id);
    assert.equal(listed.rate_limit_per_minute, 77);
  });

  it('version, --help, and usage errors', () => {
    assert.match(world.cli(['version']).stdout, /^planasonix-mcp \d+\.\d+\.\d+/);
    assert.match(world.cli(['--help']).stdout, /--stdio/);
    assert.equal(world.cli(['frobnicate'], { allowFail: true }).status, 2);
    assert.equal(world.cli(['key', 'create', '--org', 'cli-org', '--scopes', 'pipelines:destroy'], { allowFail: true }).status, 2);
    assert.notEqual(world.cli(['key', 'create', '--org', 'no-such-org', '--scopes', 'all'], { allowFail: true }).status, 0);
  });
});

describe('SDK client', () => {
  it('negotiates 2025-11-25 and sees the server info and capabilities', async () => {
    const s = await world.connect(admin.key, { name: 'sdk-init' });
    assert.equal(s.protocolVersion, LATEST);
    assert.equal(s.client.getServerVersion().name, 'planasonix');
    const caps = s.client.getServerCapabilities();
    assert.deepEqual(caps.tools, { listChanged: false });
    assert.ok(caps.logging, 'logging capability (logging/setLevel is implemented)');
    assert.equal(typeof s.client.getInstructions(), 'string');
    assert.deepEqual(await s.client.ping(), {});
    assert.equal(s.tools.length, 22);
    assert.equal(await s.close(), 0, 'exit code after the SDK closes stdin');
  });
});

describe('raw JSON-RPC over stdio', () => {
  it('2024-11-05 is echoed and tools/list has no title, outputSchema or annotations', async () => {
    const r = world.raw(admin.key, { name: 'v2024' });
    const init = await r.initialize('2024-11-05');
    assert.equal(init.protocolVersion, '2024-11-05');
    assert.equal(init.serverInfo.name, 'planasonix');
    assert.equal(init.serverInfo.title, undefined, 'serverInfo.title arrived in 2025-06-18');
    const list = await r.request('tools/list', {});
    assert.equal(list.result.tools.length, 22);
    for (const t of list.result.tools) {
      assert.deepEqual(Object.keys(t).sort(), ['description', 'inputSchema', 'name'], t.name);
    }
    const call = await r.request('tools/call', { name: 'list_connection_types', arguments: {} });
    assert.equal(call.result.structuredContent, undefined, 'no structuredContent before 2025-06-18');
    assert.ok(JSON.parse(call.result.content[0].text).connection_types.length > 0);
    assert.deepEqual(await r.end(), { code: 0, signal: null });
    r.assertStdoutIsJsonRpc();
  });

  it('2025-03-26 gets annotations but no title or outputSchema', async () => {
    const r = world.raw(admin.key, { name: 'v2025-03' });
    assert.equal((await r.initialize('2025-03-26')).protocolVersion, '2025-03-26');
    const list = await r.request('tools/list');
    for (const t of list.result.tools) {
      assert.deepEqual(Object.keys(t).sort(), ['annotations', 'description', 'inputSchema', 'name'], t.name);
    }
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('2025-06-18 is echoed and gets title and outputSchema', async () => {
    const r = world.raw(admin.key, { name: 'v2025-06' });
    const init = await r.initialize('2025-06-18');
    assert.equal(init.protocolVersion, '2025-06-18');
    assert.equal(init.serverInfo.title, 'Planasonix');
    const list = await r.request('tools/list');
    for (const t of list.result.tools) {
      assert.deepEqual(Object.keys(t).sort(),
        ['annotations', 'description', 'inputSchema', 'name', 'outputSchema', 'title'], t.name);
    }
    const call = await r.request('tools/call', { name: 'list_connection_types', arguments: {} });
    assert.deepEqual(JSON.parse(call.result.content[0].text), call.result.structuredContent);
    await r.end();
  });

  it('an unknown version (1999-01-01) gets 2025-11-25, not an error', async () => {
    const r = world.raw(admin.key, { name: 'v1999' });
    const res = await r.request('initialize', {
      protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'x', version: '1' },
    });
    assert.equal(res.error, undefined);
    assert.equal(res.result.protocolVersion, LATEST);
    await r.end();
  });

  it('initialize without protocolVersion is -32602; a second initialize is -32600', async () => {
    const r = world.raw(admin.key, { name: 'reinit' });
    const bad = await r.request('initialize', { capabilities: {}, clientInfo: { name: 'x', version: '1' } });
    assert.equal(bad.error.code, -32602);
    await r.initialize();
    const again = await r.request('initialize', {
      protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' },
    });
    assert.equal(again.error.code, -32600);
    await r.end();
  });

  it('a request before initialize is -32600; ping before initialize is {}', async () => {
    const r = world.raw(admin.key, { name: 'preinit' });
    const list = await r.request('tools/list');
    assert.equal(list.error.code, -32600);
    assert.match(list.error.message, /initialize/);
    const call = await r.request('tools/call', { name: 'list_pipelines', arguments: {} });
    assert.equal(call.error.code, -32600);
    const ping = await r.request('ping');
    assert.deepEqual(ping.result, {});
    // Still usable afterwards.
    await r.initialize();
    assert.equal((await r.request('tools/list')).result.tools.length, 22);
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('unknown methods are -32601, unknown tools and bad tools/call params are -32602', async () => {
    const r = world.raw(admin.key, { name: 'unknown' });
    await r.initialize();
    for (const m of ['resources/list', 'prompts/list', 'server/discover', 'no/such/method']) {
      const res = await r.request(m, {});
      assert.equal(res.error?.code, -32601, `${m}: ${JSON.stringify(res)}`);
    }
    const unknownTool = await r.request('tools/call', { name: 'no_such_tool', arguments: {} });
    assert.equal(unknownTool.error.code, -32602);
    assert.match(unknownTool.error.message, /no_such_tool/);
    const noName = await r.request('tools/call', { arguments: {} });
    assert.equal(noName.error.code, -32602);
    const argsArray = await r.request('tools/call', { name: 'list_pipelines', arguments: [1] });
    assert.equal(argsArray.error.code, -32602);
    const paramsArray = await r.request('tools/list', [1, 2]);
    assert.equal(paramsArray.error.code, -32602);
    const cursor = await r.request('tools/list', { cursor: 'nope' });
    assert.equal(cursor.error.code, -32602, 'an invalid tools/list cursor is -32602');
    await r.end();
  });

  it('malformed JSON is -32700 with id null; invalid requests are -32600', async () => {
    const r = world.raw(admin.key, { name: 'malformed' });
    await r.initialize();
    await r.write('{"jsonrpc":"2.0","id":77,"method":"ping"\n');
    let m = await r.next();
    assert.equal(m.error.code, -32700);
    assert.equal(m.id, null);
    assert.ok('id' in m, 'the id member is present (null)');

    await r.write('not json at all\n');
    m = await r.next();
    assert.equal(m.error.code, -32700);
    assert.equal(m.id, null);

    await r.send({ jsonrpc: '1.0', id: 5, method: 'ping' });
    m = await r.next();
    assert.equal(m.error.code, -32600);
    assert.equal(m.id, 5);

    await r.send({ jsonrpc: '2.0', id: null, method: 'ping' });
    m = await r.next();
    assert.equal(m.error.code, -32600, 'a null id is not allowed');
    assert.equal(m.id, null);

    await r.send({ jsonrpc: '2.0', id: 6, method: 42 });
    m = await r.next();
    assert.equal(m.error.code, -32600);

    await r.send('a string');
    m = await r.next();
    assert.equal(m.error.code, -32600);

    // A string id is echoed as is.
    await r.send({ jsonrpc: '2.0', id: 'abc', method: 'ping' });
    m = await r.next();
    assert.deepEqual(m, { jsonrpc: '2.0', id: 'abc', result: {} });
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('a batch in 2025-03-26 gets an array of responses', async () => {
    const r = world.raw(admin.key, { name: 'batch-0326' });
    await r.initialize('2025-03-26');
    await r.send([
      { jsonrpc: '2.0', id: 10, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 11, method: 'tools/list' },
      { jsonrpc: '2.0', id: 12, method: 'no/such' },
    ]);
    const m = await r.next();
    assert.ok(Array.isArray(m), `batch reply is an array: ${JSON.stringify(m).slice(0, 200)}`);
    assert.deepEqual(m.map((x) => x.id), [10, 11, 12]);
    assert.deepEqual(m[0].result, {});
    assert.equal(m[1].result.tools.length, 22);
    assert.equal(m[2].error.code, -32601);

    await r.send([{ jsonrpc: '2.0', id: 13, method: 'initialize', params: { protocolVersion: LATEST } }]);
    const init = await r.next();
    assert.equal(init[0].error.code, -32600, 'initialize must not be in a batch');

    await r.send([]);
    assert.equal((await r.next()).error.code, -32600, 'empty batch');
    // A batch of notifications only gets no reply: the ping after it is answered next.
    await r.send([{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
    assert.deepEqual((await r.request('ping')).result, {});
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('a batch in 2025-11-25 is one -32600 error', async () => {
    const r = world.raw(admin.key, { name: 'batch-1125' });
    await r.initialize(LATEST);
    await r.send([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'ping' }]);
    const m = await r.next();
    assert.ok(!Array.isArray(m));
    assert.equal(m.error.code, -32600);
    assert.equal(m.id, null);
    await r.end();
  });

  it('logging/setLevel: a valid level is {}, an invalid one -32602', async () => {
    const r = world.raw(admin.key, { name: 'logging' });
    await r.initialize();
    for (const level of ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']) {
      assert.deepEqual((await r.request('logging/setLevel', { level })).result, {}, level);
    }
    assert.equal((await r.request('logging/setLevel', { level: 'verbose' })).error.code, -32602);
    assert.equal((await r.request('logging/setLevel', {})).error.code, -32602);
    // At debug, a tool call is followed by a notifications/message (sent before the response).
    await r.request('logging/setLevel', { level: 'debug' });
    await r.request('tools/call', { name: 'list_pipelines', arguments: {} });
    const logs = r.notifications.filter((n) => n.method === 'notifications/message');
    assert.equal(logs.length, 1, JSON.stringify(r.notifications));
    assert.equal(logs[0].params.level, 'debug');
    assert.equal(logs[0].params.data.tool, 'list_pipelines');
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('notifications get no response', async () => {
    const r = world.raw(admin.key, { name: 'notify' });
    await r.initialize();
    await r.notify('notifications/initialized');
    await r.notify('notifications/cancelled', { requestId: 999, reason: 'test' });
    await r.notify('notifications/progress', { progressToken: 1, progress: 1 });
    await r.notify('notifications/whatever');
    await r.notify('notifications/bad-params', [1]);
    await r.send({ jsonrpc: '2.0', id: 999, result: {} }); // a response to nothing: ignored
    const ping = await r.request('ping');
    assert.deepEqual(ping.result, {}, 'the ping reply is the next line: nothing answered the notifications');
    assert.equal(r.lines.length, 2, `only initialize and ping were answered: ${r.lines.join('\n')}`);
    await r.end();
  });

  it('a request cancelled before it is handled gets no response', async () => {
    const r = world.raw(admin.key, { name: 'cancel' });
    await r.initialize();
    await r.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 500 } })}\n` +
      `${JSON.stringify({ jsonrpc: '2.0', id: 500, method: 'tools/list' })}\n`);
    const ping = await r.request('ping');
    assert.deepEqual(ping.result, {});
    assert.ok(!r.lines.some((l) => JSON.parse(l).id === 500), 'request 500 was not answered');
    await r.end();
  });

  it('EOF on stdin: the process exits 0', async () => {
    const r = world.raw(admin.key, { name: 'eof' });
    await r.initialize();
    await r.request('tools/list');
    assert.deepEqual(await r.end(), { code: 0, signal: null });
    assert.match(r.stderr(), /serving MCP on stdio/, 'logs go to stderr');
    r.assertStdoutIsJsonRpc();
  });

  it('EOF right away (no messages): exits 0 with empty stdout', async () => {
    const r = world.raw(admin.key, { name: 'eof-empty' });
    assert.deepEqual(await r.end(), { code: 0, signal: null });
    assert.deepEqual(r.lines, []);
  });

  it('SIGTERM: the process exits 0 promptly', async () => {
    const r = world.raw(admin.key, { name: 'sigterm' });
    await r.initialize();
    assert.deepEqual((await r.request('ping')).result, {});
    r.proc.kill('SIGTERM');
    const exit = await r.exited; // the test timeout bounds "promptly"
    assert.deepEqual(exit, { code: 0, signal: null });
    await r.end();
    r.assertStdoutIsJsonRpc();
  });

  it('stdout carries only JSON-RPC lines through a mixed session', async () => {
    const r = world.raw(admin.key, { name: 'stdout-only', env: { PLANASONIX_LOG: 'debug' } });
    await r.request('ping');
    await r.initialize();
    await r.request('logging/setLevel', { level: 'debug' });
    await r.request('tools/list');
    await r.request('tools/call', { name: 'list_connection_types', arguments: {} });
    await r.request('tools/call', { name: 'get_pipeline', arguments: { pipeline_id: 'pl_x' } });
    await r.request('tools/call', { name: 'create_connection', arguments: { name: 'c', type: 'nope', category: 'source', params: {} } });
    await r.write('garbage\n\n   \n\r\n');
    assert.equal((await r.next()).error.code, -32700, 'garbage is a parse error; blank lines are skipped');
    await r.request('ping');
    await r.end();
    r.assertStdoutIsJsonRpc();
    assert.ok(r.lines.length >= 8);
  });
});

describe('tools/list', () => {
  it('lists exactly the 22 tools of src/tools/specs with complete metadata', async () => {
    const specs = loadSpecs();
    assert.equal(Object.keys(specs).length, 22);
    const r = world.raw(admin.key, { name: 'tools-list' });
    await r.initialize(LATEST);
    const res = (await r.request('tools/list', {})).result;
    await r.end();
    assert.equal(res.nextCursor, undefined, 'one page');
    const names = res.tools.map((t) => t.name);
    assert.equal(new Set(names).size, 22, 'names are unique');
    assert.deepEqual([...names].sort(), Object.keys(specs).sort());
    for (const t of res.tools) {
      const spec = specs[t.name];
      assert.match(t.name, /^[A-Za-z0-9_.-]{1,128}$/);
      assert.equal(typeof t.title, 'string', `${t.name}.title`);
      assert.ok(t.description.length > 20, `${t.name}.description`);
      assert.equal(t.inputSchema.type, 'object', `${t.name}.inputSchema.type`);
      assert.equal(t.inputSchema.additionalProperties, false, `${t.name} additionalProperties`);
      assert.equal(t.outputSchema.type, 'object', `${t.name}.outputSchema.type`);
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        assert.equal(typeof t.annotations[h], 'boolean', `${t.name}.annotations.${h}`);
      }
      assert.equal(t.title, spec.title);
      assert.equal(t.description, spec.description);
      assert.deepEqual(t.inputSchema, spec.inputSchema);
      assert.deepEqual(t.outputSchema, spec.outputSchema);
      assert.deepEqual(t.annotations, spec.annotations);
      assert.equal(t.scope, undefined, 'the scope is not part of the wire format');
    }
  });

  it('matches the golden file exactly (UPDATE_GOLDEN=1 rewrites it)', async () => {
    const r = world.raw(admin.key, { name: 'golden' });
    await r.initialize(LATEST);
    const res = (await r.request('tools/list', {})).result;
    await r.end();
    const text = `${JSON.stringify(res, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, text);
      return;
    }
    assert.ok(fs.existsSync(GOLDEN), `${GOLDEN} is missing: run with UPDATE_GOLDEN=1 once`);
    const golden = fs.readFileSync(GOLDEN, 'utf8');
    assert.deepStrictEqual(res, JSON.parse(golden), 'tools/list differs from golden/tools-list.json');
    assert.equal(text, golden, 'same content; member order differs from golden/tools-list.json');
  });
});
