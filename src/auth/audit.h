/*
 * The audit trail: one row per request, refused ones included (time, org, key id, transport,
 * method, tool, target, outcome, error code, latency, arguments with secrets redacted).
 * The table is append-only (the store refuses updates and deletes).
 *
 * Two ways in: a mutation writes its row with px_audit_write inside its own transaction, so
 * the row commits or rolls back with the change; reads and refusals are queued with
 * px_audit_enqueue and written in batches by px_audit_flush (group commit), which the
 * transport calls when px_audit_due_ms says so, and on shutdown; `serve` does it on its
 * housekeeping thread (px_audit_set_flusher).
 */
#ifndef PX_AUTH_AUDIT_H
#define PX_AUTH_AUDIT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_error;
struct px_store;
struct px_audit;

struct px_audit_entry {
    int64_t at;             /* ms since the epoch */
    const char *org_id;     /* NULL when the caller was not identified */
    const char *key_id;     /* NULL likewise */
    const char *transport;  /* "stdio", "http", "sse", "cli" */
    const char *method;     /* JSON-RPC method or CLI command */
    const char *tool;       /* tool name for tools/call, else NULL */
    const char *target_id;  /* the object acted on, when known */
    const char *outcome;    /* "ok", "error" or "denied" */
    const char *error_code; /* wire error name, or NULL */
    int64_t latency_us;
    const char *arguments; /* redacted JSON (px_audit_redact), or NULL */
};

struct px_audit *px_audit_create(void);
/* Frees the queue; entries not flushed are lost, so flush first. */
void px_audit_destroy(struct px_audit *a);
/* Copies the entry into the queue. Returns true when the caller should flush now: the queue
 * is full and no background flusher is set. */
bool px_audit_enqueue(struct px_audit *a, const struct px_audit_entry *e);
/* Hands flushing to a background thread (serve's housekeeping thread): wake(arg) is called,
 * without the queue's lock held, when the queue fills, and request threads never block on a
 * flush. wake = NULL goes back to flushing by the callers. */
void px_audit_set_flusher(struct px_audit *a, void (*wake)(void *), void *arg);
/* How long queued rows may wait before a flush (group commit). */
#define PX_AUDIT_FLUSH_MS 1000

/* Milliseconds until the queue is due for a flush at now_ms: 0 = flush now (the oldest row
 * has waited PX_AUDIT_FLUSH_MS, or the queue is full), -1 = the queue is empty. */
int64_t px_audit_due_ms(const struct px_audit *a, int64_t now_ms);
/* Number of entries queued and not yet written. */
size_t px_audit_pending(const struct px_audit *a);
/* Writes every queued entry in one transaction. On failure the entries stay queued. */
int px_audit_flush(struct px_audit *a, struct px_store *st);
/* Writes one entry now (inside the caller's transaction, if any). */
int px_audit_write(struct px_store *st, const struct px_audit_entry *e, struct px_error *err);
/* Returns an owned JSON text of args with the values of secret-looking keys (password,
 * secret, token, auth_token, api_key, key, credentials, and every secret param of the
 * connection type catalog) replaced by "[redacted]", and every value of a "headers" object
 * (http connection headers: the names stay), capped at 4 KiB. NULL args → NULL. */
char *px_audit_redact(struct json_object *args);

#endif
