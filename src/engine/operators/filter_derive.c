/*
 * filter and derive (exec_int.h): the streaming operators that evaluate an expression
 * (engine/expr) on every row. filter keeps the rows whose condition is true; derive adds or
 * replaces a column with the expression's value. Each edits the batch in place.
 */
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"

#include <string.h>
#include <stdlib.h>

/* ---- expression rows ---- */

/* One per batch: the row being evaluated, and the column indexes already looked up, by the
 * address of the name the expression passes (stable for the tree's lifetime). */
#define LOOKUP_CACHE 8

struct rowctx {
    const struct px_batch *b;
    int64_t row;
    int ncache;
    const char *names[LOOKUP_CACHE];
    int idx[LOOKUP_CACHE];
};

static int row_lookup(void *ctx, const char *column, struct px_value *out)
{
    struct rowctx *r = ctx;
    int c = -1;
    for (int k = 0; k < r->ncache && c < 0; k++)
        if (r->names[k] == column)
            c = r->idx[k];
    if (c < 0) {
        c = px_batch_find(r->b, column);
        if (c < 0)
            return -PX_ENOTFOUND;
        if (r->ncache < LOOKUP_CACHE) {
            r->names[r->ncache] = column;
            r->idx[r->ncache++] = c;
        }
    }
    px_batch_get(r->b, c, r->row, out);
    return 0;
}

/* Filter memo: a condition over a single column is a function of that column's value (now()
 * is fixed for the run and every function is deterministic), so its outcome is remembered per
 * distinct value while there are few of them (status = 'paid' over millions of rows); past
 * MEMO_MAX distinct values the memo is dropped for the rest of the run. */
#define MEMO_MAX 64
#define MEMO_SLOTS 128

struct memo_ent {
    bool used, keep;
    enum px_col_type type;
    bool null;
    int64_t bits; /* INT, TIMESTAMP, BOOL; a FLOAT's bit pattern */
    char *s;      /* STRING, owned */
};

struct exprop {
    struct px_expr *expr;
    char *column; /* derive */
    int64_t now_us;
    bool typed; /* derive: the output type is fixed */
    enum px_col_type type;
    char *memo_col; /* filter: the only column the condition reads, or NULL */
    bool memo_off;
    int nmemo;
    struct memo_ent *memo; /* MEMO_SLOTS, allocated on first use */
};

static int expr_open(const struct px_node_ctx *ctx, const char *prop, void **state_out,
                     struct px_error *err)
{
    struct exprop *s = px_xcalloc(1, sizeof(*s));
    int rc = px_expr_parse(px_json_get_str(ctx->config, prop), &s->expr, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    const char *col = px_json_get_str(ctx->config, "column");
    s->column = col ? px_xstrdup(col) : NULL;
    s->now_us = ctx->opts->now_us;
    *state_out = s;
    return 0;
}

static void expr_close(void *state)
{
    struct exprop *s = state;
    if (!s)
        return;
    px_expr_free(s->expr);
    free(s->column);
    free(s->memo_col);
    for (int k = 0; s->memo && k < MEMO_SLOTS; k++)
        free(s->memo[k].s);
    free(s->memo);
    free(s);
}

struct colcount {
    int n;
    const char *first;
};

static void count_column(void *ctx, const char *column)
{
    struct colcount *c = ctx;
    if (c->n++ == 0)
        c->first = column;
}

static int filter_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    int rc = expr_open(ctx, "condition", state_out, err);
    if (rc < 0)
        return rc;
    struct exprop *s = *state_out;
    struct colcount cc = {0};
    px_expr_columns(s->expr, count_column, &cc);
    if (cc.n == 1)
        s->memo_col = px_xstrdup(cc.first);
    return 0;
}

/* The memo slot for cell (col, row): the entry holding its value, or the empty slot where it
 * goes. */
static struct memo_ent *memo_slot(struct exprop *s, const struct px_column *c, int64_t row)
{
    bool null = px_batch_is_null(c, row);
    int64_t bits = 0;
    const char *str = NULL;
    uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t)(c->type + 1);
    if (null) {
        h ^= 0xff;
    } else if (c->type == PX_COL_STRING) {
        str = c->v.s[row];
        for (const unsigned char *p = (const unsigned char *)str; *p; p++)
            h = (h ^ *p) * 0x100000001b3ull;
    } else {
        if (c->type == PX_COL_FLOAT)
            memcpy(&bits, &c->v.f[row], 8);
        else if (c->type == PX_COL_BOOL)
            bits = c->v.b[row];
        else
            bits = c->v.i[row];
        h = ((uint64_t)bits ^ h) * 0xd6e8feb86659fd93ull;
    }
    h ^= h >> 32;
    for (size_t j = h % MEMO_SLOTS;; j = (j + 1) % MEMO_SLOTS) {
        struct memo_ent *e = &s->memo[j];
        if (!e->used)
            return e;
        if (e->type != c->type || e->null != null)
            continue;
        if (null || (str ? strcmp(e->s, str) == 0 : e->bits == bits))
            return e;
    }
}

