/*
 * Case runner: every case file under tests/cases/ that is a whole test by itself runs here as its
 * own cmocka test, so that each counts and reports on its own and the run goes on after a failure.
 *
 *   tests/cases/pipeline/NNNN-name/   a pipeline run through px_engine_run (format below)
 *
 * Picking cases (arguments; with none, every case runs):
 *   test_cases 0007 0012          cases whose number (or name) starts with the argument
 *   test_cases pipeline/0007      the same, with the kind spelled out
 *   test_cases --tag sqlite       cases carrying the tag (repeat --tag: any of them)
 *   test_cases --list             print the selected cases and their tags, run nothing
 * A selection that matches no case is an error (exit 2), so a typo cannot pass as green.
 *
 * Pipeline case directory:
 *   graph.json        the pipeline graph
 *   connections.json  {"<connection id>": {<params>}, ...}, served by the test's resolver
 *   input/            copied into a fresh files root (mkdtemp) before the run
 *   case.json         {"batch_rows": N, "setup": [{"db": path, "sql": text}],
 *                      "ok": true, "rows_read": N, "rows_written": N,
 *                      "error": [substrings], "failed_node": id, "code": "PX_E...",
 *                      "queries": [{"db": path, "sql": text, "expect": "a|b\n..."}],
 *                      "tags": ["extra", ...]}
 *   expected/         files that must exist in the files root afterwards, byte for byte
 * A pipeline case's tags: "ok" or "error", every node type in graph.json (csv, filter, sqlite...),
 * and the case's own "tags".
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "engine/engine.h"

#include <dirent.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char cases_root[PATH_MAX]; /* tests/cases */

/* The cases from the repository root, or next to this source file when run from elsewhere. */
static void find_cases(void)
{
    if (access("tests/cases", R_OK) == 0) {
        snprintf(cases_root, sizeof(cases_root), "tests/cases");
        return;
    }
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    int dir = slash ? (int)(slash - here) : 0;
    snprintf(cases_root, sizeof(cases_root), "%.*s/../cases", dir, here);
}

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

static struct json_object *read_json(const char *path)
{
    return json_object_from_file(path);
}

static void copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char src[PATH_MAX], dst[PATH_MAX];
        snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
        struct stat st;
        assert_int_equal(stat(src, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            mkdir(dst, 0755);
            copy_tree(src, dst);
        } else {
            size_t len;
            char *data = read_all(src, &len);
            FILE *f = fopen(dst, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(data, 1, len, f), len);
            fclose(f);
            free(data);
        }
    }
    closedir(d);
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

/* Compares every file under expected/ with the same path under root. */
static void compare_tree(const char *name, const char *exp, const char *root, const char *rel)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", exp, rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char r2[PATH_MAX], a[PATH_MAX * 2 + 8], b[PATH_MAX * 2 + 8];
        snprintf(r2, sizeof(r2), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(a, sizeof(a), "%s/%s", exp, r2);
        snprintf(b, sizeof(b), "%s/%s", root, r2);
        struct stat st;
        assert_int_equal(stat(a, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            compare_tree(name, exp, root, r2);
            continue;
        }
        size_t la, lb;
        char *da = read_all(a, &la);
        char *db = read_all(b, &lb);
        if (!db)
            fail_msg("%s: output file %s is missing", name, r2);
        if (la != lb || memcmp(da, db, la) != 0)
            fail_msg("%s: %s differs\n--- expected\n%s\n--- got\n%s", name, r2, da, db);
        free(da);
        free(db);
    }
    closedir(d);
}

static int row_cb(void *ctx, int n, char **vals, char **cols)
{
    (void)cols;
    struct px_buf *b = ctx;
    for (int i = 0; i < n; i++)
        (void)px_buf_printf(b, "%s%s", i ? "|" : "", vals[i] ? vals[i] : "NULL");
    (void)px_buf_puts(b, "\n");
    return 0;
}

static void run_sql(const char *root, struct json_object *q, struct px_buf *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, px_json_get_str(q, "db"));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, px_json_get_str(q, "sql"), out ? row_cb : NULL, out, &msg);
    if (rc != SQLITE_OK)
        fail_msg("sql '%s': %s", px_json_get_str(q, "sql"), msg);
    sqlite3_close(db);
}

static int progress_calls;
static void on_progress(void *ctx, int64_t rows)
{
    (void)ctx;
    (void)rows;
    progress_calls++;
}

