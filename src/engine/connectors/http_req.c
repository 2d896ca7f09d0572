/*
 * One GET of the HTTP JSON API connector (engine/connectors/http.h): settings from the connection's
 * params and the node's config, libcurl handles restricted to http/https (redirects too, at most
 * 5), request headers (params.headers checked for CR/LF, Authorization refused: the token goes in
 * auth_token), a body parsed as JSON while it arrives and capped at 64 MiB, and the mapping of
 * every failure to a px_error whose message never contains auth_token or a header value.
 */
#include "engine/connectors/http.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/budget.h"
#include "engine/engine.h"
#include "engine/exec_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define HTTP_MAX_REDIRS 5L
#define HTTP_CONNECT_MAX_MS 10000L
#define HTTP_JSON_DEPTH 128
#define HTTP_UA "planasonix/0.1.0 (http connector)"

/* ---- connection and source settings ---- */

void px__http_conf_cleanup(struct px_http_conf *cf)
{
    free(cf->url);
    curl_slist_free_all(cf->headers);
    memset(cf, 0, sizeof(*cf));
}

static void add_secret(struct px_http_conf *cf, const char *s)
{
    if (s && strlen(s) >= 4 && cf->nsecrets < (int)(sizeof(cf->secrets) / sizeof(cf->secrets[0])))
        cf->secrets[cf->nsecrets++] = s;
}

/* Replaces every occurrence of each secret in s (a string in size bytes) with "[redacted]". */
static void redact_str(const struct px_http_conf *cf, char *s, size_t size)
{
    static const char mark[] = "[redacted]";
    for (int k = 0; k < cf->nsecrets; k++) {
        const char *sec = cf->secrets[k];
        size_t n = strlen(sec), w = 0;
        if (!strstr(s, sec))
            continue;
        char *tmp = px_xmalloc(size);
        for (const char *p = s; *p && w + 1 < size;) {
            if (strncmp(p, sec, n) == 0) {
                if (w + sizeof(mark) > size)
                    break;
                memcpy(tmp + w, mark, sizeof(mark) - 1);
                w += sizeof(mark) - 1;
                p += n;
            } else {
                tmp[w++] = *p++;
            }
        }
        tmp[w] = '\0';
        memcpy(s, tmp, w + 1);
        free(tmp);
    }
}

int px__http_redact(const struct px_http_conf *cf, int rc, struct px_error *err)
{
    if (rc < 0 && err) {
        redact_str(cf, err->message, sizeof(err->message));
        redact_str(cf, err->hint, sizeof(err->hint));
    }
    return rc;
}

static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* base_url + path: the path (and its query) goes before base_url's query, if any. */
static char *join_url(const char *base, const char *path)
{
    size_t bl = strcspn(base, "?#"), pl = strcspn(path, "?#");
    const char *bq = base[bl] == '?' ? base + bl + 1 : "";
    const char *pq = path[pl] == '?' ? path + pl + 1 : "";
    size_t bql = strcspn(bq, "#"), pql = strcspn(pq, "#");
    struct px_buf b;
    px_buf_init(&b, PX_HTTP_URL_MAX);
    bool slash_end = bl > 0 && base[bl - 1] == '/';
    if (slash_end && pl > 0 && path[0] == '/')
        bl--;
    int rc = px_buf_append(&b, base, bl);
    if (rc == 0 && pl > 0 && path[0] != '/' && !slash_end)
        rc = px_buf_puts(&b, "/");
    if (rc == 0)
        rc = px_buf_append(&b, path, pl);
    if (rc == 0 && (bql || pql))
        rc = px_buf_printf(&b, "?%.*s%s%.*s", (int)bql, bq, bql && pql ? "&" : "", (int)pql, pq);
    if (rc < 0) {
        px_buf_cleanup(&b);
        return NULL;
    }
    return px_buf_take(&b);
}

