/* Runs of pipelines: who owns a run. This process's runner token, claiming a queued run,
 * recovery of runs a dead (or stopping) process left behind, and the worker pool that claims
 * queued runs and executes them (px_run_execute, runs_exec.c). See runs.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "service/runs_int.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_S 2
#define FAST_POLL_US 3000000

/* ---- process identity ------------------------------------------------------------------- */

/* The start time of a process in clock ticks since boot (/proc/PID/stat field 22), or 0. */
static unsigned long long proc_start_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p)
        return 0;
    p++;
    /* Fields after the name start at 3 (state); the start time is field 22. */
    for (int field = 2; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static char self_token[64];
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_init(void)
{
    snprintf(self_token, sizeof(self_token), "%ld:%llu", (long)getpid(),
             proc_start_ticks((long)getpid()));
}

const char *px_run_self(void)
{
    pthread_once(&self_once, self_init);
    return self_token;
}

/* Whether the process named by a runner token is alive. */
static bool runner_alive(const char *token)
{
    if (!token)
        return false;
    if (strcmp(token, px_run_self()) == 0)
        return true;
    char *end;
    long pid = strtol(token, &end, 10);
    if (pid <= 0 || *end != ':')
        return false;
    unsigned long long ticks = strtoull(end + 1, NULL, 10);
    unsigned long long now = proc_start_ticks(pid);
    return now != 0 && now == ticks;
}

/* ---- claiming and recovery -------------------------------------------------------------- */

int px_run_claim(struct px_store *st, char org_id[40], char run_id[40], struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT org_id, id FROM runs WHERE status = 'queued'"
                            " ORDER BY queued_at, id LIMIT 8",
                            NULL, 0, &rows, err);
    if (rc)
        return rc;
    char cand[8][2][40];
    int n = 0;
    while (n < 8 && (rc = px_rows_next(rows, err)) == 1) {
        snprintf(cand[n][0], 40, "%s", px_rows_text(rows, 0));
        snprintf(cand[n][1], 40, "%s", px_rows_text(rows, 1));
        n++;
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        int64_t changed = 0;
        rc = px_store_exec(st,
                           "UPDATE runs SET status = 'running', started_at = ?, runner = ?"
                           " WHERE org_id = ? AND id = ? AND status = 'queued'",
                           PX_PARAMS(PX_V_INT(px_now_ms()), PX_V_TEXT(px_run_self()),
                                     PX_V_TEXT(cand[i][0]), PX_V_TEXT(cand[i][1])),
                           4, &changed, err);
        if (rc)
            return rc;
        if (changed == 1) {
            memcpy(org_id, cand[i][0], 40);
            memcpy(run_id, cand[i][1], 40);
            return 1;
        }
    }
    return 0;
}

int px_runs_recover(struct px_store *st, bool include_self, int *count, struct px_error *err)
{
    if (count)
        *count = 0;
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT org_id, id, runner FROM runs"
                            " WHERE status IN ('queued', 'running')",
                            NULL, 0, &rows, err);
    if (rc)
        return rc;
    struct json_object *dead = json_object_new_array();
    while ((rc = px_rows_next(rows, err)) == 1) {
        const char *runner = px_rows_text(rows, 2);
        bool mine = runner && strcmp(runner, px_run_self()) == 0;
        if (mine ? !include_self : runner_alive(runner))
            continue;
        struct json_object *pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(px_rows_text(rows, 0)));
        json_object_array_add(pair, json_object_new_string(px_rows_text(rows, 1)));
        json_object_array_add(dead, pair);
    }
    px_rows_free(rows);
    struct json_object *e = px__runs_interrupted_error();
    size_t n = json_object_array_length(dead);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(dead, i);
        int64_t changed = 0, now = px_now_ms();
        rc = px_store_exec(
            st,
            "UPDATE runs SET status = 'failed', finished_at = ?,"
            " started_at = coalesce(started_at, ?), error = ?, runner = NULL"
            " WHERE org_id = ? AND id = ? AND status IN ('queued', 'running')",
            PX_PARAMS(PX_V_INT(now), PX_V_INT(now), PX_V_TEXT(px_json_str(e)),
                      PX_V_TEXT(json_object_get_string(json_object_array_get_idx(pair, 0))),
                      PX_V_TEXT(json_object_get_string(json_object_array_get_idx(pair, 1)))),
            5, &changed, err);
        if (rc >= 0 && count)
            *count += (int)changed;
    }
    json_object_put(e);
    json_object_put(dead);
    return rc < 0 ? rc : 0;
}

/* ---- worker pool ------------------------------------------------------------------------ */

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static unsigned long wake_seq;

static _Atomic int64_t last_wake_us;

void px_run_workers_wake(void)
{
    atomic_store(&last_wake_us, px_mono_us());
    pthread_mutex_lock(&wake_lock);
    wake_seq++;
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
}

struct px_run_workers {
    const struct px_keyring *keyring;
    char *files_root;
    char *store_url;
    atomic_bool stop;
    atomic_int running; /* worker threads not yet returned */
    int n;              /* threads started */
    int nstores;        /* store handles (one per thread) */
    pthread_t *threads;
    struct px_store **stores;
};

