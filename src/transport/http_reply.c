/*
 * What every HTTP route shares (http_internal.h): request headers and replies (with the
 * headers every reply carries), audit rows for refusals, JSON-RPC message admission (POST
 * checks, size, parsing, rate limit), the per-organization caps, and the revoked-key lookup.
 * The routes are in http.c, streamable.c and sse.c; none of them includes another.
 */
#include "auth/audit.h"
#include "base/clock.h"
#include "auth/ratelimit.h"
#include "base/err.h"
#include "base/json.h"
#include "store/store.h"
#include "transport/env.h"
#include "transport/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- headers and replies ------------------------------------------------------------------ */

const char *px_http_header(struct px_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void px_http_add_header(struct px_http_req *r, const char *name, const char *value)
{
    if (r->nheaders >= PX_HTTP_MAX_HEADERS)
        return;
    snprintf(r->headers[r->nheaders][0], sizeof(r->headers[0][0]), "%s", name);
    snprintf(r->headers[r->nheaders][1], sizeof(r->headers[0][1]), "%s", value);
    r->nheaders++;
}

enum MHD_Result px_http_send(struct px_http_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        r->replied = true;
        r->result = MHD_NO;
        return MHD_NO;
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!MHD_get_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->rated) {
        char policy[96], state[96];
        int64_t t =
            px_http_ceil_seconds(r->rate.allowed ? r->rate.reset_ms : r->rate.retry_after_ms);
        px_http_ratelimit_fields(r->rate.limit, r->rate.allowed ? r->rate.remaining : 0, t, policy,
                                 sizeof(policy), state, sizeof(state));
        MHD_add_response_header(resp, "RateLimit-Policy", policy);
        MHD_add_response_header(resp, "RateLimit", state);
    }
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    r->nheaders = 0;
    if (r->cors_origin[0]) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", PX_HTTP_CORS_EXPOSE);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    if (atomic_load(&r->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = (int)status;
    r->replied = true;
    r->result = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return r->result;
}

enum MHD_Result px_http_send_body(struct px_http_req *r, unsigned status, const char *ctype,
                                  const char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        body ? len : 0, (void *)(uintptr_t)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (resp && ctype && body)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return px_http_send(r, status, resp);
}

enum MHD_Result px_http_send_owned(struct px_http_req *r, unsigned status, const char *ctype,
                                   char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return px_http_send(r, status, NULL);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return px_http_send(r, status, resp);
}

void px_http_audit(struct px_http_req *r, const char *outcome, const char *error_code)
{
    const struct px_transport_env *env = r->srv->env;
    const struct px_principal *p = &r->principal;
    struct px_audit_entry e = {
        .at = px_now_ms(),
        .org_id = p->org_id[0] ? p->org_id : NULL,
        .key_id = p->key_id[0] ? p->key_id : NULL,
        .transport = r->transport,
        .method = r->audit_method,
        .outcome = outcome,
        .error_code = error_code,
        .latency_us = px_mono_us() - r->started_us,
    };
    if (px_audit_enqueue(env->deps.audit, &e)) {
        struct px_store *st = px_store_pool_acquire(r->srv->pool);
        px_audit_flush(env->deps.audit, st);
        px_store_pool_release(r->srv->pool, st);
    }
}

static enum MHD_Result send_rpc_error(struct px_http_req *r, unsigned status, int rpc_code,
                                      const char *message, struct json_object *data)
{
    struct json_object *o = json_object_new_object(), *e = json_object_new_object();
    px_json_set_str(o, "jsonrpc", "2.0");
    px_json_set(o, "id", r->rpc_id ? json_object_get(r->rpc_id) : NULL);
    px_json_set_int(e, "code", rpc_code);
    px_json_set_str(e, "message", message);
    if (data)
        px_json_set(e, "data", data);
    px_json_set(o, "error", e);
    const char *text = px_json_str(o);
    enum MHD_Result res = px_http_send_body(r, status, "application/json", text, strlen(text));
    json_object_put(o);
    return res;
}

