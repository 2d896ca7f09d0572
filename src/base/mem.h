/*
 * Allocation that never returns NULL: on out-of-memory the process aborts with a message
 * (the redis/h2o rule for a server). Use these everywhere outside third-party callbacks.
 */
#ifndef PX_BASE_MEM_H
#define PX_BASE_MEM_H

#include <stddef.h>

void *px_xmalloc(size_t n);
void *px_xcalloc(size_t count, size_t size);
void *px_xrealloc(void *p, size_t n);
/* Returns an owned copy of s (NULL stays NULL); free with free(). */
char *px_xstrdup(const char *s);
/* Returns an owned copy of the first n bytes of s, NUL-terminated. */
char *px_xstrndup(const char *s, size_t n);

#endif
