/*
 * The table of group keys aggregate and dedupe (keep last, order_by) share (groups.h).
 */
#include "engine/operators/groups.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

static uint64_t group_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void px_groups_init(struct px_groups *g)
{
    memset(g, 0, sizeof(*g));
    g->nslots = 1024;
    g->slots = px_xcalloc(g->nslots, sizeof(int64_t));
}

void px_groups_cleanup(struct px_groups *g)
{
    for (int64_t i = 0; i < g->n; i++)
        free(g->keys[i]);
    free(g->keys);
    free(g->slots);
    memset(g, 0, sizeof(*g));
}

/* Doubles the slot table and rehashes every key into it. */
static void slots_grow(struct px_groups *g)
{
    size_t ns = g->nslots * 2;
    int64_t *nsl = px_xcalloc(ns, sizeof(int64_t));
    for (int64_t i = 0; i < g->n; i++) {
        uint32_t kl;
        memcpy(&kl, g->keys[i], 4);
        size_t p = group_hash(g->keys[i] + 4, kl) & (ns - 1);
        while (nsl[p])
            p = (p + 1) & (ns - 1);
        nsl[p] = i + 1;
    }
    free(g->slots);
    g->slots = nsl;
    g->nslots = ns;
}

int64_t px_groups_find_add(struct px_groups *g, const char *key, size_t len, bool *created,
                           int64_t *grown_bytes)
{
    size_t j = group_hash(key, len) & (g->nslots - 1);
    *created = false;
    if (grown_bytes)
        *grown_bytes = 0;
    while (g->slots[j]) {
        const char *k = g->keys[g->slots[j] - 1];
        uint32_t l;
        memcpy(&l, k, 4);
        if (l == len && memcmp(k + 4, key, len) == 0)
            return g->slots[j] - 1;
        j = (j + 1) & (g->nslots - 1);
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->keys = px_xrealloc(g->keys, (size_t)g->cap * sizeof(char *));
    }
    int64_t gi = g->n++;
    char *k = px_xmalloc(len + 4);
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    g->keys[gi] = k;
    g->slots[j] = gi + 1;
    *created = true;
    if ((size_t)g->n * 2 > g->nslots) {
        if (grown_bytes)
            *grown_bytes = (int64_t)(g->nslots * sizeof(int64_t)); /* the table doubles */
        slots_grow(g);
    }
    return gi;
}
