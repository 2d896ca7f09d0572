/*
 * The HTTP JSON API connector (source only): GETs params.base_url + config.path with libcurl,
 * page after page, finds the array of records in each JSON response (config.records_path) and
 * turns the records into typed batches.
 *
 * Requests (engine/connectors/http_req.c): "Accept: application/json", a planasonix User-Agent,
 * params.headers (names must be HTTP tokens, values free of CR/LF; an Authorization header is
 * refused: credentials go in auth_token, sent as "Authorization: Bearer <token>"), gzip/deflate
 * accepted, http/https only, redirects followed at most 5 times and only within base_url's
 * scheme, host and port (elsewhere the headers would follow), params.timeout_seconds (default
 * 30) per request, redirects included, connecting within at most 10 s. Each response body is
 * parsed as it arrives and may hold at most 64 MiB (decoded).
 *
 * Pagination (config.pagination.type):
 *   none         one request.
 *   page         page_param = 1, 2, ... until a page has no records.
 *   offset       offset_param = 0, then advanced by the number of records received, until a
 *                page has no records (stepping by what arrived, not by page_size, stays correct
 *                when an API silently caps the page size; the final empty page costs one
 *                request). For page and offset, a page whose body is identical to the
 *                previous page's stops the run with an error: the API ignores the parameter.
 *   cursor       the value at cursor_path in each response is sent as cursor_param in the next
 *                request; absent, null or "" ends. A cursor seen before is a loop: error.
 *   link_header  follows the URL of the Link header's rel="next" (relative URLs resolved
 *                against the current one) until there is none. A URL seen before is a loop, a
 *                URL on another scheme, host or port is refused (the token would follow it).
 * size_param = page_size is added to every request when both are given (link_header: only to
 * the first). After max_pages pages (default 1000) the source ends with the rows read so far:
 * that is not an error.
 *
 * Records: records_path is a dot-separated path ("data.items"; a number indexes an array)
 * to an array of objects, or absent when the response is the array; JSON null there is an
 * empty page. Columns follow the JSON Lines source (engine/connectors/file.c): the keys and types
 * come from the first batch (keys in first-seen order; int, float (int + float widen to float),
 * bool, string; objects and arrays become their JSON text; mixed types become string), and later
 * records must fit them, else the run fails naming the page and record. One addition: a string
 * column whose values are all RFC 3339 date-times ("2024-05-01T10:00:00Z", with seconds and a
 * zone) becomes a timestamp.
 *
 * Errors: HTTP 401/403 are unauthorized/insufficient_permissions, 404 not_found (naming the URL
 * path, never the query string), 429 rate_limited and 5xx io_error, both retryable and quoting
 * Retry-After; network failures (refused, DNS, timeout) are retryable io_error with curl's
 * text. Messages and hints never contain auth_token or a header value: any occurrence (say, an
 * API echoing the token in an error body) is replaced by "[redacted]".
 *
 * Probe: GET base_url within timeout_ms. Reachable when the final status (after redirects,
 * which follow the same rules) is 2xx; server_version is the Server response header (printable
 * ASCII, at most 63 characters), "" when the API sends none. 404 on base_url counts as unreachable.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/connectors/http.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/jsonval.h"
#include "engine/expr/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- paths into a response ---- */

/* Appends "'a', 'b', ..." (the keys of object o) to out, within its cap. */
static void list_keys(struct json_object *o, struct px_buf *out)
{
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        if (px_buf_printf(out, "%s'%.40s'", out->len ? ", " : "", k) < 0) {
            (void)px_buf_puts(out, ", ...");
            return;
        }
    }
    if (!out->len)
        (void)px_buf_puts(out, "none");
}

/* Follows a dot-separated path (a number indexes an array) from doc. true with *out (NULL for
 * JSON null) when found; false when a step is missing, with why saying where. */
