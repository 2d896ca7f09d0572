// Anchor (f) of bench/engine/run.sh: CSV → filter (status <> 'cancelled') → one row per
// order_id → CSV with DuckDB (npm @duckdb/node-api, all cores). DISTINCT ON without ORDER BY
// lets DuckDB keep any row of a group (cheaper than our keep-first; the row count is the same).
//   node duckdb_csv.mjs IN.csv OUT.csv [dedupe=1]
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, dedupe = '1'] = process.argv.slice(2);
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const select =
  dedupe === '1'
    ? `SELECT DISTINCT ON (order_id) * FROM read_csv(${quote(input)}) WHERE status <> 'cancelled'`
    : `SELECT * FROM read_csv(${quote(input)}) WHERE status <> 'cancelled'`;
const res = await con.run(`COPY (${select}) TO ${quote(output)} (HEADER, DELIMITER ',')`);
const rows = await res.getRows();
console.log(`rows_written ${rows.length ? rows[0][0] : '?'}`);
