/*
 * sort and union (blocking operators, exec_int.h), which share a buffer of whole batches. They take
 * the rows out of every batch they are given and hand their result on from finish, once every
 * source is drained.
 *
 * sort and union hold their input in memory, up to PX_BLOCK_MAX_ROWS rows (past it the run
 * fails with a message naming the cap; put a filter or an aggregate before them). sort is
 * stable (a merge sort); NULL sorts as the smallest value (first ascending, last descending);
 * strings compare bytewise (UTF-8 code point order); integers and floats compare
 * numerically. union matches columns by name in order of first appearance, leaves a column
 * an input lacks NULL, widens integer to float, and fails naming the column on any other type
 * mismatch. Its output is every row of the first-drained input, then the next, and so on.
 */
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/exec_int.h"

#include <string.h>
#include <stdlib.h>

#define PX_BLOCK_MAX_ROWS 1000000

/* ---- a buffer of whole batches with a merged schema ---- */

struct rowref {
    int32_t b;
    int64_t r;
};

struct rowbuf {
    struct px_batch **batches;
    int **colmap; /* per batch: output column → batch column, or -1 */
    int nb, nb_cap;
    int64_t rows, max_rows, batch_rows;
    char **names;
    enum px_col_type *types;
    int ncols;
    struct rowref *refs;
    int64_t nrefs, emitted;
    bool ordered;       /* refs built */
    struct px_mem *mem; /* the held batches and refs are charged here */
};

static void rowbuf_cleanup(struct rowbuf *rb)
{
    for (int i = 0; i < rb->nb; i++) {
        px_batch_destroy(rb->batches[i]);
        free(rb->colmap[i]);
    }
    free(rb->batches);
    free(rb->colmap);
    for (int i = 0; i < rb->ncols; i++)
        free(rb->names[i]);
    free(rb->names);
    free(rb->types);
    free(rb->refs);
}

/* Takes b's rows (b is left empty), merging its columns into the schema. */
static int rowbuf_take(struct rowbuf *rb, struct px_batch *b, struct px_error *err)
{
    if (b->nrows == 0 && b->ncols == 0)
        return 0;
    if (rb->rows + b->nrows > rb->max_rows)
        return px_error_set(err, PX_ETOOLARGE,
                            "more than %lld rows to hold in memory (the in-memory cap); filter or "
                            "aggregate the input first",
                            (long long)rb->max_rows);
    enum px_col_type was;
    int i = px_batch_merge_schema(&rb->names, &rb->types, &rb->ncols, b, &was);
    if (i >= 0)
        return px_error_set(err, PX_EINVALID,
                            "column '%.200s' is %s in one input and %s in another; cast "
                            "it first",
                            b->cols[i].name, px_col_type_name(was),
                            px_col_type_name(b->cols[i].type));
    if (rb->nb == rb->nb_cap) {
        rb->nb_cap = rb->nb_cap ? rb->nb_cap * 2 : 16;
        rb->batches = px_xrealloc(rb->batches, (size_t)rb->nb_cap * sizeof(*rb->batches));
        rb->colmap = px_xrealloc(rb->colmap, (size_t)rb->nb_cap * sizeof(*rb->colmap));
    }
    struct px_batch *own = px_batch_take(b);
    px_batch_rehome(own, rb->mem); /* held here from now on */
    rb->batches[rb->nb] = own;
    rb->colmap[rb->nb] = NULL;
    rb->nb++;
    rb->rows += own->nrows;
    return 0;
}

/* Column maps for the final schema, and refs in input order: 0, or -PX_ETOOLARGE when the
 * refs do not fit the memory budget. */
static int rowbuf_seal(struct rowbuf *rb, struct px_error *err)
{
    int rc = px_mem_reserve(rb->mem, (rb->rows + 1) * (int64_t)sizeof(*rb->refs),
                            "the order of the rows held", err);
    if (rc < 0)
        return rc;
    rb->refs = px_xcalloc((size_t)rb->rows + 1, sizeof(*rb->refs));
    rb->nrefs = 0;
    for (int i = 0; i < rb->nb; i++) {
        rb->colmap[i] = px_xcalloc((size_t)rb->ncols + 1, sizeof(int));
        for (int k = 0; k < rb->ncols; k++)
            rb->colmap[i][k] = px_batch_find(rb->batches[i], rb->names[k]);
        for (int64_t r = 0; r < rb->batches[i]->nrows; r++)
            rb->refs[rb->nrefs++] = (struct rowref){i, r};
    }
    rb->ordered = true;
    return 0;
}

static int rowbuf_emit(struct rowbuf *rb, struct px_batch **out, struct px_error *err)
{
    *out = NULL;
    int rc;
    if (!rb->ordered && (rc = rowbuf_seal(rb, err)) < 0)
        return rc;
    if (rb->emitted >= rb->nrefs)
        return 0;
    int64_t n = rb->nrefs - rb->emitted;
    if (n > rb->batch_rows)
        n = rb->batch_rows;
    struct px_batch *o = px_batch_create(rb->batch_rows);
    o->first_row = rb->emitted + 1;
    for (int k = 0; k < rb->ncols; k++)
        px_batch_add_column(o, rb->names[k], rb->types[k]);
    for (int64_t r = 0; r < n; r++) {
        struct rowref ref = rb->refs[rb->emitted + r];
        for (int k = 0; k < rb->ncols; k++) {
            int sc = rb->colmap[ref.b][k];
            if (sc >= 0)
                px_batch_copy_cell(o, k, r, rb->batches[ref.b], sc, ref.r);
        }
    }
    o->nrows = n;
    rb->emitted += n;
    *out = o;
    return 0;
}

