/*
 * Streaming operators over batches (exec_int.h): filter, derive, select, drop, rename, limit
 * and dedupe (keep first; keep last and order_by hand over to engine/operators/ops_block.c). Each
 * edits the batch in place.
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

int px__row_error(const struct px_batch *b, int64_t row, struct px_error *err)
{
    char msg[sizeof(err->message)];
    snprintf(msg, sizeof(msg), "row %lld: %.480s", (long long)(b->first_row + row), err->message);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return -PX_EINVALID;
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

/* ---- column shaping ---- */

struct colop {
    struct json_object *config; /* borrowed for the run */
};

static int colop_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct colop *s = px_xcalloc(1, sizeof(*s));
    s->config = ctx->config;
    *state_out = s;
    return 0;
}

static void colop_close(void *state)
{
    free(state);
}

int px__no_column(const struct px_batch *b, const char *name, struct px_error *err)
{
    struct px_buf names;
    px_buf_init(&names, 400);
    for (int i = 0; i < b->ncols; i++)
        if (px_buf_printf(&names, "%s%s", i ? ", " : "", b->cols[i].name) < 0)
            break;
    px_error_set(err, PX_EINVALID, "column '%s' not found (columns: %s)", name,
                 names.data ? names.data : "none");
    px_buf_cleanup(&names);
    return -PX_EINVALID;
}

static int select_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    /* Check first, then reorder: wanted columns move to the front in order. */
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        int i = px_batch_find(b, name);
        if ((size_t)i != k) {
            struct px_column tmp = b->cols[i];
            memmove(&b->cols[k + 1], &b->cols[k], (size_t)(i - (int)k) * sizeof(*b->cols));
            b->cols[k] = tmp;
        }
    }
    while ((size_t)b->ncols > n)
        px_batch_remove_column(b, b->ncols - 1);
    return 0;
}

static int drop_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++)
        px_batch_remove_column(
            b, px_batch_find(b, json_object_get_string(json_object_array_get_idx(cols, k))));
    return 0;
}

static int rename_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *map = px_json_get(s->config, "mapping");
    int *idx = px_xcalloc((size_t)json_object_object_length(map) + 1, sizeof(int));
    int k = 0, rc = 0;
    json_object_object_foreach(map, from, to)
    {
        (void)to;
        idx[k] = px_batch_find(b, from);
        if (idx[k] < 0) {
            rc = px__no_column(b, from, err);
            goto out;
        }
        k++;
    }
    k = 0;
    json_object_object_foreach(map, from2, to2)
    {
        (void)from2;
        free(b->cols[idx[k]].name);
        b->cols[idx[k]].name = px_xstrdup(json_object_get_string(to2));
        k++;
    }
    for (int i = 0; i < b->ncols; i++)
        for (int j = i + 1; j < b->ncols; j++)
            if (strcmp(b->cols[i].name, b->cols[j].name) == 0) {
                rc = px_error_set(err, PX_EINVALID,
                                  "renaming makes two columns named '%s'; drop one first",
                                  b->cols[i].name);
                goto out;
            }
out:
    free(idx);
    return rc;
}

struct limitop {
    int64_t left;
};

static int limit_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct limitop *s = px_xcalloc(1, sizeof(*s));
    s->left = px_json_get_int(ctx->config, "count", 0);
    *state_out = s;
    return 0;
}

static int limit_process(void *state, struct px_batch *b, struct px_error *err)
{
    (void)err;
    struct limitop *s = state;
    if (b->nrows > s->left) {
        bool *keep = px_xcalloc((size_t)b->nrows, sizeof(bool));
        for (int64_t r = 0; r < s->left; r++)
            keep[r] = true;
        px_batch_compact(b, keep);
        free(keep);
    }
    s->left -= b->nrows;
    return 0;
}

/* ---- dedupe: an open-addressing set of encoded keys ---- */

/* A slot holds a key's 64-bit hash (0 = empty; a real 0 is stored as 1) and the key, kept in
 * arena blocks as a 4-byte length followed by its bytes; probes compare hashes before keys. */
struct dslot {
    uint64_t h;
    const char *k;
};

struct dblock {
    struct dblock *next;
    size_t used, size;
    char data[];
};

#define DEDUPE_BLOCK (1u << 20)

struct dedupeop {
    struct dslot *slots;
    size_t cap, count;
    struct dblock *keys; /* the newest block first */
    struct json_object *columns;
    size_t max_keys; /* memory bound */
    void *last; /* keep last / order_by: the blocking variant in engine/operators/ops_block.c */
    /* One integer key column: the set holds the int64 values themselves (8-byte slots, 0 an
     * empty slot, the value 0 remembered in has_zero) for as long as every key is a non-NULL
     * value of one integer-like column type; the first other key moves them all into the
     * general set above (int_mode false from then on). */
    bool int_mode, has_zero;
    int int_type; /* -1 until the first batch */
    int64_t *ints;
    size_t icap, icount;
    struct px_mem *mem;   /* the slots, key blocks and ints are charged here */
    struct px_error *err; /* where a refused reservation is reported, during process */
};