enum MHD_Result px_http_refuse(struct px_http_req *r, unsigned status, int rpc_code,
                               const char *audit_code, const char *message, const char *hint)
{
    bool denied = status == 401 || status == 403 || status == 404 || status == 421 || status == 429;
    px_http_audit(r, denied ? "denied" : "error", audit_code);
    struct json_object *data = json_object_new_object();
    px_json_set_str(data, "code", audit_code);
    if (hint)
        px_json_set_str(data, "hint", hint);
    return send_rpc_error(r, status, rpc_code, message, data);
}

enum MHD_Result px_http_refuse_err(struct px_http_req *r, int code, const char *message,
                                   const char *hint)
{
    return px_http_refuse(r, (unsigned)px_err_http(code), px_err_rpc(code), px_err_name(code),
                          message, hint);
}

/* ---- message admission ------------------------------------------------------------------- */

bool px_http_oversized(struct px_http_req *r)
{
    const char *cl = px_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > PX_HTTP_MAX_BODY;
}

bool px_http_check_post(struct px_http_req *r)
{
    const char *ct = px_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!px_http_is_json(ct)) {
        px_http_refuse(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, PX_RPC_SERVER, "unsupported_media_type",
                       "Unsupported Media Type: the body must be Content-Type: application/json",
                       NULL);
        return false;
    }
    /* A body over the limit is read and dropped, then answered 413 at its end (see
     * on_access): clients that do not wait for 100-continue (fetch) only see a reply after
     * sending their body. A client that asked "Expect: 100-continue" waits for our answer, so
     * it gets the 413 at once, and so does a body too large even to drain (the connection is
     * closed then). */
    const char *cl = px_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *expect = px_http_header(r, MHD_HTTP_HEADER_EXPECT);
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    if (len > PX_HTTP_MAX_DISCARD ||
        (len > PX_HTTP_MAX_BODY && expect && strncasecmp(expect, "100-continue", 12) == 0)) {
        px_http_refuse_err(r, PX_ETOOLARGE, "Payload Too Large: a message may be at most 1 MiB",
                           NULL);
        return false;
    }
    return true;
}

static bool is_request(struct json_object *o)
{
    return json_object_is_type(o, json_type_object) && px_json_get_str(o, "method") &&
           json_object_object_get_ex(o, "id", NULL);
}

bool px_http_parse_msg(struct px_http_req *r, struct px_http_msg *m)
{
    memset(m, 0, sizeof(*m));
    struct px_error err;
    px_error_clear(&err);
    m->json = px_json_parse(r->body.data ? r->body.data : "", r->body.len, PX_MCP_MAX_DEPTH, &err);
    if (!m->json) {
        char msg[600];
        snprintf(msg, sizeof(msg), "Parse error: %s", err.message);
        px_http_refuse(r, MHD_HTTP_BAD_REQUEST, PX_RPC_PARSE, "invalid_argument", msg, NULL);
        return false;
    }
    if (json_object_is_type(m->json, json_type_array)) {
        snprintf(r->audit_method, sizeof(r->audit_method), "batch");
        for (size_t i = 0; i < json_object_array_length(m->json); i++) {
            struct json_object *e = json_object_array_get_idx(m->json, i);
            if (!is_request(e))
                continue;
            m->has_request = true;
            if (strcmp(px_json_get_str(e, "method"), "ping") != 0)
                m->counted = true;
        }
        return true;
    }
    const char *method = px_json_get_str(m->json, "method");
    if (method)
        snprintf(r->audit_method, sizeof(r->audit_method), "%s", method);
    if (!is_request(m->json)) {
        m->cancel = method && strcmp(method, "notifications/cancelled") == 0;
        return true;
    }
    struct json_object *id = px_json_get(m->json, "id");
    if (json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int))
        r->rpc_id = json_object_get(id);
    m->has_request = true;
    m->counted = strcmp(method, "ping") != 0;
    m->initialize = strcmp(method, "initialize") == 0;
    struct json_object *token =
        px_json_get(px_json_get(px_json_get(m->json, "params"), "_meta"), "progressToken");
    if (json_object_is_type(token, json_type_string) || json_object_is_type(token, json_type_int))
        m->progress_token = token;
    if (strcmp(method, "tools/call") == 0) {
        struct json_object *wait =
            px_json_get(px_json_get(px_json_get(m->json, "params"), "arguments"), "wait_seconds");
        m->may_block = json_object_is_type(wait, json_type_int) && json_object_get_int64(wait) > 0;
    }
    return true;
}

