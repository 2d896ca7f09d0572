/*
 * Unit tests for bounded memory in the engine: the CSV reader's column cap, the run memory
 * budget (engine/budget.h) and the byte bound of batches. Each test runs a real pipeline over
 * real files in a fresh files root.
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
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/jsonval.h"

#include <ftw.h>
#include <sqlite3.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

struct run {
    char root[32];
    struct conns conns;
    struct px_engine_result res;
    struct px_error err;
    int rc;
};

static void run_setup(struct run *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->root, sizeof(r->root), "/tmp/px_budget_XXXXXX");
    assert_non_null(mkdtemp(r->root));
    r->conns.map = json_tokener_parse("{\"in\":{\"path\":\"in\"},\"out\":{\"path\":\"out\"}}");
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/in", r->root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/out", r->root);
    assert_int_equal(mkdir(p, 0700), 0);
}

/* Runs graph (JSON text) with a budget of mb MiB (0: the default). */
static int run_graph(struct run *r, const char *graph, int64_t mb)
{
    struct json_object *g = json_tokener_parse(graph);
    assert_non_null(g);
    struct px_engine_opts opts = {.conn = resolve_conn,
                                  .conn_ctx = &r->conns,
                                  .files_root = r->root,
                                  .memory_budget = mb << 20};
    px_error_clear(&r->err);
    r->rc = px_engine_run(g, &opts, &r->res, &r->err);
    json_object_put(g);
    return r->rc;
}

