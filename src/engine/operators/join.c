/*
 * join (a blocking operator, exec_int.h): a hash join of two inputs on key columns. The left
 * input is the source of the node's first edge in the edges array, the right input the second
 * (px_node_ctx.input tells them apart).
 *
 * Both inputs are held in memory, each up to PX_JOIN_MAX_ROWS rows (past it the run fails
 * with a message naming the cap and the input). In finish a hash table is built over the
 * right input's keys, then the left rows are probed in input order; the matches of one left
 * row come out in the right input's order. The output has the left columns, then the right
 * columns (the key columns of both included); a right column whose name is already taken is
 * renamed "right_<name>" (prefixed again while still taken). type "left" keeps a left row
 * without a match once, with the right columns NULL. As in SQL, a NULL key never matches.
 * Keys compare by value: integers and floats numerically (1 = 1.0), strings bytewise; any
 * other pair of different key types fails naming the columns (cast one first). Within one
 * input, a column that is integer in one batch and float in another is widened to float.
 * An input that produced no rows contributes no columns (its schema is never seen).
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/exec_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define PX_JOIN_MAX_ROWS 1000000

static const char *const side_name[2] = {"left", "right"};

/* One input: its batches (taken whole) and the merged schema. */
struct side {
    struct px_batch **batches;
    int **colmap; /* per batch: schema column → batch column, or -1 (built in seal) */
    int **keymap; /* per batch: key k → batch column */
    int nb, nb_cap;
    int64_t rows;
    char **names;
    enum px_col_type *types;
    int ncols;
    char **keys; /* key column names */
};

struct joinop {
    const int *input;
    bool left_join;
    int nkeys;
    struct side s[2];
    int64_t batch_rows;
    bool built;
    int out_right0; /* output index of the first right column */
    char **out_names;
    /* hash table over the right rows: heads[h] / next[] are indexes into rrefs, or -1 */
    int32_t *rb;        /* right row ref: batch */
    int64_t *rr;        /* right row ref: row */
    uint64_t *rhash;    /* per right row */
    int64_t *next;      /* chain, in right input order */
    int64_t *heads;     /* nslots */
    uint64_t nslots;    /* a power of two */
    int lb;             /* cursor: left batch */
    int64_t lr;         /* cursor: left row */
    bool probing;       /* the cursor's row has been hashed */
    bool matched;       /* the cursor's row has matched at least once */
    int64_t j;          /* next right candidate for the cursor's row, or -1 */
    uint64_t lhash;     /* the cursor's row's key hash */
    int64_t emitted;    /* rows handed on */
    struct px_mem *mem; /* both inputs' batches and the hash table are charged here */
};

static int join_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    struct json_object *lk = px_json_get(ctx->config, "left_keys");
    struct json_object *rk = px_json_get(ctx->config, "right_keys");
    size_t nl = lk ? json_object_array_length(lk) : 0, nr = rk ? json_object_array_length(rk) : 0;
    if (nl == 0 || nl != nr)
        return px_error_set(err, PX_EINVALID,
                            "left_keys has %zu column(s) and right_keys %zu; they must match "
                            "by position",
                            nl, nr);
    if (!ctx->input)
        return px_error_set(err, PX_EINTERNAL, "join needs the executor's input index");
    const char *type = px_json_get_str(ctx->config, "type");
    struct joinop *s = px_xcalloc(1, sizeof(*s));
    s->input = ctx->input;
    s->left_join = type && strcmp(type, "left") == 0;
    s->nkeys = (int)nl;
    s->batch_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    for (int i = 0; i < 2; i++) {
        struct json_object *a = i ? rk : lk;
        s->s[i].keys = px_xcalloc(nl, sizeof(char *));
        for (size_t k = 0; k < nl; k++)
            s->s[i].keys[k] = px_xstrdup(json_object_get_string(json_object_array_get_idx(a, k)));
    }
    *state_out = s;
    return 0;
}

static void join_close(void *state)
{
    struct joinop *s = state;
    if (!s)
        return;
    for (int i = 0; i < 2; i++) {
        struct side *d = &s->s[i];
        for (int b = 0; b < d->nb; b++) {
            px_batch_destroy(d->batches[b]);
            free(d->colmap[b]);
            free(d->keymap[b]);
        }
        free(d->batches);
        free(d->colmap);
        free(d->keymap);
        for (int c = 0; c < d->ncols; c++)
            free(d->names[c]);
        free(d->names);
        free(d->types);
        for (int k = 0; k < s->nkeys; k++)
            free(d->keys[k]);
        free(d->keys);
    }
    if (s->out_names)
        for (int c = 0; c < s->s[0].ncols + s->s[1].ncols; c++)
            free(s->out_names[c]);
    free(s->out_names);
    free(s->rb);
    free(s->rr);
    free(s->rhash);
    free(s->next);
    free(s->heads);
    free(s);
}

