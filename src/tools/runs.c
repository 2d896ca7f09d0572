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
 * for the run to finish, polling it, with progress as rows are written. */
static int wait_for_run(struct px_tool_ctx *ctx, struct json_object **out, struct px_error *err)
{
    (void)err;
    px_run_workers_wake();
    struct json_object *run = px_json_get(*out, "run");
    char run_id[64];
    snprintf(run_id, sizeof(run_id), "%s", px_json_get_str(run, "run_id"));
    int64_t deadline = px_mono_us() + ctx->after_commit_arg * 1000000;
    int64_t reported = 0;
    while (!px_run_finished(run) && px_mono_us() < deadline &&
           !(ctx->cancelled && ctx->cancelled(ctx->host))) {
        sleep_ms(WAIT_POLL_MS);
        struct json_object *fresh;
        if (px_run_get(&ctx->tenant, run_id, &fresh, NULL))
            continue;
        px_json_set(*out, "run", fresh);
        run = fresh;
        int64_t written = px_json_get_int(run, "rows_written", 0);
        if (written > reported && ctx->progress) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%s: %lld rows written", px_json_get_str(run, "status"),
                     (long long)written);
            ctx->progress(ctx->host, (double)written, 0, msg);
            reported = written;
        }
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
