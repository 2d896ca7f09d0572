/* Runs of pipelines: who gets a run. Claiming a queued run, recovery of runs whose owner is gone
 * (lease expired) or stopping, and the worker pool that claims queued runs and executes them
 * (px_run_execute, runs_exec.c), with the heartbeat thread that renews this process's leases
 * (runs_lease.c). See runs.h. */
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
#define ORG_MAX_RUNNING_DEFAULT 2
#define ORG_MAX_RUNNING_MAX 1000
/* Organizations looked at per claim: those at their limit are skipped in SQL order, so this
 * only bounds the work of one claim; the others get their turn on the next. */
#define CLAIM_ORGS 32
#define CLAIM_ORGS_STR "32"

/* ---- claiming and recovery -------------------------------------------------------------- */

int px_run_org_max_running(void)
{
    const char *v = getenv("PLANASONIX_ORG_MAX_RUNNING");
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*end && n >= 1 && n <= ORG_MAX_RUNNING_MAX)
            return (int)n;
    }
    return ORG_MAX_RUNNING_DEFAULT;
}

/* Claims the oldest queued run of one organization, unless that organization already has
 * max_running runs running (checked in the same statement, so concurrent claims by other
 * workers and processes cannot pass the limit: SQLite runs the UPDATE under its write lock).
 * The claim and the organization's new turn commit together. 1 claimed, 0 not. */
static int claim_in_org(struct px_store *st, const char *org_id, int max_running, char run_id[40],
                        struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT id FROM runs WHERE org_id = ? AND status = 'queued'"
                            " ORDER BY queued_at, id LIMIT 4",
                            PX_PARAMS(PX_V_TEXT(org_id)), 1, &rows, err);
    if (rc)
        return rc;
    char cand[4][40];
    int n = 0;
    while (n < 4 && (rc = px_rows_next(rows, err)) == 1)
        snprintf(cand[n++], 40, "%s", px_rows_text(rows, 0));
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        if ((rc = px_store_begin(st, err)))
            return rc;
        int64_t changed = 0, now = px_now_ms();
        rc = px_store_exec(st,
                           "UPDATE runs SET status = 'running', started_at = ?, runner = ?,"
                           " lease_until = ? WHERE org_id = ? AND id = ? AND status = 'queued'"
                           " AND (SELECT count(*) FROM runs r WHERE r.org_id = ?"
                           " AND r.status = 'running') < ?",
                           PX_PARAMS(PX_V_INT(now), PX_V_TEXT(px_run_self()),
                                     PX_V_INT(now + px_run_lease_ms()), PX_V_TEXT(org_id),
                                     PX_V_TEXT(cand[i]), PX_V_TEXT(org_id), PX_V_INT(max_running)),
                           7, &changed, err);
        if (!rc && changed == 1)
            rc = px_store_exec(st,
                               "INSERT INTO run_turns (org_id, last_turn) VALUES (?,"
                               " (SELECT coalesce(max(last_turn), 0) + 1 FROM run_turns))"
                               " ON CONFLICT (org_id) DO UPDATE SET last_turn = excluded.last_turn",
                               PX_PARAMS(PX_V_TEXT(org_id)), 1, NULL, err);
        if ((rc = px_store_finish(st, rc, err)))
            return rc;
        if (changed == 1) {
            memcpy(run_id, cand[i], 40);
            return 1;
        }
        /* Claimed by someone else meanwhile, or the organization reached its limit. */
        int64_t running = 0;
        if ((rc = px_store_query_int(st,
                                     "SELECT count(*) FROM runs WHERE org_id = ?"
                                     " AND status = 'running'",
                                     PX_PARAMS(PX_V_TEXT(org_id)), 1, &running, err)) < 0)
            return rc;
        if (running >= max_running)
            return 0;
    }
    return 0;
}

int px_run_claim(struct px_store *st, char org_id[40], char run_id[40], struct px_error *err)
{
    /* Organizations with queued runs, least recently served first (round robin), each with
     * its running count; then the oldest queued run of the first one under its limit. */
    int max_running = px_run_org_max_running();
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT q.org_id, coalesce(t.last_turn, 0) AS turn,"
                            " (SELECT count(*) FROM runs r WHERE r.org_id = q.org_id"
                            " AND r.status = 'running') AS running, min(q.queued_at) AS oldest"
                            " FROM runs q LEFT JOIN run_turns t ON t.org_id = q.org_id"
                            " WHERE q.status = 'queued' GROUP BY q.org_id, t.last_turn"
                            " ORDER BY turn, oldest, q.org_id LIMIT " CLAIM_ORGS_STR,
                            NULL, 0, &rows, err);
    if (rc)
        return rc;
    char orgs[CLAIM_ORGS][40];
    int n = 0;
    while (n < CLAIM_ORGS && (rc = px_rows_next(rows, err)) == 1) {
        if (px_rows_int(rows, 2) < max_running)
            snprintf(orgs[n++], 40, "%s", px_rows_text(rows, 0));
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        rc = claim_in_org(st, orgs[i], max_running, run_id, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            memcpy(org_id, orgs[i], 40);
            return 1;
        }
    }
    return 0;
}

