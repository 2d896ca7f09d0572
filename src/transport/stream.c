/* SSE response streams with suspend/resume: see stream.h. */
#include "transport/stream.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BLOCK (32u << 10)

struct chunk {
    struct chunk *next;
    size_t len, off;
    char data[];
};

struct px_stream {
    atomic_int refs;
    pthread_mutex_t lock;
    struct MHD_Connection *conn; /* NULL once detached */
    struct px_stream_set *home;  /* the set it was registered in (never changes) */
    struct px_stream_set *set;   /* == home while registered, NULL once removed */
    struct px_stream *set_prev, *set_next;
    struct chunk *head, *tail;
    size_t queued;       /* bytes in chunks not yet handed to MHD */
    bool session_stream; /* ended by px_stream_set_close_all */
    bool suspended;
    bool closed;    /* end after the queue drains */
    bool failed;    /* end now, with an error */
    char owner[64]; /* the API key id it serves (fixed at creation) */
    int64_t last_sent_ms;
};

struct px_stream_set {
    pthread_mutex_t lock;
    struct px_stream *head;
    size_t count;
};

static void drop_queue(struct px_stream *s);
static void wake(struct px_stream *s);

/* ---- the set ---------------------------------------------------------------------------- */

struct px_stream_set *px_stream_set_create(void)
{
    struct px_stream_set *set = px_xcalloc(1, sizeof(*set));
    pthread_mutex_init(&set->lock, NULL);
    return set;
}

/* Unlinks s from its set (if still there); returns true when it was (the set's reference
 * then belongs to the caller). */
static bool set_remove(struct px_stream_set *set, struct px_stream *s)
{
    bool was = false;
    pthread_mutex_lock(&set->lock);
    if (s->set == set) {
        if (s->set_prev)
            s->set_prev->set_next = s->set_next;
        else
            set->head = s->set_next;
        if (s->set_next)
            s->set_next->set_prev = s->set_prev;
        s->set = NULL;
        s->set_prev = s->set_next = NULL;
        set->count--;
        was = true;
    }
    pthread_mutex_unlock(&set->lock);
    return was;
}

void px_stream_set_destroy(struct px_stream_set *set)
{
    if (!set)
        return;
    while (set->head) {
        struct px_stream *s = set->head;
        set_remove(set, s);
        px_stream_close(s);
        px_stream_release(s);
    }
    pthread_mutex_destroy(&set->lock);
    free(set);
}

/* The registered streams, each with a reference taken (the set's own keeps them alive while
 * the lock is held), so callers act on them without holding the set's lock. */
static struct px_stream **snapshot(struct px_stream_set *set, size_t *n)
{
    pthread_mutex_lock(&set->lock);
    struct px_stream **all = px_xcalloc(set->count + 1, sizeof(*all));
    size_t i = 0;
    for (struct px_stream *s = set->head; s; s = s->set_next) {
        px_stream_ref(s);
        all[i++] = s;
    }
    pthread_mutex_unlock(&set->lock);
    *n = i;
    return all;
}

void px_stream_set_keepalive(struct px_stream_set *set, int64_t now_ms, int64_t idle_ms)
{
    size_t n;
    struct px_stream **all = snapshot(set, &n);
    for (size_t i = 0; i < n; i++) {
        struct px_stream *s = all[i];
        pthread_mutex_lock(&s->lock);
        bool idle = now_ms - s->last_sent_ms >= idle_ms;
        pthread_mutex_unlock(&s->lock);
        if (idle)
            px_stream_comment(s, "ping");
        px_stream_release(s);
    }
    free(all);
}

void px_stream_set_close_all(struct px_stream_set *set)
{
    size_t n;
    struct px_stream **all = snapshot(set, &n);
    for (size_t i = 0; i < n; i++) {
        if (all[i]->session_stream)
            px_stream_close(all[i]);
        px_stream_release(all[i]);
    }
    free(all);
}

size_t px_stream_set_close_owned(struct px_stream_set *set,
                                 bool (*gone)(void *ctx, const char *key_id), void *ctx)
{
    size_t n, closed = 0;
    struct px_stream **all = snapshot(set, &n);
    for (size_t i = 0; i < n; i++) {
        struct px_stream *s = all[i];
        if (s->owner[0] && gone(ctx, s->owner)) {
            pthread_mutex_lock(&s->lock);
            if (!s->failed) {
                drop_queue(s);
                s->failed = true; /* ends the response now, without what was queued */
                wake(s);
                closed++;
            }
            pthread_mutex_unlock(&s->lock);
        }
        px_stream_release(s);
    }
    free(all);
    return closed;
}

size_t px_stream_set_count(struct px_stream_set *set)
{
    pthread_mutex_lock(&set->lock);
    size_t n = set->count;
    pthread_mutex_unlock(&set->lock);
    return n;
}

/* ---- one stream ------------------------------------------------------------------------- */

