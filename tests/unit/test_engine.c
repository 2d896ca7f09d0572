/*
 * Unit tests for the pipeline engine (src/engine/exec.c and its connectors and operators) that
 * need more than a case directory: symbolic links, races, disk bounds, corrupt sources, cancel.
 * The golden pipeline cases (tests/cases/pipeline/NNNN-name/) run in test_cases.c, one test each.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "corpus.h"
#include "helpers.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"

#include <dirent.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *read_all(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct px_buf b;
    px_buf_init(&b, 1 << 26);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(px_buf_append(&b, tmp, n), 0);
    fclose(f);
    if (len_out)
        *len_out = b.len;
    return px_buf_take(&b);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_tree(const char *p)
{
    nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A symlink inside the root that points outside is refused: links are never followed. */
static void test_symlink_escape(void **state)
{
    (void)state;
    char root[] = "/tmp/px_engine_XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/link", root);
    assert_int_equal(symlink("/etc", p), 0);
    struct json_object *graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\","
        "\"config\":{\"file\":\"passwd\"}},{\"id\":\"out\",\"kind\":\"destination\",\"type\":"
        "\"csv\",\"connection_id\":\"d\",\"config\":{\"file\":\"o.csv\"}}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}");
    struct conns conns = {json_tokener_parse("{\"c\":{\"path\":\"link\"},\"d\":{\"path\":\".\"}}")};
    struct px_engine_opts opts = {.conn = resolve_conn, .conn_ctx = &conns, .files_root = root};
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_engine_run(graph, &opts, &res, &err);
    assert_int_equal(rc, -PX_EINVALID);
    assert_non_null(strstr(err.message, "node 'src'"));
    assert_non_null(strstr(err.message, "symbolic link"));
    assert_null(strstr(err.message, root));
    assert_string_equal(res.failed_node, "src");
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    rm_tree(root);
}

/* Issue 10 item 2: while runs read root/d/x.csv, a thread keeps swapping the directory d for a
 * symbolic link to a directory outside the root (and back). A check-then-open resolution reads
 * the outside file in some runs; opening beneath the root without following links never does. */
struct swapper {
    const char *root, *outside;
    atomic_int stop;
};

