/* Schedule tools (see handlers.h). */
#include "base/json.h"
#include "service/schedule_loop.h"
#include "service/schedules.h"
#include "tools/handlers.h"

/* After a schedule change commits: the scheduler recomputes when to wake. */
static int wake_scheduler(struct px_tool_ctx *ctx, struct json_object **out, struct px_error *err)
{
    (void)ctx;
    (void)out;
    (void)err;
    px_scheduler_wake();
    return 0;
}

static struct px_schedule_fields fields(struct json_object *args)
{
    return (struct px_schedule_fields){
        .cron_expression = px_json_get_str(args, "cron_expression"),
        .frequency = px_json_get_str(args, "frequency"),
        .timezone = px_json_get_str(args, "timezone"),
        .misfire = px_json_get_str(args, "misfire"),
        .overlap = px_json_get_str(args, "overlap"),
    };
}

PX_TOOL(list_schedules)
{
    struct json_object *en = px_json_get(args, "enabled");
    int enabled = en ? json_object_get_boolean(en) : -1;
    return px_schedule_list(&ctx->tenant, px_json_get_str(args, "pipeline_id"), enabled,
                            px_json_get_int(args, "limit", 0), px_json_get_str(args, "cursor"), out,
                            err);
}

PX_TOOL(create_schedule)
{
    ctx->after_commit = wake_scheduler;
    struct px_schedule_fields f = fields(args);
    int rc = px_schedule_create(&ctx->tenant, px_json_get_str(args, "pipeline_id"), &f, out, err);
    if (!rc)
        px_tool_target(ctx, px_json_get_str(*out, "schedule_id"));
    return rc;
}

PX_TOOL(update_schedule)
{
    ctx->after_commit = wake_scheduler;
    struct px_schedule_fields f = fields(args);
    const char *id = px_json_get_str(args, "schedule_id");
    px_tool_target(ctx, id);
    return px_schedule_update(&ctx->tenant, id, &f, out, err);
}

PX_TOOL(delete_schedule)
{
    ctx->after_commit = wake_scheduler;
    const char *id = px_json_get_str(args, "schedule_id");
    px_tool_target(ctx, id);
    return px_schedule_delete(&ctx->tenant, id, out, err);
}

PX_TOOL(enable_schedule)
{
    ctx->after_commit = wake_scheduler;
    const char *id = px_json_get_str(args, "schedule_id");
    px_tool_target(ctx, id);
    return px_schedule_set_enabled(&ctx->tenant, id, 1, out, err);
}

PX_TOOL(disable_schedule)
{
    ctx->after_commit = wake_scheduler;
    const char *id = px_json_get_str(args, "schedule_id");
    px_tool_target(ctx, id);
    return px_schedule_set_enabled(&ctx->tenant, id, 0, out, err);
}