#define DEDUPE_MAX_KEYS 50000000

static int dedupe_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *keep = px_json_get_str(ctx->config, "keep");
    struct dedupeop *s = px_xcalloc(1, sizeof(*s));
    if ((keep && strcmp(keep, "first") != 0) || px_json_get(ctx->config, "order_by")) {
        int rc = px__dedupe_last_open(ctx, &s->last, err);
        if (rc < 0) {
            free(s);
            return rc;
        }
        *state_out = s;
        return 0;
    }
    s->columns = px_json_get(ctx->config, "keys");
    s->int_mode = json_object_array_length(s->columns) == 1;
    s->int_type = -1;
    s->cap = 1024;
    s->slots = px_xcalloc(s->cap, sizeof(*s->slots));
    s->max_keys = DEDUPE_MAX_KEYS;
    s->mem = ctx->mem;
    px_mem_add(s->mem, (int64_t)(s->cap * sizeof(*s->slots)));
    *state_out = s;
    return 0;
}

static void dedupe_close(void *state)
{
    struct dedupeop *s = state;
    if (!s)
        return;
    px__dedupe_last_close(s->last);
    struct dblock *k = s->keys;
    while (k) {
        struct dblock *next = k->next;
        free(k);
        k = next;
    }
    free(s->slots);
    free(s->ints);
    free(s);
}

/* 64-bit multiply-xorshift over 8-byte words; never 0. */
static uint64_t hash(const char *p, size_t n)
{
    const uint64_t m = 0x9e3779b97f4a7c15ull;
    uint64_t h = 0x243f6a8885a308d3ull ^ (n * m);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * m;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    h = (h ^ w) * m;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h ? h : 1;
}

/* The stored copy of a key, or NULL when its block does not fit the memory budget. */
static const char *key_store(struct dedupeop *s, const char *key, size_t len)
{
    struct dblock *b = s->keys;
    if (!b || b->size - b->used < len + 4) {
        size_t size = len + 4 > DEDUPE_BLOCK ? len + 4 : DEDUPE_BLOCK;
        if (px_mem_reserve(s->mem, (int64_t)(sizeof(*b) + size), "distinct keys", s->err) < 0)
            return NULL;
        b = px_xmalloc(sizeof(*b) + size);
        b->size = size;
        b->used = 0;
        b->next = s->keys;
        s->keys = b;
    }
    char *k = b->data + b->used;
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    b->used += len + 4;
    return k;
}

static int set_grow(struct dedupeop *s)
{
    size_t ncap = s->cap * 2;
    int rc =
        px_mem_reserve(s->mem, (int64_t)(ncap * sizeof(struct dslot)), "distinct keys", s->err);
    if (rc < 0)
        return rc;
    struct dslot *ns = px_xcalloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].h)
            continue;
        size_t j = s->slots[i].h & (ncap - 1);
        while (ns[j].h)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    free(s->slots);
    px_mem_sub(s->mem, (int64_t)(s->cap * sizeof(struct dslot)));
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

/* Inserts a key of hash h: 1 when it was not in the set yet, 0 when it was, or -PX_ETOOLARGE
 * (s->err set) when the set would pass the memory budget. */
