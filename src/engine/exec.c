/*
 * The executor behind px_engine_run (engine.h). Push-based streaming: nodes are opened in
 * topological order; then each source in turn is drained batch by batch, and every batch is
 * pushed through the transforms below it (edited in place; cloned on fan-out) into the
 * destinations. Destinations buffer nothing themselves: they write into a transaction or a
 * temporary file, and are committed only after every source has been drained without error;
 * on any failure they are closed uncommitted, which undoes their writes. Cancellation is polled
 * before each source batch; progress is reported after each destination batch.
 *
 * Memory (engine/budget.h): each node has an account in the run's budget. A batch is charged
 * to the node that last produced or processed it (px_batch_rehome in push), and the budget is
 * checked after every callback: over it, the run fails naming the node that holds the most.
 * When the run ends, malloc_trim hands the freed memory back to the system.
 */
#include "engine/engine.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/catalog.h"
#include "engine/cursor.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"
#include "engine/graph.h"
#include "engine/pushdown.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xnode {
    const char *id;
    enum px_node_kind kind;
    const char *type;
    struct json_object *config;
    struct json_object *params; /* owned, sources and destinations */
    const struct px_connector *conn;
    const struct px_operator *op;
    void *state;
    bool opened, done, committed;
    int *children;
    int nchildren;
    int *parents; /* in edge order: parents[k] feeds input k */
    int nparents;
    int input;                /* the input of the batch being processed (px_node_ctx.input) */
    struct px_cursor *cursor; /* sources with a cursor_column, owned */
    int64_t rows_in, rows_out, dur_us;
    struct px_mem mem; /* its memory account */
};

struct exec {
    struct xnode *n;
    int count;
    int *order; /* topological */
    const struct px_engine_opts *opts;
    struct px_engine_result *out;
    int64_t batch_rows;
    struct json_object *graph;
    struct px_files_usage files_usage;
    struct px_budget budget;
};

/* Prefixes err's message with the node id and records the node as the failed one. */
static int fail_node(struct exec *x, int i, int rc, struct px_error *err)
{
    char msg[sizeof(err->message)];
    snprintf(msg, sizeof(msg), "node '%.64s': %.430s", x->n[i].id, err->message);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    if (!err->code)
        err->code = -rc;
    snprintf(x->out->failed_node, sizeof(x->out->failed_node), "%s", x->n[i].id);
    return rc < 0 ? rc : -PX_EINTERNAL;
}

/* What a node of this kind holds, for the budget message. */
static const char *held_what(const struct xnode *n)
{
    static const struct {
        const char *type, *what;
    } tab[] = {{"aggregate", "groups"}, {"dedupe", "keys and rows"}, {"join", "rows"},
               {"sort", "rows"},        {"union", "rows"},           {"http", "pages and rows"}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(n->type, tab[i].type) == 0)
            return tab[i].what;
    return "rows in batches";
}

/* 0 while the run is within its budget; else fails the run at the node holding the most. */
static int check_budget(struct exec *x, struct px_error *err)
{
    if (!px_budget_over(&x->budget))
        return 0;
    int k = 0;
    for (int i = 1; i < x->count; i++)
        if (atomic_load(&x->n[i].mem.held) > atomic_load(&x->n[k].mem.held))
            k = i;
    px_error_clear(err);
    int rc = px_mem_error(&x->n[k].mem, held_what(&x->n[k]), err);
    return fail_node(x, k, rc, err);
}

static int find_id(struct exec *x, const char *id)
{
    for (int i = 0; i < x->count; i++)
        if (strcmp(x->n[i].id, id) == 0)
            return i;
    return -1;
}

