/* The tool table and tools/call pipeline: see registry.h. */
#include "tools/registry.h"

#include "auth/audit.h"
#include "auth/principal.h"
#include "auth/scopes.h"
#include "base/clock.h"
#include "base/embed.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/schema.h"
#include "base/text.h"
#include "store/store.h"
#include "tools/handlers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As many as the build generated rows for (tools/handlers.h); checked against the embedded
 * specs at start-up. */
#define NTOOLS_MAX 64

struct tool {
    const char *name;
    px_tool_fn fn;
    uint32_t scope; /* the one scope the tool needs */
    const char *scope_name;
    bool mutates;             /* not readOnly: runs in a transaction with its audit row */
    struct json_object *spec; /* the parsed spec file */
};

static struct tool tools[NTOOLS_MAX];
#define NTOOLS px_tool_rows_count
static bool ready;

/* tools/list in the three shapes protocol versions need, serialized once, on the first
 * tools/list (not at start-up: time to the initialize answer counts). */
enum { SHAPE_2024_11_05, SHAPE_2025_03_26, SHAPE_2025_06_18, SHAPE_COUNT };
static char *list_text[SHAPE_COUNT];
static pthread_once_t list_once = PTHREAD_ONCE_INIT;
static void build_lists(void);

static int spec_error(const char *file, const char *what, struct px_error *err)
{
    return px_error_set(err, PX_EINTERNAL, "tool spec %s: %s", file, what);
}

int px_tools_init(struct px_error *err)
{
    if (ready)
        return 0;
    if (NTOOLS > NTOOLS_MAX)
        return px_error_set(err, PX_EINTERNAL, "%zu tools: raise NTOOLS_MAX", NTOOLS);
    if (px_embed_tool_specs_count != NTOOLS)
        return px_error_set(err, PX_EINTERNAL, "%zu tool specs but %zu handlers",
                            px_embed_tool_specs_count, NTOOLS);
    for (size_t i = 0; i < NTOOLS; i++) {
        const struct px_embed *e = &px_embed_tool_specs[i];
        struct json_object *spec = px_json_parse(e->data, e->len, 64, err);
        if (!spec)
            return spec_error(e->name, err->message, err);
        const char *name = px_json_get_str(spec, "name");
        size_t k = 0;
        while (k < NTOOLS && (!name || strcmp(px_tool_rows[k].name, name) != 0))
            k++;
        struct json_object *in = px_json_get(spec, "inputSchema");
        struct json_object *out = px_json_get(spec, "outputSchema");
        struct json_object *ann = px_json_get(spec, "annotations");
        const char *scope = px_json_get_str(spec, "scope");
        int rc = 0;
        if (k == NTOOLS)
            rc = spec_error(e->name, "no handler for this tool name", err);
        else if (tools[k].spec)
            rc = spec_error(e->name, "duplicate tool name", err);
        else if (!px_json_get_str(spec, "title") || !px_json_get_str(spec, "description"))
            rc = spec_error(e->name, "title and description are required", err);
        else if (!scope || !px_scope_bit(scope))
            rc = spec_error(e->name, "scope is missing or unknown", err);
        else if (!in || !out || !ann)
            rc = spec_error(e->name, "inputSchema, outputSchema and annotations are required", err);
        else if (px_json_get_bool(in, "additionalProperties", true))
            rc = spec_error(e->name, "inputSchema must set additionalProperties: false", err);
        if (rc) {
            json_object_put(spec);
            return rc;
        }
        tools[k] = (struct tool){
            .name = px_tool_rows[k].name,
            .fn = px_tool_rows[k].fn,
            .scope = px_scope_bit(scope),
            .scope_name = scope,
            .mutates = !px_json_get_bool(ann, "readOnlyHint", false),
            .spec = spec,
        };
    }
    ready = true;
    return 0;
}

