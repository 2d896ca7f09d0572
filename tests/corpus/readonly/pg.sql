-- Read-only attack corpus for PostgreSQL sources (issue 10 item 4), one trick per entry.
-- Format: tests/unit/corpus.h. Run by tests/unit/test_sqlcheck.c (every entry refused by the
-- lexer unless marked "lexer: passes") and tests/unit/test_conn_pg.c (each entry as a real
-- source query: the run fails and the victim table, its sequence and the server's files are
-- unchanged). The test database has victim(id, v), victim_seq and victim_fn() (deletes from
-- victim; plpgsql).
-- name: stacked-commit-drop
SELECT 1; COMMIT; DROP TABLE victim
-- name: stacked-after-comment
SELECT 1 /* x */; DELETE FROM victim
-- name: escape-the-subquery
SELECT 1) AS q; DELETE FROM victim; SELECT (1
-- name: cte-delete
WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d
-- name: cte-update
WITH u AS (UPDATE victim SET v = 'changed' RETURNING *) SELECT * FROM u
-- name: cte-insert
WITH i AS (INSERT INTO victim VALUES (99, 'x') RETURNING *) SELECT * FROM i
-- name: with-then-delete
WITH x AS (SELECT 1) DELETE FROM victim
-- name: select-into-table
SELECT * INTO victim_copy FROM victim
-- name: for-update
SELECT * FROM victim FOR UPDATE
-- name: for-no-key-update
SELECT * FROM victim FOR NO KEY UPDATE
-- name: nextval
SELECT nextval('victim_seq')
-- name: setval
SELECT setval('victim_seq', 1000)
-- name: read-write-mid-transaction
SELECT set_config('transaction_read_only', 'off', true), 1
-- name: session-read-write
SELECT "pg_catalog"."set_config"('default_transaction_read_only', 'off', false)
-- name: terminate-a-backend
SELECT pg_terminate_backend(0)
-- name: cancel-a-backend
SELECT pg_catalog.pg_cancel_backend(0)
-- name: advisory-lock
SELECT pg_advisory_lock(42)
-- name: dblink-exec
SELECT dblink_exec('dbname=postgres', 'DROP TABLE victim')
-- name: lo-export-server-file
SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/px_corpus_pg_lo')
-- name: lo-import-server-file
SELECT lo_import('/etc/hostname')
-- name: read-server-file
SELECT pg_read_file('/etc/hostname')
-- name: query-to-xml-runs-sql
SELECT query_to_xml('DELETE FROM victim RETURNING 1', true, true, '')
-- name: notify
SELECT pg_notify('px', 'x')
-- name: copy-to-program
COPY (SELECT 1) TO PROGRAM 'touch /tmp/px_corpus_pg_prog'
-- name: do-block
DO $$ BEGIN DELETE FROM victim; END $$
-- name: explain-analyze-delete
EXPLAIN ANALYZE DELETE FROM victim
-- name: prepare-delete
PREPARE p AS DELETE FROM victim
-- name: create-table-as
CREATE TABLE victim_copy AS SELECT * FROM victim
-- name: truncate
TRUNCATE victim
-- name: table-then-delete
TABLE victim; DELETE FROM victim
-- name: values-then-truncate
VALUES (1); TRUNCATE victim
-- name: nested-comment-hides-nothing
SELECT 1 /* /* */ */; DROP TABLE victim
-- name: dollar-quotes-around-a-statement
SELECT $a$ x $a$; DROP TABLE victim; SELECT $b$ y $b$
-- name: e-string-backslash
SELECT E'\\'; DROP TABLE victim; --'
-- name: standard-string-backslash
SELECT 'a\'; DROP TABLE victim; --'
-- name: unicode-escape-quote
SELECT U&'\0027'; DROP TABLE victim
-- name: leading-parenthesis-then-delete
(SELECT 1); DELETE FROM victim
-- name: function-that-writes
-- lexer: passes
SELECT victim_fn()
-- name: function-that-writes-in-from
-- lexer: passes
SELECT * FROM victim_fn()
