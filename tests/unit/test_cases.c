/*
 * Case runner: every case file under tests/cases/ that is a whole test by itself runs here as its
 * own cmocka test, so that each counts and reports on its own and the run goes on after a failure.
 *
 *   tests/cases/pipeline/NNNN-name/   a pipeline run through px_engine_run (format below)
 *   tests/cases/jsonrpc/NNNN-name.txt a JSON-RPC transcript through one MCP session
 *                                     (px_mcp_handle); format in tests/cases/jsonrpc/README.md
 *
 * Picking cases (arguments; with none, every case runs):
 *   test_cases 0007 0012          cases whose number (or name) starts with the argument
 *   test_cases pipeline/0007      the same, with the kind spelled out (jsonrpc/0003)
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
#include "auth/audit.h"
#include "auth/keyring.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "auth/scopes.h"
#include "engine/engine.h"
#include "mcp/session.h"
#include "store/store.h"
#include "tools/registry.h"

#include <dirent.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char cases_root[PATH_MAX]; /* tests/cases */

#define MAX_CASES 512
#define MAX_TAGS 32

struct tcase {
    char kind[16];  /* "pipeline" or "jsonrpc" */
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

/* ---- JSON-RPC transcripts (tests/cases/jsonrpc/NNNN-name.txt) ----------------------------- */

/* One session against a fresh store in a temp dir, with a fake transport host: the caller is
 * org_test/key_test with every scope, rate limit `limit` (0: none), or fails authentication
 * with auth_result. Notifications the session sends are kept until the next request. */
struct rpc_fixture {
    const struct tcase *tc;
    char dir[64];
    struct px_store *st;
    struct px_keyring kr;
    struct px_ratelimit *rl;
    struct px_audit *audit;
    struct px_mcp_session *s;
    int auth_result;
    int64_t limit;
    struct json_object *sent; /* array of the notifications sent during the last request */
};

static int fake_auth(void *ctx, struct px_principal *out, struct px_error *err)
{
    struct rpc_fixture *f = ctx;
    memset(out, 0, sizeof(*out));
    if (f->auth_result)
        return px_error_set(err, -f->auth_result, "Unauthorized: test");
    snprintf(out->org_id, sizeof(out->org_id), "org_test");
    snprintf(out->key_id, sizeof(out->key_id), "key_test");
    snprintf(out->plan, sizeof(out->plan), "premium");
    out->scopes = PX_SCOPES_ALL;
    out->rate_limit = f->limit;
    return 0;
}

static void fake_send(void *ctx, const char *json)
{
    struct rpc_fixture *f = ctx;
    struct json_object *j = json_tokener_parse(json);
    if (!j)
        fail_msg("the session sent a notification that is not JSON: %s", json);
    json_object_array_add(f->sent, j);
}

static int rpc_setup(void **state)
{
    struct rpc_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->tc = *state;
    f->sent = json_object_new_array();
    struct px_error err;
    snprintf(f->dir, sizeof(f->dir), "/tmp/px-rpc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/t.db", f->dir);
    assert_int_equal(px_store_open(path, &f->st, &err), 0);
    assert_int_equal(px_keyring_load(f->dir, &f->kr, &err), 0);
    assert_int_equal(px_tools_init(&err), 0);
    if (px_tools_check_schemas(&err))
        fail_msg("%s", err.message);
    f->rl = px_ratelimit_create();
    f->audit = px_audit_create();
    struct px_mcp_deps deps = {f->st, &f->kr, f->rl, f->audit, NULL};
    struct px_mcp_host host = {
        .ctx = f, .transport = "test", .authenticate = fake_auth, .send = fake_send};
    f->s = px_mcp_session_create(&deps, &host);
    *state = f;
    return 0;
}

static int rpc_teardown(void **state)
{
    struct rpc_fixture *f = *state;
    px_mcp_session_destroy(f->s);
    px_audit_flush(f->audit, f->st);
    px_audit_destroy(f->audit);
    px_ratelimit_destroy(f->rl);
    px_store_close(f->st);
    json_object_put(f->sent);
    rm_tree(f->dir);
    free(f);
    return 0;
}

/* Does got match the pattern want? On a mismatch, writes where and why into why. Patterns:
 * an object matches an object holding at least its keys (each matching); an array matches an
 * array of the same length, element by element; {"$len": N, "$each": P} matches an array of N
 * elements (either key may be left out) each matching P; "$any" is any value but null; "$absent"
 * (as an object member) means the key is not there; "$contains TEXT" is a string holding TEXT;
 * "$gt N" a number above N; anything else must be equal (integers as integers). */
static bool match(struct json_object *want, struct json_object *got, const char *at, char *why,
                  size_t whylen)
{
    enum json_type wt = json_object_get_type(want), gt = json_object_get_type(got);
    if (wt == json_type_string) {
        const char *w = json_object_get_string(want);
        if (strcmp(w, "$any") == 0) {
            if (gt != json_type_null)
                return true;
            snprintf(why, whylen, "%s: expected a value, got null or nothing", at);
            return false;
        }
        if (strncmp(w, "$contains ", 10) == 0) {
            if (gt == json_type_string && strstr(json_object_get_string(got), w + 10))
                return true;
            snprintf(why, whylen, "%s: expected a string containing '%s', got %s", at, w + 10,
                     json_object_to_json_string(got));
            return false;
        }
        if (strncmp(w, "$gt ", 4) == 0) {
            if ((gt == json_type_int || gt == json_type_double) &&
                json_object_get_double(got) > strtod(w + 4, NULL))
                return true;
            snprintf(why, whylen, "%s: expected a number above %s, got %s", at, w + 4,
                     json_object_to_json_string(got));
            return false;
        }
        if (w[0] == '$')
            fail_msg("%s: unknown pattern '%s'", at, w);
        if (gt == json_type_string && strcmp(w, json_object_get_string(got)) == 0)
            return true;
    } else if (wt == json_type_object &&
               (px_json_get(want, "$len") || px_json_get(want, "$each"))) {
        if (gt != json_type_array) {
            snprintf(why, whylen, "%s: expected an array, got %s", at,
                     json_object_to_json_string(got));
            return false;
        }
        size_t n = json_object_array_length(got);
        struct json_object *len = px_json_get(want, "$len"), *each = px_json_get(want, "$each");
        if (len && (int64_t)n != json_object_get_int64(len)) {
            snprintf(why, whylen, "%s: expected %lld elements, got %zu", at,
                     (long long)json_object_get_int64(len), n);
            return false;
        }
        for (size_t i = 0; each && i < n; i++) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
            if (!match(each, json_object_array_get_idx(got, i), sub, why, whylen))
                return false;
        }
        return true;
    } else if (wt == json_type_object) {
        if (gt != json_type_object) {
            snprintf(why, whylen, "%s: expected an object, got %s", at,
                     json_object_to_json_string(got));
            return false;
        }
        json_object_object_foreach(want, key, wv)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", at, key);
            struct json_object *gv = NULL;
            bool present = json_object_object_get_ex(got, key, &gv);
            if (json_object_is_type(wv, json_type_string) &&
                strcmp(json_object_get_string(wv), "$absent") == 0) {
                if (!present)
                    continue;
                snprintf(why, whylen, "%s: expected no such member, got %s", sub,
                         json_object_to_json_string(gv));
                return false;
            }
            if (!present) {
                snprintf(why, whylen, "%s: missing", sub);
                return false;
            }
            if (!match(wv, gv, sub, why, whylen))
                return false;
        }
        return true;
    } else if (wt == json_type_array) {
        if (gt != json_type_array ||
            json_object_array_length(got) != json_object_array_length(want)) {
            snprintf(why, whylen, "%s: expected an array of %zu, got %s", at,
                     json_object_array_length(want), json_object_to_json_string(got));
            return false;
        }
        for (size_t i = 0; i < json_object_array_length(want); i++) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
            if (!match(json_object_array_get_idx(want, i), json_object_array_get_idx(got, i), sub,
                       why, whylen))
                return false;
        }
        return true;
    } else if (wt == json_type_int) {
        if (gt == json_type_int && json_object_get_int64(want) == json_object_get_int64(got))
            return true;
    } else if (wt == json_type_null) {
        if (gt == json_type_null)
            return true;
    } else if (wt == gt && json_object_equal(want, got)) {
        return true;
    }
    snprintf(why, whylen, "%s: expected %s, got %s", at, json_object_to_json_string(want),
             json_object_to_json_string(got));
    return false;
}

