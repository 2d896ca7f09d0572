/*
 * In-process GCRA rate limiter (see ratelimit.h and reliability.md §3): one theoretical
 * arrival time (tat) per key in a chained hash table behind a mutex. Times are kept in
 * microseconds so emission intervals that do not divide a minute evenly (e.g. 7/min) lose
 * almost nothing to rounding. Not here: the store-backed limiter for several instances.
 */
#include "auth/ratelimit.h"

#include "base/mem.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Most keys held at once; see evict(). */
#ifndef PX_RATELIMIT_MAX_KEYS
#define PX_RATELIMIT_MAX_KEYS 100000
#endif
#define INITIAL_BUCKETS 64
#define PERIOD_US INT64_C(60000000)

struct rl_entry {
    struct rl_entry *next;
    uint64_t hash;
    int64_t tat_us; /* theoretical arrival time */
    char key[];     /* NUL-terminated copy of the key */
};

struct px_ratelimit {
    pthread_mutex_t lock;
    struct rl_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* SipHash key: no chosen collisions */
};

struct px_ratelimit *px_ratelimit_create(void)
{
    if (sodium_init() < 0)
        abort();
    struct px_ratelimit *rl = px_xcalloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->lock, NULL);
    rl->nbuckets = INITIAL_BUCKETS;
    rl->buckets = px_xcalloc(rl->nbuckets, sizeof(*rl->buckets));
    crypto_shorthash_keygen(rl->hash_key);
    return rl;
}

void px_ratelimit_destroy(struct px_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rl_entry *e = rl->buckets[i];
        while (e) {
            struct rl_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(rl->buckets);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint64_t key_hash(const struct px_ratelimit *rl, const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, len, rl->hash_key);
    memcpy(&h, out, sizeof(h));
    return h;
}

static void grow(struct px_ratelimit *rl)
{
    size_t n = rl->nbuckets * 2;
    struct rl_entry **b = px_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rl_entry *e = rl->buckets[i];
        while (e) {
            struct rl_entry *next = e->next;
            size_t j = (size_t)e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(rl->buckets);
    rl->buckets = b;
    rl->nbuckets = n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Makes room when the table is full. Keys whose tat has passed always go (their bucket is
 * full again, so forgetting them changes nothing); if the table would still be above its
 * low-water mark (cap - cap/16), the keys with the earliest tat (closest to full) go too.
 * So a table full of busy keys costs one O(n log n) sweep per cap/16 new keys, not per key. */
static void evict(struct px_ratelimit *rl, int64_t now_us)
{
    size_t low_water = PX_RATELIMIT_MAX_KEYS - PX_RATELIMIT_MAX_KEYS / 16 - 1;
    int64_t threshold = now_us;

    if (rl->count > low_water) {
        int64_t *tats = px_xmalloc(rl->count * sizeof(*tats));
        size_t n = 0;
        for (size_t i = 0; i < rl->nbuckets; i++)
            for (struct rl_entry *e = rl->buckets[i]; e; e = e->next)
                tats[n++] = e->tat_us;
        qsort(tats, n, sizeof(*tats), cmp_i64);
        if (tats[n - low_water - 1] > threshold)
            threshold = tats[n - low_water - 1];
        free(tats);
    }
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rl_entry **pp = &rl->buckets[i];
        while (*pp) {
            struct rl_entry *e = *pp;
            if (e->tat_us <= threshold) {
                *pp = e->next;
                free(e);
                rl->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

/* Finds the entry for key, creating it (tat = now, a full bucket) if missing. */
static struct rl_entry *lookup(struct px_ratelimit *rl, const char *key, int64_t now_us)
{
    size_t len = strlen(key);
    uint64_t h = key_hash(rl, key, len);
    for (struct rl_entry *e = rl->buckets[h & (rl->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    if (rl->count >= PX_RATELIMIT_MAX_KEYS)
        evict(rl, now_us);
    if (rl->count >= rl->nbuckets)
        grow(rl);
    struct rl_entry *e = px_xmalloc(sizeof(*e) + len + 1);
    e->hash = h;
    e->tat_us = now_us;
    memcpy(e->key, key, len + 1);
    size_t i = (size_t)h & (rl->nbuckets - 1);
    e->next = rl->buckets[i];
    rl->buckets[i] = e;
    rl->count++;
    return e;
}

static int64_t us_to_ms_ceil(int64_t us)
{
    return us <= 0 ? 0 : (us + 999) / 1000;
}

struct px_rate_decision px_ratelimit_take(struct px_ratelimit *rl, const char *key,
                                          int64_t limit_per_min, int64_t now_ms)
{
    struct px_rate_decision d = {.allowed = true};
    if (limit_per_min <= 0)
        return d;
    if (limit_per_min > PERIOD_US)
        limit_per_min = PERIOD_US; /* at most one request per microsecond */

    int64_t now = now_ms * 1000;
    int64_t t = PERIOD_US / limit_per_min; /* emission interval */
    int64_t tolerance = t * limit_per_min; /* burst B = limit, so B·T (about one minute) */

    pthread_mutex_lock(&rl->lock);
    struct rl_entry *e = lookup(rl, key ? key : "", now);
    int64_t tat = e->tat_us > now ? e->tat_us : now;
    int64_t new_tat = tat + t;
    if (new_tat - now <= tolerance) {
        e->tat_us = new_tat;
        tat = new_tat;
    } else {
        d.allowed = false;
        d.retry_after_ms = us_to_ms_ceil(new_tat - tolerance - now);
    }
    pthread_mutex_unlock(&rl->lock);

    d.limit = limit_per_min;
    d.remaining = (tolerance - (tat - now)) / t;
    d.reset_ms = us_to_ms_ceil(tat - now);
    return d;
}
