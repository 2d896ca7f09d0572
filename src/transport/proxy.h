/*
 * stdio proxy mode (DESIGN.md §3.1, mcp.md §7): `planasonix-mcp --stdio` with PLANASONIX_API_URL
 * set forwards the stdio session to a remote `planasonix-mcp serve` over Streamable HTTP, sending
 * PLANASONIX_API_KEY as `Authorization: Bearer`. No local store or master key is opened.
 *
 * The endpoint is derived from PLANASONIX_API_URL by one rule (px_proxy_endpoint):
 *   - a path ending in /mcp (or /mcp/) is used as given: https://h/tenant/mcp;
 *   - a path ending in /sse (the legacy HTTP+SSE endpoint, often copied from a remote client
 *     config) has that segment replaced by /mcp, since the proxy speaks Streamable HTTP only;
 *   - any other path gets /mcp appended: https://h → https://h/mcp, https://h/x/ → https://h/x/mcp.
 * The query string is kept; user:password@ in the URL is dropped (the key goes in
 * PLANASONIX_API_KEY). Only http and https are accepted; redirects are not followed.
 *
 * Each stdin line is POSTed as one message. Responses are written to stdout as single lines:
 * a JSON body as is, an SSE body event by event as it arrives (so progress notifications stream
 * through before the response), nothing for 202. initialize and notifications/initialized are
 * forwarded synchronously (nothing else goes out before the session id is known); other requests
 * run concurrently on up to PX_PROXY_WORKERS threads, and notifications (cancellations) go out on
 * their own thread in order, so a long tools/call never delays a cancellation.
 *
 * HTTP failures become JSON-RPC errors for the request's id: unreachable → -32000 "Cannot reach
 * the Planasonix server at URL: …"; 401 → -32001; 403 without a JSON-RPC body → -32003
 * "Forbidden"; 429 → -32029 with data.retry_after_ms (body or Retry-After); other statuses →
 * -32000 with the status. A JSON-RPC error body from the server is passed through (only an id of
 * null is replaced by the request's id, so the client can match it). A 404 on an established
 * session means it expired: the proxy re-initializes once, transparently (replaying the client's
 * initialize params, notifications/initialized and its last logging/setLevel), then retries the
 * request; a second 404 is reported as -32000. Failed notifications are only logged.
 *
 * Files: proxy.c (state, sessions, message handling, workers, the reader, px_proxy_run),
 * proxy_http.c (the endpoint rule, one HTTP exchange and what the client sees of it),
 * proxy_out.c (the stop state, redaction and stdout both of them use), proxy_sse.c (the
 * event-stream parser); proxy_int.h is private to them.
 */
#ifndef PX_TRANSPORT_PROXY_H
#define PX_TRANSPORT_PROXY_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct px_error;

#define PX_PROXY_WORKERS 8               /* requests in flight at once */
#define PX_PROXY_MAX_MESSAGE (64u << 20) /* a longer response message or SSE event fails */
#define PX_PROXY_CONNECT_TIMEOUT_S 10    /* TCP+TLS connect */
#define PX_PROXY_IDLE_TIMEOUT_S 300      /* no byte for this long: the server is dead */
#define PX_PROXY_DRAIN_MS 30000          /* on stdin EOF, wait this long for requests in flight */
#define PX_PROXY_DELETE_TIMEOUT_MS 3000  /* the session DELETE on exit */
#define PX_PROXY_CANCEL_GRACE_MS 10000   /* a cancelled request's HTTP exchange is dropped after */

/* Runs the proxy until stdin EOF or SIGTERM/SIGINT. Returns the process exit code. */
int px_proxy_run(const char *api_url);

/* Applies the endpoint rule above. On success *endpoint is the URL to POST to and *display the
 * same without user info and query (for messages); both owned (free()). */
int px_proxy_endpoint(const char *api_url, char **endpoint, char **display, struct px_error *err);

/* A text/event-stream parser (WHATWG rules: event/data/id/retry fields, multi-line data joined
 * with \n, comments and unknown fields ignored, CR, LF and CRLF line ends). */
struct px_sse {
    struct px_buf line; /* the line being read */
    struct px_buf data; /* data fields of the event being read, each followed by \n */
    char event[64];
    char last_id[128];
    bool cr;       /* the previous byte was CR (a following LF belongs to it) */
    bool has_data; /* a data field was seen */
    bool failed;   /* a limit was exceeded */
    /* Called for each dispatched event with its type ("" when not given) and data. */
    void (*on_event)(void *ctx, const char *event, const char *data, size_t len);
    void *ctx;
};

void px_sse_init(struct px_sse *s, size_t max,
                 void (*on_event)(void *ctx, const char *event, const char *data, size_t len),
                 void *ctx);
/* Feeds bytes; 0, or -PX_ETOOLARGE when a line or event exceeds max (the parser is then done). */
int px_sse_feed(struct px_sse *s, const char *p, size_t n);
/* End of stream: dispatches a final event that lacked its blank line (lenient). */
void px_sse_finish(struct px_sse *s);
void px_sse_cleanup(struct px_sse *s);

#endif
