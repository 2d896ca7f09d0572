/*
 * Unit tests for schema introspection (engine/schema.h, px_engine_describe) against real
 * databases and files: SQLite databases and CSV / JSON Lines files in a fresh files root, and
 * the PostgreSQL and MariaDB test servers (scripts/pg-server.sh, scripts/mariadb-server.sh;
 * their PX_TEST_* variables). As in test_conn_pg and test_conn_mysql, a server whose variables
 * are not set is one failing test, not a skip. Every fixture has a primary key, a unique key, a
 * foreign key, NULLs, timestamps, a low-cardinality status column (its values sampled), a
 * high-cardinality one (not sampled) and a column name that needs quoting; every described
 * column type is checked against what the connector's own source produces for it.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/json.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/schema.h"

#include <ftw.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup_root(void **state)
{
    (void)state;
    snprintf(g_root, sizeof(g_root), "/tmp/pxdesc.XXXXXX");
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown_root(void **state)
{
    (void)state;
    nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Describes; fails the test on an error. The document is owned by the caller. */
static struct json_object *describe(const char *type, struct json_object *params,
                                    const struct px_describe_opts *o)
{
    struct px_engine_opts opts = {.files_root = g_root};
    struct json_object *doc = NULL;
    struct px_error err;
    int rc = px_engine_describe(type, params, &opts, o, &doc, &err);
    if (rc < 0)
        fail_msg("describe %s: %s (%s)", type, err.message, err.hint);
    assert_non_null(doc);
    /* Whatever the caps, the document stays within its size. */
    int64_t max = o && o->max_bytes ? o->max_bytes : 1 << 20;
    assert_true((int64_t)strlen(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN)) <=
                max);
    return doc;
}

static struct json_object *table(struct json_object *doc, const char *schema, const char *name)
{
    struct json_object *ts = px_json_get(doc, "tables");
    for (size_t i = 0; i < json_object_array_length(ts); i++) {
        struct json_object *t = json_object_array_get_idx(ts, i);
        const char *s = px_json_get_str(t, "schema");
        if (strcmp(px_json_get_str(t, "name"), name) == 0 &&
            (!schema || (s && strcmp(s, schema) == 0)))
            return t;
    }
    fail_msg("table %s.%s not described in %s", schema ? schema : "", name,
             json_object_to_json_string(doc));
    return NULL;
}

/* The position of t in doc's tables. */
static int json_object_array_index_of_table(struct json_object *doc, struct json_object *t)
{
    struct json_object *ts = px_json_get(doc, "tables");
    for (size_t i = 0; i < json_object_array_length(ts); i++)
        if (json_object_array_get_idx(ts, i) == t)
            return (int)i;
    return -1;
}

static struct json_object *column(struct json_object *t, const char *name)
{
    struct json_object *cs = px_json_get(t, "columns");
    for (size_t i = 0; i < json_object_array_length(cs); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(cs, i), "name"), name) == 0)
            return json_object_array_get_idx(cs, i);
    fail_msg("column %s not in %s", name, json_object_to_json_string(t));
    return NULL;
}

static void expect_json(struct json_object *v, const char *want)
{
    const char *got = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";
    if (strcmp(got, want) != 0)
        fail_msg("expected %s, got %s", want, got);
}

static void expect_col(struct json_object *t, const char *name, const char *type, bool nullable)
{
    struct json_object *c = column(t, name);
    if (strcmp(px_json_get_str(c, "type"), type) != 0)
        fail_msg("column %s: type %s, expected %s", name, px_json_get_str(c, "type"), type);
    if (px_json_get_bool(c, "nullable", !nullable) != nullable)
        fail_msg("column %s: nullable should be %d", name, nullable);
}

/* The described columns of t have the names and types the connector's source gives (its first
 * batch), in order. config is the source node's config (borrowed). */
static void same_as_source(const struct px_connector *c, struct json_object *params,
                           struct json_object *config, struct json_object *t)
{
    struct px_engine_opts opts = {.files_root = g_root};
    struct px_node_ctx ctx = {.node_id = "src",
                              .config = config,
                              .params = params,
                              .opts = &opts,
                              .batch_rows = PX_BATCH_DEFAULT_ROWS};
    void *st = NULL;
    struct px_error err;
    px_error_clear(&err);
    if (c->open_source(&ctx, &st, &err) < 0)
        fail_msg("source: %s", err.message);
    struct px_batch *b = NULL;
    assert_int_equal(c->next_batch(st, &b, &err), 0);
    assert_non_null(b);
    struct json_object *cols = px_json_get(t, "columns");
    assert_int_equal(b->ncols, (int)json_object_array_length(cols));
    for (int i = 0; i < b->ncols; i++) {
        struct json_object *col = json_object_array_get_idx(cols, (size_t)i);
        assert_string_equal(px_json_get_str(col, "name"), b->cols[i].name);
        if (strcmp(px_json_get_str(col, "type"), px_col_type_name(b->cols[i].type)) != 0)
            fail_msg("%s.%s: described %s, the source reads %s", px_json_get_str(t, "name"),
                     b->cols[i].name, px_json_get_str(col, "type"),
                     px_col_type_name(b->cols[i].type));
    }
    px_batch_destroy(b);
    c->close_source(st);
}

