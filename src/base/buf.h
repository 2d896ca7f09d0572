/*
 * A growable byte buffer with a hard cap, for anything a peer sends (curl's dynbuf idea).
 * The data is always NUL-terminated so it can be used as a C string.
 */
#ifndef PX_BASE_BUF_H
#define PX_BASE_BUF_H

#include <stddef.h>

struct px_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* appends that would grow len past this fail with -PX_ETOOLARGE */
};

/* Initializes an empty buffer that may hold at most max bytes. */
void px_buf_init(struct px_buf *b, size_t max);
/* Frees the storage; the buffer may be reused after px_buf_init. */
void px_buf_cleanup(struct px_buf *b);
/* Empties the buffer, keeping its storage. */
void px_buf_reset(struct px_buf *b);
/* Makes room for extra more bytes (plus the NUL) so they can be written at data + len:
 * 0 or -PX_ETOOLARGE. The writer then adds them to len and keeps data[len] == '\0'. */
int px_buf_reserve(struct px_buf *b, size_t extra);
/* Appends n bytes; 0 or -PX_ETOOLARGE (buffer unchanged). */
int px_buf_append(struct px_buf *b, const void *p, size_t n);
/* Appends a C string. */
int px_buf_puts(struct px_buf *b, const char *s);
/* Appends formatted text. */
int px_buf_printf(struct px_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free with free()) and resets the buffer. Never NULL. */
char *px_buf_take(struct px_buf *b);
/* Removes the first n bytes. */
void px_buf_consume(struct px_buf *b, size_t n);

#endif