static int build(struct exec *x, struct json_object *graph, struct px_error *err)
{
    struct json_object *nodes = px_json_get(graph, "nodes");
    struct json_object *edges = px_json_get(graph, "edges");
    x->count = (int)json_object_array_length(nodes);
    x->n = px_xcalloc((size_t)x->count, sizeof(*x->n));
    x->order = px_xcalloc((size_t)x->count, sizeof(int));
    for (int i = 0; i < x->count; i++) {
        struct json_object *jn = json_object_array_get_idx(nodes, (size_t)i);
        struct xnode *n = &x->n[i];
        n->id = px_json_get_str(jn, "id");
        n->kind = (enum px_node_kind)px_node_kind_parse(px_json_get_str(jn, "kind"));
        n->type = px_json_get_str(jn, "type");
        n->config = px_json_get(jn, "config");
        px_mem_init(&n->mem, &x->budget, n->id, n->type);
        n->children = px_xcalloc((size_t)x->count, sizeof(int));
        n->parents = px_xcalloc((size_t)x->count, sizeof(int));
        if (n->kind == PX_NODE_TRANSFORM)
            n->op = px__operator_find(n->type);
        else
            n->conn = px__connector_find(n->type);
        if (!n->op && !n->conn) {
            px_error_set(err, PX_EUNAVAILABLE, "node type '%s' is not known to the engine",
                         n->type);
            return fail_node(x, i, -PX_EUNAVAILABLE, err);
        }
        const char *cid = px_json_get_str(jn, "connection_id");
        if (n->kind != PX_NODE_TRANSFORM) {
            if (!x->opts->conn || !cid) {
                px_error_set(err, PX_EINVALID, "no connection to resolve");
                return fail_node(x, i, -PX_EINVALID, err);
            }
            int rc = x->opts->conn(x->opts->conn_ctx, cid, &n->params, err);
            if (rc < 0)
                return fail_node(x, i, rc, err);
        }
    }
    size_t ne = edges ? json_object_array_length(edges) : 0;
    for (size_t e = 0; e < ne; e++) {
        struct json_object *je = json_object_array_get_idx(edges, e);
        int from = find_id(x, px_json_get_str(je, "from"));
        int to = find_id(x, px_json_get_str(je, "to"));
        if (from < 0 || to < 0 || x->n[from].nchildren >= x->count || x->n[to].nparents >= x->count)
            return px_error_set(err, PX_EINVALID, "graph.edges[%zu]: unknown node", e);
        x->n[from].children[x->n[from].nchildren++] = to;
        x->n[to].parents[x->n[to].nparents++] = from;
    }
    /* Kahn's algorithm; the graph is acyclic (validated). */
    int *indeg = px_xcalloc((size_t)x->count, sizeof(int));
    int head = 0, tail = 0;
    for (int i = 0; i < x->count; i++) {
        indeg[i] = x->n[i].nparents;
        if (!indeg[i])
            x->order[tail++] = i;
    }
    while (head < tail) {
        struct xnode *n = &x->n[x->order[head++]];
        for (int c = 0; c < n->nchildren; c++)
            if (--indeg[n->children[c]] == 0)
                x->order[tail++] = n->children[c];
    }
    free(indeg);
    if (tail != x->count)
        return px_error_set(err, PX_EINVALID, "graph has a cycle");
    return 0;
}

static int open_node(struct exec *x, int i, struct px_error *err)
{
    struct xnode *n = &x->n[i];
    struct px_node_ctx ctx = {.node_id = n->id,
                              .config = n->config,
                              .params = n->params,
                              .opts = x->opts,
                              .batch_rows = x->batch_rows,
                              .input = &n->input,
                              .files_usage = &x->files_usage,
                              .mem = &n->mem};
    int rc;
    int64_t t0 = px_mono_us();
    if (n->op) {
        if (!n->op->open)
            rc =
                px_error_set(err, PX_EUNAVAILABLE, "operator '%s' is not implemented yet", n->type);
        else
            rc = n->op->open(&ctx, &n->state, err);
    } else if (n->kind == PX_NODE_SOURCE) {
        const char *cursor_col = px_json_get_str(n->config, "cursor_column");
        char *cursor_where = NULL;
        if (cursor_col) {
            n->cursor = px_xcalloc(1, sizeof(*n->cursor));
            px_cursor_init(n->cursor, cursor_col, px_json_get(x->opts->cursors, n->id));
            cursor_where = px_cursor_where(n->cursor, n->conn->dialect);
        }
        struct px_push push;
        px_push_plan(x->graph, n->id, n->conn->dialect, x->opts->now_us, cursor_where, &push);
        free(cursor_where);
        ctx.push_where = push.where;
        ctx.push_columns = (const char *const *)push.cols;
        ctx.push_ncols = push.ncols;
        if (!n->conn->open_source)
            rc = px_error_set(err, PX_EUNAVAILABLE,
                              "connector '%s' is not available as a source in this build", n->type);
        else
            rc = n->conn->open_source(&ctx, &n->state, err);
        px_push_free(&push);
    } else {
        if (!n->conn->open_dest)
            rc = px_error_set(err, PX_EUNAVAILABLE,
                              "connector '%s' is not available as a destination in this build",
                              n->type);
        else
            rc = n->conn->open_dest(&ctx, &n->state, err);
    }
    n->dur_us += px_mono_us() - t0;
    if (rc < 0)
        return fail_node(x, i, rc, err);
    n->opened = true;
    return check_budget(x, err);
}