static int add_headers(struct px_http_conf *cf, struct json_object *params, struct px_error *err)
{
    struct json_object *h = px_json_get(params, "headers");
    bool accept = false;
    if (h && !json_object_is_type(h, json_type_object))
        return px_error_set(err, PX_EINVALID, "params.headers must be an object of name: value");
    if (h) {
        if (json_object_object_length(h) > 32)
            return px_error_set(err, PX_EINVALID, "params.headers has more than 32 headers");
        json_object_object_foreach(h, name, val)
        {
            size_t nl = strlen(name);
            bool ok = nl > 0 && nl <= 256;
            for (size_t i = 0; ok && i < nl; i++)
                ok = is_tchar((unsigned char)name[i]);
            if (!ok)
                return px_error_set(err, PX_EINVALID,
                                    "header name '%.64s' is not a valid HTTP header name", name);
            if (strcasecmp(name, "Authorization") == 0) {
                int rc = px_error_set(err, PX_EINVALID,
                                      "params.headers must not contain an Authorization header");
                px_error_hint(err, "put the token in the connection's auth_token (sent as "
                                   "\"Authorization: Bearer <token>\"), where it is stored "
                                   "encrypted");
                return rc;
            }
            if (!json_object_is_type(val, json_type_string))
                return px_error_set(err, PX_EINVALID, "the value of header '%s' must be a string",
                                    name);
            const char *v = json_object_get_string(val);
            size_t vl = (size_t)json_object_get_string_len(val);
            if (strlen(v) != vl || strpbrk(v, "\r\n") || vl > 4096)
                return px_error_set(err, PX_EINVALID,
                                    "the value of header '%s' contains a line break or a NUL, or "
                                    "is longer than 4096 bytes",
                                    name);
            add_secret(cf, v);
            accept = accept || strcasecmp(name, "Accept") == 0;
            char *line = px_xmalloc(nl + vl + 3);
            /* "Name;" is curl's way to send a header with an empty value. */
            snprintf(line, nl + vl + 3, vl ? "%s: %s" : "%s;", name, v);
            cf->headers = curl_slist_append(cf->headers, line);
            free(line);
        }
    }
    if (!accept)
        cf->headers = curl_slist_append(cf->headers, "Accept: application/json");
    const char *tok = px_json_get_str(params, "auth_token");
    if (tok && *tok) {
        if (strpbrk(tok, "\r\n") || strlen(tok) > 4096)
            return px_error_set(err, PX_EINVALID,
                                "auth_token contains a line break or is longer than 4096 bytes");
        add_secret(cf, tok);
        size_t n = strlen(tok) + 32;
        char *line = px_xmalloc(n);
        snprintf(line, n, "Authorization: Bearer %s", tok);
        cf->headers = curl_slist_append(cf->headers, line);
        memset(line, 0, n);
        free(line);
    }
    return 0;
}

static const char *cfg_str(struct json_object *o, const char *key, const char *def)
{
    const char *s = px_json_get_str(o, key);
    return s && *s ? s : def;
}

/* Reads params (and, for a source, config) into cf. */
int px__http_conf_init(const struct px_node_ctx *ctx, bool source, struct px_http_conf *cf,
                       struct px_error *err)
{
    memset(cf, 0, sizeof(*cf));
    int rc = px_curl_load(err);
    if (rc)
        return rc;
    const char *base = px_json_get_str(ctx->params, "base_url");
    if (!base || !*base)
        return px_error_set(err, PX_EINVALID, "the connection has no base_url");
    if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0) {
        rc = px_error_set(err, PX_EINVALID, "base_url must start with http:// or https://");
        px_error_hint(err, "set base_url to the API's address, e.g. https://api.example.com/v1");
        return rc;
    }
    rc = add_headers(cf, ctx->params, err);
    if (rc < 0)
        return rc;
    int64_t t = px_json_get_int(ctx->params, "timeout_seconds", 30);
    cf->timeout_ms = (long)(t < 1 ? 1 : t > 300 ? 300 : t) * 1000L;
    const char *path = source ? cfg_str(ctx->config, "path", "") : "";
    cf->url = join_url(base, path);
    if (!cf->url)
        return px_error_set(err, PX_EINVALID, "base_url and path are longer than %d bytes",
                            PX_HTTP_URL_MAX);
    if (!source)
        return 0;
    cf->records_path = cfg_str(ctx->config, "records_path", NULL);
    struct json_object *p = px_json_get(ctx->config, "pagination");
    const char *type = cfg_str(p, "type", "none");
    static const char *const names[] = {"none", "page", "offset", "cursor", "link_header"};
    cf->pag = (enum px_http_pag) - 1;
    for (int i = 0; i < 5; i++)
        if (strcmp(type, names[i]) == 0)
            cf->pag = (enum px_http_pag)i;
    if ((int)cf->pag < 0)
        return px_error_set(err, PX_EINVALID,
                            "pagination.type '%.32s' is not one of none, page, offset, cursor, "
                            "link_header",
                            type);
    cf->page_param = cfg_str(p, "page_param", "page");
    cf->offset_param = cfg_str(p, "offset_param", "offset");
    cf->size_param = cfg_str(p, "size_param", NULL);
    cf->cursor_param = cfg_str(p, "cursor_param", "cursor");
    cf->cursor_path = cfg_str(p, "cursor_path", NULL);
    cf->page_size = px_json_get_int(p, "page_size", 0);
    cf->max_pages = px_json_get_int(p, "max_pages", 1000);
    if (cf->max_pages < 1)
        cf->max_pages = 1;
    if (cf->pag == PX_PAG_CURSOR && !cf->cursor_path)
        return px_error_set(err, PX_EINVALID, "pagination type cursor needs cursor_path");
    return 0;
}

