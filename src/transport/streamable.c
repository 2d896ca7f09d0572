/* Streamable HTTP at /mcp: see streamable.h. */
#include "transport/streamable.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "mcp/session.h"
#include "transport/http_internal.h"
#include "transport/sessions.h"
#include "transport/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_HEADER "Mcp-Session-Id"
#define VERSION_HEADER "MCP-Protocol-Version"

enum MHD_Result px_streamable_begin(struct px_http_req *r)
{
    const char *accept = px_http_header(r, MHD_HTTP_HEADER_ACCEPT);
    if (!px_http_accepts(accept, "application/json") ||
        !px_http_accepts(accept, "text/event-stream"))
        return px_http_refuse(r, MHD_HTTP_NOT_ACCEPTABLE, PX_RPC_SERVER, "not_acceptable",
                              "Not Acceptable: the client must accept both application/json and "
                              "text/event-stream",
                              NULL);
    px_http_check_post(r);
    return r->replied ? r->result : MHD_YES;
}

enum MHD_Result px_streamable_get(struct px_http_req *r)
{
    px_http_add_header(r, MHD_HTTP_HEADER_ALLOW, "POST, DELETE");
    return px_http_refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, PX_RPC_SERVER, "method_not_allowed",
                          "Method Not Allowed: this server offers no server-initiated stream on "
                          "GET /mcp; POST requests instead",
                          NULL);
}

/* Checks MCP-Protocol-Version (absent is fine). Replies 400 and returns false when bad. */
static bool check_version(struct px_http_req *r)
{
    const char *v = px_http_header(r, VERSION_HEADER);
    if (!v || px_mcp_version_supported(v))
        return true;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "Bad Request: unsupported MCP-Protocol-Version '%.40s' (supported: 2025-11-25, "
             "2025-06-18, 2025-03-26, 2024-11-05)",
             v);
    px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_SERVER, "invalid_argument", msg, NULL);
    return false;
}

/* Finds the session named by the header for this key; replies 400/404 when there is none. */
static struct px_hsession *find_session(struct px_http_req *r)
{
    const char *sid = px_http_header(r, SESSION_HEADER);
    if (!sid || !*sid) {
        px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_SERVER, "invalid_argument",
                       "Bad Request: Mcp-Session-Id header is required",
                       "send initialize first; its response carries the session id");
        return NULL;
    }
    struct px_hsession *s =
        px_sessions_get(r->srv->sessions, sid, r->principal.key_id, PX_HSESSION_STREAMABLE);
    if (!s)
        px_http_refuse_err(r, PX_ENOTFOUND, "Session not found: it ended, expired or never existed",
                           "start a new session with initialize (without Mcp-Session-Id)");
    return s;
}

enum MHD_Result px_streamable_delete(struct px_http_req *r)
{
    if (!check_version(r))
        return r->result;
    struct px_hsession *s = find_session(r);
    if (!s)
        return r->result;
    px_sessions_remove(r->srv->sessions, s);
    px_hsession_release(s);
    px_http_audit(r, "ok", NULL);
    return px_http_send_body(r, MHD_HTTP_OK, NULL, NULL, 0);
}

/* ---- answering a request ---------------------------------------------------------------- */

/* Notifications of a call answered in one piece, kept as SSE events. */
struct collected {
    struct px_buf events;
    int n;
};

static void collect(void *ctx, const char *json)
{
    struct collected *c = ctx;
    px_buf_printf(&c->events, "event: message\ndata: %s\n\n", json);
    c->n++;
}

