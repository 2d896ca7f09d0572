/* The HTTP session table: see sessions.h. */
#include "transport/sessions.h"

#include "transport/env.h"
#include "auth/audit.h"
#include "auth/principal.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "mcp/session.h"
#include "store/store.h"
#include "transport/orgcaps.h"
#include "transport/stream.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024 /* ids are uniformly random, so a fixed table spreads them evenly */
#define MAX_PENDING_CANCELS 64

struct pending {
    struct pending *next;
    size_t len;
    char text[];
};

struct px_hsession {
    struct px_hsession *next; /* bucket chain */
    struct px_sessions *table;
    int refs; /* under table->lock */
    bool in_table;
    enum px_hsession_kind kind;
    char id[PX_HSESSION_ID_MAX];
    char key_id[PX_ID_MAX];
    char org_id[PX_ID_MAX];
    int64_t last_used_ms; /* under table->lock */
    struct px_mcp_session *mcp;
    struct px_stream *stream; /* legacy: the GET /sse stream */
    /* Cancellations not yet handed to the MCP session. */
    pthread_mutex_t cancel_lock;
    struct pending *cancels;
    int ncancels;
};

struct px_sessions {
    struct px_sessions_config cfg;
    pthread_mutex_t lock;
    struct px_hsession *buckets[NBUCKETS];
    size_t count[2];
};

struct px_sessions *px_sessions_create(const struct px_sessions_config *cfg)
{
    if (sodium_init() < 0)
        abort();
    struct px_sessions *t = px_xcalloc(1, sizeof(*t));
    t->cfg = *cfg;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

static size_t bucket_of(const char *id)
{
    size_t h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)*id;
    return h % NBUCKETS;
}

static void session_free(struct px_hsession *s)
{
    px_mcp_session_destroy(s->mcp);
    px_stream_release(s->stream);
    while (s->cancels) {
        struct pending *p = s->cancels;
        s->cancels = p->next;
        free(p);
    }
    pthread_mutex_destroy(&s->cancel_lock);
    free(s);
}

/* Drops one reference; the caller holds t->lock. Returns s when it must be freed (outside
 * the lock). */
static struct px_hsession *unref_locked(struct px_hsession *s)
{
    return --s->refs == 0 ? s : NULL;
}

void px_hsession_release(struct px_hsession *s)
{
    if (!s)
        return;
    struct px_sessions *t = s->table;
    pthread_mutex_lock(&t->lock);
    struct px_hsession *dead = unref_locked(s);
    pthread_mutex_unlock(&t->lock);
    if (dead)
        session_free(dead);
}

/* Unlinks s from its bucket; caller holds t->lock and s is in the table. */
static void unlink_locked(struct px_sessions *t, struct px_hsession *s)
{
    struct px_hsession **pp = &t->buckets[bucket_of(s->id)];
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    s->next = NULL;
    s->in_table = false;
    t->count[s->kind]--;
    if (t->cfg.caps)
        px_orgcaps_give(t->cfg.caps, s->org_id, PX_ORGCAP_SESSIONS);
}