struct worker_arg {
    struct px_run_workers *w;
    int index;
};

static bool worker_stopping(void *ctx)
{
    struct px_run_workers *w = ctx;
    return atomic_load(&w->stop);
}

static void *worker_main(void *arg)
{
    struct px_run_workers *w = ((struct worker_arg *)arg)->w;
    struct px_store *st = w->stores[((struct worker_arg *)arg)->index];
    free(arg);
    while (!atomic_load(&w->stop)) {
        pthread_mutex_lock(&wake_lock);
        unsigned long seen = wake_seq;
        pthread_mutex_unlock(&wake_lock);
        char org[40], run[40];
        struct px_error err;
        int rc = px_run_claim(st, org, run, &err);
        if (rc == 1) {
            if (px_run_execute(st, w->keyring, w->files_root, org, run, worker_stopping, w, &err))
                px_warn("run %s: recording the outcome failed: %s", run, err.message);
            continue;
        }
        if (rc < 0)
            px_warn("run workers: %s", err.message);
        /* Idle: wait for a trigger, or poll for runs other processes queued: every 100 ms
         * for a while after a wake (the trigger's transaction may not have committed yet),
         * else every second. */
        struct timespec until = px_deadline_in_ms(
            px_mono_us() - atomic_load(&last_wake_us) < FAST_POLL_US ? 100 : 1000);
        pthread_mutex_lock(&wake_lock);
        while (wake_seq == seen && !atomic_load(&w->stop)) {
            if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&wake_lock);
    }
    pthread_mutex_lock(&wake_lock);
    atomic_fetch_sub(&w->running, 1);
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
    return NULL;
}

static int default_workers(void)
{
    const char *env = getenv("PLANASONIX_WORKERS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v >= 1 && v <= 64)
            return (int)v;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
}

int px_run_workers_start(const char *store_url, const struct px_keyring *keyring,
                         const char *files_root, int n, struct px_run_workers **out,
                         struct px_error *err)
{
    *out = NULL;
    if (n <= 0)
        n = default_workers();
    struct px_run_workers *w = px_xcalloc(1, sizeof(*w));
    w->keyring = keyring;
    w->files_root = px_xstrdup(files_root);
    w->store_url = px_xstrdup(store_url);
    atomic_init(&w->stop, false);
    atomic_init(&w->running, 0);
    w->stores = px_xcalloc((size_t)n, sizeof(*w->stores));
    w->threads = px_xcalloc((size_t)n, sizeof(*w->threads));
    int rc = 0;
    w->nstores = n;
    for (int i = 0; !rc && i < n; i++)
        rc = px_store_open(store_url, &w->stores[i], err);
    int recovered = 0;
    if (!rc)
        rc = px_runs_recover(w->stores[0], false, &recovered, err);
    if (rc) {
        for (int i = 0; i < n; i++)
            px_store_close(w->stores[i]);
        free(w->stores);
        free(w->threads);
        free(w->files_root);
        free(w->store_url);
        free(w);
        return rc;
    }
    if (recovered)
        px_info("runs: marked %d run(s) interrupted by an earlier stop as failed", recovered);
    for (int i = 0; i < n; i++) {
        struct worker_arg *a = px_xmalloc(sizeof(*a));
        *a = (struct worker_arg){.w = w, .index = i};
        atomic_fetch_add(&w->running, 1);
        if (pthread_create(&w->threads[i], NULL, worker_main, a) != 0) {
            atomic_fetch_sub(&w->running, 1);
            free(a);
            px_warn("runs: could only start %d worker thread(s)", i);
            break;
        }
        w->n = i + 1;
    }
    *out = w;
    return 0;
}

void px_run_workers_stop(struct px_run_workers *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    px_run_workers_wake();
    /* Running runs see the stop between batches; a worker stuck in a slow call (a connect
     * that has not timed out yet) is not waited for past the grace period. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_GRACE_S;
    pthread_mutex_lock(&wake_lock);
    while (atomic_load(&w->running) > 0) {
        if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&wake_lock);
    bool all_done = atomic_load(&w->running) == 0;
    struct px_error err;
    int count = 0;
    /* Own handle: the workers' handles may still be in use. */
    struct px_store *st = NULL;
    if (px_store_open(w->store_url, &st, &err) == 0 &&
        px_runs_recover(st, true, &count, &err) == 0) {
        if (count)
            px_info("runs: %d unfinished run(s) marked interrupted", count);
    } else {
        px_warn("runs: marking unfinished runs interrupted failed: %s", err.message);
    }
    px_store_close(st);
    if (!all_done) {
        /* The process is exiting: leave the stuck threads (and what they use) alone. */
        px_warn("runs: %d worker(s) still busy at shutdown; their runs are marked interrupted",
                (int)atomic_load(&w->running));
        for (int i = 0; i < w->n; i++)
            pthread_detach(w->threads[i]);
        return;
    }
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    for (int i = 0; i < w->nstores; i++)
        px_store_close(w->stores[i]);
    free(w->stores);
    free(w->threads);
    free(w->files_root);
    free(w->store_url);
    free(w);
}
