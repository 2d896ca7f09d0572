/*
 * The table of group keys aggregate and dedupe (keep last, order_by) share: each distinct key
 * (encoded with px_batch_row_key) gets the next group index, in order of first appearance;
 * the owner keeps its per-group state in arrays indexed by it. Keys are stored as a 4-byte
 * length followed by the bytes, found through open addressing (FNV-1a, linear probing) in a
 * table of slots that hold group index + 1 (0 = empty), doubled when half full.
 */
#ifndef PX_ENGINE_OPERATORS_GROUPS_H
#define PX_ENGINE_OPERATORS_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most groups (aggregate) or distinct keys (dedupe keep last) one node holds. */
#define PX_AGG_MAX_GROUPS 10000000

struct px_groups {
    char **keys; /* by group index: 4-byte length + bytes, owned */
    int64_t n, cap;
    int64_t *slots;
    size_t nslots;
};

void px_groups_init(struct px_groups *g);
void px_groups_cleanup(struct px_groups *g);
/* The group index of key, added (*created set) when new. *grown_bytes (may be NULL) is set to
 * the bytes the slot table grew by in this call (0 when it did not), for memory accounting. */
int64_t px_groups_find_add(struct px_groups *g, const char *key, size_t len, bool *created,
                           int64_t *grown_bytes);

#endif
