/* stdio → Streamable HTTP proxy: see proxy.h. This file holds the proxy's state, the stdout
 * writer, sessions (adoption and transparent re-initialization), the handling of one client
 * message, the worker threads, the stdin reader and px_proxy_run; one HTTP exchange and its
 * outcome are in proxy_http.c, the event-stream parser in proxy_sse.c. */
#include "transport/proxy_int.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/curl_api.h"
#include "base/err.h"
#include "base/json.h"
#include "base/lines.h"
#include "base/log.h"
#include "base/mem.h"
#include "mcp/session.h"
#include "transport/stdio.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUEUED 256 /* requests read but not started before the reader waits */
#define REINIT_ID "planasonix-proxy-reinit"

/* ---- proxy state ------------------------------------------------------------------------ */

struct worker {
    struct proxy *p;
    CURL *curl;
    bool notifier; /* forwards notifications (in order) instead of requests */
    pthread_t thread;
};

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts = px_deadline_in_ms(ms);
    pthread_cond_timedwait(cv, mu, &ts);
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

/* ---- sessions --------------------------------------------------------------------------- */

static void snapshot(struct proxy *p, struct sess_snap *s)
{
    pthread_mutex_lock(&p->sess_mu);
    memcpy(s->sid, p->sid, sizeof(s->sid));
    memcpy(s->version, p->version, sizeof(s->version));
    s->gen = p->gen;
    pthread_mutex_unlock(&p->sess_mu);
}

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
    px__proxy_xfer_init(&x, p, NULL, NULL, false, false);
    CURLcode rc = px__proxy_perform(p, c, text, strlen(text), &s, &x);
    struct outcome o;
    px__proxy_classify(p, &x, rc, expect_answer, &o);
    int failed = o.code || o.body || o.silent;
    px__proxy_report(p, what, NULL, false, false, &o);
    px__proxy_outcome_cleanup(&o);
    px__proxy_xfer_cleanup(&x);
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
    px__proxy_xfer_init(&x, p, NULL, rid, false, true);
    struct sess_snap none = {.gen = now.gen}; /* a new initialize goes without a session id */
    CURLcode cc = px__proxy_perform(p, c, req.data, req.len, &none, &x);
    px__proxy_classify(p, &x, cc, true, fail);
    struct json_object *refusal = px_json_get(x.captured, "error");
    if (fail->body || refusal) {
        /* the server refused the replayed initialize: say so in the request's own terms */
        const char *m =
            px_json_get_str(refusal ? refusal : px_json_get(fail->body, "error"), "message");
        px__proxy_outcome_cleanup(fail);
        fail->code = PX_RPC_SERVER;
        snprintf(fail->message, sizeof(fail->message),
                 "The session with the Planasonix server expired and a new one could not be "
                 "started: %.400s",
                 m ? m : "refused");
        px__proxy_redact(p, fail->message);
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
    px__proxy_xfer_cleanup(&x);
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
        px__proxy_xfer_init(&x, p, j, j->id, true, false);
        CURLcode rc = px__proxy_perform(p, c, j->text, j->len, &s, &x);
        struct outcome o;
        if (rc == CURLE_OK && x.status == 404 && s.sid[0] && attempt == 0 && !job_cancelled(j) &&
            strcmp(j->method, "initialize") != 0) {
            px__proxy_xfer_cleanup(&x);
            if (reinit(p, c, &s, &o) == 0)
                continue;
            px__proxy_report(p, what, j->id, j->is_request, job_cancelled(j), &o);
            px__proxy_outcome_cleanup(&o);
            return;
        }
        px__proxy_classify(p, &x, rc, j->is_request, &o);
        px__proxy_report(p, what, j->id, j->is_request, job_cancelled(j), &o);
        px__proxy_outcome_cleanup(&o);
        px__proxy_xfer_cleanup(&x);
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
    px__proxy_xfer_init(&x, p, j, j->id, true, true);
    CURLcode rc = px__proxy_perform(p, p->curl, j->text, j->len, &s, &x);
    struct outcome o;
    px__proxy_classify(p, &x, rc, true, &o);
    px__proxy_report(p, "initialize", j->id, true, false, &o);
    if (!o.code && !o.body && !o.silent && x.captured && px_json_get(x.captured, "result")) {
        adopt_session(p, &x);
        snapshot(p, &s);
        px_info("proxy: session established (protocol %s%s)", s.version[0] ? s.version : "?",
                s.sid[0] ? "" : ", no session id");
    }
    px__proxy_outcome_cleanup(&o);
    px__proxy_xfer_cleanup(&x);
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
    w->curl = px__proxy_new_handle();
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
            atomic_store(&j->cancelled_at, (long long)(px__proxy_mono_ms() | 1));
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
    while (j->is_request && p->req_queued >= MAX_QUEUED && !px__proxy_stopping())
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
    return !px__proxy_stopping();
}

static void on_oversize(void *ctx)
{
    struct proxy *p = ctx;
    char *e = px_mcp_error_text(PX_RPC_INVALID_REQUEST,
                                "Invalid Request: message exceeds the 4 MiB limit");
    px__proxy_write_line(p, e, strlen(e));
    free(e);
}

static void read_input(struct proxy *p, struct reader *r)
{
    struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                            {.fd = px__proxy_wake_fd(), .events = POLLIN}};
    int n = poll(pfd, 2, -1);
    if (n <= 0)
        return;
    if (pfd[1].revents) {
        char drain[16];
        ssize_t d = read(px__proxy_wake_fd(), drain, sizeof(drain));
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
    px__proxy_xfer_init(&x, p, NULL, NULL, false, false);
    x.no_abort = true;
    CURLcode rc = px__proxy_perform(p, p->curl, NULL, 0, &s, &x);
    if (rc != CURLE_OK)
        px_debug("proxy: ending the session: %s", curl_easy_strerror(rc));
    else
        px_debug("proxy: session ended (HTTP %ld)", x.status);
    px__proxy_xfer_cleanup(&x);
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
    p->curl = px__proxy_new_handle();

    px__proxy_wake_open();
    struct sigaction sa = {.sa_handler = px__proxy_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    px_info("planasonix-mcp: proxying MCP on stdio to %s", p->display);

    struct reader r = {0};
    px_lines_init(&r.in, PX_STDIO_MAX_MESSAGE);
    while (!px__proxy_stopping() && !r.eof)
        read_input(p, &r);
    px_lines_cleanup(&r.in);

    pthread_mutex_lock(&p->q_mu);
    if (!px__proxy_stopping()) {
        /* stdin EOF: let queued and in-flight requests finish, for a bounded time */
        int64_t deadline = px__proxy_mono_ms() + PX_PROXY_DRAIN_MS;
        while ((p->req_head || p->note_head || p->busy) && !px__proxy_stopping() &&
               px__proxy_mono_ms() < deadline) {
            timed_wait(&p->done_cv, &p->q_mu, 100);
        }
        if (p->req_head || p->note_head || p->busy)
            px_warn("proxy: stopping with requests still in flight");
    } else if (px__proxy_stop_reason() != SIGPIPE) {
        px_info("planasonix-mcp: stopping on signal %d", px__proxy_stop_reason());
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
    px__proxy_wake_close();
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
