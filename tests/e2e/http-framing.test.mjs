// Strict HTTP/1.1 framing (issue 10 item 11): requests whose end a front proxy and this server
// could see differently (request smuggling) get 400 and a closed connection before any route
// handler runs: differing Content-Length fields, "Transfer-Encoding : chunked", bare-LF line
// ends, obs-fold continuation lines, Transfer-Encoding with Content-Length or other than
// chunked. Raw bytes over node:net; a valid key is sent, so a 401 would mean a handler ran.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { HttpWorld } from './http-lib.mjs';

/** Writes bytes, reads until the server closes (or timeoutMs); returns the raw answer. */
function raw(port, bytes, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve({ text: out, closed: true }));
    s.on('error', (e) => (e.code === 'ECONNRESET' ? resolve({ text: out, closed: true }) : reject(e)));
    s.setTimeout(timeoutMs, () => { s.destroy(); resolve({ text: out, closed: false }); });
    s.write(bytes);
  });
}

const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => Number(m[1]));

describe('HTTP framing', () => {
  let world;
  let server;
  let key;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  let H;
  before(async () => {
    world = new HttpWorld('framing');
    ({ key } = world.tenant('framing'));
    server = await world.serve();
    H = `Host: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n`;
  });
  after(async () => { await world.finish(); });

  test('a well-framed POST is served (the baseline)', async () => {
    const r = await raw(server.port, `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(statuses(r.text), [200], r.text);
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const c = await raw(server.port, `POST /mcp HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
    assert.deepEqual(statuses(c.text), [200], c.text);
    const same = await raw(server.port, `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(statuses(same.text), [200], `identical Content-Length fields agree: ${same.text}`);
    const ws = await raw(server.port, `POST /mcp HTTP/1.1\r\n${H}X-Note: trailing space   \r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(statuses(ws.text), [200], ws.text);
  });

  const L = () => body.length;
  const cases = {
    'differing Content-Length': () => `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${L()}\r\nContent-Length: 3\r\n\r\n${body}`,
    'differing Content-Length (short first)': () => `POST /mcp HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: ${L()}\r\n\r\n${body}`,
    'Transfer-Encoding with a space before the colon': () => `POST /mcp HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: ${L()}\r\n\r\n${body}`,
    'Transfer-Encoding with a space before the colon, alone': () => `POST /mcp HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n${L().toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    'Transfer-Encoding and Content-Length': () => `POST /mcp HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${L().toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    'Transfer-Encoding other than chunked': () => `POST /mcp HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n${L().toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    'bare LF everywhere': () => `POST /mcp HTTP/1.1\n${H.replace(/\r\n/g, '\n')}Content-Length: ${L()}\n\n${body}`,
    'one bare LF': () => `POST /mcp HTTP/1.1\r\n${H}X-A: 1\nContent-Length: ${L()}\r\n\r\n${body}`,
    'bare LF ending the request line': () => `POST /mcp HTTP/1.1\n${H}Content-Length: ${L()}\r\n\r\n${body}`,
    'bare LF ending the header section': () => `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${L()}\r\n\n${body}`,
    'obs-fold (space)': () => `POST /mcp HTTP/1.1\r\n${H}X-A: 1\r\n  continued\r\nContent-Length: ${L()}\r\n\r\n${body}`,
    'obs-fold (tab) of Content-Length': () => `POST /mcp HTTP/1.1\r\n${H}Content-Length:\r\n\t${L()}\r\n\r\n${body}`,
    'a field name with separators': () => `POST /mcp HTTP/1.1\r\n${H}X(A): 1\r\nContent-Length: ${L()}\r\n\r\n${body}`,
    'obs-fold on GET /healthz': () => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n\tcont\r\n\r\n`,
    'bare LF on GET /mcp': () => `GET /sse HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${key}\n\n`,
  };
  for (const [name, make] of Object.entries(cases)) {
    test(`${name} → 400, connection closed`, async () => {
      const r = await raw(server.port, make());
      assert.deepEqual(statuses(r.text), [400], r.text);
      assert.match(r.text, /ambiguous HTTP framing/);
      assert.ok(r.closed, 'the server closes the connection');
    });
  }

  test('a later request on a kept-alive connection is checked too', async () => {
    const ok = `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\n\r\n${body}`;
    const bad = `POST /mcp HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`;
    const r = await raw(server.port, ok + bad);
    assert.deepEqual(statuses(r.text), [200, 400], r.text);
    assert.ok(r.closed);
  });

  test('refusals are audited as bad_framing, and no session was opened', async () => {
    const rows = await world.auditWait("error_code = 'bad_framing'", Object.keys(cases).length - 1);
    assert.ok(rows.every((row) => row.outcome === 'error'));
  });
});