int px_tools_check_schemas(struct px_error *err)
{
    for (size_t i = 0; i < NTOOLS; i++) {
        struct json_object *in = px_json_get(tools[i].spec, "inputSchema");
        struct json_object *out = px_json_get(tools[i].spec, "outputSchema");
        if (px_schema_check(in, err) || px_schema_check(out, err))
            return px_error_set(err, PX_EINTERNAL, "tool %s: %s", tools[i].name, err->message);
    }
    return 0;
}

int px_tools_count(void)
{
    return (int)NTOOLS;
}

static const struct tool *find(const char *name)
{
    for (size_t i = 0; name && i < NTOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

bool px_tools_exists(const char *name)
{
    return find(name) != NULL;
}

static char *build_list(int shape);

static void build_lists(void)
{
    for (int shape = 0; shape < SHAPE_COUNT; shape++)
        list_text[shape] = build_list(shape);
}

static char *build_list(int shape)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < NTOOLS; i++) {
        struct json_object *s = tools[i].spec, *t = json_object_new_object();
        px_json_set_str(t, "name", tools[i].name);
        if (shape >= SHAPE_2025_06_18)
            px_json_set_str(t, "title", px_json_get_str(s, "title"));
        px_json_set_str(t, "description", px_json_get_str(s, "description"));
        px_json_set(t, "inputSchema", json_object_get(px_json_get(s, "inputSchema")));
        if (shape >= SHAPE_2025_06_18)
            px_json_set(t, "outputSchema", json_object_get(px_json_get(s, "outputSchema")));
        if (shape >= SHAPE_2025_03_26)
            px_json_set(t, "annotations", json_object_get(px_json_get(s, "annotations")));
        json_object_array_add(arr, t);
    }
    char *text = px_xstrdup(px_json_str(arr));
    json_object_put(arr);
    return text;
}

struct json_object *px_tools_list_json(const char *version)
{
    int shape = strcmp(version, "2025-06-18") >= 0   ? SHAPE_2025_06_18
                : strcmp(version, "2025-03-26") >= 0 ? SHAPE_2025_03_26
                                                     : SHAPE_2024_11_05;
    /* An empty array that prints the cached text: nothing shared is touched per request. */
    pthread_once(&list_once, build_lists);
    struct json_object *arr = json_object_new_array();
    json_object_set_serializer(arr, json_object_userdata_to_json_string, list_text[shape], NULL);
    return arr;
}

static struct json_object *text_result(struct json_object *payload, bool is_error,
                                       bool with_structured)
{
    /* Written as text, the payload's JSON once escaped (content) and once as it is
     * (structuredContent), then carried as a raw value: no objects to build and print. */
    const char *text = px_json_str(payload);
    struct px_buf b;
    px_buf_init(&b, (size_t)1 << 30);
    static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":";
    (void)px_buf_append(&b, head, sizeof(head) - 1);
    px_json_write_str(&b, text);
    (void)px_buf_append(&b, "}]", 2);
    if (is_error) {
        static const char err[] = ",\"isError\":true";
        (void)px_buf_append(&b, err, sizeof(err) - 1);
    } else if (with_structured) {
        static const char sc[] = ",\"structuredContent\":";
        (void)px_buf_append(&b, sc, sizeof(sc) - 1);
        (void)px_buf_append(&b, text, strlen(text));
    }
    (void)px_buf_append(&b, "}", 1);
    json_object_put(payload);
    return px_json_raw(px_buf_take(&b));
}

static struct json_object *error_result(const struct px_error *e)
{
    struct json_object *o = json_object_new_object(), *w = json_object_new_object();
    /* Messages may quote what the caller sent or what an upstream said: clean them. */
    char *message = px_text_clean(e->message, sizeof(e->message), NULL);
    px_json_set_str(o, "code", px_err_name(e->code));
    px_json_set_str(o, "message", message);
    free(message);
    if (e->field[0])
        px_json_set_str(o, "field", e->field);
    if (e->hint[0])
        px_json_set_str(o, "hint", e->hint);
    px_json_set_bool(o, "retryable", e->retryable);
    if (e->code == PX_ERATELIMIT)
        px_json_set_int(o, "retry_after_ms", e->retry_after_ms);
    px_json_set(w, "error", o);
    return text_result(w, true, false);
}

