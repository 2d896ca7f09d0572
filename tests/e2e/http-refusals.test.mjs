// Every refusal of the HTTP transports (issue 3, mcp.md §7.2, §9, §10), with the SDK client
// where it can express the case and raw fetch where it cannot: 401 (+ WWW-Authenticate) for
// missing, wrong, expired and revoked keys (revoked mid-session through the CLI), 403 for a
// foreign Origin and for the Starter plan, 421 for a foreign Host, 404 for unknown and
// foreign sessions, 400 for a missing session id, 429 with Retry-After and RateLimit fields,
// 413, 406, 415, and the audit trail of all of it with its transport.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import {
  HttpWorld, hasSqlite3, initializeMsg, openSession, openSse, rawHttp, request, responseOf, rpc,
} from './http-lib.mjs';
import { LATEST } from './lib.mjs';

const EVIL = 'http://evil.example.com';

function bigCall(size) {
  return JSON.stringify(rpc('tools/call', { name: 'list_pipelines', arguments: { query: 'x'.repeat(size) } }));
}

function streamOf(bytes) {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.slice(i, i + 65536));
      c.close();
    },
  });
}

/** A 401 with WWW-Authenticate: Bearer … and a JSON-RPC error body with id null. */
function assert401(r, what, { presented = true } = {}) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  const www = r.headers.get('www-authenticate');
  assert.match(www || '', /^Bearer\b/, `${what}: WWW-Authenticate`);
  if (presented) assert.match(www, /error="invalid_token"/, `${what}: a presented key is an invalid_token`);
  assert.doesNotMatch(www, /resource_metadata/, 'no OAuth metadata advertised (mcp.md §9)');
  assert.equal(r.json.jsonrpc, '2.0');
  assert.equal(r.json.id, null);
  assert.equal(r.json.error.code, -32001);
  assert.match(r.json.error.message, /^Unauthorized/);
}

