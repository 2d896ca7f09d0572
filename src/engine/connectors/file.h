/*
 * Private to the file connectors and the engine parts that open their files: csv.c (CSV
 * source), jsonl.c (JSON Lines source), file.c (the file destinations they share), sqlite.c,
 * fsroot.c (the one path resolution beneath the organization's files directory, and the disk
 * bounds), and the executor and probes that call them.
 */
#ifndef PX_ENGINE_CONN_FILE_H
#define PX_ENGINE_CONN_FILE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine/batch.h"

struct px_node_ctx;
struct px_batch;
struct px_error;
struct px_engine_opts;
struct px_file_target;

#define PX_FILE_MAX_LINE (1u << 20) /* bytes per CSV record or JSONL line */

/* The destinations (engine/connectors/file.c): CSV and JSON Lines writers behind one state. */
int px__csvdst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__jsonldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__filedst_write(void *state, const struct px_batch *b, struct px_error *err);
int px__filedst_commit(void *state, struct px_error *err);
void px__filedst_close(void *state);
/* Sources, before reading t: rolls back an append journal a dead writer left on it. */
void px__filesrc_recover(const struct px_file_target *t);

/* What one run has written into its files directory (the file destinations charge it, see
 * px__files_charge), shared by the run's nodes. */
struct px_files_usage {
    _Atomic long long written;       /* bytes the run's file destinations wrote */
    _Atomic long long used_at_start; /* the files directory's size when first needed; -1 before */
};

/* The one path resolution of the file connectors (csv, jsonl, sqlite), used by runs and by
 * test_connection alike. params.path (+ config.file) is resolved beneath opts->files_root (the
 * organization's files directory) without following links (engine/connectors/fsroot.h). The path
 * names a directory when it ends in '/', is ".", is an existing directory, config.file is given, or
 * (csv, jsonl: ext is not "db") it does not exist and its last name has no extension:
 * the file is then config.file in it, or, for a destination without config.file,
 * "<node id>.<ext>" (the naming rule). A destination's missing directories are created (runs)
 * or must be creatable (probes: dir_missing, dirfd is the nearest existing directory above). */
enum px_file_role {
    PX_FILE_SOURCE,       /* must name an existing directory and a file in it */
    PX_FILE_DEST,         /* creates missing directories */
    PX_FILE_PROBE_SOURCE, /* may name a directory (name empty) */
    PX_FILE_PROBE_DEST,   /* creates nothing */
};
struct px_file_target {
    int rootfd;         /* the files directory (owned) */
    int dirfd;          /* the file's directory beneath it (owned) */
    char name[256];     /* the file's name in dirfd; "" for a probed source directory */
    char dirrel[4096];  /* the directory, relative to the files directory ("" = itself) */
    char rel[4352];     /* the file, relative to the files directory, for messages */
    bool named_by_rule; /* name is "<node id>.<ext>" */
    bool dir_missing;   /* probes: the directory does not exist yet */
};
int px__files_target(const struct px_node_ctx *ctx, enum px_file_role role, const char *ext,
                     struct px_file_target *t, struct px_error *err);
void px__files_target_close(struct px_file_target *t);
/* Opens t's file (flags | O_NOFOLLOW; only regular files): an fd, or negative with err set. */
int px__files_open(const struct px_file_target *t, int flags, unsigned mode, struct px_error *err);

/* Charges bytes a file destination is about to write (or has grown a database by) against the
 * run's cap (opts->run_write_limit_bytes) and the organization's quota
 * (opts->files_quota_bytes, against the directory's size when the run first wrote); a charge
 * that would pass either fails with -PX_ETOOLARGE naming the setting, before the bytes land. */
int px__files_charge(const struct px_engine_opts *opts, struct px_files_usage *u, long long bytes,
                     struct px_error *err);

/* Opens t's SQLite database through its directory fd (engine/connectors/sqlite.c: the "px-beneath"
 * VFS), refusing links; t->dirfd must stay open while the database is. */
struct sqlite3;
int px__sqlite_open(const struct px_file_target *t, int flags, struct sqlite3 **out,
                    struct px_error *err);

/* The engine type the SQLite source gives a column's declared type (INT → int, BOOL → bool,
 * TIMESTAMP/DATE → timestamp, CHAR/TEXT/CLOB → string, REAL/FLOA/DOUB/NUMERIC/DECIMAL → float),
 * or -1: the source then types the column from its values (sqlite.c; the describer uses it too). */
int px__sqlite_decl_type(const char *decl);

/* The database walls of a SQLite source connection opened read-only (engine/connectors/sqlite.c):
 * PRAGMA query_only, defensive mode, no extension loading or ATTACH, an untrusted schema and an
 * authorizer that allows only reads. 0 or a negative code with err set. */
struct sqlite3;
int px__sqlite_read_only(struct sqlite3 *db, struct px_error *err);

/* The probe callbacks of the file connectors (csv, jsonl) and of SQLite (engine/probe.c). */
int px__probe_files(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                    size_t version_size, struct px_error *err);
int px__probe_sqlite(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                     size_t version_size, struct px_error *err);

#endif
