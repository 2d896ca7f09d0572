/* stdio → Streamable HTTP proxy: see proxy.h. */
#include "transport/proxy.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/lines.h"
#include "base/log.h"
#include "base/mem.h"
#include "mcp/session.h"
#include "transport/stdio.h"

#include "base/curl_api.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SID_MAX 256              /* longest Mcp-Session-Id accepted */
#define VERSION_MAX 32           /* longest protocol version accepted */
#define RESP_DEPTH 512           /* JSON nesting accepted in server messages */
#define ERR_BODY_MAX (64u << 10) /* bytes of a non-2xx body kept */
#define MAX_QUEUED 256           /* requests read but not started before the reader waits */
#define REINIT_ID "planasonix-proxy-reinit"

/* ---- text/event-stream parser ---------------------------------------------------------- */

void px_sse_init(struct px_sse *s, size_t max,
                 void (*on_event)(void *ctx, const char *event, const char *data, size_t len),
                 void *ctx)
{
    memset(s, 0, sizeof(*s));
    px_buf_init(&s->line, max);
    px_buf_init(&s->data, max);
    s->on_event = on_event;
    s->ctx = ctx;
}

void px_sse_cleanup(struct px_sse *s)
{
    px_buf_cleanup(&s->line);
    px_buf_cleanup(&s->data);
}

static void sse_dispatch(struct px_sse *s)
{
    if (s->has_data) {
        size_t n = s->data.len;
        if (n && s->data.data[n - 1] == '\n')
            n--;
        s->on_event(s->ctx, s->event, s->data.data ? s->data.data : "", n);
    }
    px_buf_reset(&s->data);
    s->has_data = false;
    s->event[0] = '\0';
}

static int sse_line(struct px_sse *s, const char *l, size_t n)
{
    if (n == 0) {
        sse_dispatch(s);
        return 0;
    }
    if (l[0] == ':')
        return 0; /* a comment (keep-alive) */
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = colon ? n - fl - 1 : 0;
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && memcmp(l, "data", 4) == 0) {
        if (px_buf_append(&s->data, v, vl) || px_buf_append(&s->data, "\n", 1))
            return -PX_ETOOLARGE;
        s->has_data = true;
    } else if (fl == 5 && memcmp(l, "event", 5) == 0) {
        snprintf(s->event, sizeof(s->event), "%.*s", (int)(vl < 63 ? vl : 63), v);
    } else if (fl == 2 && memcmp(l, "id", 2) == 0) {
        if (!memchr(v, '\0', vl))
            snprintf(s->last_id, sizeof(s->last_id), "%.*s", (int)(vl < 127 ? vl : 127), v);
    }
    /* retry and unknown fields: nothing to do */
    return 0;
}

