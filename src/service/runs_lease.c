/* Runs of pipelines: which runs this process owns. Its runner token (px_run_self), the lease
 * period, and the leases of the runs it executes: held by px_run_execute from start to end,
 * renewed by the worker pool's heartbeat (px_run_renew_leases), lost when another process has
 * recovered the run. See runs.h and runs_int.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "service/runs_int.h"
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEASE_MS_DEFAULT 15000
#define LEASE_MS_MIN 300
#define LEASE_MS_MAX 600000

/* ---- process identity ------------------------------------------------------------------- */

static char self_token[64];
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

/* "pid:16 random hex digits": unique per process (a reused pid gets new digits), readable in
 * the store. Liveness is never read from it: a run's owner is alive while it renews the lease. */
static void self_init(void)
{
    unsigned char r[8];
    randombytes_buf(r, sizeof(r));
    int n = snprintf(self_token, sizeof(self_token), "%ld:", (long)getpid());
    for (size_t i = 0; i < sizeof(r) && n > 0; i++)
        n += snprintf(self_token + n, sizeof(self_token) - (size_t)n, "%02x", r[i]);
}

const char *px_run_self(void)
{
    pthread_once(&self_once, self_init);
    return self_token;
}

int64_t px_run_lease_ms(void)
{
    const char *v = getenv("PLANASONIX_RUN_LEASE_MS");
    if (v && *v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (!*end && n >= LEASE_MS_MIN && n <= LEASE_MS_MAX)
            return n;
    }
    return LEASE_MS_DEFAULT;
}

/* ---- leases held by this process -------------------------------------------------------- */

/* The runs this process is executing. The heartbeat renews each one's lease; a renewal that
 * finds the run no longer this process's (recovered by another process after the lease ran
 * out) marks it lost, and the executor stops at its next poll. */
struct px__run_lease {
    char org_id[40], run_id[40];
    atomic_bool lost;
    struct px__run_lease *next;
    /* The latest progress the executor saw; dirty when the store has not got it yet (the
     * executor writes at most every 250 ms, and a pull that blocks right after a throttled
     * update would leave the store behind: the heartbeat writes it with the renewal). */
    pthread_mutex_t progress_lock;
    bool dirty;
    char node[64];
    int64_t rows_read, rows_written;
};

static pthread_mutex_t lease_lock = PTHREAD_MUTEX_INITIALIZER;
static struct px__run_lease *leases;

struct px__run_lease *px__run_lease_hold(const char *org_id, const char *run_id)
{
    struct px__run_lease *l = px_xcalloc(1, sizeof(*l));
    snprintf(l->org_id, sizeof(l->org_id), "%s", org_id);
    snprintf(l->run_id, sizeof(l->run_id), "%s", run_id);
    atomic_init(&l->lost, false);
    pthread_mutex_init(&l->progress_lock, NULL);
    pthread_mutex_lock(&lease_lock);
    l->next = leases;
    leases = l;
    pthread_mutex_unlock(&lease_lock);
    return l;
}

bool px__run_lease_lost(const struct px__run_lease *l)
{
    return l && atomic_load(&l->lost);
}

void px__run_lease_release(struct px__run_lease *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&lease_lock);
    for (struct px__run_lease **pp = &leases; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&lease_lock);
    pthread_mutex_destroy(&l->progress_lock);
    free(l);
}

void px__run_lease_progress(struct px__run_lease *l, const char *node, int64_t rows_read,
                            int64_t rows_written, bool stored)
{
    pthread_mutex_lock(&l->progress_lock);
    snprintf(l->node, sizeof(l->node), "%s", node ? node : "");
    l->rows_read = rows_read;
    l->rows_written = rows_written;
    l->dirty = !stored;
    pthread_mutex_unlock(&l->progress_lock);
}

int px_run_renew_leases(struct px_store *st, int *lost, struct px_error *err)
{
    if (lost)
        *lost = 0;
    int64_t until = px_now_ms() + px_run_lease_ms();
    int rc = 0;
    /* The lock is held across the updates so a lease cannot be released (freed) under us; the
     * executors take it only to hold and release, never while writing to the store. */
    pthread_mutex_lock(&lease_lock);
    for (struct px__run_lease *l = leases; l && !rc; l = l->next) {
        if (atomic_load(&l->lost))
            continue;
        int64_t changed = 0;
        pthread_mutex_lock(&l->progress_lock);
        bool dirty = l->dirty;
        char node[64];
        memcpy(node, l->node, sizeof(node));
        int64_t rows_read = l->rows_read, rows_written = l->rows_written;
        l->dirty = false;
        pthread_mutex_unlock(&l->progress_lock);
        if (dirty)
            rc = px_store_exec(st,
                               "UPDATE runs SET lease_until = ?, rows_read = ?, rows_written = ?,"
                               " progress_node = ? WHERE org_id = ? AND id = ? AND runner = ?"
                               " AND status = 'running'",
                               PX_PARAMS(PX_V_INT(until), PX_V_INT(rows_read),
                                         PX_V_INT(rows_written), PX_V_TEXT(node[0] ? node : NULL),
                                         PX_V_TEXT(l->org_id), PX_V_TEXT(l->run_id),
                                         PX_V_TEXT(px_run_self())),
                               7, &changed, err);
        else
            rc = px_store_exec(st,
                               "UPDATE runs SET lease_until = ? WHERE org_id = ? AND id = ?"
                               " AND runner = ? AND status = 'running'",
                               PX_PARAMS(PX_V_INT(until), PX_V_TEXT(l->org_id),
                                         PX_V_TEXT(l->run_id), PX_V_TEXT(px_run_self())),
                               4, &changed, err);
        if (!rc && changed == 0) {
            /* Ended by this process a moment ago (released next), or taken over. */
            int64_t mine = 0;
            rc = px_store_query_int(
                st,
                "SELECT count(*) FROM runs WHERE org_id = ? AND id = ?"
                " AND runner = ?",
                PX_PARAMS(PX_V_TEXT(l->org_id), PX_V_TEXT(l->run_id), PX_V_TEXT(px_run_self())), 3,
                &mine, err);
            if (rc > 0)
                rc = 0;
            if (!rc && mine == 0) {
                atomic_store(&l->lost, true);
                px_warn("run %s: another process recovered it after its lease expired; this "
                        "process stops executing it",
                        l->run_id);
                if (lost)
                    (*lost)++;
            }
        }
    }
    pthread_mutex_unlock(&lease_lock);
    return rc;
}