static void *swap_loop(void *arg)
{
    struct swapper *w = arg;
    char d[PATH_MAX], real[PATH_MAX];
    snprintf(d, sizeof(d), "%s/d", w->root);
    snprintf(real, sizeof(real), "%s/d.real", w->root);
    while (!w->stop) {
        if (rename(d, real) != 0)
            continue;
        if (symlink(w->outside, d) == 0) {
            for (volatile int i = 0; i < 2000; i++) {
            }
            unlink(d);
        }
        rename(real, d);
        /* Most of the time d is the real directory, so that many runs get through. */
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_symlink_swap_race(void **state)
{
    (void)state;
    char root[] = "/tmp/px_race_XXXXXX", outside[] = "/tmp/px_raceout_XXXXXX";
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(outside));
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/d", root);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file_at(root, "d/x.csv", "v\ninside\n");
    put_file_at(outside, "x.csv", "v\nSECRET_OUTSIDE\n");
    /* The same through SQLite, which opens the database by name (engine/connectors/sqlite.c). */
    const char *dbs[2][2] = {{root, "d/x.db"}, {outside, "x.db"}};
    for (int k = 0; k < 2; k++) {
        sqlite3 *db;
        snprintf(p, sizeof(p), "%s/%s", dbs[k][0], dbs[k][1]);
        assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      k ? "CREATE TABLE t(v TEXT); INSERT INTO t VALUES "
                                          "('SECRET_OUTSIDE')"
                                        : "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('inside')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    struct json_object *sqlgraph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"sqlite\",\"connection_id\":"
        "\"s\",\"config\":{\"table\":\"t\"}},{\"id\":\"out\",\"kind\":\"destination\",\"type\":"
        "\"jsonl\",\"connection_id\":\"o\",\"config\":{\"file\":\"o.jsonl\",\"mode\":\"replace\"}}]"
        ","
        "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}");
    struct json_object *graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\","
        "\"config\":{\"file\":\"x.csv\"}},{\"id\":\"out\",\"kind\":\"destination\",\"type\":"
        "\"jsonl\",\"connection_id\":\"o\",\"config\":{\"file\":\"o.jsonl\",\"mode\":\"replace\"}}]"
        ","
        "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}");
    struct conns conns = {json_tokener_parse(
        "{\"c\":{\"path\":\"d\"},\"s\":{\"path\":\"d/x.db\"},\"o\":{\"path\":\"out\"}}")};
    snprintf(p, sizeof(p), "%s/out", root);
    assert_int_equal(mkdir(p, 0700), 0);
    struct px_engine_opts opts = {.conn = resolve_conn, .conn_ctx = &conns, .files_root = root};
    struct swapper w = {.root = root, .outside = outside};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, swap_loop, &w), 0);
    int leaks = 0, ok = 0;
    snprintf(p, sizeof(p), "%s/out/o.jsonl", root);
    for (int i = 0; i < 400; i++) {
        struct px_engine_result res;
        struct px_error err;
        px_error_clear(&err);
        unlink(p);
        if (px_engine_run(i % 2 ? sqlgraph : graph, &opts, &res, &err) == 0) {
            ok++;
            size_t n;
            char *text = read_all(p, &n);
            if (text && strstr(text, "SECRET_OUTSIDE"))
                leaks++;
            free(text);
        } else if (!strstr(err.message, "symbolic link") &&
                   !strstr(err.message, "does not exist")) {
            fail_msg("run %d failed otherwise: %s", i, err.message);
        }
        px_engine_result_cleanup(&res);
    }
    w.stop = 1;
    pthread_join(th, NULL);
    print_message("symlink swap race: %d of 400 runs succeeded, %d read outside the root\n", ok,
                  leaks);
    assert_int_equal(leaks, 0);
    json_object_put(sqlgraph);
    json_object_put(graph);
    json_object_put(conns.map);
    rm_tree(root);
    rm_tree(outside);
}

/* Issue 10 item 8: a run's bytes written into files are capped (run_write_limit_bytes) and so
 * is the organization's directory (files_quota_bytes); reaching either fails the run with the
 * setting's name, and the destination is left as it was. */
static int run_into(const char *root, const char *type, const char *config, int64_t cap,
                    int64_t quota, struct px_error *err)
{
    char g[1024];
    snprintf(g, sizeof(g),
             "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\","
             "\"connection_id\":\"c\",\"config\":{\"file\":\"in.csv\"}},{\"id\":\"load\","
             "\"kind\":\"destination\",\"type\":\"%s\",\"connection_id\":\"d\",\"config\":%s}],"
             "\"edges\":[{\"from\":\"src\",\"to\":\"load\"}]}",
             type, config);
    struct json_object *graph = json_tokener_parse(g);
    struct conns conns = {json_tokener_parse("{\"c\":{\"path\":\".\"},\"d\":{\"path\":\"out\"}}")};
    struct px_engine_opts opts = {.conn = resolve_conn,
                                  .conn_ctx = &conns,
                                  .files_root = root,
                                  .batch_rows = 500,
                                  .run_write_limit_bytes = cap,
                                  .files_quota_bytes = quota};
    struct px_engine_result res;
    px_error_clear(err);
    int rc = px_engine_run(graph, &opts, &res, err);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    return rc;
}