/* ---- one request ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

uint64_t px__http_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/* Copies header text into out as printable ASCII, trimmed. */
static void header_copy(char *out, size_t size, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < size; i++)
        out[k++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
    out[k] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    struct px_http_xfer *x = ud;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (after a redirect) */
        x->ctype[0] = x->retry_after[0] = x->server[0] = '\0';
        px_buf_reset(&x->link);
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(p, name, nl) == 0)
    if (IS("Content-Type")) {
        header_copy(x->ctype, sizeof(x->ctype), v, vl);
    } else if (IS("Retry-After")) {
        header_copy(x->retry_after, sizeof(x->retry_after), v, vl);
    } else if (IS("Server")) {
        header_copy(x->server, sizeof(x->server), v, vl);
    } else if (IS("Link")) {
        char tmp[PX_HTTP_LINK_MAX];
        header_copy(tmp, sizeof(tmp), v, vl);
        if (x->link.len)
            (void)px_buf_puts(&x->link, ", ");
        (void)px_buf_puts(&x->link, tmp); /* too long: the rest is dropped */
    }
#undef IS
    return n;
}

static bool all_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", p[i]))
            return false;
    return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct px_http_xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->status)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
    if (n > x->cap - x->nbytes) {
        x->abort = PX_AB_TOO_LARGE;
        return 0;
    }
    x->nbytes += n;
    x->hash = px__http_hash(x->hash, p, n);
    size_t keep = n < sizeof(x->prefix) - x->nprefix ? n : sizeof(x->prefix) - x->nprefix;
    memcpy(x->prefix + x->nprefix, p, keep);
    x->nprefix += keep;
    if (!x->parse || x->status < 200 || x->status > 299) {
        if (x->nprefix < sizeof(x->prefix))
            return n;
        x->abort = PX_AB_ENOUGH; /* the status says it all; the prefix is for the message */
        return 0;
    }
    if (x->doc) {
        if (all_space(p, n))
            return n;
        x->trailing = true;
        x->abort = PX_AB_NOT_JSON;
        return 0;
    }
    if (x->mem) { /* reserve the DOM these bytes will build before json-c builds it */
        px__json_cost_feed(&x->cost, p, n);
        int64_t more = x->cost.cost - x->charged;
        if (more > 0) {
            if (px_mem_reserve(x->mem, more, "a page's parsed JSON", &x->budget_err) < 0) {
                x->abort = PX_AB_BUDGET;
                return 0;
            }
            x->charged += more;
        }
    }
    for (size_t off = 0; off < n;) {
        int chunk = n - off > 1 << 20 ? 1 << 20 : (int)(n - off);
        struct json_object *o = json_tokener_parse_ex(x->tok, p + off, chunk);
        enum json_tokener_error je = json_tokener_get_error(x->tok);
        if (o) {
            x->doc = o;
            size_t used = json_tokener_get_parse_end(x->tok);
            if (!all_space(p + off + used, n - off - used)) {
                x->trailing = true;
                x->abort = PX_AB_NOT_JSON;
                return 0;
            }
            return n;
        }
        if (je != json_tokener_continue) {
            x->jerr = je;
            x->abort = PX_AB_NOT_JSON;
            return 0;
        }
        off += (size_t)chunk;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct px_http_xfer *x = ud;
    if (x->opts && x->opts->cancelled && x->opts->cancelled(x->opts->cancel_ctx)) {
        x->abort = PX_AB_CANCELLED;
        return 1;
    }
    return 0;
}

