/*
 * The table of group keys aggregate and dedupe (keep last, order_by) share (groups.h).
 */
#include "base/json.h"
#include "base/mem.h"
#include "engine/operators/groups.h"

#include <string.h>
#include <stdlib.h>

uint64_t px__group_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void px__group_slots_grow(int64_t **slots, size_t *nslots, char **keys, int64_t nkeys)
{
    size_t ns = *nslots * 2;
    int64_t *nsl = px_xcalloc(ns, sizeof(int64_t));
    for (int64_t i = 0; i < nkeys; i++) {
        uint32_t kl;
        memcpy(&kl, keys[i], 4);
        size_t p = px__group_hash(keys[i] + 4, kl) & (ns - 1);
        while (nsl[p])
            p = (p + 1) & (ns - 1);
        nsl[p] = i + 1;
    }
    free(*slots);
    *slots = nsl;
    *nslots = ns;
}
