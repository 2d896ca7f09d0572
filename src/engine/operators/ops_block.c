/*
 * Blocking operators (exec_int.h): sort, union and aggregate. They take the rows out of every
 * batch they are given and hand their result on from finish, once every source is drained.
 *
 * sort and union hold their input in memory, up to PX_BLOCK_MAX_ROWS rows (past it the run
 * fails with a message naming the cap; put a filter or an aggregate before them). sort is
 * stable (a merge sort); NULL sorts as the smallest value (first ascending, last descending);
 * strings compare bytewise (UTF-8 code point order); integers and floats compare
 * numerically. union matches columns by name in order of first appearance, leaves a column
 * an input lacks NULL, widens integer to float, and fails naming the column on any other type
 * mismatch. Its output is every row of the first-drained input, then the next, and so on.
 *
 * aggregate keeps one hash-table entry per group (up to PX_AGG_MAX_GROUPS), not the rows; its
 * output has one row per group in order of first appearance: the group_by columns, then the
 * aggregates. count counts rows (no column) or non-NULL values; sum is integer for integer
 * input (an overflow fails) and float otherwise; avg is float; min/max keep the input type.
 * NULLs are skipped; an aggregate over only NULLs is NULL (count: 0). With no group_by and no
 * input rows the output is one row (count 0, the rest NULL), as in SQL.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_BLOCK_MAX_ROWS 1000000
#define PX_AGG_MAX_GROUPS 10000000

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

static bool numeric(enum px_col_type t)
{
    return t == PX_COL_INT || t == PX_COL_FLOAT;
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

static int cmp_cells(const struct px_column *a, int64_t ra, const struct px_column *b, int64_t rb)
{
    bool na = px_batch_is_null(a, ra), nb = px_batch_is_null(b, rb);
    if (na || nb)
        return na == nb ? 0 : na ? -1 : 1;
    if (a->type == PX_COL_STRING)
        return strcmp(a->v.s[ra], b->v.s[rb]);
    if (a->type == PX_COL_FLOAT || b->type == PX_COL_FLOAT) {
        double x = a->type == PX_COL_FLOAT ? a->v.f[ra] : (double)a->v.i[ra];
        double y = b->type == PX_COL_FLOAT ? b->v.f[rb] : (double)b->v.i[rb];
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->type == PX_COL_BOOL)
        return (int)a->v.b[ra] - (int)b->v.b[rb];
    return a->v.i[ra] < b->v.i[rb] ? -1 : a->v.i[ra] > b->v.i[rb] ? 1 : 0;
}

static int cmp_refs(const struct sortop *s, struct rowref x, struct rowref y)
{
    const struct rowbuf *rb = &s->rb;
    for (int k = 0; k < s->nkeys; k++) {
        int o = s->keys[k].out;
        const struct px_batch *bx = rb->batches[x.b], *by = rb->batches[y.b];
        int c = cmp_cells(&bx->cols[rb->colmap[x.b][o]], x.r, &by->cols[rb->colmap[y.b][o]], y.r);
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

/* ---- aggregate ---- */

enum agg_fn { AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX };

struct aggdef {
    enum agg_fn fn;
    char *column; /* NULL: count rows */
    char *as;
    enum px_col_type in_type;
};

struct acc {
    int64_t count; /* non-NULL values (rows for count without a column) */
    int64_t isum;
    double fsum;
    struct px_value mm; /* min/max so far; a string is owned */
};

struct aggop {
    char **group_by;
    int ngroup;
    enum px_col_type *gtypes;
    struct aggdef *aggs;
    int naggs;
    bool typed; /* input column types known */
    /* groups in order of first appearance */
    char **keys;            /* encoded key: 4-byte length + bytes */
    struct px_value *gvals; /* ngroup per group; strings owned */
    struct acc *accs;       /* naggs per group */
    int64_t ngroups, groups_cap;
    int64_t *slots; /* open addressing: group index + 1, 0 = empty */
    size_t nslots;
    int64_t emitted;
    int64_t batch_rows;
    bool finished;
    struct px_mem *mem; /* groups: keys, values, accumulators, slots */
    int64_t pending;    /* bytes of new groups not charged yet (charged per batch) */
};

