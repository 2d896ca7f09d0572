/* MCP session: JSON-RPC rules, lifecycle and method dispatch (see session.h). */
#include "mcp/session.h"

#include "auth/audit.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "tools/registry.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_NAME "planasonix"
#define SERVER_VERSION "0.1.0"
#define MAX_CANCELLED 64

/* Newest first: an unknown requested version gets the first. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};

struct px_mcp_session {
    struct px_mcp_deps deps; /* read-only after create */
    struct px_mcp_host host; /* read-only after create */
    /* Session state, shared by the calls running on this session at the same time (HTTP);
     * under lock, which is held only briefly (never across a tool call). */
    pthread_mutex_t lock;
    bool initialized;                  /* initialize was answered */
    bool client_ready;                 /* notifications/initialized arrived */
    char version[16];                  /* negotiated protocol version */
    int log_level;                     /* index into log_levels; -1 = client did not ask */
    char cancelled[MAX_CANCELLED][80]; /* serialized ids of cancelled requests (a ring) */
    int ncancelled;
};

/* One px_mcp_handle call: what it runs with and the request being handled (for progress and
 * cancellation). Lives on the caller's stack. */
struct call {
    struct px_mcp_session *s;
    struct px_store *store; /* the store this call uses */
    void *ctx;              /* passed to the host callbacks */
    char version[16];       /* the session's protocol version when the call began */
    struct json_object *id;
    struct json_object *progress_token;
    double progress;
};

