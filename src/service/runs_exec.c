/* Runs of pipelines: execution of one claimed run through the engine (px_run_execute):
 * connection secrets, cancellation, progress, incremental positions, the run's time limit,
 * retries with backoff, and recording the outcome. See runs.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/text.h"
#include "engine/engine.h"
#include "service/connections.h"
#include "service/orgs.h"
#include "service/runs_int.h"
#include "store/store.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_MESSAGE_MAX 500
#define ERROR_HINT_MAX 250
#define PROGRESS_EVERY_MS 250
#define RUN_TIMEOUT_S_DEFAULT 3600
#define MAX_ATTEMPTS_DEFAULT 3
#define RETRY_BASE_MS_DEFAULT 1000
#define RETRY_CAP_MS 60000
#define BACKOFF_SLICE_US 50000

/* ---- execution -------------------------------------------------------------------------- */

struct exec_ctx {
    struct px_tenant tenant;
    pthread_mutex_t lock; /* the store handle, should the engine call back from its threads */
    const char *run_id;
    int64_t last_progress_ms;
    /* Where the run is (engine stage callback), written with the row counts. */
    char node[64];
    int64_t rows_read, rows_written;
    bool (*stop)(void *);
    void *stop_ctx;
    bool stopped;
    int64_t deadline_us; /* px_mono_us() past which the run has timed out */
    bool timed_out;
    struct px__run_lease *lease; /* this process's ownership of the run */
    bool lost;                   /* another process recovered the run: stop, write nothing */
};