static int set_insert(struct dedupeop *s, uint64_t h, const char *key, size_t len)
{
    int rc;
    if ((s->count + 1) * 4 > s->cap * 3 && (rc = set_grow(s)) < 0) /* load factor <= 3/4 */
        return rc;
    size_t j = h & (s->cap - 1);
    while (s->slots[j].h) {
        if (s->slots[j].h == h) {
            uint32_t l;
            memcpy(&l, s->slots[j].k, 4);
            if (l == len && memcmp(s->slots[j].k + 4, key, len) == 0)
                return 0;
        }
        j = (j + 1) & (s->cap - 1);
    }
    const char *k = key_store(s, key, len);
    if (!k)
        return -PX_ETOOLARGE;
    s->slots[j].h = h;
    s->slots[j].k = k;
    s->count++;
    return 1;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static int iset_grow(struct dedupeop *s)
{
    size_t ncap = s->icap ? s->icap * 2 : 1024;
    int rc = px_mem_reserve(s->mem, (int64_t)(ncap * sizeof(int64_t)), "distinct keys", s->err);
    if (rc < 0)
        return rc;
    int64_t *ni = px_xcalloc(ncap, sizeof(*ni));
    for (size_t i = 0; i < s->icap; i++) {
        if (!s->ints[i])
            continue;
        size_t j = mix64((uint64_t)s->ints[i]) & (ncap - 1);
        while (ni[j])
            j = (j + 1) & (ncap - 1);
        ni[j] = s->ints[i];
    }
    free(s->ints);
    px_mem_sub(s->mem, (int64_t)(s->icap * sizeof(int64_t)));
    s->ints = ni;
    s->icap = ncap;
    return 0;
}

/* 1 when v was not in the set yet, 0 when it was, or -PX_ETOOLARGE (budget). */
static int iset_insert(struct dedupeop *s, int64_t v, uint64_t h)
{
    if (v == 0) {
        bool fresh = !s->has_zero;
        s->has_zero = true;
        s->count += fresh;
        return fresh;
    }
    int rc;
    if ((s->icount + 1) * 4 > s->icap * 3 && (rc = iset_grow(s)) < 0)
        return rc;
    size_t j = h & (s->icap - 1);
    while (s->ints[j]) {
        if (s->ints[j] == v)
            return 0;
        j = (j + 1) & (s->icap - 1);
    }
    s->ints[j] = v;
    s->icount++;
    s->count++;
    return 1;
}

/* Leaves integer mode: every value goes into the general set, encoded as px_batch_row_key
 * would encode it. 0, or -PX_ETOOLARGE (budget). */
static int iset_migrate(struct dedupeop *s)
{
    s->int_mode = false;
    s->count = 0;
    char key[9];
    key[0] = (char)('a' + s->int_type);
    for (size_t i = 0; i <= s->icap; i++) {
        int64_t v;
        if (i == s->icap) {
            if (!s->has_zero)
                break;
            v = 0;
        } else if (!(v = s->ints[i])) {
            continue;
        }
        memcpy(key + 1, &v, 8);
        int rc = set_insert(s, hash(key, 9), key, 9);
        if (rc < 0)
            return rc;
    }
    free(s->ints);
    px_mem_sub(s->mem, (int64_t)(s->icap * sizeof(int64_t)));
    s->ints = NULL;
    s->icap = s->icount = 0;
    s->has_zero = false;
    return 0;
}

/* Dedupes b on its integer key column c in integer mode. */
static int iset_process(struct dedupeop *s, struct px_batch *b, const struct px_column *c,
                        bool *keep, struct px_error *err)
{
    size_t n = (size_t)b->nrows;
    uint64_t *hs = px_xcalloc(n + 1, sizeof(*hs));
    for (size_t r = 0; r < n; r++)
        hs[r] = mix64((uint64_t)c->v.i[r]);
    int rc = 0;
    if (!s->ints && (rc = iset_grow(s)) < 0) {
        free(hs);
        return rc;
    }
    enum { AHEAD = 8 };
    for (size_t r = 0; r < n; r++) {
        if (r + AHEAD < n)
            __builtin_prefetch(&s->ints[hs[r + AHEAD] & (s->icap - 1)]);
        if (s->count >= s->max_keys) {
            rc = px_error_set(err, PX_ETOOLARGE, "more than %zu distinct keys", s->max_keys);
            break;
        }
        int in = iset_insert(s, c->v.i[r], hs[r]);
        if (in < 0) {
            rc = in;
            break;
        }
        keep[r] = in;
    }
    free(hs);
    return rc;
}

static int dedupe_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct dedupeop *s = state;
    *out = NULL;
    return s->last ? px__dedupe_last_finish(s->last, out, err) : 0;
}

/* Encodes row's key like px_batch_row_key when every key column has a fixed width: returns
 * the length (at most 9 bytes a column), or 0 when a column is a string. */
static size_t fixed_key(const struct px_batch *b, const int *idx, size_t nk, int64_t row, char *out)
{
    size_t n = 0;
    for (size_t k = 0; k < nk; k++) {
        const struct px_column *c = &b->cols[idx[k]];
        if (c->type == PX_COL_STRING)
            return 0;
        if (px_batch_is_null(c, row)) {
            out[n++] = 'N';
            continue;
        }
        out[n++] = (char)('a' + c->type);
        if (c->type == PX_COL_BOOL) {
            out[n++] = (char)c->v.b[row];
        } else {
            memcpy(out + n,
                   c->type == PX_COL_FLOAT ? (const void *)&c->v.f[row]
                                           : (const void *)&c->v.i[row],
                   8);
            n += 8;
        }
    }
    return n;
}

