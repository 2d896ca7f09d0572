/* Process configuration and wiring: see config.h. */
#include "app/config.h"
#include "transport/env.h"

#include "auth/ratelimit.h"
#include "base/err.h"
#include "base/log.h"
#include "auth/audit.h"
#include "service/schedule_loop.h"
#include "service/orgs.h"
#include "service/connections.h"
#include "service/runs.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int mkdirs(const char *path, struct px_error *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return px_error_set(err, PX_EIO, "cannot create directory %s: %s", tmp,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return px_error_set(err, PX_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
    return 0;
}

static int resolve_home(char *out, size_t size, struct px_error *err)
{
    const char *home = getenv("PLANASONIX_HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *user = getenv("HOME");
    int n;
    if (home && *home)
        n = snprintf(out, size, "%s", home);
    else if (xdg && *xdg)
        n = snprintf(out, size, "%s/planasonix", xdg);
    else if (user && *user)
        n = snprintf(out, size, "%s/.local/share/planasonix", user);
    else
        return px_error_set(err, PX_EINVALID, "no data directory: set PLANASONIX_HOME (or HOME)");
    if (n < 0 || (size_t)n >= size)
        return px_error_set(err, PX_EINVALID, "the data directory path is too long");
    return 0;
}

int px_app_open(struct px_app *app, struct px_error *err)
{
    memset(app, 0, sizeof(*app));
    const char *level = getenv("PLANASONIX_LOG");
    if (level && px_log_level_parse(level) >= 0)
        px_log_set_level((enum px_log_level)px_log_level_parse(level));
    int rc = resolve_home(app->home, sizeof(app->home), err);
    if (!rc)
        rc = mkdirs(app->home, err);
    if (rc)
        return rc;
    const char *db = getenv("DATABASE_URL");
    if (db && *db)
        snprintf(app->store_url, sizeof(app->store_url), "%s", db);
    else if (snprintf(app->store_url, sizeof(app->store_url), "%s/planasonix.db", app->home) >=
             (int)sizeof(app->store_url))
        return px_error_set(err, PX_EINVALID, "the data directory path is too long");
    const char *root = getenv("PLANASONIX_FILES_ROOT");
    int n = root && *root
                ? snprintf(app->files_root, sizeof(app->files_root), "%s", root)
                : snprintf(app->files_root, sizeof(app->files_root), "%s/files", app->home);
    if (n < 0 || (size_t)n >= sizeof(app->files_root))
        return px_error_set(err, PX_EINVALID, "the files root path is too long");
    if ((rc = px_keyring_load(app->home, &app->keyring, err)))
        return rc;
    if ((rc = px_store_open(app->store_url, &app->store, err))) {
        px_keyring_wipe(&app->keyring);
        return rc;
    }
    int sealed = 0;
    if ((rc = px_connection_seal_clear(app->store, &app->keyring, &sealed, err))) {
        px_store_close(app->store);
        px_keyring_wipe(&app->keyring);
        return rc;
    }
    if (sealed > 0)
        px_log(PX_LOG_INFO, "sealed the clear-text secrets of %d connection(s)", sealed);
    app->rl = px_ratelimit_create();
    app->audit = px_audit_create();
    return 0;
}

int px_app_start_workers(struct px_app *app, struct px_error *err)
{
    if (app->workers)
        return 0;
    int rc = mkdirs(app->files_root, err);
    if (!rc) /* appends and replaces a crash interrupted, before any run writes again */
        px_org_files_recover(app->store, app->files_root);
    if (!rc)
        rc = px_run_workers_start(app->store_url, &app->keyring, app->files_root, 0, &app->workers,
                                  err);
    const char *sched = getenv("PLANASONIX_SCHEDULER");
    if (!rc && !(sched && strcmp(sched, "off") == 0))
        rc = px_scheduler_start(app->store_url, px_run_self(), px_run_workers_wake, &app->scheduler,
                                err);
    return rc;
}

void px_app_close(struct px_app *app)
{
    px_scheduler_stop(app->scheduler);
    app->scheduler = NULL;
    px_run_workers_stop(app->workers);
    app->workers = NULL;
    if (app->audit) {
        px_audit_flush(app->audit, app->store);
        px_audit_destroy(app->audit);
    }
    px_ratelimit_destroy(app->rl);
    px_store_close(app->store);
    px_keyring_wipe(&app->keyring);
    memset(app, 0, sizeof(*app));
}

static int start_workers(void *ctx, struct px_error *err)
{
    return px_app_start_workers(ctx, err);
}

void px_app_transport_env(struct px_app *app, struct px_transport_env *env)
{
    *env = (struct px_transport_env){.deps = {.store = app->store,
                                              .keyring = &app->keyring,
                                              .rl = app->rl,
                                              .audit = app->audit,
                                              .files_root = app->files_root},
                                     .store_url = app->store_url,
                                     .start_workers = start_workers,
                                     .start_ctx = app};
}