static void run_pipeline_case(const char *name)
{
    char dir[PATH_MAX + 300], p[PATH_MAX + 400];
    snprintf(dir, sizeof(dir), "%s/pipeline/%s", cases_root, name);
    char root[] = "/tmp/px_engine_XXXXXX";
    assert_non_null(mkdtemp(root));
    snprintf(p, sizeof(p), "%s/input", dir);
    copy_tree(p, root);
    snprintf(p, sizeof(p), "%s/graph.json", dir);
    struct json_object *graph = read_json(p);
    snprintf(p, sizeof(p), "%s/connections.json", dir);
    struct conns conns = {read_json(p)};
    snprintf(p, sizeof(p), "%s/case.json", dir);
    struct json_object *cs = read_json(p);
    if (!graph || !conns.map || !cs)
        fail_msg("%s: graph.json, connections.json and case.json must parse", name);
    struct json_object *setup = px_json_get(cs, "setup");
    for (size_t i = 0; setup && i < json_object_array_length(setup); i++)
        run_sql(root, json_object_array_get_idx(setup, i), NULL);

    struct px_engine_opts opts = {0};
    opts.conn = resolve_conn;
    opts.conn_ctx = &conns;
    opts.files_root = root;
    opts.now_us = 1717243200000000; /* 2024-06-01T12:00:00Z */
    opts.batch_rows = px_json_get_int(cs, "batch_rows", 0);
    opts.progress = on_progress;
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    progress_calls = 0;
    int rc = px_engine_run(graph, &opts, &res, &err);
    assert_non_null(res.nodes);
    if (px_json_get_bool(cs, "ok", false)) {
        if (rc != 0)
            fail_msg("%s: run failed: %s", name, err.message);
        assert_string_equal(res.failed_node, "");
        assert_int_equal(res.rows_read, px_json_get_int(cs, "rows_read", -1));
        assert_int_equal(res.rows_written, px_json_get_int(cs, "rows_written", -1));
        assert_true(progress_calls > 0);
        for (size_t i = 0; i < json_object_array_length(res.nodes); i++)
            assert_string_equal(px_json_get_str(json_object_array_get_idx(res.nodes, i), "status"),
                                "succeeded");
    } else {
        if (rc == 0)
            fail_msg("%s: run should fail", name);
        struct json_object *want = px_json_get(cs, "error");
        for (size_t i = 0; want && i < json_object_array_length(want); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(want, i));
            if (!strstr(err.message, s))
                fail_msg("%s: error '%s' lacks '%s'", name, err.message, s);
        }
        const char *fn = px_json_get_str(cs, "failed_node");
        if (fn)
            assert_string_equal(res.failed_node, fn);
        const char *code = px_json_get_str(cs, "code");
        if (code)
            assert_string_equal(px_err_name(rc), code);
    }
    snprintf(p, sizeof(p), "%s/expected", dir);
    compare_tree(name, p, root, "");
    struct json_object *qs = px_json_get(cs, "queries");
    for (size_t i = 0; qs && i < json_object_array_length(qs); i++) {
        struct json_object *q = json_object_array_get_idx(qs, i);
        struct px_buf got;
        px_buf_init(&got, 1 << 20);
        run_sql(root, q, &got);
        if (strcmp(got.data ? got.data : "", px_json_get_str(q, "expect")) != 0)
            fail_msg("%s: query '%s'\n--- expected\n%s--- got\n%s", name, px_json_get_str(q, "sql"),
                     px_json_get_str(q, "expect"), got.data ? got.data : "");
        px_buf_cleanup(&got);
    }
    /* No temporary files left behind. */
    DIR *d = opendir(root);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".px-"))
            fail_msg("%s: temporary file %s left behind", name, e->d_name);
    closedir(d);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    json_object_put(cs);
    rm_tree(root);
}

/* ---- selection and registration ------------------------------------------------------------ */

#define MAX_CASES 512
#define MAX_TAGS 32

struct tcase {
    char kind[16];  /* "pipeline" */
    char name[256]; /* directory or file name, e.g. "0007-missing-source-table" */
    char full[280]; /* kind/name: the cmocka test name */
    char *tags[MAX_TAGS];
    int ntags;
};

static void add_tag(struct tcase *c, const char *t)
{
    for (int i = 0; i < c->ntags; i++)
        if (strcmp(c->tags[i], t) == 0)
            return;
    if (c->ntags < MAX_TAGS)
        c->tags[c->ntags++] = strdup(t);
}