struct px_mcp_session *px_mcp_session_create(const struct px_mcp_deps *deps,
                                             const struct px_mcp_host *host)
{
    struct px_mcp_session *s = px_xcalloc(1, sizeof(*s));
    s->deps = *deps;
    s->host = *host;
    s->log_level = -1;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void px_mcp_session_destroy(struct px_mcp_session *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Whether the session is initialized, and its version (copied into version[16]). */
static bool session_state(struct px_mcp_session *s, char *version)
{
    pthread_mutex_lock(&s->lock);
    bool done = s->initialized;
    if (version)
        memcpy(version, s->version, sizeof(s->version));
    pthread_mutex_unlock(&s->lock);
    return done;
}

bool px_mcp_initialized(const struct px_mcp_session *s)
{
    return session_state((struct px_mcp_session *)(uintptr_t)s, NULL);
}

bool px_mcp_version_supported(const char *version)
{
    for (size_t i = 0; version && i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcmp(version, versions[i]) == 0)
            return true;
    return false;
}

/* ---- message construction ---------------------------------------------------------------- */

/* Written as text (a raw value): tool results arrive pre-rendered, and building an object
 * around them only to print it again showed in profiles. Same bytes as json-c would give. */
static struct json_object *response(struct json_object *id, struct json_object *result)
{
    struct px_buf b;
    px_buf_init(&b, (size_t)1 << 30);
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    (void)px_buf_append(&b, head, sizeof(head) - 1);
    px_json_write_value(&b, id);
    (void)px_buf_append(&b, ",\"result\":", 10);
    px_json_write_value(&b, result);
    (void)px_buf_append(&b, "}", 1);
    json_object_put(result);
    return px_json_raw(px_buf_take(&b));
}

static struct json_object *error_response(struct json_object *id, int code, const char *message,
                                          struct json_object *data)
{
    struct json_object *r = json_object_new_object(), *e = json_object_new_object();
    px_json_set_str(r, "jsonrpc", "2.0");
    px_json_set(r, "id", id ? json_object_get(id) : NULL);
    px_json_set_int(e, "code", code);
    px_json_set_str(e, "message", message);
    if (data)
        px_json_set(e, "data", data);
    px_json_set(r, "error", e);
    return r;
}

/* An error response carrying a px_error's hint and code name in data. */
static struct json_object *error_from(struct json_object *id, int code, const struct px_error *e)
{
    struct json_object *data = json_object_new_object();
    px_json_set_str(data, "code", px_err_name(e->code));
    if (e->hint[0])
        px_json_set_str(data, "hint", e->hint);
    if (e->code == PX_ERATELIMIT)
        px_json_set_int(data, "retry_after_ms", e->retry_after_ms);
    return error_response(id, code, e->message, data);
}

static char *take_text(struct json_object *msg)
{
    if (!msg)
        return NULL;
    struct px_buf b;
    px_buf_init(&b, (size_t)1 << 30);
    px_json_write_value(&b, msg);
    json_object_put(msg);
    return px_buf_take(&b);
}

char *px_mcp_error_text(int code, const char *message)
{
    return take_text(error_response(NULL, code, message, NULL));
}

static void notify(struct call *c, const char *method, struct json_object *params)
{
    struct json_object *n = json_object_new_object();
    px_json_set_str(n, "jsonrpc", "2.0");
    px_json_set_str(n, "method", method);
    px_json_set(n, "params", params);
    c->s->host.send(c->ctx, px_json_str(n));
    json_object_put(n);
}

/* Whether the client asked for log messages of this level or a lower one (logging/setLevel). */
static bool log_wanted(struct px_mcp_session *s, int level)
{
    pthread_mutex_lock(&s->lock);
    bool wanted = s->log_level >= 0 && level >= s->log_level && s->client_ready;
    pthread_mutex_unlock(&s->lock);
    return wanted;
}

/* Sends data (owned) as notifications/message; the caller checked log_wanted first, so the
 * message is only built when it will be sent. */
static void client_log(struct call *c, int level, struct json_object *data)
{
    struct json_object *p = json_object_new_object();
    px_json_set_str(p, "level", log_levels[level]);
    px_json_set_str(p, "logger", SERVER_NAME);
    px_json_set(p, "data", data);
    notify(c, "notifications/message", p);
}

/* ---- cancellation ----------------------------------------------------------------------- */

static bool id_key(struct json_object *id, char out[80])
{
    const char *t = px_json_str(id);
    if (strlen(t) >= 80)
        return false;
    snprintf(out, 80, "%s", t);
    return true;
}

static void cancel_add(struct px_mcp_session *s, struct json_object *id)
{
    char key[80];
    if (id && id_key(id, key)) {
        pthread_mutex_lock(&s->lock);
        snprintf(s->cancelled[s->ncancelled % MAX_CANCELLED], 80, "%s", key);
        s->ncancelled++;
        pthread_mutex_unlock(&s->lock);
    }
}

/* True (and forgets it) when the request id was cancelled. */
static bool cancel_take(struct px_mcp_session *s, struct json_object *id)
{
    char key[80];
    if (!id || !id_key(id, key))
        return false;
    bool found = false;
    pthread_mutex_lock(&s->lock);
    int n = s->ncancelled < MAX_CANCELLED ? s->ncancelled : MAX_CANCELLED;
    for (int i = 0; !found && i < n; i++) {
        if (strcmp(s->cancelled[i], key) == 0) {
            s->cancelled[i][0] = '\0';
            found = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static bool is_cancelled(struct call *c)
{
    char key[80];
    if (!c->id || !id_key(c->id, key))
        return false;
    struct px_mcp_session *s = c->s;
    bool found = false;
    pthread_mutex_lock(&s->lock);
    int n = s->ncancelled < MAX_CANCELLED ? s->ncancelled : MAX_CANCELLED;
    for (int i = 0; !found && i < n; i++)
        found = strcmp(s->cancelled[i], key) == 0;
    pthread_mutex_unlock(&s->lock);
    return found;
}

static bool tool_cancelled(void *host)
{
    struct call *c = host;
    if (c->s->host.poll)
        c->s->host.poll(c->ctx);
    return is_cancelled(c);
}

static void tool_progress(void *host, double progress, double total, const char *message)
{
    struct call *c = host;
    if (!c->progress_token || progress <= c->progress)
        return;
    c->progress = progress;
    struct json_object *p = json_object_new_object();
    px_json_set(p, "progressToken", json_object_get(c->progress_token));
    px_json_set(p, "progress", json_object_new_double(progress));
    if (total > 0)
        px_json_set(p, "total", json_object_new_double(total));
    if (message && strcmp(c->version, "2025-03-26") >= 0)
        px_json_set_str(p, "message", message);
    notify(c, "notifications/progress", p);
}

/* ---- methods ---------------------------------------------------------------------------- */

static void audit_request(struct px_mcp_session *s, const struct px_principal *p,
                          const char *method, const char *outcome, const char *error_code,
                          int64_t started_us)
{
    struct px_audit_entry e = {
        .at = px_now_ms(),
        .org_id = p && p->org_id[0] ? p->org_id : NULL,
        .key_id = p && p->key_id[0] ? p->key_id : NULL,
        .transport = s->host.transport,
        .method = method,
        .outcome = outcome,
        .error_code = error_code,
        .latency_us = px_mono_us() - started_us,
    };
    px_audit_enqueue(s->deps.audit, &e);
}

/* Authenticates and applies the rate limit; on refusal returns the error response. */
static struct json_object *admit(struct call *c, struct json_object *id, const char *method,
                                 struct px_principal *p, int64_t started_us)
{
    struct px_mcp_session *s = c->s;
    struct px_error err;
    px_error_clear(&err);
    int rc = s->host.authenticate(c->ctx, p, &err);
    if (rc) {
        audit_request(s, p, method, "denied", px_err_name(rc), started_us);
        return error_from(id, px_err_rpc(rc), &err);
    }
    if (s->host.admitted)
        return NULL; /* the transport already counted this request */
    struct px_rate_decision d =
        px_ratelimit_take(s->deps.rl, p->org_id, p->rate_limit, px_now_ms());
    if (!d.allowed) {
        px_error_set(&err, PX_ERATELIMIT,
                     "Rate limit exceeded: the %s plan allows %lld MCP requests per minute",
                     p->plan, (long long)d.limit);
        px_error_hint(&err, "retry after %lld ms", (long long)d.retry_after_ms);
        err.retry_after_ms = d.retry_after_ms;
        audit_request(s, p, method, "denied", px_err_name(PX_ERATELIMIT), started_us);
        return error_from(id, px_err_rpc(PX_ERATELIMIT), &err);
    }
    return NULL;
}

static struct json_object *do_initialize(struct call *c, struct json_object *id,
                                         struct json_object *params, int64_t started_us)
{
    struct px_mcp_session *s = c->s;
    if (session_state(s, NULL))
        return error_response(id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: the session is already initialized", NULL);
    const char *requested = px_json_get_str(params, "protocolVersion");
    if (!requested)
        return error_response(id, PX_RPC_INVALID_PARAMS,
                              "Invalid params: initialize needs a protocolVersion string", NULL);
    const char *chosen = versions[0];
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcmp(requested, versions[i]) == 0)
            chosen = versions[i];

    struct px_principal p;
    struct json_object *refused = admit(c, id, "initialize", &p, started_us);
    if (refused)
        return refused;
    pthread_mutex_lock(&s->lock);
    bool raced = s->initialized; /* another initialize on this session got there first */
    if (!raced) {
        snprintf(s->version, sizeof(s->version), "%s", chosen);
        s->initialized = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (raced)
        return error_response(id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: the session is already initialized", NULL);
    audit_request(s, &p, "initialize", "ok", NULL, started_us);
    struct json_object *r = json_object_new_object(), *caps = json_object_new_object();
    struct json_object *tools = json_object_new_object(), *info = json_object_new_object();
    px_json_set_bool(tools, "listChanged", false);
    px_json_set(caps, "tools", tools);
    px_json_set(caps, "logging", json_object_new_object());
    px_json_set_str(info, "name", SERVER_NAME);
    px_json_set_str(info, "version", SERVER_VERSION);
    if (strcmp(chosen, "2025-06-18") >= 0)
        px_json_set_str(info, "title", "Planasonix");
    px_json_set_str(r, "protocolVersion", chosen);
    px_json_set(r, "capabilities", caps);
    px_json_set(r, "serverInfo", info);
    px_json_set_str(r, "instructions",
                    "Planasonix manages data pipelines: list_pipelines and get_pipeline to look, "
                    "create_pipeline with a graph to build (list_connection_types and "
                    "list_connectors show what sources and destinations exist), schedules for "
                    "cron runs. Pipeline data never passes through these tools.");
    return response(id, r);
}

static struct json_object *do_tools_call(struct call *c, struct json_object *id,
                                         struct json_object *params, int64_t started_us)
{
    struct px_mcp_session *s = c->s;
    const char *name = px_json_get_str(params, "name");
    struct json_object *args = px_json_get(params, "arguments");
    struct px_principal p;
    struct json_object *refused = admit(c, id, "tools/call", &p, started_us);
    if (refused)
        return refused;
    const char *problem = NULL;
    char msg[200];
    if (!name)
        problem = "Invalid params: tools/call needs a tool name";
    else if (!px_tools_exists(name))
        problem = (snprintf(msg, sizeof(msg), "Unknown tool: %.100s", name), msg);
    else if (args && !json_object_is_type(args, json_type_object))
        problem = "Invalid params: tools/call arguments must be an object";
    if (problem) {
        audit_request(s, &p, "tools/call", "error", "invalid_argument", started_us);
        return error_response(id, PX_RPC_INVALID_PARAMS, problem, NULL);
    }

    struct json_object *meta = px_json_get(params, "_meta");
    struct json_object *token = px_json_get(meta, "progressToken");
    if (token && !json_object_is_type(token, json_type_string) &&
        !json_object_is_type(token, json_type_int))
        token = NULL;
    c->id = id;
    c->progress_token = token;
    c->progress = 0;

    struct px_tool_ctx ctx = {
        .principal = &p,
        .tenant = {.store = c->store,
                   .keyring = s->deps.keyring,
                   .org_id = p.org_id,
                   .key_id = p.key_id},
        .progress = tool_progress,
        .cancelled = tool_cancelled,
        .host = c,
        .files_root = s->deps.files_root,
    };
    char *redacted = px_audit_redact(args);
    struct px_audit_entry audit = {
        .at = px_now_ms(),
        .org_id = p.org_id,
        .key_id = p.key_id,
        .transport = s->host.transport,
        .method = "tools/call",
        .arguments = redacted,
    };
    bool structured = strcmp(c->version, "2025-06-18") >= 0;
    struct json_object *result =
        px_tools_call(&ctx, name, args, structured, &audit, s->deps.audit, started_us);
    free(redacted);
    if (s->host.tool_done)
        s->host.tool_done(c->ctx, name, audit.error_code ? audit.error_code : "ok",
                          (long long)(px_mono_us() - started_us));

    int level = audit.error_code ? 3 : 0;
    if (log_wanted(s, level)) {
        struct json_object *log = json_object_new_object();
        px_json_set_str(log, "tool", name);
        px_json_set_str(log, "outcome", audit.error_code ? audit.error_code : "ok");
        px_json_set_int(log, "latency_ms", (px_mono_us() - started_us) / 1000);
        client_log(c, level, log);
    }

    bool cancelled = cancel_take(s, id);
    c->id = NULL;
    c->progress_token = NULL;
    if (cancelled) {
        json_object_put(result);
        return NULL; /* the client cancelled: send no response */
    }
    return response(id, result);
}

static struct json_object *do_request(struct call *c, const char *method, struct json_object *id,
                                      struct json_object *params)
{
    struct px_mcp_session *s = c->s;
    int64_t started = px_mono_us();
    if (strcmp(method, "ping") == 0)
        return response(id, json_object_new_object());
    if (strcmp(method, "initialize") == 0)
        return do_initialize(c, id, params, started);
    if (!session_state(s, c->version))
        return error_response(id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: the session is not initialized; send "
                              "initialize first",
                              NULL);
    if (strcmp(method, "tools/call") == 0)
        return do_tools_call(c, id, params, started);

    /* Authenticated and counted first: every request is audited, unknown methods included. */
    struct px_principal p;
    struct json_object *refused = admit(c, id, method, &p, started);
    if (refused)
        return refused;
    bool known = strcmp(method, "tools/list") == 0 || strcmp(method, "logging/setLevel") == 0;
    if (!known) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Method not found: %.100s", method);
        audit_request(s, &p, "unknown", "error", "method_not_found", started);
        return error_response(id, PX_RPC_METHOD_NOT_FOUND, msg, NULL);
    }
    struct json_object *res;
    if (strcmp(method, "tools/list") == 0) {
        if (px_json_get(params, "cursor")) {
            audit_request(s, &p, method, "error", "invalid_argument", started);
            return error_response(id, PX_RPC_INVALID_PARAMS,
                                  "Invalid params: unknown cursor (tools/list has one page)", NULL);
        }
        res = json_object_new_object();
        px_json_set(res, "tools", px_tools_list_json(c->version));
    } else {
        const char *level = px_json_get_str(params, "level");
        int found = -1;
        for (int i = 0; level && i < 8; i++)
            if (strcmp(level, log_levels[i]) == 0)
                found = i;
        if (found < 0) {
            audit_request(s, &p, method, "error", "invalid_argument", started);
            return error_response(id, PX_RPC_INVALID_PARAMS,
                                  "Invalid params: level must be one of debug, info, notice, "
                                  "warning, error, critical, alert, emergency",
                                  NULL);
        }
        pthread_mutex_lock(&s->lock);
        s->log_level = found;
        pthread_mutex_unlock(&s->lock);
        res = json_object_new_object();
    }
    audit_request(s, &p, method, "ok", NULL, started);
    return response(id, res);
}

static void do_notification(struct px_mcp_session *s, const char *method,
                            struct json_object *params)
{
    if (strcmp(method, "notifications/initialized") == 0) {
        pthread_mutex_lock(&s->lock);
        s->client_ready = s->initialized;
        pthread_mutex_unlock(&s->lock);
    } else if (strcmp(method, "notifications/cancelled") == 0)
        cancel_add(s, px_json_get(params, "requestId"));
    /* Other notifications (progress, roots/list_changed, ...) need nothing from us. */
}

static bool valid_id(struct json_object *id)
{
    return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

static struct json_object *handle_one(struct call *c, struct json_object *msg, bool in_batch)
{
    struct px_mcp_session *s = c->s;
    if (!json_object_is_type(msg, json_type_object))
        return error_response(NULL, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: a message must be a JSON object", NULL);
    struct json_object *id = px_json_get(msg, "id");
    bool has_id = json_object_object_get_ex(msg, "id", NULL);
    struct json_object *reply_id = has_id && valid_id(id) ? id : NULL;
    const char *version = px_json_get_str(msg, "jsonrpc");
    if (!version || strcmp(version, "2.0") != 0)
        return error_response(reply_id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: jsonrpc must be \"2.0\"", NULL);
    struct json_object *mv = px_json_get(msg, "method");
    if (!mv) {
        /* A response to a server request: we send none, so there is nothing to match. */
        if (has_id && (px_json_get(msg, "result") || json_object_object_get_ex(msg, "error", NULL)))
            return NULL;
        return error_response(reply_id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: method is missing", NULL);
    }
    if (!json_object_is_type(mv, json_type_string))
        return error_response(reply_id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: method must be a string", NULL);
    const char *method = json_object_get_string(mv);
    if (has_id && !valid_id(id))
        return error_response(NULL, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: id must be a string or an integer", NULL);
    struct json_object *params = px_json_get(msg, "params");
    if (json_object_object_get_ex(msg, "params", NULL) &&
        !json_object_is_type(params, json_type_object)) {
        if (!has_id)
            return NULL;
        return error_response(id, PX_RPC_INVALID_PARAMS, "Invalid params: params must be an object",
                              NULL);
    }
    if (!has_id) {
        do_notification(s, method, params);
        return NULL;
    }
    if (in_batch && strcmp(method, "initialize") == 0)
        return error_response(id, PX_RPC_INVALID_REQUEST,
                              "Invalid Request: initialize must not be part of a batch", NULL);
    if (cancel_take(s, id))
        return NULL; /* cancelled before it started */
    return do_request(c, method, id, params);
}

/* The answer to a message px_json_parse refused. Valid JSON with a NUL in a string is
 * invalid params with the request's id, so the client can tell which request failed (an id
 * that itself holds a NUL is an invalid request, id null); anything else is a parse error. */
static struct json_object *parse_failure(const char *text, size_t len, const struct px_error *err)
{
    char m[600];
    struct json_object *msg =
        px_json_parse_ex(text, len, PX_MCP_MAX_DEPTH, PX_JSON_ALLOW_NUL, NULL);
    if (!msg) {
        snprintf(m, sizeof(m), "Parse error: %s", err->message);
        return error_response(NULL, PX_RPC_PARSE, m, NULL);
    }
    struct json_object *id = px_json_get(msg, "id"), *out;
    if (json_object_is_type(msg, json_type_object) && px_json_get(msg, "method") &&
        !json_object_object_get_ex(msg, "id", NULL))
        out = NULL; /* a notification gets no answer, not even an error */
    else if (json_object_is_type(id, json_type_string) &&
             strlen(json_object_get_string(id)) != (size_t)json_object_get_string_len(id)) {
        out = error_response(NULL, PX_RPC_INVALID_REQUEST,
                             "Invalid Request: the id contains a NUL character (\\u0000)", NULL);
    } else {
        snprintf(m, sizeof(m), "Invalid params: %s", err->message);
        out = error_response(valid_id(id) ? id : NULL, PX_RPC_INVALID_PARAMS, m, NULL);
    }
    json_object_put(msg);
    return out;
}

char *px_mcp_handle(struct px_mcp_session *s, const char *text, size_t len)
{
    return px_mcp_handle_call(s, s->deps.store, s->host.ctx, text, len);
}

char *px_mcp_handle_call(struct px_mcp_session *s, struct px_store *store, void *ctx,
                         const char *text, size_t len)
{
    struct px_error err;
    struct json_object *msg = px_json_parse(text, len, PX_MCP_MAX_DEPTH, &err);
    if (!msg)
        return take_text(parse_failure(text, len, &err));
    char *reply = px_mcp_handle_msg(s, store, ctx, msg);
    json_object_put(msg);
    return reply;
}

char *px_mcp_handle_msg(struct px_mcp_session *s, struct px_store *store, void *ctx,
                        struct json_object *msg)
{
    struct call c = {.s = s, .store = store, .ctx = ctx};
    struct json_object *out;
    if (json_object_is_type(msg, json_type_array)) {
        size_t n = json_object_array_length(msg);
        char version[16];
        if (!session_state(s, version) || strcmp(version, "2025-03-26") != 0) {
            out = error_response(NULL, PX_RPC_INVALID_REQUEST,
                                 "Invalid Request: JSON-RPC batches are only accepted in protocol "
                                 "version 2025-03-26; send one message at a time",
                                 NULL);
        } else if (n == 0) {
            out =
                error_response(NULL, PX_RPC_INVALID_REQUEST, "Invalid Request: empty batch", NULL);
        } else {
            out = json_object_new_array();
            for (size_t i = 0; i < n; i++) {
                struct json_object *r = handle_one(&c, json_object_array_get_idx(msg, i), true);
                if (r)
                    json_object_array_add(out, r);
            }
            if (json_object_array_length(out) == 0) {
                json_object_put(out);
                out = NULL;
            }
        }
    } else {
        out = handle_one(&c, msg, false);
    }
    return take_text(out);
}

bool px_mcp_take_cancel(struct px_mcp_session *s, const char *text, size_t len)
{
    static const char needle[] = "notifications/cancelled";
    bool found = false;
    for (size_t i = 0; !found && i + sizeof(needle) - 1 <= len; i++)
        found = memcmp(text + i, needle, sizeof(needle) - 1) == 0;
    if (!found)
        return false;
    struct json_object *msg = px_json_parse(text, len, PX_MCP_MAX_DEPTH, NULL);
    bool taken = false;
    const char *method = px_json_get_str(msg, "method");
    if (method && strcmp(method, "notifications/cancelled") == 0 &&
        !json_object_object_get_ex(msg, "id", NULL)) {
        cancel_add(s, px_json_get(px_json_get(msg, "params"), "requestId"));
        taken = true;
    }
    json_object_put(msg);
    return taken;
}
