/* stdio proxy, the HTTP side: the PLANASONIX_API_URL → endpoint rule, one Streamable HTTP
 * exchange with the server (a POST of one message, or the session DELETE) on a libcurl handle,
 * and turning its outcome into what the client sees: the server's messages written to stdout,
 * or a JSON-RPC error for an unreachable server, 401, 403, 429 (with the retry time) and other
 * statuses (see proxy.h). */
#include "transport/proxy_int.h"

#include "base/buf.h"
#include "base/curl_api.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RESP_DEPTH 512           /* JSON nesting accepted in server messages */
#define ERR_BODY_MAX (64u << 10) /* bytes of a non-2xx body kept */

/* ---- endpoint rule ---------------------------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

int px_proxy_endpoint(const char *api_url, char **endpoint, char **display, struct px_error *err)
{
    *endpoint = *display = NULL;
    if (px_curl_load(err))
        return -PX_EUNAVAILABLE;
    CURLU *u = curl_url();
    if (!u)
        return px_error_set(err, PX_ENOMEM, "out of memory");
    int rc = 0;
    char *scheme = NULL, *path = NULL, *full = NULL, *shown = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, api_url, CURLU_NON_SUPPORT_SCHEME);
    if (uc) {
        rc = px_error_set(err, PX_EINVALID, "PLANASONIX_API_URL is not a valid URL (%s)",
                          curl_url_strerror(uc));
        px_error_hint(err, "set it to the server's address, e.g. https://mcp.example.com");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        rc = px_error_set(err, PX_EINVALID,
                          "PLANASONIX_API_URL must start with http:// or https://");
        px_error_hint(err, "e.g. https://mcp.example.com (the proxy posts to its /mcp endpoint)");
        goto out;
    }
    char *user = NULL;
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        curl_free(user);
        px_warn("proxy: the user info in PLANASONIX_API_URL is ignored; the key is taken from "
                "PLANASONIX_API_KEY");
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_PATH, &path, 0)) {
        rc = px_error_set(err, PX_EINVALID, "PLANASONIX_API_URL has no usable path");
        goto out;
    }
    size_t n = strlen(path);
    while (n && path[n - 1] == '/')
        n--;
    struct px_buf np;
    px_buf_init(&np, 8192);
    if (ends_with(path, n, "/mcp")) {
        px_buf_append(&np, path, n);
    } else if (ends_with(path, n, "/sse")) {
        px_buf_append(&np, path, n - 4);
        px_buf_puts(&np, "/mcp");
        px_info("proxy: PLANASONIX_API_URL names the legacy /sse endpoint; using /mcp (the proxy "
                "speaks Streamable HTTP)");
    } else {
        px_buf_append(&np, path, n);
        px_buf_puts(&np, "/mcp");
    }
    uc = curl_url_set(u, CURLUPART_PATH, np.data, 0);
    px_buf_cleanup(&np);
    if (uc || curl_url_get(u, CURLUPART_URL, &full, 0)) {
        rc = px_error_set(err, PX_EINVALID, "PLANASONIX_API_URL: cannot build the /mcp URL");
        goto out;
    }
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &shown, 0)) {
        rc = px_error_set(err, PX_EINVALID, "PLANASONIX_API_URL: cannot build the /mcp URL");
        goto out;
    }
    *endpoint = px_xstrdup(full);
    *display = px_xstrdup(shown);
out:
    curl_free(scheme);
    curl_free(path);
    curl_free(full);
    curl_free(shown);
    curl_url_cleanup(u);
    return rc;
}

/* ---- one HTTP exchange ------------------------------------------------------------------ */

static bool is_answer(struct json_object *m, struct json_object *id)
{
    if (json_object_is_type(m, json_type_array))
        return true; /* a batch response */
    if (!json_object_is_type(m, json_type_object) || px_json_get(m, "method"))
        return false;
    if (!json_object_object_get_ex(m, "result", NULL) &&
        !json_object_object_get_ex(m, "error", NULL))
        return false;
    if (!id)
        return true;
    struct json_object *mid = px_json_get(m, "id");
    /* An error with id null answers the request it came back for. */
    if (!mid && json_object_object_get_ex(m, "error", NULL))
        return true;
    return px_json_equal(mid, id);
}

/* An error response with id null/missing gets the request's id (so the client can match it). */
static bool fix_id(struct json_object *m, struct json_object *id)
{
    if (!id || !json_object_is_type(m, json_type_object) ||
        !json_object_object_get_ex(m, "error", NULL) || px_json_get(m, "id"))
        return false;
    struct json_object *copy = NULL;
    json_object_deep_copy(id, &copy, NULL);
    px_json_set(m, "id", copy);
    return true;
}

