/* The cache of connection descriptions: see schema_cache.h. */
#include "service/schema_cache.h"

#include "base/json.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    bool used;
    char org_id[40], conn_id[40];
    int64_t version;
    int64_t at_ms;
    uint64_t last_use; /* tick of the last get or put, for LRU */
    char *text;        /* the document as JSON text (owned) */
    size_t len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry entries[PX_SCHEMA_CACHE_ENTRIES];
static int64_t total_bytes;
static uint64_t tick;

static void entry_free(struct entry *e)
{
    total_bytes -= (int64_t)e->len;
    free(e->text);
    memset(e, 0, sizeof(*e));
}

static struct entry *find(const char *org_id, const char *conn_id)
{
    for (size_t i = 0; i < PX_SCHEMA_CACHE_ENTRIES; i++)
        if (entries[i].used && strcmp(entries[i].org_id, org_id) == 0 &&
            strcmp(entries[i].conn_id, conn_id) == 0)
            return &entries[i];
    return NULL;
}

/* The least recently used entry (of org_id when given), or NULL when there is none. */
static struct entry *lru(const char *org_id)
{
    struct entry *best = NULL;
    for (size_t i = 0; i < PX_SCHEMA_CACHE_ENTRIES; i++) {
        struct entry *e = &entries[i];
        if (e->used && (!org_id || strcmp(e->org_id, org_id) == 0) &&
            (!best || e->last_use < best->last_use))
            best = e;
    }
    return best;
}

struct json_object *px_schema_cache_get(const char *org_id, const char *conn_id, int64_t version,
                                        int64_t *at_ms)
{
    struct json_object *doc = NULL;
    pthread_mutex_lock(&lock);
    struct entry *e = find(org_id, conn_id);
    if (e && e->version == version) {
        e->last_use = ++tick;
        doc = json_tokener_parse(e->text);
        if (at_ms)
            *at_ms = e->at_ms;
    }
    pthread_mutex_unlock(&lock);
    return doc;
}

void px_schema_cache_put(const char *org_id, const char *conn_id, int64_t version,
                         struct json_object *doc, int64_t at_ms)
{
    const char *text = px_json_str(doc);
    size_t len = strlen(text);
    if ((int64_t)len > PX_SCHEMA_CACHE_BYTES / 4 || strlen(org_id) >= sizeof(entries[0].org_id) ||
        strlen(conn_id) >= sizeof(entries[0].conn_id))
        return;
    pthread_mutex_lock(&lock);
    struct entry *e = find(org_id, conn_id);
    if (e)
        entry_free(e);
    int of_org = 0;
    for (size_t i = 0; i < PX_SCHEMA_CACHE_ENTRIES; i++)
        of_org += entries[i].used && strcmp(entries[i].org_id, org_id) == 0;
    if (of_org >= PX_SCHEMA_CACHE_PER_ORG)
        entry_free(lru(org_id));
    while (total_bytes + (int64_t)len > PX_SCHEMA_CACHE_BYTES && lru(NULL))
        entry_free(lru(NULL));
    e = NULL;
    for (size_t i = 0; i < PX_SCHEMA_CACHE_ENTRIES && !e; i++)
        if (!entries[i].used)
            e = &entries[i];
    if (!e) {
        e = lru(NULL);
        entry_free(e);
    }
    e->used = true;
    snprintf(e->org_id, sizeof(e->org_id), "%s", org_id);
    snprintf(e->conn_id, sizeof(e->conn_id), "%s", conn_id);
    e->version = version;
    e->at_ms = at_ms;
    e->last_use = ++tick;
    e->text = px_xstrdup(text);
    e->len = len;
    total_bytes += (int64_t)len;
    pthread_mutex_unlock(&lock);
}

void px_schema_cache_drop(const char *org_id, const char *conn_id)
{
    pthread_mutex_lock(&lock);
    struct entry *e = find(org_id, conn_id);
    if (e)
        entry_free(e);
    pthread_mutex_unlock(&lock);
}