static bool walk(struct json_object *doc, const char *path, struct json_object **out, char *why,
                 size_t why_size)
{
    struct json_object *cur = doc;
    const char *s = path;
    *out = NULL;
    while (*s) {
        size_t n = strcspn(s, ".");
        char seg[256], at[300];
        snprintf(seg, sizeof(seg), "%.*s", (int)(n < 255 ? n : 255), s);
        if (s == path)
            snprintf(at, sizeof(at), "the top level");
        else
            snprintf(at, sizeof(at), "'%.*s'", (int)(s - path - 1 < 250 ? s - path - 1 : 250),
                     path);
        struct json_object *next = NULL;
        bool found = false;
        if (json_object_is_type(cur, json_type_object)) {
            found = json_object_object_get_ex(cur, seg, &next);
            if (!found) {
                struct px_buf keys;
                px_buf_init(&keys, 200);
                list_keys(cur, &keys);
                snprintf(why, why_size, "no key '%s' at %s (keys there: %s)", seg, at, keys.data);
                px_buf_cleanup(&keys);
                return false;
            }
        } else if (json_object_is_type(cur, json_type_array) && n > 0 &&
                   strspn(seg, "0123456789") == strlen(seg)) {
            size_t i = strtoul(seg, NULL, 10);
            found = i < json_object_array_length(cur);
            next = found ? json_object_array_get_idx(cur, i) : NULL;
        }
        if (!found) {
            snprintf(why, why_size, "%s is %s, which has no '%s'", at,
                     json_type_to_name(json_object_get_type(cur)), seg);
            return false;
        }
        cur = next;
        s += n;
        if (*s == '.')
            s++;
        if (!cur && *s) {
            snprintf(why, why_size, "'%.*s' is null", (int)(s - path - 1), path);
            return false;
        }
    }
    *out = cur;
    return true;
}

/* The records array of a response (NULL: no records), or an error. */
static int find_records(struct json_object *doc, const char *path, const char *what,
                        struct json_object **out, struct px_error *err)
{
    *out = NULL;
    if (!doc)
        return 0;
    int rc;
    struct json_object *a = doc;
    char why[400];
    if (path && !walk(doc, path, &a, why, sizeof(why))) {
        rc = px_error_set(err, PX_EINVALID, "%s: records_path '%s' not found: %s", what, path, why);
        px_error_hint(err, "set records_path to the dot-separated path of the array of records "
                           "in the API's response");
        return rc;
    }
    if (!a)
        return 0; /* JSON null at the path: no records */
    if (json_object_is_type(a, json_type_array)) {
        *out = a;
        return 0;
    }
    if (!path && json_object_is_type(a, json_type_object)) {
        struct px_buf keys;
        px_buf_init(&keys, 200);
        list_keys(a, &keys);
        rc = px_error_set(err, PX_EINVALID,
                          "%s: the response is an object, not an array of records (keys: %s)", what,
                          keys.data);
        px_buf_cleanup(&keys);
        px_error_hint(err, "set records_path to the key (or dot-separated path) of the array "
                           "of records");
        return rc;
    }
    rc = px_error_set(err, PX_EINVALID, "%s: records_path '%s' is %s, not an array of records",
                      what, path ? path : "", json_type_to_name(json_object_get_type(a)));
    px_error_hint(err, "point records_path at the array of records");
    return rc;
}

/* ---- Link headers ---- */