/* One message from the server (a JSON body or an SSE event's data). Returns false when it is
 * not JSON. */
static bool deliver(struct xfer *x, const char *text, size_t len)
{
    struct px_error err;
    struct json_object *m = px_json_parse(text, len, RESP_DEPTH, &err);
    if (!m)
        return false;
    if (is_answer(m, x->id)) {
        x->answered = true;
        if (x->capture) {
            json_object_put(x->captured);
            x->captured = json_object_get(m);
        }
    }
    if (x->emit) {
        bool fixed = x->id && is_answer(m, x->id) && fix_id(m, x->id);
        if (fixed || memchr(text, '\n', len) || memchr(text, '\r', len))
            px__proxy_write_json(x->p, m); /* re-serialized compactly: one line */
        else
            px__proxy_write_line(x->p, text, len);
    }
    json_object_put(m);
    return true;
}

static void on_event(void *ctx, const char *event, const char *data, size_t len)
{
    struct xfer *x = ctx;
    if (event[0] && strcmp(event, "message") != 0)
        return;
    if (len == 0)
        return; /* a priming event (id and empty data) */
    if (!deliver(x, data, len))
        px_warn("proxy: ignored an event from the server that is not JSON");
}

static bool header_value(const char *line, size_t n, const char *name, char *out, size_t size,
                         bool *too_long)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return false;
    const char *v = line + k + 1;
    size_t vl = n - k - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (vl >= size) {
        out[0] = '\0';
        if (too_long)
            *too_long = true;
        return true;
    }
    memcpy(out, v, vl);
    out[vl] = '\0';
    return true;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue, say): forget the previous one's headers */
        const char *sp = memchr(buf, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->content_type[0] = x->session_id[0] = x->retry_after[0] = '\0';
        x->session_id_bad = false;
        return n;
    }
    if (!header_value(buf, n, "content-type", x->content_type, sizeof(x->content_type), NULL) &&
        !header_value(buf, n, "mcp-session-id", x->session_id, sizeof(x->session_id),
                      &x->session_id_bad))
        header_value(buf, n, "retry-after", x->retry_after, sizeof(x->retry_after), NULL);
    return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->mode_set) {
        x->mode_set = true;
        x->sse = x->status == 200 && strncasecmp(x->content_type, "text/event-stream", 17) == 0;
    }
    if (x->sse) {
        if (px_sse_feed(&x->parser, ptr, n)) {
            x->too_large = true;
            return 0;
        }
        return n;
    }
    if (x->status < 200 || x->status >= 300) {
        size_t room = ERR_BODY_MAX > x->body.len ? ERR_BODY_MAX - x->body.len : 0;
        px_buf_append(&x->body, ptr, n < room ? n : room);
        return n;
    }
    if (px_buf_append(&x->body, ptr, n)) {
        x->too_large = true;
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct xfer *x = ud;
    if (x->no_abort)
        return 0;
    if (atomic_load(&x->p->abort_all) || px__proxy_stopping())
        return 1;
    if (x->job) {
        long long at = atomic_load(&x->job->cancelled_at);
        if (at && px__proxy_mono_ms() - at > PX_PROXY_CANCEL_GRACE_MS)
            return 1;
    }
    return 0;
}

void px__proxy_xfer_init(struct xfer *x, struct proxy *p, struct job *job, struct json_object *id,
                         bool emit, bool capture)
{
    memset(x, 0, sizeof(*x));
    x->p = p;
    x->job = job;
    x->id = id;
    x->emit = emit;
    x->capture = capture;
    px_buf_init(&x->body, PX_PROXY_MAX_MESSAGE);
    px_sse_init(&x->parser, PX_PROXY_MAX_MESSAGE, on_event, x);
}

void px__proxy_xfer_cleanup(struct xfer *x)
{
    px_buf_cleanup(&x->body);
    px_sse_cleanup(&x->parser);
    json_object_put(x->captured);
    x->captured = NULL;
}

CURL *px__proxy_new_handle(void)
{
    CURL *c = curl_easy_init();
    if (!c) {
        px_logerr("proxy: cannot create a libcurl handle");
        abort();
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)PX_PROXY_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)PX_PROXY_IDLE_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "planasonix-mcp (stdio proxy)");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return c;
}

