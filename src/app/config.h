/*
 * Process configuration and wiring: where the data lives (PLANASONIX_HOME, DATABASE_URL),
 * the open store, the keyring and the in-process rate limiter. The only place that knows
 * every module; everything below receives what it needs explicitly.
 */
#ifndef PX_APP_CONFIG_H
#define PX_APP_CONFIG_H

#include "auth/keyring.h"

#include <limits.h>

struct px_error;
struct px_store;
struct px_ratelimit;
struct px_audit;
struct px_run_workers;
struct px_scheduler;
struct px_transport_env;

struct px_app {
    char home[PATH_MAX];            /* data directory */
    char store_url[PATH_MAX];       /* DATABASE_URL or the SQLite file under home */
    struct px_store *store;         /* owned */
    struct px_keyring keyring;      /* wiped on close */
    struct px_ratelimit *rl;        /* owned */
    struct px_audit *audit;         /* owned; flushed on close; thread-safe */
    char files_root[PATH_MAX];      /* PLANASONIX_FILES_ROOT or home/files: the parent of the
                                     * organizations' files directories (service/orgs.h) */
    struct px_run_workers *workers; /* owned; NULL until px_app_start_workers */
    struct px_scheduler *scheduler; /* owned; NULL until px_app_start_workers or when off */
    /* store is for one thread at a time (the CLI, stdio); `serve` opens a pool of handles
     * to store_url instead. The rate limiter, the audit queue and the keyring (read-only)
     * are safe to share between threads. */
};

/* Resolves the data directory, creates it (0700) if needed, opens the store (applying
 * migrations) and loads the keyring. */
int px_app_open(struct px_app *app, struct px_error *err);
/* Stops the scheduler and the run workers (if started), flushes the audit queue, closes everything.
 */
void px_app_close(struct px_app *app);
/* For the MCP transports (stdio, serve): creates the files root (0700), rolls back the file
 * appends and removes the temporary files a crash left in the organizations' files
 * directories (px_org_files_recover), and starts the run
 * worker pool (PLANASONIX_WORKERS threads, default one per core), each thread with its own
 * store handle; runs a dead process left behind are marked failed first. Then starts the
 * scheduler (service/schedule_loop.h), unless PLANASONIX_SCHEDULER=off. */
int px_app_start_workers(struct px_app *app, struct px_error *err);

/* Fills env with what the MCP transports take from app (its services, the store's URL and
 * px_app_start_workers as the hook they call once ready); env borrows from app. */
void px_app_transport_env(struct px_app *app, struct px_transport_env *env);

#endif