int px_sse_feed(struct px_sse *s, const char *p, size_t n)
{
    if (s->failed)
        return -PX_ETOOLARGE;
    size_t i = 0;
    while (i < n) {
        if (s->cr) {
            s->cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (px_buf_append(&s->line, p + i, j - i)) {
            s->failed = true;
            return -PX_ETOOLARGE;
        }
        if (j == n)
            break;
        s->cr = p[j] == '\r';
        int rc = sse_line(s, s->line.data ? s->line.data : "", s->line.len);
        px_buf_reset(&s->line);
        if (rc) {
            s->failed = true;
            return rc;
        }
        i = j + 1;
    }
    return 0;
}

void px_sse_finish(struct px_sse *s)
{
    if (s->failed)
        return;
    if (s->line.len && sse_line(s, s->line.data, s->line.len))
        return;
    px_buf_reset(&s->line);
    sse_dispatch(s);
}

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

/* ---- proxy state ------------------------------------------------------------------------ */

/* One message read from stdin. */
struct job {
    char *text;
    size_t len;
    struct json_object *msg;        /* parsed message (owned), NULL when not JSON */
    struct json_object *id;         /* the request's id (owned copy), NULL if none/unknown */
    bool is_request;                /* an answer is expected */
    char method[64];                /* "" when not a request or notification */
    _Atomic long long cancelled_at; /* monotonic ms of the client's cancellation, or 0 */
    struct job *next;               /* in a queue or in the in-flight list */
};

struct proxy;

struct worker {
    struct proxy *p;
    CURL *curl;
    bool notifier; /* forwards notifications (in order) instead of requests */
    pthread_t thread;
};

struct proxy {
    char *endpoint, *display;
    char *key;  /* PLANASONIX_API_KEY ("" when unset); only ever sent as a header */
    char *auth; /* "Authorization: Bearer <key>", NULL when no key */

    pthread_mutex_t sess_mu;
    char sid[SID_MAX + 1];
    char version[VERSION_MAX + 1];
    unsigned gen;          /* bumped each time a session is established */
    char *init_params;     /* the client's initialize params (JSON), for re-initialization */
    char *setlevel_params; /* the client's last logging/setLevel params */
    pthread_mutex_t reinit_mu;

    pthread_mutex_t out_mu;

    pthread_mutex_t q_mu;
    pthread_cond_t work_cv; /* a job was queued, or closing */
    pthread_cond_t done_cv; /* a job finished */
    struct job *req_head, *req_tail;
    size_t req_queued;
    struct job *note_head, *note_tail;
    struct job *inflight;
    size_t busy;  /* jobs being handled by workers */
    int waiting;  /* request workers waiting for a job */
    bool closing; /* workers exit when their queue is empty */
    struct worker *workers[PX_PROXY_WORKERS];
    int nworkers;
    struct worker *notifier;

    atomic_bool abort_all; /* in-flight transfers stop at once */
    CURL *curl;            /* the reader's handle: initialize, initialized, DELETE */
};

/* Set by a signal handler or any thread; lock-free atomics are async-signal-safe. */
static atomic_int stop_signal;
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    stop_signal = sig;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "s", 1);
        (void)w;
    }
}

static void request_stop(int why)
{
    stop_signal = why;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "s", 1);
        (void)w;
    }
}

static int64_t mono_ms(void)
{
    return px_mono_us() / 1000;
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

/* Replaces every occurrence of the key in s (so it cannot reach a log or the client). */
static void redact(const struct proxy *p, char *s)
{
    size_t k = strlen(p->key);
    if (k < 4)
        return;
    for (char *hit; (hit = strstr(s, p->key));) {
        memset(hit, '*', 3);
        memmove(hit + 3, hit + k, strlen(hit + k) + 1);
    }
}

/* Visible ASCII only (a header value that cannot inject anything). */
static bool valid_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* ---- stdout ----------------------------------------------------------------------------- */

/* Writes one message as one line, atomically with respect to other writers. */
static void write_line(struct proxy *p, const char *text, size_t n)
{
    char *line = px_xmalloc(n + 1);
    memcpy(line, text, n);
    line[n] = '\n';
    const char *s = line;
    size_t left = n + 1;
    pthread_mutex_lock(&p->out_mu);
    while (left > 0) {
        ssize_t w = write(STDOUT_FILENO, s, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            request_stop(SIGPIPE); /* the client is gone */
            break;
        }
        s += w;
        left -= (size_t)w;
    }
    pthread_mutex_unlock(&p->out_mu);
    free(line);
}

static void write_json(struct proxy *p, struct json_object *m)
{
    const char *t = px_json_str(m);
    write_line(p, t, strlen(t));
}

/* ---- one HTTP exchange ------------------------------------------------------------------ */

struct sess_snap {
    char sid[SID_MAX + 1];
    char version[VERSION_MAX + 1];
    unsigned gen;
};

static void snapshot(struct proxy *p, struct sess_snap *s)
{
    pthread_mutex_lock(&p->sess_mu);
    memcpy(s->sid, p->sid, sizeof(s->sid));
    memcpy(s->version, p->version, sizeof(s->version));
    s->gen = p->gen;
    pthread_mutex_unlock(&p->sess_mu);
}

struct xfer {
    struct proxy *p;
    struct job *job;        /* for cancellation; NULL for the proxy's own messages */
    struct json_object *id; /* the request id answers are matched against; NULL: any */
    bool emit;              /* write the server's messages to stdout */
    bool capture;           /* keep the answer in captured */
    bool no_abort;          /* ignore abort_all (the final DELETE) */
    long status;
    char content_type[128];
    char session_id[SID_MAX + 1];
    bool session_id_bad;
    char retry_after[64];
    bool mode_set, sse, too_large, answered;
    struct px_buf body;
    struct px_sse parser;
    struct json_object *captured;
    char errbuf[CURL_ERROR_SIZE];
};

static void xfer_init(struct xfer *x, struct proxy *p, struct job *job, struct json_object *id,
                      bool emit, bool capture);

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
            write_json(x->p, m); /* re-serialized compactly: one line */
        else
            write_line(x->p, text, len);
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
    if (atomic_load(&x->p->abort_all) || stop_signal)
        return 1;
    if (x->job) {
        long long at = atomic_load(&x->job->cancelled_at);
        if (at && mono_ms() - at > PX_PROXY_CANCEL_GRACE_MS)
            return 1;
    }
    return 0;
}

