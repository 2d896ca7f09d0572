/*
 * The HTTP session table: MCP sessions of Streamable HTTP (Mcp-Session-Id) and of legacy
 * HTTP+SSE (?sessionId=), each wrapping one px_mcp_session.
 *
 * - Ids carry 256 bits from libsodium's CSPRNG, base64url (visible ASCII, URL-safe).
 * - A session is bound to the API key id that created it: a lookup with another key finds
 *   nothing (the caller answers 404, exactly as for an unknown id). The key itself is still
 *   checked on every request by the HTTP layer; a session is never a credential.
 * - Entries are reference counted: a DELETE or an expiry removes the id at once (later
 *   lookups fail) while requests already inside finish normally.
 * - Streamable sessions expire after an idle TTL (px_sessions_sweep); a legacy session lives
 *   exactly as long as its GET /sse stream.
 * - px_hsession_handle runs one message through the MCP session on a store handle checked out
 *   of the pool, with the principal the HTTP layer resolved. Several messages may run on one
 *   session at the same time. Cancellations (notifications/cancelled) are queued and handed
 *   over when a call polls, so one arriving while a call runs is seen by the call at once.
 */
#ifndef PX_TRANSPORT_SESSIONS_H
#define PX_TRANSPORT_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct px_transport_env;
struct px_store_pool;
struct px_principal;
struct px_stream;
struct px_sessions;
struct px_hsession;

#define PX_HSESSION_ID_MAX 48

enum px_hsession_kind { PX_HSESSION_STREAMABLE, PX_HSESSION_LEGACY };

/* Where the notifications a call emits go (an SSE stream, or a list for one response). */
struct px_http_sink {
    void (*emit)(void *ctx, const char *json);
    void *ctx;
};

struct px_orgcaps;

struct px_sessions_config {
    const struct px_transport_env *env;
    struct px_store_pool *pool; /* the store handles calls use */
    size_t max_sessions;        /* px_sessions_add refuses beyond this */
    struct px_orgcaps *caps;    /* per-organization session caps (PX_ORGCAP_SESSIONS); or NULL */
    int64_t idle_ttl_ms;        /* streamable sessions unused this long are removed by the sweep */
    /* Observes finished tool calls (metrics); may be NULL. */
    void (*tool_done)(void *ctx, const char *tool, const char *outcome, long long latency_us);
    void *tool_ctx;
};

struct px_sessions *px_sessions_create(const struct px_sessions_config *cfg);
/* Releases every session still in the table. */
void px_sessions_destroy(struct px_sessions *t);

/* A new session bound to key_id of org_id, not yet in the table; the caller holds one
 * reference. */
struct px_hsession *px_hsession_new(struct px_sessions *t, enum px_hsession_kind kind,
                                    const char *key_id, const char *org_id);

enum px_session_added {
    PX_SESSION_ADDED,
    PX_SESSION_FULL,     /* the table holds max_sessions */
    PX_SESSION_ORG_FULL, /* the session's organization holds its cap */
};
/* Inserts s (the table takes its own reference, and one of its organization's session slots
 * until it is removed). Anything but PX_SESSION_ADDED leaves s out of the table. */
enum px_session_added px_sessions_add(struct px_sessions *t, struct px_hsession *s);
/* Finds a session of this kind bound to key_id and takes a reference (release it), or NULL
 * when unknown, removed, expired or bound to another key. Refreshes its idle time. */
struct px_hsession *px_sessions_get(struct px_sessions *t, const char *id, const char *key_id,
                                    enum px_hsession_kind kind);
/* Removes s from the table (DELETE, end of its stream); true when it was there. */
bool px_sessions_remove(struct px_sessions *t, struct px_hsession *s);
/* Removes streamable sessions idle for the TTL and not in use; returns how many. */
size_t px_sessions_sweep(struct px_sessions *t, int64_t now_ms);
size_t px_sessions_count(struct px_sessions *t, enum px_hsession_kind kind);
/* Removes every session (of either kind) whose key gone(ctx, key_id) says can no longer act:
 * later requests naming it get 404, as for an ended session. Requests already inside keep
 * their reference (their results are withheld by the HTTP layer). Returns how many. gone is
 * called under the table's lock and must not call back into the table. */
size_t px_sessions_end_keys(struct px_sessions *t, bool (*gone)(void *ctx, const char *key_id),
                            void *ctx);

void px_hsession_release(struct px_hsession *s);
const char *px_hsession_id(const struct px_hsession *s);
/* The legacy session's GET /sse stream (the session holds a reference), or NULL. */
struct px_stream *px_hsession_stream(const struct px_hsession *s);
void px_hsession_set_stream(struct px_hsession *s, struct px_stream *stream);

/* Handles one message text as p (already authenticated and rate-limited), sending the
 * notifications it emits to sink. Holds a pooled store handle for the duration. Returns the
 * owned reply text or NULL (see px_mcp_handle). */
char *px_hsession_handle(struct px_hsession *s, const struct px_principal *p,
                         const struct px_http_sink *sink, const char *text, size_t len);
/* The same for a message the HTTP layer already parsed (borrowed). */
char *px_hsession_handle_msg(struct px_hsession *s, const struct px_principal *p,
                             const struct px_http_sink *sink, struct json_object *msg);
/* True once initialize succeeded on this session. */
bool px_hsession_initialized(struct px_hsession *s);
/* Queues a notifications/cancelled message for the session without waiting for the call
 * running on it. */
void px_hsession_cancel(struct px_hsession *s, const char *text, size_t len);

#endif