static int agg_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    static const char *fns[] = {"count", "sum", "avg", "min", "max"};
    (void)err;
    struct aggop *s = px_xcalloc(1, sizeof(*s));
    struct json_object *gb = px_json_get(ctx->config, "group_by");
    s->ngroup = gb ? (int)json_object_array_length(gb) : 0;
    s->group_by = px_xcalloc((size_t)s->ngroup + 1, sizeof(char *));
    s->gtypes = px_xcalloc((size_t)s->ngroup + 1, sizeof(*s->gtypes));
    for (int g = 0; g < s->ngroup; g++) {
        s->group_by[g] =
            px_xstrdup(json_object_get_string(json_object_array_get_idx(gb, (size_t)g)));
        s->gtypes[g] = PX_COL_STRING;
    }
    struct json_object *ag = px_json_get(ctx->config, "aggregates");
    s->naggs = (int)json_object_array_length(ag);
    s->aggs = px_xcalloc((size_t)s->naggs, sizeof(*s->aggs));
    for (int a = 0; a < s->naggs; a++) {
        struct json_object *ja = json_object_array_get_idx(ag, (size_t)a);
        const char *fn = px_json_get_str(ja, "function");
        const char *col = px_json_get_str(ja, "column");
        const char *as = px_json_get_str(ja, "as");
        int k = 0;
        while (k < 4 && strcmp(fns[k], fn) != 0)
            k++;
        s->aggs[a].fn = (enum agg_fn)k;
        s->aggs[a].column = col ? px_xstrdup(col) : NULL;
        s->aggs[a].in_type = k == AGG_SUM || k == AGG_AVG ? PX_COL_FLOAT : PX_COL_STRING;
        if (as) {
            s->aggs[a].as = px_xstrdup(as);
        } else {
            char name[300];
            if (col)
                snprintf(name, sizeof(name), "%s_%.255s", fn, col);
            else
                snprintf(name, sizeof(name), "%s", fn);
            s->aggs[a].as = px_xstrdup(name);
        }
    }
    s->nslots = 1024;
    s->slots = px_xcalloc(s->nslots, sizeof(int64_t));
    s->batch_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    *state_out = s;
    return 0;
}

static void agg_close(void *state)
{
    struct aggop *s = state;
    if (!s)
        return;
    for (int64_t i = 0; i < s->ngroups; i++) {
        free(s->keys[i]);
        for (int g = 0; g < s->ngroup; g++)
            px_value_clear(&s->gvals[i * s->ngroup + g]);
        for (int a = 0; a < s->naggs; a++)
            px_value_clear(&s->accs[i * s->naggs + a].mm);
    }
    free(s->keys);
    free(s->gvals);
    free(s->accs);
    free(s->slots);
    for (int g = 0; g < s->ngroup; g++)
        free(s->group_by[g]);
    free(s->group_by);
    free(s->gtypes);
    for (int a = 0; a < s->naggs; a++) {
        free(s->aggs[a].column);
        free(s->aggs[a].as);
    }
    free(s->aggs);
    free(s);
}

static uint64_t key_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Doubles an open-addressing table of nkeys keys (each a 4-byte length + bytes), whose slots
 * hold key index + 1 (0 = empty), and rehashes every key into it. */
static void grow_slots(int64_t **slots, size_t *nslots, char **keys, int64_t nkeys)
{
    size_t ns = *nslots * 2;
    int64_t *nsl = px_xcalloc(ns, sizeof(int64_t));
    for (int64_t i = 0; i < nkeys; i++) {
        uint32_t kl;
        memcpy(&kl, keys[i], 4);
        size_t p = key_hash(keys[i] + 4, kl) & (ns - 1);
        while (nsl[p])
            p = (p + 1) & (ns - 1);
        nsl[p] = i + 1;
    }
    free(*slots);
    *slots = nsl;
    *nslots = ns;
}

