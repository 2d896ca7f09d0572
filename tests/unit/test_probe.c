/* Unit tests for connection probes (src/engine/probe.c): test_connection's engine side. */
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
#include "engine/probe.h"

#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/px_probe_XXXXXX");
    assert_non_null(mkdtemp(root));
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/exports", root);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file_at(root, "exports/orders.csv", "id,amount\n1,2.5\n");
    put_file_at(root, "exports/events.jsonl", "{\"id\":1}\n");
    put_file_at(root, "exports/not.db", "this is plainly not a database file, just some text\n");
    snprintf(p, sizeof(p), "%s/shop.db", root);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(a)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Probes type with {"path": path}; the result's JSON stays free of the absolute root. */
static struct px_probe_result probe(const char *type, const char *category, const char *path)
{
    struct json_object *params = json_object_new_object();
    px_json_set_str(params, "path", path);
    struct px_probe_result r;
    assert_int_equal(px_engine_probe(type, category, params, root, 2000, &r), 0);
    json_object_put(params);
    struct json_object *j = px_probe_result_json("conn_x", &r);
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_null(strstr(s, root));
    assert_non_null(strstr(s, "\"connection_id\":\"conn_x\""));
    json_object_put(j);
    if (r.reachable) {
        assert_true(r.latency_ms >= 0);
        assert_int_equal(r.error.code, 0);
    } else {
        assert_int_equal(r.latency_ms, -1);
        assert_true(r.error.code != 0);
        assert_true(r.error.message[0] != '\0');
    }
    return r;
}

static void test_files(void **state)
{
    (void)state;
    struct px_probe_result r = probe("csv", "source", "exports/orders.csv");
    assert_true(r.reachable);
    assert_string_equal(r.server_version, "");
    assert_true(probe("csv", "source", "exports").reachable);
    assert_true(probe("jsonl", "source", "exports/events.jsonl").reachable);
    assert_true(probe("csv", "destination", "exports").reachable);
    /* A destination creates a missing file in an existing directory. */
    assert_true(probe("csv", "destination", "exports/new.csv").reachable);
}

static void test_missing(void **state)
{
    (void)state;
    struct px_probe_result r = probe("csv", "source", "exports/nope.csv");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_ENOTFOUND);
    assert_string_equal(r.error.message,
                        "file 'exports/nope.csv' not found in the files directory");
    assert_true(r.error.hint[0] != '\0');
    /* A destination's missing directories are created by the run (see test_agrees_with_runs). */
    assert_true(probe("jsonl", "destination", "nodir/out.jsonl").reachable);
    r = probe("csv", "source", "nodir/in.csv");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_ENOTFOUND);
    assert_non_null(strstr(r.error.message, "'nodir' does not exist"));
    r = probe("sqlite", "source", "missing.db");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_ENOTFOUND);
    assert_non_null(strstr(r.error.message, "'missing.db' not found"));
}

static void test_escape(void **state)
{
    (void)state;
    struct px_probe_result r = probe("csv", "source", "../etc/passwd");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    assert_non_null(strstr(r.error.message, ".."));
    r = probe("csv", "source", "/etc/passwd");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    char link[PATH_MAX * 2];
    snprintf(link, sizeof(link), "%s/out", root);
    assert_int_equal(symlink("/etc", link), 0);
    r = probe("csv", "source", "out/passwd");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    assert_non_null(strstr(r.error.message, "symbolic link"));
    snprintf(link, sizeof(link), "%s/exports/l.csv", root);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    r = probe("csv", "source", "exports/l.csv");
    assert_false(r.reachable);
    assert_non_null(strstr(r.error.message, "symbolic link"));
    unlink(link);
    snprintf(link, sizeof(link), "%s/out", root);
    unlink(link);
}

/* Issue 10 item 18: test_connection and runs resolve paths with one function, so a destination
 * the probe calls reachable is one a run writes, and the file lands where the naming rule says
 * (a directory path gets "<node id>.csv"). */
