/*
 * What the HTTP transport files share (http.c, streamable.c, sse.c): the server, one request
 * in flight, the reply helpers and the message admission steps. Not for use outside
 * src/transport/.
 *
 * A request is handled by libmicrohttpd's access callback, called once with the headers and
 * then again for each piece of the body and once more at its end. For a POST, http.c checks
 * Host, Origin and the bearer key on the first call (before any session lookup) and the
 * route's begin function checks the remaining headers, so a refusal goes out before the body
 * is read; the body is then collected (at most PX_HTTP_MAX_BODY) and the route's body
 * function runs on the last call. Requests without a body run all of it on their last call
 * (a reply queued on the first call makes MHD close the connection).
 */
#ifndef PX_TRANSPORT_HTTP_INTERNAL_H
#define PX_TRANSPORT_HTTP_INTERNAL_H

#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "base/buf.h"
#include "base/err.h" /* PX_RPC_* and each error's HTTP status */
#include "transport/http_policy.h"
#include "transport/orgcaps.h"

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct px_transport_env;
struct px_store_pool;
struct px_sessions;
struct px_stream;
struct px_stream_set;
struct px_metrics;
struct px_hsession;

#define PX_HTTP_MAX_BODY (1u << 20) /* 1 MiB: a larger body gets 413 */
/* Per-connection memory of libmicrohttpd (request line and headers, read and write buffers;
 * bodies stream through it to our own buffer). 16 KiB holds twice the 8 KiB of headers common
 * servers accept; libmicrohttpd clears it after every request, so its default 32 KiB cost a
 * 32 KiB memset per call. Larger headers get 431. */
#define PX_HTTP_CONN_MEMORY (16u << 10)
#define PX_HTTP_MAX_DISCARD (8u << 20) /* past the limit, read this much more, then hang up */
#define PX_HTTP_WORKERS 2              /* threads running calls whose response is a live stream */
#define PX_HTTP_MAX_WORKERS 64         /* started on demand while all are busy (waiting calls) */
#define PX_HTTP_MAX_JOBS 256           /* calls waiting for those threads */
#define PX_HTTP_MAX_HEADERS 8          /* extra response headers per reply */

/* Who may read /metrics (PLANASONIX_METRICS). */
enum px_metrics_mode {
    PX_METRICS_PUBLIC, /* anyone who reaches the listener (the default without a token) */
    PX_METRICS_OFF,    /* not served: 404 as for any unknown path */
    PX_METRICS_TOKEN,  /* Authorization: Bearer PLANASONIX_METRICS_TOKEN, else 401 */
};

struct px_http_job {
    struct px_http_job *next;
    void (*run)(void *arg);
    void *arg;
};

struct px_http_server {
    const struct px_transport_env *env;
    struct px_store_pool *pool; /* store handles for requests (checked out per use) */
    struct MHD_Daemon *daemon;
    struct px_http_allow allow;
    struct px_sessions *sessions;
    struct px_stream_set *streams;
    struct px_metrics *metrics;
    struct px_orgcaps *caps; /* per-organization sessions, streams, calls */
    /* Keys that can no longer act (revoked or expired), sorted, refreshed by the housekeeping
     * thread every second while anything is open: what they hold is ended and results of
     * their calls still running are withheld (px_http_key_gone). */
    pthread_mutex_t gone_lock;
    char (*gone)[PX_ID_MAX];
    size_t ngone;
    enum px_metrics_mode metrics_mode;
    unsigned char metrics_token[32]; /* BLAKE2b of PLANASONIX_METRICS_TOKEN (token mode) */
    atomic_bool stopping;
    atomic_long inflight;
    /* Calls deferred to the worker threads (see px_http_defer). */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond;
    struct px_http_job *jobs_head, *jobs_tail;
    size_t njobs;
    bool jobs_stop;
    pthread_t workers[PX_HTTP_MAX_WORKERS];
    int nworkers, idle_workers; /* started; waiting for a job */
    /* The housekeeping thread: once a second, and at once when the audit queue fills
     * (flush_now), so request threads never wait on an audit write. */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    bool timer_stop, flush_now;
    pthread_t timer;
};

enum px_http_route {
    PX_ROUTE_MCP,
    PX_ROUTE_SSE,
    PX_ROUTE_MESSAGES,
    PX_ROUTE_HEALTH,
    PX_ROUTE_METRICS,
    PX_ROUTE_OTHER,
};