static void xfer_init(struct xfer *x, struct proxy *p, struct job *job, struct json_object *id,
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

static void xfer_cleanup(struct xfer *x)
{
    px_buf_cleanup(&x->body);
    px_sse_cleanup(&x->parser);
    json_object_put(x->captured);
    x->captured = NULL;
}

static CURL *new_handle(void)
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
static CURLcode perform(struct proxy *p, CURL *c, const char *body, size_t len,
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

struct outcome {
    int code; /* a JSON-RPC error to report, 0 when none */
    char message[768];
    char hint[320];
    long http_status;
    long retry_after_ms;      /* -1 when not known */
    struct json_object *body; /* a JSON-RPC error from the server to pass on (owned) */
    bool silent;              /* aborted on purpose: say nothing */
};

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
    redact(p, out);
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

static void classify(struct proxy *p, struct xfer *x, CURLcode rc, bool expect_answer,
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
            o->code = -32000;
            snprintf(o->message, sizeof(o->message),
                     "The Planasonix server at %s sent a message larger than %u MiB", p->display,
                     PX_PROXY_MAX_MESSAGE >> 20);
            return;
        }
        if (x->answered)
            return; /* the answer arrived; how the connection ended does not matter */
        char cerr[CURL_ERROR_SIZE];
        snprintf(cerr, sizeof(cerr), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        redact(p, cerr);
        o->code = -32000;
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
            o->code = -32000;
            snprintf(o->message, sizeof(o->message),
                     "The Planasonix server at %s sent a response that is not JSON "
                     "(HTTP %ld, Content-Type %.60s)",
                     p->display, st, x->content_type[0] ? x->content_type : "none");
            snprintf(o->hint, sizeof(o->hint),
                     "check that PLANASONIX_API_URL points at a Planasonix server");
            return;
        }
        if (expect_answer && !x->answered) {
            o->code = -32000;
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
        o->code = -32001;
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
        o->code = -32029;
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
        o->code = -32003;
        snprintf(o->message, sizeof(o->message), "Forbidden");
        snprintf(o->hint, sizeof(o->hint), "the server refused the request (HTTP 403)%s", snippet);
        return;
    }
    o->code = -32000;
    snprintf(o->message, sizeof(o->message), "The Planasonix server at %s answered HTTP %ld%s",
             p->display, st, snippet);
    if (st == 404)
        snprintf(o->hint, sizeof(o->hint),
                 "check the path in PLANASONIX_API_URL (the proxy posts to its /mcp endpoint)");
    else if (st >= 500)
        snprintf(o->hint, sizeof(o->hint), "a server error: see the server's log, then retry");
}

static void outcome_cleanup(struct outcome *o)
{
    json_object_put(o->body);
    o->body = NULL;
}

/* What to say about an outcome: a JSON-RPC error response to the client for a request (NULL id
 * when unknown), a log line for anything else. */
static void report(struct proxy *p, const char *what, struct json_object *id, bool is_request,
                   bool cancelled, struct outcome *o)
{
    if (o->silent || (!o->code && !o->body))
        return;
    const char *msg =
        o->body ? px_json_get_str(px_json_get(o->body, "error"), "message") : o->message;
    char logmsg[900];
    snprintf(logmsg, sizeof(logmsg), "%s", msg ? msg : "");
    redact(p, logmsg);
    if (o->http_status)
        px_warn("proxy: %s: HTTP %ld: %s", what, o->http_status, logmsg);
    else
        px_warn("proxy: %s: %s", what, logmsg);
    if (!is_request || cancelled)
        return;
    if (o->body) {
        fix_id(o->body, id);
        write_json(p, o->body);
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
    write_json(p, r);
    json_object_put(r);
}

/* ---- sessions --------------------------------------------------------------------------- */

/* Adopts the session an initialize exchange returned. */
static void adopt_session(struct proxy *p, struct xfer *x)
{
    struct json_object *res = px_json_get(x->captured, "result");
    if (!json_object_is_type(res, json_type_object))
        return;
    const char *v = px_json_get_str(res, "protocolVersion");
    pthread_mutex_lock(&p->sess_mu);
    if (x->session_id_bad || (x->session_id[0] && !valid_token(x->session_id, SID_MAX))) {
        px_warn("proxy: ignored an invalid Mcp-Session-Id from the server");
        p->sid[0] = '\0';
    } else {
        snprintf(p->sid, sizeof(p->sid), "%s", x->session_id);
    }
    if (v && valid_token(v, VERSION_MAX))
        snprintf(p->version, sizeof(p->version), "%s", v);
    else
        p->version[0] = '\0';
    p->gen++;
    pthread_mutex_unlock(&p->sess_mu);
}

/* Sends one message of the proxy's own (not shown to the client); returns 0 when the server
 * took it. */
static int send_internal(struct proxy *p, CURL *c, const char *text, const char *what,
                         bool expect_answer)
{
    struct sess_snap s;
    snapshot(p, &s);
    struct xfer x;
    xfer_init(&x, p, NULL, NULL, false, false);
    CURLcode rc = perform(p, c, text, strlen(text), &s, &x);
    struct outcome o;
    classify(p, &x, rc, expect_answer, &o);
    int failed = o.code || o.body || o.silent;
    report(p, what, NULL, false, false, &o);
    outcome_cleanup(&o);
    xfer_cleanup(&x);
    return failed ? -1 : 0;
}

/* The session expired (404): establishes a new one by replaying the client's handshake, unless
 * another thread already did since `used` was taken. On failure fills *fail. */
static int reinit(struct proxy *p, CURL *c, const struct sess_snap *used, struct outcome *fail)
{
    memset(fail, 0, sizeof(*fail));
    fail->retry_after_ms = -1;
    pthread_mutex_lock(&p->reinit_mu);
    struct sess_snap now;
    snapshot(p, &now);
    if (now.gen != used->gen) {
        pthread_mutex_unlock(&p->reinit_mu); /* another thread re-initialized meanwhile */
        return 0;
    }
    pthread_mutex_lock(&p->sess_mu);
    char *params = px_xstrdup(p->init_params ? p->init_params : "{}");
    char *level = px_xstrdup(p->setlevel_params);
    pthread_mutex_unlock(&p->sess_mu);

    px_info("proxy: the server no longer knows the session (HTTP 404); starting a new one");
    struct px_buf req;
    px_buf_init(&req, (size_t)-1);
    px_buf_printf(&req,
                  "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"initialize\",\"params\":%s}",
                  REINIT_ID, params);
    struct json_object *rid = json_object_new_string(REINIT_ID);
    struct xfer x;
    xfer_init(&x, p, NULL, rid, false, true);
    struct sess_snap none = {.gen = now.gen}; /* a new initialize goes without a session id */
    CURLcode cc = perform(p, c, req.data, req.len, &none, &x);
    classify(p, &x, cc, true, fail);
    struct json_object *refusal = px_json_get(x.captured, "error");
    if (fail->body || refusal) {
        /* the server refused the replayed initialize: say so in the request's own terms */
        const char *m =
            px_json_get_str(refusal ? refusal : px_json_get(fail->body, "error"), "message");
        outcome_cleanup(fail);
        fail->code = -32000;
        snprintf(fail->message, sizeof(fail->message),
                 "The session with the Planasonix server expired and a new one could not be "
                 "started: %.400s",
                 m ? m : "refused");
        redact(p, fail->message);
    }
    int rc = fail->code || fail->silent ? -1 : 0;
    if (rc == 0) {
        adopt_session(p, &x);
        send_internal(p, c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                      "notifications/initialized (new session)", false);
        if (level) {
            px_buf_reset(&req);
            px_buf_printf(&req,
                          "{\"jsonrpc\":\"2.0\",\"id\":\"%s-level\",\"method\":\"logging/"
                          "setLevel\",\"params\":%s}",
                          REINIT_ID, level);
            send_internal(p, c, req.data, "logging/setLevel (new session)", true);
        }
    }
    xfer_cleanup(&x);
    json_object_put(rid);
    px_buf_cleanup(&req);
    free(params);
    free(level);
    pthread_mutex_unlock(&p->reinit_mu);
    return rc;
}

/* ---- handling one message --------------------------------------------------------------- */

static bool job_cancelled(struct job *j)
{
    return atomic_load(&j->cancelled_at) != 0;
}

/* Forwards a request (or a notification) and tells the client the result. */
static void forward(struct proxy *p, CURL *c, struct job *j)
{
    const char *what = j->method[0] ? j->method : (j->is_request ? "request" : "message");
    for (int attempt = 0;; attempt++) {
        struct sess_snap s;
        snapshot(p, &s);
        struct xfer x;
        xfer_init(&x, p, j, j->id, true, false);
        CURLcode rc = perform(p, c, j->text, j->len, &s, &x);
        struct outcome o;
        if (rc == CURLE_OK && x.status == 404 && s.sid[0] && attempt == 0 && !job_cancelled(j) &&
            strcmp(j->method, "initialize") != 0) {
            xfer_cleanup(&x);
            if (reinit(p, c, &s, &o) == 0)
                continue;
            report(p, what, j->id, j->is_request, job_cancelled(j), &o);
            outcome_cleanup(&o);
            return;
        }
        classify(p, &x, rc, j->is_request, &o);
        report(p, what, j->id, j->is_request, job_cancelled(j), &o);
        outcome_cleanup(&o);
        xfer_cleanup(&x);
        return;
    }
}

/* The client's initialize: forwarded synchronously; its answer establishes the session. */
static void forward_initialize(struct proxy *p, struct job *j)
{
    struct json_object *params = px_json_get(j->msg, "params");
    pthread_mutex_lock(&p->sess_mu);
    free(p->init_params);
    p->init_params = px_xstrdup(params ? px_json_str(params) : "{}");
    pthread_mutex_unlock(&p->sess_mu);

    struct sess_snap s;
    snapshot(p, &s);
    struct xfer x;
    xfer_init(&x, p, j, j->id, true, true);
    CURLcode rc = perform(p, p->curl, j->text, j->len, &s, &x);
    struct outcome o;
    classify(p, &x, rc, true, &o);
    report(p, "initialize", j->id, true, false, &o);
    if (!o.code && !o.body && !o.silent && x.captured && px_json_get(x.captured, "result")) {
        adopt_session(p, &x);
        snapshot(p, &s);
        px_info("proxy: session established (protocol %s%s)", s.version[0] ? s.version : "?",
                s.sid[0] ? "" : ", no session id");
    }
    outcome_cleanup(&o);
    xfer_cleanup(&x);
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->text);
    json_object_put(j->msg);
    json_object_put(j->id);
    free(j);
}

/* ---- workers ---------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct proxy *p = w->p;
    w->curl = new_handle();
    for (;;) {
        pthread_mutex_lock(&p->q_mu);
        struct job **head = w->notifier ? &p->note_head : &p->req_head;
        struct job **tail = w->notifier ? &p->note_tail : &p->req_tail;
        if (!w->notifier)
            p->waiting++;
        while (!*head && !p->closing)
            pthread_cond_wait(&p->work_cv, &p->q_mu);
        if (!w->notifier)
            p->waiting--;
        struct job *j = *head;
        if (!j) {
            pthread_mutex_unlock(&p->q_mu);
            break;
        }
        *head = j->next;
        if (!*head)
            *tail = NULL;
        if (!w->notifier)
            p->req_queued--;
        j->next = p->inflight;
        p->inflight = j;
        p->busy++;
        pthread_mutex_unlock(&p->q_mu);

        forward(p, w->curl, j);

        pthread_mutex_lock(&p->q_mu);
        for (struct job **pp = &p->inflight; *pp; pp = &(*pp)->next)
            if (*pp == j) {
                *pp = j->next;
                break;
            }
        p->busy--;
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->q_mu);
        job_free(j);
    }
    curl_easy_cleanup(w->curl);
    return NULL;
}

/* Starts a thread with the termination signals blocked (they are the reader's). */
static struct worker *spawn(struct proxy *p, bool notifier)
{
    struct worker *w = px_xcalloc(1, sizeof(*w));
    w->p = p;
    w->notifier = notifier;
    sigset_t all, old;
    sigemptyset(&all);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGINT);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        free(w);
        return NULL;
    }
    return w;
}