/* A transcript file, as lines without their line ends. */
struct lines {
    char **v;
    int n;
};

static void read_lines(const char *path, struct lines *out)
{
    char *text = read_all(path, NULL);
    if (!text)
        fail_msg("cannot read %s", path);
    out->n = 0;
    out->v = NULL;
    int cap = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            out->v = realloc(out->v, (size_t)cap * sizeof(char *));
            assert_non_null(out->v);
        }
        out->v[out->n++] = strdup(line);
    }
    free(text);
}

static void free_lines(struct lines *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Comment and blank lines are skipped (strtok_r already dropped the empty ones). */
static bool skip_line(const char *s)
{
    return s[0] == '#' || strspn(s, " \t\r") == strlen(s);
}

/* Checks one reply against the "< ..." line at l->v[*i] (advanced past it). */
static void expect_reply(const char *file, struct lines *l, int *i, const char *sent, char *reply)
{
    while (*i < l->n && skip_line(l->v[*i]))
        (*i)++;
    if (*i >= l->n || strncmp(l->v[*i], "< ", 2) != 0)
        fail_msg("%s:%d: a request line must be followed by a '< ' reply line", file, *i + 1);
    const char *want_text = l->v[*i] + 2;
    int lineno = *i + 1;
    (*i)++;
    if (strcmp(want_text, "none") == 0) {
        if (reply)
            fail_msg("%s:%d: expected no reply to %s\ngot %s", file, lineno, sent, reply);
        return;
    }
    if (!reply)
        fail_msg("%s:%d: no reply to %s", file, lineno, sent);
    struct json_object *want = json_tokener_parse(want_text);
    if (!want)
        fail_msg("%s:%d: the expected reply is not JSON", file, lineno);
    struct json_object *got = json_tokener_parse(reply);
    if (!got)
        fail_msg("%s:%d: the reply is not JSON: %s", file, lineno, reply);
    char why[1024];
    if (!match(want, got, "reply", why, sizeof(why)))
        fail_msg("%s:%d: %s\nrequest %s\nreply   %s", file, lineno, why, sent, reply);
    json_object_put(want);
    json_object_put(got);
}

/* Each "<< PATTERN" line at l->v[*i] must match one notification sent during the request. */
static void expect_notifications(const char *file, struct lines *l, int *i, struct rpc_fixture *f)
{
    for (;;) {
        while (*i < l->n && skip_line(l->v[*i]))
            (*i)++;
        if (*i >= l->n || strncmp(l->v[*i], "<< ", 3) != 0)
            return;
        struct json_object *want = json_tokener_parse(l->v[*i] + 3);
        if (!want)
            fail_msg("%s:%d: the expected notification is not JSON", file, *i + 1);
        bool found = false;
        char why[1024];
        for (size_t k = 0; !found && k < json_object_array_length(f->sent); k++)
            found = match(want, json_object_array_get_idx(f->sent, k), "notification", why,
                          sizeof(why));
        if (!found)
            fail_msg("%s:%d: no notification matches; sent: %s", file, *i + 1,
                     json_object_to_json_string(f->sent));
        json_object_put(want);
        (*i)++;
    }
}

static char *rpc_send(struct rpc_fixture *f, const char *text)
{
    json_object_put(f->sent);
    f->sent = json_object_new_array();
    return px_mcp_handle(f->s, text, strlen(text));
}

static void rpc_test(void **state)
{
    struct rpc_fixture *f = *state;
    char path[PATH_MAX + 600];
    snprintf(path, sizeof(path), "%s/jsonrpc/%s", cases_root, f->tc->name);
    const char *file = f->tc->full;
    struct lines l;
    read_lines(path, &l);
    int requests = 0;
    for (int i = 0; i < l.n;) {
        const char *s = l.v[i];
        int lineno = ++i;
        if (skip_line(s) || strncmp(s, "tags:", 5) == 0)
            continue;
        if (strncmp(s, "> ", 2) == 0) {
            char *reply = rpc_send(f, s + 2);
            expect_reply(file, &l, &i, s + 2, reply);
            free(reply);
            expect_notifications(file, &l, &i, f);
            requests++;
        } else if (strncmp(s, "init ", 5) == 0) {
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":"
                     "\"t\",\"version\":\"1\"}}}",
                     s + 5);
            char *reply = rpc_send(f, msg);
            struct json_object *r = reply ? json_tokener_parse(reply) : NULL;
            if (!px_json_get(r, "result"))
                fail_msg("%s:%d: initialize failed: %s", file, lineno, reply ? reply : "(none)");
            json_object_put(r);
            free(reply);
            reply = rpc_send(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
            if (reply)
                fail_msg("%s:%d: notifications/initialized got a reply: %s", file, lineno, reply);
        } else if (strncmp(s, "cancel> ", 8) == 0) {
            bool taken = px_mcp_take_cancel(f->s, s + 8, strlen(s + 8));
            while (i < l.n && skip_line(l.v[i]))
                i++;
            const char *want = i < l.n ? l.v[i] : "";
            if (strcmp(want, "< taken") != 0 && strcmp(want, "< not taken") != 0)
                fail_msg("%s:%d: 'cancel> ' must be followed by '< taken' or '< not taken'", file,
                         i + 1);
            if (taken != (strcmp(want, "< taken") == 0))
                fail_msg("%s:%d: px_mcp_take_cancel said %s for %s", file, i + 1,
                         taken ? "taken" : "not taken", s + 8);
            i++;
        } else if (strcmp(s, "auth: ok") == 0) {
            f->auth_result = 0;
        } else if (strcmp(s, "auth: unauthorized") == 0) {
            f->auth_result = -PX_EUNAUTHORIZED;
        } else if (strncmp(s, "limit: ", 7) == 0) {
            f->limit = strtoll(s + 7, NULL, 10);
        } else {
            fail_msg("%s:%d: unknown line (see tests/cases/jsonrpc/README.md): %s", file, lineno,
                     s);
        }
    }
    free_lines(&l);
    if (requests == 0)
        fail_msg("%s: a transcript needs at least one request", file);
}

/* A transcript's tags: its "tags:" line (words separated by spaces). */
static void rpc_tags(struct tcase *c)
{
    char path[PATH_MAX + 600];
    snprintf(path, sizeof(path), "%s/jsonrpc/%s", cases_root, c->name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, "tags:", 5) != 0)
            continue;
        char *save = NULL;
        for (char *t = strtok_r(line + 5, " \t\r\n,", &save); t;
             t = strtok_r(NULL, " \t\r\n,", &save))
            add_tag(c, t);
    }
    fclose(fp);
}

