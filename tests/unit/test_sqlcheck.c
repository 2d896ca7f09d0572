/*
 * Unit tests for src/engine/sqlcheck.c, the read-only check of SQL source queries: ordinary
 * reads pass in each dialect (comments, strings and quoted names that only look like
 * keywords included); every trick in tests/corpus/readonly/{pg,mysql,sqlite}.sql is refused
 * (the same files run against the real servers in test_conn_pg, test_conn_mysql and
 * test_engine); and each refusal says what it found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "engine/connectors/sqlcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

#define PG PX_SQL_POSTGRES
#define MY PX_SQL_MYSQL
#define LITE PX_SQL_SQLITE

static void ok(enum px_sql_dialect d, const char *q, size_t want_len)
{
    struct px_error err;
    px_error_clear(&err);
    size_t len = 0;
    if (px_sqlcheck_source(d, q, &len, &err) != 0)
        fail_msg("refused [%d] %s: %s", d, q, err.message);
    if (want_len && len != want_len)
        fail_msg("[%d] %s: statement length %zu, expected %zu", d, q, len, want_len);
}

static void no(enum px_sql_dialect d, const char *q, const char *want)
{
    struct px_error err;
    px_error_clear(&err);
    int rc = px_sqlcheck_source(d, q, NULL, &err);
    if (rc == 0)
        fail_msg("accepted [%d] %s", d, q);
    assert_int_equal(rc, -PX_EINVALID);
    if (!strstr(err.message, want))
        fail_msg("[%d] %s: message '%s' lacks '%s'", d, q, err.message, want);
    assert_true(err.hint[0] != '\0');
}

static void test_reads_pass(void **state)
{
    (void)state;
    const enum px_sql_dialect all[] = {PG, MY, LITE};
    for (size_t i = 0; i < 3; i++) {
        enum px_sql_dialect d = all[i];
        ok(d, "SELECT * FROM orders", 0);
        ok(d, "  select id, name from t where x = 'INSERT INTO y; DELETE' order by 1", 0);
        ok(d, "SELECT 1;", 8);
        ok(d, "SELECT 1 ;  ; ", 9);
        ok(d, "SELECT 1; -- done", 8);
        ok(d, "(SELECT 1) UNION (SELECT 2)", 0);
        ok(d, "WITH a AS (SELECT 1 AS x) SELECT x FROM a", 0);
        ok(d, "VALUES (1), (2)", 0);
        ok(d, "SELECT t.update, t.delete, t.into FROM t", 0);
        ok(d, "/* a comment; DROP TABLE x */ SELECT 1 -- ; DELETE\n", 0);
        ok(d, "SELECT max(x) FROM t GROUP BY y HAVING count(*) > 1", 0);
    }
    ok(PG, "SELECT \"update\", \"into\" FROM \"delete\"", 0);
    ok(PG, "SELECT $$ ; DELETE FROM t $$, $tag$ it's $$ $tag$", 0);
    ok(PG, "SELECT E'it\\'s ; DELETE', 'a\\' AS b", 0);
    ok(PG, "SELECT 1 /* outer /* inner ; DELETE */ still comment */", 0);
    ok(PG, "SELECT replace(name, 'a', 'b'), substring(name FOR 2) FROM t", 0);
    ok(PG, "TABLE orders", 0);
    ok(PG, "SELECT $1::int", 0);
    ok(MY, "SELECT `update`, `into` FROM `delete`", 0);
    ok(MY, "SELECT REPLACE(name, 'a', 'b'), INSERT(name, 1, 2, 'x') FROM t", 0);
    ok(MY, "SELECT 'it\\'s ; DELETE', \"double ; DROP\" FROM t", 0);
    ok(MY, "SELECT 1 # comment ; DELETE\n", 0);
    ok(MY, "SELECT 5--1", 0);
    ok(MY, "SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t", 0);
    ok(MY, "SELECT /*!50000 SQL_NO_CACHE */ * FROM t", 0);
    ok(MY, "SELECT CAST(x AS CHAR CHARACTER SET utf8mb4) FROM t", 0);
    ok(LITE, "SELECT [update], `into` FROM \"delete\"", 0);
    ok(LITE, "SELECT replace(name, 'a', 'b') FROM t", 0);
}

