/*
 * The table of group keys aggregate and dedupe (keep last, order_by) share: keys encoded with
 * px_batch_row_key, stored as a 4-byte length followed by the bytes, found through an
 * open-addressing table of slots that hold key index + 1 (0 = empty).
 */
#ifndef PX_ENGINE_OPERATORS_GROUPS_H
#define PX_ENGINE_OPERATORS_GROUPS_H

#include <stddef.h>
#include <stdint.h>

/* The most groups (aggregate) or distinct keys (dedupe keep last) one node holds. */
#define PX_AGG_MAX_GROUPS 10000000

/* FNV-1a over a key's bytes. */
uint64_t px__group_hash(const char *p, size_t n);
/* Doubles the table of nkeys keys and rehashes every key into it. */
void px__group_slots_grow(int64_t **slots, size_t *nslots, char **keys, int64_t nkeys);

#endif