void px_sessions_destroy(struct px_sessions *t)
{
    if (!t)
        return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (t->buckets[b]) {
            struct px_hsession *s = t->buckets[b];
            pthread_mutex_lock(&t->lock);
            unlink_locked(t, s);
            struct px_hsession *dead = unref_locked(s);
            pthread_mutex_unlock(&t->lock);
            if (dead)
                session_free(dead);
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* ---- the MCP host callbacks -------------------------------------------------------------- */

/* One px_hsession_handle call (the ctx of the host callbacks): calls on one session may run
 * at the same time, each with its own principal and sink. */
struct hcall {
    struct px_hsession *s;
    const struct px_principal *principal;
    const struct px_http_sink *sink;
};

static int host_authenticate(void *ctx, struct px_principal *out, struct px_error *err)
{
    struct hcall *c = ctx;
    if (!c->principal) {
        memset(out, 0, sizeof(*out));
        return px_error_set(err, PX_EUNAUTHORIZED, "Unauthorized: no API key for this request");
    }
    *out = *c->principal;
    return 0;
}

static void host_send(void *ctx, const char *json)
{
    struct hcall *c = ctx;
    if (c->sink && c->sink->emit)
        c->sink->emit(c->sink->ctx, json);
}

/* Hands queued cancellations to the MCP session. */
static void drain_cancels(struct px_hsession *s)
{
    pthread_mutex_lock(&s->cancel_lock);
    struct pending *list = s->cancels;
    s->cancels = NULL;
    s->ncancels = 0;
    pthread_mutex_unlock(&s->cancel_lock);
    while (list) {
        struct pending *p = list;
        list = p->next;
        px_mcp_take_cancel(s->mcp, p->text, p->len);
        free(p);
    }
}

static void host_poll(void *ctx)
{
    drain_cancels(((struct hcall *)ctx)->s);
}

static void host_tool_done(void *ctx, const char *tool, const char *outcome, long long latency_us)
{
    struct px_hsession *s = ((struct hcall *)ctx)->s;
    if (s->table->cfg.tool_done)
        s->table->cfg.tool_done(s->table->cfg.tool_ctx, tool, outcome, latency_us);
}

/* ---- sessions --------------------------------------------------------------------------- */

struct px_hsession *px_hsession_new(struct px_sessions *t, enum px_hsession_kind kind,
                                    const char *key_id, const char *org_id)
{
    struct px_hsession *s = px_xcalloc(1, sizeof(*s));
    s->table = t;
    s->refs = 1;
    s->kind = kind;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(s->id, sizeof(s->id), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    snprintf(s->key_id, sizeof(s->key_id), "%s", key_id);
    snprintf(s->org_id, sizeof(s->org_id), "%s", org_id);
    pthread_mutex_init(&s->cancel_lock, NULL);
    /* No default store: each call checks one out of the pool (px_hsession_handle). */
    struct px_mcp_deps deps = t->cfg.env->deps;
    deps.store = NULL;
    struct px_mcp_host host = {
        .ctx = s,
        .transport = kind == PX_HSESSION_LEGACY ? "sse" : "http",
        .authenticate = host_authenticate,
        .send = host_send,
        .poll = host_poll,
        .admitted = true,
        .tool_done = host_tool_done,
    };
    s->mcp = px_mcp_session_create(&deps, &host);
    return s;
}

enum px_session_added px_sessions_add(struct px_sessions *t, struct px_hsession *s)
{
    pthread_mutex_lock(&t->lock);
    enum px_session_added res = PX_SESSION_ADDED;
    if (t->count[0] + t->count[1] >= t->cfg.max_sessions)
        res = PX_SESSION_FULL;
    else if (t->cfg.caps && !px_orgcaps_take(t->cfg.caps, s->org_id, PX_ORGCAP_SESSIONS))
        res = PX_SESSION_ORG_FULL;
    if (res == PX_SESSION_ADDED) {
        size_t b = bucket_of(s->id);
        s->next = t->buckets[b];
        t->buckets[b] = s;
        s->in_table = true;
        s->refs++;
        s->last_used_ms = px_now_ms();
        t->count[s->kind]++;
    }
    pthread_mutex_unlock(&t->lock);
    return res;
}

struct px_hsession *px_sessions_get(struct px_sessions *t, const char *id, const char *key_id,
                                    enum px_hsession_kind kind)
{
    if (!id || strlen(id) >= PX_HSESSION_ID_MAX)
        return NULL;
    pthread_mutex_lock(&t->lock);
    struct px_hsession *s = t->buckets[bucket_of(id)];
    while (s && strcmp(s->id, id) != 0)
        s = s->next;
    if (s && (s->kind != kind || strcmp(s->key_id, key_id) != 0))
        s = NULL;
    if (s) {
        s->refs++;
        s->last_used_ms = px_now_ms();
    }
    pthread_mutex_unlock(&t->lock);
    return s;
}

bool px_sessions_remove(struct px_sessions *t, struct px_hsession *s)
{
    pthread_mutex_lock(&t->lock);
    bool was = s->in_table;
    struct px_hsession *dead = NULL;
    if (was) {
        unlink_locked(t, s);
        dead = unref_locked(s);
    }
    pthread_mutex_unlock(&t->lock);
    if (dead)
        session_free(dead);
    return was;
}

size_t px_sessions_sweep(struct px_sessions *t, int64_t now_ms)
{
    struct px_hsession *dead = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct px_hsession *s = t->buckets[b], *next;
        for (; s; s = next) {
            next = s->next;
            /* refs == 1: only the table holds it, so no request is inside. */
            if (s->kind != PX_HSESSION_STREAMABLE || s->refs != 1 ||
                now_ms - s->last_used_ms < t->cfg.idle_ttl_ms)
                continue;
            unlink_locked(t, s);
            s->refs = 0;
            s->next = dead;
            dead = s;
            n++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    while (dead) {
        struct px_hsession *s = dead;
        dead = s->next;
        session_free(s);
    }
    return n;
}

size_t px_sessions_end_keys(struct px_sessions *t, bool (*gone)(void *ctx, const char *key_id),
                            void *ctx)
{
    struct px_hsession *dead = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct px_hsession *s = t->buckets[b], *next;
        for (; s; s = next) {
            next = s->next;
            if (!gone(ctx, s->key_id))
                continue;
            unlink_locked(t, s);
            n++;
            if (unref_locked(s)) {
                s->next = dead;
                dead = s;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    while (dead) {
        struct px_hsession *s = dead;
        dead = s->next;
        session_free(s);
    }
    return n;
}

size_t px_sessions_count(struct px_sessions *t, enum px_hsession_kind kind)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->count[kind];
    pthread_mutex_unlock(&t->lock);
    return n;
}

const char *px_hsession_id(const struct px_hsession *s)
{
    return s->id;
}

struct px_stream *px_hsession_stream(const struct px_hsession *s)
{
    return s->stream;
}

void px_hsession_set_stream(struct px_hsession *s, struct px_stream *stream)
{
    if (stream)
        px_stream_ref(stream);
    px_stream_release(s->stream);
    s->stream = stream;
}

/* Runs one message (text, or msg when already parsed) with a pooled store handle. */
static char *handle(struct px_hsession *s, const struct px_principal *p,
                    const struct px_http_sink *sink, const char *text, size_t len,
                    struct json_object *msg)
{
    struct px_store_pool *pool = s->table->cfg.pool;
    drain_cancels(s);
    struct hcall call = {.s = s, .principal = p, .sink = sink};
    struct px_store *st = px_store_pool_acquire(pool);
    char *reply = msg ? px_mcp_handle_msg(s->mcp, st, &call, msg)
                      : px_mcp_handle_call(s->mcp, st, &call, text, len);
    px_store_pool_release(pool, st); /* audit rows: flushed by the server's housekeeping thread */
    return reply;
}

char *px_hsession_handle(struct px_hsession *s, const struct px_principal *p,
                         const struct px_http_sink *sink, const char *text, size_t len)
{
    return handle(s, p, sink, text, len, NULL);
}

char *px_hsession_handle_msg(struct px_hsession *s, const struct px_principal *p,
                             const struct px_http_sink *sink, struct json_object *msg)
{
    return handle(s, p, sink, NULL, 0, msg);
}

bool px_hsession_initialized(struct px_hsession *s)
{
    return px_mcp_initialized(s->mcp);
}

void px_hsession_cancel(struct px_hsession *s, const char *text, size_t len)
{
    struct pending *p = px_xmalloc(sizeof(*p) + len + 1);
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->len = len;
    pthread_mutex_lock(&s->cancel_lock);
    if (s->ncancels < MAX_PENDING_CANCELS) {
        p->next = s->cancels;
        s->cancels = p;
        s->ncancels++;
        p = NULL;
    }
    pthread_mutex_unlock(&s->cancel_lock);
    free(p);
}
