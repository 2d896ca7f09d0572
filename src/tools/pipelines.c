/* Pipeline tools: arguments in, service call, structured result out (see handlers.h). */
#include "base/json.h"
#include "service/pipelines.h"
#include "tools/handlers.h"

PX_TOOL(list_pipelines)
{
    struct px_pipeline_filter f = {
        .status = px_json_get_str(args, "status"),
        .query = px_json_get_str(args, "query"),
        .limit = px_json_get_int(args, "limit", 0),
        .cursor = px_json_get_str(args, "cursor"),
    };
    return px_pipeline_list(&ctx->tenant, &f, out, err);
}

PX_TOOL(get_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_get(&ctx->tenant, id, out, err);
}

PX_TOOL(pause_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_set_status(&ctx->tenant, id, "paused", out, err);
}

PX_TOOL(resume_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_set_status(&ctx->tenant, id, "active", out, err);
}

PX_TOOL(create_pipeline)
{
    int rc = px_pipeline_create(&ctx->tenant, px_json_get_str(args, "name"),
                                px_json_get_str(args, "description"), px_json_get(args, "graph"),
                                px_json_get_bool(args, "dry_run", false), out, err);
    if (!rc)
        px_tool_target(ctx, px_json_get_str(px_json_get(*out, "pipeline"), "pipeline_id"));
    return rc;
}

PX_TOOL(update_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_update(&ctx->tenant, id, px_json_get_str(args, "description"),
                              px_json_get(args, "graph"),
                              px_json_get_int(args, "base_revision", -1),
                              px_json_get_bool(args, "dry_run", false), out, err);
}

PX_TOOL(delete_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_delete(&ctx->tenant, id, out, err);
}
