/*
 * Unit tests for the PostgreSQL connector (src/engine/connectors/pg.c, engine/connectors/pg_copy.c)
 * against a real server: start one with scripts/pg-server.sh (scripts/test.sh does) and export its
 * PX_TEST_PG_* variables. Tables are set up with libpq directly; pipelines run through
 * px_engine_run; pushdown and mid-stream close are tested through the connector callbacks.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "corpus.h"
#include "helpers.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/json.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/probe.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *H, *PORT, *USER, *PASS, *DB;
static PGconn *admin; /* the test's own connection */

/* Without a server the suite is one failing test (so that CI counts it), not a skip. */
static void test_server_configured(void **state)
{
    (void)state;
    fail_msg("PX_TEST_PG_HOST/PORT/USER/PASSWORD/DATABASE are not set.\n"
             "Run scripts/test.sh, or start a server with\n"
             "  eval \"$(scripts/pg-server.sh start /tmp/px-pg)\"\n"
             "and run this test again (scripts/pg-server.sh stop /tmp/px-pg after).");
}

static int setup_all(void **state)
{
    (void)state;
    const char *kw[] = {"host", "port", "user", "password", "dbname", "options", NULL};
    const char *val[] = {H, PORT, USER, PASS, DB, "-c client_min_messages=warning", NULL};
    admin = PQconnectdbParams(kw, val, 0);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "test_conn_pg: cannot connect to the test server: %s",
                PQerrorMessage(admin));
        return -1;
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    PQfinish(admin);
    return 0;
}

static void sql(const char *q)
{
    PGresult *r = PQexec(admin, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("sql '%s': %s", q, PQerrorMessage(admin));
    PQclear(r);
}

/* Rows of q as "a|b\n..." (NULL as "NULL"); caller frees. */
static char *query(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("query '%s': %s", q, PQerrorMessage(c));
    struct px_buf b;
    px_buf_init(&b, 1 << 24);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int j = 0; j < PQnfields(r); j++)
            (void)px_buf_printf(&b, "%s%s", j ? "|" : "",
                                PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
        (void)px_buf_puts(&b, "\n");
    }
    PQclear(r);
    char *s = px_buf_take(&b);
    return s ? s : strdup("");
}

static void expect(const char *q, const char *want)
{
    char *got = query(admin, q);
    if (strcmp(got, want) != 0)
        fail_msg("query '%s'\n--- expected\n%s--- got\n%s", q, want, got);
    free(got);
}

static struct json_object *pg_params(const char *password, const char *port)
{
    struct json_object *p = json_object_new_object();
    px_json_set_str(p, "host", H);
    px_json_set_int(p, "port", atoi(port ? port : PORT));
    px_json_set_str(p, "database", DB);
    px_json_set_str(p, "user", USER);
    if (password)
        px_json_set_str(p, "password", password);
    px_json_set_str(p, "sslmode", "disable");
    return p;
}

/* Connections: "pg" (the test server), "bad" (wrong password), "files" (a files root dir). */
static struct conns make_conns(void)
{
    struct conns c = {json_object_new_object()};
    px_json_set(c.map, "pg", pg_params(PASS, NULL));
    px_json_set(c.map, "bad", pg_params("not-the-password-xyz", NULL));
    struct json_object *f = json_object_new_object();
    px_json_set_str(f, "path", ".");
    px_json_set(c.map, "files", f);
    return c;
}

static void (*progress_hook)(int64_t rows);
static void on_progress(void *ctx, int64_t rows)
{
    (void)ctx;
    if (progress_hook)
        progress_hook(rows);
}

/* Runs graph (JSON text); returns rc with err and res filled (res cleaned up here). */
static int run(const char *graph_json, const char *root, int64_t batch_rows, struct px_error *err,
               struct px_engine_result *res_out)
{
    struct json_object *graph = json_tokener_parse(graph_json);
    assert_non_null(graph);
    struct conns c = make_conns();
    struct px_engine_opts opts = {.conn = resolve_conn,
                                  .conn_ctx = &c,
                                  .files_root = root ? root : "/nonexistent",
                                  .now_us = 1717243200000000,
                                  .batch_rows = batch_rows,
                                  .progress = on_progress};
    struct px_engine_result res;
    px_error_clear(err);
    int rc = px_engine_run(graph, &opts, &res, err);
    if (res_out)
        *res_out = res;
    else
        px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(c.map);
    return rc;
}

static char graph_buf[8192];

