/*
 * One MCP session: JSON-RPC 2.0 framing rules, the initialize lifecycle with version
 * negotiation (2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25), ping, tools/list, tools/call,
 * logging/setLevel, cancellation and progress. Transports (stdio now, HTTP later) feed it
 * message texts and write what it returns; it never touches a file descriptor itself.
 *
 * Every request but ping is authenticated through the host's callback (the key comes from
 * the transport: the environment on stdio, the Authorization header on HTTP), counted against
 * the organization's rate limit (unless the host says it has admitted the message itself, see
 * px_mcp_host.admitted), and audited.
 */
#ifndef PX_MCP_SESSION_H
#define PX_MCP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct px_error;
struct px_principal;
struct px_store;
struct px_keyring;
struct px_ratelimit;
struct px_audit;
struct json_object;

#define PX_MCP_MAX_DEPTH 64 /* JSON nesting limit for incoming messages */

/* What the transport provides. */
struct px_mcp_host {
    void *ctx; /* passed to the callbacks (px_mcp_handle_call passes its own ctx instead) */
    const char *transport; /* "stdio", "http", "sse": recorded in the audit trail */
    /* Resolves the caller for one request (re-checked every request, so revocation and
     * expiry take effect at once). */
    int (*authenticate)(void *ctx, struct px_principal *out, struct px_error *err);
    /* Sends a server-initiated message (a notification) right away. */
    void (*send)(void *ctx, const char *json);
    /* Gives the transport a chance to read input that arrived meanwhile (so cancellations
     * are seen during long tool calls); may be NULL. */
    void (*poll)(void *ctx);
    /* True when the transport has already authenticated and rate-limited each message before
     * handing it over (HTTP does both per request, before any session lookup). authenticate
     * then just returns the principal the transport resolved, and the session does not count
     * the request against the rate limit a second time. */
    bool admitted;
    /* Observes each finished tools/call (metrics): outcome is "ok" or the wire error code of
     * a failed call; latency in microseconds. May be NULL. */
    void (*tool_done)(void *ctx, const char *tool, const char *outcome, long long latency_us);
};

/* Shared services a session uses; all borrowed. store is the default for px_mcp_handle (may
 * be NULL when every call goes through px_mcp_handle_call). */
struct px_mcp_deps {
    struct px_store *store;
    const struct px_keyring *keyring;
    struct px_ratelimit *rl;
    struct px_audit *audit;
    const char *files_root; /* file connectors' root (app files_root); may be NULL */
};

struct px_mcp_session;

struct px_mcp_session *px_mcp_session_create(const struct px_mcp_deps *deps,
                                             const struct px_mcp_host *host);
void px_mcp_session_destroy(struct px_mcp_session *s);

/* Handles one incoming message text (a request, notification, response or batch). Returns an
 * owned response text (free with free()) or NULL when nothing is to be sent back. Uses
 * deps.store and passes host.ctx to the host callbacks. */
char *px_mcp_handle(struct px_mcp_session *s, const char *text, size_t len);
/* The same with the store this call uses and the ctx its host callbacks get. Several calls
 * may run on one session at the same time (each on its own store handle): per-request state
 * lives in the call, session state under the session's lock. */
char *px_mcp_handle_call(struct px_mcp_session *s, struct px_store *store, void *ctx,
                         const char *text, size_t len);
/* The same for a message the transport has already parsed (with px_json_parse and the
 * PX_MCP_MAX_DEPTH limit); msg is borrowed. */
char *px_mcp_handle_msg(struct px_mcp_session *s, struct px_store *store, void *ctx,
                        struct json_object *msg);

/* The error response for a message the transport could not even frame (too large). */
char *px_mcp_error_text(int code, const char *message);

/* If text is a notifications/cancelled message, records it and returns true (the transport
 * calls this for input read while a request is running, so a cancellation is seen at once;
 * any other message it queues for later). */
bool px_mcp_take_cancel(struct px_mcp_session *s, const char *text, size_t len);

/* True once a client has completed initialize. */
bool px_mcp_initialized(const struct px_mcp_session *s);

/* True when version is one of the protocol versions this server speaks (for the HTTP
 * MCP-Protocol-Version header check). */
bool px_mcp_version_supported(const char *version);

#endif