struct px_http_req {
    struct px_http_server *srv;
    struct MHD_Connection *conn;
    char method[8]; /* GET, POST, DELETE, ... ("OTHER" when longer) */
    enum px_http_route route;
    const char *transport; /* "http" or "sse", for the audit trail */
    char audit_method[64]; /* JSON-RPC method once known, else "POST /mcp" and the like */
    int64_t started_us;
    bool checked; /* the header checks ran (first_call) */
    bool replied;
    enum MHD_Result result;        /* of the last MHD_queue_response */
    int status;                    /* queued status, for metrics */
    struct px_principal principal; /* valid once authenticated */
    bool authenticated;
    bool rated; /* a rate decision with a limit was taken: send RateLimit fields */
    struct px_rate_decision rate;
    struct px_buf body;
    size_t discarded;           /* body bytes dropped past PX_HTTP_MAX_BODY */
    struct json_object *rpc_id; /* id of the request being answered, for error bodies */
    struct px_stream *stream;   /* the SSE stream this request serves (own reference) */
    struct px_hsession *legacy; /* GET /sse: the session that ends with this stream */
    struct px_hsession *target; /* POST /messages: the session addressed */
    bool stream_slot;           /* holds one of its organization's stream slots (given back at
                                   the request's end) */
    /* The request's Origin when it is allowed on an MCP route: every reply then carries the
     * CORS response headers for it (empty otherwise). */
    char cors_origin[PX_HTTP_ALLOW_LEN];
    int nheaders;
    char headers[PX_HTTP_MAX_HEADERS][2][256]; /* last: not zeroed on allocation */
};

/* A parsed message body and what it contains. */
struct px_http_msg {
    struct json_object *json; /* owned */
    bool has_request;         /* a request (method and id), alone or in a batch */
    bool counted;             /* a request other than ping: counts against the rate limit */
    bool initialize;          /* one initialize request */
    bool cancel;              /* one notifications/cancelled */
    struct json_object *progress_token; /* one request carrying params._meta.progressToken */
    /* One tools/call that asks to wait (arguments.wait_seconds > 0): it may take that long,
     * so it runs on a job thread (px_http_defer), never on an HTTP thread. */
    bool may_block;
};

/* A request header, or NULL. */
const char *px_http_header(struct px_http_req *r, const char *name);
/* Adds a header to the next reply (value copied; silently dropped past the maximum). */
void px_http_add_header(struct px_http_req *r, const char *name, const char *value);
/* Queues resp with status (adding the common and pending headers), records the status and
 * destroys resp. Returns what MHD returned. */
enum MHD_Result px_http_send(struct px_http_req *r, unsigned status, struct MHD_Response *resp);
/* A reply with a body of content type ctype (NULL/0 for an empty body). */
enum MHD_Result px_http_send_body(struct px_http_req *r, unsigned status, const char *ctype,
                                  const char *body, size_t len);
/* As px_http_send_body with an owned body (malloc'd), handed to libmicrohttpd without a copy:
 * it frees it once sent (or at once if the response cannot be made). */
enum MHD_Result px_http_send_owned(struct px_http_req *r, unsigned status, const char *ctype,
                                   char *body, size_t len);
/* Audits the request as refused (outcome "denied" for 401/403/404/421/429, else "error",
 * with audit_code) and answers with a JSON-RPC error body (id r->rpc_id or null) carrying
 * data {code: audit_code, hint?}. */
enum MHD_Result px_http_refuse(struct px_http_req *r, unsigned status, int rpc_code,
                               const char *audit_code, const char *message, const char *hint);
/* px_http_refuse for a refusal that is a PX_E error (positive or negative code): the status, the
 * JSON-RPC code and the audit code come from base/err.h's table. */
enum MHD_Result px_http_refuse_err(struct px_http_req *r, int code, const char *message,
                                   const char *hint);
/* Queues one audit row for this request (flushing with a pooled store when due). */
void px_http_audit(struct px_http_req *r, const char *outcome, const char *error_code);

/* Checks Content-Type (415) and Content-Length (413) of a POST. Returns true when the body
 * may be read; otherwise a reply is queued. */
bool px_http_check_post(struct px_http_req *r);
/* True when the declared Content-Length is over the limit: the body will be drained and
 * answered 413 at its end, so nothing else should be decided before then. */
bool px_http_oversized(struct px_http_req *r);
/* Parses the collected body with the JSON depth limit and classifies it; on malformed JSON
 * answers 400 -32700 and returns false. Sets r->audit_method and r->rpc_id. */
bool px_http_parse_msg(struct px_http_req *r, struct px_http_msg *m);
void px_http_msg_free(struct px_http_msg *m);
/* Takes one request from the organization's rate limit when m->counted; on refusal answers
 * 429 (Retry-After, RateLimit-Policy, RateLimit, data.retry_after_ms) and returns false. */
bool px_http_take_rate(struct px_http_req *r, const struct px_http_msg *m);
/* Takes one of the authenticated organization's slots of kind (orgcaps.h); at its cap,
 * answers 429 naming the cap, its setting and what to do, and returns false. */
bool px_http_take_slot(struct px_http_req *r, enum px_orgcap_kind kind);
/* Answers 429 for an organization at its cap of kind (as px_http_take_slot refusing). */
enum MHD_Result px_http_refuse_cap(struct px_http_req *r, enum px_orgcap_kind kind);
/* True when key_id was revoked or expired as of the last housekeeping check (at most about a
 * second ago): a call of that key that finishes now must not deliver its result. */
bool px_http_key_gone(struct px_http_server *srv, const char *key_id);
/* Runs fn(arg) on a worker thread. False when the queue is full or the server is stopping. */
bool px_http_defer(struct px_http_server *srv, void (*run)(void *arg), void *arg);
/* A deferred-call thread (http_jobs.c); arg is the server. */
void *px_http_worker_main(void *arg);

#endif