static int deliver(struct exec *x, int i, struct px_batch *b, struct px_error *err);

/* Node i produced b (owned): hands it to each child, cloning for all but the last. */
static int push(struct exec *x, int i, struct px_batch *b, struct px_error *err)
{
    struct xnode *n = &x->n[i];
    n->rows_out += b->nrows;
    if (b->nrows == 0 || n->nchildren == 0) {
        px_batch_destroy(b);
        return check_budget(x, err);
    }
    px_batch_rehome(b, &n->mem);
    int rc = check_budget(x, err);
    if (rc < 0) {
        px_batch_destroy(b);
        return rc;
    }
    for (int c = 0; c < n->nchildren; c++) {
        struct px_batch *cb = c + 1 < n->nchildren ? px_batch_clone(b) : b;
        if (cb != b) {
            px_batch_account(cb, &n->mem);
            if ((rc = check_budget(x, err)) < 0) {
                px_batch_destroy(cb);
                px_batch_destroy(b);
                return rc;
            }
        }
        struct xnode *child = &x->n[n->children[c]];
        for (int k = 0; k < child->nparents; k++)
            if (child->parents[k] == i) {
                child->input = k;
                break;
            }
        rc = deliver(x, n->children[c], cb, err);
        if (rc < 0) {
            if (cb != b)
                px_batch_destroy(b);
            return rc;
        }
    }
    return 0;
}

static int deliver(struct exec *x, int i, struct px_batch *b, struct px_error *err)
{
    struct xnode *n = &x->n[i];
    n->rows_in += b->nrows;
    int64_t t0 = px_mono_us();
    if (n->kind == PX_NODE_TRANSFORM) {
        int rc = n->op->process(n->state, b, err);
        n->dur_us += px_mono_us() - t0;
        if (rc < 0) {
            px_batch_destroy(b);
            return fail_node(x, i, rc, err);
        }
        return push(x, i, b, err);
    }
    int rc = n->conn->write_batch(n->state, b, err);
    n->dur_us += px_mono_us() - t0;
    if (rc < 0) {
        px_batch_destroy(b);
        return fail_node(x, i, rc, err);
    }
    n->rows_out += b->nrows;
    x->out->rows_written += b->nrows;
    px_batch_destroy(b);
    if (x->opts->progress)
        x->opts->progress(x->opts->progress_ctx, x->out->rows_written);
    return check_budget(x, err);
}

/* Pulls batches from node i until it has no more and pushes them on: a source (drained,
 * counting rows read) or, once every source is drained, a blocking operator handing on
 * what it holds. */
static int pull_node(struct exec *x, int i, bool source, struct px_error *err)
{
    struct xnode *n = &x->n[i];
    for (;;) {
        if (x->opts->cancelled && x->opts->cancelled(x->opts->cancel_ctx))
            return px_error_set(err, PX_EUNAVAILABLE, "cancelled");
        if (x->opts->stage)
            x->opts->stage(x->opts->progress_ctx, n->id, x->out->rows_read, x->out->rows_written);
        struct px_batch *b = NULL;
        int64_t t0 = px_mono_us();
        int rc = source ? n->conn->next_batch(n->state, &b, err) : n->op->finish(n->state, &b, err);
        n->dur_us += px_mono_us() - t0;
        if (rc < 0)
            return fail_node(x, i, rc, err);
        if (!b)
            break;
        if (source)
            x->out->rows_read += b->nrows;
        if (source && n->cursor && (rc = px_cursor_apply(n->cursor, b, err)) < 0) {
            px_batch_destroy(b);
            return fail_node(x, i, rc, err);
        }
        rc = push(x, i, b, err);
        if (rc < 0)
            return rc;
    }
    if (source)
        n->done = true;
    return 0;
}

static void close_all(struct exec *x)
{
    for (int k = x->count - 1; k >= 0; k--) {
        struct xnode *n = &x->n[x->order[k]];
        if (!n->opened)
            continue;
        if (n->op)
            n->op->close(n->state);
        else if (n->kind == PX_NODE_SOURCE)
            n->conn->close_source(n->state);
        else
            n->conn->close_dest(n->state);
        n->opened = false;
    }
}

