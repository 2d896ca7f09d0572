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
struct px_files_usage; /* engine/connectors/file.h */
struct px_desc;        /* engine/connectors/describe.h */

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
    /* Schema introspection (engine/schema.h): fills d (engine/connectors/describe.h) with what
     * the connection holds, within d's caps and deadlines, reading only. 0, or negative with
     * err set as probe does. NULL: the type cannot be described. */
    int (*describe)(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);
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
/* The i-th registered connector / operator (sorted by name), NULL past the end. */
const struct px_connector *px__connector_at(size_t i);
const struct px_operator *px__operator_at(size_t i);

/* The describe callbacks (engine/connectors/{pg,mysql,sqlite,files}_schema.c). */
int px__pg_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);
int px__mysql_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);
int px__sqlite_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);
int px__csv_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);
int px__jsonl_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err);

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

#endif