static enum MHD_Result send_reply(struct px_http_req *r, struct collected *c, char *reply)
{
    enum MHD_Result res;
    if (px_http_key_gone(r->srv, r->principal.key_id)) {
        /* Revoked (or expired) while the call ran: its result is not delivered. */
        free(reply);
        px_http_add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                           "Bearer realm=\"planasonix\", error=\"invalid_token\"");
        return px_http_refuse_err(r, PX_EUNAUTHORIZED,
                                  "Unauthorized: the API key was revoked or expired while the call "
                                  "ran; its result is withheld",
                                  "an operator creates a key with `planasonix-mcp key create --org "
                                  "ORG --scopes ...`");
    }
    if (!reply) {
        /* A cancelled request gets no response (the client stopped waiting for one). */
        res = px_http_send_body(r, MHD_HTTP_ACCEPTED, NULL, NULL, 0);
    } else if (c->n == 0) {
        /* The reply's buffer goes to libmicrohttpd as it is, which frees it once sent. */
        return px_http_send_owned(r, MHD_HTTP_OK, "application/json", reply, strlen(reply));
    } else {
        /* The call emitted notifications: answer as an SSE stream, response last. */
        px_buf_printf(&c->events, "event: message\ndata: %s\n\n", reply);
        px_http_add_header(r, "X-Accel-Buffering", "no");
        res = px_http_send_body(r, MHD_HTTP_OK, "text/event-stream", c->events.data, c->events.len);
    }
    free(reply);
    return res;
}

static enum MHD_Result initialize(struct px_http_req *r, struct px_http_msg *m)
{
    struct px_hsession *s = px_hsession_new(r->srv->sessions, PX_HSESSION_STREAMABLE,
                                            r->principal.key_id, r->principal.org_id);
    if (!px_http_take_rate(r, m)) {
        px_hsession_release(s);
        return r->result;
    }
    struct collected c = {.n = 0};
    px_buf_init(&c.events, 16u << 20);
    struct px_http_sink sink = {.emit = collect, .ctx = &c};
    char *reply = px_hsession_handle(s, &r->principal, &sink, r->body.data, r->body.len);
    enum MHD_Result res;
    if (px_hsession_initialized(s)) {
        enum px_session_added added = px_sessions_add(r->srv->sessions, s);
        if (added != PX_SESSION_ADDED) {
            free(reply);
            px_buf_cleanup(&c.events);
            px_hsession_release(s);
            if (added == PX_SESSION_ORG_FULL)
                return px_http_refuse_cap(r, PX_ORGCAP_SESSIONS);
            px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "60");
            return px_http_refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, PX_RPC_SERVER, "too_large",
                                  "Service Unavailable: too many open sessions",
                                  "end unused sessions with DELETE /mcp, or retry later");
        }
        px_http_add_header(r, SESSION_HEADER, px_hsession_id(s));
    }
    res = send_reply(r, &c, reply);
    px_buf_cleanup(&c.events);
    px_hsession_release(s);
    return res;
}

/* A call answered as a live SSE stream, run on a worker thread. */
struct live_call {
    struct px_http_server *srv;
    struct px_orgcaps *caps; /* the call holds one of its organization's call slots */
    struct px_hsession *session;
    struct px_stream *stream;
    struct px_principal principal;
    char *text;
    size_t len;
};

static void to_stream(void *ctx, const char *json)
{
    px_stream_event(ctx, "message", json);
}

static void run_live_call(void *arg)
{
    struct live_call *call = arg;
    struct px_http_sink sink = {.emit = to_stream, .ctx = call->stream};
    char *reply = px_hsession_handle(call->session, &call->principal, &sink, call->text, call->len);
    /* A key revoked while the call ran gets nothing more (its stream was ended, too). */
    if (reply && !px_http_key_gone(call->srv, call->principal.key_id))
        px_stream_event(call->stream, "message", reply);
    px_orgcaps_give(call->caps, call->principal.org_id, PX_ORGCAP_CALLS);
    px_stream_close(call->stream);
    free(reply);
    free(call->text);
    px_stream_release(call->stream);
    px_hsession_release(call->session);
    free(call);
}