static int resolve_conn(void *vctx, const char *connection_id, struct json_object **out,
                        struct px_error *err)
{
    struct exec_ctx *x = vctx;
    pthread_mutex_lock(&x->lock);
    int rc = px_connection_secret_params(&x->tenant, connection_id, out, err);
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static bool exec_cancelled(void *vctx)
{
    struct exec_ctx *x = vctx;
    if (!x->lost && px__run_lease_lost(x->lease))
        x->lost = true;
    if (x->lost)
        return true;
    if (!x->stopped && x->stop && x->stop(x->stop_ctx))
        x->stopped = true;
    if (!x->stopped && !x->timed_out && px_mono_us() >= x->deadline_us)
        x->timed_out = true;
    return x->stopped || x->timed_out;
}

/* Writes the rows so far and the current node to the run (what a waiting trigger reports),
 * at most every PROGRESS_EVERY_MS, or at once when the node changed; what is held back here
 * goes out with the next lease renewal. Called with x->lock. */
static void record_progress(struct exec_ctx *x, bool node_changed)
{
    int64_t now = px_now_ms();
    bool store = node_changed || now - x->last_progress_ms >= PROGRESS_EVERY_MS;
    px__run_lease_progress(x->lease, x->node, x->rows_read, x->rows_written, store);
    if (!store)
        return;
    x->last_progress_ms = now;
    px_store_exec(x->tenant.store,
                  "UPDATE runs SET rows_read = ?, rows_written = ?, progress_node = ?"
                  " WHERE org_id = ? AND id = ? AND status = 'running' AND runner = ?",
                  PX_PARAMS(PX_V_INT(x->rows_read), PX_V_INT(x->rows_written),
                            PX_V_TEXT(x->node[0] ? x->node : NULL), PX_V_TEXT(x->tenant.org_id),
                            PX_V_TEXT(x->run_id), PX_V_TEXT(px_run_self())),
                  6, NULL, NULL);
}

static void exec_progress(void *vctx, int64_t rows_written)
{
    struct exec_ctx *x = vctx;
    pthread_mutex_lock(&x->lock);
    x->rows_written = rows_written;
    record_progress(x, false);
    pthread_mutex_unlock(&x->lock);
}

static void exec_stage(void *vctx, const char *node_id, int64_t rows_read, int64_t rows_written)
{
    struct exec_ctx *x = vctx;
    pthread_mutex_lock(&x->lock);
    bool changed = strncmp(x->node, node_id, sizeof(x->node) - 1) != 0;
    if (changed)
        snprintf(x->node, sizeof(x->node), "%s", node_id);
    x->rows_read = rows_read;
    x->rows_written = rows_written;
    record_progress(x, changed);
    pthread_mutex_unlock(&x->lock);
}

/* A copy of s without the server's files root (paths are shown relative to it). */
static char *strip_root(const char *s, const char *root)
{
    size_t rn = root ? strlen(root) : 0;
    while (rn > 1 && root[rn - 1] == '/')
        rn--;
    char *out = px_xstrdup(s), *w = out;
    for (const char *p = s; *p;) {
        if (rn > 1 && strncmp(p, root, rn) == 0) {
            p += rn;
            if (*p == '/')
                p++;
            continue;
        }
        *w++ = *p++;
    }
    *w = '\0';
    return out;
}

/* {code, message, node_id, retryable, hint}, cleaned and capped; files_root (may be NULL) is
 * removed from the message. */
static struct json_object *error_json(const char *code, const char *message, const char *node_id,
                                      bool retryable, const char *hint, const char *files_root)
{
    struct json_object *e = json_object_new_object();
    px_json_set_str(e, "code", code);
    char *raw = strip_root(message && *message ? message : "the run failed", files_root);
    char *m = px_text_clean(raw, ERROR_MESSAGE_MAX, NULL);
    free(raw);
    px_json_set_str(e, "message", m);
    free(m);
    px_json_set_str(e, "node_id", node_id && *node_id ? node_id : NULL);
    px_json_set_bool(e, "retryable", retryable);
    if (hint && *hint) {
        char *h = px_text_clean(hint, ERROR_HINT_MAX, NULL);
        px_json_set_str(e, "hint", h);
        free(h);
    }
    return e;
}

/* See runs_int.h. */
struct json_object *px__runs_interrupted_error(void)
{
    return error_json("interrupted", "the server stopped during the run, so it did not finish",
                      NULL, true, "trigger the pipeline again", NULL);
}

/* Records the outcome, fenced by ownership: *recorded (may be NULL) is false when the run is
 * no longer this process's (another process recovered it), and nothing was written. runner
 * stays on the finished run: which process executed it. */
static int finish_run(struct px_store *st, const char *org_id, const char *run_id,
                      const char *status, int64_t rows_read, int64_t rows_written,
                      struct json_object *error, struct json_object *nodes, bool *recorded,
                      struct px_error *err)
{
    int64_t changed = 0;
    int rc = px_store_exec(
        st,
        "UPDATE runs SET status = ?, finished_at = ?, rows_read = ?, rows_written = ?, error = ?,"
        " nodes = ?, lease_until = NULL, progress_node = NULL WHERE org_id = ? AND id = ? AND "
        "status = 'running'"
        " AND runner = ?",
        PX_PARAMS(PX_V_TEXT(status), PX_V_INT(px_now_ms()), PX_V_INT(rows_read),
                  PX_V_INT(rows_written), PX_V_TEXT(error ? px_json_str(error) : NULL),
                  PX_V_TEXT(nodes ? px_json_str(nodes) : NULL), PX_V_TEXT(org_id),
                  PX_V_TEXT(run_id), PX_V_TEXT(px_run_self())),
        9, &changed, err);
    if (!rc && changed == 0)
        px_warn("run %s: not recorded as %s: the run is no longer this process's (another "
                "process recovered it after its lease expired)",
                run_id, status);
    if (recorded)
        *recorded = !rc && changed == 1;
    return rc;
}

/* ---- incremental positions ---------------------------------------------------------------- */

/* {node_id: position} of the pipeline's cursors (engine/cursor.h), or NULL when it has none. */
static int load_cursors(struct px_store *st, const char *org_id, const char *pipeline_id,
                        struct json_object **out, struct px_error *err)
{
    struct px_rows *rows;
    *out = NULL;
    int rc = px_store_query(st,
                            "SELECT node_id, position FROM pipeline_cursors"
                            " WHERE org_id = ? AND pipeline_id = ?",
                            PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(pipeline_id)), 2, &rows, err);
    if (rc)
        return rc;
    while ((rc = px_rows_next(rows, err)) == 1) {
        struct json_object *pos = json_tokener_parse(px_rows_text(rows, 1));
        if (!pos)
            continue; /* unreadable: that source reads everything again */
        if (!*out)
            *out = json_object_new_object();
        px_json_set(*out, px_rows_text(rows, 0), pos);
    }
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

static int store_cursors(struct px_store *st, const char *org_id, const char *pipeline_id,
                         const char *run_id, struct json_object *cursors, struct px_error *err)
{
    int rc = 0;
    json_object_object_foreach(cursors, node_id, pos)
    {
        if (rc)
            break;
        rc = px_store_exec(st,
                           "INSERT INTO pipeline_cursors (org_id, pipeline_id, node_id, position,"
                           " run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (org_id, pipeline_id, node_id) DO UPDATE SET"
                           " position = excluded.position, run_id = excluded.run_id,"
                           " updated_at = excluded.updated_at",
                           PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(node_id),
                                     PX_V_TEXT(px_json_str(pos)), PX_V_TEXT(run_id),
                                     PX_V_INT(px_now_ms())),
                           6, NULL, err);
    }
    return rc;
}

/* ---- timeout and retries ---------------------------------------------------------------- */

static px_run_engine_fn engine_hook;

void px_run_set_engine_hook(px_run_engine_fn fn)
{
    engine_hook = fn;
}