void px_http_msg_free(struct px_http_msg *m)
{
    json_object_put(m->json);
    m->json = NULL;
}

bool px_http_take_rate(struct px_http_req *r, const struct px_http_msg *m)
{
    if (!m->counted)
        return true;
    const struct px_principal *p = &r->principal;
    struct px_rate_decision d =
        px_ratelimit_take(r->srv->env->deps.rl, p->org_id, p->rate_limit, px_now_ms());
    r->rated = d.limit > 0;
    r->rate = d;
    if (d.allowed)
        return true;
    char retry[32], msg[200], hint[96];
    snprintf(retry, sizeof(retry), "%lld", (long long)px_http_ceil_seconds(d.retry_after_ms));
    px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    snprintf(msg, sizeof(msg),
             "Rate limit exceeded: the %s plan allows %lld MCP requests per minute", p->plan,
             (long long)d.limit);
    snprintf(hint, sizeof(hint), "retry after %lld ms", (long long)d.retry_after_ms);
    px_http_audit(r, "denied", "rate_limited");
    struct json_object *data = json_object_new_object();
    px_json_set_str(data, "code", "rate_limited");
    px_json_set_str(data, "hint", hint);
    px_json_set_int(data, "retry_after_ms", d.retry_after_ms);
    send_rpc_error(r, px_err_http(PX_ERATELIMIT), px_err_rpc(PX_ERATELIMIT), msg, data);
    return false;
}

/* ---- per-organization caps ---------------------------------------------------------------- */

enum MHD_Result px_http_refuse_cap(struct px_http_req *r, enum px_orgcap_kind kind)
{
    static const char *const what[PX_ORGCAP_KINDS] = {"open sessions", "open SSE streams",
                                                      "calls running on job threads"};
    static const char *const hint[PX_ORGCAP_KINDS] = {
        "end sessions you no longer use (DELETE /mcp with their Mcp-Session-Id, or close their "
        "GET /sse stream); idle ones expire after an hour",
        "close SSE streams you no longer read, or wait for live calls to finish",
        "wait for this organization's waiting calls (wait_seconds, progress tokens) to finish, "
        "then retry"};
    static const char *const retry[PX_ORGCAP_KINDS] = {"30", "5", "1"};
    char msg[300], full_hint[400];
    snprintf(msg, sizeof(msg),
             "Too Many Requests: this organization already has %zu %s, its limit on this server",
             px_orgcaps_limit(r->srv->caps, kind), what[kind]);
    snprintf(full_hint, sizeof(full_hint), "%s; an operator can change the limit with %s",
             hint[kind], px_orgcaps_env(kind));
    px_http_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry[kind]);
    return px_http_refuse(r, px_err_http(PX_ERATELIMIT), px_err_rpc(PX_ERATELIMIT), "org_limit",
                          msg, full_hint);
}

bool px_http_take_slot(struct px_http_req *r, enum px_orgcap_kind kind)
{
    if (px_orgcaps_take(r->srv->caps, r->principal.org_id, kind))
        return true;
    px_http_refuse_cap(r, kind);
    return false;
}

/* ---- revoked keys -------------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

bool px_http_key_gone(struct px_http_server *srv, const char *key_id)
{
    if (!key_id || !key_id[0])
        return false;
    pthread_mutex_lock(&srv->gone_lock);
    bool gone = srv->ngone && bsearch(key_id, srv->gone, srv->ngone, sizeof(*srv->gone), cmp_id);
    pthread_mutex_unlock(&srv->gone_lock);
    return gone;
}
