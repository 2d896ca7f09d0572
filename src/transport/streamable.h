/*
 * Streamable HTTP (MCP 2025-03-26 … 2025-11-25, mcp.md §7.2) at /mcp:
 *
 * - POST carries one JSON-RPC message (a batch when 2025-03-26 was negotiated). A request is
 *   answered with application/json; with text/event-stream when it carries
 *   params._meta.progressToken (a live stream: the call runs on a worker thread and every
 *   notification it emits is an `event: message` before the response) or when the call
 *   emitted notifications anyway (e.g. notifications/message after logging/setLevel).
 *   Notifications and responses get 202 with an empty body.
 * - initialize creates the session and returns Mcp-Session-Id; every other POST must carry
 *   it (400 without, 404 when unknown, expired, deleted or opened by another key) and may
 *   carry MCP-Protocol-Version (400 when unsupported; absent is accepted).
 * - DELETE ends the session (200, then 404). GET answers 405 (no server-initiated stream).
 * - POST needs Accept with application/json and text/event-stream (406) and a JSON
 *   Content-Type (415); bodies over 1 MiB get 413; malformed JSON 400 -32700.
 */
#ifndef PX_TRANSPORT_STREAMABLE_H
#define PX_TRANSPORT_STREAMABLE_H

#include <microhttpd.h>

struct px_http_req;

/* POST headers (after authentication): Accept, Content-Type, Content-Length. Queues a reply
 * only when refusing. */
enum MHD_Result px_streamable_begin(struct px_http_req *r);
/* POST with its whole body. */
enum MHD_Result px_streamable_post(struct px_http_req *r);
/* DELETE: ends the session. */
enum MHD_Result px_streamable_delete(struct px_http_req *r);
/* GET: 405 with Allow. */
enum MHD_Result px_streamable_get(struct px_http_req *r);

#endif