/* The group of key, created (with its values taken from row r) when new. */
static int64_t agg_group(struct aggop *s, const char *key, size_t len, const struct px_batch *b,
                         const int *gidx, int64_t r)
{
    size_t j = key_hash(key, len) & (s->nslots - 1);
    while (s->slots[j]) {
        const char *k = s->keys[s->slots[j] - 1];
        uint32_t l;
        memcpy(&l, k, 4);
        if (l == len && memcmp(k + 4, key, len) == 0)
            return s->slots[j] - 1;
        j = (j + 1) & (s->nslots - 1);
    }
    if (s->ngroups == s->groups_cap) {
        s->groups_cap = s->groups_cap ? s->groups_cap * 2 : 64;
        s->keys = px_xrealloc(s->keys, (size_t)s->groups_cap * sizeof(char *));
        s->gvals = px_xrealloc(s->gvals,
                               (size_t)(s->groups_cap * s->ngroup + 1) * sizeof(struct px_value));
        s->accs = px_xrealloc(s->accs, (size_t)(s->groups_cap * s->naggs + 1) * sizeof(struct acc));
    }
    int64_t gi = s->ngroups++;
    char *k = px_xmalloc(len + 4);
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    s->keys[gi] = k;
    for (int g = 0; g < s->ngroup; g++) {
        struct px_value *v = &s->gvals[gi * s->ngroup + g];
        px_batch_get(b, gidx[g], r, v);
        if (v->type == PX_VAL_STRING)
            v->s = px_xstrdup(v->s);
    }
    memset(&s->accs[gi * s->naggs], 0, (size_t)s->naggs * sizeof(struct acc));
    /* The group's key, values and accumulators, their slot (arrays grow by doubling) and
     * malloc's overhead; min/max strings are counted as they are kept. */
    s->pending +=
        (int64_t)(len + 4 + 16) + 32 +
        (int64_t)(s->ngroup * sizeof(struct px_value) + s->naggs * sizeof(struct acc)) * 2;
    for (int g = 0; g < s->ngroup; g++)
        if (s->gvals[gi * s->ngroup + g].type == PX_VAL_STRING)
            s->pending += (int64_t)strlen(s->gvals[gi * s->ngroup + g].s) + 17;
    s->slots[j] = gi + 1;
    if ((size_t)s->ngroups * 2 > s->nslots) {
        s->pending += (int64_t)(s->nslots * sizeof(int64_t)); /* the table doubles */
        grow_slots(&s->slots, &s->nslots, s->keys, s->ngroups);
    }
    return gi;
}

static int cmp_values(const struct px_value *a, const struct px_value *b)
{
    switch (a->type) {
    case PX_VAL_STRING:
        return strcmp(a->s, b->s);
    case PX_VAL_FLOAT:
        return a->f < b->f ? -1 : a->f > b->f ? 1 : 0;
    case PX_VAL_BOOL:
        return (int)a->b - (int)b->b;
    default:
        return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
    }
}