/* Queues a request or notification for the workers (q_mu held). */
static void enqueue_locked(struct proxy *p, struct job *j)
{
    bool req = j->is_request;
    struct job **head = req ? &p->req_head : &p->note_head;
    struct job **tail = req ? &p->req_tail : &p->note_tail;
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
    if (req) {
        p->req_queued++;
        if (p->req_queued > (size_t)p->waiting && p->nworkers < PX_PROXY_WORKERS) {
            struct worker *w = spawn(p, false);
            if (w)
                p->workers[p->nworkers++] = w;
            else if (p->nworkers == 0)
                px_logerr("proxy: cannot start a worker thread");
        }
    } else if (!p->notifier) {
        p->notifier = spawn(p, true);
        if (!p->notifier)
            px_logerr("proxy: cannot start the notification thread");
    }
    pthread_cond_broadcast(&p->work_cv);
}

/* A client cancellation: a request still queued is dropped; one in flight is marked (no error
 * is reported for it, and its exchange is dropped after a grace period). */
static void note_cancel(struct proxy *p, struct json_object *request_id)
{
    if (!request_id)
        return;
    pthread_mutex_lock(&p->q_mu);
    struct job *prev = NULL;
    for (struct job *j = p->req_head; j; prev = j, j = j->next) {
        if (j->id && px_json_equal(j->id, request_id)) {
            if (prev)
                prev->next = j->next;
            else
                p->req_head = j->next;
            if (p->req_tail == j)
                p->req_tail = prev;
            p->req_queued--;
            px_debug("proxy: dropped a queued request the client cancelled");
            job_free(j);
            break;
        }
    }
    for (struct job *j = p->inflight; j; j = j->next)
        if (j->id && px_json_equal(j->id, request_id) && !job_cancelled(j))
            atomic_store(&j->cancelled_at, (long long)(mono_ms() | 1));
    pthread_mutex_unlock(&p->q_mu);
}

