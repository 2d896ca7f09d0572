/*
 * aggregate (a blocking operator, exec_int.h). It keeps one hash-table entry per group (up to
 * PX_AGG_MAX_GROUPS), not the rows; its output has one row per group in order of first appearance:
 * the group_by columns, then the aggregates. count counts rows (no column) or non-NULL values; sum
 * is integer for integer input (an overflow fails) and float otherwise; avg is float; min/max keep
 * the input type. NULLs are skipped; an aggregate over only NULLs is NULL (count: 0). With no
 * group_by and no input rows the output is one row (count 0, the rest NULL), as in SQL.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"
#include "engine/operators/groups.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

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
    struct px_groups groups;
    struct px_value *gvals; /* ngroup per group; strings owned */
    struct acc *accs;       /* naggs per group */
    int64_t vals_cap;       /* groups gvals and accs have room for */
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
    px_groups_init(&s->groups);
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
    for (int64_t i = 0; i < s->groups.n; i++) {
        for (int g = 0; g < s->ngroup; g++)
            px_value_clear(&s->gvals[i * s->ngroup + g]);
        for (int a = 0; a < s->naggs; a++)
            px_value_clear(&s->accs[i * s->naggs + a].mm);
    }
    px_groups_cleanup(&s->groups);
    free(s->gvals);
    free(s->accs);
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

/* The group of key, created (with its values taken from row r) when new. */
static int64_t agg_group(struct aggop *s, const char *key, size_t len, const struct px_batch *b,
                         const int *gidx, int64_t r)
{
    bool created;
    int64_t grown;
    int64_t gi = px_groups_find_add(&s->groups, key, len, &created, &grown);
    if (!created)
        return gi;
    if (gi == s->vals_cap) {
        s->vals_cap = s->vals_cap ? s->vals_cap * 2 : 64;
        s->gvals =
            px_xrealloc(s->gvals, (size_t)(s->vals_cap * s->ngroup + 1) * sizeof(struct px_value));
        s->accs = px_xrealloc(s->accs, (size_t)(s->vals_cap * s->naggs + 1) * sizeof(struct acc));
    }
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
    s->pending += grown;
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
        if ((d->fn == AGG_SUM || d->fn == AGG_AVG) && !px_col_numeric(t))
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
        if (s->groups.n >= PX_AGG_MAX_GROUPS) {
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
        if (s->ngroup == 0 && s->groups.n == 0)
            agg_group(s, "", 0, NULL, NULL, 0); /* SQL: one row over no rows */
    }
    if (s->emitted >= s->groups.n)
        return 0;
    int64_t n = s->groups.n - s->emitted;
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