/* The URL of the first rel="next" link in a Link header value (owned), or NULL. */
static char *link_next(const char *v)
{
    const char *p = v;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p != '<')
            return NULL;
        const char *u = ++p;
        const char *ue = strchr(p, '>');
        if (!ue)
            return NULL;
        p = ue + 1;
        bool next = false;
        while (*p && *p != ',') { /* ; name=value parameters */
            p += strspn(p, " \t;");
            const char *name = p;
            p += strcspn(p, "=;, \t");
            size_t nl = (size_t)(p - name);
            p += strspn(p, " \t");
            if (*p != '=')
                continue;
            p++;
            p += strspn(p, " \t");
            const char *val = p;
            size_t vl;
            if (*p == '"') {
                val = ++p;
                p += strcspn(p, "\"");
                vl = (size_t)(p - val);
                if (*p)
                    p++;
            } else {
                p += strcspn(p, ";, \t");
                vl = (size_t)(p - val);
            }
            if (nl == 3 && strncasecmp(name, "rel", 3) == 0) {
                /* rel holds space-separated relation types. */
                for (size_t i = 0; i + 4 <= vl; i++)
                    if (strncasecmp(val + i, "next", 4) == 0 && (i == 0 || val[i - 1] == ' ') &&
                        (i + 4 == vl || val[i + 4] == ' '))
                        next = true;
            }
        }
        if (next)
            return px_xstrndup(u, (size_t)(ue - u));
    }
    return NULL;
}

/* ---- a set of seen cursors / URLs (64-bit hashes) ---- */

struct seen {
    uint64_t *v;
    size_t cap, n;
};

/* Adds s; false when it was already there. */
static bool seen_add(struct seen *st, const char *s)
{
    uint64_t h = px__http_hash(PX_HTTP_HASH_INIT, s, strlen(s)) | 1;
    if ((st->n + 1) * 2 > st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        uint64_t *v = px_xcalloc(cap, sizeof(*v));
        for (size_t i = 0; i < st->cap; i++) {
            if (!st->v[i])
                continue;
            size_t j = st->v[i] & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = st->v[i];
        }
        free(st->v);
        st->v = v;
        st->cap = cap;
    }
    size_t i = h & (st->cap - 1);
    while (st->v[i]) {
        if (st->v[i] == h)
            return false;
        i = (i + 1) & (st->cap - 1);
    }
    st->v[i] = h;
    st->n++;
    return true;
}

/* ---- the source ---- */

struct httpsrc {
    struct px_http_conf cf;
    CURL *curl;
    const struct px_engine_opts *opts;
    int64_t batch_rows;
    /* paging */
    int64_t pages; /* requests made; the current page's number */
    int64_t offset;
    char *cursor;   /* the next cursor (owned), or NULL */
    char *next_url; /* link_header: the next page (owned), or NULL */
    struct seen seen;
    uint64_t last_hash;
    bool done; /* no further page */
    /* the current page */
    struct json_object *doc;
    int64_t doc_charged;      /* its estimated DOM, reserved in cf.mem */
    struct json_object *recs; /* borrowed from doc, or NULL */
    size_t nrecs, idx;
    /* columns */
    char **names;
    int *types;
    int ncols;
    bool typed;
    int64_t rownum;
};

static void httpsrc_close(void *state)
{
    struct httpsrc *s = state;
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    px_mem_sub(s->cf.mem, s->doc_charged);
    px__http_conf_cleanup(&s->cf);
    free(s->cursor);
    free(s->next_url);
    free(s->seen.v);
    json_object_put(s->doc);
    for (int i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    free(s);
}

static int httpsrc_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    struct httpsrc *s = px_xcalloc(1, sizeof(*s));
    int rc = px__http_conf_init(ctx, true, &s->cf, err);
    if (rc == 0 && !(s->curl = px__http_handle()))
        rc = px_error_set(err, PX_ENOMEM, "cannot create a libcurl handle");
    if (rc < 0) {
        px__http_redact(&s->cf, rc, err);
        httpsrc_close(s);
        return rc;
    }
    s->opts = ctx->opts;
    s->cf.mem = ctx->mem;
    s->batch_rows = ctx->batch_rows > 0 ? ctx->batch_rows : PX_BATCH_DEFAULT_ROWS;
    *state_out = s;
    return 0;
}