static void test_disk_bounds(void **state)
{
    (void)state;
    char root[] = "/tmp/px_disk_XXXXXX";
    assert_non_null(mkdtemp(root));
    struct px_buf in;
    px_buf_init(&in, 1 << 24);
    (void)px_buf_puts(&in, "id,payload\n");
    for (int i = 1; i <= 5000; i++)
        (void)px_buf_printf(&in, "%d,row-%d-abcdefghij\n", i, i);
    put_file_at(root, "in.csv", in.data);
    px_buf_cleanup(&in);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/out", root);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file_at(root, "out/o.csv", "id,payload\n0,old\n");
    struct px_error err;

    /* The per-run cap: ~120 KB to write, 50 KB allowed. */
    assert_int_equal(run_into(root, "csv", "{\"file\":\"o.csv\"}", 50000, 0, &err), -PX_ETOOLARGE);
    assert_non_null(strstr(err.message, "PLANASONIX_RUN_WRITE_MB"));
    assert_true(err.hint[0] != '\0');
    snprintf(p, sizeof(p), "%s/out/o.csv", root);
    size_t n;
    char *text = read_all(p, &n);
    assert_string_equal(text, "id,payload\n0,old\n");
    free(text);
    assert_int_equal(run_into(root, "sqlite", "{\"table\":\"t\"}", 50000, 0, &err), -PX_ETOOLARGE);
    assert_non_null(strstr(err.message, "PLANASONIX_RUN_WRITE_MB"));
    assert_int_equal(
        run_into(root, "jsonl", "{\"file\":\"r.jsonl\",\"mode\":\"replace\"}", 50000, 0, &err),
        -PX_ETOOLARGE);

    /* The quota: the directory holds ~120 KB (in.csv); 200 KB allowed, the run adds ~120 KB. */
    assert_int_equal(run_into(root, "csv", "{\"file\":\"o.csv\"}", 0, 200000, &err), -PX_ETOOLARGE);
    assert_non_null(strstr(err.message, "PLANASONIX_ORG_DISK_QUOTA_MB"));
    text = read_all(p, &n);
    assert_string_equal(text, "id,payload\n0,old\n");
    free(text);
    /* Within both, the same run succeeds. */
    if (run_into(root, "csv", "{\"file\":\"o.csv\"}", 1 << 20, 1 << 20, &err) != 0)
        fail_msg("within the bounds: %s", err.message);
    /* Nothing else was left in out/: no database, no temporary or journal file. */
    snprintf(p, sizeof(p), "%s/out", root);
    DIR *d = opendir(p);
    struct dirent *e;
    int others = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, ".px-"))
            others += strcmp(e->d_name, "o.csv") != 0 && strcmp(e->d_name, "load.db") != 0;
    closedir(d);
    assert_int_equal(others, 0);
    rm_tree(root);
}

/* What a trick could change: the victim's rows, the schema, and the files next to the
 * database and in the working directory. Owned. */
static char *lite_state(const char *root)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/victim.db", root);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    struct px_buf b;
    px_buf_init(&b, 1 << 20);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT group_concat(id || ':' || v, ',') FROM "
                                        "(SELECT * FROM victim ORDER BY id)), (SELECT "
                                        "group_concat(name, ',') FROM sqlite_master)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    (void)px_buf_printf(&b, "rows %s schema %s", sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    const char *files[] = {"px_corpus_attached.db", "px_corpus_copy.db", "px_corpus_written"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", root, files[i]);
        (void)px_buf_printf(&b, " %d%d", access(path, F_OK) == 0, access(files[i], F_OK) == 0);
    }
    return px_buf_take(&b);
}

/* Each trick of tests/corpus/readonly/sqlite.sql as a real source query fails and changes
 * nothing; then each with only the database's walls (a read-only open with
 * px__sqlite_read_only, one statement) must fail to prepare or run too. */
