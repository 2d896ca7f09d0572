/*
 * MCP over HTTP: the server (libmicrohttpd daemon, worker and housekeeping threads, graceful
 * shutdown), routing, the security checks every MCP request passes first (Host, Origin,
 * bearer key), body collection and limits, /healthz and /metrics. See http.h; the MCP routes
 * are in streamable.c and sse.c, the reply helpers they and this file share in http_reply.c,
 * the threads that run deferred calls in http_jobs.c.
 */
#include "transport/http.h"

#include "auth/audit.h"
#include "auth/principal.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/store.h"
#include "tools/registry.h"
#include "transport/http_framing.h"
#include "transport/env.h"
#include "transport/http_internal.h"
#include "transport/metrics.h"
#include "transport/sessions.h"
#include "transport/sse.h"
#include "transport/stream.h"
#include "transport/streamable.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define MAX_DEFAULT_THREADS 8
#define MAX_SESSIONS 10000
#define SESSION_TTL_MS (60 * 60 * 1000)
#define KEEPALIVE_MS 15000
#define SWEEP_EVERY_S 10
#define SHUTDOWN_GRACE_MS 10000
#define MAX_TOKEN 512
#define MAX_CONNECTIONS 10000u

static const char *const route_paths[] = {"/mcp",     "/sse",     "/messages",
                                          "/healthz", "/metrics", "other"};

/* ---- revoked keys -------------------------------------------------------------------------- */

static bool key_gone_cb(void *ctx, const char *key_id)
{
    return px_http_key_gone(ctx, key_id);
}

/* Reads which keys can no longer act and ends their sessions and streams (every second, from
 * the housekeeping thread, while anything is open or running). A key revoked by the CLI in
 * another process is seen here within about a second. */
static void end_revoked(struct px_http_server *srv)
{
    if (px_sessions_count(srv->sessions, PX_HSESSION_STREAMABLE) +
                px_sessions_count(srv->sessions, PX_HSESSION_LEGACY) +
                px_stream_set_count(srv->streams) ==
            0 &&
        atomic_load(&srv->inflight) == 0)
        return;
    char(*ids)[PX_ID_MAX] = NULL;
    size_t n = 0;
    struct px_error err;
    px_error_clear(&err);
    struct px_store *st = px_store_pool_acquire(srv->pool);
    int rc = px_principal_dead_keys(st, px_now_ms(), &ids, &n, &err);
    px_store_pool_release(srv->pool, st);
    if (rc) {
        px_debug("http: could not read revoked keys: %s", err.message);
        return;
    }
    pthread_mutex_lock(&srv->gone_lock);
    char(*old)[PX_ID_MAX] = srv->gone;
    srv->gone = ids;
    srv->ngone = n;
    pthread_mutex_unlock(&srv->gone_lock);
    free(old);
    if (n == 0)
        return;
    size_t sessions = px_sessions_end_keys(srv->sessions, key_gone_cb, srv);
    size_t streams = px_stream_set_close_owned(srv->streams, key_gone_cb, srv);
    if (sessions || streams)
        px_info("http: ended %zu session(s) and %zu stream(s) of revoked or expired keys", sessions,
                streams);
}

/* ---- housekeeping ------------------------------------------------------------------------- */

static void flush_audit(struct px_http_server *srv)
{
    if (px_audit_pending(srv->env->deps.audit) == 0)
        return;
    struct px_store *st = px_store_pool_acquire(srv->pool);
    px_audit_flush(srv->env->deps.audit, st);
    px_store_pool_release(srv->pool, st);
}

/* px_audit_set_flusher's hook: called by a request thread when the audit queue fills. */
static void wake_flusher(void *arg)
{
    struct px_http_server *srv = arg;
    pthread_mutex_lock(&srv->timer_lock);
    srv->flush_now = true;
    pthread_cond_signal(&srv->timer_cond);
    pthread_mutex_unlock(&srv->timer_lock);
}