/* After a page: works out the next request, or that there is none. */
static int next_page_state(struct httpsrc *s, const struct px_http_xfer *x, const char *what,
                           struct px_error *err)
{
    const struct px_http_conf *cf = &s->cf;
    int rc = 0;
    switch (cf->pag) {
    case PX_PAG_NONE:
        s->done = true;
        break;
    case PX_PAG_PAGE:
    case PX_PAG_OFFSET:
        if (s->nrecs == 0) {
            s->done = true;
            break;
        }
        if (s->pages > 1 && x->hash == s->last_hash) {
            rc = px_error_set(err, PX_EINVALID,
                              "%s: the response is identical to the previous page's; the API "
                              "seems to ignore the '%s' parameter",
                              what, cf->pag == PX_PAG_PAGE ? cf->page_param : cf->offset_param);
            px_error_hint(err, "check pagination.%s against the API's documentation",
                          cf->pag == PX_PAG_PAGE ? "page_param" : "offset_param");
            break;
        }
        s->last_hash = x->hash;
        s->offset += (int64_t)s->nrecs;
        break;
    case PX_PAG_CURSOR: {
        struct json_object *v = NULL;
        char why[400];
        if (!walk(s->doc, cf->cursor_path, &v, why, sizeof(why)))
            v = NULL;
        const char *c = v ? json_object_get_string(v) : NULL;
        if (!v || !c || !*c) {
            s->done = true;
            break;
        }
        if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
            rc = px_error_set(err, PX_EINVALID, "%s: cursor_path '%s' holds %s, not a value", what,
                              cf->cursor_path, json_type_to_name(json_object_get_type(v)));
            break;
        }
        if (!seen_add(&s->seen, c)) {
            char snip[PX_HTTP_SNIPPET * 2];
            px__http_snippet(c, strlen(c), snip, sizeof(snip));
            rc = px_error_set(err, PX_EINVALID,
                              "%s: the API returned the cursor '%s' a second time; stopped to "
                              "avoid reading the same pages in a loop",
                              what, snip);
            px_error_hint(err, "check pagination.cursor_path and cursor_param against the API's "
                               "documentation");
            break;
        }
        free(s->cursor);
        s->cursor = px_xstrdup(c);
        break;
    }
    case PX_PAG_LINK: {
        char *ref = x->link.len ? link_next(x->link.data) : NULL;
        if (!ref) {
            s->done = true;
            break;
        }
        char *eff = NULL;
        curl_easy_getinfo(s->curl, CURLINFO_EFFECTIVE_URL, &eff);
        char *next = px__http_resolve(eff ? eff : cf->url, ref);
        free(ref);
        if (!next) {
            rc =
                px_error_set(err, PX_EINVALID, "%s: the Link header's next URL is not valid", what);
        } else if (!px__http_same_origin(next, cf->url)) {
            rc = px_error_set(err, PX_EINVALID,
                              "%s: the Link header's next URL is on another host, scheme or "
                              "port; it is not followed so that the credentials stay with the API",
                              what);
            px_error_hint(err, "set base_url to the address the API's links point to");
        } else if (!seen_add(&s->seen, next)) {
            char path[256];
            px__http_url_path(next, path, sizeof(path));
            rc = px_error_set(err, PX_EINVALID,
                              "%s: the Link header points back to a page already read (%s); "
                              "stopped to avoid a loop",
                              what, path);
        }
        if (rc < 0) {
            free(next);
            break;
        }
        free(s->next_url);
        s->next_url = next;
        break;
    }
    }
    if (rc == 0 && !s->done && s->pages >= cf->max_pages)
        s->done = true; /* max_pages: the source ends with what it has read */
    return rc;
}

