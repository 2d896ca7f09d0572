-- Read-only attack corpus for SQLite sources (issue 10 item 4), one trick per entry.
-- Format: tests/unit/corpus.h. Run by tests/unit/test_sqlcheck.c (every entry refused by the
-- lexer) and tests/unit/test_engine.c (each entry as a real source query on a database file:
-- the run fails, the victim table is unchanged and no other file appears in the files root).
-- name: stacked-drop
SELECT 1; DROP TABLE victim
-- name: stacked-after-comment
SELECT 1 /* x */; DELETE FROM victim
-- name: escape-the-subquery
SELECT 1) ; DELETE FROM victim ; SELECT (1
-- name: line-comment-then-statement
SELECT * FROM victim --
; DELETE FROM victim
-- name: bracket-name-with-semicolon
SELECT [a;] FROM (SELECT 1 AS [a;]); DELETE FROM victim
-- name: attach
ATTACH DATABASE 'px_corpus_attached.db' AS x
-- name: with-then-delete
WITH a AS (SELECT 1) DELETE FROM victim
-- name: with-then-insert
WITH a AS (SELECT 1) INSERT INTO victim SELECT 9, 'x' FROM a
-- name: replace-into
REPLACE INTO victim VALUES (1, 'x')
-- name: create-table-as
CREATE TABLE victim_copy AS SELECT * FROM victim
-- name: load-extension
SELECT load_extension('/tmp/px_corpus_ext')
-- name: writefile
SELECT writefile('px_corpus_written', 'x')
-- name: pragma-writable-schema
PRAGMA writable_schema = 1
-- name: pragma-query-only-off
PRAGMA query_only = 0
-- name: vacuum-into
VACUUM INTO 'px_corpus_copy.db'
-- name: into-keyword
SELECT * FROM victim INTO x
