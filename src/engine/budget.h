/*
 * A run's memory budget. Every byte a run holds that grows with its data (batches, parse
 * buffers, the JSON of an HTTP page or a JSON Lines batch, and the state of dedupe, sort,
 * union, join and aggregate) is charged to the account of the node holding it, and every
 * account to the run's budget. Two kinds of charge:
 *   - soft (px_mem_add): always recorded; the executor checks the budget after every callback
 *     and fails the run when it is over, naming the node that holds the most. Used for what is
 *     bounded per call anyway (a batch is at most PX_BATCH_TARGET_BYTES of strings);
 *   - hard (px_mem_reserve): refused before the memory is allocated when it would pass the
 *     budget. Used for anything that can grow a lot in one step (a hash table doubling, a
 *     page's JSON, a key store block).
 * Counters are atomic: read-ahead threads charge the batches they queue. A NULL account (probes,
 * tests of one connector) charges nothing.
 */
#ifndef PX_ENGINE_BUDGET_H
#define PX_ENGINE_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;

struct px_budget {
    int64_t limit; /* bytes */
    _Atomic int64_t used, peak;
};

/* One node's account. */
struct px_mem {
    struct px_budget *run;
    _Atomic int64_t held;
    const char *node_id, *type; /* borrowed, for messages */
};

void px_budget_init(struct px_budget *b, int64_t limit);
void px_mem_init(struct px_mem *m, struct px_budget *run, const char *node_id, const char *type);

/* Soft charge (negative bytes release). */
void px_mem_add(struct px_mem *m, int64_t bytes);
static inline void px_mem_sub(struct px_mem *m, int64_t bytes)
{
    px_mem_add(m, -bytes);
}
/* Hard charge: 0 and charged, or -PX_ETOOLARGE (nothing charged) with the budget message,
 * saying what would not fit ("distinct keys"). */
int px_mem_reserve(struct px_mem *m, int64_t bytes, const char *what, struct px_error *err);
/* Whether m's run has room for bytes more (true for a NULL account): read-ahead threads ask
 * before reading another batch, so what they queue stays within the budget. */
bool px_mem_room(const struct px_mem *m, int64_t bytes);
/* Whether the run holds more than its budget. */
bool px_budget_over(const struct px_budget *b);
/* The budget message for node m: "run memory budget of N MiB reached (<type> holds M MiB of
 * <what>)" with a hint; -PX_ETOOLARGE. */
int px_mem_error(const struct px_mem *m, const char *what, struct px_error *err);

#endif
