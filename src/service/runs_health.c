/* Runs of pipelines: get_pipeline_health over a window (counts, error rate, duration
 * percentiles, freshness against the pipeline's SLA). See px_run_health in runs.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- health ----------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static int64_t percentile(const int64_t *v, size_t n, int pct)
{
    size_t rank = (size_t)((pct * n + 99) / 100);
    return v[rank ? rank - 1 : 0];
}

static int64_t window_ms(const char *w)
{
    if (!w)
        return 7LL * 86400000;
    char *end;
    long n = strtol(w, &end, 10);
    if (n <= 0 || n > 9999)
        return -1;
    if (strcmp(end, "h") == 0)
        return n * 3600000LL;
    if (strcmp(end, "d") == 0)
        return n * 86400000LL;
    return -1;
}

static void reason(struct json_object *arr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason(struct json_object *arr, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_object_array_add(arr, json_object_new_string(buf));
}

/* "90 minutes", "26 hours", "2 days": a duration in minutes, for SLA reasons. */
static void minutes_text(int64_t m, char *out, size_t size)
{
    if (m % 1440 == 0 && m >= 1440)
        snprintf(out, size, "%lld day%s", (long long)(m / 1440), m == 1440 ? "" : "s");
    else if (m % 60 == 0 && m >= 60)
        snprintf(out, size, "%lld hour%s", (long long)(m / 60), m == 60 ? "" : "s");
    else
        snprintf(out, size, "%lld minute%s", (long long)m, m == 1 ? "" : "s");
}

/* What the health of one pipeline is computed from: its runs in the window and its freshness. */
struct health {
    int64_t now;
    int64_t total, ok, bad, other, processed;
    int64_t *durations; /* of finished runs, ms; owned */
    size_t nd, cap;
    char last_status[16]; /* of the latest finished run */
    int64_t last_ok;      /* finished_at of the latest success ever, 0 when none */
    int64_t sla_min;      /* the freshness SLA, <= 0 when none */
};

/* Counts the runs queued since `since` by outcome, with their durations and rows. */
static int read_runs(const struct px_tenant *t, const char *pipeline_id, int64_t since,
                     struct health *h, struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(
        t->store,
        "SELECT status, started_at, finished_at, rows_written FROM runs"
        " WHERE org_id = ? AND pipeline_id = ? AND queued_at >= ?"
        " ORDER BY queued_at, id",
        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_INT(since)), 3, &rows, err);
    if (rc)
        return rc;
    while ((rc = px_rows_next(rows, err)) == 1) {
        const char *st = px_rows_text(rows, 0);
        h->total++;
        if (strcmp(st, "succeeded") == 0)
            h->ok++;
        else if (strcmp(st, "failed") == 0 || strcmp(st, "timed_out") == 0)
            h->bad++;
        else
            h->other++;
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "timed_out") == 0)
            snprintf(h->last_status, sizeof(h->last_status), "%s", st);
        h->processed += px_rows_int(rows, 3);
        if (!px_rows_is_null(rows, 1) && !px_rows_is_null(rows, 2) && strcmp(st, "running") != 0) {
            if (h->nd == h->cap) {
                h->cap = h->cap ? h->cap * 2 : 64;
                h->durations = px_xrealloc(h->durations, h->cap * sizeof(*h->durations));
            }
            int64_t d = px_rows_int(rows, 2) - px_rows_int(rows, 1);
            h->durations[h->nd++] = d < 0 ? 0 : d;
        }
    }
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

/* The latest success ever and the pipeline's freshness SLA. */
static int read_freshness(const struct px_tenant *t, const char *pipeline_id, struct health *h,
                          struct px_error *err)
{
    int found = px_store_query_int(t->store,
                                   "SELECT max(finished_at) FROM runs WHERE org_id = ? AND"
                                   " pipeline_id = ? AND status = 'succeeded'",
                                   PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)), 2,
                                   &h->last_ok, err);
    if (found < 0)
        return found;
    if (found != 1)
        h->last_ok = 0;
    int has_sla = px_store_query_int(t->store,
                                     "SELECT freshness_sla_minutes FROM pipelines"
                                     " WHERE org_id = ? AND id = ?"
                                     " AND freshness_sla_minutes IS NOT NULL",
                                     PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)), 2,
                                     &h->sla_min, err);
    if (has_sla < 0)
        return has_sla;
    if (has_sla != 1)
        h->sla_min = 0;
    return 0;
}

