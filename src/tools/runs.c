/* Run and health tools (see handlers.h): thin adapters over service/runs.h. Every handler
 * checks ownership first (inside the service), so another org's pipeline is "not found". */
#include "base/clock.h"
#include "base/json.h"
#include "service/pipelines.h"
#include "service/runs.h"
#include "store/store.h"
#include "tools/handlers.h"

#include <stdio.h>
#include <time.h>

#define WAIT_POLL_MS 100
#define PROGRESS_INTERVAL_MS 2000

PX_TOOL(get_run_history)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_run_list(&ctx->tenant, id, px_json_get_str(args, "status"),
                       px_json_get_int(args, "limit", 0), px_json_get_str(args, "cursor"), out,
                       err);
}

PX_TOOL(get_pipeline_health)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    return px_run_health(&ctx->tenant, id, px_json_get_str(args, "window"), out, err);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* After the queued run and its audit row are committed (so a worker can claim it): waits
 * for the run to finish, polling it. When the caller gave a progress token, a progress
 * notification goes out every PROGRESS_INTERVAL_MS whatever the run does (a blocked source, a
 * sort holding its rows), so clients that reset their request timeout on progress keep
 * waiting. progress is the seconds waited so far (it must increase, and rows may not), total
 * is wait_seconds, and the message says where the run is: status, node, rows so far. */
static int wait_for_run(struct px_tool_ctx *ctx, struct json_object **out, struct px_error *err)
{
    (void)err;
    px_run_workers_wake();
    struct json_object *run = px_json_get(*out, "run");
    char run_id[64];
    snprintf(run_id, sizeof(run_id), "%s", px_json_get_str(run, "run_id"));
    int64_t start = px_mono_us();
    int64_t deadline = start + ctx->after_commit_arg * 1000000;
    int64_t next_progress = start + PROGRESS_INTERVAL_MS * 1000;
    while (!px_run_finished(run) && px_mono_us() < deadline &&
           !(ctx->cancelled && ctx->cancelled(ctx->host))) {
        sleep_ms(WAIT_POLL_MS);
        struct json_object *fresh;
        if (px_run_get(&ctx->tenant, run_id, &fresh, NULL))
            continue;
        px_json_set(*out, "run", fresh);
        run = fresh;
        int64_t now = px_mono_us();
        if (!ctx->progress || px_run_finished(run) || now < next_progress)
            continue;
        next_progress = now + PROGRESS_INTERVAL_MS * 1000;
        char node[64], where[96] = "", msg[256];
        if (px_run_node(&ctx->tenant, run_id, node, NULL) == 0 && node[0])
            snprintf(where, sizeof(where), " at node '%s'", node);
        snprintf(msg, sizeof(msg), "%s%s: %lld rows read, %lld written",
                 px_json_get_str(run, "status"), where,
                 (long long)px_json_get_int(run, "rows_read", 0),
                 (long long)px_json_get_int(run, "rows_written", 0));
        ctx->progress(ctx->host, (double)((now - start) / 100000) / 10.0,
                      (double)ctx->after_commit_arg, msg);
    }
    px_json_set_bool(*out, "waited", true);
    return 0;
}

PX_TOOL(trigger_pipeline)
{
    const char *id = px_json_get_str(args, "pipeline_id");
    px_tool_target(ctx, id);
    int64_t wait_s = px_json_get_int(args, "wait_seconds", 0);
    int rc = px_run_trigger(&ctx->tenant, id, px_json_get(args, "params"),
                            px_json_get_str(args, "idempotency_key"), "manual", out, err);
    if (rc)
        return rc;
    if (wait_s > 0) {
        ctx->after_commit = wait_for_run;
        ctx->after_commit_arg = wait_s;
    } else {
        px_run_workers_wake();
    }
    return 0;
}
