/*
 * Pipelines between every pair of connectors that can be both source and destination
 * (postgres, mysql, sqlite, csv, jsonl), against real PostgreSQL and MariaDB servers (start
 * them with scripts/pg-server.sh and scripts/mariadb-server.sh; scripts/test.sh does). The
 * same three rows (NULLs, unicode, a quote and a comma, a float, a boolean, a timestamp) are
 * loaded into each source; each source is copied into each destination (mode replace); each
 * destination is then read back through the engine, sorted by id, into a CSV file that must
 * equal the expected text byte for byte. 25 pairs, each reported by name when it fails.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

#include "base/err.h"
#include "base/json.h"
#include "engine/engine.h"

#include <ftw.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <limits.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[PATH_MAX];
static struct json_object *conns; /* connection id → params */

static const char *const kinds[] = {"postgres", "mysql", "sqlite", "csv", "jsonl"};
#define NKINDS 5

static const char *EXPECTED = "id,name,price,ok,at\n"
                              "1,plain,2.5,true,2026-01-02T03:04:05Z\n"
                              "2,\"Zoë \"\"q\"\", ✓\",,false,\n"
                              "3,,10.0,,2026-06-30T23:59:59Z\n";

static void test_servers_configured(void **state)
{
    (void)state;
    fail_msg("PX_TEST_PG_* and PX_TEST_MYSQL_* are not set: run scripts/test.sh, or start\n"
             "scripts/pg-server.sh and scripts/mariadb-server.sh and eval their output.");
}

static char *get_file(const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "rb");
    if (!f)
        return strdup("(missing)");
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static void pg_exec(const char *q)
{
    const char *kw[] = {"host", "port", "user", "password", "dbname", "options", NULL};
    const char *val[] = {getenv("PX_TEST_PG_HOST"),
                         getenv("PX_TEST_PG_PORT"),
                         getenv("PX_TEST_PG_USER"),
                         getenv("PX_TEST_PG_PASSWORD"),
                         getenv("PX_TEST_PG_DATABASE"),
                         "-c client_min_messages=warning",
                         NULL};
    PGconn *c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("postgres: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("postgres '%s': %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void my_exec(const char *q)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int port = (unsigned int)atoi(getenv("PX_TEST_MYSQL_PORT"));
    if (!mysql_real_connect(m, getenv("PX_TEST_MYSQL_HOST"), getenv("PX_TEST_MYSQL_USER"),
                            getenv("PX_TEST_MYSQL_PASSWORD"), getenv("PX_TEST_MYSQL_DATABASE"),
                            port, NULL, CLIENT_MULTI_STATEMENTS))
        fail_msg("mysql: %s", mysql_error(m));
    mysql_set_character_set(m, "utf8mb4");
    if (mysql_query(m, "SET time_zone = '+00:00'") || mysql_query(m, q))
        fail_msg("mysql '%s': %s", q, mysql_error(m));
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r)
            mysql_free_result(r);
    } while (mysql_next_result(m) == 0);
    mysql_close(m);
}

static void lite_exec(const char *q)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/pairs.db", root);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite '%s': %s", q, msg);
    sqlite3_close(db);
}

static int resolve(void *ctx, const char *id, struct json_object **out, struct px_error *err)
{
    (void)ctx;
    struct json_object *p = px_json_get(conns, id);
    if (!p)
        return px_error_set(err, PX_ENOTFOUND, "no connection %s", id);
    *out = json_object_get(p);
    return 0;
}

static struct json_object *db_params(const char *prefix)
{
    char k[64];
    struct json_object *o = json_object_new_object();
    const char *names[] = {"host", "user", "password", "database"};
    const char *env[] = {"HOST", "USER", "PASSWORD", "DATABASE"};
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof(k), "%s_%s", prefix, env[i]);
        px_json_set_str(o, names[i], getenv(k));
    }
    snprintf(k, sizeof(k), "%s_PORT", prefix);
    px_json_set_int(o, "port", atoi(getenv(k)));
    px_json_set_str(o, "sslmode", "disable");
    return o;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/px_pairs_XXXXXX");
    if (!mkdtemp(root))
        return -1;
    conns = json_object_new_object();
    px_json_set(conns, "postgres", db_params("PX_TEST_PG"));
    px_json_set(conns, "mysql", db_params("PX_TEST_MYSQL"));
    struct json_object *lite = json_object_new_object();
    px_json_set_str(lite, "path", "pairs.db");
    px_json_set(conns, "sqlite", lite);
    struct json_object *files = json_object_new_object();
    px_json_set_str(files, "path", ".");
    px_json_set(conns, "csv", json_object_get(files));
    px_json_set(conns, "jsonl", files);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_object_put(conns);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Loads the three rows into the source of each kind, named src_<kind>. */
