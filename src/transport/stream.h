/*
 * Server-Sent Events response streams over libmicrohttpd without a thread per stream.
 *
 * A stream is a bounded queue of framed events behind an MHD callback response. When MHD asks
 * for more bytes and the queue is empty, the content reader suspends the connection
 * (MHD_suspend_connection), so an idle stream costs no thread and no polling; a producer
 * (a tool call emitting a notification, a legacy-SSE response, the keep-alive timer, shutdown)
 * queues bytes and resumes it. Suspension and resumption both happen under the stream's
 * mutex, so a resume never precedes its suspend and never follows the end of the request.
 *
 * Lock order: stream → MHD's internal locks (the set's lock is never held while calling into a
 * stream). Producers may hold the app lock.
 * A queue that overflows (a client not reading) ends the stream with an error rather than
 * dropping messages silently.
 */
#ifndef PX_TRANSPORT_STREAM_H
#define PX_TRANSPORT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;
struct px_stream;
struct px_stream_set;

#define PX_STREAM_MAX_QUEUED (8u << 20) /* bytes queued and not yet sent, per stream */

/* The registry of open streams (for keep-alives and shutdown). */
struct px_stream_set *px_stream_set_create(void);
/* Destroys the registry; streams still in it are closed and released. */
void px_stream_set_destroy(struct px_stream_set *set);
/* Sends a ": ping" comment on every stream that sent nothing for idle_ms. */
void px_stream_set_keepalive(struct px_stream_set *set, int64_t now_ms, int64_t idle_ms);
/* Ends every session stream (created with session_stream) once its queued bytes are sent;
 * streams answering one call end by themselves when the call is done (shutdown). */
void px_stream_set_close_all(struct px_stream_set *set);
size_t px_stream_set_count(struct px_stream_set *set);

/* Ends every stream whose owner key gone(ctx, key_id) says can no longer act (a revoked or
 * expired key), dropping what is queued: nothing more reaches that client. Returns how many. */
size_t px_stream_set_close_owned(struct px_stream_set *set,
                                 bool (*gone)(void *ctx, const char *key_id), void *ctx);

/* A new stream for the request on conn, registered in set, on behalf of API key owner_key
 * (copied). The caller holds one reference. session_stream: it lives as long as a session
 * (GET /sse) rather than one call. */
struct px_stream *px_stream_create(struct px_stream_set *set, struct MHD_Connection *conn,
                                   bool session_stream, const char *owner_key);
/* The MHD response reading from the stream (text/event-stream, no caching, no proxy
 * buffering); it holds its own reference until MHD frees it. NULL when MHD refuses. */
struct MHD_Response *px_stream_response(struct px_stream *s);
/* Queues "event: EVENT\ndata: DATA\n\n" (a DATA line break starts another data: line).
 * Returns false when the stream is closed, gone or overflowing (then it is ended). */
bool px_stream_event(struct px_stream *s, const char *event, const char *data);
/* Queues a comment line (": TEXT\n\n"), used as a keep-alive. */
bool px_stream_comment(struct px_stream *s, const char *text);
/* Ends the stream after what is queued has been sent. */
void px_stream_close(struct px_stream *s);
/* True until the stream is closed or its connection is gone. */
bool px_stream_is_open(struct px_stream *s);
/* The request on the connection has completed: the connection must not be touched again.
 * Removes the stream from its set. Call once, from MHD's request-completed callback. */
void px_stream_detach(struct px_stream *s);
void px_stream_ref(struct px_stream *s);
void px_stream_release(struct px_stream *s);

#endif