static struct json_object *config_table(const char *key, const char *value)
{
    struct json_object *c = json_object_new_object();
    if (key)
        px_json_set_str(c, key, value);
    return c;
}

/* ---- SQLite ---- */

static void sqlite_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite '%s': %s", sql, msg);
}

static void make_shop_sqlite(const char *file)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", g_root, file);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite_exec(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
                    "country TEXT);"
                    "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER "
                    "REFERENCES customers(id), status TEXT NOT NULL, note VARCHAR(40), amount "
                    "REAL, created_at TIMESTAMP, \"order \"\"date\"\"\" DATE, shipped BOOLEAN, "
                    "code, UNIQUE (customer_id, note));"
                    "CREATE VIEW big_orders AS SELECT order_id, amount FROM orders WHERE amount > "
                    "100;"
                    "BEGIN;");
    for (int i = 1; i <= 20; i++) {
        char q[256];
        snprintf(q, sizeof(q), "INSERT INTO customers VALUES (%d, 'c%d@example.com', %s)", i, i,
                 i % 4 == 0 ? "NULL"
                 : i % 2    ? "'FR'"
                            : "'US'");
        sqlite_exec(db, q);
    }
    static const char *const statuses[] = {"new", "shipped", "cancelled"};
    for (int i = 1; i <= 200; i++) {
        char q[512];
        snprintf(q, sizeof(q),
                 "INSERT INTO orders VALUES (%d, %d, '%s', 'note number %d', %d.5, "
                 "'2026-01-%02dT10:00:00Z', '2026-02-%02d', %d, 'k%d')",
                 i, i % 20 + 1, statuses[i % 3], i, i * 3, i % 28 + 1, i % 28 + 1, i % 2, i % 7);
        sqlite_exec(db, q);
    }
    sqlite_exec(db, "COMMIT");
    sqlite3_close(db);
}

static void test_sqlite_shop(void **state)
{
    (void)state;
    make_shop_sqlite("shop.db");
    struct json_object *params = config_table("path", "shop.db");
    struct json_object *doc = describe("sqlite", params, NULL);
    expect_json(px_json_get(doc, "table_count"), "3");
    assert_false(px_json_get_bool(doc, "truncated", true));
    assert_true(px_json_get_bool(doc, "sampled", false));

    struct json_object *c = table(doc, NULL, "customers");
    assert_string_equal(px_json_get_str(c, "kind"), "table");
    expect_json(px_json_get(c, "primary_key"), "[\"id\"]");
    expect_json(px_json_get(c, "unique_keys"), "[[\"email\"]]");
    expect_json(px_json_get(c, "row_estimate"), "20");
    expect_col(c, "id", "integer", false);
    expect_col(c, "email", "string", false);
    expect_col(c, "country", "string", true);
    expect_json(px_json_get(column(c, "country"), "values"), "[\"FR\",\"US\"]");
    /* 20 distinct emails: still a category by count; the planner decides what to ground. */

    struct json_object *o = table(doc, NULL, "orders");
    expect_json(px_json_get(o, "primary_key"), "[\"order_id\"]");
    expect_json(px_json_get(o, "unique_keys"), "[[\"customer_id\",\"note\"]]");
    expect_json(px_json_get(o, "foreign_keys"),
                "[{\"columns\":[\"customer_id\"],\"references\":{\"schema\":null,\"table\":"
                "\"customers\",\"columns\":[\"id\"]}}]");
    expect_json(px_json_get(o, "row_estimate"), "200");
    expect_col(o, "status", "string", false);
    expect_json(px_json_get(column(o, "status"), "values"), "[\"cancelled\",\"new\",\"shipped\"]");
    expect_col(o, "note", "string", true);
    assert_null(px_json_get(column(o, "note"), "values")); /* 200 distinct: not a category */
    expect_col(o, "amount", "float", true);
    expect_col(o, "created_at", "timestamp", true);
    expect_col(o, "order \"date\"", "timestamp", true);
    assert_string_equal(px_json_get_str(column(o, "order \"date\""), "db_type"), "DATE");
    expect_col(o, "shipped", "boolean", true);
    expect_col(o, "code", "string", true); /* no declared type: typed from its values */
    expect_json(px_json_get(column(o, "code"), "db_type"), "null");

    struct json_object *v = table(doc, NULL, "big_orders");
    assert_string_equal(px_json_get_str(v, "kind"), "view");
    expect_json(px_json_get(v, "row_estimate"), "null");

    for (int i = 0; i < 3; i++) {
        static const char *const names[] = {"customers", "orders", "big_orders"};
        struct json_object *cfg = config_table("table", names[i]);
        same_as_source(&px__conn_sqlite, params, cfg, table(doc, NULL, names[i]));
        json_object_put(cfg);
    }
    json_object_put(doc);

    /* Without sampling there are no values at all. */
    struct px_describe_opts o2 = {.no_sampling = true};
    doc = describe("sqlite", params, &o2);
    assert_false(px_json_get_bool(doc, "sampled", true));
    assert_null(px_json_get(column(table(doc, NULL, "orders"), "status"), "values"));
    json_object_put(doc);
    json_object_put(params);
}

