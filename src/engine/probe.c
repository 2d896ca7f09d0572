/* Connection probes (probe.h) and the probe callbacks of the file and SQLite connectors. */
#include "engine/probe.h"

#include "base/clock.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MAX_MS 30000

/* Whether the server may write in t's directory (a destination creates its file, and its
 * missing directories, there). */
static int dir_writable(const struct px_file_target *t, struct px_error *err)
{
    if (faccessat(t->dirfd, ".", W_OK | X_OK, 0) != 0) {
        int rc = px_error_set(err, PX_EIO, "the directory of '%s' is not writable by the server",
                              t->rel);
        px_error_hint(err, "make the directory writable by the server, or choose another path");
        return rc;
    }
    return 0;
}

/* The probes use the runs' own resolution (px__files_target), so both agree on every path. */
int px__probe_files(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                    size_t version_size, struct px_error *err)
{
    (void)timeout_ms;
    (void)version;
    (void)version_size;
    struct px_file_target t;
    int rc =
        px__files_target(ctx, write ? PX_FILE_PROBE_DEST : PX_FILE_PROBE_SOURCE, "csv", &t, err);
    if (rc < 0)
        return rc;
    struct stat st;
    if (t.dir_missing || !t.name[0]) {
        /* A destination directory the run creates, or a source directory (the node names the
         * file). */
        rc = write ? dir_writable(&t, err) : 0;
        if (!write && faccessat(t.dirfd, ".", R_OK | X_OK, 0) != 0) {
            rc = px_error_set(err, PX_EIO, "'%s' is not readable by the server", t.rel);
            px_error_hint(err, "fix the permissions of '%s' in the files directory", t.rel);
        }
    } else if (fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT && write) {
            rc = dir_writable(&t, err); /* the destination creates the file */
        } else if (errno == ENOENT) {
            rc = px_error_set(err, PX_ENOTFOUND, "file '%s' not found in the files directory",
                              t.rel);
            px_error_hint(err, "put the file in your files directory, or update the "
                               "connection's path");
        } else {
            rc = px_error_set(err, PX_EIO, "cannot read '%s': %s", t.rel, strerror(errno));
        }
    } else if (S_ISLNK(st.st_mode)) {
        rc = px_error_set(err, PX_EINVALID,
                          "'%s' is a symbolic link; links are not followed in the files directory",
                          t.rel);
        px_error_hint(err, "give the real path of the file inside your files directory");
    } else if (S_ISDIR(st.st_mode)) {
        rc = px_error_set(err, PX_EINVALID, "'%s' is a directory, not a file", t.rel);
        px_error_hint(err, "name a file, or set the node's config.file");
    } else if (!S_ISREG(st.st_mode)) {
        rc = px_error_set(err, PX_EINVALID, "'%s' is not a regular file", t.rel);
    } else if (faccessat(t.dirfd, t.name, write ? W_OK : R_OK, 0) != 0) {
        rc = px_error_set(err, PX_EIO, "'%s' is not %s by the server", t.rel,
                          write ? "writable" : "readable");
        px_error_hint(err, "fix the permissions of '%s' in the files directory", t.rel);
    }
    px__files_target_close(&t);
    return rc;
}

int px__probe_sqlite(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                     size_t version_size, struct px_error *err)
{
    struct px_file_target t;
    int rc =
        px__files_target(ctx, write ? PX_FILE_PROBE_DEST : PX_FILE_PROBE_SOURCE, "db", &t, err);
    if (rc < 0)
        return rc;
    snprintf(version, version_size, "%s", sqlite3_libversion());
    struct stat st;
    if (!t.name[0]) {
        rc = px_error_set(err, PX_EINVALID, "path '%s' is a directory, not a database file", t.rel);
        px_error_hint(err, "give the path of the database file");
        px__files_target_close(&t);
        return rc;
    }
    if (write && (t.dir_missing ||
                  (fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT))) {
        rc = dir_writable(&t, err); /* the destination creates the file */
        px__files_target_close(&t);
        return rc;
    }
    sqlite3 *db = NULL;
    int flags = (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    rc = px__sqlite_open(&t, flags, &db, err);
    int src = SQLITE_OK;
    if (rc == 0) {
        sqlite3_busy_timeout(db, timeout_ms);
        sqlite3_stmt *q = NULL;
        src = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL);
        if (src == SQLITE_OK) {
            src = sqlite3_step(q);
            if (src == SQLITE_ROW)
                src = SQLITE_OK;
        }
        sqlite3_finalize(q);
    }
    if (rc < 0 || src == SQLITE_OK) {
        sqlite3_close(db);
        px__files_target_close(&t);
        return rc;
    }
    int ext = db ? sqlite3_extended_errcode(db) : src;
    sqlite3_close(db);
    const char *rel = t.rel;
    switch (ext & 0xff) {
    case SQLITE_NOTADB:
        rc = px_error_set(err, PX_EINVALID, "'%s' is not a SQLite database", rel);
        px_error_hint(err, "point the connection at a SQLite database file");
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        rc = px_error_set(err, PX_EIO, "database '%s' stayed locked for %d ms", rel, timeout_ms);
        err->retryable = true;
        px_error_hint(err, "try again when the process holding the lock has finished");
        break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        rc = px_error_set(err, PX_EIO, "cannot open database '%s'%s", rel,
                          write ? " for writing" : "");
        px_error_hint(err, "fix the permissions of '%s' in the files directory", rel);
        break;
    default:
        rc = px_error_set(err, PX_EIO, "database '%s': %s", rel, sqlite3_errstr(ext));
    }
    px__files_target_close(&t);
    return rc;
}