/* Classifies one stdin line and sends it on its way. */
static void dispatch_line(struct proxy *p, const char *text, size_t len)
{
    struct job *j = px_xcalloc(1, sizeof(*j));
    j->text = px_xstrndup(text, len);
    j->len = len;
    j->msg = px_json_parse(text, len, PX_MCP_MAX_DEPTH, NULL);
    struct json_object *m = j->msg;
    if (json_object_is_type(m, json_type_object)) {
        const char *method = px_json_get_str(m, "method");
        struct json_object *id;
        bool has_id = json_object_object_get_ex(m, "id", &id);
        if (has_id && id)
            json_object_deep_copy(id, &j->id, NULL);
        if (method) {
            snprintf(j->method, sizeof(j->method), "%.63s", method);
            j->is_request = has_id;
        } else {
            /* a response to a server request: like a notification; anything else is a request
             * the server will refuse, and its answer must reach the client */
            j->is_request = !(has_id && (json_object_object_get_ex(m, "result", NULL) ||
                                         json_object_object_get_ex(m, "error", NULL)));
        }
    } else if (json_object_is_type(m, json_type_array)) {
        /* a batch (2025-03-26): answered when it holds a request */
        for (size_t i = 0; i < json_object_array_length(m); i++) {
            struct json_object *e = json_object_array_get_idx(m, i);
            if (px_json_get_str(e, "method") && json_object_object_get_ex(e, "id", NULL))
                j->is_request = true;
        }
    } else {
        j->is_request = true; /* not JSON: the server answers with a parse error */
    }

    if (j->is_request && strcmp(j->method, "initialize") == 0) {
        forward_initialize(p, j);
        job_free(j);
        return;
    }
    if (!j->is_request && strcmp(j->method, "notifications/initialized") == 0) {
        forward(p, p->curl, j); /* in order: before any request that follows it */
        job_free(j);
        return;
    }
    if (j->is_request && strcmp(j->method, "logging/setLevel") == 0) {
        struct json_object *params = px_json_get(m, "params");
        pthread_mutex_lock(&p->sess_mu);
        free(p->setlevel_params);
        p->setlevel_params = params ? px_xstrdup(px_json_str(params)) : NULL;
        pthread_mutex_unlock(&p->sess_mu);
    }
    if (!j->is_request && strcmp(j->method, "notifications/cancelled") == 0)
        note_cancel(p, px_json_get(px_json_get(m, "params"), "requestId"));

    pthread_mutex_lock(&p->q_mu);
    while (j->is_request && p->req_queued >= MAX_QUEUED && !stop_signal)
        timed_wait(&p->done_cv, &p->q_mu, 100);
    enqueue_locked(p, j);
    pthread_mutex_unlock(&p->q_mu);
}