/* source(type, conn, config) → destination(type, conn, config) */
static const char *g2(const char *st, const char *sc, const char *scfg, const char *dt,
                      const char *dc, const char *dcfg)
{
    snprintf(graph_buf, sizeof(graph_buf),
             "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"%s\","
             "\"connection_id\":\"%s\",\"config\":%s},"
             "{\"id\":\"dst\",\"kind\":\"destination\",\"type\":\"%s\",\"connection_id\":\"%s\","
             "\"config\":%s}],\"edges\":[{\"from\":\"src\",\"to\":\"dst\"}]}",
             st, sc, scfg, dt, dc, dcfg);
    return graph_buf;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---- source ---- */

static const char *TYPES_SQL =
    "DROP TABLE IF EXISTS t_types; CREATE TABLE t_types (id int4, s2 int2, i8 int8, f4 real, "
    "f8 float8, n numeric(12,3), nn numeric, b bool, t text, v varchar(20), c char(4), "
    "ts timestamp, tz timestamptz, d date, u uuid, j jsonb, js json, iv interval);"
    "INSERT INTO t_types VALUES (1, -7, 9007199254740993, 1.5, -2.25, 1234.5, 'NaN', true, "
    "E'tab\\there\\nnew\\\\back', 'héllo ✓', 'ab', '2024-03-01 12:34:56.789', "
    "'2024-03-01 12:00:00+02', '1969-12-31', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
    "'{\"k\": [1, 2]}', '{\"x\":1}', '1 day 02:00:00');"
    "INSERT INTO t_types (id) VALUES (2);"
    "INSERT INTO t_types (id, nn, f8) VALUES (3, '-0.000120', 'Infinity');";

static struct px_node_ctx src_ctx(struct json_object *params, struct json_object *config,
                                  struct px_engine_opts *opts)
{
    struct px_node_ctx ctx = {
        .node_id = "src", .config = config, .params = params, .opts = opts, .batch_rows = 2};
    return ctx;
}

/* Reads every batch of an opened source into one list of batches; returns the count. */
static int drain(void *st, struct px_batch **out, int max)
{
    int n = 0;
    struct px_error err;
    px_error_clear(&err);
    for (;;) {
        struct px_batch *b = NULL;
        int rc = px__conn_postgres.next_batch(st, &b, &err);
        if (rc < 0)
            fail_msg("next_batch: %s", err.message);
        if (!b)
            break;
        assert_true(n < max);
        out[n++] = b;
    }
    return n;
}

static void test_source_types(void **state)
{
    (void)state;
    sql(TYPES_SQL);
    struct json_object *params = pg_params(PASS, NULL);
    struct json_object *config = json_tokener_parse("{\"query\": \"SELECT * FROM t_types ORDER "
                                                    "BY id\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = src_ctx(params, config, &opts);
    void *st = NULL;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), 0);
    struct px_batch *bs[4];
    int n = drain(st, bs, 4);
    px__conn_postgres.close_source(st);
    assert_int_equal(n, 2);
    assert_int_equal(bs[0]->nrows, 2);
    assert_int_equal(bs[1]->nrows, 1);
    assert_int_equal(bs[0]->first_row, 1);
    assert_int_equal(bs[1]->first_row, 3);
    struct px_batch *b = bs[0];
    assert_int_equal(b->ncols, 18);
    static const enum px_col_type want[] = {
        PX_COL_INT,    PX_COL_INT,       PX_COL_INT,       PX_COL_FLOAT,     PX_COL_FLOAT,
        PX_COL_FLOAT,  PX_COL_FLOAT,     PX_COL_BOOL,      PX_COL_STRING,    PX_COL_STRING,
        PX_COL_STRING, PX_COL_TIMESTAMP, PX_COL_TIMESTAMP, PX_COL_TIMESTAMP, PX_COL_STRING,
        PX_COL_STRING, PX_COL_STRING,    PX_COL_STRING};
    for (int i = 0; i < 18; i++)
        assert_int_equal(b->cols[i].type, want[i]);
    assert_string_equal(b->cols[0].name, "id");
    assert_string_equal(b->cols[17].name, "iv");
    assert_int_equal(b->cols[0].v.i[0], 1);
    assert_int_equal(b->cols[1].v.i[0], -7);
    assert_int_equal(b->cols[2].v.i[0], 9007199254740993LL);
    assert_true(b->cols[3].v.f[0] == 1.5);
    assert_true(b->cols[4].v.f[0] == -2.25);
    assert_true(b->cols[5].v.f[0] == 1234.5);
    assert_true(isnan(b->cols[6].v.f[0]));
    assert_int_equal(b->cols[7].v.b[0], 1);
    assert_string_equal(b->cols[8].v.s[0], "tab\there\nnew\\back");
    assert_string_equal(b->cols[9].v.s[0], "héllo ✓");
    assert_string_equal(b->cols[10].v.s[0], "ab"); /* char(4): padding is not significant */
    assert_int_equal(b->cols[11].v.i[0], 1709296496789000LL); /* 2024-03-01T12:34:56.789Z */
    assert_int_equal(b->cols[12].v.i[0], 1709287200000000LL); /* 2024-03-01T10:00:00Z */
    assert_int_equal(b->cols[13].v.i[0], -86400000000LL);     /* 1969-12-31 */
    assert_string_equal(b->cols[14].v.s[0], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_string_equal(b->cols[15].v.s[0], "{\"k\": [1, 2]}");
    assert_string_equal(b->cols[16].v.s[0], "{\"x\":1}");
    assert_string_equal(b->cols[17].v.s[0], "1 day 02:00:00");
    /* row 2: everything but id is NULL */
    assert_false(px_batch_is_null(&b->cols[0], 1));
    for (int i = 1; i < 18; i++)
        assert_true(px_batch_is_null(&b->cols[i], 1));
    /* row 3 */
    assert_true(fabs(bs[1]->cols[6].v.f[0] - -0.00012) < 1e-18);
    assert_true(isinf(bs[1]->cols[4].v.f[0]));
    for (int i = 0; i < n; i++)
        px_batch_destroy(bs[i]);
    json_object_put(config);
    json_object_put(params);
}

/* Table source (schema-qualified), config.columns, push_columns and push_where. */
static void test_source_pushdown(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS \"Mixed Case\"; CREATE TABLE \"Mixed Case\" (id int, \"Na\"\"me\" "
        "text, amount float8); INSERT INTO \"Mixed Case\" SELECT i, 'n' || i, i * 1.5 FROM "
        "generate_series(1, 10) i");
    struct json_object *params = pg_params(PASS, NULL);
    struct json_object *config = json_tokener_parse("{\"table\": \"public.Mixed Case\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = src_ctx(params, config, &opts);
    ctx.batch_rows = 100;
    const char *cols[] = {"Na\"me", "id"};
    ctx.push_columns = cols;
    ctx.push_ncols = 2;
    ctx.push_where = "\"id\" > 7";
    void *st = NULL;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), 0);
    struct px_batch *bs[4];
    int n = drain(st, bs, 4);
    px__conn_postgres.close_source(st);
    assert_int_equal(n, 1);
    assert_int_equal(bs[0]->ncols, 2);
    assert_int_equal(bs[0]->nrows, 3);
    assert_string_equal(bs[0]->cols[0].name, "Na\"me");
    assert_int_equal(bs[0]->cols[1].type, PX_COL_INT);
    int64_t sum = 0;
    for (int r = 0; r < 3; r++)
        sum += bs[0]->cols[1].v.i[r];
    assert_int_equal(sum, 8 + 9 + 10);
    px_batch_destroy(bs[0]);

    /* A pushed column that does not exist: not found, naming it and the real columns. */
    const char *bad[] = {"nope"};
    ctx.push_columns = bad;
    ctx.push_ncols = 1;
    ctx.push_where = NULL;
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), -PX_ENOTFOUND);
    assert_non_null(strstr(err.message, "nope"));
    assert_non_null(strstr(err.message, "columns: id, Na\"me, amount"));

    /* A query with push_where wraps it; config.columns restrict. */
    json_object_put(config);
    config = json_tokener_parse("{\"query\": \"SELECT id, amount, id * 2 AS dbl FROM \\\"Mixed "
                                "Case\\\" -- all of it\\n ; \", \"columns\": [\"dbl\"]}");
    ctx = src_ctx(params, config, &opts);
    ctx.batch_rows = 100;
    ctx.push_where = "\"dbl\" >= 18";
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), 0);
    n = drain(st, bs, 4);
    px__conn_postgres.close_source(st);
    assert_int_equal(n, 1);
    assert_int_equal(bs[0]->ncols, 1);
    assert_int_equal(bs[0]->nrows, 2);
    px_batch_destroy(bs[0]);

    /* Source sessions are read-only: a query cannot write. */
    sql("DROP SEQUENCE IF EXISTS px_t_seq; CREATE SEQUENCE px_t_seq");
    json_object_put(config);
    config = json_tokener_parse("{\"query\": \"SELECT nextval('px_t_seq') AS n\"}");
    ctx = src_ctx(params, config, &opts);
    px_error_clear(&err);
    st = NULL;
    int rc = px__conn_postgres.open_source(&ctx, &st, &err);
    if (rc == 0) { /* the error may surface while reading */
        struct px_batch *b = NULL;
        rc = px__conn_postgres.next_batch(st, &b, &err);
        px_batch_destroy(b);
        px__conn_postgres.close_source(st);
    }
    assert_true(rc < 0);
    assert_non_null(strstr(err.message, "read-only"));
    expect("SELECT last_value, is_called FROM px_t_seq", "1|f\n");

    /* A table that does not exist. */
    json_object_put(config);
    config = json_tokener_parse("{\"table\": \"no_such_table\"}");
    ctx = src_ctx(params, config, &opts);
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), -PX_ENOTFOUND);
    assert_non_null(strstr(err.message, "no_such_table"));
    assert_true(err.hint[0] != '\0');
    json_object_put(config);
    json_object_put(params);
}