/* Removes every occurrence of root (and the "/" after it) from s, in place. */
static void strip_root(char *s, const char *root)
{
    size_t rn = root ? strlen(root) : 0;
    while (rn > 1 && root[rn - 1] == '/')
        rn--;
    if (rn <= 1)
        return;
    char *w = s;
    for (const char *p = s; *p;) {
        if (strncmp(p, root, rn) == 0) {
            p += rn;
            if (*p == '/')
                p++;
            continue;
        }
        *w++ = *p++;
    }
    *w = '\0';
}

int px_engine_probe(const char *type, const char *category, struct json_object *params,
                    const char *files_root, int timeout_ms, struct px_probe_result *out)
{
    memset(out, 0, sizeof(*out));
    out->latency_ms = -1;
    px_error_clear(&out->error);
    const struct px_connector *c = type ? px__connector_find(type) : NULL;
    if (!c)
        return px_error_set(&out->error, PX_EINVALID, "unknown connection type '%s'",
                            type ? type : "");
    if (!c->probe) {
        px_error_set(&out->error, PX_EUNAVAILABLE,
                     "testing %s connections is not available in this build", c->name);
        px_error_hint(&out->error,
                      "the %s connector ships with a later part of the pipeline "
                      "engine; no connection was attempted",
                      c->name);
        return 0;
    }
    if (timeout_ms <= 0 || timeout_ms > PROBE_TIMEOUT_MAX_MS)
        timeout_ms = PROBE_TIMEOUT_MAX_MS;
    struct json_object *config = json_object_new_object();
    struct px_engine_opts opts = {.files_root = files_root};
    struct px_node_ctx ctx = {
        .node_id = "probe", .config = config, .params = params, .opts = &opts};
    bool write = category && strcmp(category, "destination") == 0;
    int64_t t0 = px_mono_us();
    int rc = c->probe(&ctx, write, timeout_ms, out->server_version, sizeof(out->server_version),
                      &out->error);
    int64_t t1 = px_mono_us();
    json_object_put(config);
    if (rc == 0) {
        out->reachable = true;
        out->latency_ms = (t1 - t0 + 999) / 1000;
        px_error_clear(&out->error);
    } else {
        if (!out->error.code)
            px_error_set(&out->error, -rc, "the connection test failed");
        strip_root(out->error.message, files_root);
        strip_root(out->error.hint, files_root);
        out->error.field[0] = '\0';
    }
    return 0;
}

struct json_object *px_probe_result_json(const char *connection_id, const struct px_probe_result *r)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "connection_id", connection_id);
    px_json_set_bool(o, "reachable", r->reachable);
    if (r->latency_ms >= 0)
        px_json_set_int(o, "latency_ms", r->latency_ms);
    else
        px_json_set(o, "latency_ms", NULL);
    px_json_set_str(o, "server_version", r->server_version[0] ? r->server_version : NULL);
    if (r->reachable || !r->error.code) {
        px_json_set(o, "error", NULL);
        return o;
    }
    struct json_object *e = json_object_new_object();
    px_json_set_str(e, "code", px_err_name(r->error.code));
    px_json_set_str(e, "message", r->error.message);
    px_json_set_str(e, "hint", r->error.hint[0] ? r->error.hint : NULL);
    px_json_set_bool(e, "retryable", r->error.retryable);
    px_json_set(o, "error", e);
    return o;
}