/* ---- selection and registration ------------------------------------------------------------ */

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
        size_t len = strlen(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || len >= sizeof(out->name))
            continue;
        if (strcmp(kind, "jsonrpc") == 0 && (len < 4 || strcmp(e->d_name + len - 4, ".txt") != 0))
            continue;
        struct tcase *c = &out[n++];
        memset(c, 0, sizeof(*c));
        snprintf(c->kind, sizeof(c->kind), "%s", kind);
        snprintf(c->name, sizeof(c->name), "%s", e->d_name);
        snprintf(c->full, sizeof(c->full), "%s/%s", kind, e->d_name);
        add_tag(c, kind);
        if (strcmp(kind, "pipeline") == 0)
            pipeline_tags(c);
        else
            rpc_tags(c);
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
    int npipe = n;
    n = collect("jsonrpc", all, n);
    if (n - npipe < 8) {
        fprintf(stderr, "only %d JSON-RPC transcripts under %s/jsonrpc\n", n - npipe, cases_root);
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
        if (strcmp(all[i].kind, "pipeline") == 0) {
            tests[k].test_func = pipeline_test;
        } else {
            tests[k].test_func = rpc_test;
            tests[k].setup_func = rpc_setup;
            tests[k].teardown_func = rpc_teardown;
        }
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