static void memo_fill(struct exprop *s, struct memo_ent *e, const struct px_column *c, int64_t row,
                      bool keep)
{
    if (s->nmemo >= MEMO_MAX) {
        s->memo_off = true;
        return;
    }
    e->used = true;
    e->keep = keep;
    e->type = c->type;
    e->null = px_batch_is_null(c, row);
    if (!e->null && c->type == PX_COL_STRING)
        e->s = px_xstrdup(c->v.s[row]);
    else if (!e->null && c->type == PX_COL_FLOAT)
        memcpy(&e->bits, &c->v.f[row], 8);
    else if (!e->null)
        e->bits = c->type == PX_COL_BOOL ? c->v.b[row] : c->v.i[row];
    s->nmemo++;
}

static int filter_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct exprop *s = state;
    bool *keep = px_xcalloc((size_t)b->nrows + 1, sizeof(bool));
    int rc = 0;
    struct rowctx rc_ = {.b = b};
    int mc = s->memo_col && !s->memo_off ? px_batch_find(b, s->memo_col) : -1;
    if (mc >= 0 && !s->memo)
        s->memo = px_xcalloc(MEMO_SLOTS, sizeof(*s->memo));
    for (int64_t r = 0; r < b->nrows; r++) {
        struct memo_ent *e = NULL;
        if (mc >= 0 && !s->memo_off) {
            e = memo_slot(s, &b->cols[mc], r);
            if (e->used) {
                keep[r] = e->keep;
                continue;
            }
        }
        rc_.row = r;
        struct px_value v;
        rc = px_expr_eval(s->expr, row_lookup, &rc_, s->now_us, &v, err);
        if (rc < 0) {
            rc = px__row_error(b, r, err);
            break;
        }
        if (v.type != PX_VAL_BOOL && v.type != PX_VAL_NULL) {
            px_value_clear(&v);
            px_error_set(err, PX_EINVALID, "the condition is not a boolean");
            rc = px__row_error(b, r, err);
            break;
        }
        keep[r] = v.type == PX_VAL_BOOL && v.b;
        if (e)
            memo_fill(s, e, &b->cols[mc], r, keep[r]);
    }
    if (rc == 0)
        px_batch_compact(b, keep);
    free(keep);
    return rc;
}

static int derive_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return expr_open(ctx, "expression", state_out, err);
}

static enum px_col_type col_type_of(enum px_value_type t)
{
    switch (t) {
    case PX_VAL_INT:
        return PX_COL_INT;
    case PX_VAL_FLOAT:
        return PX_COL_FLOAT;
    case PX_VAL_BOOL:
        return PX_COL_BOOL;
    case PX_VAL_TIMESTAMP:
        return PX_COL_TIMESTAMP;
    default:
        return PX_COL_STRING;
    }
}

static int derive_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct exprop *s = state;
    struct px_value *vals = px_xcalloc((size_t)b->nrows + 1, sizeof(*vals));
    int rc = 0;
    int64_t done = 0;
    struct rowctx rc_ = {.b = b};
    for (; done < b->nrows; done++) {
        rc_.row = done;
        rc = px_expr_eval(s->expr, row_lookup, &rc_, s->now_us, &vals[done], err);
        if (rc < 0) {
            rc = px__row_error(b, done, err);
            break;
        }
        if (vals[done].type == PX_VAL_INTERVAL) {
            px_error_set(err, PX_EINVALID, "an interval cannot be stored in a column");
            rc = px__row_error(b, done, err);
            break;
        }
    }
    if (rc == 0 && !s->typed) {
        bool any_float = false;
        for (int64_t r = 0; r < b->nrows; r++)
            if (vals[r].type != PX_VAL_NULL) {
                if (!s->typed)
                    s->type = col_type_of(vals[r].type);
                s->typed = true;
                any_float |= vals[r].type == PX_VAL_FLOAT;
            }
        if (s->typed && s->type == PX_COL_INT && any_float)
            s->type = PX_COL_FLOAT;
        if (!s->typed)
            s->type = PX_COL_STRING; /* all NULL so far */
    }
    if (rc == 0) {
        /* Build the new column at the end, then move it into the old one's place. */
        int old = px_batch_find(b, s->column);
        int c = px_batch_add_column(b, s->column, s->type);
        for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
            rc = px_batch_set(b, c, r, &vals[r], err);
            if (rc < 0)
                rc = px__row_error(b, r, err);
        }
        if (rc == 0 && old >= 0) {
            struct px_column tmp = b->cols[c];
            b->cols[c] = b->cols[old];
            b->cols[old] = tmp;
            px_batch_remove_column(b, c);
        }
    }
    for (int64_t r = 0; r < done; r++)
        px_value_clear(&vals[r]);
    free(vals);
    return rc;
}

const struct px_operator px__op_filter = {
    1,          "filter", "Keeps rows where a condition is true", filter_open, filter_process,
    expr_close, NULL};
const struct px_operator px__op_derive = {
    1,          "derive", "Adds or replaces a computed column", derive_open, derive_process,
    expr_close, NULL};
