/* stdio proxy: the text/event-stream parser (see proxy.h) that splits a Streamable HTTP
 * response body into the server's messages as it arrives. Self-contained: no proxy state. */
#include "transport/proxy.h"

#include "base/buf.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

void px_sse_init(struct px_sse *s, size_t max,
                 void (*on_event)(void *ctx, const char *event, const char *data, size_t len),
                 void *ctx)
{
    memset(s, 0, sizeof(*s));
    px_buf_init(&s->line, max);
    px_buf_init(&s->data, max);
    s->on_event = on_event;
    s->ctx = ctx;
}

void px_sse_cleanup(struct px_sse *s)
{
    px_buf_cleanup(&s->line);
    px_buf_cleanup(&s->data);
}

static void sse_dispatch(struct px_sse *s)
{
    if (s->has_data) {
        size_t n = s->data.len;
        if (n && s->data.data[n - 1] == '\n')
            n--;
        s->on_event(s->ctx, s->event, s->data.data ? s->data.data : "", n);
    }
    px_buf_reset(&s->data);
    s->has_data = false;
    s->event[0] = '\0';
}

static int sse_line(struct px_sse *s, const char *l, size_t n)
{
    if (n == 0) {
        sse_dispatch(s);
        return 0;
    }
    if (l[0] == ':')
        return 0; /* a comment (keep-alive) */
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = colon ? n - fl - 1 : 0;
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && memcmp(l, "data", 4) == 0) {
        if (px_buf_append(&s->data, v, vl) || px_buf_append(&s->data, "\n", 1))
            return -PX_ETOOLARGE;
        s->has_data = true;
    } else if (fl == 5 && memcmp(l, "event", 5) == 0) {
        snprintf(s->event, sizeof(s->event), "%.*s", (int)(vl < 63 ? vl : 63), v);
    } else if (fl == 2 && memcmp(l, "id", 2) == 0) {
        if (!memchr(v, '\0', vl))
            snprintf(s->last_id, sizeof(s->last_id), "%.*s", (int)(vl < 127 ? vl : 127), v);
    }
    /* retry and unknown fields: nothing to do */
    return 0;
}

int px_sse_feed(struct px_sse *s, const char *p, size_t n)
{
    if (s->failed)
        return -PX_ETOOLARGE;
    size_t i = 0;
    while (i < n) {
        if (s->cr) {
            s->cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (px_buf_append(&s->line, p + i, j - i)) {
            s->failed = true;
            return -PX_ETOOLARGE;
        }
        if (j == n)
            break;
        s->cr = p[j] == '\r';
        int rc = sse_line(s, s->line.data ? s->line.data : "", s->line.len);
        px_buf_reset(&s->line);
        if (rc) {
            s->failed = true;
            return rc;
        }
        i = j + 1;
    }
    return 0;
}

void px_sse_finish(struct px_sse *s)
{
    if (s->failed)
        return;
    if (s->line.len && sse_line(s, s->line.data, s->line.len))
        return;
    px_buf_reset(&s->line);
    sse_dispatch(s);
}