static void test_sqlite_readonly_corpus(void **state)
{
    (void)state;
    char root[] = "/tmp/px_litero_XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/victim.db", root);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE victim (id INTEGER PRIMARY KEY, v TEXT); INSERT "
                                  "INTO victim VALUES (1, 'a'), (2, 'b'), (3, 'c')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char *before = lite_state(root);
    struct corpus c;
    corpus_load("tests/corpus/readonly/sqlite.sql", &c);
    struct conns conns = {
        json_tokener_parse("{\"c\":{\"path\":\"victim.db\"},\"d\":{\"path\":\".\"}}")};
    for (size_t i = 0; i < c.n; i++) {
        struct json_object *graph = json_tokener_parse(
            "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"sqlite\","
            "\"connection_id\":\"c\",\"config\":{}},{\"id\":\"out\",\"kind\":\"destination\","
            "\"type\":\"csv\",\"connection_id\":\"d\",\"config\":{\"file\":\"o.csv\"}}],"
            "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}");
        struct json_object *cfg =
            px_json_get(json_object_array_get_idx(px_json_get(graph, "nodes"), 0), "config");
        px_json_set_str(cfg, "query", c.e[i].sql);
        struct px_engine_opts opts = {.conn = resolve_conn, .conn_ctx = &conns, .files_root = root};
        struct px_engine_result res;
        struct px_error err;
        px_error_clear(&err);
        int rc = px_engine_run(graph, &opts, &res, &err);
        px_engine_result_cleanup(&res);
        json_object_put(graph);
        if (rc == 0)
            fail_msg("'%s' ran as a source query:\n%s", c.e[i].name, c.e[i].sql);
        char *after = lite_state(root);
        if (strcmp(before, after) != 0)
            fail_msg("'%s' changed something:\n%s\n--- before\n%s\n--- after\n%s", c.e[i].name,
                     c.e[i].sql, before, after);
        free(after);
    }
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        struct px_error err;
        assert_int_equal(px__sqlite_read_only(db, &err), 0);
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        bool ran = false;
        if (sqlite3_prepare_v2(db, c.e[i].sql, -1, &st, &tail) == SQLITE_OK && st) {
            int r;
            while ((r = sqlite3_step(st)) == SQLITE_ROW)
                ;
            ran = r == SQLITE_DONE;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        char *after = lite_state(root);
        if (strcmp(before, after) != 0)
            fail_msg("'%s' changed something past the read-only walls", c.e[i].name);
        free(after);
        /* Only the first statement runs (the source checks the tail): stacked entries whose
         * first statement is a harmless SELECT may "run". */
        if (ran && tail && tail[0] == '\0')
            fail_msg("'%s' ran past the read-only walls:\n%s", c.e[i].name, c.e[i].sql);
    }
    print_message("sqlite corpus: %zu tricks, all refused and nothing changed\n", c.n);
    corpus_free(&c);
    json_object_put(conns.map);
    free(before);
    rm_tree(root);
}

/* Issue 10 item 13: a source never reads the rows of an append a dead writer left behind: the
 * journal next to the file (no live writer holds the file) is rolled back before reading. */
static void test_source_after_crash(void **state)
{
    (void)state;
    char root[] = "/tmp/px_srccrash_XXXXXX";
    assert_non_null(mkdtemp(root));
    put_file_at(root, "in.csv", "id\n1\n2\n3\npart");
    char p[PATH_MAX], j[PATH_MAX + 32], text[128];
    snprintf(p, sizeof(p), "%s/in.csv", root);
    snprintf(j, sizeof(j), "%s/.in.csv.px-journal", root);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    snprintf(text, sizeof(text), "px-append-journal 1 size=7 dev=%lld ino=%lld\n",
             (long long)st.st_dev, (long long)st.st_ino);
    put_file_at(root, ".in.csv.px-journal", text);
    struct json_object *graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\","
        "\"config\":{\"file\":\"in.csv\"}},{\"id\":\"out\",\"kind\":\"destination\",\"type\":"
        "\"jsonl\",\"connection_id\":\"c\",\"config\":{\"file\":\"o.jsonl\",\"mode\":\"replace\"}}]"
        ","
        "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}");
    struct conns conns = {json_tokener_parse("{\"c\":{\"path\":\".\"}}")};
    struct px_engine_opts opts = {.conn = resolve_conn, .conn_ctx = &conns, .files_root = root};
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    if (px_engine_run(graph, &opts, &res, &err) != 0)
        fail_msg("run failed: %s", err.message);
    assert_int_equal(res.rows_read, 2);
    assert_int_not_equal(access(j, F_OK), 0);
    size_t n;
    char *in = read_all(p, &n);
    assert_string_equal(in, "id\n1\n2\n");
    free(in);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    rm_tree(root);
}

static bool cancel_now(void *ctx)
{
    (void)ctx;
    return true;
}

