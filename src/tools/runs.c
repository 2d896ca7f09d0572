/* Run and health tools (see handlers.h). Runs come with the pipeline engine; until then these
 * check scope (done by the registry) and ownership, then say plainly what is missing. */
#include "base/json.h"
#include "service/pipelines.h"
#include "tools/handlers.h"

/* Ownership first, so another org's pipeline gets "not found", not "not available". */
static int owned_then_not_yet(struct px_tool_ctx *ctx, struct json_object *args, const char *tool,
                              const char *what, struct px_error *err)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    int rc = px_pipeline_check(&ctx->tenant, id, err);
    return rc ? rc : px_tool_not_yet(tool, what, err);
}

PX_TOOL(get_run_history)
{
    (void)out;
    return owned_then_not_yet(ctx, args, "get_run_history",
                              "pipelines cannot run until the pipeline engine ships, so there is "
                              "no run history",
                              err);
}

PX_TOOL(get_pipeline_health)
{
    (void)out;
    return owned_then_not_yet(ctx, args, "get_pipeline_health",
                              "health is computed from runs, which need the pipeline engine", err);
}

PX_TOOL(trigger_pipeline)
{
    (void)out;
    return owned_then_not_yet(ctx, args, "trigger_pipeline",
                              "running pipelines needs the pipeline engine", err);
}
