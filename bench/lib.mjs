// Shared helpers for the benchmarks: a line-based JSON-RPC client over a child's stdio,
// statistics, /proc readings, and seeding a Planasonix home with an org, a key and pipelines.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : NaN;
}

// Spawns cmd and speaks JSON-RPC lines to it.
export class LineClient {
  constructor(cmd, args, env) {
    this.child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    this.buf = '';
    this.waiters = new Map();
    this.nextId = 1;
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        const w = this.waiters.get(msg.id);
        if (w) {
          this.waiters.delete(msg.id);
          w(msg);
        }
      }
    });
  }
  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiters.set(id, resolve);
      this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }
  notify(method, params) {
    this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n');
  }
  initialize() {
    return this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'bench', version: '1' },
    });
  }
  close() {
    this.child.stdin.end();
    return new Promise((r) => this.child.on('exit', r));
  }
}

// Creates an org (enterprise, unlimited) and a key in home; returns the key.
export function seedOrg(bin, home) {
  const env = { ...process.env, PLANASONIX_HOME: home, PLANASONIX_LOG: 'error' };
  const org = JSON.parse(execFileSync(bin, ['org', 'create', 'Bench', '--plan', 'enterprise', '--json'], { env }));
  execFileSync(bin, ['org', 'update', org.org_id, '--rate-limit', 'unlimited'], { env });
  return JSON.parse(execFileSync(bin, ['key', 'create', '--org', org.org_id, '--scopes', 'all', '--json'], { env })).key;
}

// Stores n pipelines through MCP (create_pipeline), each a 4-node graph.
export async function seedPipelines(bin, home, key, n) {
  const env = { ...process.env, PLANASONIX_HOME: home, PLANASONIX_API_KEY: key, PLANASONIX_LOG: 'error' };
  const c = new LineClient(bin, ['--stdio'], env);
  await c.initialize();
  const tool = async (name, args) => {
    const r = await c.request('tools/call', { name, arguments: args });
    if (r.error || r.result.isError) throw new Error(`${name}: ${JSON.stringify(r)}`);
    return r.result.structuredContent;
  };
  const src = await tool('create_connection', {
    name: 'orders-db', type: 'postgres', category: 'source',
    params: { host: 'localhost', database: 'shop', user: 'etl', password: 'bench-secret' },
  });
  const dst = await tool('create_connection', {
    name: 'exports', type: 'csv', category: 'destination', params: { path: 'exports' },
  });
  const pending = [];
  for (let i = 0; i < n; i++) {
    pending.push(tool('create_pipeline', {
      name: `Pipeline ${i}`,
      description: 'Extract orders from PostgreSQL, keep the last 7 days, dedupe by order_id',
      graph: {
        nodes: [
          { id: 'orders', kind: 'source', type: 'postgres', connection_id: src.connection_id, config: { table: 'orders' } },
          { id: 'recent', kind: 'transform', type: 'filter', config: { condition: "order_date >= now() - interval '7 days'" } },
          { id: 'dedupe', kind: 'transform', type: 'dedupe', config: { keys: ['order_id'] } },
          { id: 'load', kind: 'destination', type: 'csv', connection_id: dst.connection_id, config: { file: 'orders.csv', mode: 'replace' } },
        ],
        edges: [{ from: 'orders', to: 'recent' }, { from: 'recent', to: 'dedupe' }, { from: 'dedupe', to: 'load' }],
      },
    }));
  }
  await Promise.all(pending);
  await c.close();
}