/* Sends one exchange: POST body (or DELETE when body is NULL) with the session s. */
CURLcode px__proxy_perform(struct proxy *p, CURL *c, const char *body, size_t len,
                           const struct sess_snap *s, struct xfer *x)
{
    struct curl_slist *h = NULL;
    char line[SID_MAX + 64];
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Accept: application/json, text/event-stream");
        h = curl_slist_append(h, "Expect:");
    }
    if (p->auth)
        h = curl_slist_append(h, p->auth);
    if (s && s->sid[0]) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", s->sid);
        h = curl_slist_append(h, line);
    }
    if (s && s->version[0]) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", s->version);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, p->endpoint);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    if (body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PX_PROXY_DELETE_TIMEOUT_MS);
    }
    CURLcode rc = curl_easy_perform(c);
    if (x->sse && rc == CURLE_OK)
        px_sse_finish(&x->parser);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    /* wipe the copies of the key libcurl was given */
    for (struct curl_slist *i = h; i; i = i->next)
        memset(i->data, 0, strlen(i->data));
    curl_slist_free_all(h);
    return rc;
}

/* ---- turning an exchange into what the client sees -------------------------------------- */

/* The body as a JSON-RPC error object, or NULL. */
static struct json_object *rpc_error_body(struct xfer *x)
{
    if (!x->body.len)
        return NULL;
    struct json_object *m = px_json_parse(x->body.data, x->body.len, RESP_DEPTH, NULL);
    struct json_object *e = px_json_get(m, "error");
    if (json_object_is_type(e, json_type_object) &&
        json_object_is_type(px_json_get(e, "code"), json_type_int) && px_json_get_str(e, "message"))
        return m;
    json_object_put(m);
    return NULL;
}

/* The first bytes of a non-JSON-RPC body, for a message. */
static void body_snippet(const struct proxy *p, const struct xfer *x, char *out, size_t size)
{
    out[0] = '\0';
    if (!x->body.len)
        return;
    size_t n = x->body.len < 200 ? x->body.len : 200;
    snprintf(out, size, ": %.*s", (int)n, x->body.data);
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    px__proxy_redact(p, out);
}

static long parse_retry_after(const char *v)
{
    if (!v[0])
        return -1;
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0')
        return s < 0 ? -1 : s * 1000;
    time_t at = curl_getdate(v, NULL);
    if (at < 0)
        return -1;
    long long d = ((long long)at - (long long)time(NULL)) * 1000;
    return d < 0 ? 0 : (long)d;
}