/* Requests the next page and makes its records current. */
static int fetch_page(struct httpsrc *s, struct px_error *err)
{
    const struct px_http_conf *cf = &s->cf;
    json_object_put(s->doc);
    s->doc = NULL;
    px_mem_sub(s->cf.mem, s->doc_charged);
    s->doc_charged = 0;
    s->recs = NULL;
    s->nrecs = s->idx = 0;
    char num[32], size[32];
    const char *kv[4];
    int n = 0;
    const char *base = cf->url;
    switch (cf->pag) {
    case PX_PAG_NONE:
        break;
    case PX_PAG_PAGE:
        snprintf(num, sizeof(num), "%lld", (long long)s->pages + 1);
        kv[n * 2] = cf->page_param, kv[n * 2 + 1] = num, n++;
        break;
    case PX_PAG_OFFSET:
        snprintf(num, sizeof(num), "%lld", (long long)s->offset);
        kv[n * 2] = cf->offset_param, kv[n * 2 + 1] = num, n++;
        break;
    case PX_PAG_CURSOR:
        if (s->cursor)
            kv[n * 2] = cf->cursor_param, kv[n * 2 + 1] = s->cursor, n++;
        break;
    case PX_PAG_LINK:
        if (s->next_url)
            base = s->next_url;
        break;
    }
    if (cf->size_param && cf->page_size > 0 && !(cf->pag == PX_PAG_LINK && s->next_url)) {
        snprintf(size, sizeof(size), "%lld", (long long)cf->page_size);
        kv[n * 2] = cf->size_param, kv[n * 2 + 1] = size, n++;
    }
    char *url = px__http_url_with(s->curl, base, kv, n);
    s->pages++;
    if (!url) {
        int rc = px_error_set(err, PX_EINVALID, "base_url with path is not a valid http(s) URL");
        px_error_hint(err, "check the connection's base_url and the node's path (spaces and "
                           "other special characters must be percent-encoded)");
        return rc;
    }
    if (cf->pag == PX_PAG_LINK && s->pages == 1)
        (void)seen_add(&s->seen, url);
    char what[300], path[256];
    px__http_url_path(url, path, sizeof(path));
    snprintf(what, sizeof(what), "page %lld (GET %s)", (long long)s->pages, path);
    struct px_http_xfer *x = NULL;
    CURLcode cc =
        px__http_get(s->curl, cf, url, true, PX_HTTP_BODY_MAX, cf->timeout_ms, s->opts, &x);
    free(url);
    int rc = px__http_check(cf, x, cc, what, cf->timeout_ms, err);
    if (rc == 0) {
        s->doc = x->doc;
        x->doc = NULL;
        s->doc_charged = x->charged; /* the charge goes with the document */
        x->charged = 0;
        rc = find_records(s->doc, cf->records_path, what, &s->recs, err);
    }
    if (rc == 0) {
        s->nrecs = s->recs ? json_object_array_length(s->recs) : 0;
        rc = next_page_state(s, x, what, err);
    }
    px__http_xfer_free(x);
    return rc;
}

struct rec {
    struct json_object *o; /* a reference */
    int64_t page;
    size_t index; /* 1-based within the page */
};

/* Fixes the columns from the first batch's records. */
static int infer_columns(struct httpsrc *s, const struct rec *recs, int64_t n, struct px_error *err)
{
    struct px_json_cols c = {.names = s->names, .types = s->types, .n = s->ncols};
    int rc = 0;
    for (int64_t r = 0; r < n && !rc; r++)
        rc = px__json_cols_add(&c, recs[r].o, err);
    px__json_cols_done(&c);
    s->names = c.names;
    s->types = c.types;
    s->ncols = c.n;
    s->typed = rc == 0;
    return rc;
}