/* Every connection curl opens (the first URL, a redirect's, a retry) is checked against the
 * egress policy on the address it resolved, right before connect(): no DNS rebinding. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct px_http_xfer *x = ud;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        struct px_error e;
        px_error_clear(&e);
        if (px_egress_check("http", &a->addr, &e) < 0) {
            if (!x->egress) {
                x->egress = px_xcalloc(1, sizeof(*x->egress));
                *x->egress = e;
            }
            x->egress_refused = true;
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

CURL *px__http_handle(void)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* followed by px__http_get */
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, HTTP_UA);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return c;
}

void px__http_xfer_free(struct px_http_xfer *x)
{
    px_mem_sub(x->mem, x->charged);
    if (x->tok)
        json_tokener_free(x->tok);
    json_object_put(x->doc);
    px_buf_cleanup(&x->link);
    free(x->egress);
    free(x);
}

/* The scheme://host:port of url into out ("" when unparsable). */
static void url_origin(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *sc = NULL, *h = NULL, *pt = NULL;
    out[0] = '\0';
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &sc, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(out, size, "%.16s://%.100s:%.8s", sc, h, pt);
    curl_free(sc);
    curl_free(h);
    curl_free(pt);
    curl_url_cleanup(u);
}

/* Redirects are followed here rather than by curl, and only within base_url's origin: curl
 * would drop Authorization on another host but still send the other params.headers (API keys
 * among them). */
CURLcode px__http_get(CURL *c, const struct px_http_conf *cf, const char *url, bool parse,
                      size_t cap, long timeout_ms, const struct px_engine_opts *opts,
                      struct px_http_xfer **out)
{
    struct px_http_xfer *x = px_xcalloc(1, sizeof(*x));
    *out = x;
    x->curl = c;
    x->opts = opts;
    x->parse = parse;
    x->cap = cap;
    x->hash = PX_HTTP_HASH_INIT;
    x->mem = parse ? cf->mem : NULL;
    px_buf_init(&x->link, PX_HTTP_LINK_MAX);
    if (parse) {
        x->tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
        json_tokener_set_flags(x->tok, JSON_TOKENER_VALIDATE_UTF8);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, cf->headers);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    char *cur = px_xstrdup(url);
    CURLcode cc;
    int64_t deadline = px_mono_us() + (int64_t)timeout_ms * 1000; /* for all redirects */
    for (;;) {
        long left = (long)((deadline - px_mono_us()) / 1000);
        if (left < 1)
            left = 1;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         left < HTTP_CONNECT_MAX_MS ? left : HTTP_CONNECT_MAX_MS);
        curl_easy_setopt(c, CURLOPT_URL, cur);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
        char *loc = NULL;
        bool done = cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && x->abort == PX_AB_ENOUGH);
        if (done || x->status < 300 || x->status > 399 || x->status == 304 ||
            curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
            break;
        if (!px__http_same_origin(loc, cf->url)) {
            url_origin(loc, x->away, sizeof(x->away));
            if (!x->away[0])
                snprintf(x->away, sizeof(x->away), "an invalid URL");
            break;
        }
        if (x->redirects++ == HTTP_MAX_REDIRS)
            break;
        char *next = px_xstrdup(loc);
        free(cur);
        cur = next;
        /* The 3xx body counted nothing: start the next response afresh. */
        x->status = 0;
        x->nbytes = x->nprefix = 0;
        x->hash = PX_HTTP_HASH_INIT;
        x->abort = PX_AB_NONE;
        x->errbuf[0] = '\0';
    }
    free(cur);
    if (cc == CURLE_OK && parse && !x->doc && x->abort == PX_AB_NONE && x->nbytes > 0) {
        /* A bare number only ends at a delimiter. */
        x->doc = json_tokener_parse_ex(x->tok, " ", 1);
        x->jerr = json_tokener_get_error(x->tok);
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    return cc;
}

/* The path of url (no query string, no credentials) for messages. */
void px__http_url_path(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *p = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK && p)
        snprintf(out, size, "%.200s", p);
    else
        snprintf(out, size, "/");
    curl_free(p);
    curl_url_cleanup(u);
}

/* A quotable start of a body: at most PX_HTTP_SNIPPET bytes, control characters blanked, cut on a
 * UTF-8 boundary. */