describe('HTTP refusals', () => {
  let world;
  let server;
  let org; // enterprise, unlimited
  let other; // another organization

  before(async () => {
    world = new HttpWorld('http-refusals');
    org = world.tenant('refusals-org');
    other = world.tenant('refusals-other');
    server = await world.serve();
  });

  after(async () => {
    await world.finish();
  });

  it('401 without a key, with a wrong key, or with another scheme, on every MCP route', async () => {
    const { session } = await openSession(server, org.key);
    const cases = [
      ['no key', {}, false],
      ['wrong key', { Authorization: 'Bearer flx_thisIsNotAKeyAtAll0000000000000000000000' }, true],
      ['garbage', { Authorization: 'Bearer x' }, true],
      ['Basic scheme', { Authorization: `Basic ${Buffer.from(`u:${org.key}`).toString('base64')}` }, false],
    ];
    for (const [what, headers, presented] of cases) {
      assert401(await request(server.mcp, { headers, body: initializeMsg() }), `POST /mcp initialize, ${what}`, { presented });
      // The key is checked before the session lookup: a valid session id does not help.
      assert401(await request(server.mcp, { headers, session, version: LATEST, body: rpc('tools/list', {}) }), `POST /mcp with a session, ${what}`, { presented });
      assert401(await request(server.mcp, { method: 'DELETE', headers, session }), `DELETE /mcp, ${what}`, { presented });
      assert401(await request(server.mcp, { method: 'GET', headers, session, accept: 'text/event-stream' }), `GET /mcp, ${what}`, { presented });
      assert401(await request(`${server.base}/sse`, { method: 'GET', headers, accept: 'text/event-stream' }), `GET /sse, ${what}`, { presented });
      assert401(await request(`${server.base}/messages?sessionId=x`, { headers, body: rpc('ping') }), `POST /messages, ${what}`, { presented });
    }
    // The session survived all of that.
    const r = await request(server.mcp, { key: org.key, session, version: LATEST, body: rpc('ping', undefined, 1) });
    assert.equal(r.status, 200);
  });

  it('the SDK clients without a key report the 401 and do not fall back', async () => {
    await assert.rejects(world.connectHttp(server, undefined, { name: 'nokey-http' }), (e) => e.code === 401 || /401/.test(e.message));
    await assert.rejects(world.connectHttp(server, 'flx_wrong', { kind: 'sse', name: 'nokey-sse' }), (e) => e.code === 401 || /401/.test(e.message));
  });

  it('a key revoked mid-session with the CLI gets 401 on the next request (Streamable HTTP and SSE)', async () => {
    const k = world.key(org.orgId);
    const h = await world.connectHttp(server, k.key, { name: 'revoke-http' });
    const s = await world.connectHttp(server, k.key, { kind: 'sse', name: 'revoke-sse' });
    const { session } = await openSession(server, k.key);
    assert.equal((await h.client.listTools()).tools.length, 22);
    world.cli(['key', 'revoke', k.keyId]);
    await assert.rejects(h.client.listTools(), (e) => e.code === 401 || /401/.test(e.message), 'Streamable HTTP after revoke');
    await assert.rejects(s.client.listTools(), (e) => /HTTP 401/.test(e.message), 'SSE after revoke');
    assert401(await request(server.mcp, { key: k.key, session, version: LATEST, body: rpc('ping') }), 'raw, revoked');
    assert401(await request(server.mcp, { key: k.key, body: initializeMsg() }), 'new session, revoked');
  });

  it('an expired key gets 401', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, async () => {
    const k = world.key(org.orgId);
    const { session } = await openSession(server, k.key);
    const r = spawnSync('sqlite3', [`${world.home}/planasonix.db`,
      `PRAGMA busy_timeout=5000; UPDATE api_keys SET expires_at = 1000 WHERE id = '${k.keyId}';`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert401(await request(server.mcp, { key: k.key, session, version: LATEST, body: rpc('tools/list', {}) }), 'expired key');
  });

  it('403 for a foreign Origin (before the key is even looked at); loopback origins are fine', async () => {
    const { session } = await openSession(server, org.key);
    for (const origin of [EVIL, 'null', 'http://localhost.evil.example.com', 'https://127.0.0.1.nip.io']) {
      const headers = { Origin: origin };
      for (const [what, r] of [
        ['POST /mcp initialize', await request(server.mcp, { key: org.key, headers, body: initializeMsg() })],
        ['POST /mcp in a session', await request(server.mcp, { key: org.key, headers, session, version: LATEST, body: rpc('ping') })],
        ['POST /mcp without a key', await request(server.mcp, { headers, body: initializeMsg() })],
        ['GET /sse', await request(`${server.base}/sse`, { method: 'GET', key: org.key, headers, accept: 'text/event-stream' })],
        ['POST /messages', await request(`${server.base}/messages?sessionId=x`, { key: org.key, headers, body: rpc('ping') })],
        ['DELETE /mcp', await request(server.mcp, { method: 'DELETE', key: org.key, headers, session })],
      ]) {
        assert.equal(r.status, 403, `${what} with Origin ${origin}: ${r.status} ${r.text}`);
        assert.equal(r.json?.error?.code, -32000, `${what}: JSON-RPC error body`);
      }
    }
    for (const origin of ['http://localhost:3000', `http://127.0.0.1:${server.port}`, 'http://[::1]:8080']) {
      const r = await request(server.mcp, { key: org.key, headers: { Origin: origin }, session, version: LATEST, body: rpc('ping', undefined, 2) });
      assert.equal(r.status, 200, `Origin ${origin}: ${r.text}`);
    }
    // The SDK client with a foreign Origin header cannot connect.
    await assert.rejects(world.connectHttp(server, org.key, { name: 'evil-origin', headers: { Origin: EVIL } }),
      (e) => e.code === 403 || /403/.test(e.message));
  });

  it('a foreign Host gets a 4xx (421) before anything else (DNS rebinding)', async () => {
    const body = JSON.stringify(initializeMsg());
    const base = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${org.key}` };
    let r = await rawHttp(server.port, { method: 'POST', path: '/mcp', headers: { ...base, Host: 'evil.example.com', Origin: EVIL }, body });
    assert.equal(r.status, 421, r.text);
    r = await rawHttp(server.port, { method: 'POST', path: '/mcp', headers: { ...base, Host: `evil.example.com:${server.port}` }, body });
    assert.equal(r.status, 421, r.text);
    r = await rawHttp(server.port, { method: 'GET', path: '/sse', headers: { Authorization: base.Authorization, Host: 'evil.example.com' } });
    assert.equal(r.status, 421);
    r = await rawHttp(server.port, { method: 'POST', path: '/mcp', headers: { ...base, Host: `localhost:${server.port}` }, body });
    assert.equal(r.status, 200, r.text);
  });

  it('403 for an organization on the Starter plan', async () => {
    const starter = world.tenant('refusals-starter', { plan: 'starter', rateLimit: null });
    const r = await request(server.mcp, { key: starter.key, body: initializeMsg() });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, -32003);
    assert.match(r.json.error.message, /Starter/);
    const sse = await request(`${server.base}/sse`, { method: 'GET', key: starter.key, accept: 'text/event-stream' });
    assert.equal(sse.status, 403);
  });

  it('404 for an unknown session id and for a session id presented with another key', async () => {
    const { session } = await openSession(server, org.key);
    const sameOrg = world.key(org.orgId);
    for (const [what, key, sid] of [
      ['unknown id', org.key, 'nope'],
      ['well-formed unknown id', org.key, randomBytes(32).toString('base64url')],
      ["another org's key", other.key, session],
      ['another key of the same org', sameOrg.key, session],
    ]) {
      for (const body of [rpc('tools/list', {}), rpc('ping'), { jsonrpc: '2.0', method: 'notifications/initialized' }]) {
        const r = await request(server.mcp, { key, session: sid, version: LATEST, body });
        assert.equal(r.status, 404, `${what}, ${body.method}: ${r.status} ${r.text}`);
      }
      const d = await request(server.mcp, { method: 'DELETE', key, session: sid });
      assert.equal(d.status, 404, `${what}: DELETE`);
    }
    // The session is still there for its own key (the foreign DELETE did not end it).
    const r = await request(server.mcp, { key: org.key, session, version: LATEST, body: rpc('ping', undefined, 3) });
    assert.equal(r.status, 200);
    // And another org's SDK client cannot ride on it: the SDK with a forced session id gets 404.
    const sse = await openSse(server, org.key);
    try {
      const sid = new URL((await sse.next('endpoint')).data, server.base).searchParams.get('sessionId');
      const p = await request(`${server.base}/messages?sessionId=${sid}`, { key: other.key, body: rpc('ping'), accept: null });
      assert.equal(p.status, 404, 'legacy session with another key');
    } finally {
      sse.close();
    }
  });

  it('400 for a request without a session id', async () => {
    for (const body of [rpc('tools/list', {}), rpc('tools/call', { name: 'list_pipelines', arguments: {} })]) {
      const r = await request(server.mcp, { key: org.key, version: LATEST, body });
      assert.equal(r.status, 400, `${body.method}: ${r.text}`);
      assert.match(r.json.error.message, /Mcp-Session-Id/);
    }
    const d = await request(server.mcp, { method: 'DELETE', key: org.key });
    assert.equal(d.status, 400, 'DELETE without a session id');
  });

  it('406 for a wrong Accept, 415 for a wrong Content-Type', async () => {
    const { session } = await openSession(server, org.key);
    for (const accept of ['application/json', 'text/event-stream', 'text/html', 'application/json, text/event-stream;q=0']) {
      const r = await request(server.mcp, { key: org.key, accept, body: initializeMsg() });
      assert.equal(r.status, 406, `Accept: ${accept}: ${r.status}`);
      const r2 = await request(server.mcp, { key: org.key, accept, session, version: LATEST, body: rpc('ping') });
      assert.equal(r2.status, 406, `Accept: ${accept} in a session`);
    }
    // No Accept at all (fetch would add */*; node:http sends none).
    const noAccept = await rawHttp(server.port, {
      method: 'POST', path: '/mcp', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${org.key}` }, body: JSON.stringify(initializeMsg()),
    });
    assert.equal(noAccept.status, 406, 'no Accept header');
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', null]) {
      const r = await request(server.mcp, { key: org.key, contentType: ct, body: JSON.stringify(initializeMsg()) });
      assert.equal(r.status, 415, `Content-Type: ${ct}: ${r.status}`);
    }
    const ok = await request(server.mcp, { key: org.key, contentType: 'application/json; charset=utf-8', body: initializeMsg() });
    assert.equal(ok.status, 200, 'a charset parameter is fine');
    const r = await request(server.mcp, { key: org.key, session, version: LATEST, body: rpc('ping', undefined, 4) });
    assert.equal(r.status, 200, 'the session is unharmed');
  });

  it('413 for a body over 1 MiB: chunked, or with Expect: 100-continue', async () => {
    const { session } = await openSession(server, org.key);
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${org.key}`, 'Mcp-Session-Id': session };
    for (const size of [(1 << 20) + 10, 4 << 20]) {
      const bytes = new TextEncoder().encode(bigCall(size));
      // Chunked: no Content-Length, so the limit applies while reading.
      const chunked = await fetch(server.mcp, { method: 'POST', headers, body: streamOf(bytes), duplex: 'half' });
      assert.equal(chunked.status, 413, `chunked ${size} bytes`);
      assert.equal((await chunked.json()).error.message.startsWith('Payload Too Large'), true);
      // Content-Length with Expect: 100-continue (curl's way): refused before the body is sent.
      const r = await rawHttp(server.port, { method: 'POST', path: '/mcp', headers: { ...headers, 'Content-Length': bytes.length, Expect: '100-continue' }, expectContinue: true });
      assert.equal(r.status, 413, `Expect: 100-continue, ${size} bytes`);
    }
  });

  it('413 for a body over 1 MiB with a Content-Length, as fetch (the SDK client) sends it', async () => {
    // fetch sends the whole body without Expect: 100-continue. The answer must still reach
    // the client as a 413 (not a reset connection) while the body is within what the server
    // is willing to read and discard.
    const { session } = await openSession(server, org.key);
    const failures = [];
    for (const [url, what] of [[server.mcp, 'POST /mcp'], [`${server.base}/messages?sessionId=x`, 'POST /messages']]) {
      for (const size of [(1 << 20) + 10, 2 << 20, 4 << 20]) {
        for (let i = 0; i < 3; i++) {
          try {
            const r = await request(url, { key: org.key, session, version: LATEST, body: bigCall(size) });
            if (r.status !== 413) failures.push(`${what} ${size} bytes: ${r.status}`);
          } catch (e) {
            failures.push(`${what} ${size} bytes: ${e.cause?.code || e.message}`);
          }
        }
      }
    }
    assert.deepEqual(failures, [], 'every oversized body answered 413 (the connection is closed before the body is read)');
  });

  it('just under 1 MiB passes the limit; JSON nested too deep is a parse error', async () => {
    const { session } = await openSession(server, org.key);
    // A big body that fits is parsed and answered (the tool refuses the long query itself).
    const fits = JSON.stringify(rpc('tools/call', { name: 'list_pipelines', arguments: { query: 'x'.repeat(900000) } }, 5));
    let r = await request(server.mcp, { key: org.key, session, version: LATEST, body: fits });
    assert.equal(r.status, 200);
    assert.equal(responseOf(r).result.isError, true);
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
    r = await request(server.mcp, { key: org.key, session, version: LATEST, body: deep });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32700);
  });

  it('429 with Retry-After and RateLimit fields for a Professional org after 60 rapid requests', async () => {
    const pro = world.tenant('refusals-pro', { plan: 'professional', rateLimit: null });
    const { session, res } = await openSession(server, pro.key); // initialize counts: 1
    assert.match(res.headers.get('ratelimit-policy') || '', /q=60\b/, 'RateLimit-Policy on a success');
    assert.match(res.headers.get('ratelimit') || '', /r=\d+/);
    let refused;
    let n = 1;
    for (; n < 200 && !refused; n++) {
      const r = await request(server.mcp, { key: pro.key, session, version: LATEST, body: rpc('tools/list', {}) });
      if (r.status === 429) refused = r;
      else assert.equal(r.status, 200, `request ${n + 1}: ${r.text}`);
    }
    assert.ok(refused, 'a 429 within 200 requests');
    assert.ok(n > 60, `the first 60 requests pass (refused at request ${n})`);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After: ${refused.headers.get('retry-after')}`);
    assert.match(refused.headers.get('ratelimit-policy') || '', /^"?\w+"?;q=60;w=60$/);
    assert.match(refused.headers.get('ratelimit') || '', /r=0\b.*t=\d+/);
    assert.equal(refused.json.error.code, -32029);
    assert.ok(refused.json.error.data.retry_after_ms > 0);
    assert.match(refused.json.error.message, /professional|Professional/);
    // ping is not counted; another org is not affected.
    const p = await request(server.mcp, { key: pro.key, session, version: LATEST, body: rpc('ping', undefined, 6) });
    assert.equal(p.status, 200, 'ping while limited');
    const o = await request(server.mcp, { key: org.key, body: initializeMsg() });
    assert.equal(o.status, 200, 'another org');
  });

  it('the audit trail has the refused requests, with transport http and sse', { skip: !hasSqlite3 && 'sqlite3 CLI not installed' }, async () => {
    const denied = await world.auditWait("outcome = 'denied' AND transport = 'http' AND error_code = 'unauthorized'");
    assert.ok(denied.some((r) => r.org_id === null), 'an unidentified caller is audited without org');
    await world.auditWait("transport = 'sse' AND error_code = 'unauthorized'");
    await world.auditWait("transport = 'http' AND error_code = 'origin_not_allowed'");
    await world.auditWait("transport = 'sse' AND error_code = 'origin_not_allowed'");
    await world.auditWait("transport = 'http' AND error_code = 'host_not_allowed'");
    await world.auditWait("transport = 'http' AND error_code = 'not_found'");
    await world.auditWait("transport = 'sse' AND error_code = 'not_found'");
    await world.auditWait("error_code = 'rate_limited'");
    await world.auditWait("error_code = 'plan_not_allowed'");
    await world.auditWait("error_code = 'too_large'");
    await world.auditWait("transport = 'http' AND error_code = 'not_acceptable'");
    await world.auditWait("transport = 'http' AND error_code = 'unsupported_media_type'");
    await world.auditWait("transport = 'http' AND error_code = 'invalid_argument' AND method = 'tools/list'"); // no session id
    const parse = await world.auditWait("transport = 'http' AND error_code = 'invalid_argument' AND outcome = 'error'");
    assert.ok(parse.length >= 1);
    const revoked = await world.auditWait("outcome = 'denied' AND error_code = 'unauthorized' AND key_id IS NULL");
    assert.ok(revoked.length > 0);
    // Successful requests of both transports are there too, with org and key.
    const okHttp = await world.auditWait(`transport = 'http' AND outcome = 'ok' AND org_id = '${org.orgId}'`);
    assert.ok(okHttp.some((r) => r.method === 'initialize'));
    const okSse = await world.auditWait("transport = 'sse' AND outcome = 'ok'");
    assert.ok(okSse.length > 0);
    for (const r of world.audit()) assert.ok(['http', 'sse', 'stdio', 'cli'].includes(r.transport), `transport ${r.transport}`);
  });
});