/* Sampling stops at its window (the progress handler interrupts a statement that would take
 * seconds: a view that walks 50 million rows of a recursive CTE before its first row). */
static void test_sqlite_sampling_window(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "%s/slow.db", g_root);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite_exec(db, "CREATE TABLE base (s TEXT); INSERT INTO base VALUES ('a'), ('b');"
                    "CREATE VIEW a_slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT "
                    "x + 1 FROM c WHERE x < 50000000) SELECT base.s AS s FROM base JOIN c ON "
                    "c.x = 50000000;");
    sqlite3_close(db);
    struct json_object *params = config_table("path", "slow.db");
    struct px_describe_opts quick = {.sample_ms = 200};
    struct json_object *doc = describe("sqlite", params, &quick);
    assert_false(px_json_get_bool(doc, "sampled", true));
    assert_null(px_json_get(column(table(doc, NULL, "a_slow"), "s"), "values"));
    json_object_put(doc);
    json_object_put(params);
}

/* More tables than the cap (default 500), more columns than a cap, a small size cap. */
static void test_sqlite_caps(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "%s/many.db", g_root);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite_exec(db, "BEGIN");
    for (int i = 0; i < 510; i++) {
        char q[200];
        snprintf(q, sizeof(q),
                 "CREATE TABLE t%03d (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c "
                 "TEXT, d TEXT, e TEXT)",
                 i);
        sqlite_exec(db, q);
    }
    sqlite_exec(db, "COMMIT");
    sqlite3_close(db);
    struct json_object *params = config_table("path", "many.db");
    struct json_object *doc = describe("sqlite", params, NULL);
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 500);
    expect_json(px_json_get(doc, "table_count"), "510");
    assert_true(px_json_get_bool(doc, "truncated", false));
    expect_json(px_json_get(doc, "truncated_by"), "[\"tables\"]");
    assert_string_equal(px_json_get_str(table(doc, NULL, "t499"), "name"), "t499");
    json_object_put(doc);

    struct px_describe_opts o = {.max_tables = 3, .max_columns = 4};
    doc = describe("sqlite", params, &o);
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 3);
    struct json_object *t = table(doc, NULL, "t000");
    assert_int_equal(json_object_array_length(px_json_get(t, "columns")), 4);
    expect_json(px_json_get(t, "column_count"), "6");
    assert_true(px_json_get_bool(t, "truncated", false));
    expect_json(px_json_get(doc, "truncated_by"), "[\"columns\",\"tables\"]");
    json_object_put(doc);

    struct px_describe_opts small = {.max_bytes = 4096};
    doc = describe("sqlite", params, &small); /* describe() checks the size */
    size_t n = json_object_array_length(px_json_get(doc, "tables"));
    assert_true(n > 0 && n < 30);
    assert_true(px_json_get_bool(doc, "truncated", false));
    struct json_object *by = px_json_get(doc, "truncated_by");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(by, 0)), "size");
    json_object_put(doc);
    json_object_put(params);
}

/* ---- CSV and JSON Lines ---- */