static void pipeline_test(void **state)
{
    run_pipeline_case(((struct tcase *)*state)->name);
}

/* Tags of a pipeline case: ok/error, the node types, and case.json's own "tags". */
static void pipeline_tags(struct tcase *c)
{
    char p[PATH_MAX + 600];
    snprintf(p, sizeof(p), "%s/pipeline/%s/case.json", cases_root, c->name);
    struct json_object *cs = json_object_from_file(p);
    add_tag(c, px_json_get_bool(cs, "ok", false) ? "ok" : "error");
    struct json_object *extra = px_json_get(cs, "tags");
    for (size_t i = 0; extra && i < json_object_array_length(extra); i++)
        add_tag(c, json_object_get_string(json_object_array_get_idx(extra, i)));
    json_object_put(cs);
    snprintf(p, sizeof(p), "%s/pipeline/%s/graph.json", cases_root, c->name);
    struct json_object *g = json_object_from_file(p);
    struct json_object *nodes = px_json_get(g, "nodes");
    for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
        const char *t = px_json_get_str(json_object_array_get_idx(nodes, i), "type");
        if (t)
            add_tag(c, t);
    }
    json_object_put(g);
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const struct tcase *)a)->full, ((const struct tcase *)b)->full);
}

/* Appends one case per entry of cases_root/kind whose name starts with a digit. */
static int collect(const char *kind, struct tcase *out, int n)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/%s", cases_root, kind);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", dir);
        exit(2);
    }
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CASES) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || strlen(e->d_name) >= sizeof(out->name))
            continue;
        struct tcase *c = &out[n++];
        memset(c, 0, sizeof(*c));
        snprintf(c->kind, sizeof(c->kind), "%s", kind);
        snprintf(c->name, sizeof(c->name), "%s", e->d_name);
        snprintf(c->full, sizeof(c->full), "%s/%s", kind, e->d_name);
        add_tag(c, kind);
        if (strcmp(kind, "pipeline") == 0)
            pipeline_tags(c);
    }
    closedir(d);
    return n;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int selected(const struct tcase *c, char **names, int nnames, char **tags, int ntags)
{
    int by_name = nnames == 0, by_tag = ntags == 0;
    for (int i = 0; i < nnames && !by_name; i++)
        by_name = starts_with(c->name, names[i]) || starts_with(c->full, names[i]);
    for (int i = 0; i < ntags && !by_tag; i++)
        for (int k = 0; k < c->ntags && !by_tag; k++)
            by_tag = strcmp(c->tags[k], tags[i]) == 0;
    return by_name && by_tag;
}

int main(int argc, char **argv)
{
    char *names[64], *tags[64];
    int nnames = 0, ntags = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc && ntags < 64)
            tags[ntags++] = argv[++i];
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (argv[i][0] != '-' && nnames < 64)
            names[nnames++] = argv[i];
        else {
            fprintf(stderr, "usage: %s [--list] [--tag TAG]... [NUMBER|KIND/NAME]...\n", argv[0]);
            return 2;
        }
    }
    find_cases();
    static struct tcase all[MAX_CASES];
    int n = collect("pipeline", all, 0);
    if (n < 30) { /* the cases directory was not found whole */
        fprintf(stderr, "only %d pipeline cases under %s/pipeline\n", n, cases_root);
        return 2;
    }
    qsort(all, (size_t)n, sizeof(all[0]), cmp_case);

    struct CMUnitTest *tests = calloc((size_t)n + 1, sizeof(*tests));
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!selected(&all[i], names, nnames, tags, ntags))
            continue;
        if (list) {
            printf("%s", all[i].full);
            for (int t = 0; t < all[i].ntags; t++)
                printf("%s%s", t ? "," : "  ", all[i].tags[t]);
            printf("\n");
        }
        tests[k].name = all[i].full;
        tests[k].test_func = pipeline_test;
        tests[k].initial_state = &all[i];
        k++;
    }
    int rc = 0;
    if (k == 0) {
        fprintf(stderr, "no case matches the selection\n");
        rc = 2;
    } else if (!list) {
        rc = _cmocka_run_group_tests("cases", tests, (size_t)k, NULL, NULL);
    }
    free(tests);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < all[i].ntags; t++)
            free(all[i].tags[t]);
    return rc;
}
