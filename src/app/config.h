/*
 * Process configuration and wiring: where the data lives (PLANASONIX_HOME, DATABASE_URL),
 * the open store, the keyring and the in-process rate limiter. The only place that knows
 * every module; everything below receives what it needs explicitly.
 */
#ifndef PX_APP_CONFIG_H
#define PX_APP_CONFIG_H

#include "auth/keyring.h"

#include <limits.h>
#include <pthread.h>

struct px_error;
struct px_store;
struct px_ratelimit;
struct px_audit;

struct px_app {
    char home[PATH_MAX];       /* data directory */
    char store_url[PATH_MAX];  /* DATABASE_URL or the SQLite file under home */
    struct px_store *store;    /* owned */
    struct px_keyring keyring; /* wiped on close */
    struct px_ratelimit *rl;   /* owned */
    struct px_audit *audit;    /* owned; flushed on close */
    /* Serializes the parts that are not thread-safe: the store handle, the audit queue and
     * every px_mcp_handle call (which uses both). Single-threaded commands never need it;
     * `serve` holds it around each of those uses. The rate limiter has its own lock. */
    pthread_mutex_t lock;
};

/* Resolves the data directory, creates it (0700) if needed, opens the store (applying
 * migrations) and loads the keyring. */
int px_app_open(struct px_app *app, struct px_error *err);
void px_app_close(struct px_app *app);

#endif