static void test_csv_directory(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "%s/exports", g_root);
    assert_int_equal(mkdir(p, 0755), 0);
    struct px_buf b;
    px_buf_init(&b, 1 << 20);
    (void)px_buf_puts(&b, "order_id,status,note,amount,created_at,\"order date\"\n");
    static const char *const statuses[] = {"new", "shipped", "cancelled"};
    for (int i = 1; i <= 300; i++)
        (void)px_buf_printf(&b, "%d,%s,note %d,%s,2026-01-%02dT10:00:00Z,%s\n", i, statuses[i % 3],
                            i, i % 10 == 0 ? "" : "12.5", i % 28 + 1,
                            i % 5 ? "2026-02-01T00:00:00Z" : "");
    put_file_at(g_root, "exports/orders.csv", b.data);
    px_buf_cleanup(&b);
    put_file_at(g_root, "exports/customers.csv", "id,email,vip\n1,a@x.com,true\n2,b@x.com,false\n");
    put_file_at(g_root, "exports/readme.md", "not a table\n");
    put_file_at(g_root, "exports/.hidden.csv", "a\n1\n");
    put_file_at(g_root, "exports/.orders.csv.px-tmp-abcdef12", "a\n1\n");
    snprintf(p, sizeof(p), "%s/exports/outside.csv", g_root);
    assert_int_equal(symlink("/etc/passwd", p), 0); /* links are never followed */
    snprintf(p, sizeof(p), "%s/exports/sub", g_root);
    assert_int_equal(mkdir(p, 0755), 0);
    put_file_at(g_root, "exports/sub/deeper.csv", "a\n1\n");

    struct json_object *params = config_table("path", "exports/");
    struct json_object *doc = describe("csv", params, NULL);
    expect_json(px_json_get(doc, "table_count"), "2");
    struct json_object *ts = px_json_get(doc, "tables");
    assert_int_equal(json_object_array_length(ts), 2);
    assert_string_equal(px_json_get_str(json_object_array_get_idx(ts, 0), "name"), "customers.csv");
    struct json_object *o = table(doc, NULL, "orders.csv");
    assert_string_equal(px_json_get_str(o, "kind"), "file");
    expect_json(px_json_get(o, "row_estimate"), "300");
    expect_json(px_json_get(o, "primary_key"), "null");
    expect_col(o, "order_id", "integer", false);
    expect_col(o, "status", "string", false);
    expect_json(px_json_get(column(o, "status"), "values"), "[\"cancelled\",\"new\",\"shipped\"]");
    assert_null(px_json_get(column(o, "note"), "values"));
    expect_col(o, "amount", "float", true);
    expect_col(o, "created_at", "timestamp", false);
    expect_col(o, "order date", "timestamp", true);
    expect_json(px_json_get(column(o, "amount"), "db_type"), "null");
    struct json_object *c = table(doc, NULL, "customers.csv");
    expect_col(c, "vip", "boolean", false);
    for (size_t i = 0; i < 2; i++) {
        struct json_object *t = json_object_array_get_idx(ts, i);
        struct json_object *cfg = config_table("file", px_json_get_str(t, "name"));
        same_as_source(&px__conn_csv, params, cfg, t);
        json_object_put(cfg);
    }
    json_object_put(doc);
    json_object_put(params);

    /* A path naming one file describes that file. */
    params = config_table("path", "exports/customers.csv");
    doc = describe("csv", params, NULL);
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 1);
    expect_json(px_json_get(table(doc, NULL, "customers.csv"), "row_estimate"), "2");
    json_object_put(doc);
    json_object_put(params);

    /* Outside the files directory, or missing: the error runs give, nothing described. */
    static const char *const bad[] = {"../etc", "exports/outside.csv", "nope.csv"};
    for (int i = 0; i < 3; i++) {
        params = config_table("path", bad[i]);
        struct px_engine_opts opts = {.files_root = g_root};
        struct px_error err;
        doc = NULL;
        assert_true(px_engine_describe("csv", params, &opts, NULL, &doc, &err) < 0);
        assert_null(doc);
        assert_null(strstr(err.message, g_root));
        json_object_put(params);
    }
}

static void test_jsonl_and_http(void **state)
{
    (void)state;
    struct px_buf b;
    px_buf_init(&b, 1 << 20);
    for (int i = 1; i <= 120; i++)
        (void)px_buf_printf(&b,
                            "{\"id\": %d, \"status\": \"%s\", \"email\": \"u%d@x.com\", "
                            "\"at\": \"2026-03-01T00:00:00Z\", \"score\": %s}\n",
                            i, i % 2 ? "open" : "closed", i, i % 3 ? "1.5" : "null");
    put_file_at(g_root, "events.jsonl", b.data);
    px_buf_cleanup(&b);
    put_file_at(g_root, "broken.jsonl", "{\"a\": 1}\n{not json\n");
    struct json_object *params = config_table("path", ".");
    struct json_object *doc = describe("jsonl", params, NULL);
    struct json_object *e = table(doc, NULL, "events.jsonl");
    expect_json(px_json_get(e, "row_estimate"), "120");
    expect_col(e, "id", "integer", false);
    expect_col(e, "at", "timestamp", false);
    expect_col(e, "score", "float", true);
    expect_json(px_json_get(column(e, "status"), "values"), "[\"closed\",\"open\"]");
    assert_null(px_json_get(column(e, "email"), "values"));
    struct json_object *cfg = config_table("file", "events.jsonl");
    same_as_source(&px__conn_jsonl, params, cfg, e);
    json_object_put(cfg);
    /* A file the source refuses is described with its error, the others still are. */
    struct json_object *br = table(doc, NULL, "broken.jsonl");
    assert_non_null(px_json_get(br, "error"));
    expect_json(px_json_get(br, "row_estimate"), "null");
    json_object_put(doc);
    json_object_put(params);

    params = config_table("base_url", "http://127.0.0.1:1/");
    doc = describe("http", params, NULL);
    assert_false(px_json_get_bool(doc, "describable", true));
    assert_non_null(px_json_get_str(doc, "reason"));
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 0);
    json_object_put(doc);
    struct px_error err;
    assert_int_equal(px_engine_describe("snowflake", params, NULL, NULL, &doc, &err), -PX_EINVALID);
    json_object_put(params);
}