static int missing_key(const struct px_batch *b, const char *name, int side, struct px_error *err)
{
    struct px_buf names;
    px_buf_init(&names, 400);
    for (int i = 0; i < b->ncols; i++)
        if (px_buf_printf(&names, "%s%s", i ? ", " : "", b->cols[i].name) < 0)
            break;
    px_error_set(err, PX_EINVALID, "key column '%.200s' not found in the %s input (columns: %s)",
                 name, side_name[side], names.data ? names.data : "none");
    px_buf_cleanup(&names);
    return -PX_EINVALID;
}

/* Takes b's rows (b is left empty) into its input's side. */
static int join_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct joinop *s = state;
    int side = *s->input;
    if (side < 0 || side > 1)
        return px_error_set(err, PX_EINVALID, "join takes exactly two inputs");
    struct side *d = &s->s[side];
    if (b->nrows == 0)
        return 0;
    int *keymap = px_xcalloc((size_t)s->nkeys, sizeof(int));
    for (int k = 0; k < s->nkeys; k++) {
        keymap[k] = px_batch_find(b, d->keys[k]);
        if (keymap[k] < 0) {
            free(keymap);
            return missing_key(b, d->keys[k], side, err);
        }
    }
    if (d->rows + b->nrows > PX_JOIN_MAX_ROWS) {
        free(keymap);
        return px_error_set(err, PX_ETOOLARGE,
                            "the %s input has more than %d rows, the join's in-memory cap per "
                            "input; filter or aggregate it first",
                            side_name[side], PX_JOIN_MAX_ROWS);
    }
    enum px_col_type was;
    int i = px_batch_merge_schema(&d->names, &d->types, &d->ncols, b, &was);
    if (i >= 0) {
        free(keymap);
        return px_error_set(err, PX_EINVALID,
                            "column '%.200s' of the %s input is %s in one batch and %s in "
                            "another; cast it first",
                            b->cols[i].name, side_name[side], px_col_type_name(was),
                            px_col_type_name(b->cols[i].type));
    }
    if (d->nb == d->nb_cap) {
        d->nb_cap = d->nb_cap ? d->nb_cap * 2 : 16;
        d->batches = px_xrealloc(d->batches, (size_t)d->nb_cap * sizeof(*d->batches));
        d->colmap = px_xrealloc(d->colmap, (size_t)d->nb_cap * sizeof(*d->colmap));
        d->keymap = px_xrealloc(d->keymap, (size_t)d->nb_cap * sizeof(*d->keymap));
    }
    struct px_batch *own = px_batch_take(b);
    px_batch_rehome(own, s->mem); /* held by the join from now on */
    d->batches[d->nb] = own;
    d->colmap[d->nb] = NULL;
    d->keymap[d->nb] = keymap;
    d->nb++;
    d->rows += own->nrows;
    return 0;
}

/* ---- keys ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* An integral float in int64 range, as an integer (so 1.0 hashes like 1). */
static bool float_as_int(double f, int64_t *out)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0) || f != floor(f))
        return false;
    *out = (int64_t)f;
    return true;
}

static uint64_t hash_cell(uint64_t h, const struct px_column *c, int64_t r)
{
    int64_t i;
    switch (c->type) {
    case PX_COL_INT:
        return fnv(fnv(h, "i", 1), &c->v.i[r], sizeof(int64_t));
    case PX_COL_FLOAT:
        if (float_as_int(c->v.f[r], &i))
            return fnv(fnv(h, "i", 1), &i, sizeof(i));
        return fnv(fnv(h, "f", 1), &c->v.f[r], sizeof(double));
    case PX_COL_TIMESTAMP:
        return fnv(fnv(h, "t", 1), &c->v.i[r], sizeof(int64_t));
    case PX_COL_BOOL:
        return fnv(fnv(h, "b", 1), &c->v.b[r], 1);
    case PX_COL_STRING:
        return fnv(fnv(h, "s", 1), c->v.s[r], strlen(c->v.s[r]) + 1);
    }
    return h;
}