void px__http_snippet(const char *p, size_t n, char *out, size_t size)
{
    size_t k = 0;
    bool more = n > PX_HTTP_SNIPPET;
    if (n > PX_HTTP_SNIPPET)
        n = PX_HTTP_SNIPPET;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80 && more)
        n--;
    for (size_t i = 0; i < n && k + 4 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[k] = '\0';
    if (more && k + 4 < size)
        memcpy(out + k, "...", 4);
}

static void retry_after_note(const struct px_http_xfer *x, char *note, size_t size,
                             struct px_error *err)
{
    note[0] = '\0';
    if (!x->retry_after[0])
        return;
    char *end;
    long secs = strtol(x->retry_after, &end, 10);
    if (!*end && secs >= 0) {
        snprintf(note, size, "; it asks to retry after %ld s (Retry-After)", secs);
        err->retry_after_ms = secs * 1000;
    } else {
        snprintf(note, size, "; it asks to retry after %s (Retry-After)", x->retry_after);
    }
}

/* Turns the outcome of a request into 0 (a usable 2xx response) or an error about what
 * ("page 2 (GET /v1/orders)"). */
int px__http_check(const struct px_http_conf *cf, const struct px_http_xfer *x, CURLcode cc,
                   const char *what, long timeout_ms, struct px_error *err)
{
    int rc;
    if (x->abort == PX_AB_CANCELLED)
        return px_error_set(err, PX_EUNAVAILABLE, "cancelled");
    if (x->abort == PX_AB_BUDGET) {
        rc = px_error_set(err, PX_ETOOLARGE, "%s: %s", what, x->budget_err.message);
        px_error_hint(err, "%s", x->budget_err.hint);
        return rc;
    }
    if (x->away[0] || x->redirects > HTTP_MAX_REDIRS) {
        if (x->away[0])
            rc = px_error_set(err, PX_EINVALID,
                              "%s: the API redirects to %s, another origin; not followed so that "
                              "the credentials stay with the API",
                              what, x->away);
        else
            rc = px_error_set(err, PX_EINVALID, "%s: more than %ld redirects", what,
                              HTTP_MAX_REDIRS);
        px_error_hint(err, "set base_url to the address the API redirects to");
        return rc;
    }
    if (x->abort == PX_AB_TOO_LARGE || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = px_error_set(err, PX_ETOOLARGE, "%s: the response is larger than %zu MiB", what,
                          PX_HTTP_BODY_MAX >> 20);
        px_error_hint(err, "ask for smaller pages (pagination.page_size with size_param) or "
                           "narrow the request with query parameters in path");
        return rc;
    }
    bool transfer_ok = cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && x->abort != PX_AB_NONE);
    if (!transfer_ok && x->egress_refused && x->egress) {
        rc = px_error_set(err, PX_EFORBIDDEN, "%s: %s", what, x->egress->message);
        px_error_hint(err, "%s", x->egress->hint);
        return rc;
    }
    if (!transfer_ok) {
        const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
            rc = px_error_set(err, PX_EIO, "%s: no complete answer within %ld ms (%s)", what,
                              timeout_ms, detail);
            px_error_hint(err, "the API is slow or unreachable; try again later or raise the "
                               "connection's timeout_seconds");
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_TOO_MANY_REDIRECTS:
        case CURLE_URL_MALFORMAT:
            rc = px_error_set(err, PX_EINVALID, "%s: %s", what, detail);
            px_error_hint(err, "check base_url and path; redirects are followed only to http "
                               "and https URLs, at most 5 times");
            return rc;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
            rc = px_error_set(err, PX_EIO, "%s: TLS verification failed (%s)", what, detail);
            px_error_hint(err, "the API's certificate is not trusted by this server");
            return rc;
        default:
            rc = px_error_set(err, PX_EIO, "%s: the request failed: %s", what, detail);
            px_error_hint(err, "check that base_url is right and the API is reachable from "
                               "the server; the run can be retried");
            break;
        }
        err->retryable = true;
        return rc;
    }
    char note[128], snip[PX_HTTP_SNIPPET * 2];
    long st = x->status;
    char body[PX_HTTP_ERRBODY_MAX + 1];
    for (size_t i = 0; i < x->nprefix; i++)
        body[i] = x->prefix[i] ? x->prefix[i] : ' ';
    body[x->nprefix] = '\0';
    redact_str(cf, body, sizeof(body)); /* before cutting: no half secret survives */
    px__http_snippet(body, strlen(body), snip, sizeof(snip));
    if (st == 401 || st == 403) {
        rc = px_error_set(err, st == 401 ? PX_EUNAUTHORIZED : PX_EFORBIDDEN,
                          "%s: the API refused the credentials (HTTP %ld)", what, st);
        px_error_hint(err, "check the connection's auth_token (sent as \"Authorization: Bearer "
                           "<token>\") and that it grants access to this path");
        return rc;
    }
    if (st == 404) {
        rc = px_error_set(err, PX_ENOTFOUND, "%s: the API answered HTTP 404 (not found)", what);
        px_error_hint(err, "check the connection's base_url and the node's path");
        return rc;
    }
    if (st == 429 || st >= 500) {
        retry_after_note(x, note, sizeof(note), err);
        if (st == 429)
            rc = px_error_set(err, PX_ERATELIMIT, "%s: the API is rate limiting (HTTP 429)%s", what,
                              note);
        else
            rc = px_error_set(err, PX_EIO, "%s: the API failed with HTTP %ld%s", what, st, note);
        px_error_hint(err, "a temporary condition on the API's side; the run can be retried");
        err->retryable = true;
        return rc;
    }
    if (st < 200 || st > 299) {
        rc = px_error_set(err, PX_EINVALID, "%s: the API answered HTTP %ld%s%s%s", what, st,
                          snip[0] ? " (\"" : "", snip, snip[0] ? "\")" : "");
        px_error_hint(err, "check the node's path and query parameters and the connection's "
                           "headers");
        return rc;
    }
    if (!x->parse || (!x->doc && x->nbytes == 0 && (st == 204 || st == 205)))
        return 0;
    if (x->doc && !x->trailing &&
        (json_object_is_type(x->doc, json_type_array) ||
         json_object_is_type(x->doc, json_type_object)))
        return 0;
    const char *why = x->trailing                        ? "data after the JSON value"
                      : x->doc                           ? "a JSON scalar, not an object or array"
                      : x->nbytes == 0                   ? "an empty body"
                      : x->jerr == json_tokener_continue ? "JSON cut short"
                      : x->jerr != json_tokener_success  ? json_tokener_error_desc(x->jerr)
                                                         : "not JSON";
    rc = px_error_set(err, PX_EINVALID,
                      "%s: the response is not valid JSON (%s; content type %s; it starts with "
                      "\"%s\")",
                      what, why, x->ctype[0] ? x->ctype : "not given", snip);
    px_error_hint(err, "check that base_url and path point at a JSON API endpoint");
    return rc;
}