static void *timer_main(void *arg)
{
    struct px_http_server *srv = arg;
    unsigned ticks = 0;
    int64_t next_tick = px_mono_us() + 1000000;
    pthread_mutex_lock(&srv->timer_lock);
    while (!srv->timer_stop) {
        int64_t wait_us = next_tick - px_mono_us();
        if (!srv->flush_now && wait_us > 0) {
            struct timespec until = px_deadline_in_ms((wait_us + 999) / 1000);
            pthread_cond_timedwait(&srv->timer_cond, &srv->timer_lock, &until);
        }
        if (srv->timer_stop)
            break;
        srv->flush_now = false;
        pthread_mutex_unlock(&srv->timer_lock);
        bool tick = px_mono_us() >= next_tick;
        if (tick)
            next_tick = px_mono_us() + 1000000;
        flush_audit(srv);
        if (tick) {
            end_revoked(srv);
            px_stream_set_keepalive(srv->streams, px_now_ms(), KEEPALIVE_MS);
            if (++ticks % SWEEP_EVERY_S == 0) {
                size_t n = px_sessions_sweep(srv->sessions, px_now_ms());
                if (n)
                    px_debug("http: expired %zu idle sessions", n);
            }
        }
        pthread_mutex_lock(&srv->timer_lock);
    }
    pthread_mutex_unlock(&srv->timer_lock);
    return NULL;
}

/* ---- security checks ---------------------------------------------------------------------- */

static enum MHD_Result refuse_host_origin(struct px_http_req *r)
{
    const char *host = px_http_header(r, MHD_HTTP_HEADER_HOST);
    if (host && !px_http_host_allowed(&r->srv->allow, host))
        return px_http_refuse(r, MHD_HTTP_MISDIRECTED_REQUEST, PX_RPC_SERVER, "host_not_allowed",
                              "Misdirected Request: this server does not answer for that Host",
                              "add the host name to PLANASONIX_ALLOWED_HOSTS on the server");
    const char *origin = px_http_header(r, "Origin");
    if (origin && !px_http_origin_allowed(&r->srv->allow, origin))
        return px_http_refuse(r, MHD_HTTP_FORBIDDEN, PX_RPC_SERVER, "origin_not_allowed",
                              "Forbidden: requests from this Origin are not allowed",
                              "add the origin to PLANASONIX_ALLOWED_ORIGINS on the server");
    return MHD_YES;
}

/* Resolves the bearer key (every request, so revocation and expiry apply at once). */
static enum MHD_Result authenticate(struct px_http_req *r)
{
    const char *token;
    size_t len;
    bool presented =
        px_http_bearer(px_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION), &token, &len) && len > 0;
    struct px_error err;
    px_error_clear(&err);
    int rc = -PX_EUNAUTHORIZED;
    if (presented && len <= MAX_TOKEN) {
        char copy[MAX_TOKEN + 1];
        memcpy(copy, token, len);
        copy[len] = '\0';
        const struct px_transport_env *env = r->srv->env;
        struct px_store *st = px_store_pool_acquire(r->srv->pool);
        rc = px_principal_from_key(st, env->deps.keyring, copy, px_now_ms(), &r->principal, &err);
        px_store_pool_release(r->srv->pool, st);
        sodium_memzero(copy, sizeof(copy));
    }
    if (rc == 0) {
        r->authenticated = true;
        return MHD_YES;
    }
    if (rc == -PX_EPLAN)
        return px_http_refuse_err(
            r, PX_EPLAN,
            "Forbidden: the organization is on the Starter plan, which has no "
            "MCP access",
            "MCP needs the Professional plan or above; an operator can change "
            "it with `planasonix-mcp org update ORG --plan professional`");
    if (rc != -PX_EUNAUTHORIZED) {
        px_logerr("http: authentication failed: %s", err.message);
        px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return px_http_refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, PX_RPC_INTERNAL, px_err_name(rc),
                              "Service Unavailable: the store did not answer", "retry shortly");
    }
    memset(&r->principal, 0, sizeof(r->principal));
    px_http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                       presented ? "Bearer realm=\"planasonix\", error=\"invalid_token\""
                                 : "Bearer realm=\"planasonix\"");
    return px_http_refuse_err(
        r, PX_EUNAUTHORIZED,
        presented ? "Unauthorized: the API key is invalid, expired or revoked"
                  : "Unauthorized: send the API key as Authorization: Bearer <key>",
        "an operator creates a key with `planasonix-mcp key create --org ORG --scopes ...`");
}

