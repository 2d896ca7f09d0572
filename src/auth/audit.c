/* Audit trail: see audit.h. */
#include "auth/audit.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUEUE_FLUSH_AT 256
#define QUEUE_MAX 8192
#define ARGS_MAX 4096

/* A queued entry: a copy of the caller's, its strings in one allocation (mem, owned). */
struct queued {
    struct px_audit_entry e;
    char *mem;
};

struct px_audit {
    pthread_mutex_t lock; /* the queue is shared by every request thread of `serve` */
    struct queued *items;
    size_t len, cap;
    int64_t queued_at;    /* when the oldest queued entry arrived (px_now_ms) */
    void (*wake)(void *); /* the background flusher, if any (px_audit_set_flusher) */
    void *wake_arg;
};

struct px_audit *px_audit_create(void)
{
    struct px_audit *a = px_xcalloc(1, sizeof(struct px_audit));
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

static void queued_free(struct queued *q)
{
    free(q->mem);
}

void px_audit_set_flusher(struct px_audit *a, void (*wake)(void *), void *arg)
{
    pthread_mutex_lock(&a->lock);
    a->wake = wake;
    a->wake_arg = arg;
    pthread_mutex_unlock(&a->lock);
}

/* Copies the entry's strings into one block; NULL stays NULL. */
static void queued_fill(struct queued *q, const struct px_audit_entry *e)
{
    q->e = *e;
    const char **dst[] = {&q->e.org_id,  &q->e.key_id,     &q->e.transport,
                          &q->e.method,  &q->e.tool,       &q->e.target_id,
                          &q->e.outcome, &q->e.error_code, &q->e.arguments};
    const char *src[sizeof(dst) / sizeof(dst[0])];
    for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
        src[i] = *dst[i];
    size_t len[sizeof(src) / sizeof(src[0])], total = 1;
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        total += (len[i] = src[i] ? strlen(src[i]) + 1 : 0);
    char *w = q->mem = px_xmalloc(total);
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        *dst[i] = src[i] ? memcpy(w, src[i], len[i]) : NULL;
        w += len[i];
    }
}

void px_audit_destroy(struct px_audit *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->len; i++)
        queued_free(&a->items[i]);
    free(a->items);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

size_t px_audit_pending(const struct px_audit *a)
{
    struct px_audit *m = (struct px_audit *)(uintptr_t)a;
    pthread_mutex_lock(&m->lock);
    size_t n = a->len;
    pthread_mutex_unlock(&m->lock);
    return n;
}

bool px_audit_enqueue(struct px_audit *a, const struct px_audit_entry *e)
{
    struct queued q;
    queued_fill(&q, e);
    pthread_mutex_lock(&a->lock);
    if (a->len == QUEUE_MAX) {
        pthread_mutex_unlock(&a->lock);
        queued_free(&q);
        px_warn("audit queue full; flushing is failing");
        return true;
    }
    if (a->len == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->items = px_xrealloc(a->items, a->cap * sizeof(*a->items));
    }
    if (a->len == 0)
        a->queued_at = px_now_ms();
    a->items[a->len++] = q;
    bool full = a->len >= QUEUE_FLUSH_AT;
    /* With a background flusher, wake it once as the queue fills; the caller goes on. */
    void (*wake)(void *) = a->len == QUEUE_FLUSH_AT ? a->wake : NULL;
    void *arg = a->wake_arg;
    bool caller_flushes = full && !a->wake;
    pthread_mutex_unlock(&a->lock);
    if (wake)
        wake(arg);
    return caller_flushes;
}

int64_t px_audit_due_ms(const struct px_audit *a, int64_t now_ms)
{
    struct px_audit *m = (struct px_audit *)(uintptr_t)a;
    pthread_mutex_lock(&m->lock);
    size_t len = a->len;
    int64_t queued_at = a->queued_at;
    pthread_mutex_unlock(&m->lock);
    if (len == 0)
        return -1;
    if (len >= QUEUE_FLUSH_AT)
        return 0;
    int64_t due = queued_at + PX_AUDIT_FLUSH_MS - now_ms;
    return due > 0 ? due : 0;
}

#define AUDIT_COLUMNS                                                                              \
    "INSERT INTO audit_log (at, org_id, key_id, transport, method, tool, target_id, outcome,"      \
    " error_code, latency_us, arguments) VALUES "
#define AUDIT_ROW "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define AUDIT_NCOLS 11
/* Rows per INSERT when a batch is flushed: one statement per 32 rows instead of 32. */
#define AUDIT_ROWS_PER_INSERT 32

static void audit_params(const struct px_audit_entry *e, struct px_val *v)
{
    v[0] = PX_V_INT(e->at);
    v[1] = PX_V_TEXT(e->org_id);
    v[2] = PX_V_TEXT(e->key_id);
    v[3] = PX_V_TEXT(e->transport);
    v[4] = PX_V_TEXT(e->method);
    v[5] = PX_V_TEXT(e->tool);
    v[6] = PX_V_TEXT(e->target_id);
    v[7] = PX_V_TEXT(e->outcome);
    v[8] = PX_V_TEXT(e->error_code);
    v[9] = PX_V_INT(e->latency_us);
    v[10] = PX_V_TEXT(e->arguments);
}

int px_audit_write(struct px_store *st, const struct px_audit_entry *e, struct px_error *err)
{
    struct px_val v[AUDIT_NCOLS];
    audit_params(e, v);
    return px_store_exec(st, AUDIT_COLUMNS AUDIT_ROW, v, AUDIT_NCOLS, NULL, err);
}