static int dedupe_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct dedupeop *s = state;
    if (s->last)
        return px__dedupe_last_process(s->last, b, err);
    s->err = err;
    size_t nk = json_object_array_length(s->columns);
    int *idx = px_xcalloc(nk, sizeof(int));
    int rc = 0;
    for (size_t k = 0; k < nk; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        idx[k] = px_batch_find(b, name);
        if (idx[k] < 0) {
            rc = px__no_column(b, name, err);
            free(idx);
            return rc;
        }
    }
    bool *keep = px_xcalloc((size_t)b->nrows + 1, sizeof(bool));
    if (s->int_mode) {
        const struct px_column *c = &b->cols[idx[0]];
        bool fits = c->type == PX_COL_INT || c->type == PX_COL_TIMESTAMP;
        if (fits && s->int_type >= 0 && (int)c->type != s->int_type)
            fits = false;
        for (int64_t r = 0; fits && r < b->nrows; r++)
            fits = !px_batch_is_null(c, r);
        if (fits) {
            s->int_type = (int)c->type;
            rc = iset_process(s, b, c, keep, err);
            if (rc == 0)
                px_batch_compact(b, keep);
            free(keep);
            free(idx);
            return rc;
        }
        if (s->int_type >= 0 && (rc = iset_migrate(s)) < 0) {
            free(keep);
            free(idx);
            return rc;
        }
        s->int_mode = false;
    }
    /* Keys are encoded and hashed for the whole batch first, so that the slot of a row a few
     * rows ahead can be prefetched while the current one is probed (the set is far larger
     * than the caches). */
    size_t n = (size_t)b->nrows;
    uint64_t *hs = px_xcalloc(n + 1, sizeof(*hs));
    size_t *offs = px_xcalloc(n + 1, sizeof(*offs));
    struct px_buf keys, key;
    px_buf_init(&keys, (size_t)1 << 31);
    px_buf_init(&key, 1 << 20);
    char fixed[9 * 8];
    for (size_t r = 0; r < n && rc == 0; r++) {
        size_t len = nk <= 8 ? fixed_key(b, idx, nk, (int64_t)r, fixed) : 0;
        const char *kp = fixed;
        if (!len) {
            px_buf_reset(&key);
            rc = px_batch_row_key(b, idx, nk, (int64_t)r, &key);
            if (rc < 0) {
                rc = px_error_set(err, PX_ETOOLARGE, "row %lld: the dedupe key is over 1 MiB",
                                  (long long)(b->first_row + (int64_t)r));
                break;
            }
            kp = key.data ? key.data : "";
            len = key.len;
        }
        offs[r] = keys.len;
        if (px_buf_append(&keys, kp, len) < 0) {
            rc = px_error_set(err, PX_ETOOLARGE, "the dedupe keys of a batch exceed 2 GiB");
            break;
        }
        hs[r] = hash(kp, len);
    }
    offs[n] = keys.len;
    enum { AHEAD = 8 };
    for (size_t r = 0; r < n && rc == 0; r++) {
        if (r + AHEAD < n)
            __builtin_prefetch(&s->slots[hs[r + AHEAD] & (s->cap - 1)]);
        if (s->count >= s->max_keys) {
            rc = px_error_set(err, PX_ETOOLARGE, "more than %zu distinct keys", s->max_keys);
            break;
        }
        int in = set_insert(s, hs[r], keys.data + offs[r], offs[r + 1] - offs[r]);
        if (in < 0) {
            rc = in;
            break;
        }
        keep[r] = in;
    }
    free(hs);
    free(offs);
    px_buf_cleanup(&keys);
    px_buf_cleanup(&key);
    if (rc == 0)
        px_batch_compact(b, keep);
    free(keep);
    free(idx);
    return rc;
}

const struct px_operator px__op_filter = {
    1,          "filter", "Keeps rows where a condition is true", filter_open, filter_process,
    expr_close, NULL};
const struct px_operator px__op_derive = {
    1,          "derive", "Adds or replaces a computed column", derive_open, derive_process,
    expr_close, NULL};
const struct px_operator px__op_select = {
    1,           "select", "Keeps the listed columns, in order", colop_open, select_process,
    colop_close, NULL};
const struct px_operator px__op_drop = {
    1, "drop", "Removes the listed columns", colop_open, drop_process, colop_close, NULL};
const struct px_operator px__op_rename = {
    1, "rename", "Renames columns", colop_open, rename_process, colop_close, NULL};
const struct px_operator px__op_limit = {
    1, "limit", "Passes on the first count rows", limit_open, limit_process, colop_close, NULL};
const struct px_operator px__op_dedupe = {1,
                                          "dedupe",
                                          "Keeps the first row per key",
                                          dedupe_open,
                                          dedupe_process,
                                          dedupe_close,
                                          dedupe_finish};
