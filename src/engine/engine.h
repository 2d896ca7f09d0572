/*
 * The pipeline engine's entry point: runs one validated graph (engine/graph.h) to completion,
 * moving rows from its sources through its transforms into its destinations in typed,
 * columnar batches with bounded memory. It knows nothing about MCP, runs or the store's
 * control-plane tables: the caller (service/runs.c) resolves connections, records the run and
 * decides about retries. Pipeline rows never become JSON objects between stages.
 */
#ifndef PX_ENGINE_ENGINE_H
#define PX_ENGINE_ENGINE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;

/* Returns the full params of a connection of the caller's organization, secrets included
 * (owned by the caller of the callback: json_object_put it; never log it), or a negative code
 * with err set (-PX_ENOTFOUND). */
typedef int (*px_engine_conn_fn)(void *ctx, const char *connection_id, struct json_object **out,
                                 struct px_error *err);

struct px_engine_opts {
    px_engine_conn_fn conn; /* resolves connection_id → params */
    void *conn_ctx;
    const char
        *files_root;           /* the organization's files directory: file connectors (csv, jsonl,
                                * sqlite) resolve in it, never following links (engine/connectors/fsroot.h) */
    int64_t files_quota_bytes; /* the organization's disk quota on files_root (0: none) */
    int64_t run_write_limit_bytes; /* bytes one run may write into files_root (0: none) */
    int64_t now_us;                /* the run's now() for expressions, µs since the epoch UTC */
    int64_t batch_rows;            /* rows per batch (0: a sensible default) */
    /* Polled between batches; true stops the run with PX_EUNAVAILABLE "cancelled". May be NULL. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
    /* Called after each batch reaches a destination with the rows written so far. May be NULL. */
    void (*progress)(void *ctx, int64_t rows_written);
    void *progress_ctx;
    /* Called (with progress_ctx) before each batch is pulled from a node — a source, or a
     * blocking transform handing on what it holds — with that node's id and the rows read and
     * written so far: where the run is, even while the pull blocks. May be NULL. */
    void (*stage)(void *ctx, const char *node_id, int64_t rows_read, int64_t rows_written);
    /* Incremental sources (engine/cursor.h): {node_id: position} stored after the last
     * successful run, borrowed; NULL on a first run. */
    struct json_object *cursors;
    /* Bytes the run may hold in memory (engine/budget.h); 0: PX_ENGINE_MEMORY_DEFAULT. */
    int64_t memory_budget;
};

#define PX_ENGINE_MEMORY_DEFAULT ((int64_t)512 << 20)

struct px_engine_result {
    int64_t rows_read;         /* rows produced by all sources */
    int64_t rows_written;      /* rows accepted by all destinations */
    struct json_object *nodes; /* owned array of {node_id, status, rows_in, rows_out,
                                * duration_ms}; status succeeded | failed | skipped */
    char failed_node[64];      /* on failure: the node id, else "" */
    /* On success: {node_id: position} of every source with a cursor_column that has one
     * (owned; NULL when no source has a cursor). Store it only for a successful run. */
    struct json_object *cursors;
    int64_t memory_peak; /* the most bytes the run's budget had charged at once */
};

/* Runs graph. Returns 0, or a negative code with err set (a sanitized, length-capped message
 * that names the node, err->retryable for transient failures such as a refused connection, and
 * a hint) and out->failed_node. On failure no destination is left half-written: replace-mode
 * loads swap in atomically, append/upsert loads run in one transaction where the destination
 * supports it. out->nodes is filled in both cases; free it with px_engine_result_cleanup.
 * SQL sources get the simple predicates of a filter right below them and the columns the
 * graph needs pushed into their query (engine/pushdown.h); rows_read counts what the sources
 * returned after that. A run that would hold more than opts->memory_budget bytes fails with
 * too_large naming the node holding the most (engine/budget.h); the memory a run freed is
 * handed back to the system when it ends (malloc_trim). */
int px_engine_run(struct json_object *graph, const struct px_engine_opts *opts,
                  struct px_engine_result *out, struct px_error *err);
void px_engine_result_cleanup(struct px_engine_result *r);

/* What a connector refuses in a connection's params before anything is stored (called by
 * create_connection / update_connection after the catalog's schema): for csv, jsonl and
 * sqlite an absolute path, a ".." component or a reserved name. 0, or -PX_EINVALID with err
 * naming params.path. */
int px_engine_check_params(const char *type, struct json_object *params, struct px_error *err);

/* Crash recovery for a files directory (engine/connectors/file.c), at start-up: every append
 * journal whose target no live writer holds is rolled back (the target truncated to its recorded
 * length), and every temporary file of a replace that no live writer holds is removed. Walks at
 * most 16 levels and 200,000 entries, never following links. Returns the number of side files
 * handled (logs what it did). */
int px_engine_recover_files(const char *dir);

#endif
