/*
 * Unit tests for the HTTP JSON API connector (src/engine/connectors/http.c) against a real HTTP
 * server: libmicrohttpd runs inside the test process on a free loopback port and serves canned
 * JSON routes (pagination of every kind, bearer auth, errors, loops, a slow route, a body over
 * the size cap). Whole graphs run through px_engine_run (http source -> filter -> CSV file) and
 * the output files are compared byte for byte; probes go through px_engine_probe.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

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
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "tok-canary-123"

static struct MHD_Daemon *daemon_;
static int port;
static atomic_int stopping; /* the stub server ends its slow replies */
static char root[PATH_MAX];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int hits;          /* requests to /api/... since the last reset */
static int64_t budget_mb; /* the runs' memory budget in MiB (0: the default) */

/* ---- the server ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, const char *hname, const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (hname)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result json(struct MHD_Connection *c, const char *body)
{
    return reply(c, 200, "application/json", body, NULL, NULL);
}

/* Blanks up to 65 MiB, then the end of the stream. */
static ssize_t spaces(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= (uint64_t)65 << 20)
        return MHD_CONTENT_READER_END_OF_STREAM;
    memset(buf, ' ', max);
    return (ssize_t)max;
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static long num_arg(struct MHD_Connection *c, const char *name, long def)
{
    const char *v = arg(c, name);
    return v ? strtol(v, NULL, 10) : def;
}

static const char ITEMS[] =
    "[{\"id\":1,\"name\":\"Zo\xc3\xab\",\"price\":9.5,\"active\":true,"
    "\"created_at\":\"2024-05-01T10:00:00Z\",\"tags\":[\"a\",\"b\"],"
    "\"meta\":{\"url\":\"http://x/y\",\"n\":1}},"
    "{\"id\":2,\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\",\"price\":12,\"active\":false,"
    "\"created_at\":\"2024-05-02T11:30:00+02:00\",\"tags\":[],\"meta\":null},"
    "{\"id\":3,\"name\":\"plain \\\"quoted\\\", comma\",\"price\":100.25,\"active\":true,"
    "\"created_at\":null,\"tags\":[\"c\"],\"meta\":{\"deep\":{\"x\":[1,2]}}}]";

