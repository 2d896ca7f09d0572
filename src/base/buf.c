/* Bounded byte buffers: see buf.h. */
#include "base/buf.h"

#include "base/err.h"
#include "base/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void px_buf_init(struct px_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void px_buf_cleanup(struct px_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void px_buf_reset(struct px_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(struct px_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -PX_ETOOLARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = px_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int px_buf_reserve(struct px_buf *b, size_t extra)
{
    return reserve(b, extra);
}

int px_buf_append(struct px_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int px_buf_puts(struct px_buf *b, const char *s)
{
    return px_buf_append(b, s, strlen(s));
}

int px_buf_printf(struct px_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -PX_EINTERNAL;
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *px_buf_take(struct px_buf *b)
{
    char *p = b->data ? b->data : px_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void px_buf_consume(struct px_buf *b, size_t n)
{
    if (n >= b->len) {
        px_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
