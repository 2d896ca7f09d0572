/* The legacy HTTP+SSE transport: see sse.h. */
#include "transport/sse.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "transport/http_internal.h"
#include "transport/sessions.h"
#include "transport/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result px_sse_open(struct px_http_req *r)
{
    const char *accept = px_http_header(r, MHD_HTTP_HEADER_ACCEPT);
    if (accept && !px_http_accepts(accept, "text/event-stream"))
        return px_http_refuse(r, MHD_HTTP_NOT_ACCEPTABLE, PX_RPC_SERVER, "not_acceptable",
                              "Not Acceptable: GET /sse answers with text/event-stream", NULL);
    /* The stream slot is given back when this request ends (on_completed). */
    if (!px_http_take_slot(r, PX_ORGCAP_STREAMS))
        return r->result;
    r->stream_slot = true;
    struct px_hsession *s = px_hsession_new(r->srv->sessions, PX_HSESSION_LEGACY,
                                            r->principal.key_id, r->principal.org_id);
    struct px_stream *stream =
        px_stream_create(r->srv->streams, r->conn, true, r->principal.key_id);
    px_hsession_set_stream(s, stream); /* before the session is visible to anyone */
    enum px_session_added added = px_sessions_add(r->srv->sessions, s);
    if (added != PX_SESSION_ADDED) {
        px_stream_detach(stream);
        px_stream_release(stream);
        px_hsession_release(s);
        if (added == PX_SESSION_ORG_FULL)
            return px_http_refuse_cap(r, PX_ORGCAP_SESSIONS);
        px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "60");
        return px_http_refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, PX_RPC_SERVER, "too_large",
                              "Service Unavailable: too many open sessions", "retry later");
    }
    char endpoint[96];
    snprintf(endpoint, sizeof(endpoint), "/messages?sessionId=%s", px_hsession_id(s));
    px_stream_event(stream, "endpoint", endpoint);
    r->stream = stream;
    r->legacy = s;
    px_http_audit(r, "ok", NULL);
    return px_http_send(r, MHD_HTTP_OK, px_stream_response(stream));
}

void px_sse_done(struct px_http_req *r)
{
    /* The session keeps its (now detached) stream until the last request using it ends. */
    px_sessions_remove(r->srv->sessions, r->legacy);
    px_hsession_release(r->legacy);
    r->legacy = NULL;
}

enum MHD_Result px_sse_post_begin(struct px_http_req *r)
{
    if (!px_http_check_post(r))
        return r->result;
    /* An oversized body is drained and answered 413 at its end, before any session lookup,
     * as on /mcp (a refusal now would reset a client that is still sending). */
    if (px_http_oversized(r))
        return MHD_YES;
    const char *sid = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "sessionId");
    if (!sid || !*sid)
        return px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_SERVER, "invalid_argument",
                              "Bad Request: the sessionId query parameter is required",
                              "open GET /sse first; its endpoint event names the URL to POST to");
    r->target = px_sessions_get(r->srv->sessions, sid, r->principal.key_id, PX_HSESSION_LEGACY);
    if (!r->target)
        return px_http_refuse_err(r, PX_ENOTFOUND,
                                  "Session not found: its SSE stream has ended or never existed",
                                  "open a new stream with GET /sse");
    return MHD_YES;
}

static void to_stream(void *ctx, const char *json)
{
    px_stream_event(ctx, "message", json);
}

/* A legacy call run on a job thread (px_http_defer); owns its session and stream refs. */
struct deferred {
    struct px_http_server *srv;
    struct px_orgcaps *caps; /* the call holds one of its organization's call slots */
    struct px_hsession *session;
    struct px_stream *stream;
    struct px_principal principal;
    char *text;
    size_t len;
};

static void run_deferred(void *arg)
{
    struct deferred *d = arg;
    struct px_http_sink sink = {.emit = to_stream, .ctx = d->stream};
    char *reply = px_hsession_handle(d->session, &d->principal, &sink, d->text, d->len);
    if (reply && px_http_key_gone(d->srv, d->principal.key_id))
        px_debug("http: a call's key was revoked while it ran; its result is withheld");
    else if (reply && !px_stream_event(d->stream, "message", reply))
        px_debug("http: the SSE stream of a session ended before its response was sent");
    px_orgcaps_give(d->caps, d->principal.org_id, PX_ORGCAP_CALLS);
    free(reply);
    free(d->text);
    px_stream_release(d->stream);
    px_hsession_release(d->session);
    free(d);
}

enum MHD_Result px_sse_post(struct px_http_req *r)
{
    struct px_http_msg m;
    if (!px_http_parse_msg(r, &m))
        return r->result;
    if (!px_http_take_rate(r, &m)) {
        px_http_msg_free(&m);
        return r->result;
    }
    struct px_hsession *s = r->target;
    struct px_stream *stream = px_hsession_stream(s);
    if (m.cancel) {
        px_hsession_cancel(s, r->body.data, r->body.len);
    } else if ((m.progress_token || m.may_block) && stream) {
        /* A call that may take long (a waiting trigger) answers on the stream from a job
         * thread; the POST is accepted at once. */
        if (!px_http_take_slot(r, PX_ORGCAP_CALLS)) {
            px_http_msg_free(&m);
            return r->result;
        }
        struct deferred *d = px_xcalloc(1, sizeof(*d));
        d->srv = r->srv;
        d->caps = r->srv->caps;
        d->session = s;
        d->stream = stream;
        d->principal = r->principal;
        d->text = px_xstrndup(r->body.data, r->body.len);
        d->len = r->body.len;
        px_stream_ref(stream);
        r->target = NULL; /* the job holds the session reference now */
        if (!px_http_defer(r->srv, run_deferred, d)) {
            px_orgcaps_give(d->caps, r->principal.org_id, PX_ORGCAP_CALLS);
            r->target = s;
            px_stream_release(stream);
            free(d->text);
            free(d);
            px_http_msg_free(&m);
            px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
            return px_http_refuse_err(r, PX_EUNAVAILABLE,
                                      "Service Unavailable: too many calls in progress",
                                      "retry shortly");
        }
    } else {
        struct px_http_sink sink = {.emit = to_stream, .ctx = stream};
        char *reply = px_hsession_handle(s, &r->principal, &sink, r->body.data, r->body.len);
        if (reply && px_http_key_gone(r->srv, r->principal.key_id))
            px_debug("http: a call's key was revoked while it ran; its result is withheld");
        else if (reply && !px_stream_event(stream, "message", reply))
            px_debug("http: the SSE stream of a session ended before its response was sent");
        free(reply);
    }
    px_http_msg_free(&m);
    return px_http_send_body(r, MHD_HTTP_ACCEPTED, "text/plain; charset=utf-8", "Accepted", 8);
}
