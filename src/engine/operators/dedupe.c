/*
 * dedupe (exec_int.h): one row per key. keep first without order_by streams: an open-addressing
 * set of the keys seen drops every later row with a seen key. keep last, or order_by, holds one
 * winning row per key until the inputs are drained and hands the winners on from finish.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/exec_int.h"
#include "engine/operators/groups.h"

#include <string.h>
#include <stdlib.h>

/* ---- dedupe with keep last or order_by ----
 * One winning row per key, stored in chunks of batch_rows rows indexed by the key's
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
    struct px_groups groups;
    struct px_batch *schema; /* the first batch's columns (no rows) */
    struct px_batch **chunks;
    int nchunks;
    int64_t chunk_rows;
    int emitted;
    struct px_mem *mem; /* keys, slots and the winning rows' chunks */
};

static int dlast_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
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
    px_groups_init(&s->groups);
    s->chunk_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    *state_out = s;
    return 0;
}

static void dlast_close(void *state)
{
    struct dlast *s = state;
    if (!s)
        return;
    for (int k = 0; k < s->nkeys; k++)
        free(s->key_cols[k]);
    free(s->key_cols);
    free(s->order_by);
    px_groups_cleanup(&s->groups);
    px_batch_destroy(s->schema);
    for (int i = s->emitted; i < s->nchunks; i++)
        px_batch_destroy(s->chunks[i]);
    free(s->chunks);
    free(s);
}

/* The group of key; *created when it is new. */
static int64_t dlast_group(struct dlast *s, const char *key, size_t len, bool *created)
{
    int64_t grown;
    int64_t gi = px_groups_find_add(&s->groups, key, len, created, &grown);
    if (grown)
        px_mem_add(s->mem, grown);
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

static int dlast_process(void *state, struct px_batch *b, struct px_error *err)
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
        if (s->groups.n >= PX_AGG_MAX_GROUPS) {
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
                int c = px_batch_cmp_cells(&b->cols[oc], r, &dst->cols[oc], cr);
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

static int dlast_finish(void *state, struct px_batch **out, struct px_error *err)
{
    (void)err;
    struct dlast *s = state;
    *out = s->emitted < s->nchunks ? s->chunks[s->emitted++] : NULL;
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
    void *last;      /* keep last / order_by: the blocking variant (dlast_*, above) */
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
        int rc = dlast_open(ctx, &s->last, err);
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
    dlast_close(s->last);
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
    return s->last ? dlast_finish(s->last, out, err) : 0;
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
        return dlast_process(s->last, b, err);
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

const struct px_operator px__op_dedupe = {1,
                                          "dedupe",
                                          "Keeps the first row per key",
                                          dedupe_open,
                                          dedupe_process,
                                          dedupe_close,
                                          dedupe_finish};