/* ---- the reader ------------------------------------------------------------------------- */

struct reader {
    struct px_lines in; /* the client's bytes, split into messages */
    bool eof;
};

/* A complete line from the client: forwarded (false stops reading on a signal). */
static bool on_line(void *ctx, const char *text, size_t len)
{
    struct proxy *p = ctx;
    dispatch_line(p, text, len);
    return !stop_signal;
}

static void on_oversize(void *ctx)
{
    struct proxy *p = ctx;
    char *e = px_mcp_error_text(-32600, "Invalid Request: message exceeds the 4 MiB limit");
    write_line(p, e, strlen(e));
    free(e);
}

static void read_input(struct proxy *p, struct reader *r)
{
    struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                            {.fd = wake_pipe[0], .events = POLLIN}};
    int n = poll(pfd, 2, -1);
    if (n <= 0)
        return;
    if (pfd[1].revents) {
        char drain[16];
        ssize_t d = read(wake_pipe[0], drain, sizeof(drain));
        (void)d;
    }
    if (!pfd[0].revents)
        return;
    char chunk[65536];
    ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (got <= 0) {
        r->eof = true;
        return;
    }
    px_lines_feed(&r->in, chunk, (size_t)got, on_line, on_oversize, p);
}

/* Ends the session on the server (best effort). */
static void end_session(struct proxy *p)
{
    struct sess_snap s;
    snapshot(p, &s);
    if (!s.sid[0])
        return;
    struct xfer x;
    xfer_init(&x, p, NULL, NULL, false, false);
    x.no_abort = true;
    CURLcode rc = perform(p, p->curl, NULL, 0, &s, &x);
    if (rc != CURLE_OK)
        px_debug("proxy: ending the session: %s", curl_easy_strerror(rc));
    else
        px_debug("proxy: session ended (HTTP %ld)", x.status);
    xfer_cleanup(&x);
}