struct px_stream *px_stream_create(struct px_stream_set *set, struct MHD_Connection *conn,
                                   bool session_stream, const char *owner_key)
{
    struct px_stream *s = px_xcalloc(1, sizeof(*s));
    s->session_stream = session_stream;
    snprintf(s->owner, sizeof(s->owner), "%s", owner_key ? owner_key : "");
    atomic_init(&s->refs, 2); /* the caller's and the set's */
    pthread_mutex_init(&s->lock, NULL);
    s->conn = conn;
    s->last_sent_ms = px_now_ms();
    s->home = set;
    pthread_mutex_lock(&set->lock);
    s->set = set;
    s->set_next = set->head;
    if (set->head)
        set->head->set_prev = s;
    set->head = s;
    set->count++;
    pthread_mutex_unlock(&set->lock);
    return s;
}

void px_stream_ref(struct px_stream *s)
{
    atomic_fetch_add(&s->refs, 1);
}

static void drop_queue(struct px_stream *s)
{
    while (s->head) {
        struct chunk *c = s->head;
        s->head = c->next;
        free(c);
    }
    s->tail = NULL;
    s->queued = 0;
}

void px_stream_release(struct px_stream *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    drop_queue(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Wakes the connection if the reader parked it. Caller holds s->lock. */
static void wake(struct px_stream *s)
{
    if (s->suspended && s->conn) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct px_stream *s = cls;
    pthread_mutex_lock(&s->lock);
    if (s->failed) {
        pthread_mutex_unlock(&s->lock);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = 0;
    while (n < max && s->head) {
        struct chunk *c = s->head;
        size_t take = c->len - c->off;
        if (take > max - n)
            take = max - n;
        memcpy(buf + n, c->data + c->off, take);
        c->off += take;
        n += take;
        s->queued -= take;
        if (c->off == c->len) {
            s->head = c->next;
            if (!s->head)
                s->tail = NULL;
            free(c);
        }
    }
    if (n == 0) {
        if (s->closed || !s->conn) {
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        /* Nothing to send: park the connection until a producer wakes it. */
        s->suspended = true;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
    return (ssize_t)n;
}

static void response_freed(void *cls)
{
    px_stream_release(cls);
}

struct MHD_Response *px_stream_response(struct px_stream *s)
{
    px_stream_ref(s);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK, reader, s, response_freed);
    if (!r) {
        px_stream_release(s);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return r;
}

/* Queues text; ends the stream on overflow. Caller holds s->lock. */
static bool enqueue(struct px_stream *s, const char *text, size_t len)
{
    if (s->closed || s->failed || !s->conn)
        return false;
    if (s->queued + len > PX_STREAM_MAX_QUEUED) {
        px_warn("http: an SSE client is not reading (%zu bytes queued); ending its stream",
                s->queued);
        drop_queue(s);
        s->failed = true;
        wake(s);
        return false;
    }
    struct chunk *c = px_xmalloc(sizeof(*c) + len);
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, text, len);
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->queued += len;
    s->last_sent_ms = px_now_ms();
    wake(s);
    return true;
}

static bool push(struct px_stream *s, const struct px_buf *b)
{
    if (!b->data)
        return false;
    pthread_mutex_lock(&s->lock);
    bool ok = enqueue(s, b->data, b->len);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

bool px_stream_event(struct px_stream *s, const char *event, const char *data)
{
    struct px_buf b;
    px_buf_init(&b, PX_STREAM_MAX_QUEUED + 64);
    if (event)
        px_buf_printf(&b, "event: %s\n", event);
    for (const char *p = data;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        px_buf_puts(&b, "data: ");
        px_buf_append(&b, p, n);
        px_buf_puts(&b, "\n");
        if (!nl)
            break;
        p = nl + 1;
    }
    px_buf_puts(&b, "\n");
    bool ok = push(s, &b);
    px_buf_cleanup(&b);
    return ok;
}

bool px_stream_comment(struct px_stream *s, const char *text)
{
    struct px_buf b;
    px_buf_init(&b, 1024);
    px_buf_printf(&b, ": %.900s\n\n", text);
    bool ok = push(s, &b);
    px_buf_cleanup(&b);
    return ok;
}

void px_stream_close(struct px_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    wake(s);
    pthread_mutex_unlock(&s->lock);
}

bool px_stream_is_open(struct px_stream *s)
{
    pthread_mutex_lock(&s->lock);
    bool open = !s->closed && !s->failed && s->conn;
    pthread_mutex_unlock(&s->lock);
    return open;
}

void px_stream_detach(struct px_stream *s)
{
    bool owned = set_remove(s->home, s);
    pthread_mutex_lock(&s->lock);
    s->conn = NULL;
    s->suspended = false;
    drop_queue(s);
    pthread_mutex_unlock(&s->lock);
    if (owned)
        px_stream_release(s);
}