/* The statement inserting AUDIT_ROWS_PER_INSERT rows, built once. */
static char batch_sql[sizeof(AUDIT_COLUMNS) + AUDIT_ROWS_PER_INSERT * sizeof(", " AUDIT_ROW)];
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void batch_sql_build(void)
{
    size_t n = (size_t)snprintf(batch_sql, sizeof(batch_sql), "%s", AUDIT_COLUMNS);
    for (int i = 0; i < AUDIT_ROWS_PER_INSERT && n < sizeof(batch_sql); i++)
        n += (size_t)snprintf(batch_sql + n, sizeof(batch_sql) - n, "%s%s", i ? ", " : "",
                              AUDIT_ROW);
}

/* Writes the rows in statements of AUDIT_ROWS_PER_INSERT, the rest one by one. */
static int write_rows(struct px_store *st, const struct queued *items, size_t len,
                      struct px_error *err)
{
    pthread_once(&batch_once, batch_sql_build);
    struct px_val v[AUDIT_ROWS_PER_INSERT * AUDIT_NCOLS];
    size_t i = 0;
    int rc = 0;
    for (; !rc && i + AUDIT_ROWS_PER_INSERT <= len; i += AUDIT_ROWS_PER_INSERT) {
        for (size_t k = 0; k < AUDIT_ROWS_PER_INSERT; k++)
            audit_params(&items[i + k].e, v + k * AUDIT_NCOLS);
        rc = px_store_exec(st, batch_sql, v, AUDIT_ROWS_PER_INSERT * AUDIT_NCOLS, NULL, err);
    }
    for (; !rc && i < len; i++)
        rc = px_audit_write(st, &items[i].e, err);
    return rc;
}

int px_audit_flush(struct px_audit *a, struct px_store *st)
{
    if (!a)
        return 0;
    /* Take the queue out under the lock and write it without: other threads keep queueing. */
    pthread_mutex_lock(&a->lock);
    struct queued *items = a->items;
    size_t len = a->len, cap = a->cap;
    int64_t queued_at = a->queued_at;
    a->items = NULL;
    a->len = a->cap = 0;
    pthread_mutex_unlock(&a->lock);
    if (len == 0) {
        free(items);
        return 0;
    }
    struct px_error err;
    int rc = px_store_begin(st, &err);
    if (!rc)
        rc = write_rows(st, items, len, &err);
    rc = px_store_finish(st, rc, &err);
    if (rc) {
        px_logerr("audit: cannot write %zu queued rows: %s", len, err.message);
        /* Put the rows back in front of what was queued meanwhile (up to QUEUE_MAX). */
        pthread_mutex_lock(&a->lock);
        size_t keep = a->len < QUEUE_MAX - len ? a->len : QUEUE_MAX - len;
        if (len + keep > cap) {
            cap = len + keep;
            items = px_xrealloc(items, cap * sizeof(*items));
        }
        memcpy(items + len, a->items, keep * sizeof(*items));
        for (size_t i = keep; i < a->len; i++)
            queued_free(&a->items[i]);
        free(a->items);
        a->items = items;
        a->len = len + keep;
        a->cap = cap;
        a->queued_at = queued_at;
        pthread_mutex_unlock(&a->lock);
        return rc;
    }
    for (size_t i = 0; i < len; i++)
        queued_free(&items[i]);
    free(items);
    return 0;
}

static const char *const secret_keys[] = {
    "password",     "secret",      "token",       "auth_token", "api_key",       "apikey",
    "access_token", "private_key", "credentials", "passphrase", "client_secret", NULL,
};

static bool is_secret_key(const char *key)
{
    for (int i = 0; secret_keys[i]; i++)
        if (strcasecmp(key, secret_keys[i]) == 0)
            return true;
    size_t n = strlen(key);
    return (n > 9 && strcasecmp(key + n - 9, "_password") == 0) ||
           (n > 7 && strcasecmp(key + n - 7, "_secret") == 0) ||
           (n > 6 && strcasecmp(key + n - 6, "_token") == 0);
}

/* The values of a map of secrets (an http connection's "headers": name → value); the names
 * are kept, so the trail still says which headers were set. */
static struct json_object *redact_values(struct json_object *v)
{
    struct json_object *out = json_object_new_object();
    json_object_object_foreach(v, key, val)
    {
        px_json_set(out, key, val ? json_object_new_string("[redacted]") : NULL);
    }
    return out;
}

static struct json_object *redact(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        struct json_object *out = json_object_new_object();
        json_object_object_foreach(v, key, val)
        {
            if (is_secret_key(key) && val)
                px_json_set_str(out, key, "[redacted]");
            else if (strcasecmp(key, "headers") == 0 && json_object_is_type(val, json_type_object))
                px_json_set(out, key, redact_values(val));
            else if (strcasecmp(key, "headers") == 0 && val)
                px_json_set_str(out, key, "[redacted]");
            else
                px_json_set(out, key, val ? redact(val) : NULL);
        }
        return out;
    }
    if (json_object_is_type(v, json_type_array)) {
        struct json_object *out = json_object_new_array();
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            struct json_object *item = json_object_array_get_idx(v, i);
            json_object_array_add(out, item ? redact(item) : NULL);
        }
        return out;
    }
    return json_object_get(v);
}

char *px_audit_redact(struct json_object *args)
{
    if (!args)
        return NULL;
    struct json_object *r = redact(args);
    const char *s = px_json_str(r);
    size_t n = strlen(s);
    char *out;
    if (n > ARGS_MAX) {
        char note[64];
        snprintf(note, sizeof(note), "{\"truncated\":true,\"bytes\":%zu}", n);
        out = px_xstrdup(note);
    } else {
        out = px_xstrdup(s);
    }
    json_object_put(r);
    return out;
}