/* The egress policy holds for descriptions as for runs and probes: nothing is connected to. */
static void expect_egress_refused(const char *type, struct json_object *params)
{
    setenv("PLANASONIX_EGRESS_DENY", "127.0.0.0/8", 1);
    px_egress_reload();
    struct px_engine_opts opts = {.files_root = g_root};
    struct px_error err;
    struct json_object *doc = NULL;
    int rc = px_engine_describe(type, params, &opts, NULL, &doc, &err);
    unsetenv("PLANASONIX_EGRESS_DENY");
    px_egress_reload();
    assert_null(doc);
    if (rc != -PX_EFORBIDDEN || !strstr(err.message, "egress"))
        fail_msg("%s: expected the egress policy's refusal, got %d: %s", type, rc, err.message);
}

/* ---- PostgreSQL ---- */

static const char *PGH, *PGPORT, *PGUSER, *PGPASS, *PGDB;

static void test_pg_configured(void **state)
{
    (void)state;
    fail_msg("PX_TEST_PG_HOST/PORT/USER/PASSWORD/DATABASE are not set.\n"
             "Run scripts/test.sh, or start a server with\n"
             "  eval \"$(scripts/pg-server.sh start /tmp/px-pg)\"");
}

static void pg_sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("sql '%.200s': %s", q, PQerrorMessage(c));
    PQclear(r);
}

static struct json_object *pg_params(void)
{
    struct json_object *p = json_object_new_object();
    px_json_set_str(p, "host", PGH);
    px_json_set_int(p, "port", atoi(PGPORT));
    px_json_set_str(p, "database", PGDB);
    px_json_set_str(p, "user", PGUSER);
    px_json_set_str(p, "password", PGPASS);
    px_json_set_str(p, "sslmode", "disable");
    return p;
}

