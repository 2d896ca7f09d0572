/*
 * Private interfaces of the executor: the connector and operator tables (style §3.2: one
 * sorted registry array per family in registry.c) and helpers shared by their files.
 * Callbacks set err without naming the node; the executor prefixes "node '<id>': ".
 */
#ifndef PX_ENGINE_EXEC_INT_H
#define PX_ENGINE_EXEC_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

struct px_batch;
struct px_error;
struct px_engine_opts;
struct px_mem;

/* What one run has written into its files directory (the file destinations charge it, see
 * px__files_charge), shared by the run's nodes. */
struct px_files_usage {
    _Atomic long long written;       /* bytes the run's file destinations wrote */
    _Atomic long long used_at_start; /* the files directory's size when first needed; -1 before */
};

/* What a node's callbacks get at open time; everything is borrowed for the run. */
struct px_node_ctx {
    const char *node_id;
    struct json_object *config; /* the node's config (an empty object when absent) */
    struct json_object *params; /* the connection's params, or NULL for transforms */
    const struct px_engine_opts *opts;
    int64_t batch_rows; /* rows per batch */
    /* Transforms: during each process call, *input is the index of the input the batch came
     * from (0 = the source of the node's first edge in the edges array, 1 = the second, ...).
     * NULL outside the executor. */
    const int *input;
    /* SQL sources only (set by the executor, NULL/0 otherwise): a boolean condition already
     * rendered in the connector's dialect (column names quoted, literals escaped) that the
     * source must apply in its WHERE clause; and the only columns the graph downstream needs,
     * which the source may restrict its SELECT list to. The source still returns exactly the
     * rows and columns it would without them, minus what they exclude. */
    const char *push_where;
    const char *const *push_columns;
    int push_ncols;
    /* The run's file usage (destinations: px__files_charge); NULL outside a run. */
    struct px_files_usage *files_usage;
    /* The node's memory account (engine/budget.h): batches it makes are charged by the
     * executor; state that grows with the data (hash tables, held rows, parse buffers, a
     * page's JSON) the node charges itself, with px_mem_reserve for large steps. NULL outside
     * a run (probes): charges nothing. */
    struct px_mem *mem;
};

/* How a SQL connector quotes identifiers and writes literals (pushdown, engine/sqlgen). */
enum px_sql_dialect {
    PX_SQL_NONE = 0, /* not a SQL source: nothing is pushed down */
    PX_SQL_POSTGRES,
    PX_SQL_MYSQL,
    PX_SQL_SQLITE,
};

/* A connector is a cursor for sources and a transactional sink for destinations. A NULL
 * open_source / open_dest means the connector cannot (yet) play that role. */
struct px_connector {
    int version; /* 1 */
    const char *name;
    const char *description;
    int (*open_source)(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
    /* *out is an owned batch, or NULL at the end. */
    int (*next_batch)(void *state, struct px_batch **out, struct px_error *err);
    void (*close_source)(void *state);
    int (*open_dest)(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
    int (*write_batch)(void *state, const struct px_batch *b, struct px_error *err);
    /* Makes everything written visible at once. */
    int (*commit)(void *state, struct px_error *err);
    /* Frees the state; if commit has not succeeded, undoes every write first. */
    void (*close_dest)(void *state);
    /* test_connection (engine/probe.h): checks the connection works for reading (or, with
     * write, writing) within timeout_ms without moving rows; fills version with the server
     * version when the protocol gives one. 0, or negative with a relative-path-only err. NULL:
     * this build cannot test the type. */
    int (*probe)(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                 size_t version_size, struct px_error *err);
    /* SQL sources: the dialect the executor renders push_where in (PX_SQL_NONE: no pushdown). */
    enum px_sql_dialect dialect;
};

/* An operator edits each batch in place (it may empty it). A NULL open means not implemented.
 * A blocking operator (sort, aggregate, union) takes the rows out of each batch it is given
 * (leaving it empty) and hands them on from finish, which the executor calls after every
 * source has been drained, in topological order, until it sets *out to NULL. */
struct px_operator {
    int version; /* 1 */
    const char *name;
    const char *description;
    int (*open)(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
    int (*process)(void *state, struct px_batch *b, struct px_error *err);
    void (*close)(void *state);
    /* May be NULL (streaming operators). *out is an owned batch, or NULL when done. */
    int (*finish)(void *state, struct px_batch **out, struct px_error *err);
};

const struct px_connector *px__connector_find(const char *name);
const struct px_operator *px__operator_find(const char *name);

extern const struct px_connector px__conn_csv;
extern const struct px_connector px__conn_jsonl;
extern const struct px_connector px__conn_sqlite;
extern const struct px_connector px__conn_postgres; /* engine/connectors/pg.c */
extern const struct px_connector px__conn_mysql;    /* engine/connectors/mysql.c */
extern const struct px_connector px__conn_http;     /* engine/connectors/http.c (source only) */
extern const struct px_operator px__op_filter, px__op_derive, px__op_select, px__op_drop,
    px__op_rename, px__op_limit, px__op_dedupe;
extern const struct px_operator px__op_sort, px__op_union, px__op_aggregate;
extern const struct px_operator px__op_cast, px__op_mask, px__op_convert_timezone;
extern const struct px_operator px__op_join;

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

/* Column-type inference from text (CSV): the narrowest of int, float, bool, timestamp,
 * string that fits every non-NULL value seen. */
enum px_col_type px__infer_merge(int current, const char *s);

#endif
