/*
 * Error codes and the error record that carries a message for a human.
 *
 * Every fallible function returns 0 on success or a negative PX_E* code, and fills a
 * caller-provided struct px_error with text a user can act on (what was wrong, what to do).
 * The code list is one X-macro, the one place that says what each error is on every wire: its
 * name (JSON data.code, audit rows), whether repeating may help, the JSON-RPC error code of a
 * request refused for it and the HTTP status of an HTTP request refused for it. The JSON-RPC
 * codes themselves are named here too (PX_RPC_*), so no other file holds a protocol number.
 * Refusals that are not a PX_E error (a malformed message, an unknown method, a header the
 * HTTP transport rejects) use the PX_RPC_* names with their own HTTP status.
 */
#ifndef PX_BASE_ERR_H
#define PX_BASE_ERR_H

#include <stdbool.h>

/* JSON-RPC 2.0 error codes: the standard ones, then ours in the implementation-defined range
 * (-32000..-32099). XX(NAME, code) */
#define PX_RPC_MAP(XX)                                                                             \
    XX(PARSE, -32700)            /* not JSON */                                                    \
    XX(INVALID_REQUEST, -32600)  /* JSON, not a valid request */                                   \
    XX(METHOD_NOT_FOUND, -32601) /* no such method */                                              \
    XX(INVALID_PARAMS, -32602)   /* the method's params are wrong */                               \
    XX(INTERNAL, -32603)         /* the server failed */                                           \
    XX(SERVER, -32000)           /* refused by the transport or the server (generic) */            \
    XX(UNAUTHORIZED, -32001)     /* no valid API key */                                            \
    XX(FORBIDDEN, -32003)        /* the key or its plan may not do this */                         \
    XX(RATE_LIMITED, -32029)     /* over a rate limit: retry later */

enum px_rpc_code {
#define XX(name, code) PX_RPC_##name = code,
    PX_RPC_MAP(XX)
#undef XX
};

/* XX(NAME, wire name, retryable-by-default, JSON-RPC code, HTTP status) */
#define PX_ERR_MAP(XX)                                                                             \
    XX(INVALID, "invalid_argument", false, PX_RPC_INVALID_PARAMS, 400)                             \
    XX(NOTFOUND, "not_found", false, PX_RPC_SERVER, 404)                                           \
    XX(CONFLICT, "conflict", false, PX_RPC_SERVER, 409)                                            \
    XX(IN_USE, "in_use", false, PX_RPC_SERVER, 409)                                                \
    XX(UNAUTHORIZED, "unauthorized", false, PX_RPC_UNAUTHORIZED, 401)                              \
    XX(FORBIDDEN, "insufficient_permissions", false, PX_RPC_FORBIDDEN, 403)                        \
    XX(PLAN, "plan_not_allowed", false, PX_RPC_FORBIDDEN, 403)                                     \
    XX(RATELIMIT, "rate_limited", true, PX_RPC_RATE_LIMITED, 429)                                  \
    XX(UNAVAILABLE, "not_available", false, PX_RPC_SERVER, 503)                                    \
    XX(TOOLARGE, "too_large", false, PX_RPC_SERVER, 413)                                           \
    XX(STORE, "store_error", true, PX_RPC_INTERNAL, 503)                                           \
    XX(IO, "io_error", true, PX_RPC_INTERNAL, 500)                                                 \
    XX(CRYPTO, "crypto_error", false, PX_RPC_INTERNAL, 500)                                        \
    XX(NOMEM, "out_of_memory", true, PX_RPC_INTERNAL, 503)                                         \
    XX(INTERNAL, "internal_error", false, PX_RPC_INTERNAL, 500)

enum px_err_code {
    PX_OK = 0,
#define XX(name, wire, retry, rpc, http) PX_E##name,
    PX_ERR_MAP(XX)
#undef XX
        PX_E_COUNT_
};

/* Error codes are returned negated: `return -PX_ENOTFOUND;`. */

struct px_error {
    int code;            /* positive enum px_err_code; 0 when no error */
    bool retryable;      /* whether repeating the same request may succeed */
    char field[64];      /* the argument or path the error is about, or "" */
    char message[512];   /* what went wrong, for a human */
    char hint[256];      /* what to do next, or "" */
    long retry_after_ms; /* for PX_ERATELIMIT: when to try again */
};

/* Resets an error record to "no error". */
void px_error_clear(struct px_error *err);

/* Fills err (message printf-style) and returns -code, so callers can `return px_error_set(...)`.
 * err may be NULL. */
int px_error_set(struct px_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the hint of an error already set. */
void px_error_hint(struct px_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the field the error is about. */
void px_error_field(struct px_error *err, const char *field);

/* The wire name of a code ("not_found"); "internal_error" for unknown codes. Accepts positive or
 * negative codes. */
const char *px_err_name(int code);

/* The JSON-RPC error code of a request refused for this error (PX_RPC_INTERNAL for unknown
 * codes). Accepts positive or negative codes. */
int px_err_rpc(int code);

/* The HTTP status of an HTTP request refused for this error (500 for unknown codes). Accepts
 * positive or negative codes. */
int px_err_http(int code);

#endif
