/* Per-organization caps on sessions, streams and calls: see orgcaps.h. */
#include "transport/orgcaps.h"

#include "base/err.h"
#include "base/id.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

struct entry {
    struct entry *next;
    char org[PX_ID_MAX];
    size_t held[PX_ORGCAP_KINDS];
};

struct px_orgcaps {
    pthread_mutex_t lock;
    size_t limits[PX_ORGCAP_KINDS];
    struct entry *buckets[NBUCKETS];
};

static const char *const env_names[PX_ORGCAP_KINDS] = {
    "PLANASONIX_ORG_MAX_SESSIONS", "PLANASONIX_ORG_MAX_STREAMS", "PLANASONIX_ORG_MAX_CALLS"};
static const size_t defaults[PX_ORGCAP_KINDS] = {
    PX_ORGCAP_DEFAULT_SESSIONS, PX_ORGCAP_DEFAULT_STREAMS, PX_ORGCAP_DEFAULT_CALLS};

struct px_orgcaps *px_orgcaps_create(const size_t limits[PX_ORGCAP_KINDS])
{
    struct px_orgcaps *c = px_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    memcpy(c->limits, limits, sizeof(c->limits));
    return c;
}

void px_orgcaps_destroy(struct px_orgcaps *c)
{
    if (!c)
        return;
    for (size_t b = 0; b < NBUCKETS; b++)
        while (c->buckets[b]) {
            struct entry *e = c->buckets[b];
            c->buckets[b] = e->next;
            free(e);
        }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int px_orgcaps_from_env(size_t limits[PX_ORGCAP_KINDS], struct px_error *err)
{
    for (int k = 0; k < PX_ORGCAP_KINDS; k++) {
        limits[k] = defaults[k];
        const char *v = getenv(env_names[k]);
        if (!v || !*v)
            continue;
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        if (*end || v[0] == '-' || n > 1000000)
            return px_error_set(err, PX_EINVALID,
                                "%s is '%.40s': use a whole number from 0 (no cap) to 1000000",
                                env_names[k], v);
        limits[k] = (size_t)n;
    }
    return 0;
}

static size_t bucket_of(const char *org)
{
    size_t h = 5381;
    for (; *org; org++)
        h = h * 33 + (unsigned char)*org;
    return h % NBUCKETS;
}

/* The entry of org, or NULL; caller holds the lock. pp gets the link that points to it. */
static struct entry *find_locked(struct px_orgcaps *c, const char *org, struct entry ***pp)
{
    struct entry **p = &c->buckets[bucket_of(org)];
    while (*p && strcmp((*p)->org, org) != 0)
        p = &(*p)->next;
    if (pp)
        *pp = p;
    return *p;
}

bool px_orgcaps_take(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind)
{
    pthread_mutex_lock(&c->lock);
    struct entry **pp;
    struct entry *e = find_locked(c, org_id, &pp);
    bool ok = !c->limits[kind] || !e || e->held[kind] < c->limits[kind];
    if (ok) {
        if (!e) {
            e = px_xcalloc(1, sizeof(*e));
            snprintf(e->org, sizeof(e->org), "%s", org_id);
            *pp = e;
        }
        e->held[kind]++;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void px_orgcaps_give(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind)
{
    pthread_mutex_lock(&c->lock);
    struct entry **pp;
    struct entry *e = find_locked(c, org_id, &pp);
    if (e && e->held[kind] > 0) {
        e->held[kind]--;
        bool empty = true;
        for (int k = 0; k < PX_ORGCAP_KINDS; k++)
            empty = empty && e->held[k] == 0;
        if (empty) {
            *pp = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

size_t px_orgcaps_held(struct px_orgcaps *c, const char *org_id, enum px_orgcap_kind kind)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find_locked(c, org_id, NULL);
    size_t n = e ? e->held[kind] : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t px_orgcaps_limit(const struct px_orgcaps *c, enum px_orgcap_kind kind)
{
    return c->limits[kind];
}

const char *px_orgcaps_env(enum px_orgcap_kind kind)
{
    return env_names[kind];
}