static int agg_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct aggop *s = state;
    int *gidx = px_xcalloc((size_t)s->ngroup + 1, sizeof(int));
    int *aidx = px_xcalloc((size_t)s->naggs + 1, sizeof(int));
    int rc = 0;
    for (int g = 0; g < s->ngroup && rc == 0; g++)
        if ((gidx[g] = px_batch_find(b, s->group_by[g])) < 0)
            rc = px__no_column(b, s->group_by[g], err);
    for (int a = 0; a < s->naggs && rc == 0; a++) {
        struct aggdef *d = &s->aggs[a];
        aidx[a] = -1;
        if (!d->column)
            continue;
        if ((aidx[a] = px_batch_find(b, d->column)) < 0) {
            rc = px__no_column(b, d->column, err);
            break;
        }
        enum px_col_type t = b->cols[aidx[a]].type;
        if ((d->fn == AGG_SUM || d->fn == AGG_AVG) && !numeric(t))
            rc = px_error_set(err, PX_EINVALID, "%s needs a numeric column; '%.200s' is %s",
                              d->fn == AGG_SUM ? "sum" : "avg", d->column, px_col_type_name(t));
        else if (s->typed && t != d->in_type)
            rc = px_error_set(err, PX_EINVALID, "column '%.200s' changed type from %s to %s",
                              d->column, px_col_type_name(d->in_type), px_col_type_name(t));
        d->in_type = t;
    }
    if (rc == 0 && !s->typed)
        for (int g = 0; g < s->ngroup; g++)
            s->gtypes[g] = b->cols[gidx[g]].type;
    s->typed = rc == 0 ? true : s->typed;
    struct px_buf key;
    px_buf_init(&key, 1 << 20);
    for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
        px_buf_reset(&key);
        rc = px_batch_row_key(b, gidx, (size_t)s->ngroup, r, &key);
        if (rc < 0) {
            rc = px_error_set(err, PX_ETOOLARGE, "the group key is over 1 MiB");
            rc = px__row_error(b, r, err);
            break;
        }
        if (s->ngroups >= PX_AGG_MAX_GROUPS) {
            rc = px_error_set(err, PX_ETOOLARGE, "more than %d groups", PX_AGG_MAX_GROUPS);
            break;
        }
        int64_t gi = agg_group(s, key.data ? key.data : "", key.len, b, gidx, r);
        if (s->pending >= (1 << 20) && s->mem) { /* long keys: check within the batch */
            px_mem_add(s->mem, s->pending);
            s->pending = 0;
            if (px_budget_over(s->mem->run)) {
                rc = px_mem_error(s->mem, "groups", err);
                break;
            }
        }
        for (int a = 0; a < s->naggs && rc == 0; a++) {
            struct acc *ac = &s->accs[gi * s->naggs + a];
            struct aggdef *d = &s->aggs[a];
            if (aidx[a] < 0) {
                ac->count++;
                continue;
            }
            const struct px_column *c = &b->cols[aidx[a]];
            if (px_batch_is_null(c, r))
                continue;
            ac->count++;
            if (d->fn == AGG_SUM || d->fn == AGG_AVG) {
                if (c->type == PX_COL_INT) {
                    ac->fsum += (double)c->v.i[r];
                    if (__builtin_add_overflow(ac->isum, c->v.i[r], &ac->isum) &&
                        d->fn == AGG_SUM) {
                        px_error_set(err, PX_EINVALID,
                                     "sum of '%.200s' overflows a 64-bit integer; cast it to "
                                     "float first",
                                     d->column);
                        rc = px__row_error(b, r, err);
                    }
                } else {
                    ac->fsum += c->v.f[r];
                }
            } else if (d->fn == AGG_MIN || d->fn == AGG_MAX) {
                struct px_value v;
                px_batch_get(b, aidx[a], r, &v);
                int cmp = ac->count == 1 ? 0 : cmp_values(&v, &ac->mm);
                if (ac->count == 1 || (d->fn == AGG_MIN ? cmp < 0 : cmp > 0)) {
                    if (ac->mm.type == PX_VAL_STRING)
                        s->pending -= (int64_t)strlen(ac->mm.s) + 17;
                    px_value_clear(&ac->mm);
                    ac->mm = v;
                    if (v.type == PX_VAL_STRING) {
                        ac->mm.s = px_xstrdup(v.s);
                        s->pending += (int64_t)strlen(v.s) + 17;
                    }
                }
            }
        }
    }
    px_buf_cleanup(&key);
    free(gidx);
    free(aidx);
    px_mem_add(s->mem, s->pending); /* the executor checks the budget after this call */
    s->pending = 0;
    if (rc == 0)
        b->nrows = 0; /* consumed: the executor drops the empty batch */
    return rc;
}

static int agg_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct aggop *s = state;
    *out = NULL;
    if (!s->finished) {
        s->finished = true;
        if (s->ngroup == 0 && s->ngroups == 0)
            agg_group(s, "", 0, NULL, NULL, 0); /* SQL: one row over no rows */
    }
    if (s->emitted >= s->ngroups)
        return 0;
    int64_t n = s->ngroups - s->emitted;
    if (n > s->batch_rows)
        n = s->batch_rows;
    struct px_batch *o = px_batch_create(s->batch_rows);
    o->first_row = s->emitted + 1;
    for (int g = 0; g < s->ngroup; g++)
        px_batch_add_column(o, s->group_by[g], s->gtypes[g]);
    for (int a = 0; a < s->naggs; a++) {
        const struct aggdef *d = &s->aggs[a];
        enum px_col_type t = d->in_type;
        if (d->fn == AGG_COUNT)
            t = PX_COL_INT;
        else if (d->fn == AGG_AVG)
            t = PX_COL_FLOAT;
        if (px_batch_find(o, d->as) >= 0) {
            px_batch_destroy(o);
            return px_error_set(err, PX_EINVALID,
                                "two output columns are named '%.200s'; set \"as\" to tell them "
                                "apart",
                                d->as);
        }
        px_batch_add_column(o, d->as, t);
    }
    for (int64_t r = 0; r < n; r++) {
        int64_t gi = s->emitted + r;
        for (int g = 0; g < s->ngroup; g++) {
            int rc = px_batch_set(o, g, r, &s->gvals[gi * s->ngroup + g], err);
            if (rc < 0) {
                px_batch_destroy(o);
                return rc;
            }
        }
        for (int a = 0; a < s->naggs; a++) {
            const struct acc *ac = &s->accs[gi * s->naggs + a];
            struct px_column *c = &o->cols[s->ngroup + a];
            int64_t row = r;
            enum agg_fn fn = s->aggs[a].fn;
            if (fn == AGG_COUNT) {
                c->v.i[row] = ac->count;
            } else if (ac->count == 0) {
                continue; /* NULL */
            } else if (fn == AGG_SUM && c->type == PX_COL_INT) {
                c->v.i[row] = ac->isum;
            } else if (fn == AGG_SUM) {
                c->v.f[row] = ac->fsum;
            } else if (fn == AGG_AVG) {
                c->v.f[row] = ac->fsum / (double)ac->count;
            } else {
                int rc = px_batch_set(o, s->ngroup + a, row, &ac->mm, err);
                if (rc < 0) {
                    px_batch_destroy(o);
                    return rc;
                }
                continue;
            }
            px_batch_set_null(c, row, false);
        }
    }
    o->nrows = n;
    s->emitted += n;
    *out = o;
    return 0;
}

