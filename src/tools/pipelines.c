/* Pipeline tools: arguments in, service call, structured result out (see handlers.h). */
#include "base/err.h"
#include "base/json.h"
#include "service/pipelines.h"
#include "tools/handlers.h"

#include <stdio.h>

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

/* get_pipeline lists at most this many revisions, newest first. */
#define GET_PIPELINE_REVISIONS 20

PX_TOOL(get_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    int rc = px_pipeline_get(&ctx->tenant, id, out, err);
    struct json_object *revs = NULL;
    int64_t total = 0;
    if (!rc && (rc = px_pipeline_revisions(&ctx->tenant, id, GET_PIPELINE_REVISIONS, &revs, &total,
                                           err))) {
        json_object_put(*out);
        *out = NULL;
    }
    if (!rc) {
        px_json_set(*out, "revisions", revs);
        px_json_set_int(*out, "revision_count", total);
    }
    return rc;
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

/* freshness_sla_minutes (an integer, or null to clear) sets the pipeline's SLA; out's
 * "pipeline" view is refreshed to show it. */
static int apply_sla(struct px_tool_ctx *ctx, struct json_object *args, const char *id,
                     struct json_object *out, struct px_error *err)
{
    struct json_object *sla;
    if (!json_object_object_get_ex(args, "freshness_sla_minutes", &sla))
        return 0;
    int rc = px_pipeline_set_sla(&ctx->tenant, id, sla ? json_object_get_int64(sla) : 0, err);
    struct json_object *view;
    if (!rc && !(rc = px_pipeline_get(&ctx->tenant, id, &view, err)))
        px_json_set(out, "pipeline", view);
    return rc;
}

PX_TOOL(create_pipeline)
{
    bool dry_run = px_json_get_bool(args, "dry_run", false);
    int rc = px_pipeline_create(&ctx->tenant, px_json_get_str(args, "name"),
                                px_json_get_str(args, "description"), px_json_get(args, "graph"),
                                dry_run, out, err);
    if (rc)
        return rc;
    const char *id = px_json_get_str(px_json_get(*out, "pipeline"), "pipeline_id");
    px_tool_target(ctx, id);
    return dry_run ? 0 : apply_sla(ctx, args, id, *out, err);
}

/* name renames the pipeline (no new revision); in the same transaction as a graph change,
 * so a name clash leaves the graph alone too. */
static int apply_name(struct px_tool_ctx *ctx, struct json_object *args, const char *id,
                      bool dry_run, struct json_object *out, struct px_error *err)
{
    const char *name = px_json_get_str(args, "name");
    bool renamed;
    if (!name)
        return 0;
    int rc = px_pipeline_rename(&ctx->tenant, id, name, dry_run, &renamed, err);
    if (rc || !renamed)
        return rc;
    px_json_set_bool(out, "changed", true);
    struct json_object *view;
    if (!dry_run && !(rc = px_pipeline_get(&ctx->tenant, id, &view, err)))
        px_json_set(out, "pipeline", view);
    return rc;
}

PX_TOOL(update_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    bool dry_run = px_json_get_bool(args, "dry_run", false);
    int rc;
    if (!px_json_get(args, "graph") &&
        !json_object_object_get_ex(args, "revert_to_revision", NULL) &&
        (json_object_object_get_ex(args, "freshness_sla_minutes", NULL) ||
         px_json_get(args, "name"))) {
        /* Only the name and/or the SLA change: no new revision, no planner. */
        struct json_object *view;
        if ((rc = px_pipeline_get(&ctx->tenant, id, &view, err)))
            return rc;
        *out = json_object_new_object();
        px_json_set(*out, "pipeline", view);
        px_json_set_bool(*out, "dry_run", dry_run);
        px_json_set_bool(*out, "changed", false);
        rc = apply_name(ctx, args, id, dry_run, *out, err);
        return rc || dry_run ? rc : apply_sla(ctx, args, id, *out, err);
    }
    struct json_object *graph = json_object_get(px_json_get(args, "graph"));
    const char *note = px_json_get_str(args, "description");
    char revert_note[5100];
    if (json_object_object_get_ex(args, "revert_to_revision", NULL)) {
        int64_t to = px_json_get_int(args, "revert_to_revision", 0);
        if (graph) {
            json_object_put(graph);
            rc = px_error_set(err, PX_EINVALID, "pass graph or revert_to_revision, not both");
            px_error_field(err, "revert_to_revision");
            return rc;
        }
        if ((rc = px_pipeline_revision_graph(&ctx->tenant, id, to, &graph, err)))
            return rc;
        /* The revision list says where the graph came from, then why. */
        snprintf(revert_note, sizeof(revert_note), "reverted to revision %lld: %s", (long long)to,
                 note ? note : "");
        note = revert_note;
    }
    rc = px_pipeline_update(&ctx->tenant, id, note, graph,
                            px_json_get_int(args, "base_revision", -1), dry_run, out, err);
    json_object_put(graph);
    if (!rc)
        rc = apply_name(ctx, args, id, dry_run, *out, err);
    return rc || dry_run ? rc : apply_sla(ctx, args, id, *out, err);
}

PX_TOOL(delete_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_pipeline_delete(&ctx->tenant, id, out, err);
}