/* {status: met | at_risk | breached | unknown, reasons: [...]} against the freshness SLA. */
static struct json_object *sla_json(const struct health *h)
{
    struct json_object *sla = json_object_new_object(), *reasons = json_object_new_array();
    const char *status;
    char limit_text[48];
    minutes_text(h->sla_min, limit_text, sizeof(limit_text));
    int64_t lag_s = h->last_ok > 0 ? (h->now - h->last_ok) / 1000 : -1;
    if (h->sla_min <= 0) {
        status = "unknown";
        reason(reasons, "the pipeline has no freshness SLA, so there is nothing to measure "
                        "against");
    } else if (h->last_ok <= 0) {
        status = "breached";
        reason(reasons, "no run has succeeded yet; the SLA asks for a success within %s",
               limit_text);
    } else {
        int64_t lag_min = lag_s / 60;
        if (lag_s > h->sla_min * 60) {
            status = "breached";
            reason(reasons, "the last success was %lld minutes ago, beyond the %s SLA",
                   (long long)lag_min, limit_text);
        } else if (lag_s * 10 > h->sla_min * 60 * 8) {
            status = "at_risk";
            reason(reasons, "the last success was %lld minutes ago, over 80%% of the %s SLA",
                   (long long)lag_min, limit_text);
        } else {
            status = "met";
        }
        if (strcmp(h->last_status, "failed") == 0 || strcmp(h->last_status, "timed_out") == 0) {
            if (strcmp(status, "met") == 0)
                status = "at_risk";
            reason(reasons, "the latest finished run failed");
        }
        if (strcmp(status, "met") == 0)
            reason(reasons, "the last success was %lld minutes ago, within the %s SLA",
                   (long long)lag_min, limit_text);
    }
    px_json_set_str(sla, "status", status);
    px_json_set(sla, "reasons", reasons);
    return sla;
}

/* The get_pipeline_health result (sorts h->durations). */
static struct json_object *health_json(const char *pipeline_id, const char *window,
                                       struct health *h)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "pipeline_id", pipeline_id);
    px_json_set_str(o, "window", window ? window : "7d");
    struct json_object *counts = json_object_new_object();
    px_json_set_int(counts, "total", h->total);
    px_json_set_int(counts, "succeeded", h->ok);
    px_json_set_int(counts, "failed", h->bad);
    px_json_set_int(counts, "other", h->other);
    px_json_set(o, "runs", counts);
    px_json_set(o, "error_rate",
                h->ok + h->bad ? json_object_new_double((double)h->bad / (double)(h->ok + h->bad))
                               : NULL);
    struct json_object *dur = json_object_new_object();
    if (h->nd) {
        qsort(h->durations, h->nd, sizeof(*h->durations), cmp_i64);
        px_json_set_int(dur, "p50", percentile(h->durations, h->nd, 50));
        px_json_set_int(dur, "p95", percentile(h->durations, h->nd, 95));
    } else {
        px_json_set(dur, "p50", NULL);
        px_json_set(dur, "p95", NULL);
    }
    px_json_set(o, "duration_ms", dur);
    px_json_set_int(o, "rows_processed", h->processed);
    if (h->last_ok > 0) {
        int64_t lag_s = (h->now - h->last_ok) / 1000;
        px_json_set_time(o, "last_success_at", h->last_ok);
        px_json_set_int(o, "freshness_lag_seconds", lag_s < 0 ? 0 : lag_s);
    } else {
        px_json_set(o, "last_success_at", NULL);
        px_json_set(o, "freshness_lag_seconds", NULL);
    }
    px_json_set(o, "sla", sla_json(h));
    return o;
}

int px_run_health(const struct px_tenant *t, const char *pipeline_id, const char *window,
                  struct json_object **out, struct px_error *err)
{
    int rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    int64_t span = window_ms(window);
    if (span < 0) {
        rc = px_error_set(err, PX_EINVALID,
                          "window must be a number of hours or days such as "
                          "\"24h\" or \"7d\"");
        px_error_field(err, "window");
        return rc;
    }
    struct health h = {.now = px_now_ms()};
    rc = read_runs(t, pipeline_id, h.now - span, &h, err);
    if (rc == 0)
        rc = read_freshness(t, pipeline_id, &h, err);
    if (rc == 0)
        *out = health_json(pipeline_id, window, &h);
    free(h.durations);
    return rc;
}