static int run(const struct tool *t, struct px_tool_ctx *ctx, struct json_object *args,
               struct json_object **out, struct px_audit_entry *audit, struct px_audit *queue,
               int64_t started_us, struct px_error *err)
{
    *out = NULL;
    if (!(ctx->principal->scopes & t->scope)) {
        int rc = px_error_set(err, PX_EFORBIDDEN, "Insufficient permissions: this key lacks %s",
                              t->scope_name);
        px_error_hint(err,
                      "ask an operator for a key with the %s scope (planasonix-mcp key "
                      "create --scopes ...)",
                      t->scope_name);
        audit->outcome = "denied";
        return rc;
    }
    if (px_json_get(args, "org_id")) {
        int rc = px_error_set(err, PX_EINVALID,
                              "org_id is not accepted: the organization comes from your API key");
        px_error_field(err, "org_id");
        px_error_hint(err, "remove org_id from the arguments");
        return rc;
    }
    int rc = px_schema_validate(px_json_get(t->spec, "inputSchema"), args, "", err);
    if (rc) {
        if (!err->hint[0])
            px_error_hint(err,
                          "tools/list shows %s's inputSchema: argument names, types and "
                          "limits",
                          t->name);
        return rc;
    }
    if (!t->mutates)
        return t->fn(ctx, args, out, err);

    if ((rc = px_store_begin(ctx->tenant.store, err)))
        return rc;
    rc = t->fn(ctx, args, out, err);
    if (!rc) {
        audit->outcome = "ok";
        audit->target_id = ctx->target_id[0] ? ctx->target_id : NULL;
        audit->latency_us = px_mono_us() - started_us;
        rc = px_audit_write(ctx->tenant.store, audit, err);
    }
    rc = px_store_finish(ctx->tenant.store, rc, err);
    if (!rc && ctx->after_commit)
        rc = ctx->after_commit(ctx, out, err);
    if (rc) {
        json_object_put(*out);
        *out = NULL;
        return rc;
    }
    audit->outcome = NULL; /* written in the transaction: nothing to queue */
    (void)queue;
    return 0;
}

struct json_object *px_tools_call(struct px_tool_ctx *ctx, const char *name,
                                  struct json_object *args, bool with_structured,
                                  struct px_audit_entry *audit, struct px_audit *queue,
                                  int64_t started_us)
{
    const struct tool *t = find(name);
    struct px_error err;
    px_error_clear(&err);
    struct json_object *empty = NULL, *out = NULL;
    if (!args)
        args = empty = json_object_new_object();
    audit->tool = t ? t->name : NULL;
    audit->outcome = "error";
    int rc = t ? run(t, ctx, args, &out, audit, queue, started_us, &err)
               : px_error_set(&err, PX_EINVALID, "unknown tool");
    struct json_object *res;
    if (rc) {
        if (!err.code)
            px_error_set(&err, rc < 0 ? rc : PX_EINTERNAL, "internal error");
        if (err.code == PX_EINTERNAL || err.code == PX_ESTORE)
            px_logerr("tool %s failed: %s", name, err.message);
        audit->error_code = px_err_name(err.code);
        res = error_result(&err);
    } else {
        if (audit->outcome)
            audit->outcome = "ok";
        res = text_result(out, false, with_structured);
    }
    if (audit->outcome) {
        audit->target_id = ctx->target_id[0] ? ctx->target_id : NULL;
        audit->latency_us = px_mono_us() - started_us;
        px_audit_enqueue(queue, audit);
    }
    json_object_put(empty);
    return res;
}

void px_tool_target(struct px_tool_ctx *ctx, const char *id)
{
    if (id)
        snprintf(ctx->target_id, sizeof(ctx->target_id), "%s", id);
}

int px_tool_not_yet(const char *tool, const char *what, struct px_error *err)
{
    int rc = px_error_set(err, PX_EUNAVAILABLE, "%s is not available yet: %s", tool, what);
    px_error_hint(err, "this capability arrives with the pipeline engine; the rest of the tools "
                       "work now");
    return rc;
}