/* ---- sort ---- */

struct sortkey {
    char *column;
    bool desc;
    int out; /* output column */
};

struct sortop {
    struct rowbuf rb;
    struct sortkey *keys;
    int nkeys;
};

static int sort_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct sortop *s = px_xcalloc(1, sizeof(*s));
    struct json_object *by = px_json_get(ctx->config, "by");
    s->nkeys = (int)json_object_array_length(by);
    s->keys = px_xcalloc((size_t)s->nkeys, sizeof(*s->keys));
    for (int k = 0; k < s->nkeys; k++) {
        struct json_object *jk = json_object_array_get_idx(by, (size_t)k);
        s->keys[k].column = px_xstrdup(px_json_get_str(jk, "column"));
        s->keys[k].desc = px_json_get_bool(jk, "descending", false);
    }
    s->rb.max_rows = PX_BLOCK_MAX_ROWS;
    s->rb.batch_rows = ctx->batch_rows;
    s->rb.mem = ctx->mem;
    *state_out = s;
    return 0;
}

static void sort_close(void *state)
{
    struct sortop *s = state;
    if (!s)
        return;
    rowbuf_cleanup(&s->rb);
    for (int k = 0; k < s->nkeys; k++)
        free(s->keys[k].column);
    free(s->keys);
    free(s);
}

static int sort_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct sortop *s = state;
    for (int k = 0; k < s->nkeys; k++)
        if (px_batch_find(b, s->keys[k].column) < 0)
            return px__no_column(b, s->keys[k].column, err);
    return rowbuf_take(&s->rb, b, err);
}

static int cmp_refs(const struct sortop *s, struct rowref x, struct rowref y)
{
    const struct rowbuf *rb = &s->rb;
    for (int k = 0; k < s->nkeys; k++) {
        int o = s->keys[k].out;
        const struct px_batch *bx = rb->batches[x.b], *by = rb->batches[y.b];
        int c = px_batch_cmp_cells(&bx->cols[rb->colmap[x.b][o]], x.r,
                                   &by->cols[rb->colmap[y.b][o]], y.r);
        if (c)
            return s->keys[k].desc ? -c : c;
    }
    return 0;
}

static void merge_sort(const struct sortop *s, struct rowref *a, struct rowref *tmp, int64_t n)
{
    if (n < 2)
        return;
    int64_t h = n / 2;
    merge_sort(s, a, tmp, h);
    merge_sort(s, a + h, tmp, n - h);
    if (cmp_refs(s, a[h - 1], a[h]) <= 0)
        return;
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_refs(s, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof(*a));
}

static int sort_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct sortop *s = state;
    if (!s->rb.ordered) {
        int rc = rowbuf_seal(&s->rb, err);
        if (rc == 0)
            rc = px_mem_reserve(s->rb.mem, (s->rb.rows + 1) * (int64_t)sizeof(struct rowref),
                                "sorting", err);
        if (rc < 0)
            return rc;
        for (int k = 0; k < s->nkeys; k++)
            for (int c = 0; c < s->rb.ncols; c++)
                if (strcmp(s->rb.names[c], s->keys[k].column) == 0)
                    s->keys[k].out = c;
        struct rowref *tmp = px_xcalloc((size_t)s->rb.nrefs + 1, sizeof(*tmp));
        merge_sort(s, s->rb.refs, tmp, s->rb.nrefs);
        free(tmp);
        px_mem_sub(s->rb.mem, (s->rb.rows + 1) * (int64_t)sizeof(struct rowref));
    }
    return rowbuf_emit(&s->rb, out, err);
}

/* ---- union ---- */

struct unionop {
    struct rowbuf rb;
};

static int union_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct unionop *s = px_xcalloc(1, sizeof(*s));
    s->rb.max_rows = PX_BLOCK_MAX_ROWS;
    s->rb.batch_rows = ctx->batch_rows;
    s->rb.mem = ctx->mem;
    *state_out = s;
    return 0;
}

static void union_close(void *state)
{
    struct unionop *s = state;
    if (!s)
        return;
    rowbuf_cleanup(&s->rb);
    free(s);
}

static int union_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct unionop *s = state;
    return rowbuf_take(&s->rb, b, err);
}

static int union_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct unionop *s = state;
    return rowbuf_emit(&s->rb, out, err);
}

const struct px_operator px__op_sort = {
    1,          "sort",     "Orders rows by columns (in memory)", sort_open, sort_process,
    sort_close, sort_finish};
const struct px_operator px__op_union = {
    1,           "union",       "Concatenates inputs, matching columns by name",
    union_open,  union_process, union_close,
    union_finish};
