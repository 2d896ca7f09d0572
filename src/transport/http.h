/*
 * `planasonix-mcp serve`: MCP over HTTP on libmicrohttpd. Routes: /mcp (Streamable HTTP,
 * streamable.c), GET /sse + POST /messages (legacy HTTP+SSE, sse.c), /healthz and /metrics.
 *
 * Threads: MHD's internal epoll polling with a small thread pool (PLANASONIX_HTTP_THREADS,
 * default: the number of cores, 2 to 8); SSE streams park their connection with suspend/resume
 * (stream.c), so idle streams hold no thread. Two worker threads run calls whose response is a live
 * SSE stream (a request with a progressToken); a housekeeping thread flushes the audit queue every
 * second, sends keep-alives on idle streams and expires idle sessions. Requests run in
 * parallel: each store use checks a handle out of a pool (one per HTTP thread, plus one), and
 * the audit queue, the session table, streams and metrics have their own locks.
 *
 * Security on every MCP request, before any session lookup: Host allowlist (421), Origin
 * allowlist (403), bearer API key (401 / 403 for the starter plan), then the route's checks
 * and the organization's rate limit (429). See docs/ARCHITECTURE.md for the full table.
 */
#ifndef PX_TRANSPORT_HTTP_H
#define PX_TRANSPORT_HTTP_H

struct px_transport_env;

/* Serves until SIGTERM or SIGINT, then shuts down gracefully (stops accepting, lets requests
 * in flight finish, ends SSE streams, flushes the audit queue). listen is "ADDR:PORT" or NULL
 * (then 127.0.0.1 with $PORT, else 8080). Returns the process exit code. */
int px_http_serve(const struct px_transport_env *env, const char *listen);

#endif