void px__proxy_classify(struct proxy *p, struct xfer *x, CURLcode rc, bool expect_answer,
                        struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->retry_after_ms = -1;
    o->http_status = x->status;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        o->silent = true;
        return;
    }
    if (rc != CURLE_OK) {
        if (x->too_large) {
            o->code = PX_RPC_SERVER;
            snprintf(o->message, sizeof(o->message),
                     "The Planasonix server at %s sent a message larger than %u MiB", p->display,
                     PX_PROXY_MAX_MESSAGE >> 20);
            return;
        }
        if (x->answered)
            return; /* the answer arrived; how the connection ended does not matter */
        char cerr[CURL_ERROR_SIZE];
        snprintf(cerr, sizeof(cerr), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        px__proxy_redact(p, cerr);
        o->code = PX_RPC_SERVER;
        if (x->status == 0) {
            snprintf(o->message, sizeof(o->message), "Cannot reach the Planasonix server at %s: %s",
                     p->display, cerr);
            snprintf(o->hint, sizeof(o->hint),
                     "check PLANASONIX_API_URL and that the server is running "
                     "(`planasonix-mcp serve`) and reachable from this machine");
        } else {
            snprintf(o->message, sizeof(o->message),
                     "The connection to the Planasonix server at %s failed during the "
                     "response: %s",
                     p->display, cerr);
            snprintf(o->hint, sizeof(o->hint),
                     "the request may have been carried out; check before repeating it");
        }
        return;
    }
    long st = x->status;
    if (st >= 200 && st < 300) {
        if (!x->sse && x->body.len && !deliver(x, x->body.data, x->body.len)) {
            o->code = PX_RPC_SERVER;
            snprintf(o->message, sizeof(o->message),
                     "The Planasonix server at %s sent a response that is not JSON "
                     "(HTTP %ld, Content-Type %.60s)",
                     p->display, st, x->content_type[0] ? x->content_type : "none");
            snprintf(o->hint, sizeof(o->hint),
                     "check that PLANASONIX_API_URL points at a Planasonix server");
            return;
        }
        if (expect_answer && !x->answered) {
            o->code = PX_RPC_SERVER;
            if (x->sse)
                snprintf(o->message, sizeof(o->message),
                         "The Planasonix server at %s ended its event stream without answering "
                         "the request",
                         p->display);
            else
                snprintf(o->message, sizeof(o->message),
                         "The Planasonix server at %s accepted the request without answering it "
                         "(HTTP %ld)",
                         p->display, st);
        }
        return;
    }

    struct json_object *body = rpc_error_body(x);
    char snippet[256];
    body_snippet(p, x, snippet, sizeof(snippet));
    if (st == 401) {
        o->code = px_err_rpc(PX_EUNAUTHORIZED);
        snprintf(o->message, sizeof(o->message), "Unauthorized: the API key is invalid or revoked");
        snprintf(o->hint, sizeof(o->hint), "%s",
                 p->key[0] ? "create a key on the server (`planasonix-mcp key create`) and set "
                             "it as PLANASONIX_API_KEY in the MCP client config"
                           : "PLANASONIX_API_KEY is not set: set it to a key created with "
                             "`planasonix-mcp key create` on the server");
        json_object_put(body);
        return;
    }
    if (st == 429) {
        long ms = -1;
        struct json_object *data = body ? px_json_get(px_json_get(body, "error"), "data") : NULL;
        if (json_object_is_type(px_json_get(data, "retry_after_ms"), json_type_int))
            ms = (long)px_json_get_int(data, "retry_after_ms", -1);
        if (ms < 0)
            ms = parse_retry_after(x->retry_after);
        o->retry_after_ms = ms;
        if (body) {
            struct json_object *e = px_json_get(body, "error");
            if (!json_object_is_type(data, json_type_object)) {
                data = json_object_new_object();
                px_json_set(e, "data", data);
            }
            if (ms >= 0 && !px_json_get(data, "retry_after_ms"))
                px_json_set_int(data, "retry_after_ms", ms);
            o->body = body;
            return;
        }
        o->code = px_err_rpc(PX_ERATELIMIT);
        if (ms >= 0)
            snprintf(o->message, sizeof(o->message), "Rate limit exceeded: retry in %ld.%01ld s",
                     ms / 1000, (ms % 1000) / 100);
        else
            snprintf(o->message, sizeof(o->message), "Rate limit exceeded: retry later");
        snprintf(o->hint, sizeof(o->hint),
                 "the organization's plan limits MCP requests per minute");
        return;
    }
    if (body) {
        o->body = body;
        return;
    }
    if (st == 403) {
        o->code = px_err_rpc(PX_EFORBIDDEN);
        snprintf(o->message, sizeof(o->message), "Forbidden");
        snprintf(o->hint, sizeof(o->hint), "the server refused the request (HTTP 403)%s", snippet);
        return;
    }
    o->code = PX_RPC_SERVER;
    snprintf(o->message, sizeof(o->message), "The Planasonix server at %s answered HTTP %ld%s",
             p->display, st, snippet);
    if (st == 404)
        snprintf(o->hint, sizeof(o->hint),
                 "check the path in PLANASONIX_API_URL (the proxy posts to its /mcp endpoint)");
    else if (st >= 500)
        snprintf(o->hint, sizeof(o->hint), "a server error: see the server's log, then retry");
}

void px__proxy_outcome_cleanup(struct outcome *o)
{
    json_object_put(o->body);
    o->body = NULL;
}

/* What to say about an outcome: a JSON-RPC error response to the client for a request (NULL id
 * when unknown), a log line for anything else. */
void px__proxy_report(struct proxy *p, const char *what, struct json_object *id, bool is_request,
                      bool cancelled, struct outcome *o)
{
    if (o->silent || (!o->code && !o->body))
        return;
    const char *msg =
        o->body ? px_json_get_str(px_json_get(o->body, "error"), "message") : o->message;
    char logmsg[900];
    snprintf(logmsg, sizeof(logmsg), "%s", msg ? msg : "");
    px__proxy_redact(p, logmsg);
    if (o->http_status)
        px_warn("proxy: %s: HTTP %ld: %s", what, o->http_status, logmsg);
    else
        px_warn("proxy: %s: %s", what, logmsg);
    if (!is_request || cancelled)
        return;
    if (o->body) {
        fix_id(o->body, id);
        px__proxy_write_json(p, o->body);
        return;
    }
    struct json_object *r = json_object_new_object(), *e = json_object_new_object();
    struct json_object *data = json_object_new_object();
    struct json_object *idc = NULL;
    if (id)
        json_object_deep_copy(id, &idc, NULL);
    px_json_set_str(r, "jsonrpc", "2.0");
    px_json_set(r, "id", idc);
    px_json_set_int(e, "code", o->code);
    px_json_set_str(e, "message", o->message);
    if (o->hint[0])
        px_json_set_str(data, "hint", o->hint);
    if (o->http_status)
        px_json_set_int(data, "http_status", o->http_status);
    if (o->retry_after_ms >= 0)
        px_json_set_int(data, "retry_after_ms", o->retry_after_ms);
    px_json_set(e, "data", data);
    px_json_set(r, "error", e);
    px__proxy_write_json(p, r);
    json_object_put(r);
}