int px_runs_recover(struct px_store *st, bool include_self, int *count, struct px_error *err)
{
    if (count)
        *count = 0;
    struct json_object *e = px__runs_interrupted_error();
    int64_t changed = 0, now = px_now_ms();
    /* Another process's run only once its lease has expired (a live owner renews it); this
     * process's own runs only when it is stopping (include_self). Queued runs belong to no
     * one: whichever process's workers come next claim them. */
    int rc = px_store_exec(
        st,
        include_self
            ? "UPDATE runs SET status = 'failed', finished_at = ?,"
              " started_at = coalesce(started_at, ?), error = ?, runner = NULL,"
              " lease_until = NULL, progress_node = NULL WHERE status = 'running' AND (runner = ?"
              " OR runner IS NULL OR coalesce(lease_until, 0) < ?)"
            : "UPDATE runs SET status = 'failed', finished_at = ?,"
              " started_at = coalesce(started_at, ?), error = ?, runner = NULL,"
              " lease_until = NULL, progress_node = NULL WHERE status = 'running' AND (runner IS "
              "NULL OR runner <> ?)"
              " AND coalesce(lease_until, 0) < ?",
        PX_PARAMS(PX_V_INT(now), PX_V_INT(now), PX_V_TEXT(px_json_str(e)), PX_V_TEXT(px_run_self()),
                  PX_V_INT(now)),
        5, &changed, err);
    json_object_put(e);
    if (rc >= 0 && count)
        *count = (int)changed;
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
    int nstores;        /* store handles: one per worker thread, then the heartbeat's */
    pthread_t *threads;
    struct px_store **stores;
    /* The heartbeat: renews this process's leases every third of the lease and recovers
     * other processes' expired runs once per lease period. */
    pthread_t heartbeat;
    bool heartbeat_started;
    pthread_mutex_t hb_lock;
    pthread_cond_t hb_cond;
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

static void *heartbeat_main(void *arg)
{
    struct px_run_workers *w = arg;
    struct px_store *st = w->stores[w->nstores - 1];
    int64_t lease = px_run_lease_ms();
    int64_t next_recovery = px_mono_us() + lease * 1000;
    pthread_mutex_lock(&w->hb_lock);
    while (!atomic_load(&w->stop)) {
        struct timespec until = px_deadline_in_ms(lease / 3);
        while (!atomic_load(&w->stop)) {
            if (pthread_cond_timedwait(&w->hb_cond, &w->hb_lock, &until) == ETIMEDOUT)
                break;
        }
        if (atomic_load(&w->stop))
            break;
        pthread_mutex_unlock(&w->hb_lock);
        struct px_error err;
        if (px_run_renew_leases(st, NULL, &err))
            px_warn("runs: renewing leases failed: %s", err.message);
        if (px_mono_us() >= next_recovery) {
            next_recovery = px_mono_us() + lease * 1000;
            int n = 0;
            if (px_runs_recover(st, false, &n, &err))
                px_warn("runs: recovering expired runs failed: %s", err.message);
            else if (n)
                px_info("runs: marked %d run(s) whose process is gone (lease expired) as "
                        "interrupted",
                        n);
        }
        pthread_mutex_lock(&w->hb_lock);
    }
    pthread_mutex_unlock(&w->hb_lock);
    return NULL;
}

static void workers_free(struct px_run_workers *w)
{
    for (int i = 0; i < w->nstores; i++)
        px_store_close(w->stores[i]);
    pthread_mutex_destroy(&w->hb_lock);
    pthread_cond_destroy(&w->hb_cond);
    free(w->stores);
    free(w->threads);
    free(w->files_root);
    free(w->store_url);
    free(w);
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
    pthread_mutex_init(&w->hb_lock, NULL);
    pthread_cond_init(&w->hb_cond, NULL);
    w->nstores = n + 1;
    w->stores = px_xcalloc((size_t)w->nstores, sizeof(*w->stores));
    w->threads = px_xcalloc((size_t)n, sizeof(*w->threads));
    int rc = 0;
    for (int i = 0; !rc && i < w->nstores; i++)
        rc = px_store_open(store_url, &w->stores[i], err);
    int recovered = 0;
    if (!rc)
        rc = px_runs_recover(w->stores[0], false, &recovered, err);
    if (rc) {
        workers_free(w);
        return rc;
    }
    if (recovered)
        px_info("runs: marked %d run(s) whose process is gone (lease expired) as interrupted",
                recovered);
    if (pthread_create(&w->heartbeat, NULL, heartbeat_main, w) != 0) {
        workers_free(w);
        return px_error_set(err, PX_EINTERNAL, "could not start the run lease thread");
    }
    w->heartbeat_started = true;
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
    pthread_mutex_lock(&w->hb_lock);
    pthread_cond_broadcast(&w->hb_cond);
    pthread_mutex_unlock(&w->hb_lock);
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
        if (w->heartbeat_started)
            pthread_detach(w->heartbeat);
        return;
    }
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    if (w->heartbeat_started)
        pthread_join(w->heartbeat, NULL);
    workers_free(w);
}