const struct px_operator px__op_aggregate = {
    1,         "aggregate", "Groups rows and computes count/sum/avg/min/max per group",
    agg_open,  agg_process, agg_close,
    agg_finish};

/* ---- dedupe with keep last or order_by (engine/operators/ops.c streams keep first without
 * order_by) ---- One winning row per key, stored in chunks of batch_rows rows indexed by the key's
 * order of first appearance (which is also the output order); memory grows with the number of
 * distinct keys (at most PX_AGG_MAX_GROUPS), not with the input (but a replaced row's
 * strings stay in its chunk's arena until the end). With order_by, keep first
 * keeps the row with the smallest order_by value (NULL smallest; the earliest row on ties) and
 * keep last the largest (the latest row on ties); without it, keep last keeps the latest row. */

struct dlast {
    char **key_cols;
    int nkeys;
    char *order_by;
    bool last;
    char **keys; /* encoded keys by group */
    int64_t ngroups, keys_cap;
    int64_t *slots;
    size_t nslots;
    struct px_batch *schema; /* the first batch's columns (no rows) */
    struct px_batch **chunks;
    int nchunks;
    int64_t chunk_rows;
    int emitted;
    struct px_mem *mem; /* keys, slots and the winning rows' chunks */
};

int px__dedupe_last_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct dlast *s = px_xcalloc(1, sizeof(*s));
    struct json_object *keys = px_json_get(ctx->config, "keys");
    s->nkeys = (int)json_object_array_length(keys);
    s->key_cols = px_xcalloc((size_t)s->nkeys, sizeof(char *));
    for (int k = 0; k < s->nkeys; k++)
        s->key_cols[k] =
            px_xstrdup(json_object_get_string(json_object_array_get_idx(keys, (size_t)k)));
    const char *ob = px_json_get_str(ctx->config, "order_by");
    s->order_by = ob ? px_xstrdup(ob) : NULL;
    const char *keep = px_json_get_str(ctx->config, "keep");
    s->last = keep && strcmp(keep, "last") == 0;
    s->nslots = 1024;
    s->slots = px_xcalloc(s->nslots, sizeof(int64_t));
    s->chunk_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    *state_out = s;
    return 0;
}

void px__dedupe_last_close(void *state)
{
    struct dlast *s = state;
    if (!s)
        return;
    for (int k = 0; k < s->nkeys; k++)
        free(s->key_cols[k]);
    free(s->key_cols);
    free(s->order_by);
    for (int64_t i = 0; i < s->ngroups; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->slots);
    px_batch_destroy(s->schema);
    for (int i = s->emitted; i < s->nchunks; i++)
        px_batch_destroy(s->chunks[i]);
    free(s->chunks);
    free(s);
}

/* The group of key; *created when it is new. */
static int64_t dlast_group(struct dlast *s, const char *key, size_t len, bool *created)
{
    size_t j = key_hash(key, len) & (s->nslots - 1);
    *created = false;
    while (s->slots[j]) {
        const char *k = s->keys[s->slots[j] - 1];
        uint32_t l;
        memcpy(&l, k, 4);
        if (l == len && memcmp(k + 4, key, len) == 0)
            return s->slots[j] - 1;
        j = (j + 1) & (s->nslots - 1);
    }
    if (s->ngroups == s->keys_cap) {
        s->keys_cap = s->keys_cap ? s->keys_cap * 2 : 64;
        s->keys = px_xrealloc(s->keys, (size_t)s->keys_cap * sizeof(char *));
    }
    int64_t gi = s->ngroups++;
    char *k = px_xmalloc(len + 4);
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    s->keys[gi] = k;
    s->slots[j] = gi + 1;
    *created = true;
    if ((size_t)s->ngroups * 2 > s->nslots) {
        px_mem_add(s->mem, (int64_t)(s->nslots * sizeof(int64_t))); /* the table doubles */
        grow_slots(&s->slots, &s->nslots, s->keys, s->ngroups);
    }
    return gi;
}