static void report(struct exec *x, bool ok)
{
    x->out->nodes = json_object_new_array();
    for (int i = 0; i < x->count; i++) {
        struct xnode *n = &x->n[i];
        const char *status = "skipped";
        if (strcmp(x->out->failed_node, n->id) == 0)
            status = "failed";
        else if (ok || (n->kind == PX_NODE_SOURCE && n->done))
            status = "succeeded";
        struct json_object *o = json_object_new_object();
        px_json_set_str(o, "node_id", n->id);
        px_json_set_str(o, "status", status);
        px_json_set_int(o, "rows_in", n->rows_in);
        px_json_set_int(o, "rows_out", n->rows_out);
        px_json_set_int(o, "duration_ms", n->dur_us / 1000);
        json_object_array_add(x->out->nodes, o);
    }
}

int px_engine_run(struct json_object *graph, const struct px_engine_opts *opts,
                  struct px_engine_result *out, struct px_error *err)
{
    memset(out, 0, sizeof(*out));
    struct exec x = {0};
    x.opts = opts;
    x.out = out;
    x.graph = graph;
    atomic_init(&x.files_usage.written, 0);
    atomic_init(&x.files_usage.used_at_start, -1);
    x.batch_rows = opts->batch_rows > 0 ? opts->batch_rows : PX_BATCH_DEFAULT_ROWS;
    px_budget_init(&x.budget,
                   opts->memory_budget > 0 ? opts->memory_budget : PX_ENGINE_MEMORY_DEFAULT);
    if (x.batch_rows > 1000000)
        x.batch_rows = 1000000;
    int rc = px_catalog_init(err);
    if (rc < 0)
        return rc;
    rc = px_graph_validate(graph, NULL, NULL, NULL, err);
    if (rc < 0) {
        out->nodes = json_object_new_array();
        return rc;
    }
    struct json_object **empties = NULL;
    rc = build(&x, graph, err);
    if (rc == 0) {
        empties = px_xcalloc((size_t)x.count, sizeof(*empties));
        for (int k = 0; k < x.count && rc == 0; k++) {
            int i = x.order[k];
            if (!x.n[i].config)
                x.n[i].config = empties[i] = json_object_new_object();
            rc = open_node(&x, i, err);
        }
    }
    for (int k = 0; k < x.count && rc == 0; k++) {
        int i = x.order[k];
        if (x.n[i].kind == PX_NODE_SOURCE)
            rc = pull_node(&x, i, true, err);
    }
    for (int k = 0; k < x.count && rc == 0; k++)
        if (x.n[x.order[k]].op && x.n[x.order[k]].op->finish)
            rc = pull_node(&x, x.order[k], false, err);
    for (int k = 0; k < x.count && rc == 0; k++) {
        struct xnode *n = &x.n[x.order[k]];
        if (n->kind != PX_NODE_DESTINATION)
            continue;
        int64_t t0 = px_mono_us();
        rc = n->conn->commit(n->state, err);
        n->dur_us += px_mono_us() - t0;
        if (rc < 0)
            rc = fail_node(&x, x.order[k], rc, err);
        else
            n->committed = true;
    }
    close_all(&x);
    report(&x, rc == 0);
    for (int i = 0; i < x.count; i++) {
        if (!x.n[i].cursor)
            continue;
        struct json_object *pos = rc == 0 ? px_cursor_position(x.n[i].cursor) : NULL;
        if (pos) {
            if (!out->cursors)
                out->cursors = json_object_new_object();
            px_json_set(out->cursors, x.n[i].id, pos);
        }
        px_cursor_cleanup(x.n[i].cursor);
        free(x.n[i].cursor);
    }
    for (int i = 0; i < x.count; i++) {
        json_object_put(x.n[i].params);
        free(x.n[i].children);
        free(x.n[i].parents);
        if (empties)
            json_object_put(empties[i]);
    }
    free(empties);
    free(x.n);
    free(x.order);
    out->memory_peak = atomic_load(&x.budget.peak);
    /* glibc keeps freed memory in its arenas (and raises its mmap threshold after large
     * frees): hand it back, so that a server's RSS drops back after a big run. */
    malloc_trim(0);
    return rc;
}

void px_engine_result_cleanup(struct px_engine_result *r)
{
    if (!r)
        return;
    json_object_put(r->nodes);
    json_object_put(r->cursors);
    r->nodes = NULL;
    r->cursors = NULL;
}