static enum MHD_Result route(struct MHD_Connection *c, const char *url)
{
    char b[1024];
    if (strcmp(url, "/api/items") == 0) {
        const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Tenant");
        if (!ua || strncmp(ua, "planasonix/", 11) != 0 || !acc ||
            strcmp(acc, "application/json") != 0 || !t || strcmp(t, "acme") != 0)
            return reply(c, 400, "text/plain", "missing headers", NULL, NULL);
        return json(c, ITEMS);
    }
    if (strcmp(url, "/api/redirect") == 0)
        return reply(c, 302, "text/plain", "moved", "Location", "/api/items");
    if (strcmp(url, "/api/rebind") == 0) {
        /* As if the name now resolved to a denied address: the policy denies the server's
         * address from here on, and the redirect needs a new connection. */
        setenv("PLANASONIX_EGRESS_DENY", "127.0.0.0/8,::1", 1);
        px_egress_reload();
        struct MHD_Response *r =
            MHD_create_response_from_buffer(5, (void *)(uintptr_t) "moved", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/api/items");
        MHD_add_response_header(r, "Connection", "close");
        enum MHD_Result ret = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/api/away") == 0) {
        snprintf(b, sizeof(b), "http://localhost:%d/api/items", port);
        return reply(c, 302, "text/plain", "moved", "Location", b);
    }
    if (strcmp(url, "/api/gzip") == 0) { /* [{"id":1,"z":"gz"},{"id":2,"z":"ip"}], gzipped */
        static const char gz[] =
            "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff\x8b\xae\x56\xca\x4c\x51\xb2\x32\xd4\x51"
            "\xaa\x52\xb2\x52\x4a\xaf\x52\xaa\xd5\x81\x88\x18\x41\x44\x32\x0b\x94\x6a\x63\x01"
            "\xf8\x3e\x9a\xad\x25\x00\x00\x00";
        const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
        if (!ae || !strstr(ae, "gzip"))
            return reply(c, 406, "text/plain", "gzip only", NULL, NULL);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof(gz) - 1, (void *)(uintptr_t)gz, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Content-Encoding", "gzip");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/api/redirloop") == 0)
        return reply(c, 302, "text/plain", "moved", "Location", "/api/redirloop");
    if (strcmp(url, "/api/wrapped") == 0)
        return json(c, "{\"data\":{\"items\":[{\"id\":7,\"ok\":true},{\"id\":8,\"ok\":false}],"
                       "\"total\":2},\"meta\":{\"v\":1}}");
    if (strcmp(url, "/api/paged") == 0) { /* 5 records, per_page 2 */
        long page = num_arg(c, "page", -1), per = num_arg(c, "per_page", -1);
        if (page < 1 || per != 2)
            return reply(c, 400, "text/plain", "page and per_page=2 required", NULL, NULL);
        struct px_buf o;
        px_buf_init(&o, 4096);
        (void)px_buf_puts(&o, "[");
        for (long i = (page - 1) * 2 + 1; i <= page * 2 && i <= 5; i++)
            (void)px_buf_printf(&o, "%s{\"id\":%ld,\"page\":%ld}", i % 2 ? "" : ",", i, page);
        (void)px_buf_puts(&o, "]");
        enum MHD_Result r = json(c, o.data);
        px_buf_cleanup(&o);
        return r;
    }
    if (strcmp(url, "/api/offset") == 0) { /* 5 records, at most 2 per page */
        long off = num_arg(c, "offset", -1);
        if (off < 0)
            return reply(c, 400, "text/plain", "offset required", NULL, NULL);
        struct px_buf o;
        px_buf_init(&o, 4096);
        (void)px_buf_puts(&o, "{\"results\":[");
        for (long i = off + 1; i <= off + 2 && i <= 5; i++)
            (void)px_buf_printf(&o, "%s{\"id\":%ld,\"at\":%ld}", i == off + 1 ? "" : ",", i, off);
        (void)px_buf_puts(&o, "]}");
        enum MHD_Result r = json(c, o.data);
        px_buf_cleanup(&o);
        return r;
    }
    if (strcmp(url, "/api/cursor") == 0) {
        const char *cur = arg(c, "after");
        if (!cur)
            return json(c, "{\"items\":[{\"id\":1},{\"id\":2}],\"meta\":{\"next\":\"c2=&/x\"}}");
        if (strcmp(cur, "c2=&/x") == 0)
            return json(c, "{\"items\":[{\"id\":3},{\"id\":4}],\"meta\":{\"next\":33}}");
        if (strcmp(cur, "33") == 0)
            return json(c, "{\"items\":[{\"id\":5}],\"meta\":{\"next\":null}}");
        return reply(c, 400, "text/plain", "bad cursor", NULL, NULL);
    }
    if (strcmp(url, "/api/loop") == 0) {
        const char *cur = arg(c, "cursor");
        snprintf(b, sizeof(b), "{\"items\":[{\"id\":%d}],\"next\":\"%s\"}",
                 !cur            ? 1
                 : cur[0] == 'a' ? 2
                                 : 3,
                 !cur || cur[0] == 'b' ? "a" : "b");
        return json(c, b);
    }
    if (strcmp(url, "/api/link") == 0) {
        long p = num_arg(c, "p", 1);
        if (p == 1)
            return reply(c, 200, "application/json", "[{\"id\":1},{\"id\":2}]", "Link",
                         "</api/link?p=3>; rel=\"last\", </api/link?p=2>; rel=\"next\"");
        if (p == 2) {
            snprintf(b, sizeof(b), "<http://127.0.0.1:%d/api/link?p=3>; rel=next", port);
            return reply(c, 200, "application/json", "[{\"id\":3},{\"id\":4}]", "Link", b);
        }
        return json(c, "[{\"id\":5}]");
    }
    if (strcmp(url, "/api/linkloop") == 0)
        return reply(c, 200, "application/json", "[{\"id\":1}]", "Link",
                     "</api/linkloop>; rel=\"next\"");
    if (strcmp(url, "/api/linkaway") == 0)
        return reply(c, 200, "application/json", "[{\"id\":1}]", "Link",
                     "<http://example.com/steal>; rel=\"next\"");
    if (strcmp(url, "/api/same") == 0)
        return json(c, "[{\"id\":1}]");
    if (strcmp(url, "/api/conflict") == 0) {
        long p = num_arg(c, "page", 1);
        return json(c, p == 1 ? "[{\"a\":1}]" : p == 2 ? "[{\"a\":\"x\"}]" : "[]");
    }
    if (strcmp(url, "/api/fail500") == 0)
        return reply(c, 500, "text/plain", "oops", NULL, NULL);
    if (strcmp(url, "/api/ratelimit") == 0)
        return reply(c, 429, "application/json", "{\"error\":\"slow down\"}", "Retry-After", "7");
    if (strcmp(url, "/api/html") == 0)
        return reply(c, 200, "text/html", "<html><body>Hello</body></html>", NULL, NULL);
    if (strcmp(url, "/api/notobj") == 0)
        return json(c, "[{\"id\":1},5]");
    if (strcmp(url, "/api/echo400") == 0) {
        snprintf(b, sizeof(b), "bad request; you sent %s",
                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        return reply(c, 400, "text/plain", b, NULL, NULL);
    }
    if (strcmp(url, "/api/slow") == 0) {
        for (int i = 0; i < 300 && !stopping; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        return json(c, "[]");
    }
    if (strcmp(url, "/api/big") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(((uint64_t)64 << 20) + 10, 65536, spaces, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/api/bigchunked") == 0) { /* no Content-Length: counted while read */
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, spaces, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/api/objects") == 0) { /* [{"a":1},...] of about mb MiB */
        size_t n = (size_t)num_arg(c, "mb", 1) << 17, len = n * 8 + 1;
        char *body = malloc(len + 1);
        body[0] = '[';
        for (size_t i = 0; i < n; i++)
            memcpy(body + 1 + i * 8, "{\"a\":1},", 8);
        body[len - 1] = ']';
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/api") == 0)
        return reply(c, 200, "application/json", "{\"ok\":true}", "Server", "TestAPI/1.2");
    return reply(c, 404, "application/json", "{\"error\":\"not found\"}", NULL, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strcmp(url, "/") == 0)
        return reply(c, 200, "application/json", "{}", "Server", "TestAPI/1.2");
    if (strncmp(url, "/api", 4) == 0) {
        pthread_mutex_lock(&mu);
        hits++;
        pthread_mutex_unlock(&mu);
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!auth || strcmp(auth, "Bearer " TOKEN) != 0)
            return reply(c, 401, "application/json", "{\"error\":\"bad token\"}",
                         "WWW-Authenticate", "Bearer");
    }
    return route(c, url);
}

static int reset_hits(void)
{
    pthread_mutex_lock(&mu);
    int h = hits;
    hits = 0;
    pthread_mutex_unlock(&mu);
    return h;
}

/* ---- runs ---- */

/* Params of the API connection: base_url http://127.0.0.1:<port>/api plus extra members. */
static char *api_params(const char *extra)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"base_url\":\"http://127.0.0.1:%d/api\",\"headers\":{\"X-Tenant\":\"acme\"},"
             "\"auth_token\":\"" TOKEN "\"%s%s}",
             port, extra && *extra ? "," : "", extra ? extra : "");
    return s;
}

/* Runs api (config) -> filter (condition) -> out.csv; rc, with err and the output file. */
static int run(const char *config, const char *params_extra, const char *condition,
               int64_t batch_rows, struct px_error *err, char **csv,
               struct px_engine_result *res_out)
{
    char graph_text[4096], conns_text[2048], path[PATH_MAX + 16];
    snprintf(graph_text, sizeof(graph_text),
             "{\"nodes\":[{\"id\":\"api\",\"kind\":\"source\",\"type\":\"http\","
             "\"connection_id\":\"c_api\",\"config\":%s},"
             "{\"id\":\"keep\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":"
             "{\"condition\":\"%s\"}},"
             "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":"
             "\"c_out\",\"config\":{\"mode\":\"replace\"}}],"
             "\"edges\":[{\"from\":\"api\",\"to\":\"keep\"},{\"from\":\"keep\",\"to\":\"load\"}]}",
             config, condition);
    char *params = api_params(params_extra);
    snprintf(conns_text, sizeof(conns_text), "{\"c_api\":%s,\"c_out\":{\"path\":\"out.csv\"}}",
             params);
    free(params);
    struct json_object *graph = json_tokener_parse(graph_text);
    struct conns conns = {json_tokener_parse(conns_text)};
    assert_non_null(graph);
    assert_non_null(conns.map);
    snprintf(path, sizeof(path), "%s/out.csv", root);
    unlink(path);
    struct px_engine_opts opts = {.conn = resolve_conn,
                                  .conn_ctx = &conns,
                                  .files_root = root,
                                  .now_us = 1717243200000000,
                                  .batch_rows = batch_rows,
                                  .memory_budget = budget_mb << 20};
    struct px_engine_result res;
    px_error_clear(err);
    reset_hits();
    int rc = px_engine_run(graph, &opts, &res, err);
    if (res_out)
        *res_out = res;
    else
        px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
    if (csv) {
        *csv = NULL;
        FILE *f = fopen(path, "rb");
        if (f) {
            struct px_buf b;
            px_buf_init(&b, 1 << 20);
            char tmp[4096];
            size_t n;
            while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
                assert_int_equal(px_buf_append(&b, tmp, n), 0);
            fclose(f);
            *csv = px_buf_take(&b);
        }
    }
    return rc;
}

/* A run that must succeed with exactly want in out.csv. */
static void run_ok(const char *config, const char *condition, int64_t batch_rows, int64_t rows_read,
                   const char *want)
{
    struct px_error err;
    struct px_engine_result res;
    char *csv = NULL;
    int rc = run(config, NULL, condition, batch_rows, &err, &csv, &res);
    if (rc != 0)
        fail_msg("run of %s failed: %s", config, err.message);
    assert_int_equal(res.rows_read, rows_read);
    assert_non_null(csv);
    if (strcmp(csv, want) != 0)
        fail_msg("%s\n--- expected\n%s--- got\n%s", config, want, csv);
    free(csv);
    px_engine_result_cleanup(&res);
}

/* A run that must fail: its error, with the message checked for the token. */
static struct px_error run_fail(const char *config, const char *params_extra, int64_t batch_rows)
{
    struct px_error err;
    struct px_engine_result res;
    int rc = run(config, params_extra, "true", batch_rows, &err, NULL, &res);
    if (rc == 0)
        fail_msg("run of %s should fail", config);
    assert_int_equal(rc, -err.code);
    assert_string_equal(res.failed_node, "api");
    assert_non_null(strstr(err.message, "node 'api': "));
    assert_null(strstr(err.message, TOKEN));
    assert_null(strstr(err.hint, TOKEN));
    assert_null(strstr(err.message, "acme")); /* a header value */
    px_engine_result_cleanup(&res);
    return err;
}

static void assert_has(const char *s, const char *sub)
{
    if (!strstr(s, sub))
        fail_msg("'%s' lacks '%s'", s, sub);
}

/* ---- tests ---- */

static void test_items_filter_csv(void **state)
{
    (void)state;
    run_ok("{\"path\":\"/items\"}", "price > 10", 0, 3,
           "id,name,price,active,created_at,tags,meta\n"
           "2,\xe6\x97\xa5\xe6\x9c\xac,12.0,false,2024-05-02T09:30:00Z,[],\n"
           "3,\"plain \"\"quoted\"\", comma\",100.25,true,,\"[\"\"c\"\"]\","
           "\"{\"\"deep\"\":{\"\"x\"\":[1,2]}}\"\n");
    assert_int_equal(reset_hits(), 1);
    run_ok("{\"path\":\"gzip\"}", "true", 0, 2, "id,z\n1,gz\n2,ip\n");
    /* Nested values keep their JSON text; unicode passes through; redirects are followed. */
    run_ok("{\"path\":\"redirect\"}", "id = 1", 2, 3,
           "id,name,price,active,created_at,tags,meta\n"
           "1,Zo\xc3\xab,9.5,true,2024-05-01T10:00:00Z,\"[\"\"a\"\",\"\"b\"\"]\","
           "\"{\"\"url\"\":\"\"http://x/y\"\",\"\"n\"\":1}\"\n");
}

/* Column types straight from the connector, and first_row across batches. */
static void test_types(void **state)
{
    (void)state;
    char *params_text = api_params(NULL);
    struct json_object *params = json_tokener_parse(params_text);
    free(params_text);
    struct json_object *config = json_tokener_parse("{\"path\":\"/items\"}");
    struct px_engine_opts opts = {0};
    struct px_node_ctx ctx = {
        .node_id = "api", .config = config, .params = params, .opts = &opts, .batch_rows = 2};
    struct px_error err;
    px_error_clear(&err);
    void *st = NULL;
    assert_int_equal(px__conn_http.open_source(&ctx, &st, &err), 0);
    struct px_batch *b = NULL;
    assert_int_equal(px__conn_http.next_batch(st, &b, &err), 0);
    assert_non_null(b);
    assert_int_equal(b->nrows, 2);
    assert_int_equal(b->first_row, 1);
    static const enum px_col_type want[] = {PX_COL_INT,   PX_COL_STRING,    PX_COL_FLOAT,
                                            PX_COL_BOOL,  PX_COL_TIMESTAMP, PX_COL_STRING,
                                            PX_COL_STRING};
    static const char *const names[] = {"id",         "name", "price", "active",
                                        "created_at", "tags", "meta"};
    assert_int_equal(b->ncols, 7);
    for (int i = 0; i < 7; i++) {
        assert_string_equal(b->cols[i].name, names[i]);
        assert_int_equal(b->cols[i].type, want[i]);
    }
    assert_true(px_batch_is_null(&b->cols[6], 1));         /* meta: null */
    assert_int_equal(b->cols[4].v.i[0], 1714557600000000); /* 2024-05-01T10:00:00Z */
    px_batch_destroy(b);
    assert_int_equal(px__conn_http.next_batch(st, &b, &err), 0);
    assert_non_null(b);
    assert_int_equal(b->nrows, 1);
    assert_int_equal(b->first_row, 3);
    assert_true(px_batch_is_null(&b->cols[4], 0));
    px_batch_destroy(b);
    assert_int_equal(px__conn_http.next_batch(st, &b, &err), 0);
    assert_null(b);
    px__conn_http.close_source(st);
    json_object_put(config);
    json_object_put(params);
}

static void test_records_path(void **state)
{
    (void)state;
    run_ok("{\"path\":\"/wrapped\",\"records_path\":\"data.items\"}", "ok", 0, 2,
           "id,ok\n7,true\n");
    struct px_error e = run_fail("{\"path\":\"/wrapped\",\"records_path\":\"data.rows\"}", NULL, 0);
    assert_int_equal(e.code, PX_EINVALID);
    assert_has(e.message, "records_path 'data.rows' not found: no key 'rows' at 'data' (keys "
                          "there: 'items', 'total')");
    e = run_fail("{\"path\":\"/wrapped\",\"records_path\":\"result\"}", NULL, 0);
    assert_has(e.message, "no key 'result' at the top level (keys there: 'data', 'meta')");
    e = run_fail("{\"path\":\"/wrapped\"}", NULL, 0);
    assert_has(e.message, "the response is an object, not an array of records");
    e = run_fail("{\"path\":\"/notobj\"}", NULL, 0);
    assert_has(e.message, "page 1, record 2: not a JSON object but int");
}

static void test_pagination(void **state)
{
    (void)state;
    /* page: 3 pages of 2, 2, 1 records, then an empty page. */
    run_ok("{\"path\":\"/paged\",\"pagination\":{\"type\":\"page\",\"size_param\":\"per_page\","
           "\"page_size\":2}}",
           "id <> 4", 2, 5, "id,page\n1,1\n2,1\n3,2\n5,3\n");
    assert_int_equal(reset_hits(), 4);
    /* max_pages stops early with the rows read: not an error. */
    run_ok("{\"path\":\"/paged\",\"pagination\":{\"type\":\"page\",\"size_param\":\"per_page\","
           "\"page_size\":2,\"max_pages\":2}}",
           "true", 0, 4, "id,page\n1,1\n2,1\n3,2\n4,2\n");
    assert_int_equal(reset_hits(), 2);
    /* offset: advanced by the records received. */
    run_ok("{\"path\":\"/offset\",\"records_path\":\"results\",\"pagination\":{\"type\":"
           "\"offset\"}}",
           "true", 3, 5, "id,at\n1,0\n2,0\n3,2\n4,2\n5,4\n");
    assert_int_equal(reset_hits(), 4);
    /* cursor: values are URL-encoded; a number is a cursor too; null ends. */
    run_ok("{\"path\":\"/cursor\",\"records_path\":\"items\",\"pagination\":{\"type\":"
           "\"cursor\",\"cursor_param\":\"after\",\"cursor_path\":\"meta.next\"}}",
           "id > 1", 0, 5, "id\n2\n3\n4\n5\n");
    assert_int_equal(reset_hits(), 3);
    /* link_header: a relative next URL, then an absolute one, then none. */
    run_ok("{\"path\":\"/link\",\"pagination\":{\"type\":\"link_header\"}}", "true", 0, 5,
           "id\n1\n2\n3\n4\n5\n");
    assert_int_equal(reset_hits(), 3);
}

static void test_loops(void **state)
{
    (void)state;
    struct px_error e = run_fail("{\"path\":\"/loop\",\"records_path\":\"items\",\"pagination\":"
                                 "{\"type\":\"cursor\",\"cursor_path\":\"next\"}}",
                                 NULL, 0);
    assert_int_equal(e.code, PX_EINVALID);
    assert_has(e.message, "page 3 (GET /api/loop): the API returned the cursor 'a' a second time");
    e = run_fail("{\"path\":\"/linkloop\",\"pagination\":{\"type\":\"link_header\"}}", NULL, 0);
    assert_has(e.message, "points back to a page already read (/api/linkloop)");
    e = run_fail("{\"path\":\"/linkaway\",\"pagination\":{\"type\":\"link_header\"}}", NULL, 0);
    assert_has(e.message, "on another host");
    /* A redirect to another origin would carry the headers along: refused. */
    e = run_fail("{\"path\":\"/away\"}", NULL, 0);
    assert_has(e.message, "page 1 (GET /api/away): the API redirects to http://localhost:");
    e = run_fail("{\"path\":\"/redirloop\"}", NULL, 0);
    assert_has(e.message, "page 1 (GET /api/redirloop): more than 5 redirects");
    e = run_fail("{\"path\":\"/same\",\"pagination\":{\"type\":\"page\"}}", NULL, 0);
    assert_has(e.message, "page 2 (GET /api/same): the response is identical to the previous "
                          "page's; the API seems to ignore the 'page' parameter");
}

static void test_type_conflict(void **state)
{
    (void)state;
    /* Across batches the first batch's types hold (as in the JSON Lines source). */
    struct px_error e =
        run_fail("{\"path\":\"/conflict\",\"pagination\":{\"type\":\"page\"}}", NULL, 1);
    assert_has(e.message, "page 2, record 1: key 'a' is not a int");
    /* Within the first batch mixed types become string. */
    run_ok("{\"path\":\"/conflict\",\"pagination\":{\"type\":\"page\"}}", "true", 10, 2,
           "a\n1\nx\n");
}

static void test_auth(void **state)
{
    (void)state;
    struct px_error e = run_fail("{\"path\":\"/items\"}", "\"auth_token\":\"wrong-token\"", 0);
    /* the later auth_token member replaces the first */
    assert_int_equal(e.code, PX_EUNAUTHORIZED);
    assert_false(e.retryable);
    assert_has(e.message, "page 1 (GET /api/items): the API refused the credentials (HTTP 401)");
    assert_has(e.hint, "auth_token");
    assert_null(strstr(e.message, "wrong-token"));
    e = run_fail("{\"path\":\"/items\"}", "\"auth_token\":\"\"", 0);
    assert_int_equal(e.code, PX_EUNAUTHORIZED);
    /* An API that echoes the token: the message carries no trace of it. */
    e = run_fail("{\"path\":\"/echo400\"}", NULL, 0);
    assert_int_equal(e.code, PX_EINVALID);
    assert_has(e.message, "HTTP 400 (\"bad request; you sent Bearer [redacted]\")");
    /* Credentials belong in auth_token, not headers. */
    e = run_fail("{\"path\":\"/items\"}", "\"headers\":{\"authorization\":\"Basic eHh4\"}", 0);
    assert_int_equal(e.code, PX_EINVALID);
    assert_has(e.message, "must not contain an Authorization header");
    assert_has(e.hint, "auth_token");
    assert_null(strstr(e.message, "eHh4"));
    e = run_fail("{\"path\":\"/items\"}", "\"headers\":{\"X-Key\":\"abc\\r\\nX-Evil: 1\"}", 0);
    assert_has(e.message, "header 'X-Key' contains a line break");
    assert_null(strstr(e.message, "Evil"));
}

static void test_http_errors(void **state)
{
    (void)state;
    struct px_error e = run_fail("{\"path\":\"/fail500\"}", NULL, 0);
    assert_int_equal(e.code, PX_EIO);
    assert_true(e.retryable);
    assert_has(e.message, "the API failed with HTTP 500");
    e = run_fail("{\"path\":\"/ratelimit\"}", NULL, 0);
    assert_int_equal(e.code, PX_ERATELIMIT);
    assert_true(e.retryable);
    assert_has(e.message, "(HTTP 429); it asks to retry after 7 s (Retry-After)");
    assert_int_equal(e.retry_after_ms, 7000);
    e = run_fail("{\"path\":\"/nope?secret=shh\"}", NULL, 0);
    assert_int_equal(e.code, PX_ENOTFOUND);
    assert_false(e.retryable);
    assert_has(e.message, "page 1 (GET /api/nope): the API answered HTTP 404");
    assert_null(strstr(e.message, "shh"));
    e = run_fail("{\"path\":\"/html\"}", NULL, 0);
    assert_int_equal(e.code, PX_EINVALID);
    assert_has(e.message, "not valid JSON");
    assert_has(e.message, "content type text/html");
    assert_has(e.message, "starts with \"<html><body>Hello</body></html>\"");
    e = run_fail("{\"path\":\"/big\"}", NULL, 0);
    assert_int_equal(e.code, PX_ETOOLARGE);
    assert_has(e.message, "larger than 64 MiB");
    e = run_fail("{\"path\":\"/bigchunked\"}", NULL, 0);
    assert_int_equal(e.code, PX_ETOOLARGE);
    assert_has(e.message, "page 1 (GET /api/bigchunked): the response is larger than 64 MiB");
}

/* Refused connections and timeouts are retryable and carry curl's text. */
static void test_network_errors(void **state)
{
    (void)state;
    struct px_error e = run_fail("{\"path\":\"/slow\"}", "\"timeout_seconds\":1", 0);
    assert_int_equal(e.code, PX_EIO);
    assert_true(e.retryable);
    assert_has(e.message, "no complete answer within 1000 ms");
}

static int cancel_polls;
static bool cancel_second(void *ctx)
{
    (void)ctx;
    return ++cancel_polls >= 2;
}

/* Cancellation reaches a request in flight: the executor polls once before the first batch,
 * the connector while it waits for the slow route. */
static void test_cancel(void **state)
{
    (void)state;
    char *params = api_params("\"timeout_seconds\":30");
    char conns_text[2048];
    snprintf(conns_text, sizeof(conns_text), "{\"c_api\":%s,\"c_out\":{\"path\":\"out.csv\"}}",
             params);
    free(params);
    struct conns conns = {json_tokener_parse(conns_text)};
    struct json_object *graph = json_tokener_parse(
        "{\"nodes\":[{\"id\":\"api\",\"kind\":\"source\",\"type\":\"http\",\"connection_id\":"
        "\"c_api\",\"config\":{\"path\":\"/slow\"}},{\"id\":\"load\",\"kind\":\"destination\","
        "\"type\":\"csv\",\"connection_id\":\"c_out\"}],\"edges\":[{\"from\":\"api\",\"to\":"
        "\"load\"}]}");
    struct px_engine_opts opts = {
        .conn = resolve_conn, .conn_ctx = &conns, .files_root = root, .cancelled = cancel_second};
    struct px_engine_result res;
    struct px_error err;
    px_error_clear(&err);
    cancel_polls = 0;
    assert_int_equal(px_engine_run(graph, &opts, &res, &err), -PX_EUNAVAILABLE);
    assert_string_equal(err.message, "node 'api': cancelled");
    assert_true(cancel_polls >= 2);
    px_engine_result_cleanup(&res);
    json_object_put(graph);
    json_object_put(conns.map);
}

/* A page whose parsed JSON would pass the run's memory budget is refused while it arrives,
 * before json-c builds it (2 MiB of {"a":1} is ~230 MB of DOM); within the budget the same
 * page runs, and the run's accounted peak stays under the budget. */
static void test_page_memory_budget(void **state)
{
    (void)state;
    budget_mb = 32;
    struct px_error err = run_fail("{\"path\":\"objects?mb=2\"}", NULL, 0);
    assert_int_equal(err.code, PX_ETOOLARGE);
    assert_has(err.message, "page 1 (GET /api/objects): run memory budget of 32 MiB reached");
    assert_has(err.message, "MiB more for a page's parsed JSON)");
    assert_has(err.hint, "PLANASONIX_RUN_MEMORY_MB");
    assert_has(err.hint, "page_size");
    budget_mb = 512;
    struct px_engine_result res;
    char *csv = NULL;
    int rc = run("{\"path\":\"objects?mb=2\"}", NULL, "true", 0, &err, &csv, &res);
    if (rc != 0)
        fail_msg("within the budget: %s", err.message);
    assert_int_equal(res.rows_read, 2 << 17);
    assert_true(res.memory_peak > (int64_t)200 << 20); /* the page's DOM was accounted */
    assert_true(res.memory_peak < (int64_t)512 << 20);
    free(csv);
    px_engine_result_cleanup(&res);
    budget_mb = 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static struct px_probe_result probe(const char *params_text, const char *category, int timeout_ms)
{
    struct json_object *params = json_tokener_parse(params_text);
    assert_non_null(params);
    struct px_probe_result r;
    assert_int_equal(px_engine_probe("http", category, params, root, timeout_ms, &r), 0);
    json_object_put(params);
    struct json_object *j = px_probe_result_json("conn_x", &r);
    assert_null(strstr(json_object_to_json_string(j), TOKEN));
    json_object_put(j);
    if (!r.reachable) {
        assert_int_equal(r.latency_ms, -1);
        assert_true(r.error.code != 0);
    }
    return r;
}

static void test_probe(void **state)
{
    (void)state;
    char *p = api_params(NULL);
    struct px_probe_result r = probe(p, "source", 2000);
    free(p);
    assert_true(r.reachable);
    assert_string_equal(r.server_version, "TestAPI/1.2");
    assert_true(r.latency_ms >= 0);
    /* Without the token: 401. */
    char t[512];
    snprintf(t, sizeof(t), "{\"base_url\":\"http://127.0.0.1:%d/api\"}", port);
    r = probe(t, "source", 2000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EUNAUTHORIZED);
    assert_has(r.error.message, "refused the credentials (HTTP 401)");
    /* 404 on base_url. */
    snprintf(t, sizeof(t), "{\"base_url\":\"http://127.0.0.1:%d/api/none\",\"auth_token\":\"%s\"}",
             port, TOKEN);
    r = probe(t, "source", 2000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_ENOTFOUND);
    /* A destination is refused without a request. */
    r = probe(t, "destination", 2000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    /* Nothing listens: refused, retryable. */
    snprintf(t, sizeof(t), "{\"base_url\":\"http://127.0.0.1:%d/\",\"auth_token\":\"%s\"}",
             free_port(), TOKEN);
    r = probe(t, "source", 2000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EIO);
    assert_true(r.error.retryable);
    assert_has(r.error.message, "the request failed");
    /* A server that never answers: the probe gives up after timeout_ms. */
    snprintf(t, sizeof(t), "{\"base_url\":\"http://127.0.0.1:%d/api/slow\",\"auth_token\":\"%s\"}",
             port, TOKEN);
    r = probe(t, "source", 300);
    assert_false(r.reachable);
    assert_true(r.error.retryable);
    assert_has(r.error.message, "no complete answer within 300 ms");
    /* Bad settings. */
    r = probe("{\"base_url\":\"ftp://example.com/\"}", "source", 1000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EINVALID);
    assert_has(r.error.message, "http:// or https://");
}

/* The egress policy (issue 10 item 5): with PLANASONIX_EGRESS_DENY=127.0.0.0/8 a run and the
 * probe are refused before any request reaches the server, by address (a name that resolves
 * to a denied address too); a narrower PLANASONIX_EGRESS_ALLOW lets it through again. */
static void test_egress_policy(void **state)
{
    (void)state;
    setenv("PLANASONIX_EGRESS_DENY", "127.0.0.0/8,::1", 1);
    px_egress_reload();
    struct px_error e = run_fail("{\"path\":\"/items\"}", NULL, 0);
    assert_int_equal(e.code, PX_EFORBIDDEN);
    assert_false(e.retryable);
    assert_has(e.message, "the egress policy refuses connections to 127.0.0.1 (denied by "
                          "127.0.0.0/8)");
    assert_has(e.hint, "PLANASONIX_EGRESS_DENY");
    assert_int_equal(reset_hits(), 0);
    char t[512];
    snprintf(t, sizeof(t), "{\"base_url\":\"http://localhost:%d/api\",\"auth_token\":\"%s\"}", port,
             TOKEN);
    struct px_probe_result r = probe(t, "source", 2000);
    assert_false(r.reachable);
    assert_int_equal(r.error.code, PX_EFORBIDDEN);
    assert_has(r.error.message, "egress policy");
    assert_int_equal(reset_hits(), 0);
    setenv("PLANASONIX_EGRESS_ALLOW", "127.0.0.1/32", 1);
    px_egress_reload();
    run_ok("{\"path\":\"/items\"}", "price > 10", 0, 3,
           "id,name,price,active,created_at,tags,meta\n"
           "2,\xe6\x97\xa5\xe6\x9c\xac,12.0,false,2024-05-02T09:30:00Z,[],\n"
           "3,\"plain \"\"quoted\"\", comma\",100.25,true,,\"[\"\"c\"\"]\","
           "\"{\"\"deep\"\":{\"\"x\"\":[1,2]}}\"\n");
    /* A redirect's connection goes through the same check: the first request is allowed,
     * then (the server turns the policy against itself, as a rebinding name would) the
     * redirect's new connection is refused before it reaches the server. */
    unsetenv("PLANASONIX_EGRESS_DENY");
    unsetenv("PLANASONIX_EGRESS_ALLOW");
    px_egress_reload();
    e = run_fail("{\"path\":\"rebind\"}", NULL, 0);
    assert_int_equal(e.code, PX_EFORBIDDEN);
    assert_has(e.message, "egress policy refuses connections to 127.0.0.1");
    assert_int_equal(reset_hits(), 1); /* /api/rebind only, never /api/items */
    unsetenv("PLANASONIX_EGRESS_DENY");
    unsetenv("PLANASONIX_EGRESS_ALLOW");
    px_egress_reload();
}

/* ---- fixture ---- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/px_http_XXXXXX");
    assert_non_null(mkdtemp(root));
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler,
        NULL, MHD_OPTION_SOCK_ADDR,
        &(struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
        MHD_OPTION_END);
    assert_non_null(daemon_);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    port = info->port;
    assert_true(port > 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stopping = 1;
    MHD_stop_daemon(daemon_);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_filter_csv),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_records_path),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_loops),
        cmocka_unit_test(test_type_conflict),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_network_errors),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_page_memory_budget),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_egress_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