static void test_agrees_with_runs(void **state)
{
    (void)state;
    static const struct {
        const char *path, *file, *written;
    } cases[] = {
        {".", NULL, "load.csv"},
        {".", "top.csv", "top.csv"},
        {"exports", NULL, "exports/load.csv"},
        {"exports/", NULL, "exports/load.csv"},
        {"made", NULL, "made/load.csv"},
        {"made2/deeper/", NULL, "made2/deeper/load.csv"},
        {"made3/sub/x.csv", NULL, "made3/sub/x.csv"},
        {"exports", "sub/y.csv", "exports/sub/y.csv"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct px_probe_result r = probe("csv", "destination", cases[i].path);
        if (!cases[i].file && !r.reachable)
            fail_msg("probe of '%s' unreachable: %s", cases[i].path, r.error.message);
        char g[1024];
        snprintf(g, sizeof(g),
                 "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\","
                 "\"connection_id\":\"in\",\"config\":{\"file\":\"orders.csv\"}},{\"id\":\"load\","
                 "\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"out\",\"config\":"
                 "{%s%s%s\"mode\":\"replace\"}}],\"edges\":[{\"from\":\"src\",\"to\":\"load\"}]}",
                 cases[i].file ? "\"file\":\"" : "", cases[i].file ? cases[i].file : "",
                 cases[i].file ? "\"," : "");
        struct json_object *graph = json_tokener_parse(g);
        struct json_object *map = json_object_new_object();
        struct json_object *in = json_object_new_object(), *out = json_object_new_object();
        px_json_set_str(in, "path", "exports");
        px_json_set_str(out, "path", cases[i].path);
        px_json_set(map, "in", in);
        px_json_set(map, "out", out);
        struct conns conns = {map};
        struct px_engine_opts opts = {.conn = resolve_conn, .conn_ctx = &conns, .files_root = root};
        struct px_engine_result res;
        struct px_error err;
        px_error_clear(&err);
        if (px_engine_run(graph, &opts, &res, &err) != 0)
            fail_msg("run into '%s' failed: %s", cases[i].path, err.message);
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s/%s", root, cases[i].written);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            fail_msg("'%s' did not write %s", cases[i].path, cases[i].written);
        px_engine_result_cleanup(&res);
        json_object_put(graph);
        json_object_put(map);
    }
    /* "." as a source is the files directory itself, for the probe and for runs. */
    assert_true(probe("csv", "source", ".").reachable);
}

static void test_sqlite(void **state)
{
    (void)state;
    struct px_probe_result r = probe("sqlite", "source", "shop.db");
    assert_true(r.reachable);
    assert_string_equal(r.server_version, sqlite3_libversion());
    assert_true(probe("sqlite", "destination", "shop.db").reachable);
    assert_true(probe("sqlite", "destination", "exports/fresh.db").reachable);
    r = probe("sqlite", "source", "exports/not.db");
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    assert_string_equal(r.error.message, "'exports/not.db' is not a SQLite database");
}

/* Network connectors against a port nothing listens on: unreachable, retryable, with a hint,
 * and the secret never in the result. An unknown type is an error. */
static void test_refused_network(void **state)
{
    (void)state;
    const char *types[] = {"postgres", "mysql", "http"};
    for (size_t i = 0; i < 3; i++) {
        struct json_object *params = json_object_new_object();
        if (i < 2) {
            px_json_set_str(params, "host", "127.0.0.1");
            px_json_set_int(params, "port", 1);
            px_json_set_str(params, "database", "shop");
            px_json_set_str(params, "user", "etl");
            px_json_set_str(params, "sslmode", "disable");
            px_json_set_str(params, "password", "s3cret-canary");
        } else {
            px_json_set_str(params, "base_url", "http://127.0.0.1:1/v1");
            px_json_set_str(params, "auth_token", "s3cret-canary");
        }
        struct px_probe_result r;
        assert_int_equal(px_engine_probe(types[i], "source", params, root, 3000, &r), 0);
        assert_false(r.reachable);
        assert_true(r.error.retryable);
        assert_true(r.error.hint[0] != '\0');
        struct json_object *j = px_probe_result_json("conn_x", &r);
        assert_null(strstr(json_object_to_json_string(j), "s3cret-canary"));
        json_object_put(j);
        json_object_put(params);
    }
    struct json_object *params = json_object_new_object();
    struct px_probe_result r;
    assert_true(px_engine_probe("nosuch", "source", params, root, 1000, &r) < 0);
    json_object_put(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_agrees_with_runs),
        cmocka_unit_test(test_refused_network),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