static int count_backends(void)
{
    char *s = query(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'planasonix' AND pid <> pg_backend_pid()");
    int n = atoi(s);
    free(s);
    return n;
}

/* Closing the source mid-stream stops the reader thread and cancels the COPY. */
static void test_source_close_midstream(void **state)
{
    (void)state;
    struct json_object *params = pg_params(PASS, NULL);
    struct json_object *config =
        json_tokener_parse("{\"query\": \"SELECT i, md5(i::text) AS h FROM generate_series(1, "
                           "2000000) i\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = src_ctx(params, config, &opts);
    ctx.batch_rows = 1000;
    for (int round = 0; round < 3; round++) {
        void *st = NULL;
        struct px_error err;
        px_error_clear(&err);
        assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), 0);
        struct px_batch *b = NULL;
        if (round > 0) { /* round 0 closes before reading anything */
            assert_int_equal(px__conn_postgres.next_batch(st, &b, &err), 0);
            assert_non_null(b);
            assert_int_equal(b->nrows, 1000);
            assert_int_equal(b->cols[0].v.i[999], 1000);
            px_batch_destroy(b);
        }
        px__conn_postgres.close_source(st);
    }
    /* The backends go away (polls; no timing asserted beyond "eventually"). */
    int n = -1;
    for (int i = 0; i < 200 && n != 0; i++) {
        n = count_backends();
        if (n)
            usleep(50000);
    }
    assert_int_equal(n, 0);
    json_object_put(config);
    json_object_put(params);
}

/* Rows of 1 MB: the source ends a batch at PX_BATCH_TARGET_BYTES of strings instead of
 * holding batch_rows of them (60 MB here) in one batch. */
static void test_source_big_rows(void **state)
{
    (void)state;
    struct json_object *params = pg_params(PASS, NULL);
    struct json_object *config = json_tokener_parse(
        "{\"query\": \"SELECT g AS id, repeat(md5(g::text), 31250) AS payload FROM "
        "generate_series(1, 60) g\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = src_ctx(params, config, &opts);
    ctx.batch_rows = 4096;
    void *st = NULL;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_source(&ctx, &st, &err), 0);
    struct px_batch *bs[64];
    int n = drain(st, bs, 64);
    int64_t rows = 0;
    for (int i = 0; i < n; i++) {
        rows += bs[i]->nrows;
        assert_true(bs[i]->arena_bytes <= PX_BATCH_TARGET_BYTES + ((int64_t)1 << 20));
        px_batch_destroy(bs[i]);
    }
    assert_int_equal(rows, 60);
    assert_true(n >= 7);
    px__conn_postgres.close_source(st);
    json_object_put(config);
    json_object_put(params);
}

/* ---- destination ---- */