#define ORG_DISK_QUOTA_MB_DEFAULT 10240 /* 10 GiB per organization's files directory */
#define RUN_WRITE_MB_DEFAULT 2048       /* 2 GiB of files per run */

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < lo || n > hi ? def : n;
}

/* PLANASONIX_RUN_TIMEOUT_S: seconds (fractions allowed), default 3600. */
static double run_timeout_s(void)
{
    const char *v = getenv("PLANASONIX_RUN_TIMEOUT_S");
    if (v && *v) {
        char *end;
        double d = strtod(v, &end);
        if (!*end && isfinite(d) && d > 0 && d <= 366.0 * 86400)
            return d;
    }
    return RUN_TIMEOUT_S_DEFAULT;
}

/* Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
static int64_t backoff_ms(int attempt, int64_t base_ms)
{
    int64_t ceil_ms = base_ms;
    for (int i = 1; i < attempt && ceil_ms < RETRY_CAP_MS; i++)
        ceil_ms *= 2;
    if (ceil_ms > RETRY_CAP_MS)
        ceil_ms = RETRY_CAP_MS;
    return ceil_ms <= 0 ? 0 : (int64_t)randombytes_uniform((uint32_t)ceil_ms + 1);
}

/* Sleeps delay_ms in slices, polling the stop flag and the deadline; true when either ended
 * the wait early. */
static bool backoff_wait(struct exec_ctx *x, int64_t delay_ms)
{
    int64_t until = px_mono_us() + delay_ms * 1000;
    for (;;) {
        if (exec_cancelled(x))
            return true;
        int64_t left = until - px_mono_us();
        if (left <= 0)
            return false;
        if (left > BACKOFF_SLICE_US)
            left = BACKOFF_SLICE_US;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000};
        nanosleep(&ts, NULL);
    }
}

