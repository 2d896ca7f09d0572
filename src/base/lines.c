/* Newline-delimited framing with a per-line cap: see lines.h. */
#include "base/lines.h"

#include <string.h>

void px_lines_init(struct px_lines *l, size_t max)
{
    px_buf_init(&l->buf, max);
    l->max = max;
    l->skipping = false;
}

void px_lines_cleanup(struct px_lines *l)
{
    px_buf_cleanup(&l->buf);
}

/* Hands out the complete lines in the buffer; false when a callback stopped. */
static bool split(struct px_lines *l, px_line_fn on_line, void *ctx)
{
    size_t start = 0;
    bool go = true;
    while (go) {
        char *nl = memchr(l->buf.data + start, '\n', l->buf.len - start);
        if (!nl)
            break;
        const char *text = l->buf.data + start;
        size_t len = (size_t)(nl - text);
        start += len + 1;
        if (l->skipping) { /* the end of an oversized line */
            l->skipping = false;
            continue;
        }
        if (len && text[len - 1] == '\r')
            len--;
        if (strspn(text, " \t") >= len)
            continue;
        go = on_line(ctx, text, len);
    }
    px_buf_consume(&l->buf, start);
    return go;
}

bool px_lines_feed(struct px_lines *l, const char *data, size_t n, px_line_fn on_line,
                   px_oversize_fn on_oversize, void *ctx)
{
    for (size_t off = 0; off < n;) {
        size_t room = l->max - l->buf.len;
        size_t take = n - off < room ? n - off : room;
        px_buf_append(&l->buf, data + off, take);
        off += take;
        if (!split(l, on_line, ctx))
            return false;
        if (l->buf.len >= l->max) {
            /* No newline within the limit: report the line once, drop the rest of it. */
            if (!l->skipping)
                on_oversize(ctx);
            px_buf_reset(&l->buf);
            l->skipping = true;
        }
    }
    return true;
}
