/*
 * Per-organization request rate limits with GCRA (one "theoretical arrival time" per key;
 * reliability.md §3). Plans: professional 60/min, premium 120/min, enterprise 300/min;
 * burst = the per-minute limit, so "N per minute" holds exactly. Time comes from the caller
 * (px_now_ms), so tests need no sleeping. This is the in-process limiter; a store-backed one
 * for several instances comes with PostgreSQL. Safe to call from several threads.
 */
#ifndef PX_AUTH_RATELIMIT_H
#define PX_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct px_ratelimit;

struct px_rate_decision {
    bool allowed;
    int64_t limit;          /* requests per window */
    int64_t remaining;      /* requests still allowed right now, after this one */
    int64_t retry_after_ms; /* when refused: wait this long (> 0); 0 when allowed */
    int64_t reset_ms;       /* until the bucket is full again (all `limit` available) */
};

struct px_ratelimit *px_ratelimit_create(void);
void px_ratelimit_destroy(struct px_ratelimit *rl);
/* Takes one request for key (an org id; copied) at now_ms under limit_per_min. A refused
 * request takes nothing. limit_per_min <= 0 means unlimited: always allowed, with limit 0 and
 * the other fields 0 (send no rate-limit headers then). */
struct px_rate_decision px_ratelimit_take(struct px_ratelimit *rl, const char *key,
                                          int64_t limit_per_min, int64_t now_ms);

#endif
