/*
 * What a tool handler sees. A tool is a spec (src/tools/specs/NAME.json: name, title,
 * description, scope, annotations, inputSchema, outputSchema) plus one handler function
 * registered in tools/registry.c. The registry has already checked the scope and validated
 * the arguments against inputSchema when a handler runs; the handler returns the
 * structuredContent object, or fills err (what was wrong, what to do) and returns negative.
 */
#ifndef PX_TOOLS_TOOL_H
#define PX_TOOLS_TOOL_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;
struct px_principal;

struct px_tool_ctx {
    const struct px_principal *principal; /* who is calling (from the API key) */
    struct px_tenant tenant;              /* the caller's organization scope */
    char target_id[40];                   /* out: the object acted on, for the audit row */
    /* Reports progress when the client asked for it (no-op otherwise). */
    void (*progress)(void *host, double progress, double total, const char *message);
    /* True once the client cancelled this request. */
    bool (*cancelled)(void *host);
    void *host; /* passed back to the callbacks above */
    /* The directory file connectors are confined to (test_connection); NULL when the server
     * runs no pipelines. */
    const char *files_root;
    /* Set by a mutating handler for work that must follow the commit of its change and audit
     * row (trigger_pipeline waits for the run it queued): the registry calls it outside the
     * transaction, and it may replace *out. */
    int (*after_commit)(struct px_tool_ctx *ctx, struct json_object **out, struct px_error *err);
    int64_t after_commit_arg; /* for after_commit: e.g. seconds to wait */
};

typedef int (*px_tool_fn)(struct px_tool_ctx *ctx, struct json_object *args,
                          struct json_object **out, struct px_error *err);

/* Records the object a call acts on (for the audit row); NULL is ignored. */
void px_tool_target(struct px_tool_ctx *ctx, const char *id);

/* Handlers that exist but whose capability comes with a later part of the platform: after
 * the scope and ownership checks, they call this for an honest "not available" error. */
int px_tool_not_yet(const char *tool, const char *what, struct px_error *err);

#endif