/* Hash of a row's key, or false when a key is NULL (it never matches). */
static bool hash_key(const struct joinop *s, int side, int b, int64_t r, uint64_t *out)
{
    const struct side *d = &s->s[side];
    uint64_t h = 14695981039346656037ULL;
    for (int k = 0; k < s->nkeys; k++) {
        const struct px_column *c = &d->batches[b]->cols[d->keymap[b][k]];
        if (px_batch_is_null(c, r))
            return false;
        h = hash_cell(h, c, r);
    }
    *out = h;
    return true;
}

static bool cell_eq(const struct px_column *a, int64_t ra, const struct px_column *b, int64_t rb)
{
    if (a->type == PX_COL_FLOAT && b->type == PX_COL_FLOAT)
        return a->v.f[ra] == b->v.f[rb];
    if (a->type == PX_COL_FLOAT || b->type == PX_COL_FLOAT) {
        int64_t i = 0;
        double f = a->type == PX_COL_FLOAT ? a->v.f[ra] : b->v.f[rb];
        int64_t other = a->type == PX_COL_FLOAT ? b->v.i[rb] : a->v.i[ra];
        return float_as_int(f, &i) && i == other;
    }
    switch (a->type) {
    case PX_COL_INT:
    case PX_COL_TIMESTAMP:
        return a->v.i[ra] == b->v.i[rb];
    case PX_COL_BOOL:
        return a->v.b[ra] == b->v.b[rb];
    case PX_COL_STRING:
        return strcmp(a->v.s[ra], b->v.s[rb]) == 0;
    case PX_COL_FLOAT:
        break;
    }
    return false;
}

static bool keys_eq(const struct joinop *s, int lb, int64_t lr, int rb, int64_t rr)
{
    const struct side *l = &s->s[0], *r = &s->s[1];
    for (int k = 0; k < s->nkeys; k++)
        if (!cell_eq(&l->batches[lb]->cols[l->keymap[lb][k]], lr,
                     &r->batches[rb]->cols[r->keymap[rb][k]], rr))
            return false;
    return true;
}

/* ---- finish ---- */

static int schema_index(const struct side *d, const char *name)
{
    for (int c = 0; c < d->ncols; c++)
        if (strcmp(d->names[c], name) == 0)
            return c;
    return -1;
}

static bool name_taken(char **names, int n, const char *name)
{
    for (int c = 0; c < n; c++)
        if (strcmp(names[c], name) == 0)
            return true;
    return false;
}

static int build(struct joinop *s, struct px_error *err)
{
    struct side *l = &s->s[0], *r = &s->s[1];
    /* Key types must be comparable (only checkable when both inputs have rows). */
    if (l->nb && r->nb)
        for (int k = 0; k < s->nkeys; k++) {
            enum px_col_type lt = l->types[schema_index(l, l->keys[k])];
            enum px_col_type rt = r->types[schema_index(r, r->keys[k])];
            if (lt != rt && !(px_col_numeric(lt) && px_col_numeric(rt)))
                return px_error_set(err, PX_EINVALID,
                                    "key column '%.200s' of the left input is %s but '%.200s' of "
                                    "the right input is %s; cast one first",
                                    l->keys[k], px_col_type_name(lt), r->keys[k],
                                    px_col_type_name(rt));
        }
    for (int i = 0; i < 2; i++) {
        struct side *d = &s->s[i];
        for (int b = 0; b < d->nb; b++) {
            d->colmap[b] = px_xcalloc((size_t)d->ncols + 1, sizeof(int));
            for (int c = 0; c < d->ncols; c++)
                d->colmap[b][c] = px_batch_find(d->batches[b], d->names[c]);
        }
    }
    int n = l->ncols + r->ncols;
    s->out_names = px_xcalloc((size_t)n + 1, sizeof(char *));
    for (int c = 0; c < l->ncols; c++)
        s->out_names[c] = px_xstrdup(l->names[c]);
    s->out_right0 = l->ncols;
    for (int c = 0; c < r->ncols; c++) {
        char *name = px_xstrdup(r->names[c]);
        while (name_taken(s->out_names, l->ncols + c, name)) {
            size_t len = strlen(name) + 7;
            char *p = px_xcalloc(len, 1);
            snprintf(p, len, "right_%s", name);
            free(name);
            name = p;
        }
        s->out_names[l->ncols + c] = name;
    }
    /* The hash table: chains built back to front so each lists rows in input order. */
    size_t rows = (size_t)r->rows;
    uint64_t nslots = 16;
    while (nslots < 2 * (uint64_t)rows)
        nslots *= 2;
    int rc = px_mem_reserve(s->mem, (int64_t)((rows + 1) * 28 + nslots * 8),
                            "the right input's hash table", err);
    if (rc < 0)
        return rc;
    s->rb = px_xcalloc(rows + 1, sizeof(*s->rb));
    s->rr = px_xcalloc(rows + 1, sizeof(*s->rr));
    s->rhash = px_xcalloc(rows + 1, sizeof(*s->rhash));
    s->next = px_xcalloc(rows + 1, sizeof(*s->next));
    s->nslots = 16;
    while (s->nslots < 2 * (uint64_t)rows)
        s->nslots *= 2;
    s->heads = px_xcalloc(s->nslots, sizeof(*s->heads));
    for (uint64_t h = 0; h < s->nslots; h++)
        s->heads[h] = -1;
    int64_t idx = 0;
    for (int b = 0; b < r->nb; b++)
        for (int64_t row = 0; row < r->batches[b]->nrows; row++) {
            s->rb[idx] = b;
            s->rr[idx] = row;
            idx++;
        }
    for (int64_t e = idx - 1; e >= 0; e--) {
        uint64_t h;
        if (!hash_key(s, 1, s->rb[e], s->rr[e], &h))
            continue; /* NULL keys never match */
        s->rhash[e] = h;
        s->next[e] = s->heads[h & (s->nslots - 1)];
        s->heads[h & (s->nslots - 1)] = e;
    }
    s->j = -1;
    s->built = true;
    return 0;
}