/* ---- /healthz and /metrics ---------------------------------------------------------------- */

static enum MHD_Result healthz(struct px_http_req *r)
{
    int64_t v = 0;
    struct px_store *st = px_store_pool_acquire(r->srv->pool);
    int rc = px_store_query_int(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL,
                                0, &v, NULL);
    px_store_pool_release(r->srv->pool, st);
    bool ok = rc == 1;
    const char *body = ok ? "{\"status\":\"ok\",\"store\":\"ok\"}"
                          : "{\"status\":\"error\",\"store\":\"unreachable\"}";
    return px_http_send_body(r, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                             body, strlen(body));
}

static void hash_token(const char *token, size_t len, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)token, len, NULL, 0);
}

/* Reads PLANASONIX_METRICS and PLANASONIX_METRICS_TOKEN. The token is kept only as a hash,
 * so comparing takes the same time whatever the guess. */
static int metrics_config(struct px_http_server *srv, struct px_error *err)
{
    const char *mode = getenv("PLANASONIX_METRICS");
    const char *token = getenv("PLANASONIX_METRICS_TOKEN");
    if (!mode || !*mode)
        mode = token && *token ? "token" : "public";
    if (strcmp(mode, "public") == 0) {
        srv->metrics_mode = PX_METRICS_PUBLIC;
    } else if (strcmp(mode, "off") == 0) {
        srv->metrics_mode = PX_METRICS_OFF;
    } else if (strcmp(mode, "token") == 0) {
        if (!token || !*token)
            return px_error_set(err, PX_EINVALID,
                                "PLANASONIX_METRICS=token needs PLANASONIX_METRICS_TOKEN (the "
                                "bearer token scrapers send); e.g. generate one with `openssl "
                                "rand -hex 32`");
        size_t n = strlen(token);
        if (n < 16 || n > MAX_TOKEN)
            return px_error_set(err, PX_EINVALID,
                                "PLANASONIX_METRICS_TOKEN must be at least 16 and at most %d "
                                "characters (it has %zu)",
                                MAX_TOKEN, n);
        srv->metrics_mode = PX_METRICS_TOKEN;
        hash_token(token, n, srv->metrics_token);
    } else {
        return px_error_set(err, PX_EINVALID,
                            "PLANASONIX_METRICS is '%.40s': use off, public or token (with "
                            "PLANASONIX_METRICS_TOKEN)",
                            mode);
    }
    return 0;
}

static enum MHD_Result metrics(struct px_http_req *r)
{
    struct px_http_server *srv = r->srv;
    if (srv->metrics_mode == PX_METRICS_TOKEN) {
        const char *token;
        size_t len;
        unsigned char got[32];
        bool ok = px_http_bearer(px_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION), &token, &len) &&
                  len > 0 && len <= MAX_TOKEN;
        if (ok) {
            hash_token(token, len, got);
            ok = sodium_memcmp(got, srv->metrics_token, sizeof(got)) == 0;
        }
        if (!ok) {
            const char *body = "{\"error\":\"unauthorized\",\"hint\":\"send "
                               "Authorization: Bearer PLANASONIX_METRICS_TOKEN\"}";
            px_http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                               "Bearer realm=\"planasonix-metrics\"");
            return px_http_send_body(r, MHD_HTTP_UNAUTHORIZED, "application/json", body,
                                     strlen(body));
        }
    }
    struct px_metrics_gauges g = {
        .sessions_http = px_sessions_count(srv->sessions, PX_HSESSION_STREAMABLE),
        .sessions_sse = px_sessions_count(srv->sessions, PX_HSESSION_LEGACY),
        .streams_open = px_stream_set_count(srv->streams),
        .inflight = atomic_load(&srv->inflight),
    };
    struct px_buf out;
    px_buf_init(&out, 64u << 20);
    px_metrics_render(srv->metrics, &g, &out);
    enum MHD_Result res = px_http_send_body(r, MHD_HTTP_OK, "text/plain; version=0.0.4",
                                            out.data ? out.data : "", out.len);
    px_buf_cleanup(&out);
    return res;
}

