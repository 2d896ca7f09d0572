// Helpers for the stdio proxy tests: spawns `planasonix-mcp --stdio` with PLANASONIX_API_URL set and
// talks raw JSON-RPC lines to it. The binary is $PLANASONIX_BIN (default build/asan/planasonix-mcp).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const BIN = path.resolve(REPO, process.env.PLANASONIX_BIN || 'build/asan/planasonix-mcp');
export const LATEST = '2025-11-25';

const SANITIZER = [/ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/,
  /SUMMARY: \w+Sanitizer/];

export function assertNoSanitizerReport(text, where) {
  for (const re of SANITIZER) {
    const m = re.exec(text);
    if (m) assert.fail(`${where}: sanitizer report:\n${text.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until cond() is truthy (polling), or fails after timeoutMs. */
export async function until(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A temp dir; PLANASONIX_HOME points inside it at a directory that must never be created. */
export function tempHome() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'planasonix-proxy-'));
  return { root, home: path.join(root, 'home-never-created') };
}

/** `planasonix-mcp --stdio` in proxy mode, driven with raw JSON-RPC lines. */
export class ProxyProc {
  constructor(url, { key, env = {}, home } = {}) {
    this.tmp = home ? null : tempHome();
    this.home = home || this.tmp.home;
    const e = {
      PATH: process.env.PATH,
      HOME: this.tmp ? this.tmp.root : os.tmpdir(),
      PLANASONIX_HOME: this.home,
      PLANASONIX_API_URL: url,
      PLANASONIX_LOG: 'debug',
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: 'print_stacktrace=1',
      ...env,
    };
    if (key !== undefined) e.PLANASONIX_API_KEY = key;
    this.proc = spawn(BIN, ['--stdio'], { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    this.nextId = 1;
    this.received = []; // {msg, line, at}
    this.taken = new Set();
    this.stderrText = '';
    this.pending = '';
    this.proc.stdin.on('error', () => {});
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      this.pending += chunk;
      let nl;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          msg = { __unparsable: line };
        }
        this.received.push({ msg, line, at: Date.now() });
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (c) => { this.stderrText += c; });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.proc.on('exit', (code, signal) => { this.exitInfo = { code, signal }; });
  }

  write(text) {
    return new Promise((resolve, reject) => {
      this.proc.stdin.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  send(obj) {
    return this.write(`${JSON.stringify(obj)}\n`);
  }

  /** The first received message matching pred (waits for it). */
  async waitFor(pred, what, timeoutMs = 15000) {
    const r = await until(() => this.received.find((x) => pred(x.msg)) ||
      (this.exitInfo && this.pending === '' ? { exited: true } : null), what, timeoutMs);
    if (r.exited) {
      const again = this.received.find((x) => pred(x.msg));
      if (again) return again;
      throw new Error(`proxy exited (${JSON.stringify(this.exitInfo)}) while waiting for ${what}\n${this.stderrText}`);
    }
    return r;
  }

  async response(id, timeoutMs) {
    const r = await this.waitFor((m) => m.id === id && (m.result !== undefined || m.error !== undefined),
      `the response to id ${JSON.stringify(id)}`, timeoutMs);
    return r.msg;
  }

  async request(method, params, timeoutMs) {
    const id = this.nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    await this.send(msg);
    return this.response(id, timeoutMs);
  }

  notify(method, params) {
    const msg = { jsonrpc: '2.0', method };
    if (params !== undefined) msg.params = params;
    return this.send(msg);
  }

  async initialize(protocolVersion = LATEST) {
    const r = await this.request('initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'proxy-test', version: '1.0.0' },
    });
    if (r.result) await this.notify('notifications/initialized');
    return r;
  }

  /** Closes stdin and waits for the exit. */
  async end(timeoutMs = 40000) {
    this.proc.stdin.end();
    return this.wait(timeoutMs);
  }

  async wait(timeoutMs = 40000) {
    let timer;
    const info = await Promise.race([
      this.exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`proxy did not exit within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    assertNoSanitizerReport(this.stderrText, 'planasonix-mcp --stdio (proxy)');
    return info;
  }

  cleanup() {
    if (this.exitInfo === undefined) this.proc.kill('SIGKILL');
    if (this.tmp) fs.rmSync(this.tmp.root, { recursive: true, force: true });
  }
}