static void load_sources(void)
{
    pg_exec("DROP TABLE IF EXISTS src_postgres;"
            "CREATE TABLE src_postgres (id bigint, name text, price double precision,"
            " ok boolean, at timestamptz);"
            "INSERT INTO src_postgres VALUES (1, 'plain', 2.5, true, '2026-01-02T03:04:05Z'),"
            " (2, 'Zoë \"q\", ✓', NULL, false, NULL),"
            " (3, NULL, 10.0, NULL, '2026-06-30T23:59:59Z')");
    my_exec("DROP TABLE IF EXISTS src_mysql;"
            "CREATE TABLE src_mysql (id BIGINT, name LONGTEXT, price DOUBLE, ok BOOLEAN,"
            " at DATETIME(6)) DEFAULT CHARSET utf8mb4;"
            "INSERT INTO src_mysql VALUES (1, 'plain', 2.5, true, '2026-01-02 03:04:05'),"
            " (2, 'Zoë \"q\", ✓', NULL, false, NULL),"
            " (3, NULL, 10.0, NULL, '2026-06-30 23:59:59')");
    lite_exec("DROP TABLE IF EXISTS src_sqlite;"
              "CREATE TABLE src_sqlite (id INTEGER, name TEXT, price REAL, ok BOOLEAN,"
              " at TIMESTAMP);"
              "INSERT INTO src_sqlite VALUES (1, 'plain', 2.5, 1, '2026-01-02T03:04:05Z'),"
              " (2, 'Zoë \"q\", ✓', NULL, 0, NULL),"
              " (3, NULL, 10.0, NULL, '2026-06-30T23:59:59Z')");
    put_file_at(root, "src_csv.csv", EXPECTED);
    put_file_at(root, "src_jsonl.jsonl",
                "{\"id\": 1, \"name\": \"plain\", \"price\": 2.5, \"ok\": true,"
                " \"at\": \"2026-01-02T03:04:05Z\"}\n"
                "{\"id\": 2, \"name\": \"Zoë \\\"q\\\", ✓\", \"price\": null, \"ok\": false,"
                " \"at\": null}\n"
                "{\"id\": 3, \"name\": null, \"price\": 10.0, \"ok\": null,"
                " \"at\": \"2026-06-30T23:59:59Z\"}\n");
}

/* The node config that reads or writes object `name` of a connector kind. */
static struct json_object *node_config(const char *kind, const char *name, bool dest)
{
    struct json_object *c = json_object_new_object();
    char file[128];
    if (strcmp(kind, "csv") == 0 || strcmp(kind, "jsonl") == 0) {
        snprintf(file, sizeof(file), "%s.%s", name, kind);
        px_json_set_str(c, "file", file);
    } else {
        px_json_set_str(c, "table", name);
    }
    if (dest)
        px_json_set_str(c, "mode", "replace");
    return c;
}

static struct json_object *node(const char *id, const char *kind_role, const char *kind,
                                struct json_object *config)
{
    struct json_object *n = json_object_new_object();
    px_json_set_str(n, "id", id);
    px_json_set_str(n, "kind", kind_role);
    px_json_set_str(n, "type", kind);
    px_json_set_str(n, "connection_id", kind);
    px_json_set(n, "config", config);
    return n;
}

static struct json_object *edge(const char *from, const char *to)
{
    struct json_object *e = json_object_new_object();
    px_json_set_str(e, "from", from);
    px_json_set_str(e, "to", to);
    return e;
}

static int run(struct json_object *graph, struct px_error *err)
{
    struct px_engine_opts opts = {.conn = resolve, .files_root = root, .now_us = 1};
    struct px_engine_result res;
    int rc = px_engine_run(graph, &opts, &res, err);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    return rc;
}

/* src (kind a, object name) → dst (kind b, object name). */
static int copy(const char *a, const char *src, const char *b, const char *dst,
                struct px_error *err)
{
    struct json_object *g = json_object_new_object(), *nodes = json_object_new_array(),
                       *edges = json_object_new_array();
    json_object_array_add(nodes, node("src", "source", a, node_config(a, src, false)));
    json_object_array_add(nodes, node("dst", "destination", b, node_config(b, dst, true)));
    json_object_array_add(edges, edge("src", "dst"));
    px_json_set(g, "nodes", nodes);
    px_json_set(g, "edges", edges);
    return run(g, err);
}

/* Reads dst (kind b) back, sorted by id, into back.csv. */
static int read_back(const char *b, const char *dst, struct px_error *err)
{
    struct json_object *g = json_object_new_object(), *nodes = json_object_new_array(),
                       *edges = json_object_new_array();
    json_object_array_add(nodes, node("src", "source", b, node_config(b, dst, false)));
    struct json_object *sort = json_object_new_object(),
                       *by = json_tokener_parse("[{\"column\": \"id\"}]");
    px_json_set(sort, "by", by);
    struct json_object *s = json_object_new_object();
    px_json_set_str(s, "id", "order");
    px_json_set_str(s, "kind", "transform");
    px_json_set_str(s, "type", "sort");
    px_json_set(s, "config", sort);
    json_object_array_add(nodes, s);
    json_object_array_add(nodes,
                          node("back", "destination", "csv", node_config("csv", "back", true)));
    json_object_array_add(edges, edge("src", "order"));
    json_object_array_add(edges, edge("order", "back"));
    px_json_set(g, "nodes", nodes);
    px_json_set(g, "edges", edges);
    return run(g, err);
}

static void test_all_pairs(void **state)
{
    (void)state;
    load_sources();
    int failures = 0;
    for (int i = 0; i < NKINDS; i++) {
        for (int j = 0; j < NKINDS; j++) {
            const char *a = kinds[i], *b = kinds[j];
            char src[64], dst[64];
            snprintf(src, sizeof(src), "src_%s", a);
            snprintf(dst, sizeof(dst), "dst_%s_from_%s", b, a);
            struct px_error err;
            px_error_clear(&err);
            if (copy(a, src, b, dst, &err) || read_back(b, dst, &err)) {
                fprintf(stderr, "pair %s -> %s: %s\n", a, b, err.message);
                failures++;
                continue;
            }
            char *got = get_file("back.csv");
            if (strcmp(got, EXPECTED) != 0) {
                fprintf(stderr, "pair %s -> %s: read back\n%s--- expected\n%s", a, b, got,
                        EXPECTED);
                failures++;
            }
            free(got);
        }
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    if (!getenv("PX_TEST_PG_HOST") || !getenv("PX_TEST_MYSQL_HOST")) {
        const struct CMUnitTest none[] = {cmocka_unit_test(test_servers_configured)};
        return cmocka_run_group_tests(none, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_all_pairs)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