/* ---- routing ------------------------------------------------------------------------------ */

static enum px_http_route route_of(const char *url)
{
    for (int i = PX_ROUTE_MCP; i < PX_ROUTE_OTHER; i++)
        if (strcmp(url, route_paths[i]) == 0)
            return (enum px_http_route)i;
    return PX_ROUTE_OTHER;
}

static bool is(const struct px_http_req *r, const char *method)
{
    return strcmp(r->method, method) == 0;
}

static enum MHD_Result not_allowed(struct px_http_req *r, const char *allow)
{
    px_http_add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    char msg[160];
    snprintf(msg, sizeof(msg), "Method Not Allowed: %s %s (allowed: %s)", r->method,
             route_paths[r->route], allow);
    return px_http_refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, PX_RPC_SERVER, "method_not_allowed", msg,
                          NULL);
}

/* OPTIONS on an MCP route: a CORS preflight. Host is checked as for every MCP request; an
 * allowed Origin gets 204 with the CORS fields (the Origin echoed, never "*"), any other
 * Origin 403 with none, so the browser blocks the real request. No key is asked for: browsers
 * send preflights without the Authorization header. */
static enum MHD_Result preflight(struct px_http_req *r)
{
    const char *allow = r->route == PX_ROUTE_MCP   ? "POST, DELETE, OPTIONS"
                        : r->route == PX_ROUTE_SSE ? "GET, OPTIONS"
                                                   : "POST, OPTIONS";
    enum MHD_Result res = refuse_host_origin(r);
    if (r->replied)
        return res;
    const char *origin = px_http_header(r, "Origin");
    if (!origin || !r->cors_origin[0]) {
        /* Not from a browser: a plain OPTIONS. */
        px_http_add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        return px_http_send_body(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
    }
    px_http_add_header(r, "Access-Control-Allow-Methods", PX_HTTP_CORS_METHODS);
    px_http_add_header(r, "Access-Control-Allow-Headers", PX_HTTP_CORS_HEADERS);
    px_http_add_header(r, "Access-Control-Max-Age", PX_HTTP_CORS_MAX_AGE);
    /* Chrome's Private Network Access: a public page may reach this loopback or private
     * server only if it says so; the Origin is on the operator's list, so it may. */
    const char *pna = px_http_header(r, "Access-Control-Request-Private-Network");
    if (pna && strcasecmp(pna, "true") == 0)
        px_http_add_header(r, "Access-Control-Allow-Private-Network", "true");
    return px_http_send_body(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
}

/* The first call: headers only. Replies at once when refusing (or for bodiless routes). */
static enum MHD_Result first_call(struct px_http_req *r)
{
    if (atomic_load(&r->srv->stopping)) {
        if (r->route <= PX_ROUTE_MESSAGES)
            px_http_audit(r, "error", "not_available");
        const char *body = "{\"status\":\"stopping\"}";
        return px_http_send_body(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body,
                                 strlen(body));
    }
    switch (r->route) {
    case PX_ROUTE_HEALTH:
        return is(r, "GET") || is(r, "HEAD") ? healthz(r) : not_allowed(r, "GET");
    case PX_ROUTE_METRICS:
        if (r->srv->metrics_mode != PX_METRICS_OFF)
            return is(r, "GET") || is(r, "HEAD") ? metrics(r) : not_allowed(r, "GET");
        /* switched off: /metrics is an unknown path */
        __attribute__((fallthrough));
    case PX_ROUTE_OTHER: {
        const char *body = "{\"error\":\"not found\",\"hint\":\"MCP is served at /mcp "
                           "(Streamable HTTP) and /sse (HTTP+SSE)\"}";
        return px_http_send_body(r, MHD_HTTP_NOT_FOUND, "application/json", body, strlen(body));
    }
    default:
        break;
    }
    if (is(r, "OPTIONS"))
        return preflight(r);
    enum MHD_Result res = refuse_host_origin(r);
    if (r->replied)
        return res;
    res = authenticate(r);
    if (r->replied)
        return res;
    switch (r->route) {
    case PX_ROUTE_MCP:
        if (is(r, "POST"))
            return px_streamable_begin(r);
        if (is(r, "DELETE"))
            return px_streamable_delete(r);
        if (is(r, "GET"))
            return px_streamable_get(r);
        return not_allowed(r, "POST, DELETE");
    case PX_ROUTE_SSE:
        return is(r, "GET") ? px_sse_open(r) : not_allowed(r, "GET");
    default: /* PX_ROUTE_MESSAGES */
        return is(r, "POST") ? px_sse_post_begin(r) : not_allowed(r, "POST");
    }
}

/* The last call: the whole body is in r->body. */
static enum MHD_Result last_call(struct px_http_req *r)
{
    if (r->route == PX_ROUTE_MCP && is(r, "POST"))
        return px_streamable_post(r);
    if (r->route == PX_ROUTE_MESSAGES && is(r, "POST"))
        return px_sse_post(r);
    return px_http_refuse_err(r, PX_EINTERNAL, "Internal error: the request was not answered",
                              NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct px_http_server *srv = cls;
    struct px_http_req *r = *con_cls;
    if (!r) {

        /* Everything but the header slots (4 KiB, read only up to nheaders) starts zeroed. */
        r = px_xmalloc(sizeof(*r));
        memset(r, 0, offsetof(struct px_http_req, headers));
        r->srv = srv;
        r->conn = conn;
        r->started_us = px_mono_us();
        snprintf(r->method, sizeof(r->method), "%s",
                 strlen(method) < sizeof(r->method) ? method : "OTHER");
        r->route = route_of(url);
        r->transport = r->route == PX_ROUTE_SSE || r->route == PX_ROUTE_MESSAGES ? "sse" : "http";
        snprintf(r->audit_method, sizeof(r->audit_method), "%s %s", r->method,
                 route_paths[r->route]);
        px_buf_init(&r->body, PX_HTTP_MAX_BODY);
        char why[200];
        const char *origin = r->route <= PX_ROUTE_MESSAGES ? px_http_header(r, "Origin") : NULL;
        if (origin && strlen(origin) < sizeof(r->cors_origin) &&
            px_http_origin_allowed(&srv->allow, origin))
            snprintf(r->cors_origin, sizeof(r->cors_origin), "%s", origin);
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        /* Ambiguous framing is refused before anything else looks at the request, and the
         * connection is closed: where this request ends is exactly what is in doubt. */
        if (!px_http_framing_check(conn, version, why, sizeof(why))) {
            r->checked = true;
            char msg[300];
            snprintf(msg, sizeof(msg), "Bad Request: ambiguous HTTP framing: %s", why);
            px_http_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
            return px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_SERVER, "bad_framing", msg,
                                  "send each header field on its own line ending in CRLF, one "
                                  "Content-Length or Transfer-Encoding: chunked (not both)");
        }
        /* A reply queued on this first call makes MHD close the connection afterwards (it
         * will not read a body it has not seen). That suits refusals of a POST before its
         * body is read; requests without a body are answered on the next call instead, so
         * their connection stays reusable. */
        if (!is(r, "POST"))
            return MHD_YES;
        r->checked = true;
        return first_call(r);
    }
    if (r->replied) {
        *upload_size = 0; /* a refusal was queued early: discard the rest of the body */
        return MHD_YES;
    }
    if (*upload_size) {
        /* MHD cannot queue a reply in the middle of a body: an oversized body (chunked, or
         * longer than its Content-Length said) is discarded and answered 413 at its end, or
         * the connection is dropped if it goes on and on. */
        if (r->discarded || px_buf_append(&r->body, upload, *upload_size)) {
            r->discarded += *upload_size;
            *upload_size = 0;
            return r->discarded > PX_HTTP_MAX_DISCARD ? MHD_NO : MHD_YES;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->discarded)
        return px_http_refuse_err(r, PX_ETOOLARGE,
                                  "Payload Too Large: a message may be at most 1 MiB", NULL);
    if (!r->checked) {
        r->checked = true;
        enum MHD_Result res = first_call(r);
        if (r->replied)
            return res;
    }
    return last_call(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct px_http_server *srv = cls;
    struct px_http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->stream) {
        px_stream_detach(r->stream);
        px_stream_release(r->stream);
    }
    if (r->stream_slot)
        px_orgcaps_give(srv->caps, r->principal.org_id, PX_ORGCAP_STREAMS);
    if (r->legacy)
        px_sse_done(r);
    px_hsession_release(r->target);
    px_metrics_request(srv->metrics, route_paths[r->route], r->method, r->status);
    json_object_put(r->rpc_id);
    px_buf_cleanup(&r->body);
    free(r);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    px_debug("http: %s", msg);
}

static void tool_done(void *ctx, const char *tool, const char *outcome, long long latency_us)
{
    px_metrics_tool(ctx, px_tools_exists(tool) ? tool : "other", outcome, (double)latency_us / 1e6);
}

/* ---- serve -------------------------------------------------------------------------------- */

static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss, int *family,
                   struct px_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc || !res)
        return px_error_set(err, PX_EINVALID, "cannot resolve listen address '%s': %s", host,
                            gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *family = res->ai_family;
    freeaddrinfo(res);
    return 0;
}

static unsigned env_threads(void)
{
    const char *t = getenv("PLANASONIX_HTTP_THREADS");
    long n = t ? strtol(t, NULL, 10) : 0;
    if (n >= 1 && n <= 64)
        return (unsigned)n;
    /* Calls run in parallel, each on a pooled store handle: one thread per core, and at
     * least two so a slow call does not stall every other connection. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 2 ? 2 : cpus > MAX_DEFAULT_THREADS ? MAX_DEFAULT_THREADS : (unsigned)cpus;
}

/* How many connections MHD may hold (idle SSE streams included): what the descriptor limit
 * allows, keeping some for the store and logs, at most MAX_CONNECTIONS. */
static unsigned connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return MAX_CONNECTIONS;
    if (rl.rlim_cur < 128)
        return 64;
    return rl.rlim_cur - 64 > MAX_CONNECTIONS ? MAX_CONNECTIONS : (unsigned)(rl.rlim_cur - 64);
}

static void shutdown_server(struct px_http_server *srv)
{
    atomic_store(&srv->stopping, true);
    MHD_socket lfd = srv->daemon ? MHD_quiesce_daemon(srv->daemon) : MHD_INVALID_SOCKET;
    /* End every session stream (GET /sse) once what is queued is sent; let requests in
     * flight finish, calls answered on a stream included. */
    int64_t deadline = px_mono_us() + SHUTDOWN_GRACE_MS * 1000LL;
    while (atomic_load(&srv->inflight) > 0 && px_mono_us() < deadline) {
        px_stream_set_close_all(srv->streams);
        usleep(10000);
    }
    if (atomic_load(&srv->inflight) > 0)
        px_warn("http: %ld requests still running after %d s; closing them",
                atomic_load(&srv->inflight), SHUTDOWN_GRACE_MS / 1000);
    pthread_mutex_lock(&srv->jobs_lock);
    srv->jobs_stop = true;
    pthread_cond_broadcast(&srv->jobs_cond);
    pthread_mutex_unlock(&srv->jobs_lock);
    pthread_mutex_lock(&srv->jobs_lock);
    int started = srv->nworkers;
    pthread_mutex_unlock(&srv->jobs_lock);
    for (int i = 0; i < started; i++)
        pthread_join(srv->workers[i], NULL);
    pthread_mutex_lock(&srv->timer_lock);
    srv->timer_stop = true;
    pthread_cond_signal(&srv->timer_cond);
    pthread_mutex_unlock(&srv->timer_lock);
    pthread_join(srv->timer, NULL);
    px_audit_set_flusher(srv->env->deps.audit, NULL, NULL);
    px_stream_set_close_all(srv->streams);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
}

/* Where and how to listen, read before anything starts. */
struct listen_config {
    char spec[300]; /* as given (or from PORT), for messages */
    char host[256];
    unsigned port;
    struct sockaddr_storage ss;
    int family;
    size_t caps[PX_ORGCAP_KINDS];
};

/* Reads the listen address (--listen, else PORT, else 127.0.0.1:8080), the allowed origins
 * and hosts, the metrics settings and the per-organization caps into c and srv. */
static int server_config(struct px_http_server *srv, const char *listen, struct listen_config *c,
                         struct px_error *err)
{
    c->port = DEFAULT_PORT;
    c->family = AF_INET;
    const char *env_port = getenv("PORT");
    if (!listen && env_port && *env_port)
        snprintf(c->spec, sizeof(c->spec), "127.0.0.1:%.8s", env_port);
    else
        snprintf(c->spec, sizeof(c->spec), "%s", listen ? listen : "127.0.0.1:8080");
    if (px_http_parse_listen(c->spec, c->host, sizeof(c->host), &c->port, err) ||
        resolve(c->host, c->port, &c->ss, &c->family, err) ||
        px_http_allow_init(&srv->allow, c->host, getenv("PLANASONIX_ALLOWED_ORIGINS"),
                           getenv("PLANASONIX_ALLOWED_HOSTS"), err) ||
        metrics_config(srv, err) || px_orgcaps_from_env(c->caps, err))
        return -1;
    return 0;
}

/* Opens the store pool, starts the run workers (app's hook), the session table, the
 * deferred-call and housekeeping threads and the libmicrohttpd daemon. 1 when the store or
 * the workers could not start (nothing else started), 2 when the daemon could not listen
 * (everything else is running: shut down as usual). */
static int server_start(struct px_http_server *srv, const struct listen_config *c)
{
    struct px_error err;
    px_error_clear(&err);
    const struct px_transport_env *env = srv->env;
    /* One store handle per HTTP thread, plus one for the live-call workers and the timer
     * (they wait for a handle when all are busy). */
    unsigned threads = env_threads();
    if (px_store_pool_open(env->store_url, (int)threads + 1, &srv->pool, &err)) {
        px_logerr("planasonix-mcp: %s", err.message);
        return 1;
    }
    /* The run workers (their own store handles; stopped by px_app_close). */
    if (env->start_workers(env->start_ctx, &err)) {
        px_logerr("planasonix-mcp: %s", err.message);
        px_store_pool_close(srv->pool);
        return 1;
    }
    srv->caps = px_orgcaps_create(c->caps);
    srv->metrics = px_metrics_create();
    srv->streams = px_stream_set_create();
    struct px_sessions_config cfg = {.env = env,
                                     .pool = srv->pool,
                                     .max_sessions = MAX_SESSIONS,
                                     .caps = srv->caps,
                                     .idle_ttl_ms = SESSION_TTL_MS,
                                     .tool_done = tool_done,
                                     .tool_ctx = srv->metrics};
    srv->sessions = px_sessions_create(&cfg);
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->inflight, 0);
    pthread_mutex_init(&srv->jobs_lock, NULL);
    pthread_cond_init(&srv->jobs_cond, NULL);
    pthread_mutex_init(&srv->timer_lock, NULL);
    pthread_cond_init(&srv->timer_cond, NULL);
    pthread_mutex_init(&srv->gone_lock, NULL);
    pthread_mutex_lock(&srv->jobs_lock);
    for (; srv->nworkers < PX_HTTP_WORKERS; srv->nworkers++)
        pthread_create(&srv->workers[srv->nworkers], NULL, px_http_worker_main, srv);
    pthread_mutex_unlock(&srv->jobs_lock);
    pthread_create(&srv->timer, NULL, timer_main, srv);
    px_audit_set_flusher(env->deps.audit, wake_flusher, srv);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (c->family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&c->ss, MHD_OPTION_THREAD_POOL_SIZE,
        threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        120u, MHD_OPTION_CONNECTION_LIMIT, connection_limit(), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)PX_HTTP_CONN_MEMORY, MHD_OPTION_END);
    if (!srv->daemon) {
        px_logerr("planasonix-mcp: cannot listen on %s (is the port in use?)", c->spec);
        return 2;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : c->port;
    bool v6 = c->family == AF_INET6;
    px_info("planasonix-mcp: serving MCP on http://%s%s%s:%u/mcp and /sse (store: %s)",
            v6 ? "[" : "", c->host, v6 ? "]" : "", bound, env->store_url);
    if (strcmp(c->host, "127.0.0.1") != 0 && strcmp(c->host, "::1") != 0 &&
        strcmp(c->host, "localhost") != 0 && !getenv("PLANASONIX_ALLOWED_HOSTS"))
        px_warn("planasonix-mcp: listening beyond loopback; set PLANASONIX_ALLOWED_HOSTS to "
                "the host names clients use (others get 421)");
    return 0;
}

/* Stops what server_start started (shutdown_server first) and frees srv. */
static void server_free(struct px_http_server *srv)
{
    shutdown_server(srv);
    px_sessions_destroy(srv->sessions);
    px_orgcaps_destroy(srv->caps);
    px_stream_set_destroy(srv->streams);
    px_metrics_destroy(srv->metrics);
    flush_audit(srv);
    px_store_pool_close(srv->pool);
    pthread_mutex_destroy(&srv->jobs_lock);
    pthread_cond_destroy(&srv->jobs_cond);
    pthread_mutex_destroy(&srv->timer_lock);
    pthread_cond_destroy(&srv->timer_cond);
    pthread_mutex_destroy(&srv->gone_lock);
    free(srv->gone);
    free(srv);
}

int px_http_serve(const struct px_transport_env *env, const char *listen)
{
    struct px_error err;
    px_error_clear(&err);
    if (px_tools_init(&err)) {
        px_logerr("%s", err.message);
        return 1;
    }
    struct px_http_server *srv = px_xcalloc(1, sizeof(*srv));
    srv->env = env;
    px_http_framing_init();
    struct listen_config c = {0};
    if (server_config(srv, listen, &c, &err)) {
        px_logerr("planasonix-mcp: %s", err.message);
        free(srv);
        return 2;
    }
    /* Signals are taken synchronously by this thread; every thread started below inherits
     * the mask, so none is interrupted. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = server_start(srv, &c);
    if (rc == 1) {
        free(srv);
        return 1;
    }
    if (rc == 0) {
        int sig = 0;
        while (sigwait(&sigs, &sig) != 0)
            ;
        px_info("planasonix-mcp: stopping on signal %d", sig);
    }
    server_free(srv);
    return rc ? 1 : 0;
}
