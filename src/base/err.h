/*
 * Error codes and the error record that carries a message for a human.
 *
 * Every fallible function returns 0 on success or a negative PX_E* code, and fills a
 * caller-provided struct px_error with text a user can act on (what was wrong, what to do).
 * The code list is one X-macro so that names, wire strings and protocol mappings come from
 * the same place. This header knows nothing about JSON-RPC or HTTP.
 */
#ifndef PX_BASE_ERR_H
#define PX_BASE_ERR_H

#include <stdbool.h>

/* XX(NAME, wire name, retryable-by-default) */
#define PX_ERR_MAP(XX)                                                                             \
    XX(INVALID, "invalid_argument", false)                                                         \
    XX(NOTFOUND, "not_found", false)                                                               \
    XX(CONFLICT, "conflict", false)                                                                \
    XX(IN_USE, "in_use", false)                                                                    \
    XX(UNAUTHORIZED, "unauthorized", false)                                                        \
    XX(FORBIDDEN, "insufficient_permissions", false)                                               \
    XX(PLAN, "plan_not_allowed", false)                                                            \
    XX(RATELIMIT, "rate_limited", true)                                                            \
    XX(UNAVAILABLE, "not_available", false)                                                        \
    XX(TOOLARGE, "too_large", false)                                                               \
    XX(STORE, "store_error", true)                                                                 \
    XX(IO, "io_error", true)                                                                       \
    XX(CRYPTO, "crypto_error", false)                                                              \
    XX(NOMEM, "out_of_memory", true)                                                               \
    XX(INTERNAL, "internal_error", false)

enum px_err_code {
    PX_OK = 0,
#define XX(name, wire, retry) PX_E##name,
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

#endif
