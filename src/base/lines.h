/*
 * Newline-delimited messages out of a byte stream (MCP's stdio framing), with a hard cap per
 * line: a longer line is reported once and the rest of it dropped, however long it goes on.
 * Used by the stdio transport and the stdio proxy.
 */
#ifndef PX_BASE_LINES_H
#define PX_BASE_LINES_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct px_lines {
    struct px_buf buf; /* bytes of the line being received */
    size_t max;        /* longest line accepted */
    bool skipping;     /* dropping the rest of an oversized line */
};

/* Called for each complete line that is not blank, without its "\n" or "\r\n"; text is
 * borrowed for the call. Returning false stops feeding (the rest stays buffered). */
typedef bool (*px_line_fn)(void *ctx, const char *text, size_t len);
/* Called once for each line longer than max. */
typedef void (*px_oversize_fn)(void *ctx);

void px_lines_init(struct px_lines *l, size_t max);
void px_lines_cleanup(struct px_lines *l);
/* Feeds n bytes. Returns false when a callback stopped it. */
bool px_lines_feed(struct px_lines *l, const char *data, size_t n, px_line_fn on_line,
                   px_oversize_fn on_oversize, void *ctx);

#endif