static int httpsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct httpsrc *s = state;
    *out = NULL;
    struct rec *recs = px_xcalloc((size_t)s->batch_rows, sizeof(*recs));
    int64_t n = 0;
    int rc = 0;
    while (n < s->batch_rows) {
        if (s->idx >= s->nrecs) {
            if (s->done)
                break;
            if ((rc = fetch_page(s, err)) < 0)
                break;
            continue;
        }
        struct json_object *o = json_object_array_get_idx(s->recs, s->idx++);
        if (!json_object_is_type(o, json_type_object)) {
            rc = px_error_set(err, PX_EINVALID, "page %lld, record %zu: not a JSON object but %s",
                              (long long)s->pages, s->idx,
                              json_type_to_name(json_object_get_type(o)));
            px_error_hint(err, "records_path must point at an array of objects");
            break;
        }
        recs[n++] = (struct rec){json_object_get(o), s->pages, s->idx};
    }
    if (rc == 0 && n > 0 && !s->typed)
        rc = infer_columns(s, recs, n, err);
    struct px_batch *b = NULL;
    if (rc == 0 && n > 0) {
        b = px_batch_create(s->batch_rows);
        b->first_row = s->rownum + 1;
        for (int i = 0; i < s->ncols; i++)
            px_batch_add_column(b, s->names[i], (enum px_col_type)s->types[i]);
        for (int64_t r = 0; r < n && rc == 0; r++) {
            json_object_object_foreach(recs[r].o, key, val)
            {
                int i = px_batch_find(b, key);
                if (i < 0) {
                    rc = px_error_set(err, PX_EINVALID,
                                      "page %lld, record %zu: key '%.64s' is not among the "
                                      "columns found in the first %lld records",
                                      (long long)recs[r].page, recs[r].index, key,
                                      (long long)s->batch_rows);
                    px_error_hint(err, "the first records fix the columns; the API should send "
                                       "every key in every record (null is fine)");
                    break;
                }
                if (px__json_cell_set(b, i, r, val) < 0) {
                    rc = px_error_set(err, PX_EINVALID,
                                      "page %lld, record %zu: key '%.64s' is not a %s (the type "
                                      "was inferred from the first %lld records)",
                                      (long long)recs[r].page, recs[r].index, key,
                                      px_col_type_name(b->cols[i].type), (long long)s->batch_rows);
                    break;
                }
            }
        }
        b->nrows = n;
        s->rownum += n;
    }
    for (int64_t r = 0; r < n; r++)
        json_object_put(recs[r].o);
    free(recs);
    if (rc < 0) {
        px_batch_destroy(b);
        return px__http_redact(&s->cf, rc, err);
    }
    *out = b;
    return 0;
}

/* ---- probe ---- */

static int http_probe(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                      size_t version_size, struct px_error *err)
{
    if (write) {
        int rc = px_error_set(err, PX_EINVALID, "http connections can only be read (sources)");
        px_error_hint(err, "use this connection in a source node");
        return rc;
    }
    struct px_http_conf cf;
    int rc = px__http_conf_init(ctx, false, &cf, err);
    CURL *c = rc == 0 ? px__http_handle() : NULL;
    if (rc == 0 && !c)
        rc = px_error_set(err, PX_ENOMEM, "cannot create a libcurl handle");
    if (rc == 0) {
        char what[300], path[256];
        px__http_url_path(cf.url, path, sizeof(path));
        snprintf(what, sizeof(what), "GET %s", path);
        struct px_http_xfer *x = NULL;
        CURLcode cc = px__http_get(c, &cf, cf.url, false, PX_HTTP_BODY_MAX, timeout_ms, NULL, &x);
        rc = px__http_check(&cf, x, cc, what, timeout_ms, err);
        if (rc == 0)
            snprintf(version, version_size, "%s", x->server);
        else if (x->status == 404)
            px_error_hint(err, "check base_url; an API that serves nothing at its base URL "
                               "fails this test even though its paths may work");
        px__http_xfer_free(x);
    }
    if (c)
        curl_easy_cleanup(c);
    px__http_redact(&cf, rc, err);
    px__http_conf_cleanup(&cf);
    return rc;
}

const struct px_connector px__conn_http = {
    .version = 1,
    .name = "http",
    .description = "HTTP JSON API (GET, paginated; source only)",
    .open_source = httpsrc_open,
    .next_batch = httpsrc_next,
    .close_source = httpsrc_close,
    .probe = http_probe,
    .dialect = PX_SQL_NONE,
};