static int dlast_schema(struct dlast *s, const struct px_batch *b, struct px_error *err)
{
    if (!s->schema) {
        s->schema = px_batch_create(1);
        for (int i = 0; i < b->ncols; i++)
            px_batch_add_column(s->schema, b->cols[i].name, b->cols[i].type);
        return 0;
    }
    bool same = b->ncols == s->schema->ncols;
    for (int i = 0; same && i < b->ncols; i++)
        same = strcmp(b->cols[i].name, s->schema->cols[i].name) == 0 &&
               b->cols[i].type == s->schema->cols[i].type;
    if (!same)
        return px_error_set(err, PX_EINVALID, "the input's columns changed between batches");
    return 0;
}

int px__dedupe_last_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct dlast *s = state;
    int rc = 0;
    int *kidx = px_xcalloc((size_t)s->nkeys, sizeof(int));
    for (int k = 0; k < s->nkeys && rc == 0; k++)
        if ((kidx[k] = px_batch_find(b, s->key_cols[k])) < 0)
            rc = px__no_column(b, s->key_cols[k], err);
    int oc = -1;
    if (rc == 0 && s->order_by && (oc = px_batch_find(b, s->order_by)) < 0)
        rc = px__no_column(b, s->order_by, err);
    if (rc == 0)
        rc = dlast_schema(s, b, err);
    struct px_buf key;
    px_buf_init(&key, 1 << 20);
    for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
        px_buf_reset(&key);
        rc = px_batch_row_key(b, kidx, (size_t)s->nkeys, r, &key);
        if (rc < 0) {
            px_error_set(err, PX_ETOOLARGE, "the dedupe key is over 1 MiB");
            rc = px__row_error(b, r, err);
            break;
        }
        if (s->ngroups >= PX_AGG_MAX_GROUPS) {
            rc = px_error_set(err, PX_ETOOLARGE, "more than %d distinct keys", PX_AGG_MAX_GROUPS);
            break;
        }
        bool created;
        int64_t gi = dlast_group(s, key.data ? key.data : "", key.len, &created);
        int ch = (int)(gi / s->chunk_rows);
        int64_t cr = gi % s->chunk_rows;
        if (created && ch == s->nchunks) {
            s->chunks = px_xrealloc(s->chunks, (size_t)(s->nchunks + 1) * sizeof(*s->chunks));
            struct px_batch *nb = px_batch_create(s->chunk_rows);
            for (int i = 0; i < s->schema->ncols; i++)
                px_batch_add_column(nb, s->schema->cols[i].name, s->schema->cols[i].type);
            nb->first_row = gi + 1;
            px_batch_account(nb, s->mem);
            s->chunks[s->nchunks++] = nb;
        }
        if (created) /* the key (twice: the keys array doubles) and its slot */
            px_mem_add(s->mem, (int64_t)(key.len + 4 + 16) + 32);
        struct px_batch *dst = s->chunks[ch];
        if (!created) {
            bool win;
            if (oc >= 0) {
                int c = cmp_cells(&b->cols[oc], r, &dst->cols[oc], cr);
                win = s->last ? c >= 0 : c < 0;
            } else {
                win = s->last;
            }
            if (!win)
                continue;
        } else {
            dst->nrows = cr + 1;
        }
        for (int i = 0; i < b->ncols; i++) {
            px_batch_set_null(&dst->cols[i], cr, true);
            px_batch_copy_cell(dst, i, cr, b, i, r);
        }
        px_batch_account(dst, s->mem);
    }
    px_buf_cleanup(&key);
    free(kidx);
    if (rc == 0)
        b->nrows = 0;
    return rc;
}

int px__dedupe_last_finish(void *state, struct px_batch **out, struct px_error *err)
{
    (void)err;
    struct dlast *s = state;
    *out = s->emitted < s->nchunks ? s->chunks[s->emitted++] : NULL;
    return 0;
}