static void free_queue(struct job **head, struct job **tail)
{
    while (*head) {
        struct job *j = *head;
        *head = j->next;
        job_free(j);
    }
    *tail = NULL;
}

int px_proxy_run(const char *api_url)
{
    const char *level = getenv("PLANASONIX_LOG");
    if (level && px_log_level_parse(level) >= 0)
        px_log_set_level((enum px_log_level)px_log_level_parse(level));
    struct px_error lerr;
    if (px_curl_load(&lerr)) {
        px_logerr("proxy: %s; %s", lerr.message, lerr.hint);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        px_logerr("proxy: libcurl failed to initialize");
        return 1;
    }
    struct proxy *p = px_xcalloc(1, sizeof(*p));
    struct px_error err;
    px_error_clear(&err);
    int status = 0;
    if (px_proxy_endpoint(api_url, &p->endpoint, &p->display, &err)) {
        fprintf(stderr, "planasonix-mcp: %s\n", err.message);
        if (err.hint[0])
            fprintf(stderr, "hint: %s\n", err.hint);
        free(p);
        curl_global_cleanup();
        return 2;
    }
    const char *key = getenv("PLANASONIX_API_KEY");
    p->key = px_xstrdup(key ? key : "");
    if (!p->key[0]) {
        px_warn("PLANASONIX_API_KEY is not set: the server will refuse every request as "
                "unauthorized");
    } else if (!valid_token(p->key, 4096)) {
        px_logerr("proxy: PLANASONIX_API_KEY contains spaces or control characters; it cannot "
                  "be sent in an HTTP header");
        status = 2;
        goto done;
    } else {
        size_t n = strlen(p->key) + 32;
        p->auth = px_xmalloc(n);
        snprintf(p->auth, n, "Authorization: Bearer %s", p->key);
    }
    pthread_mutex_init(&p->sess_mu, NULL);
    pthread_mutex_init(&p->reinit_mu, NULL);
    pthread_mutex_init(&p->out_mu, NULL);
    pthread_mutex_init(&p->q_mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->curl = new_handle();

    if (pipe(wake_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    px_info("planasonix-mcp: proxying MCP on stdio to %s", p->display);

    struct reader r = {0};
    px_lines_init(&r.in, PX_STDIO_MAX_MESSAGE);
    while (!stop_signal && !r.eof)
        read_input(p, &r);
    px_lines_cleanup(&r.in);

    pthread_mutex_lock(&p->q_mu);
    if (!stop_signal) {
        /* stdin EOF: let queued and in-flight requests finish, for a bounded time */
        int64_t deadline = mono_ms() + PX_PROXY_DRAIN_MS;
        while ((p->req_head || p->note_head || p->busy) && !stop_signal && mono_ms() < deadline) {
            timed_wait(&p->done_cv, &p->q_mu, 100);
        }
        if (p->req_head || p->note_head || p->busy)
            px_warn("proxy: stopping with requests still in flight");
    } else if (stop_signal != SIGPIPE) {
        px_info("planasonix-mcp: stopping on signal %d", (int)stop_signal);
    }
    atomic_store(&p->abort_all, true);
    free_queue(&p->req_head, &p->req_tail);
    free_queue(&p->note_head, &p->note_tail);
    p->req_queued = 0;
    p->closing = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->q_mu);
    for (int i = 0; i < p->nworkers; i++) {
        pthread_join(p->workers[i]->thread, NULL);
        free(p->workers[i]);
    }
    if (p->notifier) {
        pthread_join(p->notifier->thread, NULL);
        free(p->notifier);
    }
    end_session(p);

    curl_easy_cleanup(p->curl);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->q_mu);
    pthread_mutex_destroy(&p->out_mu);
    pthread_mutex_destroy(&p->reinit_mu);
    pthread_mutex_destroy(&p->sess_mu);
    for (int i = 0; i < 2; i++)
        if (wake_pipe[i] >= 0) {
            close(wake_pipe[i]);
            wake_pipe[i] = -1;
        }
done:
    if (p->auth) {
        memset(p->auth, 0, strlen(p->auth));
        free(p->auth);
    }
    memset(p->key, 0, strlen(p->key));
    free(p->key);
    free(p->init_params);
    free(p->setlevel_params);
    free(p->endpoint);
    free(p->display);
    free(p);
    curl_global_cleanup();
    return status;
}
