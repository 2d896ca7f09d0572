// Anchor (e) of bench/engine/run.sh: PostgreSQL → filter (status <> 'cancelled') → dedupe
// (order_id, first row kept) → PostgreSQL with `pg` + `pg-copy-streams`, text COPY on both
// ends, the rows handled as text lines (no per-row objects). Connection settings come from the
// usual PG* environment variables; SRC_DB, DST_DB and TABLE name the databases and the table.
// TRANSFORM=0 copies without filtering or de-duplicating.
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const table = process.env.TABLE || 'orders';
const transform = process.env.TRANSFORM !== '0';
const src = new pg.Client({ database: process.env.SRC_DB || 'src' });
const dst = new pg.Client({ database: process.env.DST_DB || 'dst' });
await src.connect();
await dst.connect();

const seen = new Set();
let rest = '';
let rowsIn = 0;
let rowsOut = 0;

// Keeps a text-COPY line when its third field is not 'cancelled' and its first field (order_id)
// has not been seen yet.
function keep(line) {
  rowsIn++;
  if (!transform) return true;
  const t1 = line.indexOf('\t');
  const t2 = line.indexOf('\t', t1 + 1);
  const t3 = line.indexOf('\t', t2 + 1);
  if (line.slice(t2 + 1, t3) === 'cancelled') return false;
  const id = line.slice(0, t1);
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

const filter = new Transform({
  transform(chunk, _enc, done) {
    const text = rest + chunk.toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop();
    const out = [];
    for (const line of lines) if (keep(line)) out.push(line);
    rowsOut += out.length;
    done(null, out.length ? out.join('\n') + '\n' : undefined);
  },
  flush(done) {
    if (rest && keep(rest)) {
      rowsOut++;
      done(null, rest + '\n');
    } else {
      done();
    }
  },
});

await dst.query('BEGIN');
await pipeline(
  src.query(copyStreams.to(`COPY ${table} TO STDOUT`)),
  filter,
  dst.query(copyStreams.from(`COPY ${table} FROM STDIN`)),
);
await dst.query('COMMIT');
await src.end();
await dst.end();
console.log(`rows_read ${rowsIn} rows_written ${rowsOut}`);
