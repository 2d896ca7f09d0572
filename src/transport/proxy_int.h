/*
 * Private to the stdio proxy module (proxy.c, proxy_http.c; proxy_sse.c needs only proxy.h):
 * the proxy's state (struct proxy), a message read from stdin (struct job), a session snapshot,
 * one HTTP exchange (struct xfer) and its outcome, and the functions the files call across:
 * proxy.c provides the stop flag, the clock, key redaction and the stdout writer; proxy_http.c
 * provides the libcurl handle, the exchange and turning its outcome into what the client sees.
 */
#ifndef PX_TRANSPORT_PROXY_INT_H
#define PX_TRANSPORT_PROXY_INT_H

#include "transport/proxy.h"

#include "base/buf.h"

#include "base/curl_api.h"
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SID_MAX 256    /* longest Mcp-Session-Id accepted */
#define VERSION_MAX 32 /* longest protocol version accepted */

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

struct worker;

/* The proxy (one per process). */
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

/* The session a message is sent with, copied under sess_mu. */
struct sess_snap {
    char sid[SID_MAX + 1];
    char version[VERSION_MAX + 1];
    unsigned gen;
};

/* One HTTP exchange in progress (px__proxy_xfer_init / px__proxy_xfer_cleanup). */
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

/* What an exchange means for the client (px__proxy_classify; px__proxy_outcome_cleanup). */
struct outcome {
    int code; /* a JSON-RPC error to report, 0 when none */
    char message[768];
    char hint[320];
    long http_status;
    long retry_after_ms;      /* -1 when not known */
    struct json_object *body; /* a JSON-RPC error from the server to pass on (owned) */
    bool silent;              /* aborted on purpose: say nothing */
};

/* ---- proxy_out.c ---- */

/* The SIGTERM/SIGINT handler (async-signal-safe) and a stop for another reason (SIGPIPE: the
 * client went away); both wake the reader. */
void px__proxy_on_signal(int sig);
void px__proxy_request_stop(int why);
/* True once a termination signal arrived or the client went away; the signal, or 0. */
bool px__proxy_stopping(void);
int px__proxy_stop_reason(void);
/* The pipe a stop writes to, which the reader polls beside stdin (-1 before open). */
void px__proxy_wake_open(void);
int px__proxy_wake_fd(void);
void px__proxy_wake_close(void);
/* Monotonic milliseconds. */
int64_t px__proxy_mono_ms(void);
/* Replaces every occurrence of the key in s (so it cannot reach a log or the client). */
void px__proxy_redact(const struct proxy *p, char *s);
/* Writes one message as one line to stdout, atomically with respect to other writers. */
void px__proxy_write_line(struct proxy *p, const char *text, size_t n);
void px__proxy_write_json(struct proxy *p, struct json_object *m);

/* ---- proxy_http.c ---- */

/* A libcurl handle set up for the proxy's exchanges (aborts when libcurl cannot make one). */
CURL *px__proxy_new_handle(void);
/* job: for cancellation (NULL for the proxy's own messages); id: the request id answers are
 * matched against (NULL: any); emit: write the server's messages to stdout; capture: keep the
 * answer in x->captured. */
void px__proxy_xfer_init(struct xfer *x, struct proxy *p, struct job *job, struct json_object *id,
                         bool emit, bool capture);
void px__proxy_xfer_cleanup(struct xfer *x);
/* Sends one exchange: POST body (or DELETE when body is NULL) with the session s. */
CURLcode px__proxy_perform(struct proxy *p, CURL *c, const char *body, size_t len,
                           const struct sess_snap *s, struct xfer *x);
/* Fills *o from a finished exchange (a 2xx JSON body is delivered here); expect_answer: the
 * message was a request, so a 2xx without its answer is an error. */
void px__proxy_classify(struct proxy *p, struct xfer *x, CURLcode rc, bool expect_answer,
                        struct outcome *o);
void px__proxy_outcome_cleanup(struct outcome *o);
/* What to say about an outcome: a JSON-RPC error response to the client for a request (NULL id
 * when unknown), a log line for anything else. */
void px__proxy_report(struct proxy *p, const char *what, struct json_object *id, bool is_request,
                      bool cancelled, struct outcome *o);

#endif