int px_run_execute(struct px_store *st, const struct px_keyring *keyring, const char *files_root,
                   const char *org_id, const char *run_id, bool (*stop)(void *), void *stop_ctx,
                   struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT r.graph, x.pipeline_id FROM runs x JOIN pipeline_revisions r"
                            " ON r.org_id = x.org_id AND r.pipeline_id = x.pipeline_id"
                            " AND r.revision = x.revision WHERE x.org_id = ? AND x.id = ?",
                            PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(run_id)), 2, &rows, err);
    if (rc)
        return rc;
    struct json_object *graph = NULL;
    char pipeline_id[40] = "";
    if ((rc = px_rows_next(rows, err)) == 1) {
        graph = json_tokener_parse(px_rows_text(rows, 0));
        snprintf(pipeline_id, sizeof(pipeline_id), "%s", px_rows_text(rows, 1));
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    if (!graph) {
        struct json_object *e =
            error_json("internal_error",
                       "the run's pipeline revision is "
                       "missing or unreadable",
                       NULL, false, "update the pipeline and trigger it again", NULL);
        rc = finish_run(st, org_id, run_id, "failed", 0, 0, e, NULL, NULL, err);
        json_object_put(e);
        return rc;
    }

    /* File connectors resolve in the organization's own files directory, nowhere else. */
    char org_dir[PATH_MAX];
    if ((rc = px_org_files_dir(st, files_root, org_id, org_dir, sizeof(org_dir), err))) {
        json_object_put(graph);
        struct json_object *e = error_json(px_err_name(-rc), err->message, NULL, false,
                                           err->hint[0] ? err->hint : NULL, files_root);
        rc = finish_run(st, org_id, run_id, "failed", 0, 0, e, NULL, NULL, err);
        json_object_put(e);
        return rc;
    }
    double limit_s = run_timeout_s();
    struct exec_ctx x = {
        .tenant = {.store = st, .keyring = keyring, .org_id = org_id},
        .run_id = run_id,
        .stop = stop,
        .stop_ctx = stop_ctx,
        .deadline_us = px_mono_us() + (int64_t)(limit_s * 1e6),
        .lease = px__run_lease_hold(org_id, run_id),
    };
    pthread_mutex_init(&x.lock, NULL);
    struct json_object *cursors = NULL;
    if ((rc = load_cursors(st, org_id, pipeline_id, &cursors, err))) {
        json_object_put(graph);
        pthread_mutex_destroy(&x.lock);
        px__run_lease_release(x.lease);
        return rc;
    }
    struct px_engine_opts opts = {
        .cursors = cursors,
        .conn = resolve_conn,
        .conn_ctx = &x,
        .files_root = org_dir,
        /* Disk bounds (0 turns one off): the organization's files directory may hold
         * PLANASONIX_ORG_DISK_QUOTA_MB, and one run may write PLANASONIX_RUN_WRITE_MB into it. */
        .files_quota_bytes = (int64_t)env_long("PLANASONIX_ORG_DISK_QUOTA_MB",
                                               ORG_DISK_QUOTA_MB_DEFAULT, 0, 1L << 30)
                             << 20,
        .run_write_limit_bytes =
            (int64_t)env_long("PLANASONIX_RUN_WRITE_MB", RUN_WRITE_MB_DEFAULT, 0, 1L << 30) << 20,
        .now_us = px_now_ms() * 1000,
        .cancelled = exec_cancelled,
        .cancel_ctx = &x,
        .progress = exec_progress,
        .progress_ctx = &x,
        /* PLANASONIX_RUN_MEMORY_MB: the run's memory budget (engine/budget.h), default 512. */
        .memory_budget = (int64_t)env_long("PLANASONIX_RUN_MEMORY_MB", 512, 16, 1L << 22) << 20,
        .stage = exec_stage,
    };
    int max_attempts = env_long("PLANASONIX_RUN_MAX_ATTEMPTS", MAX_ATTEMPTS_DEFAULT, 1, 100);
    int64_t base_ms = env_long("PLANASONIX_RETRY_BASE_MS", RETRY_BASE_MS_DEFAULT, 0, RETRY_CAP_MS);
    int attempt = 1;
    struct px_engine_result res = {0};
    struct px_error e;
    int erc;
    for (;;) {
        px_error_clear(&e);
        memset(&res, 0, sizeof(res));
        erc = (engine_hook ? engine_hook : px_engine_run)(graph, &opts, &res, &e);
        if (!erc || !e.retryable || attempt >= max_attempts || exec_cancelled(&x))
            break;
        int64_t delay_ms = backoff_ms(attempt, base_ms);
        px_info("run %s: attempt %d failed (%s); retrying in %lld ms", run_id, attempt, e.message,
                (long long)delay_ms);
        if (backoff_wait(&x, delay_ms))
            break; /* stopped or timed out while waiting: the outcome below says which */
        px_engine_result_cleanup(&res);
        attempt++;
        if ((rc = px_store_exec(st,
                                "UPDATE runs SET attempt = ?, rows_read = 0, rows_written = 0,"
                                " progress_node = NULL"
                                " WHERE org_id = ? AND id = ? AND status = 'running'"
                                " AND runner = ?",
                                PX_PARAMS(PX_V_INT(attempt), PX_V_TEXT(org_id), PX_V_TEXT(run_id),
                                          PX_V_TEXT(px_run_self())),
                                4, NULL, err))) {
            json_object_put(graph);
            json_object_put(cursors);
            pthread_mutex_destroy(&x.lock);
            px__run_lease_release(x.lease);
            return rc;
        }
    }
    json_object_put(graph);
    json_object_put(cursors);
    pthread_mutex_destroy(&x.lock);
    if (x.lost || px__run_lease_lost(x.lease)) {
        /* Another process recovered the run (its outcome stands); the engine stopped and
         * rolled back what it was writing. */
        px__run_lease_release(x.lease);
        px_engine_result_cleanup(&res);
        return 0;
    }

    struct json_object *ej = NULL;
    const char *status = "succeeded";
    if (erc) {
        status = "failed";
        if (x.stopped) {
            ej = px__runs_interrupted_error();
        } else if (x.timed_out) {
            status = "timed_out";
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "the run exceeded its time limit of %g s (attempt %d) and was stopped",
                     limit_s, attempt);
            ej = error_json("timed_out", msg, res.failed_node, false,
                            "raise PLANASONIX_RUN_TIMEOUT_S (seconds, default 3600) on the "
                            "server, or make the pipeline do less per run",
                            NULL);
        } else {
            char *msg = NULL;
            const char *m = e.message;
            if (e.retryable && attempt > 1) {
                size_t n = strlen(e.message) + 64;
                msg = px_xmalloc(n);
                snprintf(msg, n, "%s (failed %d attempts)", e.message, attempt);
                m = msg;
            }
            ej = error_json(px_err_name(e.code ? e.code : erc), m, res.failed_node, e.retryable,
                            e.hint, org_dir);
            free(msg);
        }
    }
    if (!erc && res.cursors) {
        /* The new positions commit with the success, or not at all. */
        if (!(rc = px_store_begin(st, err))) {
            bool recorded = false;
            rc = finish_run(st, org_id, run_id, status, res.rows_read, res.rows_written, ej,
                            res.nodes, &recorded, err);
            if (!rc && recorded)
                rc = store_cursors(st, org_id, pipeline_id, run_id, res.cursors, err);
            rc = px_store_finish(st, rc, err);
        }
    } else {
        rc = finish_run(st, org_id, run_id, status, res.rows_read, res.rows_written, ej, res.nodes,
                        NULL, err);
    }
    px__run_lease_release(x.lease);
    json_object_put(ej);
    px_engine_result_cleanup(&res);
    return rc;
}