static void test_pg_to_pg_append_and_create(void **state)
{
    (void)state;
    sql(TYPES_SQL);
    sql("DROP TABLE IF EXISTS t_copy");
    struct px_error err;
    struct px_engine_result res;
    int rc = run(g2("postgres", "pg", "{\"table\":\"t_types\"}", "postgres", "pg",
                    "{\"table\":\"public.t_copy\"}"),
                 NULL, 2, &err, &res);
    if (rc)
        fail_msg("run: %s", err.message);
    assert_int_equal(res.rows_read, 3);
    assert_int_equal(res.rows_written, 3);
    px_engine_result_cleanup(&res);
    expect("SELECT column_name || ':' || data_type FROM information_schema.columns WHERE "
           "table_name = 't_copy' AND column_name IN ('id', 'f4', 'b', 'ts', 'v') ORDER BY 1",
           "b:boolean\nf4:double precision\nid:bigint\nts:timestamp with time zone\nv:text\n");
    expect("SELECT id, s2, i8, f8, n, b, t, v, c, ts, tz, d, u, j, js, iv FROM t_copy ORDER BY "
           "id",
           "1|-7|9007199254740993|-2.25|1234.5|t|tab\there\nnew\\back|héllo ✓|ab|2024-03-01 "
           "12:34:56.789+00|2024-03-01 10:00:00+00|1969-12-31 00:00:00+00|"
           "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"k\": [1, 2]}|{\"x\":1}|1 day 02:00:00\n"
           "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL\n"
           "3|NULL|NULL|Infinity|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL\n");
    /* Append again into the existing table (binary COPY into the same types). */
    rc = run(g2("postgres", "pg", "{\"table\":\"t_types\"}", "postgres", "pg",
                "{\"table\":\"t_copy\",\"mode\":\"append\"}"),
             NULL, 0, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    expect("SELECT count(*), count(DISTINCT id) FROM t_copy", "6|3\n");
    /* Into an existing table with the source's own types (numeric, date, uuid, jsonb, interval:
     * interval has no binary encoder, so this load uses text format). */
    sql("DROP TABLE IF EXISTS t_same; CREATE TABLE t_same (LIKE t_types)");
    rc = run(
        g2("postgres", "pg", "{\"table\":\"t_types\"}", "postgres", "pg", "{\"table\":\"t_same\"}"),
        NULL, 0, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    expect("SELECT count(*) FROM (SELECT id, s2, i8, f4, f8, n, nn, b, t, v, c, ts, tz, d, u, j, "
           "js::text, iv FROM t_same EXCEPT SELECT id, s2, i8, f4, f8, n, nn, b, t, v, c, ts, tz, "
           "d, u, j, js::text, iv FROM t_types) x",
           "0\n");
    expect("SELECT count(*) FROM t_same", "3\n");
    /* Same without the interval column: binary into numeric/date/uuid/jsonb/char. */
    sql("ALTER TABLE t_same DROP COLUMN iv; TRUNCATE t_same");
    rc = run(g2("postgres", "pg",
                "{\"table\":\"t_types\",\"columns\":[\"id\",\"s2\",\"i8\",\"f4\",\"f8\",\"n\","
                "\"nn\",\"b\",\"t\",\"v\",\"c\",\"ts\",\"tz\",\"d\",\"u\",\"j\",\"js\"]}",
                "postgres", "pg", "{\"table\":\"t_same\"}"),
             NULL, 0, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    expect("SELECT count(*) FROM (SELECT id, s2, i8, f4, f8, n, nn, b, t, v, c, ts, tz, d, u, "
           "j, js::text FROM t_same EXCEPT SELECT id, s2, i8, f4, f8, n, nn, b, t, v, c, ts, "
           "tz, d, u, j, js::text FROM t_types) x",
           "0\n");
    expect("SELECT n, nn FROM t_same ORDER BY id", "1234.500|NaN\nNULL|NULL\nNULL|-0.00012\n");
}

static PGconn *reader;
static int reader_checks;
static const char *reader_table;
static const char *reader_old;

/* During a load: another session sees the old rows or waits (lock), never a partial table. */
static void check_reader(int64_t rows)
{
    (void)rows;
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s", reader_table);
    PGresult *r = PQexec(reader, q);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        assert_string_equal(PQgetvalue(r, 0, 0), reader_old);
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        assert_non_null(state);
        assert_string_equal(state, "55P03"); /* lock_not_available: blocked until commit */
    }
    PQclear(r);
    reader_checks++;
}

static void test_pg_replace_atomic(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS t_rep; CREATE TABLE t_rep (id bigint PRIMARY KEY, v text);"
        "INSERT INTO t_rep SELECT i, 'old' FROM generate_series(1, 5) i");
    const char *kw[] = {"host", "port", "user", "password", "dbname", "options", NULL};
    const char *val[] = {H, PORT, USER, PASS, DB, "-c lock_timeout=100", NULL};
    reader = PQconnectdbParams(kw, val, 0);
    assert_int_equal(PQstatus(reader), CONNECTION_OK);
    reader_table = "t_rep";
    reader_old = "5";
    reader_checks = 0;
    progress_hook = check_reader;
    /* A source failing mid-way (division by zero at row 2500, after 2 batches were loaded). */
    struct px_error err;
    int rc = run(g2("postgres", "pg",
                    "{\"query\":\"SELECT i AS id, (10 / (2500 - i))::text AS v FROM "
                    "generate_series(1, 3000) i\"}",
                    "postgres", "pg", "{\"table\":\"t_rep\",\"mode\":\"replace\"}"),
                 NULL, 1000, &err, NULL);
    assert_true(rc < 0);
    assert_non_null(strstr(err.message, "division by zero"));
    assert_true(reader_checks >= 2);
    expect("SELECT count(*), min(v), max(v) FROM t_rep", "5|old|old\n");
    /* A good replace. */
    reader_checks = 0;
    rc = run(g2("postgres", "pg",
                "{\"query\":\"SELECT i AS id, 'new' AS v FROM generate_series(1, 3000) i\"}",
                "postgres", "pg", "{\"table\":\"t_rep\",\"mode\":\"replace\"}"),
             NULL, 1000, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    assert_true(reader_checks >= 3);
    progress_hook = NULL;
    expect("SELECT count(*), min(v), max(v) FROM t_rep", "3000|new|new\n");
    /* The table keeps its primary key (TRUNCATE, not a new table). */
    expect("SELECT count(*) FROM pg_index WHERE indrelid = 't_rep'::regclass AND indisprimary",
           "1\n");
    /* Replace with no rows empties it. */
    rc = run(g2("postgres", "pg", "{\"query\":\"SELECT 1::bigint AS id, 'x' AS v WHERE false\"}",
                "postgres", "pg", "{\"table\":\"t_rep\",\"mode\":\"replace\"}"),
             NULL, 0, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    expect("SELECT count(*) FROM t_rep", "0\n");
    PQfinish(reader);
    reader = NULL;
}

static void test_pg_upsert(void **state)
{
    (void)state;
    for (int unique = 0; unique < 2; unique++) {
        sql("DROP TABLE IF EXISTS t_up; DROP TABLE IF EXISTS t_src;"
            "CREATE TABLE t_src (seq int, k1 int, k2 text, v text, n numeric(8,2));"
            "INSERT INTO t_src VALUES (1, 1, 'a', 'new1', 1.5), (2, 2, 'b', 'first', 2), "
            "(3, 2, 'b', 'second', 3.25), (4, 9, 'z', 'ins', 4), (5, NULL, 'n', 'nullkey', 5)");
        sql(unique ? "CREATE TABLE t_up (k1 int, k2 text, v text, n numeric(8,2), extra text "
                     "DEFAULT 'keep', UNIQUE (k2, k1))"
                   : "CREATE TABLE t_up (k1 int, k2 text, v text, n numeric(8,2), extra text "
                     "DEFAULT 'keep')");
        sql("INSERT INTO t_up (k1, k2, v, n) VALUES (1, 'a', 'old1', 0), (2, 'b', 'old2', 0), "
            "(3, 'c', 'old3', 0)");
        struct px_error err;
        int rc = run(g2("postgres", "pg",
                        "{\"query\":\"SELECT k1, k2, v, n FROM t_src ORDER BY seq\"}", "postgres",
                        "pg", "{\"table\":\"t_up\",\"mode\":\"upsert\",\"keys\":[\"k1\",\"k2\"]}"),
                     NULL, 2, &err, NULL);
        if (rc)
            fail_msg("run (unique=%d): %s", unique, err.message);
        expect("SELECT k1, k2, v, n, extra FROM t_up ORDER BY k1 NULLS LAST",
               "1|a|new1|1.50|keep\n2|b|second|3.25|keep\n3|c|old3|0.00|keep\n9|z|ins|4.00|keep\n"
               "NULL|n|nullkey|5.00|keep\n");
    }
    /* Upsert into a missing table creates it. */
    sql("DROP TABLE IF EXISTS t_up2");
    struct px_error err;
    int rc =
        run(g2("postgres", "pg", "{\"query\":\"SELECT k1, v FROM t_src ORDER BY seq\"}", "postgres",
               "pg", "{\"table\":\"t_up2\",\"mode\":\"upsert\",\"keys\":[\"k1\"]}"),
            NULL, 0, &err, NULL);
    if (rc)
        fail_msg("run: %s", err.message);
    expect("SELECT k1, v FROM t_up2 ORDER BY k1", "1|new1\n2|second\n9|ins\nNULL|nullkey\n");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_csv_both_ways(void **state)
{
    (void)state;
    char root[] = "/tmp/px_pg_XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/in.csv", root);
    write_file(p, "id,name,amount,paid,at\n1,\"a, b\",1.5,true,2024-01-02T03:04:05Z\n"
                  "2,\"line\nbreak\",,false,\n3,tab\there,-3,true,2024-01-03T00:00:00Z\n");
    sql("DROP TABLE IF EXISTS t_csv");
    struct px_error err;
    int rc =
        run(g2("csv", "files", "{\"file\":\"in.csv\"}", "postgres", "pg", "{\"table\":\"t_csv\"}"),
            root, 0, &err, NULL);
    if (rc)
        fail_msg("csv → pg: %s", err.message);
    expect("SELECT id, name, amount, paid, at FROM t_csv ORDER BY id",
           "1|a, b|1.5|t|2024-01-02 03:04:05+00\n2|line\nbreak|NULL|f|NULL\n"
           "3|tab\there|-3|t|2024-01-03 00:00:00+00\n");
    rc = run(g2("postgres", "pg", "{\"query\":\"SELECT * FROM t_csv ORDER BY id\"}", "csv", "files",
                "{\"file\":\"out.csv\",\"mode\":\"replace\"}"),
             root, 0, &err, NULL);
    if (rc)
        fail_msg("pg → csv: %s", err.message);
    snprintf(p, sizeof(p), "%s/out.csv", root);
    char *out = read_file(p);
    assert_non_null(out);
    assert_non_null(strstr(out, "id,name,amount,paid,at\n"));
    assert_non_null(strstr(out, "1,\"a, b\",1.5,true,2024-01-02T03:04:05Z\n"));
    assert_non_null(strstr(out, "\"line\nbreak\""));

    /* Type mismatch: a string into an existing integer column names the row and column, and
     * the destination is unchanged. */
    sql("DROP TABLE IF EXISTS t_int; CREATE TABLE t_int (id int, n integer);"
        "INSERT INTO t_int VALUES (0, 0)");
    snprintf(p, sizeof(p), "%s/bad.csv", root);
    write_file(p, "id,n\n1,5\n2,abc\n");
    rc =
        run(g2("csv", "files", "{\"file\":\"bad.csv\"}", "postgres", "pg", "{\"table\":\"t_int\"}"),
            root, 0, &err, NULL);
    assert_int_equal(rc, -PX_EINVALID);
    assert_non_null(strstr(err.message, "row 2"));
    assert_non_null(strstr(err.message, "'n'"));
    assert_non_null(strstr(err.message, "abc"));
    expect("SELECT count(*) FROM t_int", "1\n");
    /* A column the table lacks. */
    snprintf(p, sizeof(p), "%s/extra.csv", root);
    write_file(p, "id,zzz\n1,5\n");
    rc = run(
        g2("csv", "files", "{\"file\":\"extra.csv\"}", "postgres", "pg", "{\"table\":\"t_int\"}"),
        root, 0, &err, NULL);
    assert_int_equal(rc, -PX_EINVALID);
    assert_non_null(strstr(err.message, "no column 'zzz' (columns: id, n)"));
    /* Server-side errors in a text-format load name the row and column too. */
    sql("DROP TABLE IF EXISTS t_iv; CREATE TABLE t_iv (id int, d interval)");
    snprintf(p, sizeof(p), "%s/iv.csv", root);
    write_file(p, "id,d\n1,1 day\n2,3 hours\n3,soon\n");
    rc = run(g2("csv", "files", "{\"file\":\"iv.csv\"}", "postgres", "pg", "{\"table\":\"t_iv\"}"),
             root, 0, &err, NULL);
    assert_int_equal(rc, -PX_EINVALID);
    assert_non_null(strstr(err.message, "row 3, column 'd'"));
    expect("SELECT count(*) FROM t_iv", "0\n");
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A port with nothing listening. */
/* The executor pushes `status <> 'x'` into PostgreSQL as ("status")::text COLLATE "C" <> 'x':
 * only the exact byte string is excluded ('Cancelled' stays, as the engine's filter keeps it),
 * NULLs go as in the filter, and a char(n) column compares without its padding. */
static void test_pushdown_not_equal(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS t_ne;"
        "CREATE TABLE t_ne (id int, status text, code char(6));"
        "INSERT INTO t_ne VALUES (1, 'paid', 'a'), (2, 'cancelled', 'b'), (3, 'Cancelled', 'c'),"
        " (4, NULL, 'x'), (5, 'paid', NULL), (6, 'cancelled ', 'x')");
    char root[] = "/tmp/px_pg_ne_XXXXXX";
    assert_non_null(mkdtemp(root));
    const char *graph =
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"postgres\","
        "\"connection_id\":\"pg\",\"config\":{\"table\":\"t_ne\"}},"
        "{\"id\":\"f\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":"
        "{\"condition\":\"status <> 'cancelled' AND code <> 'x'\"}},"
        "{\"id\":\"dst\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":"
        "\"files\",\"config\":{\"file\":\"ne.csv\",\"mode\":\"replace\"}}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"f\"},{\"from\":\"f\",\"to\":\"dst\"}]}";
    struct px_error err;
    struct px_engine_result res;
    int rc = run(graph, root, 0, &err, &res);
    if (rc)
        fail_msg("run: %s", err.message);
    /* Pushed down: only rows 1 and 3 (status not exactly 'cancelled', code not 'x' once its
     * padding is gone, neither NULL) leave the server. */
    assert_int_equal(res.rows_read, 2);
    assert_int_equal(res.rows_written, 2);
    px_engine_result_cleanup(&res);
    char path[128];
    snprintf(path, sizeof(path), "%s/ne.csv", root);
    assert_string_equal(read_file(path), "id,status,code\n1,paid,a\n3,Cancelled,c\n");
    unlink(path);
    rmdir(root);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connection_errors(void **state)
{
    (void)state;
    struct px_error err;
    int rc =
        run(g2("postgres", "bad", "{\"table\":\"t_types\"}", "postgres", "pg", "{\"table\":\"x\"}"),
            NULL, 0, &err, NULL);
    assert_int_equal(rc, -PX_EUNAUTHORIZED);
    assert_non_null(strstr(err.message, "authentication failed for user"));
    assert_non_null(strstr(err.hint, "user and password"));
    assert_false(err.retryable);
    assert_null(strstr(err.message, "not-the-password-xyz"));
    assert_null(strstr(err.hint, "not-the-password-xyz"));

    char port[16];
    snprintf(port, sizeof(port), "%d", free_port());
    struct json_object *params = pg_params(PASS, port);
    struct json_object *config = json_tokener_parse("{\"table\":\"t\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = src_ctx(params, config, &opts);
    void *st = NULL;
    px_error_clear(&err);
    rc = px__conn_postgres.open_source(&ctx, &st, &err);
    assert_int_equal(rc, -PX_EIO);
    assert_true(err.retryable);
    assert_non_null(strstr(err.message, "refused"));
    assert_null(strstr(err.message, PASS));
    px_error_clear(&err);
    assert_int_equal(px__conn_postgres.open_dest(&ctx, &st, &err), -PX_EIO);
    assert_true(err.retryable);
    json_object_put(config);
    json_object_put(params);

    /* Permission denied, reading and writing (the owner revokes its own privileges). */
    sql("DROP TABLE IF EXISTS t_priv; CREATE TABLE t_priv (id bigint); INSERT INTO t_priv "
        "VALUES (1); REVOKE SELECT, INSERT ON t_priv FROM CURRENT_USER");
    rc = run(g2("postgres", "pg", "{\"table\":\"t_priv\"}", "postgres", "pg",
                "{\"table\":\"t_priv_out\"}"),
             NULL, 0, &err, NULL);
    assert_int_equal(rc, -PX_EFORBIDDEN);
    assert_non_null(strstr(err.message, "permission denied"));
    assert_non_null(strstr(err.hint, "grant"));
    rc = run(g2("postgres", "pg", "{\"query\":\"SELECT 2::bigint AS id\"}", "postgres", "pg",
                "{\"table\":\"t_priv\"}"),
             NULL, 0, &err, NULL);
    assert_int_equal(rc, -PX_EFORBIDDEN);
    assert_non_null(strstr(err.message, "node 'dst'"));
    assert_non_null(strstr(err.message, "permission denied"));
    sql("DROP TABLE t_priv");

    /* A missing source table through the engine names the node and the table. */
    rc = run(g2("postgres", "pg", "{\"table\":\"public.missing_tbl\"}", "postgres", "pg",
                "{\"table\":\"x\"}"),
             NULL, 0, &err, NULL);
    assert_int_equal(rc, -PX_ENOTFOUND);
    assert_non_null(strstr(err.message, "node 'src'"));
    assert_non_null(strstr(err.message, "missing_tbl"));
}

/* A later batch failing leaves no half-written (or newly created) table. */
static void test_midway_failure(void **state)
{
    (void)state;
    sql("DROP TABLE IF EXISTS t_mid; DROP TABLE IF EXISTS t_mid2;"
        "CREATE TABLE t_mid2 (id bigint); INSERT INTO t_mid2 VALUES (42)");
    const char *q = "{\"query\":\"SELECT i AS id, 10 / (3500 - i) AS v FROM generate_series(1, "
                    "4000) i\"}";
    struct px_error err;
    int rc = run(g2("postgres", "pg", q, "postgres", "pg", "{\"table\":\"t_mid\"}"), NULL, 1000,
                 &err, NULL);
    assert_true(rc < 0);
    expect("SELECT to_regclass('t_mid') IS NULL", "t\n");
    rc = run(g2("postgres", "pg",
                "{\"query\":\"SELECT i AS id FROM generate_series(1, 4000) i WHERE 10 / (3500 "
                "- i) IS NOT NULL\"}",
                "postgres", "pg", "{\"table\":\"t_mid2\"}"),
             NULL, 1000, &err, NULL);
    assert_true(rc < 0);
    assert_false(err.retryable);
    expect("SELECT count(*), max(id) FROM t_mid2", "1|42\n");

    /* The destination fails while the source is still streaming (a value too big for int4 at
     * row 1500 of 500000): the source is closed mid-COPY, nothing is written. */
    sql("DROP TABLE IF EXISTS t_mid3; CREATE TABLE t_mid3 (id int4)");
    rc = run(g2("postgres", "pg",
                "{\"query\":\"SELECT CASE WHEN i = 1500 THEN 3000000000 ELSE i END AS id FROM "
                "generate_series(1, 500000) i\"}",
                "postgres", "pg", "{\"table\":\"t_mid3\"}"),
             NULL, 1000, &err, NULL);
    assert_int_equal(rc, -PX_EINVALID);
    assert_non_null(strstr(err.message, "node 'dst'"));
    assert_non_null(strstr(err.message, "row 1500, column 'id'"));
    assert_non_null(strstr(err.message, "3000000000"));
    expect("SELECT count(*) FROM t_mid3", "0\n");
}

static void test_probe(void **state)
{
    (void)state;
    struct json_object *params = pg_params(PASS, NULL);
    struct px_probe_result r;
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 5000, &r), 0);
    if (!r.reachable)
        fail_msg("probe: %s", r.error.message);
    assert_true(r.server_version[0] >= '1' && r.server_version[0] <= '9');
    assert_non_null(strchr(r.server_version, '.'));
    assert_null(strchr(r.server_version, ' '));
    assert_int_equal(px_engine_probe("postgres", "destination", params, "/tmp", 5000, &r), 0);
    assert_true(r.reachable);

    /* A host name (resolved by the probe itself, bounded by the timeout). */
    px_json_set_str(params, "host", "localhost");
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 5000, &r), 0);
    if (!r.reachable)
        fail_msg("probe localhost: %s", r.error.message);
    px_json_set_str(params, "host", "no-such-host.invalid");
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 5000, &r), 0);
    assert_false(r.reachable);
    assert_non_null(strstr(r.error.message, "unknown host 'no-such-host.invalid'"));
    json_object_put(params);

    params = pg_params("wrong-secret-123", NULL);
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 5000, &r), 0);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EUNAUTHORIZED);
    assert_false(r.error.retryable);
    assert_null(strstr(r.error.message, "wrong-secret-123"));
    assert_non_null(strstr(r.error.hint, "password"));
    json_object_put(params);

    char port[16];
    snprintf(port, sizeof(port), "%d", free_port());
    params = pg_params(PASS, port);
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 5000, &r), 0);
    assert_false(r.reachable);
    assert_true(r.error.retryable);
    assert_non_null(strstr(r.error.message, "refused"));
    json_object_put(params);

    /* A socket that accepts TCP connections but never answers: bounded by timeout_ms. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
    params = pg_params(PASS, port);
    assert_int_equal(px_engine_probe("postgres", "source", params, "/tmp", 700, &r), 0);
    assert_false(r.reachable);
    assert_true(r.error.retryable);
    assert_non_null(strstr(r.error.message, "within 700 ms"));
    close(fd);
    json_object_put(params);
}

/* ---- read-only sources: the attack corpus (issue 10 item 4) ---- */