static void test_pg(void **state)
{
    (void)state;
    const char *kw[] = {"host", "port", "user", "password", "dbname", "options", NULL};
    const char *val[] = {PGH, PGPORT, PGUSER, PGPASS, PGDB, "-c client_min_messages=warning", NULL};
    PGconn *c = PQconnectdbParams(kw, val, 0);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    pg_sql(c, "ALTER ROLE CURRENT_USER RESET search_path; DROP SCHEMA IF EXISTS px_desc_slow "
              "CASCADE; DROP SCHEMA IF EXISTS px_desc CASCADE; DROP SCHEMA IF EXISTS px_desc_many "
              "CASCADE;"
              "CREATE SCHEMA px_desc; CREATE SCHEMA px_desc_many;"
              "CREATE TYPE px_desc.mood AS ENUM ('happy', 'sad');"
              "CREATE DOMAIN px_desc.email_t AS text CHECK (VALUE LIKE '%@%');"
              "CREATE DOMAIN px_desc.qty_t AS int CHECK (VALUE >= 0);"
              "CREATE TABLE px_desc.customers (id bigint PRIMARY KEY, email px_desc.email_t "
              "NOT NULL UNIQUE, country varchar(2), mood px_desc.mood);"
              "CREATE TABLE px_desc.orders (order_id int PRIMARY KEY, customer_id bigint "
              "REFERENCES px_desc.customers(id), status text NOT NULL, note text, amount "
              "numeric(10,2), created_at timestamptz, \"Order \"\"Date\"\"\" date, paid "
              "boolean, tags jsonb, ref uuid, total float8, qty px_desc.qty_t);"
              "CREATE UNIQUE INDEX ON px_desc.orders (customer_id, note);"
              "CREATE VIEW px_desc.big_orders AS SELECT order_id, amount FROM px_desc.orders "
              "WHERE amount > 100;"
              "INSERT INTO px_desc.customers SELECT i, 'c' || i || '@example.com', CASE WHEN "
              "i % 4 = 0 THEN NULL WHEN i % 2 = 0 THEN 'US' ELSE 'FR' END, CASE WHEN i % 2 = 0 "
              "THEN 'happy' ELSE 'sad' END::px_desc.mood FROM generate_series(1, 20) i;"
              "INSERT INTO px_desc.orders SELECT i, i % 20 + 1, (ARRAY['new', 'shipped', "
              "'cancelled'])[i % 3 + 1], 'note ' || i, i * 3.5, '2026-01-01'::timestamptz + "
              "i * interval '1 hour', '2026-02-01'::date + i % 28, i % 2 = 0, '{}', "
              "gen_random_uuid(), i, i % 5 FROM generate_series(1, 200) i;"
              "ANALYZE px_desc.orders;");
    for (int i = 0; i < 30; i++) {
        char q[128];
        snprintf(q, sizeof(q), "CREATE TABLE px_desc_many.t%02d (id int PRIMARY KEY)", i);
        pg_sql(c, q);
    }
    struct json_object *params = pg_params();
    struct json_object *doc = describe("postgres", params, NULL);
    struct json_object *cu = table(doc, "px_desc", "customers");
    expect_json(px_json_get(cu, "primary_key"), "[\"id\"]");
    expect_json(px_json_get(cu, "unique_keys"), "[[\"email\"]]");
    expect_col(cu, "id", "integer", false);
    expect_col(cu, "email", "string", false); /* a domain: its base type */
    assert_string_equal(px_json_get_str(column(cu, "email"), "db_type"), "px_desc.email_t");
    expect_col(cu, "country", "string", true);
    assert_string_equal(px_json_get_str(column(cu, "country"), "db_type"), "character varying(2)");
    expect_json(px_json_get(column(cu, "country"), "values"), "[\"FR\",\"US\"]");
    expect_json(px_json_get(column(cu, "mood"), "values"), "[\"happy\",\"sad\"]");
    struct json_object *o = table(doc, "px_desc", "orders");
    expect_json(px_json_get(o, "primary_key"), "[\"order_id\"]");
    expect_json(px_json_get(o, "unique_keys"), "[[\"customer_id\",\"note\"]]");
    expect_json(px_json_get(o, "foreign_keys"),
                "[{\"columns\":[\"customer_id\"],\"references\":{\"schema\":\"px_desc\","
                "\"table\":\"customers\",\"columns\":[\"id\"]}}]");
    expect_json(px_json_get(o, "row_estimate"), "200");   /* analyzed */
    expect_json(px_json_get(cu, "row_estimate"), "null"); /* never analyzed */
    expect_col(o, "status", "string", false);
    expect_json(px_json_get(column(o, "status"), "values"), "[\"cancelled\",\"new\",\"shipped\"]");
    assert_null(px_json_get(column(o, "note"), "values"));
    assert_null(px_json_get(column(o, "tags"), "values")); /* json is not a category */
    expect_col(o, "amount", "float", true);
    expect_col(o, "created_at", "timestamp", true);
    expect_col(o, "Order \"Date\"", "timestamp", true);
    expect_col(o, "paid", "boolean", true);
    expect_col(o, "ref", "string", true);
    expect_col(o, "qty", "integer", true); /* a domain over int */
    assert_string_equal(px_json_get_str(table(doc, "px_desc", "big_orders"), "kind"), "view");
    static const char *const names[] = {"px_desc.customers", "px_desc.orders",
                                        "px_desc.big_orders"};
    static const char *const short_names[] = {"customers", "orders", "big_orders"};
    for (int i = 0; i < 3; i++) {
        struct json_object *cfg = config_table("table", names[i]);
        same_as_source(&px__conn_postgres, params, cfg, table(doc, "px_desc", short_names[i]));
        json_object_put(cfg);
    }
    json_object_put(doc);

    struct px_describe_opts narrow = {.max_columns = 2};
    doc = describe("postgres", params, &narrow);
    o = table(doc, "px_desc", "orders");
    assert_int_equal(json_object_array_length(px_json_get(o, "columns")), 2);
    expect_json(px_json_get(o, "column_count"), "12");
    assert_true(px_json_get_bool(o, "truncated", false));
    json_object_put(doc);
    struct px_describe_opts few = {.max_tables = 10};
    doc = describe("postgres", params, &few);
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 10);
    assert_true(px_json_get_int(doc, "table_count", 0) >= 33);
    assert_true(px_json_get_bool(doc, "truncated", false));
    json_object_put(doc);

    /* Sampling stops at its window: a view that takes 10 s to read is cut by the statement
     * timeout (its schema is the session's current schema, so it is sampled first). */
    pg_sql(c, "CREATE SCHEMA px_desc_slow; CREATE VIEW px_desc_slow.slow AS SELECT o.status "
              "FROM px_desc.orders o, LATERAL (SELECT pg_sleep(0.05) WHERE o.order_id > 0) z;"
              "ALTER ROLE CURRENT_USER SET search_path = px_desc_slow, public");
    struct px_describe_opts quick = {.sample_ms = 300};
    doc = describe("postgres", params, &quick);
    pg_sql(c, "ALTER ROLE CURRENT_USER RESET search_path");
    struct json_object *slow = table(doc, "px_desc_slow", "slow");
    assert_int_equal(json_object_array_index_of_table(doc, slow), 0);
    assert_false(px_json_get_bool(doc, "sampled", true));
    assert_null(px_json_get(column(slow, "status"), "values"));
    json_object_put(doc);
    pg_sql(c, "DROP SCHEMA px_desc_slow CASCADE");

    expect_egress_refused("postgres", params);

    /* Wrong password: the connector's error, without the password. */
    px_json_set_str(params, "password", "wrong-canary-pw");
    struct px_engine_opts opts = {.files_root = g_root};
    struct px_error err;
    doc = NULL;
    assert_int_equal(px_engine_describe("postgres", params, &opts, NULL, &doc, &err),
                     -PX_EUNAUTHORIZED);
    assert_null(strstr(err.message, "wrong-canary-pw"));
    json_object_put(params);
    pg_sql(c, "DROP SCHEMA px_desc CASCADE; DROP SCHEMA px_desc_many CASCADE");
    PQfinish(c);
}