static enum MHD_Result live_call(struct px_http_req *r, struct px_hsession *s)
{
    /* A stream slot, given back when this request ends (on_completed), and a call slot,
     * given back when the call has run. */
    if (!px_http_take_slot(r, PX_ORGCAP_STREAMS)) {
        px_hsession_release(s);
        return r->result;
    }
    r->stream_slot = true;
    if (!px_http_take_slot(r, PX_ORGCAP_CALLS)) {
        px_hsession_release(s);
        return r->result;
    }
    struct px_stream *stream =
        px_stream_create(r->srv->streams, r->conn, false, r->principal.key_id);
    struct MHD_Response *resp = px_stream_response(stream);
    struct live_call *call = px_xcalloc(1, sizeof(*call));
    call->srv = r->srv;
    call->caps = r->srv->caps;
    call->session = s;
    call->stream = stream;
    call->principal = r->principal;
    call->text = px_xstrndup(r->body.data, r->body.len);
    call->len = r->body.len;
    px_stream_ref(stream); /* the call's; the creator's reference goes to the request */
    if (!resp || !px_http_defer(r->srv, run_live_call, call)) {
        if (resp)
            MHD_destroy_response(resp);
        px_orgcaps_give(call->caps, r->principal.org_id, PX_ORGCAP_CALLS);
        free(call->text);
        free(call);
        px_stream_release(stream);
        px_stream_detach(stream);
        px_stream_release(stream);
        px_hsession_release(s);
        px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return px_http_refuse_err(
            r, PX_EUNAVAILABLE, "Service Unavailable: too many calls in progress", "retry shortly");
    }
    r->stream = stream;
    MHD_add_response_header(resp, SESSION_HEADER, px_hsession_id(s));
    return px_http_send(r, MHD_HTTP_OK, resp);
}

enum MHD_Result px_streamable_post(struct px_http_req *r)
{
    struct px_http_msg m;
    if (!px_http_parse_msg(r, &m))
        return r->result;
    enum MHD_Result res;
    if (!json_object_is_type(m.json, json_type_object) &&
        !json_object_is_type(m.json, json_type_array)) {
        res = px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_INVALID_REQUEST, "invalid_argument",
                             "Invalid Request: a message must be a JSON object", NULL);
        px_http_msg_free(&m);
        return res;
    }
    if (m.initialize) {
        if (px_http_header(r, SESSION_HEADER))
            res =
                px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_INVALID_REQUEST, "invalid_argument",
                               "Invalid Request: this session is already initialized; send "
                               "initialize without Mcp-Session-Id to start a new one",
                               NULL);
        else
            res = initialize(r, &m);
        px_http_msg_free(&m);
        return res;
    }
    struct px_hsession *s = check_version(r) ? find_session(r) : NULL;
    if (!s || !px_http_take_rate(r, &m)) {
        px_hsession_release(s);
        px_http_msg_free(&m);
        return r->result;
    }
    if (!m.has_request) {
        /* Notifications and responses: nothing to send back. A cancellation is queued
         * without waiting, so a call running right now sees it. */
        char *reply = NULL;
        if (m.cancel)
            px_hsession_cancel(s, r->body.data, r->body.len);
        else
            reply = px_hsession_handle(s, &r->principal, NULL, r->body.data, r->body.len);
        if (reply)
            res = px_http_send_body(r, MHD_HTTP_BAD_REQUEST, "application/json", reply,
                                    strlen(reply));
        else
            res = px_http_send_body(r, MHD_HTTP_ACCEPTED, NULL, NULL, 0);
        free(reply);
        px_hsession_release(s);
    } else if (m.progress_token || m.may_block) {
        res = live_call(r, s); /* takes s */
    } else {
        struct collected c = {.n = 0};
        px_buf_init(&c.events, 16u << 20);
        struct px_http_sink sink = {.emit = collect, .ctx = &c};
        char *reply = px_hsession_handle_msg(s, &r->principal, &sink, m.json);
        px_http_add_header(r, SESSION_HEADER, px_hsession_id(s));
        res = send_reply(r, &c, reply);
        px_buf_cleanup(&c.events);
        px_hsession_release(s);
    }
    px_http_msg_free(&m);
    return res;
}
