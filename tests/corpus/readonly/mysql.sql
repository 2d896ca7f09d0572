-- Read-only attack corpus for MySQL/MariaDB sources (issue 10 item 4), one trick per entry.
-- Format: tests/unit/corpus.h. Run by tests/unit/test_sqlcheck.c (every entry refused by the
-- lexer unless marked "lexer: passes") and tests/unit/test_conn_mysql.c (each entry as a real
-- source query: the run fails and the victim table, the sequence, the table list and the
-- server's files are unchanged). The test database has victim(id, v), the sequence victim_seq,
-- victim_fn() (MODIFIES SQL DATA: inserts into victim) and victim_proc().
-- name: issue-executable-comment-ddl
/*!CREATE OR REPLACE TABLE victim AS */ SELECT 1
-- name: versioned-executable-comment
/*!50000 DROP TABLE victim */
-- name: mariadb-executable-comment
/*M!100100 DELETE FROM victim */
-- name: empty-executable-comment-then-delete
/*!*/ DELETE FROM victim
-- name: stacked
SELECT 1; DROP TABLE victim
-- name: dash-dash-without-space-is-no-comment
SELECT 1 --;DROP TABLE victim
-- name: semicolon-in-executable-comment
SELECT 1 /*!; DROP TABLE victim */
-- name: truncate-in-executable-comment
SELECT * FROM victim WHERE 1 = 1 /*!; TRUNCATE victim */
-- name: escaped-backslash-ends-string
SELECT 'a\\'; DROP TABLE victim; -- '
-- name: hash-comment-then-statement
SELECT 1 #
; DROP TABLE victim
-- name: into-outfile
SELECT * FROM victim INTO OUTFILE '/tmp/px_corpus_my_out'
-- name: into-dumpfile
SELECT v FROM victim LIMIT 1 INTO DUMPFILE '/tmp/px_corpus_my_dump'
-- name: into-variable
SELECT id INTO @x FROM victim LIMIT 1
-- name: parenthesised-into
(SELECT 1) INTO @a
-- name: table-into-outfile
TABLE victim INTO OUTFILE '/tmp/px_corpus_my_table'
-- name: for-update
SELECT * FROM victim FOR UPDATE
-- name: lock-in-share-mode
SELECT * FROM victim LOCK IN SHARE MODE
-- name: get-lock
SELECT GET_LOCK('px', 0)
-- name: quoted-get-lock
SELECT `get_lock`('px', 0)
-- name: nextval
SELECT NEXTVAL(victim_seq)
-- name: next-value-for
SELECT NEXT VALUE FOR victim_seq
-- name: setval
SELECT SETVAL(victim_seq, 1000)
-- name: load-file
SELECT LOAD_FILE('/etc/hostname')
-- name: with-then-delete
WITH d AS (SELECT 1) DELETE FROM victim
-- name: call-procedure
CALL victim_proc()
-- name: do-function
DO victim_fn()
-- name: session-read-write
SET SESSION TRANSACTION READ WRITE
-- name: set-statement-for
SET STATEMENT max_statement_time = 0 FOR DELETE FROM victim
-- name: handler
HANDLER victim OPEN
-- name: replace-into
REPLACE INTO victim VALUES (1, 'x')
-- name: insert-without-into
INSERT victim VALUES (99, 'x')
-- name: number-glued-to-into
SELECT 1INTO @a
-- name: create-table-select
CREATE TABLE victim_copy SELECT * FROM victim
-- name: function-that-writes
-- lexer: passes
SELECT victim_fn()
-- name: function-that-writes-in-where
-- lexer: passes
SELECT id FROM victim WHERE victim_fn() > 0
