/*
 * The legacy HTTP+SSE transport (MCP 2024-11-05, mcp.md §7.3):
 *
 * - GET /sse opens the session's stream (200 text/event-stream) and sends first
 *   `event: endpoint` with `data: /messages?sessionId=<id>`. The session lives exactly as long
 *   as this stream; idle streams get a ": ping" comment every 15 s (which also notices a
 *   client that went away).
 * - POST /messages?sessionId=<id> carries one JSON-RPC message and is answered 202 "Accepted";
 *   the response and any notifications of the call go on the stream as `event: message`.
 *   An unknown session id (or one opened by another key) gets 404.
 */
#ifndef PX_TRANSPORT_SSE_H
#define PX_TRANSPORT_SSE_H

#include <microhttpd.h>

struct px_http_req;

/* GET /sse (after authentication). */
enum MHD_Result px_sse_open(struct px_http_req *r);
/* POST /messages headers: Content-Type, Content-Length, the session. */
enum MHD_Result px_sse_post_begin(struct px_http_req *r);
/* POST /messages with its whole body. */
enum MHD_Result px_sse_post(struct px_http_req *r);
/* The GET /sse request has ended: its session ends with it. */
void px_sse_done(struct px_http_req *r);

#endif
