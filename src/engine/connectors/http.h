/*
 * Private to the HTTP JSON API connector: its settings and one GET request
 * (engine/connectors/http_req.c), used by the source, its pagination and its probe
 * (engine/connectors/http.c). A request runs on a libcurl easy handle restricted to http/https,
 * parses the body as JSON while it arrives, and its outcome becomes a sanitized px_error (secrets
 * redacted) in px__http_check.
 */
#ifndef PX_ENGINE_CONN_HTTP_H
#define PX_ENGINE_CONN_HTTP_H

#include "base/buf.h"
#include "base/curl_api.h"
#include "base/err.h"
#include "engine/jsonval.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_node_ctx;
struct px_engine_opts;
struct px_mem;

#define PX_HTTP_BODY_MAX ((size_t)64 << 20) /* decoded bytes per response */
#define PX_HTTP_ERRBODY_MAX 4096            /* bytes kept of a non-2xx body (or a probe's) */
#define PX_HTTP_SNIPPET 100                 /* body bytes quoted in a message */
#define PX_HTTP_LINK_MAX 16384              /* bytes of Link headers kept per response */
#define PX_HTTP_URL_MAX 16384

enum px_http_pag { PX_PAG_NONE, PX_PAG_PAGE, PX_PAG_OFFSET, PX_PAG_CURSOR, PX_PAG_LINK };

struct px_http_conf {
    char *url; /* base_url joined with config.path (owned) */
    struct curl_slist *headers;
    const char *secrets[64]; /* borrowed from params: redacted from every message */
    int nsecrets;
    long timeout_ms;
    const char *records_path; /* borrowed from config, or NULL */
    enum px_http_pag pag;
    const char *page_param, *offset_param, *size_param, *cursor_param, *cursor_path;
    int64_t page_size; /* 0: not sent */
    int64_t max_pages;
    /* The node's memory account (engine/budget.h), or NULL: a parsed body's estimated DOM
     * (px_json_cost) is reserved in it as the body arrives, so a page whose JSON would not fit
     * the run's budget is refused before it is built. */
    struct px_mem *mem;
};

enum px_http_abort {
    PX_AB_NONE,
    PX_AB_TOO_LARGE,
    PX_AB_NOT_JSON,
    PX_AB_ENOUGH,
    PX_AB_CANCELLED,
    PX_AB_BUDGET
};

struct px_http_xfer {
    CURL *curl;
    const struct px_engine_opts *opts; /* for cancellation, or NULL */
    bool parse;
    size_t cap;
    long status;
    size_t nbytes;
    struct json_tokener *tok;
    struct json_object *doc; /* owned */
    enum json_tokener_error jerr;
    bool trailing;
    enum px_http_abort abort;
    char prefix[PX_HTTP_ERRBODY_MAX];
    size_t nprefix;
    char ctype[96], retry_after[64], server[64];
    struct px_buf link; /* Link header values, comma-joined */
    uint64_t hash;      /* FNV-1a of the body */
    char errbuf[CURL_ERROR_SIZE];
    int redirects;  /* redirects followed */
    char away[160]; /* a redirect to another origin (not followed): its origin, or "" */
    /* The egress policy (base/egress.h) refused an address curl was about to connect to (the
     * first URL or a redirect's): why. */
    bool egress_refused;
    struct px_error *egress;    /* owned; NULL until refused */
    struct px_mem *mem;         /* cf->mem */
    struct px_json_cost cost;   /* of the body parsed so far */
    int64_t charged;            /* bytes reserved in mem for doc (released by xfer_free) */
    struct px_error budget_err; /* PX_AB_BUDGET: the budget's message */
};

#define PX_HTTP_HASH_INIT 14695981039346656037ULL

/* Reads params (headers, auth_token, timeout_seconds, base_url joined with config.path when
 * source) and, for a source, config (records_path, pagination) into cf. On failure cf still
 * needs px__http_conf_cleanup. */
int px__http_conf_init(const struct px_node_ctx *ctx, bool source, struct px_http_conf *cf,
                       struct px_error *err);
void px__http_conf_cleanup(struct px_http_conf *cf);
/* Replaces auth_token and header values in err's message and hint with "[redacted]"; returns
 * rc. */
int px__http_redact(const struct px_http_conf *cf, int rc, struct px_error *err);

/* A new easy handle with the connector's fixed options, or NULL. */
CURL *px__http_handle(void);
/* GETs url with cf's headers within timeout_ms, keeping at most cap body bytes; parse: the
 * body is parsed as JSON into (*out)->doc. *out is always set: free it with
 * px__http_xfer_free. */
CURLcode px__http_get(CURL *c, const struct px_http_conf *cf, const char *url, bool parse,
                      size_t cap, long timeout_ms, const struct px_engine_opts *opts,
                      struct px_http_xfer **out);
void px__http_xfer_free(struct px_http_xfer *x);
/* 0 when x is a usable 2xx response (with a JSON object or array when parsed, or an empty
 * 204), else an error about what ("page 2 (GET /v1/orders)"): HTTP status, network, size, JSON
 * failures, each with a hint and retryable set where a retry may help. */
int px__http_check(const struct px_http_conf *cf, const struct px_http_xfer *x, CURLcode cc,
                   const char *what, long timeout_ms, struct px_error *err);

/* The path of url (no query string, no credentials), for messages. */
void px__http_url_path(const char *url, char *out, size_t size);
/* At most PX_HTTP_SNIPPET bytes of p, control characters blanked, cut on a UTF-8 boundary. */
void px__http_snippet(const char *p, size_t n, char *out, size_t size);
/* Whether two URLs share scheme, host and port. */
bool px__http_same_origin(const char *a, const char *b);
/* ref resolved against base (owned), or NULL. */
char *px__http_resolve(const char *base, const char *ref);
/* url with n name=value query parameters (kv[2i], kv[2i+1]) appended, escaped; owned, or NULL
 * when the result is not a valid http(s) URL. */
char *px__http_url_with(CURL *c, const char *url, const char *const *kv, int n);
/* FNV-1a over n bytes, continuing from h (start with PX_HTTP_HASH_INIT). */
uint64_t px__http_hash(uint64_t h, const void *p, size_t n);

#endif