static void victim_fixture(void)
{
    sql("DROP TABLE IF EXISTS victim, victim_copy");
    sql("DROP SEQUENCE IF EXISTS victim_seq");
    sql("CREATE TABLE victim (id int PRIMARY KEY, v text)");
    sql("INSERT INTO victim VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    sql("CREATE SEQUENCE victim_seq");
    sql("CREATE OR REPLACE FUNCTION victim_fn() RETURNS int LANGUAGE plpgsql AS "
        "$$ BEGIN DELETE FROM victim; RETURN 1; END $$");
}

/* Everything a trick could change: the victim's rows, the sequence, the relations of the
 * schema, large objects, and the server files the corpus names. Owned. */
static char *victim_state(void)
{
    char *rows = query(admin, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM victim");
    char *seq = query(admin, "SELECT last_value, is_called FROM victim_seq");
    char *rels = query(admin, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                              "WHERE relnamespace = 'public'::regnamespace");
    char *lo = query(admin, "SELECT count(*) FROM pg_largeobject_metadata");
    struct px_buf b;
    px_buf_init(&b, 1 << 20);
    (void)px_buf_printf(&b, "rows %s seq %s rels %s lo %s files %d%d", rows, seq, rels, lo,
                        access("/tmp/px_corpus_pg_lo", F_OK) == 0,
                        access("/tmp/px_corpus_pg_prog", F_OK) == 0);
    free(rows);
    free(seq);
    free(rels);
    free(lo);
    return px_buf_take(&b);
}

/* Each trick as a real source query: the run fails and nothing changed. Then each trick run
 * with only the database's wall (a default_transaction_read_only session, one statement per
 * call), to count what the read-only transaction blocks by itself: the entries marked "lexer:
 * passes" must be among those. */
static void test_readonly_corpus(void **state)
{
    (void)state;
    struct corpus c;
    corpus_load("tests/corpus/readonly/pg.sql", &c);
    char root[] = "/tmp/px_pgro_XXXXXX";
    assert_non_null(mkdtemp(root));
    victim_fixture();
    char *before = victim_state();
    for (size_t i = 0; i < c.n; i++) {
        struct json_object *cfg = json_object_new_object();
        px_json_set_str(cfg, "query", c.e[i].sql);
        struct px_error err;
        int rc = run(g2("postgres", "pg", json_object_to_json_string(cfg), "csv", "files",
                        "{\"file\":\"out.csv\"}"),
                     root, 100, &err, NULL);
        json_object_put(cfg);
        if (rc == 0)
            fail_msg("'%s' ran as a source query:\n%s", c.e[i].name, c.e[i].sql);
        char *after = victim_state();
        if (strcmp(before, after) != 0)
            fail_msg("'%s' changed the database:\n%s\n--- before\n%s\n--- after\n%s", c.e[i].name,
                     c.e[i].sql, before, after);
        free(after);
    }
    int refused = 0, ran = 0, changed = 0;
    struct px_buf names, ran_names;
    px_buf_init(&names, 1 << 16);
    px_buf_init(&ran_names, 1 << 16);
    const char *kw[] = {"host", "port", "user", "password", "dbname", "options", NULL};
    const char *val[] = {H,
                         PORT,
                         USER,
                         PASS,
                         DB,
                         "-c default_transaction_read_only=on -c standard_conforming_strings=on "
                         "-c client_min_messages=error",
                         NULL};
    for (size_t i = 0; i < c.n; i++) {
        PGconn *ro = PQconnectdbParams(kw, val, 0);
        assert_int_equal(PQstatus(ro), CONNECTION_OK);
        PGresult *r = PQexecParams(ro, c.e[i].sql, 0, NULL, NULL, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        PQclear(r);
        PQfinish(ro);
        char *after = victim_state();
        if (strcmp(before, after) != 0) {
            changed++;
            (void)px_buf_printf(&names, " %s", c.e[i].name);
            victim_fixture();
            unlink("/tmp/px_corpus_pg_lo");
            unlink("/tmp/px_corpus_pg_prog");
        } else if (ok) {
            ran++;
            (void)px_buf_printf(&ran_names, " %s", c.e[i].name);
        } else {
            refused++;
        }
        free(after);
        if (c.e[i].lexer_passes && ok)
            fail_msg("'%s' is left to the database, which ran it", c.e[i].name);
    }
    print_message("pg corpus: %zu tricks, all refused as source queries; the read-only session "
                  "alone refused %d, ran %d without a change (%s), let %d change something:%s\n",
                  c.n, refused, ran, ran_names.data ? ran_names.data : "", changed,
                  names.data ? names.data : "");
    px_buf_cleanup(&names);
    px_buf_cleanup(&ran_names);
    free(before);
    corpus_free(&c);
    sql("DROP TABLE IF EXISTS victim, victim_copy");
    sql("DROP SEQUENCE IF EXISTS victim_seq");
    nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* The egress policy (issue 10 item 5): with PLANASONIX_EGRESS_DENY=127.0.0.0/8 runs and the
 * probe are refused with the policy's message, for an address and for a name ("localhost");
 * a narrower PLANASONIX_EGRESS_ALLOW lets them through again. */
static void test_egress_policy(void **state)
{
    (void)state;
    setenv("PLANASONIX_EGRESS_DENY", "127.0.0.0/8,::1", 1);
    px_egress_reload();
    struct px_error err;
    int rc = run(g2("postgres", "pg", "{\"query\":\"SELECT 1 AS x\"}", "postgres", "pg",
                    "{\"table\":\"egress_out\"}"),
                 NULL, 100, &err, NULL);
    assert_int_equal(rc, -PX_EFORBIDDEN);
    if (!strstr(err.message, "postgres: the egress policy refuses connections to 127.0.0.1 "
                             "(denied by 127.0.0.0/8)"))
        fail_msg("unexpected error: %s", err.message);
    assert_false(err.retryable);
    struct json_object *p = pg_params(PASS, NULL);
    px_json_set_str(p, "host", "localhost");
    struct px_probe_result r;
    assert_int_equal(px_engine_probe("postgres", "source", p, "/nonexistent", 3000, &r), 0);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EFORBIDDEN);
    assert_non_null(strstr(r.error.message, "egress policy"));
    setenv("PLANASONIX_EGRESS_ALLOW", "127.0.0.1/32", 1);
    px_egress_reload();
    assert_int_equal(px_engine_probe("postgres", "destination", p, "/nonexistent", 3000, &r), 0);
    if (!r.reachable)
        fail_msg("allowed again: %s", r.error.message);
    json_object_put(p);
    unsetenv("PLANASONIX_EGRESS_DENY");
    unsetenv("PLANASONIX_EGRESS_ALLOW");
    px_egress_reload();
}

int main(void)
{
    H = getenv("PX_TEST_PG_HOST");
    PORT = getenv("PX_TEST_PG_PORT");
    USER = getenv("PX_TEST_PG_USER");
    PASS = getenv("PX_TEST_PG_PASSWORD");
    DB = getenv("PX_TEST_PG_DATABASE");
    if (!H || !PORT || !USER || !PASS || !DB) {
        const struct CMUnitTest missing[] = {cmocka_unit_test(test_server_configured)};
        return cmocka_run_group_tests(missing, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_types),
        cmocka_unit_test(test_source_pushdown),
        cmocka_unit_test(test_source_close_midstream),
        cmocka_unit_test(test_pg_to_pg_append_and_create),
        cmocka_unit_test(test_pg_replace_atomic),
        cmocka_unit_test(test_pg_upsert),
        cmocka_unit_test(test_csv_both_ways),
        cmocka_unit_test(test_pushdown_not_equal),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_midway_failure),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_readonly_corpus),
        cmocka_unit_test(test_egress_policy),
        cmocka_unit_test(test_source_big_rows),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