static void run_teardown(struct run *r)
{
    px_engine_result_cleanup(&r->res);
    json_object_put(r->conns.map);
    nftw(r->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static FILE *open_in(struct run *r, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/in/%s", r->root, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    return f;
}

/* A CSV with ncols columns (header c1..cN) and nrows rows of small integers. */
static void write_wide_csv(struct run *r, const char *name, int ncols, int nrows)
{
    FILE *f = open_in(r, name);
    for (int c = 0; c < ncols; c++)
        fprintf(f, "%sc%d", c ? "," : "", c + 1);
    fputc('\n', f);
    for (int k = 0; k < nrows; k++) {
        for (int c = 0; c < ncols; c++)
            fprintf(f, "%s%d", c ? "," : "", (k + c) % 10);
        fputc('\n', f);
    }
    fclose(f);
}

#define CSV_TO_CSV(file)                                                                           \
    "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"in\","   \
    "\"config\":{\"file\":\"" file "\"}},"                                                         \
    "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"out\","        \
    "\"config\":{\"file\":\"o.csv\"}}],\"edges\":[{\"from\":\"src\",\"to\":\"load\"}]}"

/* The CSV reader enforces the 1,000-column cap of the other sources: a wider header fails at
 * once naming the count and the cap; exactly 1,000 columns still run. */
static void test_csv_column_cap(void **state)
{
    (void)state;
    struct run r;
    run_setup(&r);
    write_wide_csv(&r, "wide.csv", 1001, 3);
    write_wide_csv(&r, "ok.csv", 1000, 3);
    assert_int_equal(run_graph(&r, CSV_TO_CSV("wide.csv"), 0), -PX_EINVALID);
    assert_string_equal(r.res.failed_node, "src");
    if (!strstr(r.err.message, "line 1: 1001 columns") || !strstr(r.err.message, "at most 1000"))
        fail_msg("unexpected message: %s", r.err.message);
    px_engine_result_cleanup(&r.res);

    /* Without a header the first record counts the same way. */
    json_object_put(r.conns.map);
    r.conns.map = json_tokener_parse(
        "{\"in\":{\"path\":\"in\",\"header\":false},\"out\":{\"path\":\"out\"}}");
    assert_int_equal(run_graph(&r, CSV_TO_CSV("wide.csv"), 0), -PX_EINVALID);
    assert_non_null(strstr(r.err.message, "1001 columns"));
    px_engine_result_cleanup(&r.res);

    assert_int_equal(run_graph(&r, CSV_TO_CSV("ok.csv"), 0), 0);
    assert_int_equal(r.res.rows_written, 4); /* no header: the names line is a row */
    run_teardown(&r);
}

/* A CSV of nrows rows "id,payload" whose payloads are distinct strings of len bytes. */
static void write_big_rows(struct run *r, const char *name, int nrows, size_t len)
{
    FILE *f = open_in(r, name);
    char *v = malloc(len + 1);
    fputs("id,payload\n", f);
    for (int k = 0; k < nrows; k++) {
        memset(v, 'a' + k % 26, len);
        snprintf(v, len, "%08d", k); /* distinct */
        v[8] = 'x';
        v[len] = '\0';
        fprintf(f, "%d,%s\n", k, v);
    }
    free(v);
    fclose(f);
}

static void assert_has(const char *s, const char *sub)
{
    if (!strstr(s, sub))
        fail_msg("'%s' lacks '%s'", s, sub);
}

/* 1 MB records pass through a run whose budget is far below the file's size: sources end a
 * batch at PX_BATCH_TARGET_BYTES of strings, so what is held at once stays small. */
static void test_big_records_stream(void **state)
{
    (void)state;
    struct run r;
    run_setup(&r);
    write_big_rows(&r, "big.csv", 80, 1000000);
    if (run_graph(&r, CSV_TO_CSV("big.csv"), 48) != 0)
        fail_msg("run failed: %s", r.err.message);
    assert_int_equal(r.res.rows_written, 80);
    assert_true(r.res.memory_peak > 0);
    assert_true(r.res.memory_peak <= (int64_t)48 << 20);
    run_teardown(&r);
}

/* The same from a SQLite table: the source ends a batch at PX_BATCH_TARGET_BYTES too. */
static void test_big_rows_sqlite(void **state)
{
    (void)state;
    struct run r;
    run_setup(&r);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/in/big.db", r.root);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE t(id INTEGER, payload TEXT);"
                                  "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g "
                                  "WHERE i < 80) INSERT INTO t SELECT i, printf('%08d', i) || "
                                  "hex(zeroblob(499996)) FROM g;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    json_object_put(r.conns.map);
    r.conns.map =
        json_tokener_parse("{\"db\":{\"path\":\"in/big.db\"},\"out\":{\"path\":\"out\"}}");
    const char *g =
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"sqlite\",\"connection_id\":"
        "\"db\",\"config\":{\"table\":\"t\"}},{\"id\":\"load\",\"kind\":\"destination\",\"type\":"
        "\"csv\",\"connection_id\":\"out\",\"config\":{\"file\":\"o.csv\"}}],\"edges\":[{\"from\":"
        "\"src\",\"to\":\"load\"}]}";
    if (run_graph(&r, g, 48) != 0)
        fail_msg("run failed: %s", r.err.message);
    assert_int_equal(r.res.rows_written, 80);
    assert_true(r.res.memory_peak <= (int64_t)48 << 20);
    run_teardown(&r);
}

#define CSV_DEDUPE_CSV(file, dedupe_config)                                                        \
    "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"in\","   \
    "\"config\":{\"file\":\"" file "\"}},"                                                         \
    "{\"id\":\"dd\",\"kind\":\"transform\",\"type\":\"dedupe\",\"config\":" dedupe_config "},"     \
    "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"out\","        \
    "\"config\":{\"file\":\"o.csv\"}}],\"edges\":[{\"from\":\"src\",\"to\":\"dd\"},"               \
    "{\"from\":\"dd\",\"to\":\"load\"}]}"

/* A run that must fail on the budget of mb MiB at node, naming its type. */
static void expect_budget_fail(struct run *r, const char *graph, int64_t mb, const char *node,
                               const char *type)
{
    if (run_graph(r, graph, mb) == 0)
        fail_msg("the run should fail on its memory budget (peak %lld bytes)",
                 (long long)r->res.memory_peak);
    assert_int_equal(r->rc, -PX_ETOOLARGE);
    if (strcmp(r->res.failed_node, node) != 0)
        fail_msg("failed at %s: %s", r->res.failed_node, r->err.message);
    char want[128];
    snprintf(want, sizeof(want), "node '%s': ", node);
    assert_true(strncmp(r->err.message, want, strlen(want)) == 0);
    snprintf(want, sizeof(want), "run memory budget of %lld MiB reached (%s holds ", (long long)mb,
             type);
    assert_has(r->err.message, want);
    assert_has(r->err.hint, "raise PLANASONIX_RUN_MEMORY_MB");
    assert_false(r->err.retryable);
    /* What was accounted stayed near the budget: at most one step past it. */
    assert_true(r->res.memory_peak <= ((int64_t)mb << 20) + ((int64_t)16 << 20));
}

/* 1 MB distinct keys into a dedupe: the keys it keeps pass the budget and the run fails
 * naming the dedupe, long before the input is read. */
static void test_dedupe_budget(void **state)
{
    (void)state;
    struct run r;
    run_setup(&r);
    write_big_rows(&r, "big.csv", 80, 1000000);
    expect_budget_fail(&r, CSV_DEDUPE_CSV("big.csv", "{\"keys\":[\"payload\"]}"), 48, "dd",
                       "dedupe");
    assert_has(r.err.message, "for distinct keys)");
    assert_has(r.err.hint, "SELECT DISTINCT");
    px_engine_result_cleanup(&r.res);
    /* The same run within a large enough budget succeeds. */
    if (run_graph(&r, CSV_DEDUPE_CSV("big.csv", "{\"keys\":[\"payload\"]}"), 512) != 0)
        fail_msg("run failed: %s", r.err.message);
    assert_int_equal(r.res.rows_written, 80);
    run_teardown(&r);
}

#define JSONL_TO_CSV(file)                                                                         \
    "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"jsonl\",\"connection_id\":\"in\"," \
    "\"config\":{\"file\":\"" file "\"}},"                                                         \
    "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"out\","        \
    "\"config\":{\"file\":\"o.csv\"}}],\"edges\":[{\"from\":\"src\",\"to\":\"load\"}]}"

/* JSON Lines whose lines parse into far more memory than their text (a line of 65,000 empty
 * objects is ~50 MB of json-c DOM): the DOM is reserved before it is built. */
static void test_jsonl_dom_budget(void **state)
{
    (void)state;
    struct run r;
    run_setup(&r);
    FILE *f = open_in(&r, "dom.jsonl");
    for (int k = 0; k < 3; k++) {
        fputs("{\"a\":[", f);
        for (int i = 0; i < 65000; i++)
            fputs(i ? ",{}" : "{}", f);
        fputs("]}\n", f);
    }
    fclose(f);
    expect_budget_fail(&r, JSONL_TO_CSV("dom.jsonl"), 32, "src", "jsonl");
    assert_has(r.err.message, "line 1: ");
    assert_has(r.err.message, "MiB more for parsed JSON lines)");
    px_engine_result_cleanup(&r.res);
    if (run_graph(&r, JSONL_TO_CSV("dom.jsonl"), 512) != 0)
        fail_msg("run failed: %s", r.err.message);
    assert_int_equal(r.res.rows_written, 3);
    run_teardown(&r);
}

/* src (and src2, for two-input nodes) -> node t of type and config -> load. */
static char *one_op_graph(const char *type, const char *config, bool two)
{
    char *g = malloc(4096);
    snprintf(g, 4096,
             "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\","
             "\"connection_id\":\"in\",\"config\":{\"file\":\"big.csv\"}},"
             "{\"id\":\"src2\",\"kind\":\"source\",\"type\":\"csv\","
             "\"connection_id\":\"in\",\"config\":{\"file\":\"big.csv\"}},"
             "{\"id\":\"t\",\"kind\":\"transform\",\"type\":\"%s\",\"config\":%s},"
             "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\","
             "\"connection_id\":\"out\",\"config\":{\"file\":\"o.csv\"}}],"
             "\"edges\":[{\"from\":\"src\",\"to\":\"t\"},%s{\"from\":\"t\",\"to\":\"load\"}]}",
             type, config, two ? "{\"from\":\"src2\",\"to\":\"t\"}," : "");
    if (!two) { /* drop src2: it would be a source without a path to a destination */
        char *a = strstr(g, "{\"id\":\"src2\"");
        char *e = strstr(a, "}},") + 3;
        memmove(a, e, strlen(e) + 1);
    }
    return g;
}

/* The blocking operators (and dedupe with keep last) hold what they are given; past the budget the
 * run fails naming the operator, whichever node's batch tipped it over. */
static void test_blocking_ops_budget(void **state)
{
    (void)state;
    static const struct {
        const char *type, *config;
        bool two;
    } cases[] = {
        {"sort", "{\"by\":[{\"column\":\"id\",\"descending\":true}]}", false},
        {"union", "{}", true},
        {"aggregate", "{\"group_by\":[\"payload\"],\"aggregates\":[{\"function\":\"count\"}]}",
         false},
        {"join", "{\"left_keys\":[\"id\"],\"right_keys\":[\"id\"]}", true},
        {"dedupe", "{\"keys\":[\"id\"],\"keep\":\"last\"}", false},
    };
    struct run r;
    run_setup(&r);
    write_big_rows(&r, "big.csv", 80, 1000000);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *g = one_op_graph(cases[i].type, cases[i].config, cases[i].two);
        print_message("%s\n", cases[i].type);
        /* Two CSV sources read ahead up to ~27 MiB each (3 queued batches of 8 MiB, and the
         * one being read): the budget leaves the operator room to be the largest holder. */
        expect_budget_fail(&r, g, cases[i].two ? 96 : 48, "t", cases[i].type);
        px_engine_result_cleanup(&r.res);
        if (run_graph(&r, g, 1024) != 0)
            fail_msg("%s within 1 GiB: %s", cases[i].type, r.err.message);
        px_engine_result_cleanup(&r.res);
        free(g);
    }
    memset(&r.res, 0, sizeof(r.res));
    run_teardown(&r);
}

/* The DOM estimate is the same however the text is split (escaped quotes and backslashes at
 * piece boundaries included), and braces inside strings are not objects. */
static void test_json_cost(void **state)
{
    (void)state;
    static const char *docs[] = {
        "{\"a\\\"b\":\"x\\\\\",\"c\":[1,\"\\\\\\\"\",true,null,{}],\"d\":\"{[{[\"}",
        "[{\"k\":\"v\"},{\"k\":\"\\\\\"},-1.5e3,\"\",[[],[[]]]]",
    };
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        const char *doc = docs[d];
        size_t n = strlen(doc);
        struct px_json_cost whole = {0};
        px__json_cost_feed(&whole, doc, n);
        for (size_t piece = 1; piece <= 3; piece++) {
            struct px_json_cost c = {0};
            for (size_t i = 0; i < n; i += piece)
                px__json_cost_feed(&c, doc + i, n - i < piece ? n - i : piece);
            assert_int_equal(c.cost, whole.cost);
            assert_int_equal(c.depth, 0);
            assert_false(c.in_str);
        }
    }
    /* One object with one string member; the braces in the value cost nothing. */
    struct px_json_cost c = {0};
    px__json_cost_feed(&c, "{\"k\":\"{{{\"}", 11);
    /* object 784; key 48 + "k\"" 2 bytes; value 72 + "{{{\"" 4 bytes (closing quotes count) */
    assert_int_equal(c.cost, 784 + 48 + 2 + 72 + 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_cost),           cmocka_unit_test(test_csv_column_cap),
        cmocka_unit_test(test_big_records_stream),  cmocka_unit_test(test_big_rows_sqlite),
        cmocka_unit_test(test_dedupe_budget),       cmocka_unit_test(test_jsonl_dom_budget),
        cmocka_unit_test(test_blocking_ops_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