/* Cancellation and an unimplemented operator. */
static void test_cancel_and_unavailable(void **state)
{
    (void)state;
    char root[] = "/tmp/px_engine_XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/a.csv", root);
    FILE *f = fopen(p, "w");
    fputs("x\n1\n", f);
    fclose(f);
    const char *g1 =
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\"},"
        "{\"id\":\"out\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"d\"}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"out\"}]}";
    struct conns conns = {json_tokener_parse(
        "{\"c\":{\"path\":\"a.csv\"},\"d\":{\"path\":\"b.csv\"},\"pg\":{\"host\":\"x\"}}")};
    struct px_engine_opts opts = {
        .conn = resolve_conn, .conn_ctx = &conns, .files_root = root, .cancelled = cancel_now};
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    struct json_object *graph = json_tokener_parse(g1);
    assert_int_equal(px_engine_run(graph, &opts, &res, &err), -PX_EUNAVAILABLE);
    assert_string_equal(err.message, "cancelled");
    snprintf(p, sizeof(p), "%s/b.csv", root);
    assert_int_equal(access(p, F_OK), 0); /* append mode: created, but empty */
    px_engine_result_cleanup(&res);
    json_object_put(graph);

    opts.cancelled = NULL;
    graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\"},"
        "{\"id\":\"src2\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\"},"
        "{\"id\":\"s\",\"kind\":\"transform\",\"type\":\"join\",\"config\":{\"left_keys\":"
        "[\"x\"],\"right_keys\":[\"x\"]}},"
        "{\"id\":\"out\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"d\"}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"s\"},{\"from\":\"src2\",\"to\":\"s\"},"
        "{\"from\":\"s\",\"to\":\"out\"}]}");
    px_error_clear(&err);
    /* join is implemented: a self-join on x; the right x becomes right_x. */
    assert_int_equal(px_engine_run(graph, &opts, &res, &err), 0);
    assert_int_equal(res.rows_written, 1);
    assert_string_equal(res.failed_node, "");
    px_engine_result_cleanup(&res);
    json_object_put(graph);

    graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"src\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\"},"
        "{\"id\":\"src2\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c\"},"
        "{\"id\":\"s\",\"kind\":\"transform\",\"type\":\"join\",\"config\":{\"left_keys\":"
        "[\"x\"],\"right_keys\":[\"x\",\"y\"]}},"
        "{\"id\":\"out\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"d\"}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"s\"},{\"from\":\"src2\",\"to\":\"s\"},"
        "{\"from\":\"s\",\"to\":\"out\"}]}");
    px_error_clear(&err);
    assert_int_equal(px_engine_run(graph, &opts, &res, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "must list as many columns as left_keys (1), got 2"));
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    rm_tree(root);
}

/* Batch basics: clone, compaction and strings in the arena. */
static void test_batch(void **state)
{
    (void)state;
    struct px_batch *b = px_batch_create(4);
    int c = px_batch_add_column(b, "s", PX_COL_STRING);
    int i = px_batch_add_column(b, "i", PX_COL_INT);
    for (int r = 0; r < 4; r++) {
        char t[8];
        snprintf(t, sizeof(t), "v%d", r);
        b->cols[c].v.s[r] = px_batch_strdup(b, t, strlen(t));
        px_batch_set_null(&b->cols[c], r, false);
        if (r != 2) {
            b->cols[i].v.i[r] = r * 10;
            px_batch_set_null(&b->cols[i], r, false);
        }
    }
    b->nrows = 4;
    struct px_batch *k = px_batch_clone(b);
    bool keep[4] = {false, true, true, false};
    px_batch_compact(b, keep);
    assert_int_equal(b->nrows, 2);
    assert_string_equal(b->cols[c].v.s[0], "v1");
    assert_true(px_batch_is_null(&b->cols[i], 1));
    assert_false(px_batch_is_null(&b->cols[i], 0));
    px_batch_destroy(b);
    assert_string_equal(k->cols[c].v.s[3], "v3");
    assert_int_equal(k->cols[i].v.i[3], 30);
    px_batch_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_symlink_escape),
        cmocka_unit_test(test_symlink_swap_race),
        cmocka_unit_test(test_disk_bounds),
        cmocka_unit_test(test_sqlite_readonly_corpus),
        cmocka_unit_test(test_source_after_crash),
        cmocka_unit_test(test_cancel_and_unavailable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