/* Appends the cursor's left row joined with right row e (or NULLs when e < 0). */
static void emit_row(const struct joinop *s, struct px_batch *o, int64_t e)
{
    const struct side *l = &s->s[0], *r = &s->s[1];
    int64_t row = o->nrows;
    for (int c = 0; c < l->ncols; c++)
        if (l->colmap[s->lb][c] >= 0)
            px_batch_copy_cell(o, c, row, l->batches[s->lb], l->colmap[s->lb][c], s->lr);
    if (e >= 0)
        for (int c = 0; c < r->ncols; c++)
            if (r->colmap[s->rb[e]][c] >= 0)
                px_batch_copy_cell(o, s->out_right0 + c, row, r->batches[s->rb[e]],
                                   r->colmap[s->rb[e]][c], s->rr[e]);
    o->nrows++;
}

static int join_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct joinop *s = state;
    *out = NULL;
    if (!s->built) {
        int rc = build(s, err);
        if (rc < 0)
            return rc;
    }
    const struct side *l = &s->s[0], *r = &s->s[1];
    if (s->lb >= l->nb)
        return 0;
    struct px_batch *o = px_batch_create(s->batch_rows);
    o->first_row = s->emitted + 1;
    for (int c = 0; c < l->ncols; c++)
        px_batch_add_column(o, s->out_names[c], l->types[c]);
    for (int c = 0; c < r->ncols; c++)
        px_batch_add_column(o, s->out_names[s->out_right0 + c], r->types[c]);
    while (o->nrows < s->batch_rows && s->lb < l->nb) {
        if (!s->probing) {
            s->j = -1;
            if (hash_key(s, 0, s->lb, s->lr, &s->lhash))
                s->j = s->heads[s->lhash & (s->nslots - 1)];
            s->probing = true;
            s->matched = false;
        }
        while (s->j >= 0 &&
               (s->rhash[s->j] != s->lhash || !keys_eq(s, s->lb, s->lr, s->rb[s->j], s->rr[s->j])))
            s->j = s->next[s->j];
        if (s->j >= 0) {
            emit_row(s, o, s->j);
            s->matched = true;
            s->j = s->next[s->j];
            continue;
        }
        if (!s->matched && s->left_join)
            emit_row(s, o, -1);
        s->probing = false;
        if (++s->lr >= l->batches[s->lb]->nrows) {
            s->lr = 0;
            s->lb++;
        }
    }
    s->emitted += o->nrows;
    *out = o;
    return 0;
}

const struct px_operator px__op_join = {
    1,          "join",       "Joins two inputs on key columns (hash join, in memory)",
    join_open,  join_process, join_close,
    join_finish};