/* ---- MariaDB ---- */

static const char *MYH, *MYPORT, *MYUSER, *MYPASS, *MYDB;

static void test_mysql_configured(void **state)
{
    (void)state;
    fail_msg("PX_TEST_MYSQL_HOST/PORT/USER/PASSWORD/DATABASE are not set. Start a server "
             "with: eval \"$(scripts/mariadb-server.sh start /tmp/pxmy)\"");
}

static void my_sql(MYSQL *m, const char *q)
{
    if (mysql_query(m, q) != 0)
        fail_msg("sql '%.200s': %s", q, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

static struct json_object *my_params(void)
{
    struct json_object *p = json_object_new_object();
    px_json_set_str(p, "host", MYH);
    px_json_set_int(p, "port", atoi(MYPORT));
    px_json_set_str(p, "user", MYUSER);
    px_json_set_str(p, "password", MYPASS);
    px_json_set_str(p, "database", MYDB);
    return p;
}

static void test_mysql(void **state)
{
    (void)state;
    MYSQL *m = mysql_init(NULL);
    assert_non_null(
        mysql_real_connect(m, MYH, MYUSER, MYPASS, MYDB, (unsigned)atoi(MYPORT), NULL, 0));
    my_sql(m, "DROP VIEW IF EXISTS pxd_big");
    my_sql(m, "DROP VIEW IF EXISTS `0pxd_slow`");
    my_sql(m, "DROP TABLE IF EXISTS pxd_orders");
    my_sql(m, "DROP TABLE IF EXISTS pxd_customers");
    my_sql(m, "CREATE TABLE pxd_customers (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL "
              "UNIQUE, country CHAR(2), tier ENUM('gold', 'silver')) ENGINE=InnoDB");
    my_sql(m, "CREATE TABLE pxd_orders (order_id INT PRIMARY KEY, customer_id BIGINT, status "
              "VARCHAR(20) NOT NULL, note TEXT, amount DECIMAL(10,2), created_at DATETIME(6), "
              "`order ``date``` DATE, paid TINYINT(1), qty SMALLINT UNSIGNED, flags BIT(8), "
              "payload BLOB, UNIQUE KEY u_note (customer_id, note(20)), FOREIGN KEY "
              "(customer_id) REFERENCES pxd_customers(id)) ENGINE=InnoDB");
    my_sql(m, "CREATE VIEW pxd_big AS SELECT order_id, amount FROM pxd_orders WHERE amount > 100");
    for (int i = 1; i <= 20; i++) {
        char q[256];
        snprintf(q, sizeof(q), "INSERT INTO pxd_customers VALUES (%d, 'c%d@x.com', %s, '%s')", i, i,
                 i % 4 == 0 ? "NULL"
                 : i % 2    ? "'FR'"
                            : "'US'",
                 i % 2 ? "gold" : "silver");
        my_sql(m, q);
    }
    static const char *const statuses[] = {"new", "shipped", "cancelled"};
    for (int i = 1; i <= 200; i++) {
        char q[512];
        snprintf(q, sizeof(q),
                 "INSERT INTO pxd_orders VALUES (%d, %d, '%s', 'note %d', %d.5, '2026-01-%02d "
                 "10:00:00', '2026-02-%02d', %d, %d, b'101', 'x')",
                 i, i % 20 + 1, statuses[i % 3], i, i * 3, i % 28 + 1, i % 28 + 1, i % 2, i);
        my_sql(m, q);
    }
    my_sql(m, "ANALYZE TABLE pxd_orders");
    struct json_object *params = my_params();
    struct json_object *doc = describe("mysql", params, NULL);
    struct json_object *cu = table(doc, NULL, "pxd_customers");
    expect_json(px_json_get(cu, "primary_key"), "[\"id\"]");
    expect_json(px_json_get(cu, "unique_keys"), "[[\"email\"]]");
    expect_json(px_json_get(column(cu, "country"), "values"), "[\"FR\",\"US\"]");
    expect_json(px_json_get(column(cu, "tier"), "values"), "[\"gold\",\"silver\"]");
    struct json_object *o = table(doc, NULL, "pxd_orders");
    expect_json(px_json_get(o, "primary_key"), "[\"order_id\"]");
    expect_json(px_json_get(o, "unique_keys"), "[[\"customer_id\",\"note\"]]");
    char fk[256];
    snprintf(fk, sizeof(fk),
             "[{\"columns\":[\"customer_id\"],\"references\":{\"schema\":\"%s\",\"table\":"
             "\"pxd_customers\",\"columns\":[\"id\"]}}]",
             MYDB);
    expect_json(px_json_get(o, "foreign_keys"), fk);
    assert_true(px_json_get_int(o, "row_estimate", -1) > 0);
    expect_col(o, "status", "string", false);
    expect_json(px_json_get(column(o, "status"), "values"), "[\"cancelled\",\"new\",\"shipped\"]");
    assert_null(px_json_get(column(o, "note"), "values"));
    expect_col(o, "amount", "float", true);
    expect_col(o, "created_at", "timestamp", true);
    expect_col(o, "order `date`", "timestamp", true);
    expect_col(o, "paid", "boolean", true);
    expect_col(o, "qty", "integer", true);
    expect_col(o, "flags", "integer", true);
    assert_string_equal(px_json_get_str(column(o, "amount"), "db_type"), "decimal(10,2)");
    struct json_object *v = table(doc, NULL, "pxd_big");
    assert_string_equal(px_json_get_str(v, "kind"), "view");
    expect_json(px_json_get(v, "row_estimate"), "null");
    static const char *const names[] = {"pxd_customers", "pxd_orders", "pxd_big"};
    for (int i = 0; i < 3; i++) {
        struct json_object *cfg = config_table("table", names[i]);
        same_as_source(&px__conn_mysql, params, cfg, table(doc, NULL, names[i]));
        json_object_put(cfg);
    }
    json_object_put(doc);

    /* Sampling stops at its window: a view that takes 10 s to read (its name sorts first, so
     * it is sampled first) is cut by max_statement_time. */
    my_sql(m, "CREATE VIEW `0pxd_slow` AS SELECT status FROM pxd_orders WHERE SLEEP(0.05) = 0");
    struct px_describe_opts quick = {.sample_ms = 300, .timeout_ms = 30000};
    doc = describe("mysql", params, &quick);
    my_sql(m, "DROP VIEW `0pxd_slow`");
    struct json_object *slow = table(doc, NULL, "0pxd_slow");
    assert_int_equal(json_object_array_index_of_table(doc, slow), 0);
    assert_false(px_json_get_bool(doc, "sampled", true));
    assert_null(px_json_get(column(slow, "status"), "values"));
    json_object_put(doc);

    expect_egress_refused("mysql", params);
    struct px_describe_opts narrow = {.max_columns = 2};
    doc = describe("mysql", params, &narrow);
    o = table(doc, NULL, "pxd_orders");
    assert_int_equal(json_object_array_length(px_json_get(o, "columns")), 2);
    expect_json(px_json_get(o, "column_count"), "11");
    assert_true(px_json_get_bool(o, "truncated", false));
    json_object_put(doc);
    struct px_describe_opts few = {.max_tables = 1};
    doc = describe("mysql", params, &few);
    assert_int_equal(json_object_array_length(px_json_get(doc, "tables")), 1);
    assert_true(px_json_get_int(doc, "table_count", 0) >= 3);
    assert_true(px_json_get_bool(doc, "truncated", false));
    json_object_put(doc);
    json_object_put(params);
    my_sql(m, "DROP VIEW pxd_big");
    my_sql(m, "DROP TABLE pxd_orders");
    my_sql(m, "DROP TABLE pxd_customers");
    mysql_close(m);
}

int main(void)
{
    PGH = getenv("PX_TEST_PG_HOST");
    PGPORT = getenv("PX_TEST_PG_PORT");
    PGUSER = getenv("PX_TEST_PG_USER");
    PGPASS = getenv("PX_TEST_PG_PASSWORD");
    PGDB = getenv("PX_TEST_PG_DATABASE");
    MYH = getenv("PX_TEST_MYSQL_HOST");
    MYPORT = getenv("PX_TEST_MYSQL_PORT");
    MYUSER = getenv("PX_TEST_MYSQL_USER");
    MYPASS = getenv("PX_TEST_MYSQL_PASSWORD");
    MYDB = getenv("PX_TEST_MYSQL_DATABASE");
    bool pg = PGH && PGPORT && PGUSER && PGPASS && PGDB;
    bool my = MYH && MYPORT && MYUSER && MYPASS && MYDB;
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_shop),
        cmocka_unit_test(test_sqlite_caps),
        cmocka_unit_test(test_sqlite_sampling_window),
        cmocka_unit_test(test_csv_directory),
        cmocka_unit_test(test_jsonl_and_http),
        cmocka_unit_test(test_pg),
        cmocka_unit_test(test_mysql),
    };
    size_t n = sizeof(tests) / sizeof(tests[0]);
    if (!pg)
        tests[n - 2] = (struct CMUnitTest)cmocka_unit_test(test_pg_configured);
    if (!my)
        tests[n - 1] = (struct CMUnitTest)cmocka_unit_test(test_mysql_configured);
    int rc = cmocka_run_group_tests(tests, setup_root, teardown_root);
    mysql_library_end();
    return rc;
}
