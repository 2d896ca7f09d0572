// The reference server for the benchmarks: the official TypeScript MCP SDK serving the same
// read tool surface as planasonix-mcp (list_pipelines returning the same shape and size of
// JSON), over stdio or Streamable HTTP. Usage:
//   node ref-server.mjs stdio
//   node ref-server.mjs http PORT        (127.0.0.1 only; stateless, JSON responses)
// By default the pipelines are an in-memory array (the reference does less work than we do).
// With REF_DB=path/to/planasonix.db it reads the same SQLite store with the same query
// (better-sqlite3, read-only), which is the like-for-like comparison.
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

// 1,000 stored pipelines, like the store our server benchmarks against.
const pipelines = Array.from({ length: 1000 }, (_, i) => ({
  pipeline_id: `pl_${String(i).padStart(22, '0')}`,
  name: `Pipeline ${i}`,
  description: 'Extract orders from PostgreSQL, keep the last 7 days, dedupe by order_id',
  status: 'active',
  revision: 1,
  node_count: 4,
  last_run: null,
  created_at: new Date(1767225600000 + i * 1000).toISOString(),
  updated_at: new Date(1767225600000 + i * 1000).toISOString(),
})).reverse();

let listFromDb = null;
if (process.env.REF_DB) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(process.env.REF_DB, { readonly: true });
  const org = db.prepare('SELECT id FROM orgs ORDER BY created_at LIMIT 1').get().id;
  const stmt = db.prepare(
    `SELECT p.id, p.name, p.description, p.status, p.revision, p.created_at, p.updated_at, r.node_count
       FROM pipelines p JOIN pipeline_revisions r
         ON r.org_id = p.org_id AND r.pipeline_id = p.id AND r.revision = p.revision
      WHERE p.org_id = ? AND p.deleted_at IS NULL AND (? IS NULL OR p.status = ?)
      ORDER BY p.created_at DESC, p.id DESC LIMIT ?`);
  listFromDb = (status, limit) =>
    stmt.all(org, status ?? null, status ?? null, limit + 1).map((r) => ({
      pipeline_id: r.id, name: r.name, description: r.description, status: r.status,
      revision: r.revision, node_count: r.node_count, last_run: null,
      created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString(),
    }));
}

function makeServer() {
  const server = new McpServer({ name: 'reference', version: '1.0.0' });
  server.registerTool(
    'list_pipelines',
    {
      title: 'List pipelines',
      description: 'List pipelines, newest first.',
      inputSchema: {
        status: z.enum(['active', 'paused']).optional(),
        query: z.string().min(1).max(200).optional(),
        limit: z.number().int().min(1).max(100).optional(),
        cursor: z.string().optional(),
      },
    },
    async ({ status, query, limit }) => {
      if (listFromDb) {
        const rows = listFromDb(status, limit ?? 20);
        const page = rows.slice(0, limit ?? 20);
        const result = { pipelines: page, next_cursor: rows.length > page.length ? 'next' : null };
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      }
      let rows = pipelines;
      if (status) rows = rows.filter((p) => p.status === status);
      if (query) rows = rows.filter((p) => p.name.toLowerCase().includes(query.toLowerCase()));
      const page = rows.slice(0, limit ?? 20);
      const result = { pipelines: page, next_cursor: rows.length > page.length ? 'next' : null };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  return server;
}

const mode = process.argv[2];
if (mode === 'stdio') {
  await makeServer().connect(new StdioServerTransport());
} else if (mode === 'http') {
  const port = Number(process.argv[3] || 3990);
  http
    .createServer(async (req, res) => {
      if (req.method !== 'POST' || req.url !== '/mcp') {
        res.writeHead(405).end();
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const server = makeServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on('close', () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })
    .listen(port, '127.0.0.1');
} else {
  console.error('usage: node ref-server.mjs stdio | http PORT');
  process.exit(2);
}