/* ---- URLs ---- */

/* Whether two URLs share scheme, host and port. */
bool px__http_same_origin(const char *a, const char *b)
{
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    CURLU *ua = curl_url(), *ub = curl_url();
    bool same = curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
                curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;
    for (int i = 0; same && i < 3; i++) {
        char *x = NULL, *y = NULL;
        same = curl_url_get(ua, parts[i], &x, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               curl_url_get(ub, parts[i], &y, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               strcasecmp(x, y) == 0;
        curl_free(x);
        curl_free(y);
    }
    curl_url_cleanup(ua);
    curl_url_cleanup(ub);
    return same;
}

/* ref resolved against base (owned), or NULL. */
char *px__http_resolve(const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *s = NULL, *out = NULL;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
        out = px_xstrdup(s);
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

/* url with name=value query parameters appended (escaped); owned, or NULL when invalid. */
char *px__http_url_with(CURL *c, const char *url, const char *const *kv, int n)
{
    CURLU *u = curl_url();
    char *s = NULL, *out = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
    for (int i = 0; ok && i < n; i++) {
        char *en = curl_easy_escape(c, kv[2 * i], 0), *ev = curl_easy_escape(c, kv[2 * i + 1], 0);
        ok = en && ev;
        if (ok) {
            size_t len = strlen(en) + strlen(ev) + 2;
            char *pair = px_xmalloc(len);
            snprintf(pair, len, "%s=%s", en, ev);
            ok = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY) == CURLUE_OK;
            free(pair);
        }
        curl_free(en);
        curl_free(ev);
    }
    if (ok && curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
        char *scheme = NULL;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0))
            out = px_xstrdup(s);
        curl_free(scheme);
    }
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}