static void test_refusals(void **state)
{
    (void)state;
    no(PG, "", "empty");
    no(PG, "  -- nothing\n", "empty");
    no(MY, "/*!CREATE OR REPLACE TABLE victim AS */ SELECT 1", "not 'CREATE'");
    no(MY, "/*!50000 DROP TABLE victim */", "not 'DROP'");
    no(MY, "/*M!100100 DELETE FROM victim */", "not 'DELETE'");
    no(MY, "SELECT 1 /*!; DROP TABLE victim */", "';' inside an executable comment");
    no(MY, "SELECT 1 --;DROP TABLE victim", "more than one statement");
    no(MY, "SELECT 'a\\\\'; DROP TABLE victim", "more than one statement");
    no(MY, "SELECT * FROM victim INTO OUTFILE '/tmp/x'", "INTO");
    no(MY, "SELECT * FROM victim FOR UPDATE", "lock rows");
    no(MY, "SELECT * FROM victim LOCK IN SHARE MODE", "LOCK IN SHARE MODE");
    no(MY, "SELECT GET_LOCK('x', 0)", "GET_LOCK()");
    no(MY, "SELECT `get_lock`('x', 0)", "get_lock()");
    no(MY, "SELECT NEXT VALUE FOR s", "sequence");
    no(MY, "SELECT 1INTO @a", "INTO");
    no(MY, "SELECT 'unterminated", "unterminated string");
    no(MY, "SELECT 1 /*! SELECT 2", "unterminated executable comment");
    no(MY, "SELECT 1 /*! /* x */ */", "comment inside an executable comment");
    no(MY, "SELECT 1 /*! # x\n */", "line comment inside an executable comment");
    no(MY, "REPLACE victim VALUES (1)", "not 'REPLACE'");
    no(PG, "SELECT 1; COMMIT; DROP TABLE victim", "more than one statement");
    no(PG, "WITH d AS (DELETE FROM victim RETURNING *) SELECT * FROM d", "DELETE");
    no(PG, "WITH u AS (UPDATE victim SET id = 0 RETURNING *) SELECT 1", "UPDATE");
    no(PG, "SELECT * INTO newtable FROM victim", "INTO");
    no(PG, "SELECT * FROM victim FOR NO KEY UPDATE", "lock rows");
    no(PG, "SELECT pg_catalog.pg_terminate_backend(1)", "pg_terminate_backend()");
    no(PG, "SELECT \"dblink_exec\"('x', 'DROP TABLE victim')", "dblink_exec()");
    no(PG, "SELECT lo_export(1, '/tmp/x')", "lo_export()");
    no(PG, "SELECT set_config('a.b', 'c', false)", "set_config()");
    no(PG, "SELECT query_to_xml('DELETE FROM victim', true, true, '')", "query_to_xml()");
    no(PG, "SELECT $x$ unterminated", "unterminated dollar-quoted");
    no(PG, "SELECT 1 /* /* */", "unterminated comment");
    no(PG, "SELECT E'\\' ; DROP TABLE victim", "unterminated string");
    no(PG, "SELECT 1 /* /* */ */; DROP TABLE victim", "more than one statement");
    no(LITE, "SELECT 1; DROP TABLE victim", "more than one statement");
    no(LITE, "ATTACH DATABASE '/tmp/x' AS x", "not 'ATTACH'");
    no(LITE, "WITH a AS (SELECT 1) DELETE FROM victim", "DELETE");
    no(LITE, "SELECT load_extension('/tmp/x')", "load_extension()");
    no(LITE, "SELECT [unterminated", "unterminated quoted name");
    no(LITE, "PRAGMA writable_schema = 1", "not 'PRAGMA'");
}

/* Every entry of the attack corpora is refused by the lexer (the database walls are checked
 * against real servers in the connector tests). */
static void corpus_all_refused(enum px_sql_dialect d, const char *file)
{
    struct corpus c;
    corpus_load(file, &c);
    assert_true(c.n >= 10);
    for (size_t i = 0; i < c.n; i++) {
        struct px_error err;
        px_error_clear(&err);
        if (px_sqlcheck_source(d, c.e[i].sql, NULL, &err) == 0 && !c.e[i].lexer_passes)
            fail_msg("%s: '%s' passed the check:\n%s", file, c.e[i].name, c.e[i].sql);
        if (c.e[i].lexer_passes && px_sqlcheck_source(d, c.e[i].sql, NULL, &err) != 0)
            fail_msg("%s: '%s' is marked lexer: passes but was refused: %s", file, c.e[i].name,
                     err.message);
    }
    print_message("%s: %zu tricks\n", file, c.n);
    corpus_free(&c);
}

static void test_corpus(void **state)
{
    (void)state;
    corpus_all_refused(PG, "tests/corpus/readonly/pg.sql");
    corpus_all_refused(MY, "tests/corpus/readonly/mysql.sql");
    corpus_all_refused(LITE, "tests/corpus/readonly/sqlite.sql");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_pass),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
